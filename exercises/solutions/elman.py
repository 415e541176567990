"""Elman network (seeds 003/004): the solution cells, in the notation U, W, V, s."""

import numpy as np

# -- given in the notebook: the variant's activation φ, output g and loss ℓ ------------


def phi__tanh(a):
    return np.tanh(a)


def phi__sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def phi__relu(a):
    return np.maximum(a, 0.0)


def phi__identity(a):
    return a


def head_loss__softmax_ce(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    log_y = o - o.max(axis=-1, keepdims=True)
    log_y -= np.log(np.exp(log_y).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_y, d[..., None], axis=-1).sum() / len(o)


def head_loss__sigmoid_bce(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    y = 1.0 / (1.0 + np.exp(-o))
    return -(d * np.log(y) + (1.0 - d) * np.log(1.0 - y)).sum() / len(o)


def head_loss__linear_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    return ((o - d) ** 2).sum() / len(o)


def head_loss__tanh_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    return ((np.tanh(o) - d) ** 2).sum() / len(o)


def head_loss__softmax_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    y = np.exp(o - o.max(axis=-1, keepdims=True))
    y /= y.sum(axis=-1, keepdims=True)
    return ((y - d) ** 2).sum() / len(o)


def network_loss(params, x, s0, d):
    """L of the network with the weights params on the batch (x, d) from s0 (the loss plot)."""
    s_prev, o = s0, []
    for t in range(x.shape[1]):
        s_prev = phi(x[:, t] @ params["U"] + s_prev @ params["W"] + params["b"])  # noqa: F821
        o.append(s_prev @ params["V"] + params["c"])
    return head_loss(np.stack(o, axis=1), d)  # noqa: F821 (your variant's head_loss)


# -- the student's functions ------------------------------------------------------------


def phi_prime__tanh(s):
    return 1.0 - s ** 2


def phi_prime__sigmoid(s):
    return s * (1.0 - s)


def phi_prime__relu(s):
    return (s > 0).astype(float)


def phi_prime__identity(s):
    return np.ones_like(s)


def rnn_step_forward(x_t, s_prev, U, W, b):
    return phi(x_t @ U + s_prev @ W + b)  # noqa: F821 (phi is given in the notebook)


def rnn_forward(x, s0, U, W, b):
    N, T, _ = x.shape
    s = np.zeros((N, T, W.shape[0]))
    s_prev = s0
    for t in range(T):
        s_prev = s[:, t] = rnn_step_forward(x[:, t], s_prev, U, W, b)
    return s


def output_backward__softmax_ce(s, V, c, d):
    N = s.shape[0]
    o = s @ V + c
    y = np.exp(o - o.max(axis=-1, keepdims=True))
    y /= y.sum(axis=-1, keepdims=True)
    do = (y - np.eye(V.shape[1])[d]) / N              # softmax + cross-entropy: y − d
    return np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1)), do @ V.T


def output_backward__softmax_mse(s, V, c, d):
    N = s.shape[0]
    o = s @ V + c
    y = np.exp(o - o.max(axis=-1, keepdims=True))
    y /= y.sum(axis=-1, keepdims=True)
    dy = 2.0 * (y - d) / N
    do = y * (dy - (dy * y).sum(axis=-1, keepdims=True))   # full softmax Jacobian
    return np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1)), do @ V.T


def output_backward__sigmoid_bce(s, V, c, d):
    N = s.shape[0]
    y = 1.0 / (1.0 + np.exp(-(s @ V + c)))
    do = (y - d) / N                                   # sigmoid + binary cross-entropy
    return np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1)), do @ V.T


def output_backward__linear_mse(s, V, c, d):
    N = s.shape[0]
    y = s @ V + c
    do = 2.0 * (y - d) / N
    return np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1)), do @ V.T


def output_backward__tanh_mse(s, V, c, d):
    N = s.shape[0]
    y = np.tanh(s @ V + c)
    do = 2.0 * (y - d) / N * (1.0 - y ** 2)
    return np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1)), do @ V.T


def rnn_step_backward(ds, x_t, s_prev, s_t, U, W):
    da = ds * phi_prime(s_t)  # noqa: F821 (phi_prime is the student's function above)
    return da @ U.T, da @ W.T, x_t.T @ da, s_prev.T @ da, da.sum(axis=0)


def rnn_backward(ds_out, x, s0, s, U, W):
    N, T, _ = x.shape
    dx = np.zeros_like(x)
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    ds_next = np.zeros_like(s0)                        # dL/ds_t arriving from s_{t+1}
    for t in reversed(range(T)):
        s_prev = s[:, t - 1] if t > 0 else s0
        dx[:, t], ds_next, dU_t, dW_t, db_t = rnn_step_backward(
            ds_out[:, t] + ds_next, x[:, t], s_prev, s[:, t], U, W
        )
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, ds_next, dU, dW, db


def sgd_update(params, grads, lr):
    return {name: params[name] - lr * grads[name] for name in params}


def rnn_train(params, x, s0, d, lr, k_updates):
    after = {key: [] for key in params}               # the weights after every update
    for _ in range(k_updates):
        s = rnn_forward(x, s0, params["U"], params["W"], params["b"])
        dV, dc, ds = output_backward(s, params["V"], params["c"], d)  # noqa: F821 (your head's version)
        _, _, dU, dW, db = rnn_backward(ds, x, s0, s, params["U"], params["W"])
        params = sgd_update(params, {"U": dU, "W": dW, "b": db, "V": dV, "c": dc}, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}
