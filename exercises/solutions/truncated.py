"""Truncated BPTT (seeds 000/003): the solution cells, in the notation U, W, s and horizon k."""

import numpy as np

# -- given in the notebook: the variant's activation φ and its derivative through the state --


def phi__tanh(a):
    return np.tanh(a)


def phi__sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def phi__relu(a):
    return np.maximum(a, 0.0)


def phi__identity(a):
    return a


def phi_prime__tanh(s):
    return 1.0 - s ** 2


def phi_prime__sigmoid(s):
    return s * (1.0 - s)


def phi_prime__relu(s):
    return (s > 0).astype(float)


def phi_prime__identity(s):
    return np.ones_like(s)


# -- the student's functions ------------------------------------------------------------


def truncated_bptt(ds_out, x, s0, s, U, W, b, k):
    N, T, _ = x.shape
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    for t in range(T):                                  # each loss term E_t …
        ds = ds_out[:, t]                               # dE_t/ds_t
        for tau in range(t, max(t - k, -1), -1):        # … through steps t, t−1, …, t−k+1
            da = ds * phi_prime(s[:, tau])  # noqa: F821 (phi_prime is given in the notebook)
            s_prev = s[:, tau - 1] if tau > 0 else s0
            dU += x[:, tau].T @ da
            dW += s_prev.T @ da
            db += da.sum(axis=0)
            ds = da @ W.T                               # dE_t/ds_{tau-1}
    return dU, dW, (None if b is None else db)


def truncated_update(ds_out, x, s0, s, U, W, b, k, lr):
    dU, dW, db = truncated_bptt(ds_out, x, s0, s, U, W, b, k)
    return U - lr * dU, W - lr * dW, (None if b is None else b - lr * db)


def truncation_error(ds_out, x, s0, s, U, W, k):
    T = x.shape[1]
    _, dW_k, _ = truncated_bptt(ds_out, x, s0, s, U, W, None, k)
    _, dW_full, _ = truncated_bptt(ds_out, x, s0, s, U, W, None, T)   # k = T: full BPTT
    missing = dW_full - dW_k
    return missing, np.linalg.norm(missing) / np.linalg.norm(dW_full)
