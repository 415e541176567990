"""Bidirectional RNN (seed 002): the solution cells, notation f, r, Uf, Wf, Ub, Wb, Vf, Vb."""

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


def head_loss__softmax_ce(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    log_y = o - o.max(axis=-1, keepdims=True)
    log_y -= np.log(np.exp(log_y).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_y, d[..., None], axis=-1).sum() / len(o)


def head_loss__sigmoid_bce(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    y = 1.0 / (1.0 + np.exp(-o))
    return -(d * np.log(y) + (1.0 - d) * np.log(1.0 - y)).sum() / len(o)


def head_loss__tanh_mse(o, d):
    """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o: (N, T, k): the loss, for the loss plot."""
    return ((np.tanh(o) - d) ** 2).sum() / len(o)


def network_loss(params, x, f0, r0, d):
    """L with the weights params on the batch (x, d) from f0 and r0 (the loss plot)."""
    T = x.shape[1]
    f, r = [None] * T, [None] * T
    f_prev, r_next = f0, r0
    for t in range(T):
        f[t] = f_prev = phi(x[:, t] @ params["Uf"] + f_prev @ params["Wf"] + params["bf"])  # noqa: F821
    for t in reversed(range(T)):
        r[t] = r_next = phi(x[:, t] @ params["Ub"] + r_next @ params["Wb"] + params["bb"])  # noqa: F821
    o = np.stack(f, axis=1) @ params["Vf"] + np.stack(r, axis=1) @ params["Vb"] + params["c"]
    return head_loss(o, d)  # noqa: F821 (your variant's head_loss)


# -- the student's functions ------------------------------------------------------------


def forward_net(x, f0, Uf, Wf, bf):
    N, T, _ = x.shape
    f = np.zeros((N, T, Wf.shape[0]))
    f_prev = f0
    for t in range(T):
        f_prev = f[:, t] = phi(x[:, t] @ Uf + f_prev @ Wf + bf)  # noqa: F821 (phi is given)
    return f


def backward_net(x, r0, Ub, Wb, bb):
    # The forward net run on the reversed sequence, its states put back in the order of time.
    return forward_net(x[:, ::-1], r0, Ub, Wb, bb)[:, ::-1]


def birnn_output__linear_mse(f, r, Vf, Vb, c):
    return f @ Vf + r @ Vb + c


def birnn_output__tanh_mse(f, r, Vf, Vb, c):
    return np.tanh(f @ Vf + r @ Vb + c)


def birnn_output__sigmoid_bce(f, r, Vf, Vb, c):
    return 1.0 / (1.0 + np.exp(-(f @ Vf + r @ Vb + c)))


def birnn_output__softmax_ce(f, r, Vf, Vb, c):
    o = f @ Vf + r @ Vb + c
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def birnn_backward(do, x, f0, r0, f, r, Uf, Wf, Ub, Wb, Vf, Vb):
    N, T, _ = x.shape
    d = Wf.shape[0]
    grads = {"Uf": np.zeros_like(Uf), "Wf": np.zeros_like(Wf), "bf": np.zeros(d),
             "Ub": np.zeros_like(Ub), "Wb": np.zeros_like(Wb), "bb": np.zeros(d),
             "Vf": np.einsum("ntd,ntk->dk", f, do), "Vb": np.einsum("ntd,ntk->dk", r, do),
             "c": do.sum(axis=(0, 1)), "x": np.zeros_like(x)}
    df_next = np.zeros_like(f0)                       # dL/df_t arriving from f_{t+1}
    for t in reversed(range(T)):                      # forward net: T−1 down to 0
        f_prev = f[:, t - 1] if t > 0 else f0
        da = (do[:, t] @ Vf.T + df_next) * phi_prime(f[:, t])  # noqa: F821 (given)
        grads["Uf"] += x[:, t].T @ da
        grads["Wf"] += f_prev.T @ da
        grads["bf"] += da.sum(axis=0)
        grads["x"][:, t] += da @ Uf.T
        df_next = da @ Wf.T
    dr_prev = np.zeros_like(r0)                       # dL/dr_t arriving from r_{t-1}
    for t in range(T):                                # backward net: 0 up to T−1
        r_next = r[:, t + 1] if t < T - 1 else r0
        da = (do[:, t] @ Vb.T + dr_prev) * phi_prime(r[:, t])  # noqa: F821 (given)
        grads["Ub"] += x[:, t].T @ da
        grads["Wb"] += r_next.T @ da
        grads["bb"] += da.sum(axis=0)
        grads["x"][:, t] += da @ Ub.T
        dr_prev = da @ Wb.T
    grads["f0"], grads["r0"] = df_next, dr_prev
    return grads


def birnn_sgd_update(params, grads, lr):
    return {key: params[key] - lr * grads[key] for key in params}   # the weights only


def birnn_train__linear_mse(params, x, f0, r0, d, lr, k_updates):
    after = {key: [] for key in params}                 # the weights after every update
    for _ in range(k_updates):
        f = forward_net(x, f0, params["Uf"], params["Wf"], params["bf"])
        r = backward_net(x, r0, params["Ub"], params["Wb"], params["bb"])
        y = birnn_output(f, r, params["Vf"], params["Vb"], params["c"])  # noqa: F821 (yours)
        do = 2.0 * (y - d) / len(d)                     # dL/do_t for every t
        grads = birnn_backward(do, x, f0, r0, f, r, *(params[key] for key in
                                                      ("Uf", "Wf", "Ub", "Wb", "Vf", "Vb")))
        params = birnn_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}


def birnn_train__tanh_mse(params, x, f0, r0, d, lr, k_updates):
    after = {key: [] for key in params}
    for _ in range(k_updates):
        f = forward_net(x, f0, params["Uf"], params["Wf"], params["bf"])
        r = backward_net(x, r0, params["Ub"], params["Wb"], params["bb"])
        y = birnn_output(f, r, params["Vf"], params["Vb"], params["c"])  # noqa: F821 (yours)
        do = 2.0 * (y - d) / len(d) * (1.0 - y ** 2)
        grads = birnn_backward(do, x, f0, r0, f, r, *(params[key] for key in
                                                      ("Uf", "Wf", "Ub", "Wb", "Vf", "Vb")))
        params = birnn_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}


def birnn_train__sigmoid_bce(params, x, f0, r0, d, lr, k_updates):
    after = {key: [] for key in params}
    for _ in range(k_updates):
        f = forward_net(x, f0, params["Uf"], params["Wf"], params["bf"])
        r = backward_net(x, r0, params["Ub"], params["Wb"], params["bb"])
        y = birnn_output(f, r, params["Vf"], params["Vb"], params["c"])  # noqa: F821 (yours)
        do = (y - d) / len(d)                           # sigmoid + binary cross-entropy
        grads = birnn_backward(do, x, f0, r0, f, r, *(params[key] for key in
                                                      ("Uf", "Wf", "Ub", "Wb", "Vf", "Vb")))
        params = birnn_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}


def birnn_train__softmax_ce(params, x, f0, r0, d, lr, k_updates):
    after = {key: [] for key in params}
    for _ in range(k_updates):
        f = forward_net(x, f0, params["Uf"], params["Wf"], params["bf"])
        r = backward_net(x, r0, params["Ub"], params["Wb"], params["bb"])
        y = birnn_output(f, r, params["Vf"], params["Vb"], params["c"])  # noqa: F821 (yours)
        do = (y - np.eye(y.shape[-1])[d]) / len(d)      # softmax + cross-entropy: y − d
        grads = birnn_backward(do, x, f0, r0, f, r, *(params[key] for key in
                                                      ("Uf", "Wf", "Ub", "Wb", "Vf", "Vb")))
        params = birnn_sgd_update(params, grads, lr)
        for key in after:
            after[key].append(params[key])
    return {key: np.stack(values) for key, values in after.items()}
