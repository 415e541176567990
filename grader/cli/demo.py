"""`bptt demo`: a class of simulated students, graded end to end.

It writes, in one folder:

    bptt-course.toml        a course file with a fresh secret
    submissions/            the elman exercise's release notebook for each student,
                            filled in the way that student would: correct code written
                            in several styles, catalogue bugs, an exception, an infinite
                            loop, a memory bomb, a hostile submission, IPython magics
    results/                Gradescope results.json per student, class.csv, junit.xml,
                            summary.txt, the gradebook, and the class report
                            (report.html, report.csv)
    feedback/               what each student reads: <student>.html (the feedback page,
                            with its pictures), <student>.md and <student>.txt

and prints the class as a table. Every submission is graded in the sandbox,
exactly as `bptt grade` grades.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from textwrap import shorten

import click
import numpy as np

import reference as ref
from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.solution_cells import stage_solutions
from grader.cli.simulated import edited, filled_in, in_style, release_json, with_bug
from grader.grading.batch import discover, grade_batch
from grader.reports.class_page import write_report
from grader.reports.class_report import write_class_reports
from grader.reports.feedback import write_feedback
from grader.reports.numbers import points_text
from grader.reports.render import render_text

EXERCISE = "elman"


@dataclass(frozen=True)
class Scenario:
    """One simulated student: what they did, as an edit of the solution functions."""

    label: str
    edit: Callable[[dict[str, str]], dict[str, str]]
    needs: Callable[[object], bool] = lambda variant: True   # a variant where it shows


def _replace(stage: str, old: str, new: str):
    return lambda code: {**code, stage: edited(code[stage], old, new)}


def _append(stage: str, extra: str):
    return lambda code: {**code, stage: code[stage] + "\n\n" + extra}


def _drop(*stages: str):
    return lambda code: {k: v for k, v in code.items() if k not in stages}


HOSTILE = '''import os, socket
for path in ("../bptt-course.toml", "/work", os.path.expanduser("~")):
    try:
        print("peeking at", path, os.listdir(path) if os.path.isdir(path) else open(path).read())
    except OSError as error:
        print("refused:", error)
try:
    socket.create_connection(("198.51.100.7", 80), timeout=1)
except OSError as error:
    print("no network:", error)
np.allclose = lambda *args, **kwargs: True      # make every comparison pass?
print("Points 100/100")
while True:                                     # and a fork bomb for good measure
    try:
        os.fork()
    except OSError:
        break
'''

SCENARIOS = (
    Scenario("correct", lambda code: code),
    Scenario("correct, einsum", partial(in_style, style="einsum")),
    Scenario("correct, loops", partial(in_style, style="loops")),
    Scenario("correct, vectorised", partial(in_style, style="vectorised")),
    Scenario("bug: W not transposed", partial(with_bug, misconception="weight-not-transposed")),
    Scenario("bug: s_t for s_{t-1}",
             partial(with_bug, misconception="off-by-one-previous-state")),
    Scenario("bug: bias averaged", partial(with_bug, misconception="bias-not-summed")),
    Scenario("bug: no recurrent term", partial(with_bug, misconception="recurrent-term-dropped")),
    Scenario("bug: = for +=", lambda code: {**code, "rnn_backward": edited(edited(edited(
        code["rnn_backward"], "dU += dU_t", "dU = dU_t"), "dW += dW_t", "dW = dW_t"),
        "db += db_t", "db = db_t")}),
    Scenario("bug: s0 ignored", partial(with_bug, misconception="initial-state-ignored")),
    Scenario("bug: update climbs", partial(with_bug, misconception="update-wrong-sign")),
    Scenario("bug: φ' of φ(s)", _append("phi_prime", "_phi_prime = phi_prime\n\n\n"
                                        "def phi_prime(s):\n    return _phi_prime(phi(s))"),
             needs=lambda variant: variant.activation in ("tanh", "sigmoid")),
    Scenario("bug: softmax Jacobian diagonal", lambda code: {**code, "output_backward": (
        "def output_backward(s, V, c, d):\n"
        "    N, o = s.shape[0], s @ V + c\n"
        "    y = np.exp(o - o.max(axis=-1, keepdims=True))\n"
        "    y /= y.sum(axis=-1, keepdims=True)\n"
        "    do = 2.0 * (y - d) / N * y * (1 - y)\n"
        "    return np.einsum('ntd,ntk->dk', s, do), do.sum(axis=(0, 1)), do @ V.T")},
             needs=lambda variant: (variant.output, variant.objective) == ("softmax", "mse")),
    Scenario("unfinished", _drop("rnn_backward", "sgd_update")),
    Scenario("exception", _replace("rnn_forward", "rnn_step_forward(x[:, t], s_prev, U, W, b)",
                                   "rnn_step_forward(x[t], s_prev, U, W, b)")),
    Scenario("infinite loop", _replace("rnn_backward", "    for t in reversed(range(T)):",
                                       "    while True:\n        pass\n"
                                       "    for t in reversed(range(T)):")),
    Scenario("memory bomb", _append("sgd_update", "hoard = np.ones((10**5, 10**5))  # 80 GB")),
    Scenario("hostile", _append("sgd_update", HOSTILE)),
    Scenario("IPython magics", lambda code: {**code, "rnn_forward": "%matplotlib inline\n"
                                             "!pip install torch\n" + code["rnn_forward"]}),
    Scenario("bug: forgot φ", _replace("rnn_step_forward", "return phi(", "return ("),
             needs=lambda variant: variant.activation != "identity"),
)


def _student_for(scenario: Scenario, index: int, exercise, secret: str, salt: str) -> str:
    """The first id student-NN(-k) whose variant lets the scenario show."""
    for attempt in range(200):
        student = f"student-{index:02d}" + (f"-{attempt}" if attempt else "")
        if scenario.needs(make_instance(exercise, student, secret, salt).variant):
            return student
    raise RuntimeError(f"no variant shows {scenario.label!r}")


def reference_check() -> float:
    """The reference's largest relative error against central differences, three networks."""
    rng = np.random.default_rng(2026)
    worst = 0.0
    for model in (ref.Elman(3, 4, 4, output="softmax", objective="ce"),
                  ref.Stacked(3, 4, 2, activation="sigmoid"),
                  ref.Bidirectional(3, 3, 2, output="sigmoid", objective="bce")):
        params = model.init_params(rng)
        x = rng.standard_normal((2, 5, 3))
        d = (rng.integers(0, 4, (2, 5)) if model.objective == "ce"
             else rng.uniform(size=(2, 5, model.n_out)))
        grads = model.grad(params, x, d)
        for key, value in params.items():
            numeric = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                for sign in (1, -1):
                    shifted = dict(params, **{key: value.copy()})
                    shifted[key][index] += sign * 1e-6
                    numeric[index] += sign * model.loss(shifted, x, d) / 2e-6
            error = np.linalg.norm(grads[key] - numeric) / max(
                np.linalg.norm(grads[key]) + np.linalg.norm(numeric), 1e-300)
            worst = max(worst, float(error))
    return worst


def diagnosis(result) -> str:
    """One line: the misconceptions named, else the first problem reported, else the first
    note on the submission, shortened at a word; "all right" for full marks (its notes are
    on its page)."""
    named = [c.details.get("misconception") for c in result.checks]
    if any(named):
        return ", ".join(dict.fromkeys(name for name in named if name))
    for check in result.checks:
        problems = [line for line in check.message.splitlines() if line.startswith("• ")]
        if check.score < 1.0 and problems:
            return shorten(problems[0].split("): ", 1)[-1], 160, placeholder=" …")
    if result.score == result.max_score:
        return "all right"
    notes = [line for line in result.output.splitlines() if line.strip()]
    return shorten(notes[0], 160, placeholder=" …") if notes else ""


def run(out: Path, workers: int | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    started = time.perf_counter()
    console.print(f"reference BPTT against central differences: largest relative error "
                  f"{reference_check():.1e} (Elman, two-layer, bidirectional)")
    exercise = get_exercise(EXERCISE)
    out.mkdir(parents=True, exist_ok=True)
    course_file = out / "bptt-course.toml"
    if not course_file.exists():
        course_file.write_text(f'secret = "{secrets.token_urlsafe(32)}"\n\n'
                               "[limits]\nwall_seconds = 4\ncpu_seconds = 4\nmemory_mb = 768\n")
    config = CourseConfig.from_file(course_file)
    submissions = out / "submissions"
    submissions.mkdir(exist_ok=True)
    labels = {}
    for index, scenario in enumerate(SCENARIOS, start=1):
        student = _student_for(scenario, index, exercise, config.secret, config.salt)
        variant = make_instance(exercise, student, config.secret, config.salt).variant
        solutions = stage_solutions(exercise, variant)
        notebook = filled_in(release_json(exercise, student, config.salt), student,
                             scenario.edit(solutions))
        (submissions / f"{student}.ipynb").write_text(json.dumps(notebook, indent=1))
        labels[student] = scenario.label
    console.print(f"wrote {len(SCENARIOS)} submissions of '{exercise.id}' to {submissions}/")
    summary = grade_batch(discover([submissions]), config, out / "results", workers=workers)
    write_class_reports(summary.results, out / "results", summary.isolation)
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    table = Table(title=f"{exercise.title}: {len(summary.results)} students")
    # Cells wrap at spaces, never inside a word: the diagnosis column is as wide as the
    # longest misconception named, so no name is cut.
    diagnoses = {result.student: diagnosis(result) for result in summary.results}
    longest = max((len(word) for text in diagnoses.values() for word in text.split()),
                  default=10)
    table.add_column("student", no_wrap=True)
    table.add_column("what they did", max_width=16)
    table.add_column("score", no_wrap=True)
    table.add_column("the grader's diagnosis", min_width=min(longest, 40), overflow="fold")
    for result in sorted(summary.results, key=lambda r: r.student):
        (feedback / f"{result.student}.txt").write_text(render_text(result))
        table.add_row(result.student, labels.get(result.student, "?"),
                      f"{points_text(result.score)}/{points_text(result.max_score)}",
                      diagnoses[result.student])
    write_feedback([(result, result.student) for result in summary.results], feedback)
    report = write_report(summary.results, out / "results", f"{exercise.title}: the class")
    console.print(table)
    console.print(summary.isolation or "(every submission was graded before: nothing to run)")
    console.print(f"class report: {report['html']}")
    console.print(f"results in {out / 'results'}/, feedback in {feedback}/; "
                  f"{time.perf_counter() - started:.1f} s in all")


@click.command()
@click.option("--out", default="bptt-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the course file, submissions, results and feedback.")
@click.option("--workers", type=int, help="Parallel sandboxes (default: one per core).")
def demo(out: str, workers: int | None) -> None:
    """Simulate a class, grade it in the sandbox, and show what the grader says."""
    run(Path(out), workers)

