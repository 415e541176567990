"""`bptt grade --nbgrader`: our scores land in nbgrader's gradebook, cell by cell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.nbgrader_course import init_course
from grader.authoring.solution_cells import stage_solutions
from grader.cli.simulated import filled_in
from grader.grading.batch import discover, grade_batch
from grader.grading.nbgrader_gradebook import hidden_tests_cell, write_auto_scores

nbgrader_api = pytest.importorskip("nbgrader.api")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    init_course(root)
    # nbgrader runs `alembic` (and may run other console scripts) through PATH: put this
    # interpreter's scripts first, so that the fixture works outside an activated venv.
    scripts = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))
    nbgrader = shutil.which("nbgrader", path=env["PATH"])
    command = [nbgrader] if nbgrader else [sys.executable, "-m", "nbgrader"]
    run = subprocess.run([*command, "generate_assignment", "elman", "--force"],
                         cwd=root, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"{' '.join(command)} generate_assignment failed ({run.returncode}):\n"
                    f"{run.stderr}\n{run.stdout}", pytrace=False)
    release = json.loads((root / "release" / "elman" / "elman.ipynb").read_text())
    config = CourseConfig.from_file(root / "bptt-course.toml")
    exercise = get_exercise("elman")
    for student, bug in (("ada", None), ("bob", ("rnn_backward", "dW += dW_t", "dW = dW_t"))):
        code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                        config.salt).variant)
        if bug:
            stage, old, new = bug
            code = {**code, stage: code[stage].replace(old, new)}
        path = root / "submitted" / student / "elman" / "elman.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(filled_in(release, student, code)))
    return root


def test_scores_are_written_cell_by_cell(course, tmp_path):
    config = CourseConfig.from_file(course / "bptt-course.toml")
    summary = grade_batch(discover([course / "submitted"]), config, tmp_path)
    results = {r.student: r for r in summary.results}
    assert results["ada"].score == results["ada"].max_score
    assert results["bob"].score < results["bob"].max_score
    problems = write_auto_scores(course, [(r, "elman") for r in summary.results])
    assert problems == []
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student, result in results.items():
            for check in result.checks:
                grade = gradebook.find_grade(hidden_tests_cell(check.tags[0]), "elman", "elman",
                                             student)
                assert grade.auto_score == pytest.approx(check.earned)
                assert grade.max_score == pytest.approx(check.points)


def test_an_assignment_nbgrader_does_not_know_is_reported(course, tmp_path):
    config = CourseConfig.from_file(course / "bptt-course.toml")
    summary = grade_batch(discover([course / "submitted" / "ada"]), config, tmp_path)
    result = summary.results[0]
    stranger = type(result)(student="ada", exercise="truncated", checks=result.checks)
    assert write_auto_scores(course, [(stranger, "truncated")]) == [
        "ada: nbgrader has no assignment 'truncated'"]


def test_a_course_without_a_gradebook_is_refused(tmp_path):
    with pytest.raises(ValueError, match="generate_assignment"):
        write_auto_scores(tmp_path, [])
