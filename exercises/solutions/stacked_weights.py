"""The stacked form W_a = [W_aa; W_ax] (seeds 001/003): the solution cells, in seed 001's letters.

Row vectors: a_t = g([a_{t-1}, x_t] W_a + b_a), W_a (d + n, d) with W_aa's d rows first.
"""

import numpy as np

# -- given in the notebook: the hidden activation g and g'(·) through the state a = g(·) --


def g__tanh(z):
    return np.tanh(z)


def g__sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def g__relu(z):
    return np.maximum(z, 0.0)


def g__identity(z):
    return z


def g_prime__tanh(a):
    return 1.0 - a ** 2


def g_prime__sigmoid(a):
    return a * (1.0 - a)


def g_prime__relu(a):
    return (a > 0).astype(float)


def g_prime__identity(a):
    return np.ones_like(a)


# -- the student's functions ------------------------------------------------------------


def stack_weights(W_aa, W_ax):
    return np.concatenate([W_aa, W_ax], axis=0)        # the state's block on top


def split_weights(W_a):
    d = W_a.shape[1]
    return W_a[:d], W_a[d:]


def stacked_step(a_prev, x_t, W_a, b_a):
    return g(np.concatenate([a_prev, x_t], axis=-1) @ W_a + b_a)  # noqa: F821 (g is given)


def stacked_forward(x, a0, W_a, b_a):
    N, T, _ = x.shape
    a = np.zeros((N, T, W_a.shape[1]))
    a_prev = a0
    for t in range(T):
        a_prev = a[:, t] = stacked_step(a_prev, x[:, t], W_a, b_a)
    return a


def stacked_backward(da_out, x, a0, a, W_a):
    N, T, _ = x.shape
    d = W_a.shape[1]
    dx, dW_a, db_a = np.zeros_like(x), np.zeros_like(W_a), np.zeros(d)
    da_next = np.zeros_like(a0)                        # ∂L/∂a_t arriving from step t+1
    for t in reversed(range(T)):
        a_prev = a[:, t - 1] if t > 0 else a0
        delta = (da_out[:, t] + da_next) * g_prime(a[:, t])  # noqa: F821 (g_prime is given)
        back = delta @ W_a.T                           # [∂L/∂a_{t-1}, ∂L/∂x_t]
        da_next, dx[:, t] = back[:, :d], back[:, d:]
        dW_a += np.concatenate([a_prev, x[:, t]], axis=-1).T @ delta
        db_a += delta.sum(axis=0)
    return dx, da_next, dW_a, db_a
