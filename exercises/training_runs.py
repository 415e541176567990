"""Training stages, shared by the networks: k updates driven by the student's own functions.

A training stage's function takes the weights θ_0, a batch (x, d), its initial
states, the rate α and the number of updates k, and runs

    θ_{i+1} = θ_i − α ∇_θ L(θ_i),   i = 0 … k−1,

each gradient from the student's own forward and backward functions, each
update by their own update function. It returns the weights after every
update, each weight stacked on a first axis of length k (U: (k, n, d), …), so
that the grader compares them with the reference's trajectory update by update
and names the first update that departs (`Probe.step_label = "update"`).

The mistakes of a training loop, each departing at its own update:

    update-wrong-sign        θ + α∇ (from update 1)
    update-applied-twice     θ − 2α∇ (from update 1)
    update-weight-skipped    the biases keep their initial values (from update 1)
    update-not-carried-over  every update starts again from θ_0 (from update 2)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

import reference as ref
from exercises.spec import Bug

RULE = r"\theta_{i+1} = \theta_i - \alpha \nabla_\theta L(\theta_i)"
CARRIED = RULE + r",\ \text{the gradient taken at the weights the last update left}"


def stacked(steps: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The weights after every update, each key stacked on a first axis: {key: (k, …)}."""
    return {key: np.stack([step[key] for step in steps]) for key in steps[0]}


def trajectory(model, params, x, d, lr, k, **initial) -> dict[str, np.ndarray]:
    """The reference's weights after each of k updates, stacked (`reference.train_steps`).

    The run that `descending_rate` accepted for a probe is these very updates: it is
    taken from there (`_RUNS`) rather than run again when the probe is judged."""
    steps = _RUNS.get(_run_key(model, params, x, d, lr, k, initial))
    if steps is None:
        steps = ref.train_steps(model, params, x, d, lr, k, **initial).params
    return stacked(steps)


def descending_rate(model, params, x, d, lr: float, k: int, **initial) -> float:
    """The first of α, α/2, α/4, … at which each of the k updates brings the loss down.

    A probe's data and sizes may make the variant's α too large for gradient descent
    (a sum over T steps of an identity network's squared error); a training run
    whose weights blow up tests nothing and plots nothing, so its rate is halved.
    """
    loss = model.loss(params, x, d, **initial)
    for _ in range(30):
        steps = _descending_steps(model, params, x, d, lr, k, loss, **initial)
        if steps is not None:
            if len(_RUNS) >= MAX_RUNS:
                del _RUNS[next(iter(_RUNS))]
            _RUNS[_run_key(model, params, x, d, lr, k, initial)] = steps
            return lr
        lr /= 2
    raise ValueError("no rate brings this run's loss down")


def _descending_steps(model, params, x, d, lr: float, k: int, loss: float,
                      **initial) -> list[dict] | None:
    """The weights after each of the k updates of `reference.descent` when each brings
    the loss below the last, else None (found at the first that does not)."""
    steps = []
    with np.errstate(all="ignore"):
        try:
            for weights, now in itertools.islice(ref.descent(model, params, x, d, lr,
                                                             **initial), k):
                if not now < loss:
                    return None
                steps.append(weights)
                loss = now
        except ValueError:                          # NaN or inf weights
            return None
    return steps


MAX_RUNS = 64
_RUNS: dict[tuple, list[dict]] = {}    # the last accepted runs, by everything that made them


def _run_key(model, params, x, d, lr, k, initial) -> tuple:
    """A run's inputs as a key: the model (a frozen dataclass), α, k and every array's
    dtype, shape and bytes, so that only the very same run is found."""
    def exactly(value):
        value = np.asarray(value)
        return value.dtype.str, value.shape, value.tobytes()

    return (model, lr, k, tuple((key, exactly(value)) for key, value in params.items()),
            exactly(x), exactly(d), tuple((name, exactly(value))
                                          for name, value in sorted(initial.items())))


def buggy_trajectory(model, params, x, d, lr, k, *, bug: str, biases: tuple[str, ...],
                     **initial) -> dict[str, np.ndarray]:
    """The trajectory of a training loop with one mistake of the module's docstring."""
    start = {key: np.asarray(value, dtype=np.float64) for key, value in params.items()}
    step = {"update-wrong-sign": -1.0, "update-applied-twice": 2.0}.get(bug, 1.0)
    params, steps = dict(start), []
    for _ in range(k):
        at = start if bug == "update-not-carried-over" else params
        if not all(np.isfinite(value).all() for value in at.values()):
            params = {key: np.full_like(value, np.nan) for key, value in at.items()}
        else:   # a climbing run may overflow: its weights become inf, then NaN
            with np.errstate(all="ignore"):
                grads = model.grad(at, x, d, **initial)
                params = {key: at[key] if bug == "update-weight-skipped" and key in biases
                          else at[key] - step * lr * grads[key] for key in at}
        steps.append(params)
    return stacked(steps)


def wrong_update(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float,
                 *, bug: str, biases: tuple[str, ...]) -> dict[str, np.ndarray]:
    """θ − α ∇θ with one of the update stage's mistakes: the sign flipped
    ("update-wrong-sign"), α applied twice ("update-applied-twice"), or `biases` left
    as they were ("update-weight-skipped")."""
    if bug == "update-weight-skipped":
        return {key: params[key] if key in biases else params[key] - lr * grads[key]
                for key in params}
    step = {"update-wrong-sign": -1.0, "update-applied-twice": 2.0}[bug]
    return {key: params[key] - step * lr * grads[key] for key in params}


def training_bugs(implementation: Callable[..., Any], weights: str,
                  biases: str) -> tuple[Bug, ...]:
    """The four bugs of a training loop; `weights` and `biases` name them in the notation."""
    every = RULE + rf"\ \text{{for every weight }} {weights}\text{{, the biases }} {biases}"
    corrections = {"update-wrong-sign": RULE, "update-applied-twice": RULE,
                   "update-weight-skipped": every + r"\text{ too}",
                   "update-not-carried-over": CARRIED}
    return tuple(Bug(misconception=bug, implementation=partial(implementation, bug=bug),
                     correction=correction) for bug, correction in corrections.items())


def as_weights(outputs: Mapping[str, Any], step: int) -> dict[str, np.ndarray]:
    """The weights after update `step + 1`, from a trajectory's stacked outputs."""
    return {key: np.asarray(value, dtype=np.float64)[step] for key, value in outputs.items()}

