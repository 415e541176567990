"""The `output-jacobian` exercise (seed 002, case 1 against case 2): every answer against
finite differences of numpy_oracle's g (not `reference`'s, which `solve` calls)."""

from __future__ import annotations

import numpy as np
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import g as oracle_g

from exercises import output_jacobian
from exercises.spec import Variant

EXERCISE = output_jacobian.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(40)]


def test_every_student_works_both_cases_and_a_square_w2_is_handed_out():
    """Case 2 with the variant's scalar g (tanh or sigmoid), case 1 with softmax, for all."""
    variants = [instance_of(EXERCISE, s).variant for s in STUDENTS]
    assert {v.output for v in variants} == {"tanh", "sigmoid"}
    assert any(v.n_hidden == v.n_out for v in variants)
    names = [stage.name for stage in EXERCISE.stages]
    assert {"output_jacobian", "output_delta", "softmax", "softmax_jacobian",
            "softmax_delta"} <= set(names)


# -- solve against finite differences -------------------------------------------------------


def _variant(output, d, k, N=2, T=3):
    return Variant(activation="identity", output=output, objective="mse", n_in=2, n_hidden=d,
                   n_out=k, T=T, N=N)


problems = st.tuples(st.sampled_from(("softmax", "tanh", "sigmoid")), st.integers(1, 4),
                     st.integers(1, 4), st.integers(0, 2**32 - 1))


@settings(max_examples=30, deadline=None)
@given(problems)
def test_jacobian_and_delta_match_finite_differences(problem):
    output, d, k, seed = problem
    variant = _variant("tanh" if output == "softmax" else output, d, k)
    rng = np.random.default_rng(seed)
    o, dL_dy = rng.normal(0.0, 1.5, (2, 3, k)), rng.normal(size=(2, 3, k))
    def g(o):
        return oracle_g(output, o)

    case_1 = output == "softmax"
    J = (output_jacobian.solve_softmax_jacobian if case_1 else
         output_jacobian.solve_jacobian)(variant, o)
    h = 1e-6
    numeric = np.empty_like(J)
    for i in range(k):
        up, down = o.copy(), o.copy()
        up[..., i] += h
        down[..., i] -= h
        numeric[..., :, i] = (g(up) - g(down)) / (2 * h)          # column i: ∂y/∂o_i
    assert np.allclose(J, numeric, rtol=1e-6, atol=1e-9)
    # dL/do of L = Σ dL_dy · g(o), by central differences
    delta = (output_jacobian.solve_softmax_delta if case_1 else
             output_jacobian.solve_delta)(variant, o, dL_dy)
    if case_1:
        assert np.allclose(output_jacobian.solve_softmax(variant, o), g(o), rtol=1e-12)
    for index in np.ndindex(o.shape):
        up, down = o.copy(), o.copy()
        up[index] += h
        down[index] -= h
        numeric_delta = (np.sum(dL_dy * g(up)) - np.sum(dL_dy * g(down))) / (2 * h)
        assert np.isclose(delta[index], numeric_delta, rtol=1e-6, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(problems)
def test_hidden_delta_and_weight_grad_match_finite_differences(problem):
    output, d, k, seed = problem
    variant = _variant("tanh" if output == "softmax" else output, d, k)
    rng = np.random.default_rng(seed)
    hidden, W2, b2 = rng.normal(size=(2, 3, d)), rng.normal(size=(d, k)), rng.normal(size=k)
    do = rng.normal(size=(2, 3, k))

    def L(hidden, W2, b2):                      # linear in o, so dL/do = do exactly
        return np.sum(do * (hidden @ W2 + b2))

    dh = output_jacobian.solve_hidden_delta(variant, do, W2)
    dW2, db2 = output_jacobian.solve_weight_grad(variant, hidden, do)
    h = 1e-6
    for array, grad, wrap in ((hidden, dh, lambda a: L(a, W2, b2)),
                              (W2, dW2, lambda a: L(hidden, a, b2)),
                              (b2, db2, lambda a: L(hidden, W2, a))):
        for index in np.ndindex(array.shape):
            up, down = array.copy(), array.copy()
            up[index] += h
            down[index] -= h
            assert np.isclose(grad[index], (wrap(up) - wrap(down)) / (2 * h),
                              rtol=1e-6, atol=1e-8)


@settings(max_examples=20, deadline=None)
@given(problems)
def test_no_output_jacobian_here_is_asymmetric(problem):
    """Why a Jacobian transposed in dL/dy · J is not among the bugs: it would change nothing."""
    output, d, k, seed = problem
    o = np.random.default_rng(seed).normal(0.0, 1.5, (2, 3, k))
    J = (output_jacobian.solve_softmax_jacobian(_variant("tanh", d, k), o) if output == "softmax"
         else output_jacobian.solve_jacobian(_variant(output, d, k), o))
    assert np.allclose(J, np.swapaxes(J, -1, -2), rtol=0, atol=1e-15)


@settings(max_examples=20, deadline=None)
@given(problems)
def test_softmax_jacobian_matches_autograd(problem):
    """The independent method: autograd's Jacobian of a softmax written here in autograd.numpy."""
    import autograd.numpy as anp
    from autograd import jacobian

    _, d, k, seed = problem
    o = np.random.default_rng(seed).normal(0.0, 1.5, (k,))

    def softmax(o):
        e = anp.exp(o)
        return e / anp.sum(e)

    J = output_jacobian.solve_softmax_jacobian(_variant("tanh", d, k), o[None, None])[0, 0]
    assert np.allclose(J, jacobian(softmax)(o), rtol=1e-10, atol=1e-14)


def test_softmax_survives_large_pre_activations():
    """The probe at o ≈ 740: exp overflows unless the largest o_j is subtracted first."""
    o = np.array([[[740.0, 741.0, 739.0]]])
    y = output_jacobian.solve_softmax(_variant("tanh", 3, 3), o)
    expected = np.exp([1.0, 2.0, 0.0]) / np.exp([1.0, 2.0, 0.0]).sum()
    assert np.allclose(y[0, 0], expected, rtol=1e-12)
