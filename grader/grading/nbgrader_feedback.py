"""nbgrader's feedback folder, written by bptt: feedback/<student>/<assignment>/<notebook>.html.

`nbgrader release_feedback` hands students whatever HTML is in that folder, and
nbgrader's own `generate_feedback` would fill it from autograded notebooks,
which `bptt grade --nbgrader` does not make (it grades in the sandbox, not in a
kernel). So bptt writes the pages itself, one per graded notebook: the same
student page as `bptt grade` writes (`grader.reports.feedback`), each stage
with its message, never a traceback of the grader.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from grader.reports.feedback import render_feedback_html
from grader.reports.results import SubmissionResult


def _folder_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and name not in (".", "..")


def write_nbgrader_feedback(course_dir: str | Path,
                            results: Iterable[SubmissionResult]) -> list[Path]:
    """COURSE_DIR/feedback/<student>/<exercise>/<notebook stem>.html for every result with a
    student, an exercise and a file; the grader's own failures are left out."""
    feedback = Path(course_dir) / "feedback"
    written = []
    for result in results:
        stem = Path(str(result.metadata.get("path", ""))).stem
        if result.metadata.get("grader_failure") or not all(
                map(_folder_name, (result.student, result.exercise, stem))):
            continue
        path = feedback / result.student / result.exercise / f"{stem}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_feedback_html(result), encoding="utf-8")
        written.append(path)
    return written
