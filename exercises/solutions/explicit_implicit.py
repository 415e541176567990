"""Explicit and implicit derivatives (seed 004): the solution cells, in the notation s, W.

A derivative of a state by W is D[n, i, j, k] = ∂s_{t,i}/∂W_{jk}, (N, d, d, d).
"""

import numpy as np

# -- given in the notebook: φ'(a) of the variant's activation, through the state s = φ(a) --


def phi_prime__tanh(s):
    return 1.0 - s ** 2


def phi_prime__sigmoid(s):
    return s * (1.0 - s)


def phi_prime__relu(s):
    return (s > 0).astype(float)


def phi_prime__identity(s):
    return np.ones_like(s)


# -- the student's functions ------------------------------------------------------------


def explicit_derivative(s_prev, s_t):
    d = s_t.shape[-1]
    dphi = phi_prime(s_t)  # noqa: F821 (phi_prime is given)
    # ∂⁺s_{t,i}/∂W_{jk} = φ'(a_{t,i}) s_{t-1,j} [i = k]
    return np.einsum("ni,nj,ik->nijk", dphi, s_prev, np.eye(d))


def implicit_derivative(s_t, W, ds_prev_dW):
    dphi = phi_prime(s_t)  # noqa: F821 (phi_prime is given)
    # ∂s_{t,i}/∂s_{t-1,m} = φ'(a_{t,i}) W_{mi}, times ∂s_{t-1,m}/∂W_{jk}, summed over m
    return np.einsum("ni,mi,nmjk->nijk", dphi, W, ds_prev_dW)


def total_derivative(s0, s, W):
    N, T, d = s.shape
    ds_dW = np.zeros((N, T, d, d, d))
    s_prev, ds_prev_dW = s0, np.zeros((N, d, d, d))     # s0 is a constant: ∂s0/∂W = 0
    for t in range(T):
        ds_dW[:, t] = (explicit_derivative(s_prev, s[:, t])
                       + implicit_derivative(s[:, t], W, ds_prev_dW))
        s_prev, ds_prev_dW = s[:, t], ds_dW[:, t]
    return ds_dW


def loss_gradient(dL_ds, s0, s, W):
    ds_dW = total_derivative(s0, s, W)
    return np.einsum("nti,ntijk->jk", dL_ds, ds_dW)     # Σ_n Σ_t ∂L_t/∂s_t ∂s_t/∂W
