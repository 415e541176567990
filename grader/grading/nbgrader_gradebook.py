"""Writing our grades into nbgrader's own gradebook.db, so its formgrader keeps working.

nbgrader's gradebook knows an assignment's notebooks and their graded cells
once `nbgrader generate_assignment` has run. For every submission we grade, we
make sure the student and the submission exist there and set each hidden-test
cell's `auto_score` to the points our check for that stage earned. The cells
are the source notebook's hidden-test cells, `<stage>-tests` (see
`grader.authoring.notebooks`); manual grades and comments are left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from grader.reports.results import SubmissionResult


def hidden_tests_cell(stage_name: str) -> str:
    """The grade_id of a stage's hidden-test cell in the nbgrader source notebook."""
    return f"{stage_name}-tests"


def write_auto_scores(course_dir: str | Path,
                      graded: Iterable[tuple[SubmissionResult, str]]) -> list[str]:
    """Record each (result, notebook name) in COURSE_DIR/gradebook.db; returns problems.

    The notebook name is the submitted file's stem; the assignment is the
    exercise id. A submission whose assignment or cells nbgrader does not know
    is reported, not fatal.
    """
    from nbgrader.api import Gradebook, MissingEntry

    # nbgrader migrates gradebook.db by running `alembic` through PATH: the one installed
    # beside this interpreter, even when its environment is not activated.
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    database = Path(course_dir).resolve() / "gradebook.db"
    if not database.exists():
        raise ValueError(f"{database} does not exist: run `nbgrader generate_assignment` "
                         "in the course first")
    problems = []
    with Gradebook(f"sqlite:///{database}") as gradebook:
        for result, notebook in graded:
            if not result.student or result.metadata.get("grader_failure"):
                continue    # nobody's grade, or the grader's own failure: nothing to record
            try:
                gradebook.find_assignment(result.exercise)
            except MissingEntry:
                problems.append(f"{result.student}: nbgrader has no assignment "
                                f"{result.exercise!r}")
                continue
            gradebook.update_or_create_student(result.student)
            try:
                gradebook.find_submission(result.exercise, result.student)
            except MissingEntry:
                gradebook.add_submission(result.exercise, result.student)
            for check in result.checks:
                if not check.tags:
                    continue
                try:
                    grade = gradebook.find_grade(hidden_tests_cell(check.tags[0]), notebook,
                                                 result.exercise, result.student)
                except MissingEntry:
                    problems.append(f"{result.student}: nbgrader has no cell "
                                    f"{hidden_tests_cell(check.tags[0])!r} in {notebook!r}")
                    continue
                grade.auto_score = check.earned
            gradebook.db.commit()
    return problems
