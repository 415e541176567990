"""Seed 003's vanishing and exploding gradients: the Jacobians ∂s_t/∂s_k.

For s_t = φ(x_t U + s_{t-1} W + b) with row-vector states,

    ∂s_t/∂s_{t-1} = diag(φ'_t) Wᵀ,    ∂s_t/∂s_k = Π_{j=k+1}^{t} diag(φ'_j) Wᵀ,

a product of t − k factors whose norm shrinks or grows geometrically with the
distance t − k when ‖diag(φ') Wᵀ‖ stays below or above 1.
"""

from __future__ import annotations

import numpy as np

from reference.elman import Elman


def state_jacobians(model: Elman, params, x, s0=None) -> np.ndarray:
    """J (N, T, d, d) with J[n, k] = ∂s_{T-1}/∂s_k for sequence n (0-based steps).

    J[n, k][i, j] = ∂s_{T-1, i}/∂s_{k, j}; J[n, T-1] is the identity.
    """
    if not isinstance(model, Elman):
        raise ValueError(f"state_jacobians needs an Elman network, not {type(model).__name__}")
    s = model.forward(params, x, s0=s0).s
    N, T, d = s.shape
    W = np.asarray(params["W"], dtype=np.float64)
    J = np.empty((N, T, d, d))
    J[:, T - 1] = np.eye(d)
    for k in range(T - 2, -1, -1):
        step = model.phi.derivative_from_state(s[:, k + 1])[:, :, None] * W.T  # ∂s_{k+1}/∂s_k
        J[:, k] = J[:, k + 1] @ step
    return J


def jacobian_norms(J: np.ndarray, ord=2) -> np.ndarray:
    """‖∂s_{T-1}/∂s_k‖ for every sequence and k: (N, T) from J (N, T, d, d).

    ord=2 is the spectral norm (the largest singular value), "fro" Frobenius.
    """
    return np.linalg.norm(J, ord=ord, axis=(-2, -1))
