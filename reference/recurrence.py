"""One recurrent layer s_t = φ(x_t U + s_{t-1} W + b), forward and back through time.

Every network of the reference is built from this layer: Elman is one layer,
the two-layer network stacks two (the second one's input is the first one's
state), the bidirectional network runs a second layer on the reversed sequence.

Shapes: x (N, T, n), s (N, T, d), U (n, d), W (d, d), b (d,).

Backpropagation through time with a horizon
-------------------------------------------
DESIGN.md defines the truncated gradient with horizon k as

    Σ_t Σ_{τ = t−k+1}^{t} ∂E_t/∂θ_τ

where θ_τ is the use of a parameter at step τ and ∂E_t/∂θ_τ is the exact total
derivative. The backward pass therefore carries a *band*: at step τ, entry ℓ of
the band is ∂E_{τ+ℓ}/∂s_τ, the gradient of the loss term ℓ steps later. Moving
from τ to τ − 1 every entry ages by one step and the entry of lag k − 1 falls
out of the window. Without a horizon all lags share one window, so the band
collapses into its sum, a single array: that is textbook BPTT. The input x_τ
and the initial state count as used at step τ and step 0.
"""

from __future__ import annotations

import numpy as np

from reference.activations import HiddenActivation


def step_forward(x_t, s_prev, U, W, b, activation: HiddenActivation) -> np.ndarray:
    """One step s_t = φ(x_t U + s_{t-1} W + b).

    x_t (N, n), s_prev (N, d) → s_t (N, d). `b` may be None (no bias).
    """
    a = x_t @ U + s_prev @ W
    if b is not None:
        a += b
    return activation.apply(a)


def step_backward(ds, x_t, s_prev, s_t, U, W, activation: HiddenActivation):
    """One step of BPTT for s_t = φ(x_t U + s_{t-1} W + b).

    ds: (N, d) total gradient dL/ds_t (from y_t and from s_{t+1}), or a band
        (B, N, d) of such gradients, one per loss term.
    x_t (N, n), s_prev (N, d), s_t (N, d) the forward values at this step.
    Returns dx_t (…, N, n), ds_prev (…, N, d) with the leading dims of ds, and
    the parameter gradients dU (n, d), dW (d, d), db (d,) summed over them.
    """
    da = ds * activation.derivative_from_state(s_t)      # dL/da_t, a_t the pre-activation
    da_sum = da if da.ndim == 2 else da.sum(axis=0)
    return (
        da @ U.T,                                          # dx_t
        da @ W.T,                                          # ds_{t-1}
        x_t.T @ da_sum,                                    # dU  += x_tᵀ δa_t
        s_prev.T @ da_sum,                                 # dW  += s_{t-1}ᵀ δa_t
        da_sum.sum(axis=0),                                # db  += Σ_n δa_t
    )


def layer_forward(x, s0, U, W, b, activation: HiddenActivation) -> np.ndarray:
    """All states s (N, T, d) of the layer, from s0 (N, d) before the first input."""
    N, T, _ = x.shape
    s = np.empty((N, T, W.shape[0]))
    # The input term of every step at once, then the recurrence.
    a_in = x @ U if b is None else x @ U + b
    s_prev = s0
    for t in range(T):
        s_prev = s[:, t] = activation.apply(a_in[:, t] + s_prev @ W)
    return s


def layer_backward(inject, x, s, s0, U, W, activation: HiddenActivation, horizon=None):
    """BPTT through the layer, full or truncated to `horizon` steps.

    inject: (T, B_in, N, d) gradients reaching s_τ from outside the recurrence
        (the output layer, or the layer above), entry ℓ from the loss term
        E_{τ+ℓ}. B_in = 1 holds lag 0 only (or, without a horizon, all lags
        summed).
    Returns dU, dW, db, dx and ds0, where dx (T, B, N, n) keeps the band so
    that a layer below can receive it as its own `inject`, and B = 1 without
    a horizon, min(horizon, T) with one.
    """
    N, T, d = s.shape
    band = 1 if horizon is None else min(horizon, T)
    ds = np.zeros((band, N, d))
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(d)
    dx = np.empty((T, band, N, x.shape[-1]))
    for tau in reversed(range(T)):
        ds[: inject.shape[1]] += inject[tau]
        s_prev = s[:, tau - 1] if tau > 0 else s0
        dx[tau], ds_prev, dU_tau, dW_tau, db_tau = step_backward(
            ds, x[:, tau], s_prev, s[:, tau], U, W, activation
        )
        dU += dU_tau
        dW += dW_tau
        db += db_tau
        if tau == 0:
            ds0 = ds_prev.sum(axis=0)
        elif horizon is None:
            ds = ds_prev
        else:                                              # every term ages by one step;
            ds[1:] = ds_prev[:-1]                          # lag k − 1 leaves the window
            ds[0] = 0.0
    return dU, dW, db, dx, ds0
