"""From what a student's functions returned to a graded, explained check per stage.

The grading path is

    plan_calls(instance) → run (in a sandbox, or in-process) → grade_outcomes(instance, outcomes)

`plan_calls` lists, for every stage, the probes to call the student's function
with. Whoever runs them reports one `Outcome` per call: the named outputs (or
the error the call raised), the outputs of a second identical call when the
probe asks for one, and the arguments the function changed in place. Every
verdict is computed here, in the trusted process, from those values alone:

- a stage's score is the mean over its probes; a probe's score is the fraction
  of its outputs that are right, and an output is right only when every entry
  is within tolerance (`grader.checking.checks`); an output with a time axis
  also says at which step it first goes wrong, in the order it is computed;
- an output that must be None (a bias gradient without bias) does not count
  when it is None, and counts as one wrong output when it is not;
- a call that raised, or whose return value cannot be read, earns 0;
- a call that changed its arguments in place earns half; a repeated call that
  disagrees with the first earns the lower of the two;
- a wrong answer that equals what one of the stage's bugs returns, on every
  probe, is named: the misconception in plain words and the corrected equation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from exercises.instance import resized
from exercises.misconceptions import CATALOGUE
from exercises.spec import Instance, Probe, Stage, Variant
from exercises.training_runs import as_weights
from grader.checking.checks import (
    RejectedAnswer,
    answer_array,
    entries_right,
    lower_precision,
    shape_problem,
    steps_right,
)
from grader.checking.consistency import (
    backward_calls_at_reference,
    checked_stages,
    gradient_check_probes,
    judge_consistency,
    reference_pairs,
    with_followups,
)
from grader.checking.equations import as_text
from grader.checking.error_map import error_map, loss_step_map, step_series
from grader.reports.results import CheckResult, SubmissionResult

# The maths' symbols as the notebooks' code names them, said under a correction using them.
CODE_NAMES = (
    ("δ", "(δ is the gradient at a pre-activation: da = ds * φ'(a) in your code, with ds the "
          "gradient reaching the state.)"),
    ("∇", "(∇_W L is the gradient of the loss with respect to W: dW in your code.)"),
)
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
    """The probes of every stage, by the name of the student's function: the stage's own,
    then its first probe drawn again at other sizes, lengths, rates and horizons than the
    student's variant (`exercises.instance.resized`), which code that reads the variant
    instead of its arguments fails."""
    other = resized(instance.variant, instance.exercise.variant_space)
    elsewhere = replace(instance, variant=other) if other is not None else None
    plan = {}
    for stage in instance.exercise.stages:
        probes = list(stage.probes(instance))
        if elsewhere is not None:
            first = stage.probes(elsewhere)[0]
            probes.append(replace(first, name=f"other sizes: {first.name}", repeat=False,
                                  variant=other, purpose=_sizes_purpose(instance.variant, other)))
        plan[stage.name] = probes
    for name, probes in gradient_check_probes(instance).items():
        plan[name] = plan.get(name, []) + probes   # after the probes compared with the reference
    return plan


def _sizes_purpose(mine: Variant, other: Variant) -> str:
    moved = [f"{name}={value:g}" for name, value in other.as_dict().items()
             if isinstance(value, (int, float)) and not isinstance(value, bool)
             and value != mine.as_dict().get(name)]
    return (", ".join(moved) + ": sizes, rates and horizons come from the arguments, "
            "not from your variant")


@dataclass
class _OutputVerdict:
    name: str
    right: bool
    note: str
    first_wrong_step: int | None = None     # along the output's time axis, when it has one


def _judge_output(name: str, got: Any, expected: np.ndarray, time_axis: int | None,
                  step_label: str = "t") -> _OutputVerdict:
    """Compare one output with the reference: right only when every entry is."""
    expected = np.asarray(expected, dtype=np.float64)
    if isinstance(got, ForeignValue):
        return _OutputVerdict(name, False, f"{name}: expected a numpy array, got {got.type_name}")
    try:
        array = answer_array(got)
    except RejectedAnswer as error:
        return _OutputVerdict(name, False, f"{name}: {error}")
    problem = shape_problem(array.shape, expected.shape)
    if problem:
        return _OutputVerdict(name, False, f"{name}: {problem}")
    right = entries_right(array, expected)
    if right.all():
        return _OutputVerdict(name, True, "")
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(array) + np.abs(expected), 1e-12)
        error = float(np.nanmax(np.where(right, 0.0, np.abs(array - expected) / scale)))
    note = f"{name}: {int((~right).sum())} of {right.size} entries wrong"
    if not np.isfinite(array).all():
        note += " (it contains NaN or inf)"
    elif np.isfinite(error):
        note += f" (largest relative error {error:.1e})"
    first_wrong = None
    if time_axis is not None and expected.ndim > time_axis:
        steps = steps_right(array, expected, time_axis)
        first_wrong = int(np.flatnonzero(~steps)[0])
        note += _steps_text(name, steps, step_label)
    precision = lower_precision(got)
    if precision:
        note += (f"; it is {precision}, which keeps only about "
                 f"{7 if precision == 'float32' else 3} significant digits: compute in float64 "
                 "(numpy's default) to meet the tolerance")
    return _OutputVerdict(name, False, note, first_wrong)


def _steps_text(name: str, right: np.ndarray, step_label: str = "t") -> str:
    """Where in time an output goes wrong, in the order it is computed: a state forward
    from t=0, a gradient (named d…) back from t=T−1 as BPTT computes it, a weight of a
    training run (`step_label` "update") from its first update on."""
    wrong, T = np.flatnonzero(~right), len(right)
    if step_label != "t":
        return f", from {step_label} {int(wrong[0]) + 1} of {T} on"
    if name.startswith("d"):
        return (f"; walking back from t={T - 1} as BPTT does, the first wrong step is "
                f"t={int(wrong[-1])}, {T - wrong.size} of {T} steps right")
    return (f"; going forward from t=0, the first wrong step is t={int(wrong[0])}, "
            f"{T - wrong.size} of {T} steps right")


def _departure(judged: list[_OutputVerdict], step_label: str) -> list[str]:
    """For a training run: the first update after which the weights depart from the
    reference's trajectory, and which weights do there."""
    steps = [v.first_wrong_step for v in judged if v.first_wrong_step is not None]
    if not steps:
        return []
    first = min(steps)
    names = ", ".join(v.name for v in judged if v.first_wrong_step == first)
    before = f"; every {step_label} before it is right" if first else ""
    return [f"your weights first depart from the reference's after {step_label} {first + 1} "
            f"({names}{before})"]


def _judge_outputs(probe: Probe, got: Mapping[str, Any] | None,
                   expected: Mapping[str, Any]) -> list[_OutputVerdict]:
    """One verdict per output that counts. An output that must be None (a bias gradient
    in a variant without bias) counts only when the answer is not None, as a wrong one."""
    verdicts = []
    for name, value in expected.items():
        answer = None if got is None else got.get(name)
        if value is None:
            if got is not None and answer is not None:
                verdicts.append(_OutputVerdict(name, False, f"{name} should be None"))
        elif got is None:
            verdicts.append(_OutputVerdict(name, False, ""))
        else:
            verdicts.append(_judge_output(name, answer, value, probe.time_axis.get(name),
                                          probe.step_label))
    return verdicts


def _probe_score(verdicts: list[_OutputVerdict]) -> float:
    """The fraction of the counted outputs that are right."""
    return float(np.mean([v.right for v in verdicts])) if verdicts else 1.0


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
        if array.shape != value.shape or not entries_right(array, value).all():
            return False
    return True


@dataclass
class StageVerdict:
    """The verdict on one stage, before it becomes a `CheckResult`."""

    stage: Stage
    variant: Variant
    score: float
    lines: list[str] = field(default_factory=list)
    misconception: str | None = None
    errored: bool = False
    probe_scores: list[float] = field(default_factory=list)
    pictures: dict[str, Any] = field(default_factory=dict)
    expected: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(probe) → answer


def judge_stage(instance: Instance, stage: Stage, probes: list[Probe],
                outcomes: list[Outcome]) -> StageVerdict:
    """Grade one stage from the outcomes of its probes (same order as `probes`)."""
    verdict = StageVerdict(stage, instance.variant, 0.0)
    expected_per_probe = [stage.named(stage.solve(probe.variant or instance.variant,
                                                  **probe.kwargs)) for probe in probes]
    verdict.expected = {id(probe): expected
                        for probe, expected in zip(probes, expected_per_probe, strict=True)}
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
        score = _probe_score(judged)
        notes = [v.note for v in judged if not v.right and v.note]
        if probe.step_label != "t":
            notes[:0] = _departure(judged, probe.step_label)
        if probe.repeat and outcome.repeat_outputs is not None:
            again = _judge_outputs(probe, outcome.repeat_outputs, expected)
            if not _same_outputs(outcome.repeat_outputs, outcome.outputs or {}):
                score = min(score, _probe_score(again))
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
    if verdict.score < 1.0:
        verdict.misconception = diagnose(instance, stage, probes, outcomes)
    verdict.pictures = _pictures(probes, outcomes, expected_per_probe, verdict.probe_scores)
    return verdict


def _pictures(probes: list[Probe], outcomes: list[Outcome], expected: list[Mapping[str, Any]],
              scores: list[float]) -> dict[str, Any]:
    """What the feedback page draws (`grader.checking.error_map`): the error map of the
    first wrong probe, and the per-step curve of the first probe that has one."""
    pictures: dict[str, Any] = {}
    for probe, outcome, wanted, score in zip(probes, outcomes, expected, scores, strict=True):
        if "error_map" not in pictures and score < 1.0:
            found = error_map(probe, outcome.outputs, wanted)
            if found is not None:
                pictures["error_map"] = found
        if "step_series" not in pictures:
            found = step_series(probe, outcome.outputs, wanted)
            if found is not None:
                pictures["step_series"] = found
    return pictures


def diagnose(instance: Instance, stage: Stage, probes: list[Probe],
             outcomes: list[Outcome]) -> str | None:
    """The id of the first bug that the student's function behaves like on every probe:
    the same outputs, or, where the bug's implementation raises (an untransposed product
    at a non-square size), an error too. None when no bug does."""
    for bug in stage.bugs_for(instance.variant):
        matched = 0
        for probe, outcome in zip(probes, outcomes, strict=True):
            try:
                theirs = stage.named(bug.implementation(probe.variant or instance.variant,
                                                        **probe.kwargs))
            except Exception:  # noqa: BLE001 — the bug's own code fails at these sizes
                if outcome.error is None:
                    break
                continue
            if not _same_outputs(outcome.outputs, theirs):
                break
            matched += 1
        else:
            if matched:
                return bug.misconception
    return None


def _correction(verdict: StageVerdict) -> str:
    """The right equation (LaTeX) for the misconception named, in the student's variant."""
    bug = next(b for b in verdict.stage.bugs if b.misconception == verdict.misconception)
    return bug.correction_for(verdict.variant)


def _message(verdict: StageVerdict, failed_dependencies: list[str]) -> str:
    stage = verdict.stage
    if verdict.score == 1.0:
        return f"{stage.name} is right on every probe." + (
            f" It was graded with right answers from {', '.join(failed_dependencies)}, which "
            "is wrong in your notebook: see its own check." if failed_dependencies else "")
    wrong = sum(score < 1.0 for score in verdict.probe_scores)
    lines = [f"{stage.name}: {wrong} of {len(verdict.probe_scores)} probes wrong."]
    lines += verdict.lines
    if verdict.misconception is not None:
        entry = CATALOGUE[verdict.misconception]
        bug = next(b for b in stage.bugs if b.misconception == verdict.misconception)
        equation = as_text(bug.correction_for(verdict.variant))
        lines += [f"Likely mistake: {entry.title}.", entry.explanation,
                  f"The right equation: {equation}"]
        lines += [gloss for symbol, gloss in CODE_NAMES if symbol in equation]
    if failed_dependencies:
        lines.append(f"{stage.name} calls {', '.join(failed_dependencies)}, which is wrong too: "
                     "fix that first. (It was graded with right answers from it wherever your "
                     f"{stage.name} called it as a right one would.)")
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
    plan = with_followups(instance, plan, outcomes)
    verdicts: dict[str, StageVerdict] = {}
    checks = []
    for stage in instance.exercise.stages:
        name = f"{stage.title} ({stage.name})"
        if stage.name not in outcomes:
            checks.append(CheckResult(name, stage.points, 0.0, "error", stage.visibility,
                                      f"{stage.name} is not defined in the submission."))
            continue
        verdict = judge_stage(instance, stage, *reference_pairs(plan[stage.name],
                                                                list(outcomes[stage.name])))
        verdicts[stage.name] = verdict
        failed = [dep for dep in stage.depends_on
                  if dep in verdicts and verdicts[dep].score < 1.0]
        status = ("passed" if verdict.score == 1.0
                  else "error" if verdict.errored and verdict.score == 0.0 else "failed")
        details = {"probe_scores": verdict.probe_scores,
                   "misconception": verdict.misconception}
        if stage.visibility == "visible":    # per-step data only where the student sees it
            details.update(verdict.pictures)
            by_loss_step = _loss_step_map(instance, stage, plan, outcomes)
            if by_loss_step is not None:
                details["error_map"] = {"rows": [], **details.get("error_map", {}),
                                        "by_loss_step": by_loss_step}
            if verdict.misconception is not None:
                details["correction"] = _correction(verdict)
            if stage.training is not None:
                first = plan[stage.name][0]
                details["loss_curve"] = loss_curve(instance, stage, first,
                                                   outcomes[stage.name][0],
                                                   verdict.expected.get(id(first)))
        message = _message(verdict, failed)
        consistency = judge_consistency(instance, stage, plan, outcomes)
        if consistency is not None:   # beside the comparison, and worth no points of its own
            details["gradient_check"] = consistency.as_details()
            message += "\n" + _with_diagnosis(consistency, verdicts, stage)
        checks.append(CheckResult(name, stage.points, verdict.score, status, stage.visibility,
                                  message, details, tags=(stage.name,)))
    return SubmissionResult(student=instance.student, exercise=instance.exercise.id,
                            checks=tuple(checks),
                            metadata={"variant": _plain(instance.variant.as_dict()),
                                      **(metadata or {})})


def _loss_step_map(instance: Instance, stage: Stage, plan: Mapping[str, list[Probe]],
                   outcomes: Mapping[str, list[Outcome]]) -> dict[str, Any] | None:
    """The relative error of each parameter gradient for the loss at each step t alone,
    from the gradient check's calls at the reference's states (`error_map.loss_step_map`),
    or None for a stage without such calls."""
    if stage not in checked_stages(instance):
        return None
    with np.errstate(all="ignore"):
        return loss_step_map(stage, instance.variant,
                             backward_calls_at_reference(plan, outcomes, stage))


def loss_curve(instance: Instance, stage: Stage, probe: Probe, outcome: Outcome,
               expected: Mapping[str, Any] | None = None) -> dict[str, list[float | None]]:
    """The loss of a training run's batch after every update, at the student's weights and
    at the reference's: {"student": [...], "reference": [...]}, one float per update, by
    the reference's loss (`Training.loss`) on the stage's first probe.

    The student's curve is empty when the call failed or its weights cannot be read (a
    wrong shape, a missing weight); a non-finite loss is None. `expected`: the reference's
    answer to the probe, when the caller has it (`judge_stage` computed it).
    """
    variant = probe.variant or instance.variant
    if expected is None:
        expected = stage.named(stage.solve(variant, **probe.kwargs))
    steps = len(next(iter(expected.values())))
    reference = [_finite(stage.training.loss(variant, probe.kwargs, as_weights(expected, i)))
                 for i in range(steps)]
    student: list[float | None] = []
    try:
        weights = {name: answer_array((outcome.outputs or {}).get(name)) for name in expected}
    except RejectedAnswer:
        weights = None
    if outcome.error is None and weights is not None and all(
            weights[name].shape == np.shape(expected[name]) for name in expected):
        for i in range(steps):
            with np.errstate(all="ignore"):
                try:
                    student.append(_finite(stage.training.loss(variant, probe.kwargs,
                                                               as_weights(weights, i))))
                except (ValueError, FloatingPointError):
                    student.append(None)
    return {"student": student, "reference": reference}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _with_diagnosis(consistency, verdicts: Mapping[str, StageVerdict], stage: Stage) -> str:
    """The gradient check's paragraph, with where the error is when the two checks together
    tell: a backward that is the derivative of a wrong forward has the error in the forward."""
    text = consistency.message
    forwards = stage.gradient_of.forwards
    wrong = [name for name in forwards if name in verdicts and verdicts[name].score < 1.0]
    if consistency.status == "consistent" and wrong:
        text += (f" Your forward is where the error is: {', '.join(wrong)} is wrong, and "
                 f"{stage.name} differentiates it faithfully.")
    elif consistency.status == "inconsistent" and verdicts[stage.name].score == 1.0:
        text += (f" {stage.name} itself is right on the reference's probes, so the forward is "
                 "where the error is" + (f": see the check of {', '.join(wrong)}." if wrong
                                        else "."))
    return text


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (list(value) if isinstance(value, tuple) else value)
            for key, value in values.items()}
