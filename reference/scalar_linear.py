"""Seed 001's scalar linear RNN and its closed-form gradients.

With identity activations g = g* = I (seed 001) the network is

    a_t = v a_{t-1} + u x_t + b_a,    ŷ_t = w_y a_t + b_y,

and unrolling the recursion turns every derivative into an explicit sum.
With z_t = ∂L/∂ŷ_t (the loss's derivative at step t) and steps counted from 1
as in the notes, a_0 the initial state:

    ∂L/∂w_y = Σ_t z_t a_t                                   (1)
    ∂L/∂b_y = Σ_t z_t                                       (2)
    ∂L/∂v   = Σ_t z_t w_y Σ_{j=1}^{t} v^{j-1} a_{t-j}        (3)
    ∂L/∂u   = Σ_t z_t w_y Σ_{j=0}^{t-1} v^j x_{t-j}          (4)
    ∂L/∂b_a = Σ_t z_t w_y Σ_{j=0}^{t-1} v^j                  (5)
    ∂L/∂a_0 = Σ_t z_t w_y v^t

The notes' (5) keeps the explicit term ∂⁺a_t/∂b_a = 1 alone, which is the
total derivative only when v = 0; here the implicit terms are kept.

This module does not use the BPTT code, so it is an independent oracle for it:
the same network is `Elman(1, 1, 1, activation="identity", output="linear")`
with U = [[u]], W = [[v]], b = [b_a], V = [[w_y]], c = [b_y].
"""

from __future__ import annotations

import numpy as np


def scalar_linear_states(u, v, b_a, x, a0=0.0) -> np.ndarray:
    """a_t = v a_{t-1} + u x_t + b_a for x (N, T); returns a (N, T)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.empty_like(x)
    a_prev = np.broadcast_to(np.asarray(a0, dtype=np.float64), x.shape[:1])
    for t in range(x.shape[1]):
        a_prev = a[:, t] = v * a_prev + u * x[:, t] + b_a
    return a


def scalar_linear_closed_forms(u, v, b_a, w_y, x, z, a0=0.0) -> dict[str, float]:
    """The sums (1)–(5) for inputs x (N, T) and loss derivatives z = ∂L/∂ŷ (N, T).

    Returns {"u", "v", "b_a", "w_y", "b_y", "a0"}; "a0" is per sequence (N,).
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    N, T = x.shape
    a = scalar_linear_states(u, v, b_a, x, a0)
    # a_before[:, t] is a_{t-1} in 0-based steps, with a_{-1} = a0.
    a_before = np.concatenate([np.broadcast_to(np.asarray(a0, float), (N,))[:, None], a], axis=1)
    dv = du = db_a = 0.0
    for t in range(T):                       # 0-based t is step t+1 of the notes
        a_terms = sum(v ** (j - 1) * a_before[:, t + 1 - j] for j in range(1, t + 2))
        dv += np.sum(z[:, t] * w_y * a_terms)
        du += np.sum(z[:, t] * w_y * sum(v ** j * x[:, t - j] for j in range(t + 1)))
        db_a += np.sum(z[:, t] * w_y * sum(v ** j for j in range(t + 1)))
    return {
        "w_y": float(np.sum(z * a)),
        "b_y": float(np.sum(z)),
        "v": float(dv),
        "u": float(du),
        "b_a": float(db_a),
        "a0": (z * w_y * v ** np.arange(1, T + 1)).sum(axis=1),
    }
