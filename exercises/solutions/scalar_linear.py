"""Scalar linear RNN (seed 001): the solution cells, in the notation a, x, u, v, b_a, w_y, b_y.

Steps are 0-based in code: a0 is the state before x[:, 0], and the notes' a_{t-j}
with steps counted from 1 is the column t − j of the states shifted by one.
"""

import numpy as np


def scalar_forward(x, a0, u, v, b_a, w_y, b_y):
    N, T = x.shape
    a = np.zeros((N, T))
    a_prev = a0
    for t in range(T):
        a_prev = a[:, t] = v * a_prev + u * x[:, t] + b_a
    return a, w_y * a + b_y


def closed_form_output(x, a0, z, u, v, b_a, w_y):
    a, _ = scalar_forward(x, a0, u, v, b_a, w_y, 0.0)
    return np.sum(z * a), np.sum(z)                    # (1) and (2)


def closed_form_dv(x, a0, z, u, v, b_a, w_y):
    a, _ = scalar_forward(x, a0, u, v, b_a, w_y, 0.0)
    a_before = np.concatenate([a0[:, None], a], axis=1)   # a_before[:, t] is a_{t-1}
    dv = 0.0
    for t in range(x.shape[1]):
        # Σ_{j=1}^{t} v^{j-1} a_{t-j}, in 0-based steps
        terms = sum(v ** (j - 1) * a_before[:, t + 1 - j] for j in range(1, t + 2))
        dv += np.sum(z[:, t] * w_y * terms)
    return dv


def closed_form_du(x, a0, z, u, v, b_a, w_y):
    du = 0.0
    for t in range(x.shape[1]):
        terms = sum(v ** j * x[:, t - j] for j in range(t + 1))   # Σ_j v^j x_{t-j}
        du += np.sum(z[:, t] * w_y * terms)
    return du


def closed_form_db_a(x, a0, z, u, v, b_a, w_y):
    db_a = 0.0
    for t in range(x.shape[1]):
        db_a += np.sum(z[:, t] * w_y * sum(v ** j for j in range(t + 1)))
    return db_a


def scalar_bptt(x, a0, z, u, v, b_a, w_y):
    a, _ = scalar_forward(x, a0, u, v, b_a, w_y, 0.0)
    dw_y = db_y = dv = du = db_a = 0.0
    delta_next = np.zeros_like(a0)             # v δ_{t+1}, what reaches a_t from a_{t+1}
    for t in reversed(range(x.shape[1])):
        a_prev = a[:, t - 1] if t > 0 else a0
        delta = z[:, t] * w_y + delta_next     # δ_t = ∂L/∂a_t
        dw_y += np.sum(z[:, t] * a[:, t])
        db_y += np.sum(z[:, t])
        dv += np.sum(delta * a_prev)
        du += np.sum(delta * x[:, t])
        db_a += np.sum(delta)
        delta_next = v * delta
    return dw_y, db_y, dv, du, db_a, delta_next     # after t = 0, v δ_0 is ∂L/∂a_0
