"""The graded gradient check: is the student's backward the derivative of their own forward?

A backward stage B declares the forward F it differentiates (`exercises.spec.GradientOf`).
Its check is made of ordinary planned calls of the student's functions, run where every
other call runs (the sandbox, or nbgrader's kernel), and judged here, in the parent:

- the point θ: the arguments of the forwards (and of the head), from the stage's own
  first probe where it has them, else from the forwards' and the other stages' probes;
- for every parameter p that B differentiates, a random unit direction u_p, and the
  student's forwards called at θ + εu_p and θ − εu_p (the head, a given formula such
  as o = z V₂ + c, or the loss of a loss stage, is evaluated here on their outputs);
- the student's B called at θ with the forward's states and an upstream gradient v_t
  that is random at step t and zero elsewhere, one call per step t (the loss at one
  step alone), or with no upstream when F is a scalar loss.

B agrees with F at p for the loss at step t when

    ⟨B(v_t)_p, u_p⟩  ≈  v_tᵀ (F(θ + εu_p) − F(θ − εu_p)) / 2ε          (ε = 1e-6)

within RTOL·max(|lhs|, |rhs|) + ATOL_FACTOR·Σ|v_t ⊙ F(θ)| (the rounding of the
difference quotient in float64). The verdict names the parameters where it does
not, and the first step t (counted from 0) whose loss shows it.

The states B is called with must be the student's own F(θ). They are not known
when the calls are planned, so B is first called with the reference's states;
when the student's forward at θ differs from the reference's, `followup_probes`
plans B's calls again with the student's own states (a second round of calls).

Float32 forwards cannot resolve ε: the check then says it was not made. A check
that cannot be made never counts against the student. The check does not change
the stage's points: the comparison with the reference on the hidden probes does
(see docs/students.md, "Gradient checks in your grade").
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exercises.spec import GradientOf, Instance, Probe, Stage
from grader.checking.checks import RejectedAnswer, answer_array, entries_right, lower_precision

EPS = 1e-6
RTOL = 1e-4                  # finite differences in float64 agree to about 1e-8
ATOL_FACTOR = 1e-7           # ≈ 1000 × the rounding of a difference quotient: 1e-16 / ε
CONSISTENT, INCONSISTENT, NOT_CHECKED = "consistent", "inconsistent", "not checked"


@dataclass(frozen=True)
class Consistency:
    """The verdict of one backward stage's gradient check.

    status: CONSISTENT, INCONSISTENT or NOT_CHECKED.
    parameters: the backward's outputs (dW, …) that disagree, in its order.
    first_step: the first step t whose loss shows the disagreement (None without time).
    message: one paragraph for the student.
    """

    status: str
    message: str
    parameters: tuple[str, ...] = ()
    first_step: int | None = None
    errors: Mapping[str, float] = field(default_factory=dict)

    def as_details(self) -> dict[str, Any]:
        return {"status": self.status, "parameters": list(self.parameters),
                "first_step": self.first_step, "relative_errors": dict(self.errors)}


# -- planning ------------------------------------------------------------------------------


def checked_stages(instance: Instance) -> list[Stage]:
    """The backward stages whose forwards are all the student's own stages (a backward of
    given functions alone, or of a head alone, is checked by the notebook's self-check:
    the reference's comparison already judges it against the given formula)."""
    names = {stage.name for stage in instance.exercise.stages}
    return [stage for stage in instance.exercise.stages if stage.gradient_of is not None
            and stage.gradient_of.forwards
            and all(forward in names for forward in stage.gradient_of.forwards)]


def gradient_check_probes(instance: Instance) -> dict[str, list[Probe]]:
    """The first round of calls of every checked stage's gradient check, by function name:
    the forwards at θ and θ ± εu_p, the backward at θ with the reference's states."""
    plan: dict[str, list[Probe]] = {}
    for stage in checked_stages(instance):
        setup = _setup(instance, stage)
        for forward in setup.forwards:
            plan.setdefault(forward.name, []).extend(_forward_probes(setup, forward))
        states = {name: value for forward in setup.forwards
                  for name, value in _reference(setup.instance, setup.point, forward).items()}
        plan.setdefault(stage.name, []).extend(_backward_probes(setup, states, phase=1))
    return plan


def followup_probes(instance: Instance, plan: Mapping[str, list[Probe]],
                    outcomes: Mapping[str, list]) -> dict[str, list[Probe]]:
    """The backward's calls again with the student's own states, for every checked stage
    whose forward at θ returned states other than the reference's (and nothing when the
    forward failed: the check is then not made)."""
    extra: dict[str, list[Probe]] = {}
    for stage in checked_stages(instance):
        if stage.name not in plan:
            continue
        setup = _setup(instance, stage)
        states = _student_states(setup, plan, outcomes)
        if states is None or not _fits(setup, states) or _same_as_reference(setup, states):
            continue   # a forward that failed, or states the backward cannot take: no check
        extra[stage.name] = _backward_probes(setup, states, phase=2)
    return extra


def _fits(setup: _Setup, states: Mapping[str, np.ndarray],
          forwards: list[Stage] | None = None) -> bool:
    """Whether the student's states (of `forwards`, all by default) have the reference's
    shapes and are finite: states the backward, the head and the reference's callees
    can take."""
    for forward in setup.forwards if forwards is None else forwards:
        for name, expected in _reference(setup.instance, setup.point, forward).items():
            got = states.get(name)
            if got is None or got.shape != np.shape(expected) or not np.isfinite(got).all():
                return False
    return True


@dataclass
class _Setup:
    instance: Instance
    stage: Stage
    gradient: GradientOf
    forwards: list[Stage]
    point: dict[str, Any]
    directions: dict[str, np.ndarray]         # backward output → u_p (the parameter's shape)
    upstream: list[np.ndarray | None]          # v_t per step, [None] for a scalar loss
    others: dict[str, Any]                     # the backward's arguments that are fixed data


def _setup(instance: Instance, stage: Stage) -> _Setup:
    exercise, gradient = instance.exercise, stage.gradient_of
    forwards = [exercise.stage(name) for name in gradient.forwards]
    outputs = {name for forward in forwards for name in forward.outputs}
    needed = [name for forward in forwards for name in forward.inputs]
    needed += [name for name in _head_arguments(instance, gradient) if name not in outputs]
    first = _first_probes(instance, [stage, *forwards, *exercise.stages], set(needed))
    point = {name: copy.deepcopy(next(kwargs[name] for kwargs in first if name in kwargs))
             for name in dict.fromkeys(needed)}
    rng = instance.rng(f"gradient-check:{stage.name}")
    directions = {}
    for result in gradient.wrt:
        value = _parameter_value(point, gradient.parameter(result))
        if value is None or np.asarray(value).dtype.kind != "f":
            continue
        u = rng.normal(size=np.shape(value))
        directions[result] = u / max(float(np.linalg.norm(u)), 1e-300)
    value = _head(instance, gradient, point,
                  {name: value for forward in forwards
                   for name, value in _reference(instance, point, forward).items()})
    if gradient.upstream is None:
        upstream: list[np.ndarray | None] = [None]
    else:
        v = rng.normal(size=np.shape(value))
        axis = gradient.time_axis
        if axis is None or np.ndim(v) <= axis:
            upstream = [v]
        else:
            upstream = []
            for t in range(np.shape(v)[axis]):
                at_step = np.zeros_like(v)
                index = (slice(None),) * axis + (t,)
                at_step[index] = v[index]
                upstream.append(at_step)
    others = {name: copy.deepcopy(first[0][name]) for name in stage.inputs
              if name != gradient.upstream and name not in outputs and name not in point
              and name in first[0]}
    return _Setup(instance, stage, gradient, forwards, point, directions, upstream, others)


def _first_probes(instance: Instance, stages: list[Stage],
                  needed: set[str]) -> list[dict[str, Any]]:
    """The first probes' arguments of `stages` in order, until every needed name is met
    (the first stage's always: the backward's own)."""
    seen, found, missing = set(), [], set(needed)
    for stage in stages:
        if stage.name in seen or (found and not missing):
            continue
        seen.add(stage.name)
        probes = stage.probes(instance)
        if probes:
            found.append(dict(probes[0].kwargs))
            missing -= set(found[-1])
    return found


def _head_arguments(instance: Instance, gradient: GradientOf) -> list[str]:
    if gradient.head is None:
        return []
    if isinstance(gradient.head, str):
        return list(instance.exercise.stage(gradient.head).inputs)
    return list(inspect.signature(gradient.head).parameters)


def _head(instance: Instance, gradient: GradientOf, point: Mapping[str, Any],
          states: Mapping[str, Any]) -> Any:
    """F(θ): the head on the forwards' outputs and θ, or the output named `output`."""
    if gradient.head is None:
        return states[gradient.output]
    arguments = {**point, **states}
    if isinstance(gradient.head, str):
        head = instance.exercise.stage(gradient.head)
        return head.named(head.solve(instance.variant,
                                     **{name: arguments[name] for name in head.inputs}))[
            head.outputs[0]]
    return gradient.head(**{name: arguments[name] for name in _head_arguments(instance,
                                                                               gradient)})


def _parameter_value(point: Mapping[str, Any], parameter: tuple[str, str | None]) -> Any:
    argument, entry = parameter
    value = point.get(argument)
    if entry is not None:
        value = value.get(entry) if isinstance(value, Mapping) else None
    return value


def _moved(point: Mapping[str, Any], parameter: tuple[str, str | None],
           step: np.ndarray) -> dict[str, Any]:
    """θ with step added to one parameter (a copy; the parameter becomes float64)."""
    argument, entry = parameter
    moved = dict(point)
    if entry is None:
        moved[argument] = np.asarray(point[argument], dtype=np.float64) + step
        if np.ndim(point[argument]) == 0:
            moved[argument] = float(moved[argument])
    else:
        moved[argument] = {**point[argument],
                           entry: np.asarray(point[argument][entry], dtype=np.float64) + step}
    return moved


def _role(setup: _Setup, **role) -> dict[str, Any]:
    return {"backward": setup.stage.name, **role}


def _forward_probes(setup: _Setup, forward: Stage) -> list[Probe]:
    probes = [Probe(name=f"gradient check of {setup.stage.name}: {forward.name} at θ",
                    kwargs={name: setup.point[name] for name in forward.inputs},
                    gradient_check=_role(setup, kind="forward", at="θ"))]
    for result, u in setup.directions.items():
        parameter = setup.gradient.parameter(result)
        if parameter[0] not in forward.inputs:
            continue
        for sign in (1, -1):
            moved = _moved(setup.point, parameter, sign * EPS * u)
            probes.append(Probe(
                name=f"gradient check of {setup.stage.name}: {forward.name} at θ "
                     f"{'+' if sign > 0 else '−'} εu ({result})",
                kwargs={name: moved[name] for name in forward.inputs},
                gradient_check=_role(setup, kind="forward", at=result, sign=sign)))
    return probes


def _reference(instance: Instance, point: Mapping[str, Any], forward: Stage) -> dict[str, Any]:
    """The reference's outputs of a forward stage at θ."""
    return forward.named(forward.solve(instance.variant, **{name: copy.deepcopy(point[name])
                                                            for name in forward.inputs}))


def _backward_probes(setup: _Setup, states: Mapping[str, Any], phase: int) -> list[Probe]:
    gradient, probes = setup.gradient, []
    for step, v in enumerate(setup.upstream):
        kwargs = {}
        for name in setup.stage.inputs:
            if name == gradient.upstream:
                kwargs[name] = v
            elif name in states:
                kwargs[name] = states[name]
            elif name in setup.point:
                kwargs[name] = setup.point[name]
            elif name in setup.others:
                kwargs[name] = setup.others[name]
        at = f"the loss at t={step}" if len(setup.upstream) > 1 else "θ"
        probes.append(Probe(
            name=f"gradient check of {setup.stage.name}: at {at}"
                 + (" with your forward's states" if phase == 2 else ""),
            kwargs=kwargs, gradient_check=_role(setup, kind="backward", step=step, phase=phase)))
    return probes


# -- judging -------------------------------------------------------------------------------


def _calls(plan: Mapping[str, list[Probe]], outcomes: Mapping[str, list], name: str,
           backward: str):
    """(probe, outcome or None) of one function's gradient-check calls for `backward`."""
    probes, got = plan.get(name, []), list(outcomes.get(name, []))
    return [(probe, got[index] if index < len(got) else None)
            for index, probe in enumerate(probes)
            if probe.gradient_check is not None and probe.gradient_check["backward"] == backward]


def backward_calls_at_reference(plan: Mapping[str, list[Probe]], outcomes: Mapping[str, list],
                                stage: Stage) -> list[tuple[Probe, Any]]:
    """(probe, outcome or None) of the backward's first round of calls, at the reference's
    states, one per loss step t in order (what `error_map.loss_step_map` reads)."""
    return [(probe, outcome) for probe, outcome in _calls(plan, outcomes, stage.name, stage.name)
            if probe.gradient_check["kind"] == "backward" and probe.gradient_check["phase"] == 1]


def _student_states(setup: _Setup, plan, outcomes) -> dict[str, np.ndarray] | None:
    """The student's forwards' outputs at θ as float64 arrays, or None when unreadable."""
    states = {}
    for forward in setup.forwards:
        at_point = [outcome for probe, outcome in _calls(plan, outcomes, forward.name,
                                                         setup.stage.name)
                    if probe.gradient_check["at"] == "θ"]
        read = _read(at_point[0] if at_point else None)
        if read is None:
            return None
        states.update(read)
    return states


def _read(outcome) -> dict[str, np.ndarray] | None:
    if outcome is None or outcome.error is not None or outcome.outputs is None:
        return None
    try:
        return {name: answer_array(value) for name, value in outcome.outputs.items()}
    except (RejectedAnswer, TypeError):
        return None


def _same_as_reference(setup: _Setup, states: Mapping[str, np.ndarray]) -> bool:
    for forward in setup.forwards:
        for name, expected in _reference(setup.instance, setup.point, forward).items():
            expected = np.asarray(expected, dtype=np.float64)
            got = states.get(name)
            if got is None or got.shape != expected.shape or \
                    not entries_right(got, expected).all():
                return False
    return True


def judge_consistency(instance: Instance, stage: Stage, plan: Mapping[str, list[Probe]],
                      outcomes: Mapping[str, list]) -> Consistency | None:
    """The gradient check's verdict on `stage`, or None when the stage has none. Values
    the student's code returned that the check cannot use make it "not checked", never
    an error of the grader."""
    if stage not in checked_stages(instance) or not _calls(plan, outcomes, stage.name,
                                                           stage.name):
        return None
    try:
        with np.errstate(all="ignore"):
            return _judge(instance, stage, plan, outcomes)
    except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as error:
        return Consistency(NOT_CHECKED, "Gradient check: not made, because what your "
                           f"functions returned could not be used ({type(error).__name__}).")


def _judge(instance: Instance, stage: Stage, plan: Mapping[str, list[Probe]],
           outcomes: Mapping[str, list]) -> Consistency:
    setup = _setup(instance, stage)
    forwards = ", ".join(forward.name for forward in setup.forwards)
    own = f"your own {forwards}"

    def not_checked(why: str) -> Consistency:
        return Consistency(NOT_CHECKED, f"Gradient check: not made, because {why}.")

    at_point, moved = {}, {}
    for forward in setup.forwards:
        for probe, outcome in _calls(plan, outcomes, forward.name, stage.name):
            role = probe.gradient_check
            if outcome is None:
                return not_checked(f"{forward.name} was not run")
            if outcome.error is not None:
                return not_checked(f"{forward.name} raised {outcome.error}")
            if any(lower_precision(value) for value in (outcome.outputs or {}).values()):
                return not_checked(f"{forward.name} computes in float32, which cannot resolve "
                                   "the small steps of finite differences: compute in float64")
            read = _read(outcome)
            if read is None:
                return not_checked(f"{forward.name}'s return value could not be read")
            if not _fits(setup, read, [forward]):
                return not_checked(f"{forward.name} returns outputs of the wrong shape, "
                                   "or NaN or inf")
            if role["at"] == "θ":
                at_point.update(read)
            else:
                moved.setdefault((role["at"], role["sign"]), {})[forward.name] = read
    if not _fits(setup, at_point):
        return not_checked(f"{forwards} returns outputs of the wrong shape, or NaN or inf")
    same = _same_as_reference(setup, at_point)
    backward_calls = [(probe, outcome) for probe, outcome in _calls(plan, outcomes, stage.name,
                                                                    stage.name)
                      if probe.gradient_check["phase"] == (1 if same else 2)]
    if len(backward_calls) != len(setup.upstream) or any(o is None for _, o in backward_calls):
        return not_checked(f"{stage.name} was not called with your forward's states")
    answers = []
    for _, outcome in backward_calls:
        if outcome.error is not None:
            return not_checked(f"{stage.name} raised {outcome.error}")
        answers.append(outcome.outputs or {})
    try:
        value_at_point = np.asarray(_head(instance, setup.gradient, setup.point, at_point),
                                    dtype=np.float64)
    except Exception as error:  # noqa: BLE001 — the student's states do not fit the head
        return not_checked(f"the output of {forwards} does not fit the next layer "
                           f"({type(error).__name__}: {error})")
    wrong: dict[str, int] = {}
    errors: dict[str, float] = {}
    for result, u in setup.directions.items():
        parameter = setup.gradient.parameter(result)
        values = []
        for sign in (1, -1):
            states = dict(at_point)
            for forward in setup.forwards:
                states.update(moved.get((result, sign), {}).get(forward.name, {}))
            point = _moved(setup.point, parameter, sign * EPS * u)
            try:
                values.append(np.asarray(_head(instance, setup.gradient, point, states),
                                         dtype=np.float64))
            except Exception as error:  # noqa: BLE001
                return not_checked(f"the output of {forwards} does not fit the next layer "
                                   f"({type(error).__name__}: {error})")
        difference = (values[0] - values[1]) / (2 * EPS)
        for step, (v, answer) in enumerate(zip(setup.upstream, answers, strict=True)):
            got = answer.get(result)
            if got is None:
                continue
            try:
                array = answer_array(got)
            except RejectedAnswer:
                return not_checked(f"{stage.name}'s {result} could not be read as numbers")
            if array.shape != u.shape:
                return not_checked(f"{stage.name}'s {result} has shape {array.shape}, "
                                   f"not {u.shape}")
            if any(lower_precision(a) for a in (got,)):
                return not_checked(f"{stage.name} computes in float32: compute in float64")
            weights = 1.0 if v is None else v
            numeric = float(np.sum(weights * difference))
            analytic = float(np.sum(array * u))
            scale = float(np.sum(np.abs(weights * value_at_point)))
            gap = abs(analytic - numeric)
            if not np.isfinite(analytic):
                return not_checked(f"{stage.name}'s {result} contains NaN or inf")
            if not np.isfinite(numeric):
                return not_checked(f"{forwards} returns NaN or inf near θ")
            errors[result] = max(errors.get(result, 0.0),
                                 gap / max(abs(analytic), abs(numeric), 1e-300))
            if gap > RTOL * max(abs(analytic), abs(numeric)) + ATOL_FACTOR * scale:
                wrong.setdefault(result, step)
                break
    if not wrong:
        return Consistency(CONSISTENT,
                           f"Gradient check: your {stage.name} is the exact derivative of {own} "
                           "(finite differences of your forward agree with it for every "
                           "parameter).", errors=errors)
    names = tuple(result for result in setup.directions if result in wrong)
    first = min(wrong.values())
    timed = len(setup.upstream) > 1
    where = f", first for the loss at t={first}" if timed else ""
    return Consistency(INCONSISTENT,
                       f"Gradient check: your {stage.name} disagrees with finite differences "
                       f"of {own} at {', '.join(names)}{where}.",
                       parameters=names, first_step=first if timed else None, errors=errors)


def with_followups(instance: Instance, plan: Mapping[str, list[Probe]],
                   outcomes: Mapping[str, list]) -> dict[str, list[Probe]]:
    """`plan` with the second round of gradient-check calls appended where outcomes show
    the student's forward differs from the reference's (those calls' outcomes, when they
    were run, follow the first round's in `outcomes`)."""
    extended = {name: list(probes) for name, probes in plan.items()}
    already = {name for name, probes in plan.items()
               if any(p.gradient_check and p.gradient_check.get("phase") == 2 for p in probes)}
    for name, probes in followup_probes(instance, plan, outcomes).items():
        if name not in already:
            extended[name] += probes
    return extended


def reference_pairs(probes: list[Probe], outcomes: list) -> tuple[list[Probe], list]:
    """The probes compared with the reference and their outcomes (gradient checks left out)."""
    kept = [(probe, outcome) for probe, outcome in zip(probes, outcomes, strict=False)
            if probe.gradient_check is None]
    return [p for p, _ in kept], [o for _, o in kept]


__all__ = ["CONSISTENT", "INCONSISTENT", "NOT_CHECKED", "Consistency",
           "backward_calls_at_reference", "checked_stages",
           "followup_probes", "gradient_check_probes", "judge_consistency", "reference_pairs",
           "with_followups"]
