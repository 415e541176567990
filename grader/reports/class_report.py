"""A class's grades as instructors and CI read them: CSV, JUnit XML, a text summary.

Every file is a rendering of the same `SubmissionResult`s, the ones kept in the
gradebook; nothing here grades.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from grader.reports.numbers import points_text
from grader.reports.render import render_junit
from grader.reports.results import SubmissionResult


def class_csv(results: Sequence[SubmissionResult]) -> str:
    """One row per submission: student, exercise, score, max score, every check's points
    (columns in the exercise's order), all rounded by `points_text`."""
    from grader.reports.class_page import stage_order

    checks = stage_order(results)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "exercise", "score", "max_score", *checks, "path"])
    for result in sorted(results, key=lambda r: (r.student, r.exercise)):
        earned = {check.name: points_text(check.earned) for check in result.checks}
        writer.writerow([result.student, result.exercise, points_text(result.score),
                         points_text(result.max_score), *(earned.get(name, "") for name in checks),
                         result.metadata.get("path", "")])
    return out.getvalue()


def misconception_counts(results: Sequence[SubmissionResult]) -> dict[str, int]:
    """How many submissions each named misconception showed up in, most common first."""
    counts: dict[str, int] = {}
    for result in results:
        named = {check.details.get("misconception") for check in result.checks}
        for misconception in named - {None}:
            counts[misconception] = counts.get(misconception, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def printable(text: str) -> str:
    """Text with control characters escaped, so that no value can start a line of its own."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def identity_warnings(results: Sequence[SubmissionResult]) -> list[str]:
    """Submissions whose identity an instructor should look at: one student with two
    files for one exercise, and one file's bytes handed in under two students."""
    by_student: dict[tuple[str, str], list[str]] = {}
    by_digest: dict[str, set[str]] = {}
    for result in results:
        path = str(result.metadata.get("path", ""))
        if result.student:
            by_student.setdefault((result.student, result.exercise), []).append(path)
        if result.metadata.get("digest") and result.student:
            by_digest.setdefault(result.metadata["digest"], set()).add(result.student)
    warnings = [f"{printable(student)} handed in {len(paths)} files for {printable(exercise)}: "
                + ", ".join(printable(p) for p in sorted(paths))
                for (student, exercise), paths in sorted(by_student.items()) if len(paths) > 1]
    warnings += ["the same file was handed in by " + ", ".join(map(printable, sorted(students)))
                 for students in sorted(by_digest.values(), key=sorted) if len(students) > 1]
    return warnings


def summary_text(results: Sequence[SubmissionResult], isolation: str = "") -> str:
    """A plain-text table of the class, then the identity warnings and the misconceptions
    the grader named."""
    rows = [("student", "exercise", "score", "file", "")]
    for result in sorted(results, key=lambda r: (r.student, r.exercise)):
        wrong = [check.name for check in result.checks if check.score < 1.0]
        rows.append((printable(result.student) or "?", printable(result.exercise) or "?",
                     f"{points_text(result.score)}/{points_text(result.max_score)}",
                     printable(str(result.metadata.get("path", ""))),
                     ("wrong: " + ", ".join(wrong)) if wrong else "all right"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
             + "  " + row[4] for row in rows]
    if results:
        mean = sum(r.score for r in results) / len(results)
        lines += ["", f"{len(results)} submissions, mean score {points_text(mean)}"]
    warnings = identity_warnings(results)
    if warnings:
        lines += ["", "Warnings:"] + [f"  {warning}" for warning in warnings]
    counts = misconception_counts(results)
    if counts:
        lines += ["", "Misconceptions named:"]
        lines += [f"  {count:4d}  {name}" for name, count in counts.items()]
    if isolation:
        lines += ["", f"Isolation: {isolation}"]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def write_class_reports(results: Sequence[SubmissionResult], directory: Path,
                        isolation: str = "") -> list[Path]:
    """class.csv, junit.xml (instructor view) and summary.txt in `directory`."""
    files = {"class.csv": class_csv(results),
             "junit.xml": render_junit(list(results), audience="instructor"),
             "summary.txt": summary_text(results, isolation)}
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
