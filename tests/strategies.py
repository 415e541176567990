"""Shared hypothesis strategies: random models, parameters, data and initial states.

    from strategies import problems, models
    @given(problems())                     # any kind, any valid combination
    def test_something(problem): ...
    @given(problems(kinds=("elman",), activations=("tanh",)))

A `Problem` bundles a reference model with float64 parameters, inputs x
(N, T, n_in), targets d of the right kind for the objective (ce: class indices
(N, T) or one-hot (N, T, k); bce: in [0, 1]; mse: real) and explicit initial
states. Sizes are 1..6, T 1..8, N 1..3 by default.

Randomness: hypothesis draws the structure (kind, activation, sizes, bias …)
and a seed; the arrays come from numpy's generator with that seed. Weights are
N(0, gain²/fan_in) with gain in [0.5, 1.2] and inputs N(0, 1), so hidden and
output pre-activations are O(1).

Two conditions are enforced by redrawing the arrays (from the same seeded
generator), with the pre-activations taken from the independent forward in
`numpy_oracle`, not from the reference:
- relu kinks are avoided, not skipped: every hidden pre-activation is at least
  `KINK_MARGIN` away from 0, so a finite-difference step of 1e-5 cannot cross
  a kink;
- outputs do not saturate: a bounded output's pre-activations stay within
  `OUTPUT_SPREAD` (|o| for sigmoid and tanh, max o − min o per row for
  softmax), so 1 − y ≥ 4.5e-5 and a textbook log(1 − y) loses no more than
  ~1e-11 to rounding. (relu and identity states are unbounded and would
  otherwise, now and then, push a logit gap past 30.) Saturated outputs have
  tests of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from numpy_oracle import copies, forward, input_uses

import reference as ref

KINDS = ("elman", "stacked", "bidirectional")
MODEL_CLASSES = {"elman": ref.Elman, "stacked": ref.Stacked, "bidirectional": ref.Bidirectional}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
# Valid output × objective: mse with any output, bce with an output in (0, 1), ce with softmax.
COMBINATIONS = (
    ("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("softmax", "mse"),
    ("sigmoid", "bce"), ("softmax", "bce"),
    ("softmax", "ce"),
)
INVALID_COMBINATIONS = (
    ("linear", "bce"), ("tanh", "bce"),
    ("linear", "ce"), ("sigmoid", "ce"), ("tanh", "ce"),
)
KINK_MARGIN = 1e-3
OUTPUT_SPREAD = 10.0
STATE_KEYS = {"elman": ("s0",), "stacked": ("s0", "z0"), "bidirectional": ("f0", "r0")}


def kind_of(model) -> str:
    for kind, cls in MODEL_CLASSES.items():
        if type(model) is cls:
            return kind
    raise AssertionError(type(model))


@dataclass(frozen=True)
class Problem:
    """A model with parameters, inputs, targets and initial states."""

    model: object
    params: dict
    x: np.ndarray
    d: np.ndarray
    states: dict
    gain: float

    @property
    def kind(self) -> str:
        return kind_of(self.model)

    @property
    def N(self) -> int:
        return self.x.shape[0]

    @property
    def T(self) -> int:
        return self.x.shape[1]

    @property
    def d_dense(self) -> np.ndarray:
        """Targets as (N, T, k) floats (class indices one-hot encoded here)."""
        if self.d.ndim == 2:
            return np.eye(self.model.n_out)[self.d]
        return self.d

    def grad(self, **kwargs) -> dict:
        return self.model.grad(self.params, self.x, self.d, **self.states, **kwargs)

    def loss(self, params=None, x=None, states=None, **kwargs) -> float:
        return self.model.loss(
            self.params if params is None else params,
            self.x if x is None else x,
            self.d,
            **(self.states if states is None else states),
            **kwargs,
        )

    def forward(self):
        return self.model.forward(self.params, self.x, **self.states)

    def inputs(self) -> dict:
        """Everything `grad` differentiates: parameters, "x" and the initial states."""
        return {**self.params, "x": self.x, **self.states}


@st.composite
def models(draw, kinds=KINDS, activations=ACTIVATIONS, combinations=COMBINATIONS,
           bias=None, max_size=6, single_class_softmax=True):
    """A reference model of one of `kinds` with a valid activation × output × loss.

    single_class_softmax=False keeps softmax outputs at two classes or more
    (over one class y ≡ 1 and every gradient is exactly zero).
    """
    kind = draw(st.sampled_from(kinds))
    activation = draw(st.sampled_from(activations))
    output, objective = draw(st.sampled_from(combinations))
    size = st.integers(1, max_size)
    # softmax over one class is constantly 1: bce against it is infinite, so
    # softmax + bce needs at least two outputs.
    one_class_ok = output != "softmax" or (single_class_softmax and objective != "bce")
    n_out = draw(st.integers(1 if one_class_ok else 2, max_size))
    kwargs = dict(
        n_in=draw(size), n_hidden=draw(size), n_out=n_out, activation=activation,
        output=output, objective=objective,
        bias=draw(st.booleans()) if bias is None else bias,
    )
    if kind == "stacked":
        kwargs["n_hidden2"] = draw(st.one_of(st.none(), size))
    return MODEL_CLASSES[kind](**kwargs)


RECURRENT_KEYS = ("W", "W1", "W2", "Wf", "Wb")


def random_params(model, rng: np.random.Generator, gain: float) -> dict:
    """Weights N(0, gain²/fan_in), biases N(0, 0.25).

    With an unbounded φ (identity, relu) a recurrent matrix of spectral norm
    above 1 lets the states grow geometrically over T steps, which would
    saturate the outputs; those are scaled down to spectral norm 0.9.
    """
    params = {
        key: rng.normal(0.0, 0.5, shape) if len(shape) == 1
        else rng.normal(0.0, gain / np.sqrt(shape[0]), shape)
        for key, shape in model.param_shapes().items()
    }
    if model.activation in ("identity", "relu"):
        for key in RECURRENT_KEYS:
            if key in params:
                params[key] *= min(1.0, 0.9 / np.linalg.norm(params[key], 2))
    return params


def random_state(activation: str, rng: np.random.Generator, shape) -> np.ndarray:
    """An initial state in the range of φ."""
    if activation == "tanh":
        return rng.uniform(-0.9, 0.9, shape)
    if activation == "sigmoid":
        return rng.uniform(0.05, 0.95, shape)
    if activation == "relu":
        return rng.uniform(0.0, 1.0, shape)
    return rng.normal(0.0, 1.0, shape)


def random_targets(model, rng: np.random.Generator, N: int, T: int, one_hot: bool):
    k = model.n_out
    if model.objective == "ce":
        labels = rng.integers(0, k, (N, T))
        return np.eye(k)[labels] if one_hot else labels
    if model.objective == "bce":
        d = rng.uniform(0.0, 1.0, (N, T, k))
        hard = rng.random((N, T, k)) < 0.3          # some exact 0/1 targets too
        return np.where(hard, np.round(d), d)
    return rng.normal(0.0, 1.0, (N, T, k))


def well_conditioned(problem: Problem) -> bool:
    """No hidden pre-activation near a relu kink, no saturated output (see above)."""
    m = problem.model
    out = forward(problem.kind, m, copies(problem.params, problem.T),
                  input_uses(problem.kind, problem.x), problem.states)
    if m.activation == "relu":
        margin = min(np.abs(a).min() for key, a in out.items() if key.startswith("a_"))
        if margin < KINK_MARGIN:
            return False
    o = out["o"]
    if m.output == "softmax":
        return bool((o.max(axis=-1) - o.min(axis=-1)).max() <= OUTPUT_SPREAD)
    if m.output in ("sigmoid", "tanh"):
        return bool(np.abs(o).max() <= OUTPUT_SPREAD)
    return True


def draw_arrays(model, rng, N, T, gain, one_hot, zero_states):
    params = random_params(model, rng, gain)
    x = rng.normal(0.0, 1.0, (N, T, model.n_in))
    d = random_targets(model, rng, N, T, one_hot)
    states = {
        name: np.zeros((N, width)) if zero_states
        else random_state(model.activation, rng, (N, width))
        for name, width in model.initial_state_sizes().items()
    }
    return Problem(model=model, params=params, x=x, d=d, states=states, gain=gain)


@st.composite
def problems(draw, kinds=KINDS, activations=ACTIVATIONS, combinations=COMBINATIONS,
             bias=None, max_size=6, T=None, N=None, model_strategy=None,
             single_class_softmax=True):
    """A `Problem` (model, params, x, d, initial states): no relu kink, no saturation."""
    model = draw(model_strategy if model_strategy is not None
                 else models(kinds, activations, combinations, bias, max_size,
                             single_class_softmax))
    T = draw(st.integers(1, 8) if T is None else T)
    N = draw(st.integers(1, 3) if N is None else N)
    gain = draw(st.floats(0.5, 1.2))
    one_hot = draw(st.booleans())
    zero_states = draw(st.integers(0, 3)) == 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for _ in range(50):
        problem = draw_arrays(model, rng, N, T, gain, one_hot, zero_states)
        if well_conditioned(problem):
            return problem
    assume(False)   # practically never reached: 50 draws in a row rejected


def relative_error(a, b, floor: float) -> float:
    """‖a − b‖ / max(‖a‖ + ‖b‖, floor), one number per array."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), floor))


def max_relative_error(got: dict, want: dict, floor: float) -> tuple[float, str]:
    """The largest per-key relative error and its key; keys must match."""
    assert set(got) == set(want), (sorted(got), sorted(want))
    errors = {key: relative_error(got[key], want[key], floor) for key in want}
    key = max(errors, key=errors.get)
    return errors[key], key


def assert_grads_close(got: dict, want: dict, rtol: float, floor: float, what: str = "") -> None:
    """Every key's norm-relative error ‖got − want‖ / max(‖got‖ + ‖want‖, floor) ≤ rtol.

    A per-key norm rather than elementwise: an entry whose true value is ~0
    (or a key that is exactly zero, e.g. W when T = 1 and s0 = 0, or every
    gradient when softmax has a single class) has no meaningful elementwise
    relative error, while an error that matters shows up in the key's norm.
    `floor` is the absolute scale below which a key counts as zero: a key
    smaller than that is held to an absolute error of rtol·floor.
    """
    assert set(got) == set(want), f"{what}: keys {sorted(got)} != {sorted(want)}"
    errors = {key: relative_error(got[key], want[key], floor) for key in want}
    bad = {key: err for key, err in errors.items() if not err <= rtol}
    assert not bad, (
        f"{what}: relative error above {rtol:g} for "
        + ", ".join(f"{key} ({err:.2e})" for key, err in bad.items())
        + "\n" + "\n".join(f"{key}: got {got[key]!r}\n  want {want[key]!r}" for key in bad)
    )
