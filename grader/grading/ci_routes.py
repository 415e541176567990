"""The grader's side of a CI run: a GitHub Actions step and a Gradescope submission.

GitHub Actions (`github_step`, run by the template's workflow after `bptt grade`,
whose output went to a log file):

- prints "Points <earned>/<max>" and nothing a student wrote;
- appends `result=<base64 JSON>` to $GITHUB_OUTPUT for GitHub Classroom's reporter;
- appends the feedback page to $GITHUB_STEP_SUMMARY (`job_summary`).

The runner reads a workflow command from any line of a step's log that starts with
`::` (or the older `##[`) after blanks, and the reporter prints each failing test's
message to its log. So every text that reaches GitHub (names, messages) goes through
`neutralised`: such a line, and any line that reads like a score ("Points 100/100"),
is prefixed with "| ", which makes it plain text.

Gradescope (`gradescope_run`, called by the bundle's run_autograder): the student id
from submission_metadata.json, their one notebook (or .py) from submission/, graded
as that student with the bundle's course file, and results/results.json written in
every case.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from exercises.registry import get_exercise
from grader.authoring.ci_files import failure_result
from grader.authoring.course import CourseConfig
from grader.grading.batch import SUFFIXES, Target, grade_batch
from grader.reports.render import github_classroom_output, points_line, render_json, render_text
from grader.reports.results import SubmissionResult

_COMMAND_LIKE = re.compile(r"^(\s*)(::|##\[|points\s*[-+\d.]+\s*/)", re.IGNORECASE)


def neutralised(text: str) -> str:
    """text with every line GitHub would read as a workflow command or a score made plain."""
    return "\n".join(_COMMAND_LIKE.sub(r"\1| \2", line)
                     for line in str(text).replace("\r", "\n").split("\n"))


def neutralised_result(result: SubmissionResult) -> SubmissionResult:
    """The result with every check's name and message, and its output, neutralised."""
    checks = tuple(replace(c, name=neutralised(c.name), message=neutralised(c.message))
                   for c in result.checks)
    return replace(result, checks=checks, output=neutralised(result.output))


def _fence(text: str) -> str:
    """A Markdown code block that no run of backticks inside `text` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def job_summary(result: SubmissionResult, results_dir: Path, stem: str) -> str:
    """The Markdown for the job summary: the feedback page `bptt grade` wrote
    (<results>/feedback/<stem>.md) when there is one, else the text rendering; either
    neutralised, as everything this route shows."""
    page = results_dir / "feedback" / f"{stem}.md"
    if page.is_file() and not page.is_symlink():
        return neutralised(page.read_text(encoding="utf-8"))
    return (f"## {points_line(result)}\n\n" + _fence(render_text(result)) + "\n\n"
            "This run is feedback on your work; your instructor's run is the grade of record.\n")


def github_step(results_dir: Path, notebook: str, exercise_id: str, grade_status: int,
                environment: Mapping[str, str]) -> tuple[str, int]:
    """(what the step prints, its exit status) after `bptt grade` wrote `results_dir`.

    Writes the `result` output and the job summary to the files the environment names.
    """
    stem = Path(notebook).stem
    path = results_dir / f"{stem}.json"
    if grade_status != 0 or not path.is_file():
        message = (f"The notebook {notebook} could not be graded (bptt grade exited "
                   f"{grade_status}); is it still in the repository, under this name?")
        try:
            check = replace(failure_result(get_exercise(exercise_id), "").checks[0],
                            message=message)
        except ValueError:
            check = None
        result = SubmissionResult(student="", exercise=exercise_id,
                                  checks=(check,) if check else (), output=message)
    else:
        result = SubmissionResult.from_gradescope(json.loads(path.read_text()))
    safe = neutralised_result(result)
    if environment.get("GITHUB_OUTPUT") and safe.checks:
        with open(environment["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(f"result={github_classroom_output(safe)}\n")
    if environment.get("GITHUB_STEP_SUMMARY"):
        with open(environment["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(job_summary(safe, results_dir, stem))
    if grade_status != 0 or not safe.checks:     # our own message: one annotation
        error = f"::error title=Autograding::{neutralised(result.output).splitlines()[0]}\n"
        return (points_line(safe) + "\n" if safe.checks else "") + error, 1
    return points_line(safe) + "\n", 0


# -- Gradescope ---------------------------------------------------------------------------


class GradescopeError(RuntimeError):
    """A submission Gradescope handed over that cannot be graded (said to the student)."""


def gradescope_student(metadata: Mapping, field: str) -> str:
    """The submitter's id from submission_metadata.json's users (the first of a group)."""
    users = metadata.get("users") if isinstance(metadata, Mapping) else None
    if not isinstance(users, list) or not users or not isinstance(users[0], Mapping):
        raise GradescopeError("submission_metadata.json names no user")
    value = users[0].get(field)
    if value in (None, ""):
        raise GradescopeError(f"submission_metadata.json gives the submitter no {field!r}")
    return str(value).strip()


def submission_file(folder: Path, exercise_id: str) -> Path:
    """The one notebook (else .py file) in the upload; one named after the exercise wins."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                   and not p.is_symlink()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    for suffix in SUFFIXES:
        of_kind = [p for p in files if p.suffix == suffix]
        named = [p for p in of_kind if p.stem.startswith(exercise_id)]
        if len(named) == 1 or len(of_kind) == 1:
            return (named or of_kind)[0]
        if of_kind:
            raise GradescopeError(f"the upload holds {len(of_kind)} {suffix} files; upload "
                                  f"only your {exercise_id}{suffix}")
    raise GradescopeError(f"the upload holds no notebook: upload your {exercise_id}.ipynb")


def gradescope_run(root: Path, settings: Mapping) -> tuple[SubmissionResult, str]:
    """Grade root/submission as the submitter, write root/results/results.json; the result
    and the isolation in force. A failure of any kind still writes a result."""
    exercise = get_exercise(settings["exercise"])
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    isolation = ""
    try:
        metadata = json.loads((root / "submission_metadata.json").read_text())
        student = gradescope_student(metadata, settings.get("student_field", "email"))
        path = submission_file(root / "submission", exercise.id)
        config = CourseConfig.from_file(root / "source" / "bptt-course.toml")
        with tempfile.TemporaryDirectory(prefix="bptt-gradescope-") as folder:
            summary = grade_batch([Target(path, student, exercise.id)], config, Path(folder),
                                  workers=1)
        result, isolation = summary.results[0], summary.isolation
        if len(metadata["users"]) > 1:
            result = replace(result, output=(result.output + "\n" if result.output else "")
                             + f"A group submission: graded as {student}'s variant.")
    except GradescopeError as error:
        result = failure_result(exercise, f"This submission could not be graded: {error}.")
        result = replace(result, checks=tuple(replace(c, message=c.message.split(
            " This is not your grade")[0]) for c in result.checks), metadata={})
    except Exception as error:  # noqa: BLE001 — the grader's own failure: still a result
        result = failure_result(exercise, f"The autograder failed ({error!r}).")
    results.write_text(render_json(result))
    return result, isolation
