"""nbgrader's feedback, from bptt's grades: the feedback folder, and what `generate_feedback` reads.

nbgrader hands students whatever HTML is in `feedback/<student>/<assignment>/`
(`nbgrader release_feedback`), and its `generate_feedback` fills that folder from
the autograded notebooks, `autograded/<student>/<assignment>/<notebook>.ipynb`,
and the scores in gradebook.db. `bptt grade --nbgrader` grades in the sandbox,
not in a kernel, so it writes both itself:

- `feedback/…/<notebook>.html`: bptt's own student page (`grader.reports.feedback`),
  self-contained and offline;
- `autograded/…/<notebook>.ipynb`: the student's notebook as nbgrader's autograde
  would leave it, each hidden-test cell's output being that stage's feedback
  (message, corrected equation, pictures; a hidden check only as withheld), so
  that `nbgrader generate_feedback` (which replaces the page above with its own)
  and the formgrader show every stage's message, never a traceback of the grader.

The autograded notebook is built on the released notebook: every cell nbgrader
knows (a `grade_id` of the release) comes from the release, in the student's
order, with the student's source only in solution cells, and any the student
deleted put back where the release has them; the student's own extra cells stay,
stripped of nbgrader metadata. Outputs are never the student's: the notebook was
not run in a kernel, and whatever a student saved as an output (HTML, scripts)
must not reach an instructor's formgrader. The release's maths is drawn as
inline SVG (`offline_maths`), since nbgrader's page takes MathJax from a CDN.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import os
import re
import stat
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader.grading.nbgrader_gradebook import hidden_tests_cell
from grader.grading.submission import MAX_BYTES, SubmissionError, read_notebook
from grader.reports.drawings import Drawing
from grader.reports.feedback import check_view, render_feedback_html, render_template
from grader.reports.render import STUDENT_SHOWN, WITHHELD
from grader.reports.results import CheckResult, SubmissionResult


def _folder_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and name not in (".", "..")


def _identity(result: SubmissionResult) -> tuple[str, str, str] | None:
    """(student, assignment, notebook stem) of a result nbgrader can file, else None."""
    stem = Path(str(result.metadata.get("path", ""))).stem
    if result.metadata.get("grader_failure") or not all(
            map(_folder_name, (result.student, result.exercise, stem))):
        return None
    return result.student, result.exercise, stem


def write_nbgrader_feedback(course_dir: str | Path, results: Sequence[SubmissionResult],
                            drawings: Sequence[Sequence[Drawing]] | None = None) -> list[Path]:
    """COURSE_DIR/feedback/<student>/<exercise>/<notebook stem>.html for every result with a
    student, an exercise and a file; the grader's own failures are left out. `drawings`:
    each result's `page_drawings`, drawn already."""
    feedback = Path(course_dir) / "feedback"
    written = []
    for result, drawn in zip(results, drawings or [None] * len(results), strict=True):
        identity = _identity(result)
        if identity is None:
            continue
        student, assignment, stem = identity
        path = feedback / student / assignment / f"{stem}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_feedback_html(result, drawings=drawn), encoding="utf-8")
        written.append(path)
    return written


def _nbgrader(cell: Any) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def _grade_id(cell: Any) -> str | None:
    grade_id = _nbgrader(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _cleared(cell: dict) -> dict:
    """The cell with no outputs and no execution count (code) or attachments (markdown)."""
    cell = {**cell, "metadata": dict(cell.get("metadata") or {}),
            "source": _text(cell.get("source"))}
    if cell["cell_type"] == "code":
        cell.update(outputs=[], execution_count=None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
        cell.pop("attachments", None)
    return cell


def _students_own(cell: Any) -> dict | None:
    """A cell the student added, as plain code or markdown without nbgrader metadata."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown"):
        return None
    metadata = cell.get("metadata")
    own = {"cell_type": cell["cell_type"], "source": _text(cell.get("source")),
           "metadata": {k: v for k, v in metadata.items() if k != "nbgrader"}
           if isinstance(metadata, dict) else {}}
    if isinstance(cell.get("id"), str):
        own["id"] = cell["id"]
    return _cleared(own)


MATHS = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)


@lru_cache(maxsize=64)
def offline_maths(markdown: str) -> str:
    """Markdown with each $…$ and $$…$$ drawn as an inline SVG image, its LaTeX the alt text.

    nbgrader's feedback page loads MathJax from a CDN, so offline its maths would show as
    raw LaTeX; an equation mathtext cannot draw is left as it is."""
    from grader.reports.maths import equation_svg

    def drawn(match: re.Match) -> str:
        latex = match.group(1) or match.group(2)
        svg = equation_svg(latex.strip())
        if svg is None:
            return match.group(0)
        data = base64.b64encode(svg.encode()).decode()
        style = "display: block; margin: 0.5em auto" if match.group(1) else \
            "vertical-align: middle"
        return (f'<img alt="{html.escape(latex.strip())}" style="{style}" '
                f'src="data:image/svg+xml;base64,{data}">')

    return MATHS.sub(drawn, markdown)


def merged_cells(submitted: Sequence[Any], released: Sequence[dict]) -> list[dict]:
    """The autograded notebook's cells: the release's graded and locked cells in the
    student's order (their source only in solution cells), the student's own cells, and
    any release cell the student deleted, after the graded cell it follows."""
    release = {grade_id: cell for cell in released if (grade_id := _grade_id(cell))}
    cells: list[dict] = []
    placed: dict[str, int] = {}
    for cell in submitted:
        grade_id = _grade_id(cell)
        if grade_id in release:
            if grade_id in placed:
                continue                    # a copied graded cell: nbgrader knows one
            known = copy.deepcopy(release[grade_id])
            if _nbgrader(known).get("solution"):
                known["source"] = _text(cell.get("source"))
            placed[grade_id] = len(cells)
            cells.append(_cleared(known))
        elif (own := _students_own(cell)) is not None:
            cells.append(own)
    # Put back what was deleted: after the release's previous graded cell, or before
    # the first graded cell the student kept when none precedes it (else at the end).
    order = [grade_id for cell in released if (grade_id := _grade_id(cell))]
    for k, grade_id in enumerate(order):
        if grade_id in placed:
            continue
        if k:
            at = placed[order[k - 1]] + 1
        else:
            at = min(placed.values(), default=len(cells))
        cells.insert(at, _cleared(copy.deepcopy(release[grade_id])))
        placed = {g: i + (i >= at) for g, i in placed.items()}
        placed[grade_id] = at
    return cells


def _display(html: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": html, "text/plain": text}}


def stage_outputs(result: SubmissionResult, shown: Sequence[str] = STUDENT_SHOWN,
                  drawings: Sequence[Drawing] | None = None
                  ) -> tuple[dict[str, list[dict]], list[dict]]:
    """({hidden-test cell grade_id: its outputs}, outputs about the whole submission).

    A check the student may see is its feedback-page section; one they may not, a
    line saying it is withheld. Checks of no stage, and the notes, are the second.
    `drawings`: the result's `page_drawings`, drawn already."""
    by_cell: dict[str, list[dict]] = {}
    general: list[dict] = []
    drawn = iter(drawings) if drawings is not None else None
    for number, check in enumerate(result.checks, 1):
        drawing = next(drawn) if drawn is not None and check.visibility in shown else None
        output = _check_output(number, check, shown, drawing)
        if check.tags:
            by_cell.setdefault(hidden_tests_cell(check.tags[0]), []).append(output)
        else:
            general.append(output)
    if result.output.strip():
        notes = result.output.strip()
        general.append(_display(_output_html(notes=notes),
                                f"Notes on the whole submission:\n{notes}"))
    return by_cell, general


def _output_html(check=None, notes: str = "", withheld: str = "") -> str:
    return render_template("nbgrader_output.html.j2", check=check, notes=notes,
                           withheld=withheld)


def _check_output(number: int, check: CheckResult, shown: Sequence[str],
                  drawing: Drawing | None = None) -> dict:
    if check.visibility not in shown:
        return _display(_output_html(withheld=WITHHELD), WITHHELD)
    view = check_view(number, check, drawing=drawing)
    return _display(_output_html(check=view),
                    f"{check.name}: {view.score}\n{check.message}".rstrip())


def autograded_notebook(submitted: dict | None, released: dict, result: SubmissionResult,
                        shown: Sequence[str] = STUDENT_SHOWN,
                        drawings: Sequence[Drawing] | None = None) -> dict:
    """The notebook nbgrader's generate_feedback reads for this result (see the module
    docstring); `submitted` None when the file could not be read: the release's cells;
    `drawings`: the result's `page_drawings`, drawn already."""
    cells = merged_cells(submitted["cells"] if submitted else [], released["cells"])
    instructors = {_text(c.get("source")) for c in released["cells"]
                   if c.get("cell_type") == "markdown"}
    for cell in cells:      # the release's text only: a student's own maths is not drawn
        if cell["cell_type"] == "markdown" and cell["source"] in instructors:
            cell["source"] = offline_maths(cell["source"])
    by_cell, general = stage_outputs(result, shown, drawings)
    graded = [cell for cell in cells if cell["cell_type"] == "code"
              and _nbgrader(cell).get("grade") and not _nbgrader(cell).get("solution")]
    for cell in graded:
        cell["outputs"] = by_cell.get(_grade_id(cell), [])
    if general:
        (graded[0]["outputs"] if graded else cells[0].setdefault("outputs", []))[:0] = general
    return {**{k: v for k, v in released.items() if k != "cells"}, "cells": cells}


def _read_submitted(path: Path) -> dict | None:
    """The submitted notebook, read as the grader read it (a regular file within the size
    cap, not through a symlink); None when it cannot be."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        try:
            return read_notebook(handle.read(MAX_BYTES + 1))
        except SubmissionError:
            return None


def write_autograded(course_dir: str | Path, results: Sequence[SubmissionResult],
                     drawings: Sequence[Sequence[Drawing]] | None = None
                     ) -> tuple[list[Path], list[str]]:
    """COURSE_DIR/autograded/<student>/<assignment>/<notebook>.ipynb for every result
    nbgrader can file whose notebook the release has; (paths written, problems).
    `drawings`: each result's `page_drawings`, drawn already."""
    course = Path(course_dir)
    written, problems = [], []
    for result, drawn in zip(results, drawings or [None] * len(results), strict=True):
        identity = _identity(result)
        if identity is None or Path(str(result.metadata.get("path"))).suffix != ".ipynb":
            continue
        student, assignment, stem = identity
        release = course / "release" / assignment / f"{stem}.ipynb"
        try:
            released = read_notebook(release.read_bytes())
        except (OSError, SubmissionError):
            problems.append(f"{student}: no released notebook {release} to build the "
                            "autograded copy on (run `nbgrader generate_assignment`)")
            continue
        notebook = autograded_notebook(_read_submitted(Path(result.metadata["path"])),
                                       released, result, drawings=drawn)
        path = course / "autograded" / student / assignment / f"{stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written, problems
