"""An independent autodiff oracle: HIPS autograd on forwards written here from DESIGN.md.

The three networks and the loss are re-implemented below in autograd.numpy,
straight from the equations (y = g(o), ℓ from y, no fused forms), and
differentiated by `autograd.grad`.

Full BPTT differentiates L with respect to the shared parameters, x and the
initial states. Truncated BPTT has no stop-gradient in autograd, so it is
written as the definition in DESIGN.md: every parameter (and every use of the
input) gets one separate argument per time step, `autograd.grad` gives
∂E_t/∂θ_τ for every copy τ, and the copies inside the window of E_t are summed.

Agreement: per-key norm-relative error ≤ 1e-10. Keys below 1e-6 · (1 + G),
G the global norm of the whole gradient, are held to an absolute error of
1e-16 · (1 + G) instead, the rounding level of two float64 computations of
the same sums in different orders (the problems' inputs and weights are O(1),
hence the 1); e.g. W when T = 1 and the initial state is zero is exactly 0.

A softmax over a single class is left out of the comparison: y ≡ 1, every
gradient is exactly zero, the reference returns exact zeros and autograd
rounding noise of a few ε · |L|, which no relative test can judge. A test
of its own checks the exact zeros.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import add_window
from strategies import ACTIVATIONS, COMBINATIONS, assert_grads_close, problems

RTOL = 1e-10


def hidden(name, a):
    if name == "tanh":
        return anp.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-a))
    if name == "relu":
        return anp.maximum(a, 0.0)
    return a


def output(name, o):
    if name == "linear":
        return o
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-o))
    if name == "tanh":
        return anp.tanh(o)
    e = anp.exp(o)                                   # softmax
    return e / anp.sum(e, axis=-1, keepdims=True)


def logsumexp(a, axis=-1, keepdims=False):
    """log Σ e^a, shifted by the maximum (which cancels in the derivative as in the value)."""
    peak = anp.max(a, axis=axis, keepdims=True)
    total = peak + anp.log(anp.sum(anp.exp(a - peak), axis=axis, keepdims=True))
    return total if keepdims else anp.squeeze(total, axis=axis)


def log_y_and_log_1_minus_y(name, o):
    """log y and log(1 − y) from the logits, exactly as far as float64 goes.

    relu states grow without bound, so a logit of 25 (y = 1 − 1e-11) is an
    ordinary draw, where the textbook log(1 − y) has lost most of its digits.
    softmax: 1 − y_j = Σ_{i≠j} y_i, so log(1 − y_j) = logsumexp_{i≠j} o_i − logsumexp o.
    """
    if name == "sigmoid":
        return -anp.logaddexp(0.0, -o), -anp.logaddexp(0.0, o)
    total = logsumexp(o, axis=-1, keepdims=True)
    k = o.shape[-1]
    others = [logsumexp(anp.concatenate([o[..., :j], o[..., j + 1:]], axis=-1), axis=-1,
                        keepdims=True) for j in range(k)]
    return o - total, anp.concatenate(others, axis=-1) - total


def ell(objective, y, d, output_name=None, o=None):
    """ℓ(y, d) per sequence: mse Σ(y − d)², bce −Σ[d log y + (1−d) log(1−y)], ce −Σ d log y."""
    if objective == "mse":
        return anp.sum((y - d) ** 2, axis=-1)
    if objective == "bce":
        log_y, log_1my = log_y_and_log_1_minus_y(output_name, o)
        return -anp.sum(d * log_y + (1.0 - d) * log_1my, axis=-1)
    return -anp.sum(d * (o - logsumexp(o, axis=-1, keepdims=True)), axis=-1)


def recurrence(xs, h0, Us, Ws, bs, act, backward_in_time=False):
    """h_t = φ(x_t U_t + h_prev W_t + b_t), h_prev the state one step earlier (or later)."""
    T = len(xs)
    states = [None] * T
    h = h0
    for t in (reversed(range(T)) if backward_in_time else range(T)):
        a = anp.dot(xs[t], Us[t]) + anp.dot(h, Ws[t])
        if bs is not None:
            a = a + bs[t]
        h = states[t] = hidden(act, a)
    return states


def loss(kind, spec, P, X, S, d, times):
    """Σ_{t ∈ times} E_t with per-step parameters P[key][t] and input uses X[use][t]."""
    act = spec.activation
    if kind == "elman":
        top = recurrence(X["x"], S["s0"], P["U"], P["W"], P.get("b"), act)
        o = [anp.dot(top[t], P["V"][t]) for t in range(len(top))]
    elif kind == "stacked":
        s = recurrence(X["x"], S["s0"], P["U"], P["W1"], P.get("b1"), act)
        z = recurrence(s, S["z0"], P["V1"], P["W2"], P.get("b2"), act)
        o = [anp.dot(z[t], P["V2"][t]) for t in range(len(z))]
    else:
        f = recurrence(X["xf"], S["f0"], P["Uf"], P["Wf"], P.get("bf"), act)
        r = recurrence(X["xb"], S["r0"], P["Ub"], P["Wb"], P.get("bb"), act,
                       backward_in_time=True)
        o = [anp.dot(f[t], P["Vf"][t]) + anp.dot(r[t], P["Vb"][t]) for t in range(len(f))]
    total = 0.0
    for t in times:
        o_t = o[t] + P["c"][t] if "c" in P else o[t]
        y_t = output(spec.output, o_t)
        total = total + anp.sum(ell(spec.objective, y_t, d[:, t], spec.output, o_t)) / d.shape[0]
    return total


def autograd_full(problem, times):
    """dL/d(params, x, initial states) with every parameter shared across steps."""
    kind, T = problem.kind, problem.T
    d = problem.d_dense

    def L(inputs):
        params, x, states = inputs
        P = {key: [value] * T for key, value in params.items()}
        xs = [x[:, t] for t in range(T)]
        X = {"xf": xs, "xb": xs} if kind == "bidirectional" else {"x": xs}
        return loss(kind, problem.model, P, X, states, d, times)

    dparams, dx, dstates = autograd_grad(L)((problem.params, problem.x, problem.states))
    return {**dparams, "x": dx, **dstates}


def autograd_truncated(problem, times, k):
    """Σ_{t ∈ times} Σ_{τ in the window of E_t} ∂E_t/∂θ_τ over per-step copies."""
    kind, T = problem.kind, problem.T
    d = problem.d_dense
    P = {key: [np.array(value) for _ in range(T)] for key, value in problem.params.items()}
    uses = ("xf", "xb") if kind == "bidirectional" else ("x",)
    X = {use: [problem.x[:, t].copy() for t in range(T)] for use in uses}
    E = autograd_grad(lambda P, X, S, t: loss(kind, problem.model, P, X, S, d, [t]),
                      argnum=(0, 1, 2))
    total = {key: np.zeros_like(value) for key, value in problem.inputs().items()}
    for t in times:
        dP, dX, dS = E(P, X, problem.states, t)
        add_window(total, kind, T, t, k, dP, dX, dS)
    return total


def floor(want: dict) -> float:
    return 1e-6 * (1.0 + float(np.sqrt(sum(np.sum(v * v) for v in want.values()))))


@pytest.mark.parametrize("output_name,objective", COMBINATIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_full_bptt_matches_autograd(output_name, objective, data):
    problem = data.draw(problems(combinations=((output_name, objective),),
                                 single_class_softmax=False))
    times = data.draw(st.none() | st.lists(st.integers(0, problem.T - 1), min_size=1,
                                           max_size=problem.T, unique=True), label="times")
    want = autograd_full(problem, range(problem.T) if times is None else times)
    got = problem.grad(times=times)
    assert_grads_close(got, want, RTOL, floor(want), f"{problem.model}, T={problem.T}")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_truncated_bptt_matches_autograd_over_parameter_copies(activation, data):
    problem = data.draw(problems(activations=(activation,), single_class_softmax=False))
    k = data.draw(st.integers(1, problem.T), label="horizon")
    times = data.draw(st.none() | st.lists(st.integers(0, problem.T - 1), min_size=1,
                                           max_size=problem.T, unique=True), label="times")
    want = autograd_truncated(problem, range(problem.T) if times is None else times, k)
    got = problem.grad(horizon=k, times=times)
    assert_grads_close(got, want, RTOL, floor(want),
                       f"{problem.model}, T={problem.T}, k={k}, times={times}")


@settings(max_examples=15, deadline=None)
@given(problems(single_class_softmax=False))
def test_copies_with_the_whole_window_are_full_bptt(problem):
    """The two oracle formulations agree with each other (k = T keeps every copy)."""
    times = range(problem.T)
    full, copies = autograd_full(problem, times), autograd_truncated(problem, times, problem.T)
    assert_grads_close(copies, full, RTOL, floor(full))


@settings(max_examples=20, deadline=None)
@given(problems(combinations=(("softmax", "mse"), ("softmax", "ce")), max_size=1), st.data())
def test_single_class_softmax_has_exactly_zero_gradients(problem, data):
    """y = softmax(o) over one class is 1 whatever o is: nothing can change the loss."""
    k = data.draw(st.none() | st.integers(1, problem.T), label="horizon")
    assert problem.model.n_out == 1
    for key, value in problem.grad(horizon=k).items():
        assert not np.any(value), key
