"""One grade on every route: the same code of the same student scores the same, however it
reaches the grader.

Routes: a per-student release graded by `bptt grade`; the shared release (the one
`bptt nbgrader init` sets up) graded by `bptt grade` from nbgrader's submitted/
tree; the same shared notebook run in-process, each stage graded by the hidden
tests' `grade_stage` as nbgrader's kernel would. The code is every exercise's
solution, and the solution with one stage's first result made wrong.
And no failed grading: the solution gets full marks for 300 students of every
exercise, with no "grader failed" and no 0/0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from exercises.instance import make_instance
from exercises.registry import all_exercises
from grader.authoring.course import CourseConfig
from grader.authoring.notebooks import notebook_cells
from grader.authoring.solution_cells import stage_solutions
from grader.cli import main
from grader.cli.simulated import filled_in
from grader.grading.hidden_tests import grade_stage

COURSE_FILE = 'secret = "a secret for the route tests, long enough"\n'
EXERCISES = sorted(all_exercises())
STUDENTS = [f"route-{i:02d}" for i in range(20)]
WRONG = '''

_right_{name} = {name}


def {name}(*args, **kwargs):
    """{name} with its first result 1.5 times too large: a wrong answer every route sees."""
    result = _right_{name}(*args, **kwargs)
    if isinstance(result, tuple):
        return (result[0] * 1.5, *result[1:])
    if isinstance(result, dict):
        first = next(iter(result))
        return {{**result, first: result[first] * 1.5}}
    return result * 1.5
'''


def release(exercise, student: str | None, salt: str) -> dict:
    """The release notebook as JSON, without the self-check plans and loss plots (not graded,
    costly)."""
    cells = []
    for cell_type, source, metadata in notebook_cells(exercise, "release", student, salt,
                                                      student_views=False):
        metadata = dict(metadata)
        cells.append({"cell_type": cell_type, "id": metadata.pop("id"), "metadata": metadata,
                      "source": source, **({"outputs": [], "execution_count": None}
                                           if cell_type == "code" else {})})
    flavour = "shared" if student is None else "per-student"
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"bptt": {"exercise": exercise.id, "student": student, "salt": salt,
                                  "flavour": flavour, "kind": "release"}}}


def versions(exercise, student: str, config: CourseConfig) -> dict[str, dict[str, str]]:
    """The code a student hands in: the solution, and the solution with one stage wrong."""
    variant = make_instance(exercise, student, config.secret, config.salt).variant
    solution = stage_solutions(exercise, variant)
    return {"solution": solution, **{
        f"wrong-{name}": {**solution, name: solution[name] + WRONG.format(name=name)}
        for name in solution}}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("routes")
    (root / "bptt-course.toml").write_text(COURSE_FILE)
    return root


def score_of(result: dict) -> float:
    return round(result["score"], 9)


def bptt_grade(root: Path, folder: str) -> dict[str, dict]:
    previous = Path.cwd()
    os.chdir(root)
    try:
        run = CliRunner().invoke(main, ["grade", folder, "--results", f"{folder}-results"],
                                 catch_exceptions=False)
    finally:
        os.chdir(previous)
    assert run.exit_code == 0, run.output
    return {Path(r["extra_data"]["metadata"]["path"]).as_posix(): r
            for r in (json.loads(p.read_text()) for p in (root / f"{folder}-results").glob(
                "*.json"))}


def test_every_route_gives_the_same_score(course):
    config = CourseConfig.from_file(course / "bptt-course.toml")
    expected: dict[tuple[str, str, str], float] = {}
    in_process: dict[tuple[str, str, str], float] = {}
    for exercise_id in EXERCISES:
        exercise = all_exercises()[exercise_id]
        shared = release(exercise, None, config.salt)
        for index, student in enumerate(STUDENTS):
            per_student = release(exercise, student, config.salt)
            codes = versions(exercise, student, config)
            if index >= 4:            # every wrong stage for 4 students, the solution for 20
                codes = {"solution": codes["solution"]}
            for label, code in codes.items():
                key = (exercise_id, student, label)
                name = f"{exercise_id}-{student}-{label}.ipynb"
                path = course / "per-student" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(filled_in(per_student, student, code)))
                notebook = filled_in(shared, student, code)
                tree = course / "submitted" / student / exercise_id / name
                tree.parent.mkdir(parents=True, exist_ok=True)
                tree.write_text(json.dumps(notebook))
                in_process[key] = kernel_score(course, exercise, notebook)
                expected[key] = exercise.points if label == "solution" else None
    per_student = bptt_grade(course, "per-student")
    nbgrader_tree = bptt_grade(course, "submitted")
    assert len(per_student) == len(nbgrader_tree) == len(in_process)
    differ = []
    for (exercise_id, student, label), kernel in in_process.items():
        name = f"{exercise_id}-{student}-{label}.ipynb"
        one = score_of(per_student[f"per-student/{name}"])
        two = score_of(nbgrader_tree[f"submitted/{student}/{exercise_id}/{name}"])
        # grade_stage rounds each stage's points to 6 decimals for nbgrader's gradebook
        if one != two or abs(one - kernel) > 1e-6 * len(all_exercises()[exercise_id].stages):
            differ.append((exercise_id, student, label, one, two, kernel))
        full = expected[(exercise_id, student, label)]
        assert (one == full) if full is not None else one < all_exercises()[exercise_id].points
    assert differ == [], differ[:10]


def kernel_score(course: Path, exercise, notebook: dict) -> float:
    """The notebook's code cells run in one namespace, as a kernel would, then every
    stage graded by the hidden tests' grade_stage (nbgrader's route)."""
    namespace: dict = {"__name__": "__main__"}
    previous = Path.cwd()
    os.chdir(course)
    try:
        for cell in notebook["cells"]:
            metadata = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] != "code" or metadata.get("grade_id", "").endswith(
                    "-self-check") or metadata.get("grade_id", "").startswith("self-check-"):
                continue
            exec(compile(cell["source"], "<cell>", "exec"), namespace)
        total = 0.0
        for stage in exercise.stages:
            try:
                total += grade_stage(exercise.id, stage.name, namespace)
            except AssertionError:
                pass                                # nbgrader scores a failing cell 0
        return total
    finally:
        os.chdir(previous)


def test_the_solution_gets_full_marks_for_300_students_of_every_exercise(tmp_path):
    (tmp_path / "bptt-course.toml").write_text(COURSE_FILE)
    config = CourseConfig.from_file(tmp_path / "bptt-course.toml")
    for exercise_id in EXERCISES:
        exercise = all_exercises()[exercise_id]
        shared = release(exercise, None, config.salt)    # what nbgrader hands out
        for i in range(300):
            student = f"s{i:03d}"
            code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                           config.salt).variant)
            path = tmp_path / "submitted" / student / exercise_id / f"{exercise_id}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(filled_in(shared, student, code)))
    graded = bptt_grade(tmp_path, "submitted")
    assert len(graded) == 300 * len(EXERCISES)
    short = [(path, r["score"], r["output"][:200]) for path, r in graded.items()
             if r["score"] != all_exercises()[r["extra_data"]["exercise"]].points]
    assert short == [], short[:5]


NATURAL_FORMS = {
    "a list": "list(result) if isinstance(result, tuple) else result",
    "an OrderedDict": ("collections.OrderedDict(zip(NAMES, result)) if isinstance(result, tuple)"
                       " else result"),
    "a defaultdict of lists": (
        "collections.defaultdict(list, {k: (v.tolist() if isinstance(v, np.ndarray) else v) "
        "for k, v in (zip(NAMES, result) if isinstance(result, tuple) else result.items())}) "
        "if isinstance(result, (tuple, dict)) else result"),
}
FORM = '''

import collections

_right_{name} = {name}


def {name}(*args, **kwargs):
    """{name}, its results returned as {form}."""
    NAMES = {outputs!r}
    result = _right_{name}(*args, **kwargs)
    return {expression}
'''


def test_natural_ways_of_returning_results_get_full_marks_in_the_sandbox(tmp_path):
    """Every stage of every exercise, its results as a list, an OrderedDict, or a
    defaultdict of nested lists: the same answer, full marks through `bptt grade`."""
    (tmp_path / "bptt-course.toml").write_text(COURSE_FILE)
    config = CourseConfig.from_file(tmp_path / "bptt-course.toml")
    count = 0
    for exercise_id in EXERCISES:
        exercise = all_exercises()[exercise_id]
        for student in STUDENTS[:2]:
            solution = stage_solutions(exercise, make_instance(
                exercise, student, config.secret, config.salt).variant)
            handout = release(exercise, student, config.salt)
            for form, expression in NATURAL_FORMS.items():
                for stage in exercise.stages:
                    code = {**solution, stage.name: solution[stage.name] + FORM.format(
                        name=stage.name, form=form, expression=expression,
                        outputs=tuple(stage.outputs))}
                    path = tmp_path / "forms" / f"{exercise_id}-{student}-{count}.ipynb"
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(json.dumps(filled_in(handout, student, code)))
                    count += 1
    graded = bptt_grade(tmp_path, "forms")
    assert len(graded) == count
    short = [(Path(path).name, r["score"], r["output"][:300]) for path, r in graded.items()
             if r["score"] != all_exercises()[r["extra_data"]["exercise"]].points]
    assert short == [], short[:5]
