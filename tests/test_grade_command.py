"""`bptt grade` as a new user meets it: routes, identities, course files and bad invocations.

Every route gives the solution full marks (per-student and shared releases,
char-rnn's lists included); whose file it is comes from the place the
instructor trusts (nbgrader's path anchored at the folder given, the roster's
file names) and never from a nested tree or a symbolic link; a mistaken
command line exits 2 with one clear line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.notebooks import notebook
from grader.authoring.solution_cells import stage_solutions
from grader.cli import main
from grader.cli.simulated import filled_in, release_json

ELMAN = f"{get_exercise('elman').points:g}"           # full marks, as the CLI prints them
CHAR_RNN = f"{get_exercise('char-rnn').points:g}"

COURSE_FILE = 'secret = "a secret for the grade command tests"\n'


def bptt(*arguments: str, cwd: Path | None = None):
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(arguments), catch_exceptions=False)
    finally:
        os.chdir(previous)


def solved(exercise_id: str, student: str, salt: str, *, shared: bool = False) -> dict:
    """The student's release filled in with their variant's solutions, as handed in."""
    exercise = get_exercise(exercise_id)
    config = CourseConfig(salt=salt)
    variant = make_instance(exercise, student, config.secret, salt).variant
    release = (json.loads(json.dumps(notebook(exercise, "release", None, salt)))
               if shared else release_json(exercise, student, salt))
    return filled_in(release, student, stage_solutions(exercise, variant))


@pytest.fixture
def course(tmp_path) -> Path:
    (tmp_path / "bptt-course.toml").write_text(COURSE_FILE)
    return tmp_path


def put(path: Path, notebook_json: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json))
    return path


def results(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


@pytest.mark.parametrize("exercise_id", ["elman", "char-rnn", "truncated", "bidirectional"])
def test_the_solution_gets_full_marks_from_a_shared_release_in_an_nbgrader_tree(course,
                                                                              exercise_id):
    salt = CourseConfig.from_file(course / "bptt-course.toml").salt
    for student in ("ann", "bo"):
        put(course / "submitted" / student / exercise_id / f"{exercise_id}.ipynb",
            solved(exercise_id, student, salt, shared=True))
    run = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert run.exit_code == 0, run.output
    graded = results(course / "out")
    assert len(graded) == 2
    for result in graded.values():
        assert result["score"] == get_exercise(exercise_id).points, result["output"]
        assert "Student " not in result["output"]        # the given cell printed nothing


def test_char_rnn_is_graded_from_a_per_student_release(course):
    put(course / "char-rnn-cy.ipynb", solved("char-rnn", "cy", CourseConfig().salt))
    run = bptt("grade", "char-rnn-cy.ipynb", "--results", "out", cwd=course)
    assert run.exit_code == 0 and f"Points {CHAR_RNN}/{CHAR_RNN}" in run.output, run.output


def test_a_submitted_tree_nested_in_a_students_folder_grades_nobody(course):
    salt = CourseConfig().salt
    put(course / "submitted" / "mallory" / "elman" / "elman.ipynb",
        solved("elman", "mallory", salt))
    put(course / "submitted" / "mallory" / "elman" / "submitted" / "victim" / "elman"
        / "elman.ipynb", solved("elman", "victim", salt))
    run = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert run.exit_code == 0, run.output
    students = {r["extra_data"]["student"]: r for r in results(course / "out").values()}
    assert students["mallory"]["score"] == get_exercise("elman").points
    assert "victim" not in students
    nested = [r for r in results(course / "out").values() if r["extra_data"]["student"] == ""]
    assert len(nested) == 1 and nested[0]["score"] == 0
    assert "submitted/<student>/<assignment>/<file>" in nested[0]["output"]
    assert "not graded:" in run.output


def test_a_symbolic_link_out_of_the_tree_is_not_followed(course, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")
    put(outside / "elman" / "elman.ipynb", solved("elman", "eve", CourseConfig().salt))
    (course / "submitted" / "eve").mkdir(parents=True)
    (course / "submitted" / "eve" / "elman").symlink_to(outside / "elman")
    put(course / "submitted" / "fay" / "elman" / "elman.ipynb",
        solved("elman", "fay", CourseConfig().salt))
    run = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert run.exit_code == 0, run.output
    assert [r["extra_data"]["student"] for r in results(course / "out").values()] == ["fay"]


def test_the_roster_names_the_student_and_a_copied_notebook_is_reported(course):
    salt = CourseConfig().salt
    (course / "roster.csv").write_text("student\nann\nbo\n")
    ann = solved("elman", "ann", salt)
    put(course / "hand-in" / "elman-ann.ipynb", ann)
    put(course / "hand-in" / "elman-bo.ipynb", ann)           # bo handed in ann's notebook
    put(course / "hand-in" / "homework.ipynb", ann)           # named for nobody
    run = bptt("grade", "hand-in", "--roster", "roster.csv", "--results", "out", cwd=course)
    assert run.exit_code == 0, run.output
    by_file = {Path(r["extra_data"]["metadata"]["path"]).name: r
               for r in results(course / "out").values()}
    assert by_file["elman-ann.ipynb"]["extra_data"]["student"] == "ann"
    assert by_file["elman-bo.ipynb"]["extra_data"]["student"] == "bo"
    assert "belongs to 'ann'" in by_file["elman-bo.ipynb"]["output"]
    assert by_file["homework.ipynb"]["score"] == 0
    assert "for a student of the roster" in by_file["homework.ipynb"]["output"]
    assert "the same file was handed in by ann, bo" in run.output
    summary = (course / "out" / "summary.txt").read_text()
    assert "the same file was handed in by ann, bo" in summary
    assert "elman-bo.ipynb" in summary                       # every row names its file


def test_two_files_of_one_student_are_reported(course):
    salt = CourseConfig().salt
    put(course / "a" / "first.ipynb", solved("elman", "gus", salt))
    second = solved("elman", "gus", salt)
    second["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "v2"})
    put(course / "b" / "second.ipynb", second)
    run = bptt("grade", "a", "b", "--results", "out", cwd=course)
    assert "gus handed in 2 files for elman" in run.output, run.output


def test_the_nbgrader_course_file_is_the_one_used_and_printed(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "bptt-course.toml").write_text(COURSE_FILE)
    (tmp_path / "bptt-course.toml").write_text('secret = "the parent folder secret, not it"\n')
    put(course / "submitted" / "hal" / "elman" / "elman.ipynb",
        solved("elman", "hal", CourseConfig().salt))
    (course / "gradebook.db").write_text("")       # not a database: the write-back says so
    run = bptt("grade", "course/submitted", "--nbgrader", "course", "--results", "out",
               cwd=tmp_path)
    assert f"course file: {Path('course') / 'bptt-course.toml'}" in run.output, run.output


def test_an_nbgrader_tree_is_not_graded_with_the_demo_secret(tmp_path):
    put(tmp_path / "submitted" / "ida" / "elman" / "elman.ipynb",
        solved("elman", "ida", CourseConfig().salt))
    refused = bptt("grade", "submitted", "--results", "out", cwd=tmp_path)
    assert refused.exit_code == 2 and "demo secret" in refused.output
    allowed = bptt("grade", "submitted", "--results", "out", "--demo-secret", cwd=tmp_path)
    assert allowed.exit_code == 0 and f"Points {ELMAN}/{ELMAN}" in allowed.output, allowed.output


@pytest.mark.parametrize(("arguments", "message"), [
    (["grade", "hand-in", "--exercise", "nope"], "no exercise 'nope'"),
    (["grade", "no-such-folder"], "no such file or folder"),
    (["grade", "empty"], "no .ipynb or .py submissions found"),
    (["grade", "hand-in", "--workers", "0"], "0 is not in the range x>=1"),
    (["grade", "hand-in", "--course", "broken.toml"], "cannot read the course configuration"),
    (["grade", "hand-in", "--roster", "nobody.csv"], "cannot read the roster"),
])
def test_a_mistaken_command_line_exits_2_with_one_clear_line(course, arguments, message):
    (course / "empty").mkdir()
    (course / "broken.toml").write_text("secret = [unclosed\n")
    put(course / "hand-in" / "x.ipynb", solved("elman", "jo", CourseConfig().salt))
    run = bptt(*arguments, cwd=course)
    assert run.exit_code == 2, run.output
    assert message in run.output


def test_an_unreadable_submission_is_listed_and_scores_zero_of_the_exercise(course):
    (course / "submitted" / "kim" / "elman").mkdir(parents=True)
    (course / "submitted" / "kim" / "elman" / "elman.ipynb").write_text('{"cells": [')
    run = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert run.exit_code == 0
    assert "not graded:" in run.output and "elman.ipynb" in run.output
    assert f"Points 0/{ELMAN}" in run.output


def test_in_the_sandbox_a_wrong_callee_costs_its_own_stage_only(course):
    """One mistake, one deduction, on the sandboxed route too: a φ' that is wrong costs
    phi_prime's point, not rnn_step_backward's or rnn_backward's as well."""
    salt = CourseConfig().salt
    student = next(s for s in (f"s{i}" for i in range(100)) if make_instance(
        get_exercise("elman"), s, CourseConfig.from_file(course / "bptt-course.toml").secret,
        salt).variant.activation in ("tanh", "sigmoid"))
    submission = solved("elman", student, salt)
    for cell in submission["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "phi_prime":
            cell["source"] = "def phi_prime(s):\n    return 1.0 - s"
    put(course / "elman-wrong-phi.ipynb", submission)
    run = bptt("grade", "elman-wrong-phi.ipynb", "--results", "out", cwd=course)
    assert f"Points {get_exercise('elman').points - 1:g}/{ELMAN}" in run.output, run.output


def test_a_rerun_grades_only_what_changed_and_records_the_bytes_it_graded(course):
    import hashlib
    import sqlite3

    salt = CourseConfig.from_file(course / "bptt-course.toml").salt
    paths = [put(course / "submitted" / s / "elman" / "elman.ipynb",
                 solved("elman", s, salt, shared=True)) for s in ("ann", "bo")]
    first = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert first.exit_code == 0 and "graded 2, unchanged since the last run 0" in first.output
    again = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert "graded 0, unchanged since the last run 2" in again.output, again.output
    broken = json.loads(paths[1].read_text())
    broken["cells"] = broken["cells"][:3]                  # bo's notebook, changed
    paths[1].write_text(json.dumps(broken))
    third = bptt("grade", "submitted", "--results", "out", cwd=course)
    assert "graded 1, unchanged since the last run 1" in third.output, third.output
    with sqlite3.connect(course / "out" / "gradebook.sqlite") as db:
        recorded = dict(db.execute("SELECT student, digest FROM grades"))
    assert recorded == {s: hashlib.sha256(p.read_bytes()).hexdigest()
                        for s, p in zip(("ann", "bo"), paths, strict=True)}
