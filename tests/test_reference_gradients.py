"""`grad` of the three networks against finite differences, brute force and itself.

Tolerances: per-key norm-relative errors (`strategies.assert_grads_close`).
Finite differences use the fourth-order stencil of `numpy_oracle`; on these
unsaturated problems it is accurate to ~1e-9 relative, so 1e-6 leaves a wide
margin without hiding anything. Keys smaller than FD_FLOOR · (1 + |L|) are
held to an absolute error of 1e-6 · FD_FLOOR · (1 + |L|): finite differences
resolve a derivative only down to ~ε|L|/h, so a relative error below that
scale would measure the stencil's rounding, not the gradient.

Comparisons of two code paths of the reference (band vs collapsed sum, sums
over `times`) hold to 1e-12: they compute the same sums in another order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import (
    central_differences,
    copies,
    fd_step,
    g,
    input_uses,
    loss_term,
    truncation_windows,
)
from numpy_oracle import phi as phi_of
from strategies import (
    ACTIVATIONS,
    COMBINATIONS,
    KINK_MARGIN,
    assert_grads_close,
    problems,
)

import reference as ref

FD_RTOL = 1e-6
FD_FLOOR = 1e-3
SAME_RTOL = 1e-12
SAME_FLOOR = 1e-300


def finite_difference_grads(problem) -> dict:
    """∂L/∂(every parameter, x, every initial state) by central differences of `loss`."""
    values = {key: np.array(value, dtype=float) for key, value in problem.inputs().items()}

    def L():
        return problem.model.loss(
            {key: values[key] for key in problem.params}, values["x"], problem.d,
            **{key: values[key] for key in problem.states},
        )

    h = fd_step(problem.model.activation)
    return {key: central_differences(L, values[key], h) for key in values}


# -- full BPTT against finite differences ----------------------------------------------


@pytest.mark.parametrize("output,objective", COMBINATIONS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_grad_matches_finite_differences(output, objective, data):
    """grad is the derivative of the reference's own `loss` (its stable log forms included).

    A spot check, small and few: test_reference_autograd checks every activation × output ×
    loss against autograd at 1e-10, and test_reference_loss the loss against its terms.
    """
    problem = data.draw(problems(combinations=((output, objective),), max_size=4,
                                 T=st.integers(1, 5)))
    grads = problem.grad()
    assert set(grads) == set(problem.params) | {"x"} | set(problem.states)
    scale = 1.0 + abs(problem.loss())
    assert_grads_close(grads, finite_difference_grads(problem), FD_RTOL, FD_FLOOR * scale,
                       f"{problem.model}, T={problem.T}, N={problem.N}")


def test_finite_difference_check_can_fail():
    """The check above notices a wrong gradient: W's gradient with one term dropped."""
    rng = np.random.default_rng(0)
    m = ref.Elman(3, 4, 2, activation="tanh", output="softmax", objective="ce")
    params = {key: rng.normal(0, 0.7, v.shape) for key, v in m.init_params(rng).items()}
    x, d = rng.normal(size=(2, 5, 3)), rng.integers(0, 2, (2, 5))
    s0 = rng.uniform(-0.5, 0.5, (2, 4))
    grads = m.grad(params, x, d, s0=s0)
    wrong = dict(grads, W=grads["W"] - m.grad(params, x, d, s0=s0, times=[4], horizon=1)["W"])
    W = params["W"].copy()
    numeric = central_differences(lambda: m.loss(dict(params, W=W), x, d, s0=s0), W, 1e-4)
    assert_grads_close({"W": grads["W"]}, {"W": numeric}, FD_RTOL, FD_FLOOR)
    with pytest.raises(AssertionError):
        assert_grads_close({"W": wrong["W"]}, {"W": numeric}, FD_RTOL, FD_FLOOR)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_omitted_initial_states_are_zeros(problem):
    zeros = {key: np.zeros_like(value) for key, value in problem.states.items()}
    with_zeros = problem.model.grad(problem.params, problem.x, problem.d, **zeros)
    omitted = problem.model.grad(problem.params, problem.x, problem.d)
    assert_grads_close(omitted, with_zeros, 0.0, SAME_FLOOR)


# -- truncation: the band of lags against the collapsed sum and a brute force --------------


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(0, 3), st.data())
def test_horizon_at_least_T_equals_full_bptt(problem, extra, data):
    times = data.draw(st.none() | st.lists(st.integers(0, problem.T - 1), max_size=problem.T))
    full = problem.grad(times=times)
    banded = problem.grad(times=times, horizon=problem.T + extra)
    assert_grads_close(banded, full, SAME_RTOL, SAME_FLOOR)


@settings(max_examples=60, deadline=None)
@given(problems(), st.data())
def test_single_time_gradients_sum_to_the_full_gradient(problem, data):
    horizon = data.draw(st.none() | st.integers(1, problem.T + 1), label="horizon")
    total = problem.grad(horizon=horizon)
    summed = {key: np.zeros_like(value) for key, value in total.items()}
    for t in range(problem.T):
        for key, value in problem.grad(horizon=horizon, times=[t]).items():
            summed[key] += value
    assert_grads_close(summed, total, SAME_RTOL, SAME_FLOOR)


def brute_force_truncated_grad(problem, t: int, k: int) -> dict:
    """Σ_{τ in the window} ∂E_t/∂θ_τ, θ_τ the copy of θ used at step τ, by finite differences.

    Each parameter gets T per-step copies in the independent forward of
    `numpy_oracle`; the derivative of E_t with respect to each copy in the
    window is taken on its own and the results are summed.
    """
    kind, T = problem.kind, problem.T
    P = copies(problem.params, T)
    X = input_uses(kind, problem.x)
    states = {key: np.array(value, dtype=float) for key, value in problem.states.items()}
    d = problem.d_dense
    uses, states_in_window = truncation_windows(kind, T, t, k)
    h = fd_step(problem.model.activation)

    def E():
        return loss_term(kind, problem.model, P, X, states, d, t)

    grads = {}
    for key in P:
        grads[key] = sum(central_differences(E, P[key][tau], h) for tau in uses[key])
    dx = np.zeros_like(problem.x)
    for use, inputs in X.items():
        for tau in uses[use]:
            dx[:, tau] += central_differences(E, inputs[:, tau], h)
    grads["x"] = dx
    for key, value in states.items():
        in_window = states_in_window[key]
        grads[key] = central_differences(E, value, h) if in_window else np.zeros_like(value)
    return grads


@settings(max_examples=100, deadline=None)
@given(problems(), st.data())
def test_truncated_grad_matches_brute_force_over_parameter_copies(problem, data):
    t = data.draw(st.integers(0, problem.T - 1), label="t")
    k = data.draw(st.integers(1, problem.T), label="horizon")
    got = problem.grad(horizon=k, times=[t])
    want = brute_force_truncated_grad(problem, t, k)
    scale = 1.0 + abs(problem.loss(times=[t]))
    assert_grads_close(got, want, FD_RTOL, FD_FLOOR * scale,
                       f"{problem.model}, T={problem.T}, t={t}, k={k}")


def test_brute_force_sees_truncation():
    """A horizon shorter than t + 1 changes the gradient, and the brute force agrees."""
    from strategies import Problem, random_params

    rng = np.random.default_rng(3)
    m = ref.Stacked(2, 3, 2, activation="tanh", output="linear", objective="mse")
    params = random_params(m, rng, 1.0)
    x, d = rng.normal(size=(1, 4, 2)), rng.normal(size=(1, 4, 2))
    states = {"s0": rng.uniform(-0.5, 0.5, (1, 3)), "z0": rng.uniform(-0.5, 0.5, (1, 3))}
    problem = Problem(m, params, x, d, states, 1.0)
    short, full = problem.grad(horizon=2, times=[3]), problem.grad(times=[3])
    assert np.linalg.norm(short["W1"] - full["W1"]) > 1e-3 * np.linalg.norm(full["W1"])
    assert np.all(short["x"][:, :2] == 0) and np.any(full["x"][:, :2] != 0)
    assert_grads_close(short, brute_force_truncated_grad(problem, 3, 2), FD_RTOL, FD_FLOOR)
    assert_grads_close(full, brute_force_truncated_grad(problem, 3, 4), FD_RTOL, FD_FLOOR)


# -- the bidirectional forward -------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(problems(kinds=("bidirectional",)))
def test_bidirectional_forward_is_two_elman_passes(problem):
    m, p = problem.model, problem.params
    trace = problem.forward()
    elman = ref.Elman(m.n_in, m.n_hidden, m.n_out, activation=m.activation,
                      output="linear", objective="mse", bias=m.bias)

    def elman_params(U, W, b, V, c):
        return {"U": U, "W": W, "b": b, "V": V, "c": c} if m.bias else {"U": U, "W": W, "V": V}

    zeros = np.zeros(m.n_out)
    fwd = elman.forward(
        elman_params(p["Uf"], p["Wf"], p.get("bf"), p["Vf"], p.get("c")),
        problem.x, s0=problem.states["f0"],
    )
    bwd = elman.forward(
        elman_params(p["Ub"], p["Wb"], p.get("bb"), p["Vb"], zeros),
        problem.x[:, ::-1], s0=problem.states["r0"],
    )
    # Equal up to rounding: a reversed (strided) x may round differently in matmul.
    np.testing.assert_allclose(trace.f, fwd.s, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(trace.r, bwd.s[:, ::-1], rtol=1e-13, atol=1e-15)
    o = fwd.o + bwd.o[:, ::-1]
    np.testing.assert_allclose(trace.o, o, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(trace.y, g(m.output, o), rtol=1e-12, atol=1e-15)


# -- softmax + cross-entropy: δo = (y − d)/N -----------------------------------------------


OUTPUT_LAYER = {"elman": (("V", "s"),), "stacked": (("V2", "z"),),
                "bidirectional": (("Vf", "f"), ("Vb", "r"))}


@settings(max_examples=60, deadline=None)
@given(problems(combinations=(("softmax", "ce"),), bias=True), st.data())
def test_softmax_ce_output_gradient_is_y_minus_d_over_N(problem, data):
    times = data.draw(st.none() | st.lists(st.integers(0, problem.T - 1), max_size=problem.T,
                                           unique=True))
    trace = problem.forward()
    selected = np.zeros(problem.T, dtype=bool)
    selected[list(range(problem.T)) if times is None else times] = True
    delta = (trace.y - problem.d_dense) / problem.N * selected[None, :, None]
    grads = problem.grad(times=times)
    want = {"c": delta.sum(axis=(0, 1))}
    for key, state in OUTPUT_LAYER[problem.kind]:
        h = getattr(trace, state)
        want[key] = sum(h[n, t][:, None] @ delta[n, t][None, :]
                        for n in range(problem.N) for t in range(problem.T))
    assert_grads_close({key: grads[key] for key in want}, want, SAME_RTOL, SAME_FLOOR)


# -- one step: step_backward against finite differences of step_forward ----------------------


@settings(max_examples=80, deadline=None)
@given(
    activation=st.sampled_from(ACTIVATIONS),
    N=st.integers(1, 3), n=st.integers(1, 6), dim=st.integers(1, 6),
    band=st.none() | st.integers(1, 4), bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_step_backward_is_the_vjp_of_step_forward(activation, N, n, dim, band, bias, seed):
    rng = np.random.default_rng(seed)
    phi = ref.HIDDEN[activation]
    for _ in range(50):              # redraw until no pre-activation is near a relu kink
        x = rng.normal(size=(N, n))
        s_prev = rng.uniform(-1, 1, (N, dim))
        U = rng.normal(0, 1 / np.sqrt(n), (n, dim))
        W = rng.normal(0, 1 / np.sqrt(dim), (dim, dim))
        b = rng.normal(0, 0.5, dim) if bias else None
        a = x @ U + s_prev @ W + (0 if b is None else b)
        if activation != "relu" or np.abs(a).min() >= KINK_MARGIN:
            break
    else:
        pytest.skip("no kink-free draw")        # (never happens in practice)
    upstream = rng.normal(size=(N, dim) if band is None else (band, N, dim))
    s_t = ref.step_forward(x, s_prev, U, W, b, phi)
    dx, ds_prev, dU, dW, db = ref.step_backward(upstream, x, s_prev, s_t, U, W, phi)
    h = fd_step(activation)
    B = 1 if band is None else band
    ups = upstream.reshape(B, N, dim)
    arrays = {"x": x.copy(), "s_prev": s_prev.copy(), "U": U.copy(), "W": W.copy(),
              "b": np.zeros(dim) if b is None else b.copy()}

    def vjp(lag):
        """∂⟨upstream[lag], s_t⟩/∂(x, s_prev, U, W, b) by finite differences."""
        def f():
            # Without a bias, b = 0 stands for it: the derivative there is what
            # step_backward's db reports.
            out = ref.step_forward(arrays["x"], arrays["s_prev"], arrays["U"], arrays["W"],
                                   arrays["b"], phi)
            return float((ups[lag] * out).sum())
        return {key: central_differences(f, arrays[key], h) for key in arrays}

    per_lag = [vjp(lag) for lag in range(B)]
    assert dx.shape == upstream.shape[:-1] + (n,)
    assert ds_prev.shape == upstream.shape
    got_x, got_s = dx.reshape(B, N, n), ds_prev.reshape(B, N, dim)
    got = {"U": dU, "W": dW, "db": db}
    want = {"U": sum(v["U"] for v in per_lag), "W": sum(v["W"] for v in per_lag),
            "db": sum(v["b"] for v in per_lag)}
    for lag in range(B):
        got[f"x[{lag}]"], want[f"x[{lag}]"] = got_x[lag], per_lag[lag]["x"]
        got[f"s_prev[{lag}]"], want[f"s_prev[{lag}]"] = got_s[lag], per_lag[lag]["s_prev"]
    assert_grads_close(got, want, FD_RTOL, FD_FLOOR, f"{activation}, band={band}")


# -- a known weak spot: softmax + bce with a saturated output --------------------------------


def softmax_bce_delta(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """dℓ/do for y = softmax(o), ℓ = −Σ_j [d_j log y_j + (1 − d_j) log(1 − y_j)], stably.

    log(1 − y_j) = logsumexp_{i≠j} o_i − logsumexp o, whose derivative in o_i
    is q⁽ʲ⁾_i [i ≠ j] − y_i with q⁽ʲ⁾ the softmax over the classes other than j;
    log y_j has derivative [i = j] − y_i. Summing over j:
        dℓ/do_i = k y_i − d_i − Σ_{j≠i} (1 − d_j) q⁽ʲ⁾_i
    where every term is bounded, so nothing cancels.
    """
    k = o.shape[-1]
    y = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    delta = k * y - d
    for j in range(k):
        others = np.delete(np.arange(k), j)
        q = np.exp(o[others] - o[others].max())
        delta[others] -= (1 - d[j]) * q / q.sum()
    return delta


@pytest.mark.parametrize("logits", [
    [28.4, -4.05, -39.7],        # y_0 = 1 − 8e-15
    [20.0, 0.0, -3.0],           # y_0 = 1 − 2e-9
    [1.0, -0.5, 0.3],            # unsaturated, as a control
])
def test_softmax_bce_output_gradient_when_an_output_saturates(logits):
    """Elman with U = W = V = 0 has o_t = c, so grads["c"] is Σ_t dℓ/do_t / N.

    The loss stays accurate here (it is computed from log-sum-exps), so its
    gradient must too. Checked against the bounded closed form above and
    against finite differences of the reference's own loss.
    """
    c = np.array(logits)
    m = ref.Elman(1, 1, 3, activation="tanh", output="softmax", objective="bce")
    params = {"U": np.zeros((1, 1)), "W": np.zeros((1, 1)), "b": np.zeros(1),
              "V": np.zeros((1, 3)), "c": c.copy()}
    x = np.zeros((1, 1, 1))
    d = np.array([[[0.1154, 0.894, 0.0]]])
    got = m.grad(params, x, d)["c"]
    want = softmax_bce_delta(c, d[0, 0])
    numeric = central_differences(lambda: m.loss(dict(params, c=c), x, d), c, 1e-4)
    np.testing.assert_allclose(numeric, want, rtol=1e-6, atol=1e-12)   # the oracle is right
    # The same bounded sums in another order: the errors are ≤ 4e-16 (2e-16 absolute).
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 5), scale=st.floats(1.0, 40.0), seed=st.integers(0, 2**32 - 1),
    hard=st.booleans(),
)
def test_softmax_bce_output_gradient_over_saturating_logits(k, scale, seed, hard):
    """grads["c"] = dℓ/do for o = c, for logits up to ±40 (y_j within e⁻⁴⁰ of 1).

    Against the bounded closed form and against finite differences of the
    reference's loss (computed from log-sum-exps, accurate at any logit).
    """
    rng = np.random.default_rng(seed)
    c = rng.normal(0, scale, k)
    d = rng.uniform(0, 1, k)
    if hard:
        d = np.round(d)
    m = ref.Elman(1, 1, k, activation="tanh", output="softmax", objective="bce")
    params = {"U": np.zeros((1, 1)), "W": np.zeros((1, 1)), "b": np.zeros(1),
              "V": np.zeros((1, k)), "c": c.copy()}
    x, targets = np.zeros((1, 1, 1)), d[None, None]
    got = m.grad(params, x, targets)["c"]
    numeric = central_differences(lambda: m.loss(dict(params, c=c), x, targets), c, 1e-4)
    want = softmax_bce_delta(c, d)
    # Both sum k + 1 terms of size ≤ 1 per entry, which may cancel (d one-hot on
    # the top class leaves ~e^(−gap)): held to 1e-10 relative, or 1e-15·k absolute.
    assert_grads_close({"c": got}, {"c": want}, 1e-10, 1e-5 * k, f"c={c}, d={d}")
    assert_grads_close({"c": got}, {"c": numeric}, FD_RTOL, FD_FLOOR, f"c={c}, d={d}")


# -- one layer: layer_forward and layer_backward ----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(problems(kinds=("elman",)), st.integers(0, 2**32 - 1))
def test_layer_backward_is_the_vjp_of_layer_forward(problem, seed):
    """layer_forward equals the independent forward; layer_backward with a lag-0
    injection g (T, 1, N, d) is the gradient of Σ_τ ⟨g_τ, s_τ⟩ (full BPTT)."""
    m, p = problem.model, problem.params
    phi = ref.HIDDEN[m.activation]
    values = {"U": p["U"].copy(), "W": p["W"].copy(), "b": p.get("b", np.zeros(m.n_hidden)),
              "x": problem.x.copy(), "s0": problem.states["s0"].copy()}
    s = ref.layer_forward(values["x"], values["s0"], values["U"], values["W"], values["b"], phi)
    oracle = copies({"U": values["U"], "W": values["W"], "b": values["b"]}, problem.T)
    want_s = forward_states(m.activation, problem.x, problem.states["s0"], oracle)
    np.testing.assert_allclose(s, want_s, rtol=1e-13, atol=1e-15)

    g_upstream = np.random.default_rng(seed).normal(size=s.shape)          # (N, T, d)
    inject = g_upstream.transpose(1, 0, 2)[:, None]                        # (T, 1, N, d)
    dU, dW, db, dx, ds0 = ref.layer_backward(inject, values["x"], s, values["s0"],
                                             values["U"], values["W"], phi)
    assert dx.shape == (problem.T, 1, problem.N, m.n_in)

    def f():
        out = ref.layer_forward(values["x"], values["s0"], values["U"], values["W"],
                                values["b"], phi)
        return float((g_upstream * out).sum())

    h = fd_step(m.activation)
    want = {key: central_differences(f, values[key], h) for key in values}
    got = {"U": dU, "W": dW, "b": db, "x": dx[:, 0].transpose(1, 0, 2), "s0": ds0}
    assert_grads_close(got, want, FD_RTOL, FD_FLOOR * (1 + abs(f())))
    banded = ref.layer_backward(inject, values["x"], s, values["s0"], values["U"], values["W"],
                                phi, horizon=problem.T)
    full = {"U": dU, "W": dW, "b": db, "x": dx[:, 0], "s0": ds0}
    with_band = dict(zip(("U", "W", "b", "x", "s0"), banded, strict=True))
    with_band["x"] = with_band["x"].sum(axis=1)
    assert_grads_close(with_band, full, SAME_RTOL, SAME_FLOOR, "horizon T vs full")


def forward_states(activation, x, s0, P):
    """States of one layer from the independent forward of `numpy_oracle`."""
    s, states = s0, []
    for t in range(x.shape[1]):
        s = phi_of(activation, x[:, t] @ P["U"][t] + s @ P["W"][t] + P["b"][t])
        states.append(s)
    return np.stack(states, axis=1)
