"""The class report: one self-contained HTML page and a CSV beside it, for instructors.

    results ──► class_view (numbers, per exercise) ──► report.html.j2, report.csv

Per exercise: a histogram of the scores and the pass rate of every stage, in
the exercise's order (the order of its checks); over the class: the
misconceptions the grader named, most frequent first, with the students they
showed in; the submissions that could not be graded in full (refused,
crashed, timed out, the grader's own failure); and the time each submission
took to grade. Every number is computed from the `SubmissionResult`s alone
and rounded by `grader.reports.numbers`.

A stage "passes" when its check earned full marks (score 1); its pass rate is out of
every submission of the exercise, so one that was refused has not passed it.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.reports.numbers import percent_text, points_text
from grader.reports.results import SubmissionResult

SUBMISSION_CHECK = "Submission"        # the one check of a submission that was not graded


@dataclass
class StageRate:
    name: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class ExerciseView:
    exercise: str
    scores: list[float]
    max_score: float
    stages: list[StageRate]
    histogram_svg: str | None = None
    rates_svg: str | None = None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0


@dataclass
class MisconceptionRow:
    id: str
    title: str
    count: int
    students: list[str]


@dataclass
class ProblemRow:
    student: str
    exercise: str
    problem: str
    path: str


@dataclass
class ClassView:
    submissions: int
    exercises: list[ExerciseView]
    misconceptions: list[MisconceptionRow]
    problems: list[ProblemRow]
    times: list[tuple[str, str, float]] = field(default_factory=list)   # student, exercise, s

    @property
    def time_summary(self) -> str:
        seconds = [t for _, _, t in self.times]
        if not seconds:
            return ""
        return (f"median {statistics.median(seconds):.2f} s, mean {statistics.fmean(seconds):.2f}"
                f" s, longest {max(seconds):.2f} s over {len(seconds)} submissions")


def stage_order(results: Sequence[SubmissionResult]) -> list[str]:
    """Check names in the exercise's order: the order of the fullest result's checks, then
    any name only other results have, in the order they first appear."""
    order: dict[str, None] = {}
    for result in sorted(results, key=lambda r: -len(r.checks)):
        for check in result.checks:
            order.setdefault(check.name, None)
    return list(order)


def problem(result: SubmissionResult) -> str | None:
    """Why a submission was not graded in full: refused (unreadable, unidentified),
    crashed, timed out, the grader's own failure; None when it ran."""
    if result.metadata.get("grader_failure"):
        return "the grader failed"
    if (len(result.checks) == 1 and result.checks[0].name == SUBMISSION_CHECK
            and result.checks[0].status == "error"):
        return "refused: " + result.checks[0].message.removeprefix(
            "This submission could not be graded: ").rstrip(".")
    status = result.metadata.get("run_status")
    if status in ("timeout", "crashed"):
        return "timed out" if status == "timeout" else "crashed"
    if "was stopped (an infinite loop?)" in result.output:
        return "timed out"
    if "crashed the process running it" in result.output:
        return "crashed"
    return None


def misconception_rows(results: Sequence[SubmissionResult]) -> list[MisconceptionRow]:
    """Each misconception named, the number of submissions it showed in and their students,
    most frequent first (ties by id)."""
    from exercises.misconceptions import CATALOGUE

    students: dict[str, list[str]] = {}
    for result in results:
        named = {c.details.get("misconception") for c in result.checks}
        for misconception in sorted(n for n in named if isinstance(n, str)):
            students.setdefault(misconception, []).append(result.student or "?")
    rows = [MisconceptionRow(key, CATALOGUE[key].title if key in CATALOGUE else key,
                             len(who), sorted(who)) for key, who in students.items()]
    return sorted(rows, key=lambda row: (-row.count, row.id))


def class_view(results: Sequence[SubmissionResult], drawn: bool = True) -> ClassView:
    """The class report's numbers (and pictures, when drawn)."""
    by_exercise: dict[str, list[SubmissionResult]] = {}
    for result in results:
        if result.exercise:         # a file not even known as an exercise is only a problem
            by_exercise.setdefault(result.exercise, []).append(result)
    exercises = []
    for exercise, group in sorted(by_exercise.items()):
        names = [n for n in stage_order(group) if n != SUBMISSION_CHECK]
        # out of every submission: one refused or missing a stage has not passed it
        rates = [StageRate(name, sum(c.name == name and c.score == 1.0
                                     for r in group for c in r.checks), len(group))
                 for name in names]
        view = ExerciseView(exercise, [r.score for r in group],
                            max((r.max_score for r in group), default=0.0), rates)
        if drawn:
            from grader.reports.plots import pass_rate_svg, score_histogram_svg

            view.histogram_svg = score_histogram_svg(view.scores, view.max_score)
            view.rates_svg = pass_rate_svg([(s.name, s.rate) for s in rates])
        exercises.append(view)
    problems = [ProblemRow(r.student or "?", r.exercise or "?", found,
                           str(r.metadata.get("path", "")))
                for r in sorted(results, key=lambda r: (r.student, r.exercise))
                if (found := problem(r)) is not None]
    times = [(r.student or "?", r.exercise or "?", r.execution_time)
             for r in sorted(results, key=lambda r: (r.student, r.exercise))
             if r.execution_time is not None]
    return ClassView(len(results), exercises, misconception_rows(results), problems, times)


def report_csv(results: Sequence[SubmissionResult]) -> str:
    """One row per submission: student, exercise, score, max_score, percent, each stage's
    points in the exercise's order, the misconceptions named, the problem, seconds."""
    names = [n for n in stage_order(results) if n != SUBMISSION_CHECK]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "exercise", "score", "max_score", "percent", *names,
                     "misconceptions", "problem", "seconds"])
    for result in sorted(results, key=lambda r: (r.student, r.exercise)):
        earned = {c.name: points_text(c.earned) for c in result.checks}
        named = sorted({c.details.get("misconception") for c in result.checks} - {None})
        writer.writerow([
            result.student, result.exercise, points_text(result.score),
            points_text(result.max_score),
            percent_text(result.score / result.max_score) if result.max_score else "",
            *(earned.get(name, "") for name in names), " ".join(map(str, named)),
            problem(result) or "",
            "" if result.execution_time is None else f"{result.execution_time:.3f}"])
    return out.getvalue()


def render_report_html(results: Sequence[SubmissionResult], title: str = "Class report") -> str:
    """The class report page (self-contained HTML)."""
    from grader.reports.feedback import render_template

    return render_template("report.html.j2", title=title, view=class_view(results))


def write_report(results: Sequence[SubmissionResult], directory: Path,
                 title: str = "Class report") -> dict[str, Path]:
    """report.html and report.csv in `directory`; their paths by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"html": directory / "report.html", "csv": directory / "report.csv"}
    paths["html"].write_text(render_report_html(results, title), encoding="utf-8")
    paths["csv"].write_text(report_csv(results), encoding="utf-8")
    return paths


def results_in(directory: Path) -> tuple[list[SubmissionResult], list[str]]:
    """The results.json files of a results folder (`bptt grade --results`), and a note for
    every .json file there that is not one."""
    import json

    results, skipped = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, Mapping) or "tests" not in data:
                raise ValueError("no \"tests\"")
            results.append(SubmissionResult.from_gradescope(data))
        except (ValueError, TypeError, OSError) as error:
            skipped.append(f"{path.name}: not a results.json ({error})")
    return results, skipped
