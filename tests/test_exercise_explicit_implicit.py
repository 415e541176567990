"""The `explicit-implicit` exercise (seed 004): every derivative against finite differences of
numpy_oracle's forward and against autograd, and ∂L/∂W against BPTT.

Three independent methods, none of them `reference.ordered_network` (which `solve` calls):
central differences of the oracle's own forward pass, HIPS autograd on a forward
written here in autograd.numpy, and the reference's backward pass (BPTT), which
computes the same ∂L/∂W backwards instead of forwards.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import jacobian
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import _layer, copies, fd_step
from numpy_oracle import phi as oracle_phi
from strategies import problems

from exercises import explicit_implicit
from exercises.spec import Variant
from reference.network import as_injection
from reference.recurrence import layer_backward

elman_problems = problems(kinds=("elman",), max_size=4, T=st.integers(1, 5))


def _variant(problem) -> Variant:
    m = problem.model
    return Variant(activation=m.activation, output="linear", objective="mse", n_in=m.n_in,
                   n_hidden=m.n_hidden, n_out=m.n_out, T=problem.T, N=problem.N)


def _oracle_states(problem, W=None):
    p = problem.params
    W = p["W"] if W is None else W
    T = problem.T
    every_step = copies({"U": p["U"], "W": W, "b": p.get("b")}, T) if p.get("b") is not None \
        else {**copies({"U": p["U"], "W": W}, T), "b": None}
    return _layer(problem.x, problem.states["s0"], every_step["U"], every_step["W"],
                  every_step["b"], problem.model.activation)[0]


@settings(max_examples=25, deadline=None)
@given(elman_problems)
def test_total_derivative_matches_central_differences_of_the_forward(problem):
    W = problem.params["W"].copy()
    s = _oracle_states(problem)
    total = explicit_implicit.solve_total(_variant(problem), problem.states["s0"], s, W)
    h = fd_step(problem.model.activation)
    numeric = np.zeros_like(total)
    for j, k in np.ndindex(W.shape):                 # the fourth-order central stencil
        values = []
        for step in (2 * h, h, -h, -2 * h):
            moved = W.copy()
            moved[j, k] += step
            values.append(_oracle_states(problem, moved))
        numeric[..., j, k] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
    assert np.allclose(total, numeric, rtol=1e-6, atol=1e-8)


def _ag_phi(name, a):
    if name == "tanh":
        return anp.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-a))
    if name == "relu":
        return anp.maximum(a, 0.0)
    return a


@settings(max_examples=25, deadline=None)
@given(elman_problems)
def test_explicit_total_and_loss_gradient_match_autograd(problem):
    act, p = problem.model.activation, problem.params
    b = p.get("b", np.zeros(p["W"].shape[0]))
    x, s0 = problem.x, problem.states["s0"]
    s = _oracle_states(problem)
    variant = _variant(problem)

    def states(W):
        s_prev, out = s0, []
        for t in range(problem.T):
            s_prev = _ag_phi(act, anp.dot(x[:, t], p["U"]) + anp.dot(s_prev, W) + b)
            out.append(s_prev)
        return anp.stack(out, axis=1)                          # (N, T, d)

    total = explicit_implicit.solve_total(variant, s0, s, p["W"])
    assert np.allclose(total, jacobian(states)(p["W"]), rtol=1e-9, atol=1e-12)

    for t in range(problem.T):                                 # s_{t-1} held constant
        s_prev = s0 if t == 0 else s[:, t - 1]

        def one_step(W, t=t, s_prev=s_prev):
            return _ag_phi(act, anp.dot(x[:, t], p["U"]) + anp.dot(s_prev, W) + b)

        explicit = explicit_implicit.solve_explicit(variant, s_prev, s[:, t])
        assert np.allclose(explicit, jacobian(one_step)(p["W"]), rtol=1e-9, atol=1e-12)

    dL_ds = np.random.default_rng(problem.N * 100 + problem.T).normal(size=s.shape)
    dW = explicit_implicit.solve_loss_gradient(variant, dL_ds, s0, s, p["W"])
    assert np.allclose(dW, jacobian(lambda W: anp.sum(dL_ds * states(W)))(p["W"]),
                       rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(elman_problems)
def test_forward_mode_gives_what_bptt_gives_backwards(problem):
    """Seed 004: ∂L/∂W = Σ_t ∂L_t/∂s_t Σ_k ∂s_t/∂s_k ∂⁺s_k/∂W is BPTT's dW."""
    p, s0 = problem.params, problem.states["s0"]
    s = _oracle_states(problem)
    dL_ds = np.random.default_rng(problem.T).normal(size=s.shape)
    dW = explicit_implicit.solve_loss_gradient(_variant(problem), dL_ds, s0, s, p["W"])
    _, bptt_dW, *_ = layer_backward(as_injection(dL_ds), problem.x, s, s0, p["U"], p["W"],
                                    problem.model.phi)
    assert np.allclose(dW, bptt_dW, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(elman_problems)
def test_the_short_circuit_sum_equals_the_recursion(problem):
    """Seed 004's unrolled form ∂s_t/∂W = Σ_{k≤t} ∂s_t/∂s_k ∂⁺s_k/∂W, the products of step
    Jacobians ∂s_j/∂s_{j-1} = diag(φ'_j) Wᵀ written out here, equals explicit + implicit."""
    p, s0 = problem.params, problem.states["s0"]
    act = problem.model.activation
    s = _oracle_states(problem)
    variant = _variant(problem)
    dphi = problem.model.phi.derivative_from_state(s)          # φ'(a) through the state
    N, T, d = s.shape
    total = explicit_implicit.solve_total(variant, s0, s, p["W"])
    for t in range(T):
        unrolled = np.zeros((N, d, d, d))
        chain = np.broadcast_to(np.eye(d), (N, d, d)).copy()     # ∂s_t/∂s_t
        for k in range(t, -1, -1):
            s_before = s0 if k == 0 else s[:, k - 1]
            explicit = explicit_implicit.solve_explicit(variant, s_before, s[:, k])
            unrolled += np.einsum("nim,nmjk->nijk", chain, explicit)
            chain = chain @ (dphi[:, k][:, :, None] * p["W"].T)  # ∂s_t/∂s_{k-1}
        assert np.allclose(total[:, t], unrolled, rtol=1e-10, atol=1e-12), (act, t)


def test_explicit_implicit_and_the_seed_s_words_are_in_the_notebook_text():
    text = " ".join(stage.docstring + stage.title for stage in explicit_implicit.EXERCISE.stages)
    assert "explicit" in text and "implicit" in text and "∂⁺" in text


def test_oracle_phi_is_the_variant_s_phi():
    """The oracle's φ is the one the exercise differentiates (a guard for the tests above)."""
    a = np.linspace(-2, 2, 9)
    for name in ("tanh", "sigmoid", "relu", "identity"):
        assert np.allclose(oracle_phi(name, a), explicit_implicit._phi(
            Variant(activation=name, output="linear", objective="mse", n_in=1, n_hidden=1,
                    n_out=1, T=1, N=1)).apply(a))
