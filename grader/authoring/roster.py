"""A class roster: the students to generate notebooks for, read from a CSV file.

The file has a header row with a column `student` or `id` (the id the course
knows the student by, and the id the grader trusts), and may have `email` and
`name`. Other columns are ignored. Ids must be unique, non-empty and usable as
part of a file name, since each student's notebook is named after it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

ID_COLUMNS = ("student", "id")


class RosterError(ValueError):
    """A roster that cannot be used, with the row at fault."""


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    email: str = ""


def check_student_id(student: str) -> str:
    """The id, stripped, or a RosterError saying why it cannot be part of a file name."""
    student = student.strip()
    if not student:
        raise RosterError("a student id is empty")
    if student in (".", "..") or student.startswith("-") \
            or any(c in '/\\' or ord(c) < 32 for c in student):
        raise RosterError(f"student id {student!r} cannot be part of a file name")
    return student


def read_roster(path: str | Path) -> list[Student]:
    """The students of a roster CSV, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"cannot read the roster {path}: {error}") from None
    rows = csv.reader(text.splitlines())
    header = [column.strip().lower() for column in next(rows, [])]
    column = next((c for c in ID_COLUMNS if c in header), None)
    if column is None:
        raise RosterError(f"{path}: the first row must name a column 'student' or 'id' "
                          f"(found {', '.join(header) or 'nothing'})")
    where = {name: header.index(name) for name in ("name", "email") if name in header}
    students, seen = [], {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(header) - len(row))
        try:
            student = check_student_id(cells[header.index(column)])
        except RosterError as error:
            raise RosterError(f"{path}, row {number}: {error}") from None
        if student in seen:
            raise RosterError(f"{path}, row {number}: student {student!r} is already on "
                              f"row {seen[student]}")
        seen[student] = number
        students.append(Student(student, *(cells[where[k]].strip() if k in where else ""
                                           for k in ("name", "email"))))
    if not students:
        raise RosterError(f"{path}: the roster lists no students")
    return students
