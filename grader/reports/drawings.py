"""What matplotlib draws for a feedback page, apart from the page itself.

    check ──► draw_check: its pictures (`grader.reports.plots`) and its corrected
              equation (`grader.reports.maths`) ──► feedback.check_view puts them in

A page's drawings are most of its cost, and all of its need for matplotlib, whose
import alone takes 0.2 s. So they can be drawn elsewhere and handed to the page:
`page_drawings` gives every drawing of a page as plain JSON-able values, and, in a
process of one thread, can share them with a forked process on another core. The
command line draws a single submission's drawings in a child forked at its start
(`grader.cli.grade.PageDrawer`) while it grades, and, for an nbgrader course, a class's
once (`class_drawings`, one forked process per core) for the three renderings of each
result: bptt's page, nbgrader's page and the autograded notebook.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from typing import Any

from grader.reports.maths import equation_svg
from grader.reports.plots import PICTURES, pictures
from grader.reports.render import STUDENT_SHOWN, split_by_audience
from grader.reports.results import CheckResult, SubmissionResult

Drawing = tuple[list[tuple[str, str]], "str | None"]
"""What matplotlib draws for one check's page: its pictures, (kind, svg) in a fixed order,
and its corrected equation's svg (None: it has none, or mathtext cannot draw it)."""


def check_pictures(check: CheckResult) -> list[tuple[str, str]]:
    """The check's pictures, (kind, svg), their ids not yet the page's own."""
    return pictures(check.details) if check.details else []


def check_equation(check: CheckResult) -> str | None:
    """The check's corrected equation drawn (cached: a class shares a handful), or None."""
    correction = check.details.get("correction")
    return equation_svg(correction) if isinstance(correction, str) else None


def draw_check(check: CheckResult) -> Drawing:
    """The check's pictures and equation, their ids not yet the page's own (`check_view`
    makes them so)."""
    return check_pictures(check), check_equation(check)


def page_drawings(result: SubmissionResult, shown: Sequence[str] = STUDENT_SHOWN,
                  fork: bool = False) -> list[Drawing]:
    """`draw_check` of every check the page shows, in its order: what `feedback_view`
    draws, drawn apart (the command line draws one page's in a process of its own).

    fork=True (in a process of one thread only): a page of two drawings or more has about
    half of them (by `COST`) drawn by a forked process, on another core, while this one
    draws the rest."""
    seen, _ = split_by_audience(result, "student", shown)
    parts = [(i, part) for i, check in enumerate(seen) for part in drawing_parts(check)]
    if not fork or len(parts) < 2:
        return [draw_check(check) for check in seen]
    mine, theirs = [], []
    for part in sorted(parts, key=lambda part: -COST[part[1]]):   # the larger first, to the
        load = [sum(COST[kind] for _, kind in side) for side in (mine, theirs)]   # lighter side
        (mine if load[0] <= load[1] else theirs).append(part)
    answer = _forked(lambda: [_draw_part(seen[i], kind) for i, kind in theirs])
    drawn = {(i, kind): _draw_part(seen[i], kind) for i, kind in mine}
    drawn.update(zip(theirs, answer(), strict=True))
    return [([(kind, drawn[i, kind]) for kind, _ in PICTURES
              if drawn.get((i, kind)) is not None],
             drawn.get((i, "equation"))) for i in range(len(seen))]


COST = {"error_map": 3, "equation": 2, "step_series": 1, "loss_curve": 1}
"""Each drawing's time, roughly, relative to a loss curve's (30 ms)."""


def drawing_parts(check: CheckResult) -> list[str]:
    """What `draw_check` draws of the check: its picture kinds, then "equation"."""
    kinds = [kind for kind, _ in PICTURES if kind in check.details]
    return kinds + (["equation"] if isinstance(check.details.get("correction"), str) else [])


def _draw_part(check: CheckResult, part: str) -> str | None:
    return check_equation(check) if part == "equation" else dict(PICTURES)[part](check.details)


def class_drawings(results: Sequence[SubmissionResult], shown: Sequence[str] = STUDENT_SHOWN,
                   workers: int | None = None) -> list[list[Drawing]]:
    """`page_drawings` of every result, drawn on every core (`forked_map`): for the
    renderings that share them, the feedback page and nbgrader's feedback and autograded
    notebook."""
    return forked_map(lambda result: page_drawings(result, shown), results, workers)


def forked_map(function: Callable[[Any], Any], items: Sequence, workers: int | None = None
               ) -> list:
    """[function(item) for item in items], in `workers` forked processes (default: one per
    core; here when each would have fewer than PAGES_PER_WORKER items). The processes find
    the function and the items in the memory they inherit, and send back only what it
    returns: neither needs to be picklable."""
    global _TASK
    workers = min(workers or os.cpu_count() or 1, len(items) // PAGES_PER_WORKER)
    if workers <= 1:
        return [function(item) for item in items]
    _TASK = (function, items)
    try:
        with get_context("fork").Pool(workers) as pool:
            return pool.map(_run_task, range(len(items)),
                            chunksize=max(1, len(items) // (4 * workers)))
    finally:
        _TASK = None


PAGES_PER_WORKER = 8         # fewer pages than this per process are drawn here
_TASK: tuple[Callable[[Any], Any], Sequence] | None = None


def _run_task(index: int) -> Any:
    function, items = _TASK
    return function(items[index])


def _forked(function: Callable[[], Any]) -> Callable[[], Any]:
    """function() run in a child forked now; the callable returned waits for its answer
    (JSON through a pipe), and raises ValueError when the child failed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as handle:
                handle.write(json.dumps(function()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)

    def answer() -> Any:
        try:
            with os.fdopen(read, "rb") as handle:
                return json.loads(handle.read())
        finally:
            os.waitpid(pid, 0)

    return answer
