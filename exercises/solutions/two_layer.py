"""Two-layer s→z network (seed 000): the solution cells, in the notation U, W1, V1, W2, V2, s, z."""

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


def head_loss__linear_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    return ((o - d) ** 2).sum() / len(o)


def head_loss__sigmoid_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    y = 1.0 / (1.0 + np.exp(-o))
    return ((y - d) ** 2).sum() / len(o)


def network_loss(params, x, s0, z0, d):
    """E = Σ_t E_t with the weights params on the batch (x, d) from s0, z0 (the loss plot)."""
    s_prev, z_prev, o = s0, z0, []
    for t in range(x.shape[1]):
        s_prev = phi(x[:, t] @ params["U"] + s_prev @ params["W1"] + params["b1"])  # noqa: F821
        z_prev = phi(s_prev @ params["V1"] + z_prev @ params["W2"] + params["b2"])  # noqa: F821
        o.append(z_prev @ params["V2"] + params["c"])
    return head_loss(np.stack(o, axis=1), d)  # noqa: F821 (your variant's head_loss)


# -- the student's functions ------------------------------------------------------------


def z_step_forward(s_t, z_prev, V1, W2, b2):
    return phi(s_t @ V1 + z_prev @ W2 + b2)  # noqa: F821 (phi is given in the notebook)


def two_layer_forward(x, s0, z0, U, W1, b1, V1, W2, b2):
    N, T, _ = x.shape
    s = np.zeros((N, T, W1.shape[0]))
    z = np.zeros((N, T, W2.shape[0]))
    s_prev, z_prev = s0, z0
    for t in range(T):
        s_prev = s[:, t] = z_step_forward(x[:, t], s_prev, U, W1, b1)   # the same form as z
        z_prev = z[:, t] = z_step_forward(s_prev, z_prev, V1, W2, b2)
    return s, z


def delta_V1_single_step__linear_mse(s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr):
    y = z_t @ V2 + c
    do = 2.0 * (y - d_t) / len(d_t)                     # dE_t/do_t, E_t averaged over the batch
    dh = (do @ V2.T) * phi_prime(z_t)  # noqa: F821 (phi_prime is given in the notebook)
    return -lr * s_t.T @ dh                             # only the use of V1 at step t


def delta_V1_single_step__sigmoid_mse(s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr):
    y = 1.0 / (1.0 + np.exp(-(z_t @ V2 + c)))
    do = 2.0 * (y - d_t) / len(d_t) * y * (1.0 - y)
    dh = (do @ V2.T) * phi_prime(z_t)  # noqa: F821
    return -lr * s_t.T @ dh


def dE_dU_two_steps__linear_mse(x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c,
                                d_next):
    y = z_next @ V2 + c
    do = 2.0 * (y - d_next) / len(d_next)
    dh_next = (do @ V2.T) * phi_prime(z_next)            # at z_{t+1}'s pre-activation  # noqa: F821
    da_next = (dh_next @ V1.T) * phi_prime(s_next)       # at s_{t+1}'s  # noqa: F821
    dh_t = (dh_next @ W2.T) * phi_prime(z_t)             # z_{t+1} → z_t  # noqa: F821
    da_t = (dh_t @ V1.T + da_next @ W1.T) * phi_prime(s_t)  # both paths into s_t  # noqa: F821
    return x_next.T @ da_next + x_t.T @ da_t


def dE_dU_two_steps__sigmoid_mse(x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c,
                                 d_next):
    y = 1.0 / (1.0 + np.exp(-(z_next @ V2 + c)))
    do = 2.0 * (y - d_next) / len(d_next) * y * (1.0 - y)
    dh_next = (do @ V2.T) * phi_prime(z_next)  # noqa: F821
    da_next = (dh_next @ V1.T) * phi_prime(s_next)  # noqa: F821
    dh_t = (dh_next @ W2.T) * phi_prime(z_t)  # noqa: F821
    da_t = (dh_t @ V1.T + da_next @ W1.T) * phi_prime(s_t)  # noqa: F821
    return x_next.T @ da_next + x_t.T @ da_t


def two_layer_backward(do, x, s0, z0, s, z, U, W1, V1, W2, V2):
    N, T, _ = x.shape
    grads = {"U": np.zeros_like(U), "W1": np.zeros_like(W1), "b1": np.zeros(W1.shape[0]),
             "V1": np.zeros_like(V1), "W2": np.zeros_like(W2), "b2": np.zeros(W2.shape[0]),
             "V2": np.einsum("ntd,ntk->dk", z, do), "c": do.sum(axis=(0, 1)),
             "x": np.zeros_like(x)}
    dz_next = np.zeros_like(z0)                         # dL/dz_t arriving from z_{t+1}
    ds_next = np.zeros_like(s0)                         # dL/ds_t arriving from s_{t+1}
    for t in reversed(range(T)):
        s_prev = s[:, t - 1] if t > 0 else s0
        z_prev = z[:, t - 1] if t > 0 else z0
        dh = (do[:, t] @ V2.T + dz_next) * phi_prime(z[:, t])  # noqa: F821
        da = (dh @ V1.T + ds_next) * phi_prime(s[:, t])        # noqa: F821
        grads["V1"] += s[:, t].T @ dh
        grads["W2"] += z_prev.T @ dh
        grads["b2"] += dh.sum(axis=0)
        grads["U"] += x[:, t].T @ da
        grads["W1"] += s_prev.T @ da
        grads["b1"] += da.sum(axis=0)
        grads["x"][:, t] = da @ U.T
        dz_next, ds_next = dh @ W2.T, da @ W1.T
    grads["s0"], grads["z0"] = ds_next, dz_next
    return grads


def two_layer_sgd_update(params, grads, lr):
    return {key: params[key] - lr * grads[key] for key in params}   # the weights only


def two_layer_train__linear_mse(params, x, s0, z0, d, lr, k_updates):
    after = {key: [] for key in params}                 # the weights after every update
    for _ in range(k_updates):
        s, z = two_layer_forward(x, s0, z0, *(params[key] for key in
                                              ("U", "W1", "b1", "V1", "W2", "b2")))
        y = z @ params["V2"] + params["c"]
        do = 2.0 * (y - d) / len(d)                     # dE/do_t for every t, E = Σ_t E_t
        grads = two_layer_backward(do, x, s0, z0, s, z, *(params[key] for key in
                                                          ("U", "W1", "V1", "W2", "V2")))
        params = two_layer_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}


def two_layer_train__sigmoid_mse(params, x, s0, z0, d, lr, k_updates):
    after = {key: [] for key in params}
    for _ in range(k_updates):
        s, z = two_layer_forward(x, s0, z0, *(params[key] for key in
                                              ("U", "W1", "b1", "V1", "W2", "b2")))
        y = 1.0 / (1.0 + np.exp(-(z @ params["V2"] + params["c"])))
        do = 2.0 * (y - d) / len(d) * y * (1.0 - y)
        grads = two_layer_backward(do, x, s0, z0, s, z, *(params[key] for key in
                                                          ("U", "W1", "V1", "W2", "V2")))
        params = two_layer_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}
