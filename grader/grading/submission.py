"""Reading a submission: which code is the student's, and what else the file tells.

A notebook is read as JSON (any nbformat 4 minor version), not through
nbformat, which costs seconds to import on this kind of machine. Of its code
cells only the student's run: the instructor's cells (nbgrader's locked cells,
its test cells, and anything between ### BEGIN HIDDEN TESTS / ### END HIDDEN
TESTS) never do, whatever the submitted file says they contain, since the grader
supplies the given code itself. IPython magics and shell escapes cannot run
outside IPython: they are removed, and the feedback says so. A plain .py file
is one cell.

The student id and the exercise come from the caller when it trusts them (a
roster, an nbgrader `submitted/<student>/<assignment>/` path), else from the
notebook's metadata; what the notebook claims is kept for comparison.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BYTES = 8 * 1024 * 1024
MAGIC = re.compile(r"^\s*(%|!|\w[\w, ]*=\s*[!%])")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### BEGIN TESTS")


class SubmissionError(ValueError):
    """The file cannot be graded; the message says why, for the student and the instructor."""


@dataclass(frozen=True)
class Submission:
    path: Path
    student: str
    exercise: str
    cells: tuple[str, ...]                    # the student's code, in order
    notes: tuple[str, ...] = ()               # what was removed or noticed, for the feedback
    digest: str = ""                          # SHA-256 of the file's bytes
    claimed: dict[str, Any] = field(default_factory=dict)   # the notebook's bptt metadata
    locked: dict[str, str] = field(default_factory=dict)    # grade_id → source of locked cells


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        try:
            return "".join(source)          # TypeError at the first line that is not text
        except TypeError:
            pass
    raise SubmissionError("a cell's source is neither text nor a list of lines")


def strip_magics(source: str, where: str) -> tuple[str, list[str]]:
    """The cell without IPython magics and shell escapes, and a note per removed line."""
    if source.lstrip().startswith("%%"):
        first = source.lstrip().splitlines()[0]
        return "", [f"{where}: removed the cell magic `{first[:60]}` and its cell"]
    kept, notes = [], []
    for number, line in enumerate(source.splitlines(), start=1):
        if MAGIC.match(line):
            notes.append(f"{where}, line {number}: removed `{line.strip()[:60]}` "
                         "(IPython magics and shell commands do not run in the grader)")
            kept.append("")          # keep line numbers stable for error messages
        else:
            kept.append(line)
    return "\n".join(kept), notes


def _mapping(value: Any) -> dict:
    """value when it is a dict, else {}: a notebook's metadata is the student's to mangle."""
    return value if isinstance(value, dict) else {}


def _nbgrader(cell: dict) -> dict:
    return _mapping(_mapping(cell.get("metadata")).get("nbgrader"))


def _is_instructors(cell: dict, source: str) -> bool:
    nbgrader = _nbgrader(cell)
    if nbgrader.get("locked") or (nbgrader.get("grade") and not nbgrader.get("solution")):
        return True
    return any(marker in source for marker in HIDDEN_TESTS)


def read_notebook(data: bytes) -> dict:
    """The notebook's JSON, checked to be nbformat 4 with a list of cells."""
    if not data.strip():
        raise SubmissionError("the notebook file is empty")
    try:
        notebook = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise SubmissionError(f"the notebook is not valid JSON ({error}); was it saved "
                              "completely?") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError("the file is JSON but not a Jupyter notebook (no list of cells)")
    if notebook.get("nbformat") != 4:
        raise SubmissionError(f"the notebook has format version {notebook.get('nbformat')!r}; "
                              "expected 4 (save it with Jupyter 4 or later)")
    return notebook


def load_submission(path: str | Path, *, student: str | None = None,
                    exercise: str | None = None) -> Submission:
    """Read a .ipynb or .py submission; SubmissionError when it cannot be graded."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SubmissionError(f"the file is {size / 1e6:.1f} MB; the limit is "
                                  f"{MAX_BYTES / 1e6:.0f} MB (clear large outputs and resubmit)")
        data = path.read_bytes()
    except OSError as error:
        raise SubmissionError(f"cannot read the file: {error.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix == ".py":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionError("the .py file is not UTF-8 text") from None
        cell, notes = strip_magics(text, "the file")
        claimed: dict[str, Any] = {}
        cells, locked = [cell], {}
    elif path.suffix == ".ipynb":
        notebook = read_notebook(data)
        claimed = _mapping(_mapping(notebook.get("metadata")).get("bptt"))
        cells, notes, locked = [], [], {}
        for number, cell in enumerate(notebook["cells"], start=1):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = _source(cell)
            if _is_instructors(cell, source):
                grade_id = _nbgrader(cell).get("grade_id")
                if isinstance(grade_id, str):
                    locked[grade_id] = source
                continue
            code, removed = strip_magics(source, f"cell {number}")
            notes += removed
            if code.strip():
                cells.append(code)
    else:
        raise SubmissionError(f"cannot grade a {path.suffix or 'suffix-less'} file; "
                              "submit the .ipynb notebook or a .py file")
    student = student or claimed.get("student")
    exercise = exercise or claimed.get("exercise")
    if not isinstance(student, str) or not student:
        raise SubmissionError("no student id: the notebook's metadata has none; "
                              "pass --student or grade an nbgrader submitted/ folder")
    problem = student_id_problem(student)
    if problem:
        raise SubmissionError(f"the student id {student[:40]!r} {problem}; pass --student "
                              "or grade an nbgrader submitted/ folder")
    if not isinstance(exercise, str) or not exercise:
        raise SubmissionError("no exercise: the notebook's metadata has none; pass --exercise")
    return Submission(path=path, student=student, exercise=exercise, cells=tuple(cells),
                      notes=tuple(notes), digest=digest, claimed=claimed, locked=locked)


def student_id_problem(student: str) -> str | None:
    """Why a student id cannot be used, or None.

    The id may come from the notebook's own metadata, so it is written by the
    student, and it ends up in the class CSV, the text summary, JUnit and
    nbgrader's gradebook: a newline would forge a line of the summary ("alice
    11/11"), a slash or ".." would be a path, a leading = + - @ a spreadsheet
    formula.
    """
    if len(student) > 128:
        return "is longer than 128 characters"
    if not student.isprintable():
        return "holds control characters (a newline?)"
    if "/" in student or "\\" in student or student in (".", ".."):
        return "holds a path separator"
    if student[0] in "=+-@":
        return "starts with a spreadsheet formula character"
    return None


def locked_cell_problems(submitted: dict[str, str], released: dict[str, str]) -> list[str]:
    """Locked cells of the release that the submission deleted or changed, by grade_id."""
    problems = []
    for grade_id, source in released.items():
        if grade_id not in submitted:
            problems.append(f"the locked cell {grade_id!r} was deleted")
        elif submitted[grade_id].strip() != source.strip():
            problems.append(f"the locked cell {grade_id!r} was changed (the grader ignored "
                            "the change and used its own copy)")
    return problems
