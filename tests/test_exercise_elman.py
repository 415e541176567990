"""The `elman` exercise (seeds 003/004): every stage's `solve` against independent oracles.

numpy_oracle's forward for the forward stages; autograd for the backward ones: of the loss
written from its terms for the output layer, of ⟨ds, s_t⟩ for one step, and of
Σ_t ⟨ds_out_t, s_t⟩ over per-step copies for BPTT. Nothing here compares with `reference`.
(Solution cells against `solve`, and the bugs, are checked in test_catalogue.py.)
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import (
    ag_ell,
    ag_hidden,
    ag_output,
    copies,
    copy_gradients,
    forward,
    input_uses,
    phi,
    phi_prime,
    surrogate,
)
from strategies import COMBINATIONS, assert_grads_close, problems

from exercises import elman
from exercises.spec import Variant

RTOL = 1e-10          # two float64 computations of the same sums (see test_reference_autograd)
HEADS = tuple(head for head in COMBINATIONS if head != ("softmax", "bce"))   # the exercise's


def floor(want: dict) -> float:
    return 1e-6 * (1.0 + float(np.sqrt(sum(np.sum(v * v) for v in want.values()))))


def variant_of(problem):
    m = problem.model
    return Variant(m.activation, m.output, m.objective, m.n_in, m.n_hidden, m.n_out, problem.T,
                   problem.N)


def states_of(problem):
    P = copies(problem.params, problem.T)
    return forward("elman", problem.model, P, input_uses("elman", problem.x), problem.states)


elman_problems = problems(kinds=("elman",), combinations=HEADS, bias=True)


@settings(max_examples=40, deadline=None)
@given(elman_problems)
def test_forward_stages_against_the_oracle(problem):
    """φ' from the state is φ' at the pre-activation; one step and the whole sequence are
    numpy_oracle's forward."""
    variant, p, x, s0 = variant_of(problem), problem.params, problem.x, problem.states["s0"]
    want = states_of(problem)
    np.testing.assert_allclose(elman.solve_phi_prime(variant, want["s"]),
                               phi_prime(problem.model.activation, want["a_s"]),
                               rtol=1e-10, atol=1e-12)
    step = elman.solve_step_forward(variant, x[:, 0], s0, p["U"], p["W"], p["b"])
    np.testing.assert_allclose(step, phi(problem.model.activation,
                                         x[:, 0] @ p["U"] + s0 @ p["W"] + p["b"]),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(elman.solve_forward(variant, x, s0, p["U"], p["W"], p["b"]),
                               want["s"], rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(elman_problems)
def test_output_backward_is_the_gradient_of_the_loss_written_from_its_terms(problem):
    """dV, dc, ds of L = (1/N) Σ_n Σ_t ℓ(g(s_t V + c), d_t) by autograd (ce targets given as
    class indices, as the exercise hands them out)."""
    m, p, N = problem.model, problem.params, problem.N
    s = states_of(problem)["s"]
    dense = problem.d_dense

    def L(V, c, s):
        return ag_ell(m.objective, ag_output(m.output, s @ V + c), dense) / N

    want = dict(zip(("dV", "dc", "ds"), autograd_grad(L, argnum=(0, 1, 2))(p["V"], p["c"], s),
                    strict=True))
    d = dense.argmax(axis=-1) if m.objective == "ce" else problem.d
    got = dict(zip(("dV", "dc", "ds"),
                   elman.solve_output_backward(variant_of(problem), s, p["V"], p["c"], d),
                   strict=True))
    assert_grads_close(got, want, RTOL, floor(want), f"{m}, T={problem.T}")


@settings(max_examples=60, deadline=None)
@given(elman_problems, st.integers(0, 2**32 - 1))
def test_step_backward_is_the_vjp_of_one_step(problem, seed):
    """dx_t, ds_prev, dU, dW, db = ∂⟨ds, φ(x_t U + s_prev W + b)⟩ by autograd."""
    m, p, x_t, s_prev = problem.model, problem.params, problem.x[:, 0], problem.states["s0"]
    ds = np.random.default_rng(seed).normal(size=(problem.N, m.n_hidden))

    def E(x_t, s_prev, U, W, b):
        return anp.sum(ds * ag_hidden(m.activation, x_t @ U + s_prev @ W + b))

    names = ("dx_t", "ds_prev", "dU", "dW", "db")
    want = dict(zip(names, autograd_grad(E, argnum=(0, 1, 2, 3, 4))(
        x_t, s_prev, p["U"], p["W"], p["b"]), strict=True))
    s_t = phi(m.activation, x_t @ p["U"] + s_prev @ p["W"] + p["b"])
    got = dict(zip(names, elman.solve_step_backward(variant_of(problem), ds, x_t, s_prev, s_t,
                                                    p["U"], p["W"]), strict=True))
    assert_grads_close(got, want, RTOL, floor(want), f"{m}")


@settings(max_examples=60, deadline=None)
@given(elman_problems, st.integers(0, 2**32 - 1))
def test_bptt_is_the_gradient_over_per_step_copies(problem, seed):
    """dx, ds0, dU, dW, db of Σ_t ⟨ds_out_t, s_t⟩: the layer read out through V = I, by autograd
    over per-step copies with every copy kept (full BPTT)."""
    m, p = problem.model, problem.params
    ds_out = np.random.default_rng(seed).normal(size=(problem.N, problem.T, m.n_hidden))
    layer = {"U": p["U"], "W": p["W"], "b": p["b"], "V": np.eye(m.n_hidden)}
    oracle = copy_gradients("elman", m.activation, layer, problem.x, problem.states,
                            surrogate(ds_out))
    want = {"dx": oracle["x"], "ds0": oracle["s0"], "dU": oracle["U"], "dW": oracle["W"],
            "db": oracle["b"]}
    got = dict(zip(("dx", "ds0", "dU", "dW", "db"),
                   elman.solve_backward(variant_of(problem), ds_out, problem.x,
                                        problem.states["s0"], states_of(problem)["s"], p["U"],
                                        p["W"]), strict=True))
    assert_grads_close(got, want, RTOL, floor(want), f"{m}, T={problem.T}")


@settings(max_examples=30, deadline=None)
@given(elman_problems, st.sampled_from((0.05, 0.1, 0.2)), st.integers(0, 2**32 - 1))
def test_sgd_update_is_theta_minus_lr_gradient(problem, lr, seed):
    rng = np.random.default_rng(seed)
    grads = {key: rng.normal(size=value.shape) for key, value in problem.params.items()}
    params = {key: value.copy() for key, value in problem.params.items()}
    new = elman.solve_sgd(variant_of(problem), params, grads, lr)
    assert set(new) == set(params)
    for key, value in problem.params.items():
        np.testing.assert_allclose(new[key], value - lr * grads[key], rtol=1e-15, atol=1e-15)
        np.testing.assert_array_equal(params[key], value)            # not changed in place
