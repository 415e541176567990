"""An independent numpy forward pass, written from DESIGN.md's equations.

Nothing here calls `reference`: the tests use it as a second implementation of
the three networks and the loss, and, through *per-time-step parameter
copies*, as the definition of truncated BPTT. Every function takes, for each
parameter, an array with a leading time axis (T, *shape): entry τ is the value
used at step τ. Shared parameters are the special case where all T copies are
equal (`copies`). Inputs can be copied per network as well: the bidirectional
net reads x_τ in its forward-in-time net and in its backward-in-time net, and
those are two separate uses.

Equations (row vectors, batch first, 0-based time):
    Elman          s_t = φ(x_t U + s_{t-1} W + b),  o_t = s_t V + c
    Stacked        s_t = φ(x_t U + s_{t-1} W1 + b1),  z_t = φ(s_t V1 + z_{t-1} W2 + b2),
                   o_t = z_t V2 + c
    Bidirectional  f_t = φ(x_t Uf + f_{t-1} Wf + bf),  r_t = φ(x_t Ub + r_{t+1} Wb + bb),
                   o_t = f_t Vf + r_t Vb + c      (f_{-1} = f0, r_T = r0)
    y_t = g(o_t),  E_t = (1/N) Σ_n ℓ(y_nt, d_nt),
    mse ℓ = Σ_k (y_k − d_k)²,  bce ℓ = −Σ_k [d log y + (1 − d) log(1 − y)],  ce ℓ = −Σ_k d log y.

The last section writes the same networks in autograd.numpy over per-step
copies, so that `copy_gradients` gives Σ_t Σ_{τ in the window of E_t} ∂E_t/∂θ_τ
(truncated BPTT by its definition, full BPTT with the whole window) for any
differentiable E_t of o_t: the oracle of every exercise's backward pass.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad as autograd_grad

# -- activations, written out --------------------------------------------------------


def phi(name: str, a: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "relu":
        return np.where(a > 0, a, 0.0)
    if name == "identity":
        return a
    raise AssertionError(name)


def phi_prime(name: str, a: np.ndarray) -> np.ndarray:
    """dφ/da at the pre-activation a (not at the state)."""
    if name == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if name == "sigmoid":
        sig = 1.0 / (1.0 + np.exp(-a))
        return sig * (1.0 - sig)
    if name == "relu":
        return (a > 0).astype(float)
    if name == "identity":
        return np.ones_like(a)
    raise AssertionError(name)


def g(name: str, o: np.ndarray) -> np.ndarray:
    if name == "linear":
        return o
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-o))
    if name == "tanh":
        return np.tanh(o)
    if name == "softmax":
        e = np.exp(o - o.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


def per_term_loss(objective: str, y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """ℓ(y, d) over the last axis, straight from DESIGN.md (no fused forms)."""
    if objective == "mse":
        return ((y - d) ** 2).sum(axis=-1)
    if objective == "bce":
        return -(d * np.log(y) + (1.0 - d) * np.log(1.0 - y)).sum(axis=-1)
    if objective == "ce":
        return -(d * np.log(y)).sum(axis=-1)
    raise AssertionError(objective)


# -- per-step copies -------------------------------------------------------------------


def copies(params: dict, T: int) -> dict:
    """Every parameter as T equal per-step copies (T, *shape)."""
    return {key: np.repeat(np.asarray(p, float)[None], T, axis=0) for key, p in params.items()}


def input_uses(kind: str, x: np.ndarray) -> dict:
    """The input's uses: {"x": x} or, for the bidirectional net, {"xf": x, "xb": x}."""
    if kind == "bidirectional":
        return {"xf": x.copy(), "xb": x.copy()}
    return {"x": x.copy()}


def _layer(x, s0, U, W, b, act):
    """s_t = φ(x_t U_t + s_{t-1} W_t + b_t) for t = 0..T−1, per-step U, W, b; returns (s, a)."""
    N, T, _ = x.shape
    s_prev, states, pre = s0, [], []
    for t in range(T):
        a = x[:, t] @ U[t] + s_prev @ W[t]
        if b is not None:
            a = a + b[t]
        s_prev = phi(act, a)
        states.append(s_prev)
        pre.append(a)
    return np.stack(states, axis=1), np.stack(pre, axis=1)


def _layer_backward_in_time(x, r0, U, W, b, act):
    """r_t = φ(x_t U_t + r_{t+1} W_t + b_t) for t = T−1..0, with r_T = r0; returns (r, a)."""
    N, T, _ = x.shape
    r_next, states, pre = r0, [None] * T, [None] * T
    for t in reversed(range(T)):
        a = x[:, t] @ U[t] + r_next @ W[t]
        if b is not None:
            a = a + b[t]
        r_next = states[t] = phi(act, a)
        pre[t] = a
    return np.stack(states, axis=1), np.stack(pre, axis=1)


def forward(kind: str, spec, P: dict, X: dict, states: dict) -> dict:
    """All states, pre-activations ("a_<state>"), o and y of a network.

    kind: "elman", "stacked" or "bidirectional"; spec supplies .activation,
    .output; P: per-step parameter copies; X: per-use inputs (`input_uses`);
    states: initial states by keyword (s0 / s0, z0 / f0, r0).
    """
    act = spec.activation
    out: dict[str, np.ndarray] = {}
    if kind == "elman":
        out["s"], out["a_s"] = _layer(X["x"], states["s0"], P["U"], P["W"], P.get("b"), act)
        o = np.einsum("ntd,tdk->ntk", out["s"], P["V"])
    elif kind == "stacked":
        out["s"], out["a_s"] = _layer(X["x"], states["s0"], P["U"], P["W1"], P.get("b1"), act)
        out["z"], out["a_z"] = _layer(out["s"], states["z0"], P["V1"], P["W2"], P.get("b2"), act)
        o = np.einsum("ntd,tdk->ntk", out["z"], P["V2"])
    elif kind == "bidirectional":
        out["f"], out["a_f"] = _layer(X["xf"], states["f0"], P["Uf"], P["Wf"], P.get("bf"), act)
        out["r"], out["a_r"] = _layer_backward_in_time(
            X["xb"], states["r0"], P["Ub"], P["Wb"], P.get("bb"), act
        )
        o = (np.einsum("ntd,tdk->ntk", out["f"], P["Vf"])
             + np.einsum("ntd,tdk->ntk", out["r"], P["Vb"]))
    else:
        raise AssertionError(kind)
    if "c" in P:
        o = o + P["c"][None]
    out["o"] = o
    out["y"] = g(spec.output, o)
    return out


def loss_term(kind: str, spec, P: dict, X: dict, states: dict, d: np.ndarray, t: int) -> float:
    """E_t = (1/N) Σ_n ℓ(y_nt, d_nt) for dense targets d (N, T, k)."""
    y = forward(kind, spec, P, X, states)["y"]
    return float(per_term_loss(spec.objective, y[:, t], d[:, t]).sum() / y.shape[0])


# -- truncated BPTT by definition ---------------------------------------------------------


def truncation_windows(kind: str, T: int, t: int, k: int):
    """For E_t and horizon k, the steps τ whose uses count (DESIGN.md, truncated BPTT).

    Returns ({use: [τ, …]} for every parameter and input use of `forward`,
    {initial state: whether its use is in the window}).

    Forward in time 0 ≤ t − τ ≤ k − 1; backward in time (the bidirectional
    net's second layer) 0 ≤ τ − t ≤ k − 1. The output layer is used at t only.
    Initial states are used at the step where their net starts: 0, or T − 1
    for r0.
    """
    fwd = list(range(max(0, t - k + 1), t + 1))
    bwd = list(range(t, min(T, t + k)))
    now = [t]
    if kind == "elman":
        uses = {"U": fwd, "W": fwd, "b": fwd, "V": now, "c": now, "x": fwd}
        starts = {"s0": 0}
    elif kind == "stacked":
        uses = {key: fwd for key in ("U", "W1", "b1", "V1", "W2", "b2", "x")}
        uses.update(V2=now, c=now)
        starts = {"s0": 0, "z0": 0}
    else:
        uses = {key: fwd for key in ("Uf", "Wf", "bf", "xf")}
        uses.update({key: bwd for key in ("Ub", "Wb", "bb", "xb")})
        uses.update(Vf=now, Vb=now, c=now)
        starts = {"f0": 0, "r0": T - 1}
    states_in_window = {name: abs(t - step) <= k - 1 for name, step in starts.items()}
    return uses, states_in_window


# -- finite differences -----------------------------------------------------------------


def fd_step(activation: str) -> float:
    """Step of `central_differences` for a network with hidden activation φ.

    1e-4 balances the stencil's O(h⁴) truncation against rounding (ε|L|/h).
    relu is only piecewise smooth: the problems keep every pre-activation
    ≥ 1e-3 from the kink, and a step of 1e-5 moves no pre-activation that far.
    """
    return 1e-5 if activation == "relu" else 1e-4


def central_differences(f, array: np.ndarray, h: float) -> np.ndarray:
    """∂f/∂array entry by entry, by the fourth-order central stencil

        f'(a) ≈ [−f(a+2h) + 8 f(a+h) − 8 f(a−h) + f(a−2h)] / (12 h).

    `array` is perturbed in place (and restored); `f()` must read it.
    """
    grad = np.zeros(array.shape)
    for idx in np.ndindex(array.shape):
        original = array[idx]
        values = []
        for step in (2 * h, h, -h, -2 * h):
            array[idx] = original + step
            values.append(f())
        array[idx] = original
        grad[idx] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
    return grad


def loss_value(kind: str, spec, params: dict, x: np.ndarray, states: dict, d: np.ndarray,
               times=None) -> float:
    """L = (1/N) Σ_{t ∈ times} Σ_n ℓ(y_nt, d_nt) term by term, d dense (N, T, k) or class
    indices (N, T), with every parameter shared across steps."""
    N, T, _ = x.shape
    y = forward(kind, spec, copies(params, T), input_uses(kind, x), states)["y"]
    dense = np.eye(y.shape[-1])[d] if np.ndim(d) == 2 else np.asarray(d, float)
    total = 0.0
    for t in range(T) if times is None else times:
        for n in range(N):
            total += float(per_term_loss(spec.objective, y[n, t], dense[n, t]))
    return total / N


# -- gradients over per-step copies, by autograd ----------------------------------------------


def ag_hidden(name: str, a):
    """φ in autograd.numpy."""
    if name == "tanh":
        return anp.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-a))
    if name == "relu":
        return anp.maximum(a, 0.0)
    if name == "identity":
        return a
    raise AssertionError(name)


def ag_output(name: str, o):
    """g in autograd.numpy."""
    if name == "linear":
        return o
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-o))
    if name == "tanh":
        return anp.tanh(o)
    if name == "softmax":
        e = anp.exp(o - anp.max(o, axis=-1, keepdims=True))
        return e / anp.sum(e, axis=-1, keepdims=True)
    raise AssertionError(name)


def ag_recurrence(xs, h0, Us, Ws, bs, act, backward_in_time=False):
    """h_t = φ(x_t U_t + h_prev W_t + b_t) over lists of per-step arrays, h_prev the state one
    step earlier (or later, backward in time); returns the list of states."""
    T = len(xs)
    states = [None] * T
    h = h0
    for t in (reversed(range(T)) if backward_in_time else range(T)):
        a = anp.dot(xs[t], Us[t]) + anp.dot(h, Ws[t])
        if bs is not None:
            a = a + bs[t]
        h = states[t] = ag_hidden(act, a)
    return states


def ag_outputs(kind: str, act: str, P: dict, X: dict, S: dict) -> list:
    """o_t for every t from per-step parameters P[key][t] and input uses X[use][t]."""
    if kind == "elman":
        top = ag_recurrence(X["x"], S["s0"], P["U"], P["W"], P.get("b"), act)
        o = [anp.dot(top[t], P["V"][t]) for t in range(len(top))]
    elif kind == "stacked":
        s = ag_recurrence(X["x"], S["s0"], P["U"], P["W1"], P.get("b1"), act)
        z = ag_recurrence(s, S["z0"], P["V1"], P["W2"], P.get("b2"), act)
        o = [anp.dot(z[t], P["V2"][t]) for t in range(len(z))]
    elif kind == "bidirectional":
        f = ag_recurrence(X["xf"], S["f0"], P["Uf"], P["Wf"], P.get("bf"), act)
        r = ag_recurrence(X["xb"], S["r0"], P["Ub"], P["Wb"], P.get("bb"), act,
                          backward_in_time=True)
        o = [anp.dot(f[t], P["Vf"][t]) + anp.dot(r[t], P["Vb"][t]) for t in range(len(f))]
    else:
        raise AssertionError(kind)
    return [o[t] + P["c"][t] for t in range(len(o))] if "c" in P else o


def add_window(total: dict, kind: str, T: int, t: int, k: int, dP, dX, dS) -> None:
    """Add to `total` the copies of E_t's gradient that its window keeps: the per-step
    parameter and input copies at τ in the window, and the initial states when inside."""
    window, states_in_window = truncation_windows(kind, T, t, k)
    for key in dP:
        total[key] += sum(dP[key][tau] for tau in window[key])
    for use in dX:
        for tau in window[use]:
            total["x"][:, tau] += dX[use][tau]
    for key, inside in states_in_window.items():
        if inside:
            total[key] += dS[key]


def copy_gradients(kind: str, activation: str, params: dict, x: np.ndarray, states: dict,
                   term, times=None, horizon=None) -> dict:
    """Σ_{t ∈ times} Σ_{τ in the window of E_t} ∂E_t/∂θ_τ, E_t = term(t, o_t).

    Every parameter and input use gets one autograd argument per step
    (`truncation_windows` says which copies count); horizon None keeps every
    copy (full BPTT), times None every t. Returns the parameters' keys, "x"
    and the initial states' keys. `term` must be written in autograd.numpy.
    """
    T = x.shape[1]
    k = T if horizon is None else min(horizon, T)
    P = {key: [np.array(value, dtype=float) for _ in range(T)] for key, value in params.items()}
    uses = ("xf", "xb") if kind == "bidirectional" else ("x",)
    X = {use: [np.array(x[:, t], dtype=float) for t in range(T)] for use in uses}
    S = {key: np.array(value, dtype=float) for key, value in states.items()}
    dE = autograd_grad(lambda P, X, S, t: term(t, ag_outputs(kind, activation, P, X, S)[t]),
                       argnum=(0, 1, 2))
    total = {key: np.zeros(np.shape(value)) for key, value in params.items()}
    total["x"] = np.zeros(x.shape)
    total.update({key: np.zeros(np.shape(value)) for key, value in states.items()})
    for t in range(T) if times is None else times:
        dP, dX, dS = dE(P, X, S, t)
        add_window(total, kind, T, t, k, dP, dX, dS)
    return total


def surrogate(do: np.ndarray):
    """E_t = Σ_n ⟨do_nt, o_nt⟩, whose gradient at o_t is do_t: the term of a backward pass
    that is handed dL/do (or dL/ds) instead of a loss."""
    return lambda t, o: anp.sum(do[:, t] * o)


def ag_ell(objective: str, y, d):
    """Σ_n ℓ(y_n, d_n) in autograd.numpy, textbook forms from y (no fused log-softmax)."""
    if objective == "mse":
        return anp.sum((y - d) ** 2)
    if objective == "bce":
        return -anp.sum(d * anp.log(y) + (1.0 - d) * anp.log(1.0 - y))
    if objective == "ce":
        return -anp.sum(d * anp.log(y))
    raise AssertionError(objective)
