"""Vanishing and exploding gradients (seed 003): the solution cells, in the notation s, W.

Row vectors: s_t = φ(x_t U + s_{t-1} W + b), so ∂s_t/∂s_{t-1} = diag(φ'_t) Wᵀ.
"""

import numpy as np

# -- given in the notebook: the derivative of the variant's activation, through the state --


def phi_prime__tanh(s):
    return 1.0 - s ** 2


def phi_prime__sigmoid(s):
    return s * (1.0 - s)


def phi_prime__identity(s):
    return np.ones_like(s)


# -- the student's functions ------------------------------------------------------------


def state_jacobian_step(s_t, W):
    dphi = phi_prime(s_t)  # noqa: F821 (phi_prime is given)
    return dphi[:, :, None] * W.T          # diag(φ'_t) Wᵀ: row i of Wᵀ scaled by φ'_i


def jacobian_norms(s, W):
    N, T, d = s.shape
    norms = np.ones((N, T))                # ∂s_{T-1}/∂s_{T-1} = I
    J = np.tile(np.eye(d), (N, 1, 1))
    for k in range(T - 2, -1, -1):
        J = J @ state_jacobian_step(s[:, k + 1], W)   # ∂s_{T-1}/∂s_{k+1} · ∂s_{k+1}/∂s_k
        norms[:, k] = np.linalg.norm(J, ord=2, axis=(1, 2))
    return norms


def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    scale = max_norm / norm if norm > max_norm else 1.0
    return {key: g * scale for key, g in grads.items()}


def clip_by_value(grads, limit):
    return {key: np.clip(g, -limit, limit) for key, g in grads.items()}


def clipped_update(params, grads, lr, max_norm):
    clipped = clip_by_norm(grads, max_norm)
    return {key: params[key] - lr * clipped[key] for key in params}
