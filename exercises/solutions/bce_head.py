"""Seed 001's binary cross-entropy head: the solution cells, in the notation a, x, u, v, w_y, ŷ, y.

Steps are 0-based in code: a0 is the state before x[:, 0]. The loss is summed over the
sequences and the steps.
"""

import numpy as np

# -- given in the notebook: the sigmoid ---------------------------------------------------


def sigmoid(o):
    return 1.0 / (1.0 + np.exp(-o))


# -- the student's functions ------------------------------------------------------------


def bce_loss(y_hat, y):
    return -np.sum(y * np.log(y_hat) + (1.0 - y) * np.log(1.0 - y_hat))


def bce_derivative(y_hat, y):
    return -y / y_hat + (1.0 - y) / (1.0 - y_hat)      # z_t = ∂L/∂ŷ_t


def bce_output_delta(o, y):
    return sigmoid(o) - y                              # z_t ŷ_t (1 − ŷ_t) = ŷ_t − y_t


def bce_bptt(x, a0, y, u, v, b_a, w_y, b_y):
    N, T = x.shape
    a = np.zeros((N, T))
    a_prev = a0
    for t in range(T):
        a_prev = a[:, t] = v * a_prev + u * x[:, t] + b_a
    do = bce_output_delta(w_y * a + b_y, y)            # ∂L/∂o_t
    dw_y = db_y = dv = du = db_a = 0.0
    carried = np.zeros_like(a0)                        # v δ_{t+1}, what reaches a_t from a_{t+1}
    for t in reversed(range(T)):
        a_prev = a[:, t - 1] if t > 0 else a0
        delta = do[:, t] * w_y + carried               # δ_t = ∂L/∂a_t
        dw_y += np.sum(do[:, t] * a[:, t])
        db_y += np.sum(do[:, t])
        dv += np.sum(delta * a_prev)
        du += np.sum(delta * x[:, t])
        db_a += np.sum(delta)
        carried = v * delta
    return dw_y, db_y, dv, du, db_a
