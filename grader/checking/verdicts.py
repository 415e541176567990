"""From what a student's functions returned to a graded, explained check per stage.

The grading path is

    plan_calls(instance) → run (in a sandbox, or in-process) → grade_outcomes(instance, outcomes)

`plan_calls` lists, for every stage, the probes to call the student's function
with. Whoever runs them reports one `Outcome` per call: the named outputs (or
the error the call raised), the outputs of a second identical call when the
probe asks for one, and the arguments the function changed in place. Every
verdict is computed here, in the trusted process, from those values alone:

- a stage's score is the mean over its probes; a probe's score is the mean over
  its outputs, where an output with a time axis earns the fraction of time
  steps that are right and any other output (a parameter's gradient) earns 1
  only when every entry is right;
- a call that changed its arguments in place earns half; a repeated call that
  disagrees with the first earns the lower of the two;
- a wrong answer that equals what one of the stage's bugs returns, on every
  probe, is named: the misconception in plain words and the corrected equation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exercises.misconceptions import CATALOGUE
from exercises.spec import Instance, Probe, Stage
from grader.checking.checks import (
    RejectedAnswer,
    answer_array,
    entries_right,
    first_wrong_time,
    shape_problem,
)
from grader.checking.equations import as_text
from grader.reports.results import CheckResult, SubmissionResult

RTOL, ATOL = 1e-6, 1e-9
EXCEPTION_TEXT = re.compile(r"^[A-Za-z_][\w.]*: ")   # "ValueError: …", as opposed to a sentence


class ForeignValue:
    """A returned value the sandbox would not turn into an array: only its type is known."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


@dataclass(frozen=True)
class Outcome:
    """What one call gave back: plain values only, as read from the worker.

    outputs: {output name: value} or None when the call failed.
    error: the exception's type and message, for the student, or None.
    repeat_outputs: the outputs of the second call of a `repeat` probe.
    mutated: the names of the arguments the call changed in place.
    """

    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    repeat_outputs: Mapping[str, Any] | None = None
    mutated: tuple[str, ...] = ()


def plan_calls(instance: Instance) -> dict[str, list[Probe]]:
    """The probes of every stage, by the name of the student's function."""
    return {stage.name: stage.probes(instance) for stage in instance.exercise.stages}


@dataclass
class _OutputVerdict:
    name: str
    score: float
    right: bool
    note: str


def _judge_output(name: str, got: Any, expected: Any, time_axis: int | None) -> _OutputVerdict:
    """Compare one output. Expected None means the output must be None (no bias, say)."""
    if expected is None:
        ok = got is None
        return _OutputVerdict(name, float(ok), ok, "" if ok else f"{name} should be None")
    expected = np.asarray(expected, dtype=np.float64)
    if isinstance(got, ForeignValue):
        return _OutputVerdict(name, 0.0, False,
                              f"{name}: expected a numpy array, got {got.type_name}")
    try:
        array = answer_array(got)
    except RejectedAnswer as error:
        return _OutputVerdict(name, 0.0, False, f"{name}: {error}")
    problem = shape_problem(array.shape, expected.shape)
    if problem:
        return _OutputVerdict(name, 0.0, False, f"{name}: {problem}")
    right = entries_right(array, expected, rtol=RTOL, atol=ATOL)
    if right.all():
        return _OutputVerdict(name, 1.0, True, "")
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(array) + np.abs(expected), 1e-12)
        error = float(np.nanmax(np.where(right, 0.0, np.abs(array - expected) / scale)))
    note = f"{name}: {int((~right).sum())} of {right.size} entries wrong"
    if not np.isfinite(array).all():
        note += " (it contains NaN or inf)"
    elif np.isfinite(error):
        note += f" (largest relative error {error:.1e})"
    if time_axis is not None and expected.ndim > time_axis:
        where = first_wrong_time(array, expected, time_axis, rtol=RTOL, atol=ATOL)
        T = len(where.right_steps)
        note += (f"; walking back from t={T - 1}, the first wrong step is t={where.first_wrong}"
                 f", {sum(where.right_steps)} of {T} steps right")
        return _OutputVerdict(name, where.fraction_right, False, note)
    return _OutputVerdict(name, 0.0, False, note)


def _judge_outputs(probe: Probe, got: Mapping[str, Any] | None,
                   expected: Mapping[str, Any]) -> list[_OutputVerdict]:
    if got is None:
        return [_OutputVerdict(name, 0.0, False, "") for name in expected]
    return [_judge_output(name, got.get(name), value, probe.time_axis.get(name))
            for name, value in expected.items()]


def _same_outputs(got: Mapping[str, Any] | None, other: Mapping[str, Any]) -> bool:
    """Whether the student's outputs equal another implementation's, within tolerance."""
    if got is None:
        return False
    for name, value in other.items():
        if value is None:
            if got.get(name) is not None:
                return False
            continue
        try:
            array = answer_array(got.get(name))
        except RejectedAnswer:
            return False
        value = np.asarray(value, dtype=np.float64)
        if array.shape != value.shape or not entries_right(array, value, rtol=RTOL,
                                                            atol=ATOL).all():
            return False
    return True


@dataclass
class StageVerdict:
    """The verdict on one stage, before it becomes a `CheckResult`."""

    stage: Stage
    score: float
    lines: list[str] = field(default_factory=list)
    misconception: str | None = None
    errored: bool = False
    probe_scores: list[float] = field(default_factory=list)


def judge_stage(instance: Instance, stage: Stage, probes: list[Probe],
                outcomes: list[Outcome]) -> StageVerdict:
    """Grade one stage from the outcomes of its probes (same order as `probes`)."""
    variant = instance.variant
    verdict = StageVerdict(stage, 0.0)
    expected_per_probe = [stage.named(stage.solve(variant, **probe.kwargs)) for probe in probes]
    for probe, outcome, expected in zip(probes, outcomes, expected_per_probe, strict=True):
        label = f"{probe.name}" + (f" ({probe.purpose})" if probe.purpose else "")
        if outcome.error is not None:
            verdict.errored = True
            verdict.probe_scores.append(0.0)
            raised = EXCEPTION_TEXT.match(outcome.error) is not None
            verdict.lines.append(f"• {label}: " + (f"the call raised {outcome.error}" if raised
                                                   else outcome.error))
            continue
        judged = _judge_outputs(probe, outcome.outputs, expected)
        score = float(np.mean([v.score for v in judged]))
        notes = [v.note for v in judged if not v.right and v.note]
        if probe.repeat and outcome.repeat_outputs is not None:
            again = _judge_outputs(probe, outcome.repeat_outputs, expected)
            if not _same_outputs(outcome.repeat_outputs, outcome.outputs or {}):
                score = min(score, float(np.mean([v.score for v in again])))
                notes.append("a second call with the same inputs returned something else: "
                             "the function keeps state between calls (a global accumulator?)")
        if outcome.mutated:
            score *= 0.5
            notes.append(f"it changed its argument(s) {', '.join(outcome.mutated)} in place; "
                         "work on copies (half credit for this probe)")
        verdict.probe_scores.append(score)
        if notes:
            verdict.lines.append(f"• {label}: " + "; ".join(notes) + ".")
    verdict.score = float(np.mean(verdict.probe_scores)) if verdict.probe_scores else 0.0
    if verdict.score < 1.0 and not verdict.errored:
        verdict.misconception = diagnose(instance, stage, probes, outcomes)
    return verdict


def diagnose(instance: Instance, stage: Stage, probes: list[Probe],
             outcomes: list[Outcome]) -> str | None:
    """The id of the first bug whose outputs the student's equal on every probe, or None."""
    for bug in stage.bugs_for(instance.variant):
        if all(_same_outputs(outcome.outputs,
                             stage.named(bug.implementation(instance.variant, **probe.kwargs)))
               for probe, outcome in zip(probes, outcomes, strict=True)):
            return bug.misconception
    return None


def _message(verdict: StageVerdict, failed_dependencies: list[str]) -> str:
    stage = verdict.stage
    if verdict.score == 1.0:
        return f"{stage.name} is right on every probe."
    wrong = sum(score < 1.0 for score in verdict.probe_scores)
    lines = [f"{stage.name}: {wrong} of {len(verdict.probe_scores)} probes wrong."]
    lines += verdict.lines
    if verdict.misconception is not None:
        entry = CATALOGUE[verdict.misconception]
        bug = next(b for b in stage.bugs if b.misconception == verdict.misconception)
        lines += [f"Likely mistake: {entry.title}.", entry.explanation,
                  f"The right equation: {as_text(bug.correction)}"]
    if failed_dependencies:
        lines.append(f"{stage.name} calls {', '.join(failed_dependencies)}, which is wrong too: "
                     "fix that first.")
    return "\n".join(lines)


def grade_outcomes(instance: Instance, outcomes: Mapping[str, list[Outcome]],
                   metadata: Mapping[str, Any] | None = None,
                   plan: Mapping[str, list[Probe]] | None = None) -> SubmissionResult:
    """One `CheckResult` per stage, from the outcomes of every planned call.

    plan: the probes the calls were made with (from `plan_calls`), so that they
    are judged against exactly those; planned afresh when not given.
    A stage missing from `outcomes` (the function was not defined) scores 0.
    """
    plan = plan_calls(instance) if plan is None else plan
    verdicts: dict[str, StageVerdict] = {}
    checks = []
    for stage in instance.exercise.stages:
        name = f"{stage.title} ({stage.name})"
        if stage.name not in outcomes:
            checks.append(CheckResult(name, stage.points, 0.0, "error", stage.visibility,
                                      f"{stage.name} is not defined in the submission."))
            continue
        verdict = judge_stage(instance, stage, plan[stage.name], list(outcomes[stage.name]))
        verdicts[stage.name] = verdict
        failed = [dep for dep in stage.depends_on
                  if dep in verdicts and verdicts[dep].score < 1.0]
        status = ("passed" if verdict.score == 1.0
                  else "error" if verdict.errored and verdict.score == 0.0 else "failed")
        details = {"probe_scores": verdict.probe_scores,
                   "misconception": verdict.misconception}
        checks.append(CheckResult(name, stage.points, verdict.score, status, stage.visibility,
                                  _message(verdict, failed), details,
                                  tags=(stage.name,)))
    return SubmissionResult(student=instance.student, exercise=instance.exercise.id,
                            checks=tuple(checks),
                            metadata={"variant": _plain(instance.variant.as_dict()),
                                      **(metadata or {})})


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (list(value) if isinstance(value, tuple) else value)
            for key, value in values.items()}
