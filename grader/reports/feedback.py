"""The feedback page of one submission: a self-contained HTML file and its Markdown twin.

    SubmissionResult ──► feedback_view (what this reader may see) ──► page.html.j2 / page.md.j2

The page shows the score, a table of the checks in the exercise's order, and
for every check its message; for a wrong answer whose mistake the grader
named, the corrected equation drawn offline (`grader.reports.maths`), and the
pictures its details carry (`grader.reports.plots`): where in time and in
which output the answer departs from the reference, a per-step curve, a
training loss curve.

Who reads it. The page is a student's: checks whose visibility is not in
`shown` appear only as a count and their points (as in `render_text`), never
their name, message, details, inputs or expected values. Details are drawn
only for the checks shown.

Offline. Everything is in the file: the CSS inline, pictures and equations as
inline SVG with glyphs as paths, no script, no font, no link to anything.
Free text (messages, printed output) is escaped by jinja2 in HTML, and in
Markdown sits in fenced blocks longer than any run of backticks it holds, so
nothing a student's code printed can become markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from grader.reports.drawings import Drawing, draw_check, forked_map
from grader.reports.numbers import percent_text, points_text, score_text
from grader.reports.render import STUDENT_SHOWN, split_by_audience, withheld_text
from grader.reports.results import CheckResult, SubmissionResult

CAPTIONS = {
    "error_map": "Where your answer departs from the reference, output by output and step by "
                 "step (the first probe that went wrong). Pale green cells are right, the darker "
                 "a cell the larger its relative error; grey cells are steps an output does "
                 "not have (a parameter gradient is one sum over every step: \"all t\"), or "
                 "calls whose answer could not be read. For "
                 "a backward, the map below it takes the sum apart: row by row your gradient "
                 "of each parameter for the loss at one step t alone (column t), against the "
                 "reference's at the same arguments, so a bug that starts at the loss at step "
                 "k shows as a band from column k.",
    "step_series": "Your values step by step (dashed) over the reference's (solid).",
    "loss_curve": "Training loss per step: yours (dashed) over the reference's (solid).",
}


@dataclass
class CheckView:
    """One check as the page shows it."""

    number: int
    name: str
    status: str
    score: str
    fraction: float
    message: str
    misconception: str | None = None
    equation_svg: str | None = None
    pictures: list[tuple[str, str, str]] = field(default_factory=list)   # kind, svg, caption


@dataclass
class FeedbackView:
    """Everything a feedback page shows, already rounded, filtered and drawn."""

    title: str
    student: str
    exercise: str
    total: str
    percent: str
    checks: list[CheckView]
    withheld: str
    notes: str


def check_view(number: int, check: CheckResult, drawn: bool = True,
               drawing: Drawing | None = None) -> CheckView:
    """A check shown to its reader (it must be one they may see); drawn=False skips the
    pictures and equations (the Markdown twin); `drawing`: its `draw_check`, drawn
    already."""
    pictures, equation = [], None
    if drawn:
        found, svg = drawing if drawing is not None else draw_check(check)
        pictures = [(kind, re.sub(r'(id="|href="#|url\(#)fig[0-9a-f]+', rf"\1c{number}{kind}",
                                  picture), CAPTIONS[kind]) for kind, picture in found]
        if svg is not None:     # equation_svg's ids are shared by every drawing of it
            equation = re.sub(r'(id="|href="#|url\(#)eq', rf"\1c{number}eq", svg)
    misconception = check.details.get("misconception")
    return CheckView(number=number, name=check.name, status=check.status,
                     score=score_text(check.earned, check.points), fraction=check.score,
                     message=check.message,
                     misconception=misconception if isinstance(misconception, str) else None,
                     equation_svg=equation, pictures=pictures)


def feedback_view(result: SubmissionResult, shown: Sequence[str] = STUDENT_SHOWN,
                  drawn: bool = True, drawings: Sequence[Drawing] | None = None
                  ) -> FeedbackView:
    """What the student may see of `result`, ready for a template; `drawings`: its
    `page_drawings`, drawn already."""
    seen, withheld = split_by_audience(result, "student", shown)
    if drawings is None:
        drawings = [None] * len(seen)
    if withheld:
        earned, possible = sum(c.earned for c in seen), sum(c.points for c in seen)
        total = f"{score_text(earned, possible)} (checks shown)"
    else:
        earned, possible = result.score, result.max_score
        total = score_text(earned, possible)
    return FeedbackView(
        title=f"Feedback: {result.exercise or '?'}, {result.student or '?'}",
        student=result.student, exercise=result.exercise, total=total,
        percent=percent_text(earned / possible) if possible > 0 else "",
        checks=[check_view(i, check, drawn, drawing)
                for i, (check, drawing) in enumerate(zip(seen, drawings, strict=True), 1)],
        withheld=withheld_text(withheld) if withheld else "", notes=result.output.strip())


@cache
def _environment():
    import jinja2

    import templates

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(templates.__file__).parent / "feedback"),
        autoescape=jinja2.select_autoescape(["html.j2"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters.update(fenced=fenced, points=points_text, percent=percent_text)
    return environment


def render_template(name: str, **context: Any) -> str:
    """A template of templates/feedback/ rendered with the reports' filters."""
    return _environment().get_template(name).render(**context)


def prepare_pages() -> None:
    """Compile the page templates ahead of the first page (a quarter of its cost)."""
    for name in ("page.html.j2", "page.md.j2"):
        _environment().get_template(name)


def fenced(text: str) -> str:
    """text in a Markdown fenced block whose fence no run of backticks in it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def render_feedback_html(result: SubmissionResult, shown: Sequence[str] = STUDENT_SHOWN,
                         drawings: Sequence[Drawing] | None = None) -> str:
    """The self-contained HTML feedback page (`drawings`: its pictures, drawn already)."""
    return render_template("page.html.j2", page=feedback_view(result, shown, True, drawings))


def render_feedback_markdown(result: SubmissionResult,
                             shown: Sequence[str] = STUDENT_SHOWN) -> str:
    """The Markdown twin: the same table and messages, no pictures."""
    return render_template("page.md.j2", page=feedback_view(result, shown, drawn=False))


def write_feedback(results: Iterable[tuple[SubmissionResult, str]], directory: Path,
                   shown: Sequence[str] = STUDENT_SHOWN, workers: int | None = None,
                   drawings: Sequence[Sequence[Drawing]] | None = None) -> list[Path]:
    """<directory>/<stem>.html and <stem>.md for each (result, file stem); the paths.

    A class's pages are drawn on every core (`forked_map`: the processes send back only
    their paths). `drawings`: each result's `page_drawings`, drawn already."""
    directory.mkdir(parents=True, exist_ok=True)
    results = list(results)
    pages = list(zip(results, drawings or [None] * len(results), strict=True))
    written = forked_map(lambda page: _write_pages(*page, directory, shown), pages, workers)
    return [path for paths in written for path in paths]


def _write_pages(result_and_stem: tuple[SubmissionResult, str],
                 drawings: Sequence[Drawing] | None, directory: Path,
                 shown: Sequence[str]) -> list[Path]:
    """The two pages of one (result, stem)."""
    result, stem = result_and_stem
    pages = {".html": render_feedback_html(result, shown, drawings),
             ".md": render_feedback_markdown(result, shown)}
    written = []
    for suffix, text in pages.items():
        path = directory / f"{stem}{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
