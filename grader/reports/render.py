"""Renderings of a `SubmissionResult`: text, Gradescope JSON, JUnit XML, GitHub Classroom.

All of them show the same model. Who reads them matters: a student must not
see what a hidden check tested or said. Renderers that students read take
`audience="student"` (the default) or `"instructor"`, and `shown`, the
visibilities a student may see now: ("visible",) before the due date,
("visible", "after_due_date") after it, and so on.

- Text and JUnit for students leave the checks they may not see out and say
  how many there are and what they are worth, never their names, messages
  or scores.
- GitHub Classroom output is the grade itself, so it keeps every check's
  points and score but replaces a hidden check's name and message.
- The Gradescope JSON is the canonical record: it carries everything, each
  test marked with its visibility, and Gradescope shows students only what
  the visibility allows.

GitHub Classroom. The format follows GitHub Classroom's autograding actions
(github.com/classroom-resources/autograding-io-grader src/main.js and
autograding-grading-reporter src/notify-classroom.js): each grader step sets
an output `result`, base64 of the JSON

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": M,
     "tests": [{"name", "status", "message", "test_code", "filename",
                "line_no", "duration", "score"}]}

and the reporter (given the runner ids, reading `<ID>_RESULTS` env vars)
sums the tests' `score` over runners with a max_score and announces
"Points <total>/<max>" in a notice annotation titled "Autograding complete",
with a second notice {"totalPoints", "maxPoints"} titled "Autograding report".
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import replace

from grader.reports.numbers import points_text
from grader.reports.results import CheckResult, SubmissionResult

AUDIENCES = ("student", "instructor")
STUDENT_SHOWN = ("visible",)
WITHHELD = "This check is hidden; its result is released later."

# XML 1.0 allows tab, newline, carriage return, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, got {audience!r}")


def split_by_audience(result: SubmissionResult, audience: str = "student",
                      shown: Sequence[str] = STUDENT_SHOWN
                      ) -> tuple[list[CheckResult], list[CheckResult]]:
    """(checks this audience may see, checks withheld from it). Instructors see everything."""
    _check_audience(audience)
    if audience == "instructor":
        return list(result.checks), []
    seen = [c for c in result.checks if c.visibility in shown]
    withheld = [c for c in result.checks if c.visibility not in shown]
    return seen, withheld


def redacted(check: CheckResult, label: str) -> CheckResult:
    """The check with its name, message and details replaced; points and score kept."""
    return replace(check, name=label, message=WITHHELD, details={}, tags=())


_points = points_text      # the one rounding every rendering shares (grader.reports.numbers)


def withheld_text(withheld: list[CheckResult]) -> str:
    total = sum(c.points for c in withheld)
    n = len(withheld)
    return (f"{n} more check{'s are' if n > 1 else ' is'} hidden ({_points(total)} points); "
            "results are released later and count towards your grade.")


def render_text(result: SubmissionResult, audience: str = "student",
                shown: Sequence[str] = STUDENT_SHOWN) -> str:
    """A table of the checks (score, status), then each check's message, then the total."""
    seen, withheld = split_by_audience(result, audience, shown)
    title = f"Exercise {result.exercise or '?'}, student {result.student or '?'}"
    lines = [title, "=" * len(title), ""]
    head = ["#", "check", "score", "status"] + (["visibility"] if audience == "instructor" else [])
    rows = [head]
    for i, c in enumerate(seen, 1):
        row = [str(i), c.name, f"{_points(c.earned)} / {_points(c.points)}", c.status]
        rows.append(row + ([c.visibility] if audience == "instructor" else []))
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    lines.append("")
    for i, c in enumerate(seen, 1):
        lines.append(f"[{i}] {c.name}: {c.status}, {_points(c.earned)} / {_points(c.points)}")
        if c.message:
            lines += ["    " + m for m in c.message.splitlines()]
        lines.append("")
    if result.output:
        lines += [result.output, ""]
    if withheld:
        lines.append(withheld_text(withheld))
        earned = sum(c.earned for c in seen)
        possible = sum(c.points for c in seen)
        lines.append(f"Total of the checks shown: {_points(earned)} / {_points(possible)}")
    else:
        lines.append(f"Total: {_points(result.score)} / {_points(result.max_score)}")
    return "\n".join(lines) + "\n"


def render_json(result: SubmissionResult, indent: int | None = 2) -> str:
    """Gradescope's results.json (strict JSON, UTF-8 text): the canonical record."""
    return json.dumps(result.to_gradescope(), indent=indent, ensure_ascii=False,
                      allow_nan=False)


def xml_text(text: str) -> str:
    """text as XML 1.0 can hold it: line endings as \\n (what a parser would make of them),
    every character XML cannot hold (controls, lone surrogates) as a visible escape (\\x07).
    ElementTree escapes <, & and quotes itself."""
    def escape(m: re.Match) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _NOT_XML.sub(escape, str(text).replace("\r\n", "\n").replace("\r", "\n"))


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def junit_element(results: SubmissionResult | Iterable[SubmissionResult],
                  audience: str = "student", shown: Sequence[str] = STUDENT_SHOWN
                  ) -> ET.Element:
    """<testsuites> with one <testsuite> per submission and one <testcase> per check.

    A failed check carries <failure message=first line>full message</failure>,
    a check with status "error" an <error>; each testcase has properties
    score (earned points) and max_score.
    """
    if isinstance(results, SubmissionResult):
        results = [results]
    root = ET.Element("testsuites", name="bptt-autograder")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for result in results:
        seen, withheld = split_by_audience(result, audience, shown)
        suite = ET.SubElement(root, "testsuite", name=xml_text(
            f"{result.exercise}:{result.student}" if result.student else result.exercise))
        counts = {"tests": len(seen), "failures": sum(c.status == "failed" for c in seen),
                  "errors": sum(c.status == "error" for c in seen)}
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("skipped", "0")
        suite.set("time", f"{result.execution_time or 0.0:.3f}")
        props = ET.SubElement(suite, "properties")
        earned = sum(c.earned for c in seen)
        possible = sum(c.points for c in seen)
        for name, value in (("student", result.student), ("exercise", result.exercise),
                            ("score", repr(earned)), ("max_score", repr(possible))):
            ET.SubElement(props, "property", name=name, value=xml_text(value))
        for c in seen:
            case = ET.SubElement(suite, "testcase", name=xml_text(c.name),
                                 classname=xml_text(result.exercise or "bptt"), time="0")
            case_props = ET.SubElement(case, "properties")
            ET.SubElement(case_props, "property", name="score", value=repr(c.earned))
            ET.SubElement(case_props, "property", name="max_score", value=repr(c.points))
            if c.status != "passed":
                tag = "failure" if c.status == "failed" else "error"
                outcome = ET.SubElement(case, tag, type=c.status,
                                        message=xml_text(_first_line(c.message) or c.status))
                outcome.text = xml_text(c.message)
        if withheld:
            ET.SubElement(suite, "system-out").text = withheld_text(withheld)
    for key, value in totals.items():
        root.set(key, str(value))
    return root


def render_junit(results: SubmissionResult | Iterable[SubmissionResult],
                 audience: str = "student", shown: Sequence[str] = STUDENT_SHOWN) -> str:
    """JUnit XML text (see `junit_element`), with an XML declaration."""
    element = junit_element(results, audience, shown)
    ET.indent(element)
    return ET.tostring(element, encoding="unicode", xml_declaration=True) + "\n"


def points_line(result: SubmissionResult) -> str:
    """GitHub Classroom's summary line, "Points <earned>/<max>", over all checks."""
    return f"Points {_points(result.score)}/{_points(result.max_score)}"


def github_classroom_result(result: SubmissionResult, audience: str = "student",
                            shown: Sequence[str] = STUDENT_SHOWN) -> dict:
    """The grader-step result object GitHub Classroom's reporter reads (see module docstring).

    Every check is a test with its earned points as score, so the reporter's
    total is the grade; hidden checks keep their points but for students
    their name becomes "hidden check k" and their message is withheld.
    """
    seen, _ = split_by_audience(result, audience, shown)
    visible_ids = {id(c) for c in seen}
    tests = []
    for i, c in enumerate(result.checks, 1):
        shown_check = c if id(c) in visible_ids else redacted(c, f"hidden check {i}")
        tests.append({
            "name": shown_check.name,
            "status": {"passed": "pass", "failed": "fail", "error": "error"}[c.status],
            "message": shown_check.message,
            "test_code": "",
            "filename": "",
            "line_no": 0,
            "duration": 0,
            "score": c.earned,
        })
    statuses = {c.status for c in result.checks}
    status = "error" if "error" in statuses else ("fail" if "failed" in statuses else "pass")
    return {"version": 1, "status": status, "max_score": result.max_score, "tests": tests}


def github_classroom_output(result: SubmissionResult, audience: str = "student",
                            shown: Sequence[str] = STUDENT_SHOWN) -> str:
    """base64 of the result JSON: the value of the grader step's `result` output."""
    data = json.dumps(github_classroom_result(result, audience, shown), ensure_ascii=False,
                      allow_nan=False, separators=(",", ":"))
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def github_classroom_notices(result: SubmissionResult) -> str:
    """The reporter's two workflow-command notices: the Points line and the totals JSON."""
    summary = json.dumps({"totalPoints": result.score, "maxPoints": result.max_score})
    return (f"::notice title=Autograding complete::{points_line(result)}\n"
            f"::notice title=Autograding report::{summary}\n")
