"""Where in time and in which output a stage's answer departs from the reference: plain
JSON for the feedback page's plots (`grader.reports.plots`).

For one probe, each output's relative error

    e = |got − expected| / max(|got| + |expected|, 1e-12)      ∈ [0, 1]

is 0 where the entry is within tolerance (`checks.entries_right`) and 1 where
it is not finite. `error_map` reduces it to the largest e per time step for
an output with a time axis (a row of T cells: a bug that starts at one step
and spreads back through the recurrence shows as a band), and to one cell for
an output without one (a parameter gradient dW, summed over time).
`step_series` keeps an output that is one number per step (N, T), such as
‖∂s_{T−1}/∂s_k‖ against k, to be drawn as curves: the student's and the
reference's.

`loss_step_map` reads the graded gradient check's calls of a backward stage
(`grader.checking.consistency`): at the reference's states θ, B is called once
per step t with an upstream gradient v_t that is non-zero at step t only, so
its answer for a parameter p is ∂L_t/∂p, the gradient of the loss at step t
alone. The reference's backward on the same arguments gives the exact one, and

    E[p, t] = max over the entries of p of e(B_student(v_t)_p, B_reference(v_t)_p)

is a grid of parameters (dU, dW, db, dV, …, as the student's function names its
outputs) by the step t of the loss. A backward that is right for the losses
before step k and wrong from k on (a BPTT truncated or one step short, a
recurrent term dropped) shows as a band of columns from k; a wrong parameter
alone, as a row.

All of them only read answers that `answer_array` accepts with the reference's
shape; anything else is left out, or is a cell None in `loss_step_map` (the
message already says what is wrong).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from exercises.spec import Probe, Stage, Variant
from grader.checking.checks import RejectedAnswer, answer_array, entries_right

MAX_STEPS = 200          # a longer time axis is not drawn cell by cell
MAX_SERIES = 3           # sequences of a batch drawn as curves


def relative_errors(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """e per entry (see the module docstring): 0 where right, 1 where not finite."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.maximum(np.abs(got) + np.abs(expected), 1e-12)
        error = np.abs(got - expected) / scale
    error = np.where(np.isfinite(error), np.minimum(error, 1.0), 1.0)
    return np.where(entries_right(got, expected), 0.0, error)


def _readable(value: Any, expected: np.ndarray) -> np.ndarray | None:
    try:
        array = answer_array(value)
    except RejectedAnswer:
        return None
    return array if array.shape == expected.shape else None


def error_map(probe: Probe, got: Mapping[str, Any] | None,
              expected: Mapping[str, Any]) -> dict[str, Any] | None:
    """{"probe", "steps", "rows": [{"output", "per_step" | "overall"}]} for one probe's
    outputs, or None when no output can be compared or none has a time axis."""
    if got is None:
        return None
    rows, steps = [], None
    for name, value in expected.items():
        if value is None:
            continue
        reference = np.asarray(value, dtype=np.float64)
        answer = _readable(got.get(name), reference)
        if answer is None:
            continue
        error = relative_errors(answer, reference)
        axis = probe.time_axis.get(name)
        if axis is not None and reference.ndim > axis and 0 < reference.shape[axis] <= MAX_STEPS:
            per_step = np.moveaxis(error, axis, 0).reshape(reference.shape[axis], -1).max(axis=1)
            steps = steps or reference.shape[axis]
            if reference.shape[axis] == steps:
                rows.append({"output": name, "per_step": per_step.tolist()})
                continue
        rows.append({"output": name, "overall": float(error.max(initial=0.0))})
    if steps is None or not rows:
        return None
    return {"probe": probe.name, "steps": steps, "rows": rows}


def step_series(probe: Probe, got: Mapping[str, Any] | None,
                expected: Mapping[str, Any]) -> dict[str, Any] | None:
    """{"probe", "output", "student": [[…T]…], "reference": [[…T]…]} for the first output
    that is one number per time step ((N, T) or (T,)), or None."""
    if got is None:
        return None
    for name, axis in probe.time_axis.items():
        value = expected.get(name)
        if value is None:
            continue
        reference = np.asarray(value, dtype=np.float64)
        if reference.ndim not in (1, 2) or axis != reference.ndim - 1:
            continue
        answer = _readable(got.get(name), reference)
        if answer is None or reference.shape[-1] > MAX_STEPS:
            continue
        rows = np.atleast_2d(reference)[:MAX_SERIES]
        theirs = np.atleast_2d(answer)[:MAX_SERIES]
        return {"probe": probe.name, "output": name, "student": theirs.tolist(),
                "reference": rows.tolist()}
    return None


def loss_step_map(stage: Stage, variant: Variant,
                  calls: Sequence[tuple[Probe, Any]]) -> dict[str, Any] | None:
    """{"probe", "steps", "rows": [{"parameter", "per_step": [E[p, 0], …, E[p, T−1]]}]}
    from a backward stage's gradient-check calls at the reference's states, one per loss
    step t in order, as (probe, outcome); None when there are fewer than two steps or
    more than MAX_STEPS. A cell is None where the call raised or its answer for p could
    not be read with the reference's shape."""
    if not 1 < len(calls) <= MAX_STEPS or stage.gradient_of is None:
        return None
    parameters = [name for name in stage.gradient_of.wrt if name in stage.outputs]
    cells: dict[str, list[float | None]] = {name: [] for name in parameters}
    for probe, outcome in calls:
        expected = stage.named(stage.solve(probe.variant or variant,
                                           **copy.deepcopy(dict(probe.kwargs))))
        got = None if outcome is None or outcome.error is not None else outcome.outputs
        for name in parameters:
            if expected.get(name) is None:
                cells.pop(name, None)            # a bias gradient in a variant without bias
                continue
            if name not in cells:
                continue
            reference = np.asarray(expected[name], dtype=np.float64)
            answer = None if got is None else _readable(got.get(name), reference)
            cells[name].append(None if answer is None
                               else float(relative_errors(answer, reference).max(initial=0.0)))
    rows = [{"parameter": name, "per_step": cells[name]} for name in parameters
            if name in cells]
    if not rows:
        return None
    return {"probe": f"gradient check of {stage.name}", "steps": len(calls), "rows": rows}
