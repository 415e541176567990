"""The fourth route: nbgrader's own autograde gives the grade `bptt grade` gives.

A real course from `bptt nbgrader init`, every exercise released with
`nbgrader generate_assignment`; three students per exercise hand in the solution,
or the solution with one stage's first result wrong. `nbgrader autograde` (the
hidden tests call `grade_stage` in the student's kernel) and `bptt grade` of the
same submitted/ tree must agree, student by student, to nbgrader's rounding.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_routes import WRONG

from exercises.instance import make_instance
from exercises.registry import all_exercises
from grader.authoring.course import CourseConfig
from grader.authoring.nbgrader_course import init_course
from grader.authoring.solution_cells import stage_solutions
from grader.cli.simulated import filled_in
from grader.grading.batch import discover, grade_batch

pytest.importorskip("nbgrader.api")
EXERCISES = sorted(all_exercises())


def nbgrader(course: Path, *arguments: str) -> None:
    scripts = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))
    found = shutil.which("nbgrader", path=env["PATH"])
    command = [found] if found else [sys.executable, "-m", "nbgrader"]
    run = subprocess.run([*command, *arguments], cwd=course, env=env, capture_output=True,
                         text=True)
    if run.returncode != 0:
        pytest.fail(f"nbgrader {' '.join(arguments)} failed ({run.returncode}):\n"
                    f"{run.stderr[-3000:]}\n{run.stdout[-2000:]}", pytrace=False)


def nbgrader_scores(course: Path) -> dict[tuple[str, str], float]:
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT submitted_assignment.student_id, assignment.name, SUM(grade.auto_score) "
            "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id JOIN assignment ON submitted_assignment.assignment_id = "
            "assignment.id GROUP BY submitted_assignment.student_id, assignment.name").fetchall()
    return {(student, assignment): float(score or 0.0) for student, assignment, score in rows}


def test_nbgrader_autograde_and_bptt_grade_agree_on_every_exercise(tmp_path):
    course = tmp_path / "course"
    init_course(course)
    config = CourseConfig.from_file(course / "bptt-course.toml")
    for exercise_id in EXERCISES:
        nbgrader(course, "generate_assignment", exercise_id, "--force")
        exercise = all_exercises()[exercise_id]
        handout = json.loads((course / "release" / exercise_id / f"{exercise_id}.ipynb")
                             .read_text())
        for index, student in enumerate(("nb-ann", "nb-bo", "nb-cy")):
            code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                            config.salt).variant)
            if index:                           # one stage's first result wrong
                name = exercise.stages[index % len(exercise.stages)].name
                code = {**code, name: code[name] + WRONG.format(name=name)}
            path = course / "submitted" / student / exercise_id / f"{exercise_id}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(filled_in(handout, student, code)))
    for exercise_id in EXERCISES:
        nbgrader(course, "autograde", exercise_id, "--force")
    theirs = nbgrader_scores(course)
    summary = grade_batch(discover([course / "submitted"]), config, tmp_path / "results")
    ours = {(r.student, r.exercise): r.score for r in summary.results}
    assert len(ours) == 3 * len(EXERCISES) == len(theirs)
    differ = {key: (ours[key], theirs.get(key)) for key in ours
              if theirs.get(key) is None or abs(ours[key] - theirs[key]) > 1e-5}
    assert differ == {}
    full = {key for key, score in ours.items() if key[0] == "nb-ann"}
    assert all(ours[key] == all_exercises()[key[1]].points for key in full)
