"""Seed 004's ordered network: the explicit (∂⁺) and implicit derivatives of a state by W.

In s_t = φ(x_t U + s_{t-1} W + b) the state s_t depends on W directly and through
s_{t-1}, which depends on W too. Seed 004 splits the total derivative into

    ∂s_t/∂W = ∂⁺s_t/∂W                      explicit: s_{t-1} held constant
            + ∂s_t/∂s_{t-1} ∂s_{t-1}/∂W      implicit: every path through earlier states

and, unrolled, ∂s_t/∂W = Σ_{k ≤ t} ∂s_t/∂s_k ∂⁺s_k/∂W, so that
∂L_t/∂W = ∂L_t/∂s_t Σ_{k ≤ t} ∂s_t/∂s_k ∂⁺s_k/∂W: BPTT.

A derivative of a state (d,) by W (d, d) is a (d, d, d) tensor, one per sequence
of the batch:

    D[n, i, j, k] = ∂s_{t,i}/∂W_{jk}          (the state's index first, then W's)

With row vectors, a_t = x_t U + s_{t-1} W + b, so ∂a_{t,i}/∂W_{jk} = s_{t-1,j} [i = k]
and ∂s_{t,i}/∂s_{t-1,m} = φ'(a_{t,i}) W_{mi}. The initial state s0 is a constant
(seed 004: "s_0 is a constant starting state"): ∂s0/∂W = 0.

Shapes: s0 (N, d), s (N, T, d), W (d, d); results (N, d, d, d) per step,
(N, T, d, d, d) for every step. φ' is written through the state (`activations`).
"""

from __future__ import annotations

import numpy as np

from reference.activations import HiddenActivation


def explicit_state_derivative(s_prev, s_t, activation: HiddenActivation) -> np.ndarray:
    """∂⁺s_t/∂W, s_{t-1} held constant: D[n, i, j, k] = φ'(a_{t,i}) s_{t-1,j} [i = k].

    s_prev (N, d) the state s_{t-1}, s_t (N, d). Returns (N, d, d, d).
    """
    dphi = activation.derivative_from_state(s_t)                       # (N, d), index i
    d = s_t.shape[-1]
    return dphi[:, :, None, None] * s_prev[:, None, :, None] * np.eye(d)[None, :, None, :]


def implicit_state_derivative(s_t, W, ds_prev_dW, activation: HiddenActivation) -> np.ndarray:
    """∂s_t/∂s_{t-1} · ∂s_{t-1}/∂W: Σ_m φ'(a_{t,i}) W_{mi} P[n, m, j, k].

    s_t (N, d), W (d, d), ds_prev_dW = P (N, d, d, d) the total derivative of s_{t-1}.
    Returns (N, d, d, d).
    """
    dphi = activation.derivative_from_state(s_t)
    return dphi[:, :, None, None] * np.einsum("mi,nmjk->nijk", W, ds_prev_dW)


def total_state_derivatives(s0, s, W, activation: HiddenActivation) -> np.ndarray:
    """∂s_t/∂W for every t, by seed 004's recursion explicit + implicit from ∂s0/∂W = 0.

    s0 (N, d), s (N, T, d), W (d, d). Returns (N, T, d, d, d).
    """
    N, T, d = s.shape
    total = np.zeros((N, T, d, d, d))
    previous, ds_prev_dW = s0, np.zeros((N, d, d, d))
    for t in range(T):
        ds_prev_dW = total[:, t] = (
            explicit_state_derivative(previous, s[:, t], activation)
            + implicit_state_derivative(s[:, t], W, ds_prev_dW, activation))
        previous = s[:, t]
    return total


def loss_gradient_by_state_derivatives(dL_ds, s0, s, W, activation: HiddenActivation):
    """∂L/∂W = Σ_n Σ_t Σ_i ∂L_t/∂s_{t,i} ∂s_{t,i}/∂W, with dL_ds (N, T, d) = ∂L_t/∂s_t.

    Forward mode through the total derivatives: the same number BPTT gets backwards.
    Returns (d, d).
    """
    return np.einsum("nti,ntijk->jk", dL_ds, total_state_derivatives(s0, s, W, activation))
