"""The lecture notes' worked questions against the reference.

Seed 001: the scalar linear RNN's closed-form sums equal `grad`.
Seed 000: Q2 (ΔV1 over a single timestep) and Q3 (∂E_{t+1}/∂U over two
timesteps, three chain-rule terms), written out here as explicit Jacobian
products, equal `Stacked.grad` with horizon 1 and 2.
Seed 003: `state_jacobians` equals finite differences of s_{T−1} with
respect to s_k, and its norms vanish or explode as the notes say.

The forward values used to build the hand-expanded terms come from the
independent forward in `numpy_oracle`, not from the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy_oracle import central_differences, copies, fd_step, forward, input_uses, phi, phi_prime
from strategies import (
    ACTIVATIONS,
    COMBINATIONS,
    Problem,
    assert_grads_close,
    problems,
    random_params,
)

import reference as ref

# -- seed 001: the scalar linear RNN ------------------------------------------------------

coefficient = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)
value = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def scalar_problems(draw):
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    return dict(
        u=draw(coefficient), v=draw(coefficient), b_a=draw(coefficient),
        w_y=draw(coefficient), b_y=draw(coefficient),
        x=draw(arrays(float, (N, T), elements=value)),
        d=draw(arrays(float, (N, T), elements=value)),
        a0=draw(arrays(float, (N,), elements=value)),
    )


@settings(max_examples=150, deadline=None)
@given(scalar_problems())
def test_seed001_closed_forms_equal_grad(p):
    u, v, b_a, w_y, b_y, x, d, a0 = (p[k] for k in ("u", "v", "b_a", "w_y", "b_y", "x", "d", "a0"))
    N, T = x.shape
    # The forward pass, from the notes: a_t = v a_{t-1} + u x_t + b_a, ŷ_t = w_y a_t + b_y.
    a, a_prev = np.empty((N, T)), a0
    for t in range(T):
        a_prev = a[:, t] = v * a_prev + u * x[:, t] + b_a
    y_hat = w_y * a + b_y
    z = 2.0 * (y_hat - d) / N          # ∂L/∂ŷ_t for L = (1/N) Σ (ŷ − d)²

    closed = ref.scalar_linear_closed_forms(u, v, b_a, w_y, x, z, a0=a0)
    m = ref.Elman(1, 1, 1, activation="identity", output="linear", objective="mse")
    params = {"U": [[u]], "W": [[v]], "b": [b_a], "V": [[w_y]], "c": [b_y]}
    grads = m.grad(params, x[..., None], d[..., None], s0=a0[:, None])
    got = {"u": grads["U"], "v": grads["W"], "b_a": grads["b"], "w_y": grads["V"],
           "b_y": grads["c"], "a0": grads["s0"]}
    want = {key: np.reshape(closed[key], np.shape(got[key])) for key in got}
    # The same sums in another order: their rounding is ε times the sums of |terms|,
    # which the closed forms of the absolute values bound.
    size = ref.scalar_linear_closed_forms(abs(u), abs(v), abs(b_a), abs(w_y), abs(x), abs(z),
                                          a0=abs(a0))
    for key in got:
        floor = 1e-300 + np.linalg.norm(size[key])
        assert_grads_close({key: got[key]}, {key: want[key]}, 1e-10, floor, f"seed 001 {key}")


# -- seed 000: the two-layer s→z network ----------------------------------------------------


def output_jacobian(output: str, y: np.ndarray) -> np.ndarray:
    """∂y/∂o as a matrix J[j, i] = ∂y_j/∂o_i for one output row y (k,)."""
    if output == "linear":
        return np.eye(len(y))
    if output == "sigmoid":
        return np.diag(y * (1 - y))
    if output == "tanh":
        return np.diag(1 - y * y)
    if output == "softmax":                 # seed 002, case 1: the full Jacobian
        return np.diag(y) - np.outer(y, y)
    raise AssertionError(output)


def loss_gradient_wrt_y(objective: str, y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """∂ℓ/∂y for one output row."""
    if objective == "mse":
        return 2 * (y - d)
    if objective == "bce":
        return -d / y + (1 - d) / (1 - y)
    if objective == "ce":
        return -d / y
    raise AssertionError(objective)


def output_deltas(model, y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """∂E_t/∂o_t (N, T, k) = (1/N) ∂ℓ/∂y_t · ∂y_t/∂o_t, the chain rule's first two factors."""
    N, T, _ = y.shape
    delta = np.empty_like(y)
    for n in range(N):
        for t in range(T):
            delta[n, t] = (loss_gradient_wrt_y(model.objective, y[n, t], d[n, t])
                           @ output_jacobian(model.output, y[n, t])) / N
    return delta


def stacked_forward(problem):
    """The independent forward of the two-layer network (states and pre-activations)."""
    return forward("stacked", problem.model, copies(problem.params, problem.T),
                   input_uses("stacked", problem.x), problem.states)


@settings(max_examples=60, deadline=None)
@given(problems(kinds=("stacked",)), st.floats(0.01, 1.0), st.data())
def test_seed000_q2_single_timestep_update_of_V1(problem, lr, data):
    """Q2: ΔV1 = −α ∂E_t/∂V1 = −α s_tᵀ [(δo_t V2ᵀ) ⊙ φ'(a^z_t)], summed over sequences."""
    t = data.draw(st.integers(0, problem.T - 1), label="t")
    m, p = problem.model, problem.params
    fw = stacked_forward(problem)
    delta_o = output_deltas(m, fw["y"], problem.d_dense)
    dE_dz = delta_o[:, t] @ p["V2"].T                                 # ∂E_t/∂z_t
    dE_da = dE_dz * phi_prime(m.activation, fw["a_z"][:, t])          # ⊙ φ'(z_t)
    delta_V1 = -lr * sum(np.outer(fw["s"][n, t], dE_da[n]) for n in range(problem.N))

    grads = problem.grad(horizon=1, times=[t])
    updated = ref.sgd(p, grads, lr)
    scale = sum(np.linalg.norm(np.outer(fw["s"][n, t], dE_da[n])) for n in range(problem.N))
    assert_grads_close({"V1": -lr * grads["V1"], "update": updated["V1"] - p["V1"]},
                       {"V1": delta_V1, "update": delta_V1}, 1e-10, 1e-300 + lr * scale)


def q3_terms(problem, t: int):
    """The three terms of seed 000 Q3 for ∂E_{t+1}/∂U, each as explicit Jacobian products.

    Column convention, one sequence at a time: J[i, j] = ∂out_i/∂in_j, and the
    explicit ∂s_τ/∂U is the 3-tensor S_τ[i, p, q] = φ'(a^s_τ,i) x_τ,p [i = q].
        term 1: ∂E/∂z_{t+1} · ∂z_{t+1}/∂s_{t+1} · ∂s_{t+1}/∂U
        term 2: ∂E/∂z_{t+1} · ∂z_{t+1}/∂z_t · ∂z_t/∂s_t · ∂s_t/∂U
        term 3: ∂E/∂z_{t+1} · ∂z_{t+1}/∂s_{t+1} · ∂s_{t+1}/∂s_t · ∂s_t/∂U
    with ∂z/∂s = diag(φ'(a^z)) V1ᵀ, ∂z_{t+1}/∂z_t = diag(φ'(a^z_{t+1})) W2ᵀ,
    ∂s_{t+1}/∂s_t = diag(φ'(a^s_{t+1})) W1ᵀ.
    """
    m, p = problem.model, problem.params
    fw = stacked_forward(problem)
    delta_o = output_deltas(m, fw["y"], problem.d_dense)
    d1, n_in = m.n_hidden, m.n_in
    terms = [np.zeros((n_in, d1)) for _ in range(3)]
    for n in range(problem.N):
        dphi_z1 = np.diag(phi_prime(m.activation, fw["a_z"][n, t + 1]))
        dphi_z0 = np.diag(phi_prime(m.activation, fw["a_z"][n, t]))
        dphi_s1 = phi_prime(m.activation, fw["a_s"][n, t + 1])
        dphi_s0 = phi_prime(m.activation, fw["a_s"][n, t])
        dE_dz1 = delta_o[n, t + 1] @ p["V2"].T                   # ∂E_{t+1}/∂z_{t+1}, (d2,)
        dz1_ds1 = dphi_z1 @ p["V1"].T                            # (d2, d1)
        dz1_dz0 = dphi_z1 @ p["W2"].T                            # (d2, d2)
        dz0_ds0 = dphi_z0 @ p["V1"].T                            # (d2, d1)
        ds1_ds0 = np.diag(dphi_s1) @ p["W1"].T                   # (d1, d1)
        eye = np.eye(d1)
        ds1_dU = np.einsum("i,p,iq->ipq", dphi_s1, problem.x[n, t + 1], eye)   # (d1, n, d1)
        ds0_dU = np.einsum("i,p,iq->ipq", dphi_s0, problem.x[n, t], eye)
        terms[0] += np.einsum("i,ipq->pq", dE_dz1 @ dz1_ds1, ds1_dU)
        terms[1] += np.einsum("i,ipq->pq", dE_dz1 @ dz1_dz0 @ dz0_ds0, ds0_dU)
        terms[2] += np.einsum("i,ipq->pq", dE_dz1 @ dz1_ds1 @ ds1_ds0, ds0_dU)
    return terms


@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_seed000_q3_three_terms_over_two_timesteps(activation, data):
    problem = data.draw(problems(kinds=("stacked",), activations=(activation,),
                                 T=st.integers(2, 8)))
    t = data.draw(st.integers(0, problem.T - 2), label="t")
    terms = q3_terms(problem, t)
    total = sum(terms)
    got = problem.grad(horizon=2, times=[t + 1])["U"]
    scale = 1e-300 + sum(np.linalg.norm(term) for term in terms)
    assert_grads_close({"U": got}, {"U": total}, 1e-10, scale, f"Q3 at t={t}")
    # A dead relu unit, or a softmax over one class (y ≡ 1), can zero a term legitimately.
    constant_output = problem.model.output == "softmax" and problem.model.n_out == 1
    if activation != "relu" and not constant_output:
        for i, term in enumerate(terms, 1):
            assert np.linalg.norm(term) > 1e-8 * scale, f"term {i} is zero"
        # So the check above would notice a missing third term.
        assert np.linalg.norm(got - (terms[0] + terms[1])) > 1e-6 * np.linalg.norm(got)


@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("output,objective", COMBINATIONS)
def test_seed000_q3_fixed_examples(N, output, objective):
    """Q3 on fixed draws: three nonzero terms, and horizon 2 is neither 1 nor 3."""
    rng = np.random.default_rng(N)
    m = ref.Stacked(3, 4, 3, activation="tanh", output=output, objective=objective,
                    n_hidden2=2)
    T, t = 4, 2
    params = random_params(m, rng, 1.0)
    x = rng.normal(size=(N, T, 3))
    d = (rng.integers(0, 3, (N, T)) if objective == "ce" else
         rng.uniform(0, 1, (N, T, 3)) if objective == "bce" else rng.normal(size=(N, T, 3)))
    states = {"s0": rng.uniform(-0.5, 0.5, (N, 4)), "z0": rng.uniform(-0.5, 0.5, (N, 2))}
    problem = Problem(m, params, x, d, states, 1.0)
    terms = q3_terms(problem, t)
    got = problem.grad(horizon=2, times=[t + 1])["U"]
    np.testing.assert_allclose(got, sum(terms), rtol=1e-10, atol=1e-14)
    for term in terms:
        assert np.linalg.norm(term) > 1e-3 * np.linalg.norm(got)
    without_third = terms[0] + terms[1]
    assert np.linalg.norm(got - without_third) > 1e-3 * np.linalg.norm(got)
    for other in (1, 3):
        assert not np.allclose(problem.grad(horizon=other, times=[t + 1])["U"], got)


# -- seed 003: vanishing and exploding gradients ------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(problems(kinds=("elman",)))
def test_seed003_state_jacobians_equal_finite_differences(problem):
    """J[n, k] = ∂s_{T−1}/∂s_k: perturb s_k and re-run the recurrence from step k + 1."""
    m, p = problem.model, problem.params
    J = ref.state_jacobians(m, p, problem.x, s0=problem.states["s0"])
    N, T, dim = problem.N, problem.T, m.n_hidden
    assert J.shape == (N, T, dim, dim)
    s = forward("elman", m, copies(p, T), input_uses("elman", problem.x), problem.states)["s"]
    b = p.get("b", np.zeros(dim))
    h = fd_step(m.activation)
    for n in range(N):
        for k in range(T):
            s_k = s[n, k].copy()

            def last_state(i, k=k, s_k=s_k, n=n):
                state = s_k
                for tau in range(k + 1, T):
                    state = phi(m.activation, problem.x[n, tau] @ p["U"] + state @ p["W"] + b)
                return state[i]

            numeric = np.stack([central_differences(lambda i=i: last_state(i), s_k, h)
                                for i in range(dim)])          # rows: i of s_{T−1}
            assert_grads_close({"J": J[n, k]}, {"J": numeric}, 1e-6, 1e-4,
                               f"n={n}, k={k}, T={T}")


def orthogonal(rng, dim):
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 8), st.floats(0.2, 0.9), st.integers(0, 2**32 - 1))
def test_seed003_norms_vanish_for_small_W_with_tanh(dim, T, rho, seed):
    """‖W‖₂ = ρ < 1 and |tanh'| ≤ 1: ‖∂s_{T−1}/∂s_k‖ ≤ ρ^(T−1−k), shrinking with distance."""
    rng = np.random.default_rng(seed)
    m = ref.Elman(3, dim, 2, activation="tanh")
    W = rng.normal(size=(dim, dim))
    params = dict(random_params(m, rng, 1.0), W=W * rho / np.linalg.norm(W, 2))
    x = rng.normal(size=(2, T, 3))
    J = ref.state_jacobians(m, params, x)
    norms = ref.jacobian_norms(J)
    # jacobian_norms is the spectral norm: the largest singular value.
    np.testing.assert_allclose(norms, np.linalg.svd(J, compute_uv=False)[..., 0], rtol=1e-12)
    distance = T - 1 - np.arange(T)
    assert np.all(norms <= rho ** distance * (1 + 1e-12))
    assert np.all(np.diff(norms, axis=1) > 0)           # smaller the further back k is


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 8), st.floats(1.1, 2.0), st.integers(0, 2**32 - 1))
def test_seed003_norms_explode_for_large_W_with_identity(dim, T, rho, seed):
    """φ = identity, W = ρ Q with Q orthogonal: ∂s_{T−1}/∂s_k = (Wᵀ)^(T−1−k), norm ρ^(T−1−k)."""
    rng = np.random.default_rng(seed)
    m = ref.Elman(3, dim, 2, activation="identity")
    params = dict(random_params(m, rng, 1.0), W=rho * orthogonal(rng, dim))
    x = rng.normal(size=(2, T, 3))
    norms = ref.jacobian_norms(ref.state_jacobians(m, params, x))
    distance = T - 1 - np.arange(T)
    np.testing.assert_allclose(norms, np.broadcast_to(rho ** distance, norms.shape), rtol=1e-10)
    assert np.all(np.diff(norms, axis=1) < 0)           # larger the further back k is
    frobenius = ref.jacobian_norms(ref.state_jacobians(m, params, x), ord="fro")
    np.testing.assert_allclose(frobenius, np.sqrt(dim) * np.broadcast_to(rho ** distance,
                                                                       norms.shape), rtol=1e-10)
