"""Character autocompletion (seed 004): the solution cells, in the notation U, W, V, s.

One word at a time: x (T, 4), s (T, d), y (T, 4); params holds U, W, b, V, c.
"""

import numpy as np

# -- given in the notebook: the variant's activation φ, its derivative, and softmax -------


def phi__tanh(a):
    return np.tanh(a)


def phi__sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def phi_prime__tanh(s):
    return 1.0 - s ** 2


def phi_prime__sigmoid(s):
    return s * (1.0 - s)


def softmax(o):
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# -- the student's functions ------------------------------------------------------------


def encode(word):
    vocabulary = ["d", "e", "p", "<stop>"]
    index = [vocabulary.index(character) for character in word]
    x = np.eye(4)[index]
    targets = np.eye(4)[index[1:] + [3]]            # the next character, <stop> at the end
    return x, targets


def char_forward(params, x, s0):
    U, W, b, V, c = (params[key] for key in ("U", "W", "b", "V", "c"))
    s = np.zeros((x.shape[0], W.shape[0]))
    s_prev = s0
    for t in range(x.shape[0]):
        s_prev = s[t] = phi(x[t] @ U + s_prev @ W + b)  # noqa: F821 (phi is given)
    return s, softmax(s @ V + c)


def char_loss(y, targets):
    return -np.sum(targets * np.log(y))             # Σ_t −log y_{t,c_t}


def char_grads(params, x, targets, s0):
    W, V = params["W"], params["V"]
    s, y = char_forward(params, x, s0)
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    ds_next = np.zeros_like(s0)                     # dL/ds_t arriving from s_{t+1}
    for t in reversed(range(x.shape[0])):
        do = y[t] - targets[t]                      # softmax + cross-entropy
        grads["V"] += np.outer(s[t], do)
        grads["c"] += do
        delta = (do @ V.T + ds_next) * phi_prime(s[t])  # noqa: F821 (phi_prime is given)
        s_prev = s[t - 1] if t > 0 else s0
        grads["U"] += np.outer(x[t], delta)
        grads["W"] += np.outer(s_prev, delta)
        grads["b"] += delta
        ds_next = delta @ W.T
    return grads


def train(params, words, lr, k_updates):
    params = {key: value.copy() for key, value in params.items()}
    s0 = np.zeros(params["W"].shape[0])
    for i in range(k_updates):
        x, targets = encode(words[i % len(words)])
        grads = char_grads(params, x, targets, s0)
        params = {key: params[key] - lr * grads[key] for key in params}
    return params


def adagrad_update(params, grads, memory, lr):
    new = {}
    for key in ("U", "W", "b", "V", "c"):
        m = memory["m" + key] + grads[key] ** 2                 # m ← m + g²
        new[key] = params[key] - lr * grads[key] / np.sqrt(m + 1e-8)
        new["m" + key] = m
    return new
