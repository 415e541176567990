"""Hidden activations φ and output activations g.

A hidden activation is applied elementwise, s = φ(a), and its derivative is
written, as the lecture notes write it, in terms of the *state* s rather than
the pre-activation a:

    tanh      φ'(a) = 1 − s²
    sigmoid   φ'(a) = s (1 − s)
    relu      φ'(a) = [s > 0]
    identity  φ'(a) = 1

An output activation maps the output pre-activation o_t (..., k) to y_t.
Three are *scalar* (seed 002, case 2: y_i depends on o_i only, the Jacobian
∂y/∂o is diagonal) and softmax is a *vector* activation (case 1: every y_j
depends on every o_i, the Jacobian is full):

    ∂y_j/∂o_i = y_j (δ_ij − y_i)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^(−a)), evaluated without overflow for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(o: np.ndarray) -> np.ndarray:
    """softmax(o)_j = e^(o_j) / Σ_i e^(o_i) over the last axis."""
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(o: np.ndarray) -> np.ndarray:
    """log softmax(o) over the last axis, stable for large |o|."""
    shifted = o - o.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class HiddenActivation:
    """An elementwise φ with its derivative expressed through the state s = φ(a)."""

    name: str
    apply: Callable[[np.ndarray], np.ndarray]
    derivative_from_state: Callable[[np.ndarray], np.ndarray]


HIDDEN: dict[str, HiddenActivation] = {
    "tanh": HiddenActivation("tanh", np.tanh, lambda s: 1.0 - s * s),
    "sigmoid": HiddenActivation("sigmoid", sigmoid, lambda s: s * (1.0 - s)),
    "relu": HiddenActivation(
        "relu", lambda a: np.maximum(a, 0.0), lambda s: (s > 0).astype(np.float64)
    ),
    "identity": HiddenActivation("identity", lambda a: a.copy(), np.ones_like),
}


@dataclass(frozen=True)
class OutputActivation:
    """y = g(o) over the last axis, with its vector–Jacobian product.

    `vjp(y, dy)` returns dL/do given y = g(o) and dy = dL/dy, both (..., k).
    `elementwise` is True for the scalar case (diagonal Jacobian).
    `open_unit_interval` is True when every y_k lies in (0, 1).
    """

    name: str
    apply: Callable[[np.ndarray], np.ndarray]
    vjp: Callable[[np.ndarray, np.ndarray], np.ndarray]
    elementwise: bool
    open_unit_interval: bool


def _softmax_vjp(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dL/do_i = Σ_j dL/dy_j · y_j (δ_ij − y_i) = y_i (dL/dy_i − Σ_j dL/dy_j y_j)."""
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


OUTPUT: dict[str, OutputActivation] = {
    "linear": OutputActivation("linear", lambda o: o.copy(), lambda y, dy: dy, True, False),
    "sigmoid": OutputActivation("sigmoid", sigmoid, lambda y, dy: dy * y * (1.0 - y), True, True),
    "tanh": OutputActivation("tanh", np.tanh, lambda y, dy: dy * (1.0 - y * y), True, False),
    "softmax": OutputActivation("softmax", softmax, _softmax_vjp, False, True),
}


def softmax_jacobian(y: np.ndarray) -> np.ndarray:
    """The full Jacobian J[..., j, i] = ∂y_j/∂o_i = y_j (δ_ij − y_i), shape (..., k, k)."""
    return y[..., :, None] * (np.eye(y.shape[-1]) - y[..., None, :])


def hidden(name: str) -> HiddenActivation:
    """Look up a hidden activation φ by name, refusing unknown names."""
    try:
        return HIDDEN[name]
    except KeyError:
        raise ValueError(
            f"unknown hidden activation {name!r}; expected one of {sorted(HIDDEN)}"
        ) from None


def output(name: str) -> OutputActivation:
    """Look up an output activation g by name, refusing unknown names."""
    try:
        return OUTPUT[name]
    except KeyError:
        raise ValueError(
            f"unknown output activation {name!r}; expected one of {sorted(OUTPUT)}"
        ) from None
