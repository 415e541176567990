"""Finite-difference gradient checking (grader.checking.gradcheck) against hand-derived gradients.

Each test function f below comes with its gradient worked out analytically:

    quadratic   f(x) = ½ xᵀAx + bᵀx            ∇f = ½(A + Aᵀ)x + b
    polynomial  f(x) = Σ_i c_i x_i³ + Σ_i e_i x_i x_{i+1}
                ∂f/∂x_i = 3 c_i x_i² + e_i x_{i+1} + e_{i−1} x_{i−1}
    tanh        f(x) = wᵀ tanh(Mx + a)          ∇f = Mᵀ (w ⊙ (1 − tanh²(Mx + a)))
    matrix      f(X) = Σ_ij C_ij tanh(X_ij)     ∇f = C ⊙ (1 − tanh²(X))
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checking.gradcheck import (
    ParameterLayout,
    compare_gradient_arrays,
    directional_check,
    max_relative_error,
    numerical_gradient,
    numerical_gradient_perturbed,
    relative_error,
    vjp_check,
)

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 8)


def quadratic(rng, n):
    A = rng.normal(size=(n, n))
    b = rng.normal(size=n)
    return (lambda x: 0.5 * x @ A @ x + b @ x), (lambda x: 0.5 * (A + A.T) @ x + b)


def polynomial(rng, n):
    c = rng.normal(size=n)
    e = rng.normal(size=max(n - 1, 0))

    def f(x):
        return np.sum(c * x**3) + np.sum(e * x[:-1] * x[1:])

    def grad(x):
        g = 3 * c * x**2
        g[:-1] += e * x[1:]
        g[1:] += e * x[:-1]
        return g

    return f, grad


def tanh_layer(rng, n):
    M = rng.normal(size=(3, n))
    a = rng.normal(size=3)
    w = rng.normal(size=3)
    return (lambda x: w @ np.tanh(M @ x + a),
            lambda x: M.T @ (w * (1 - np.tanh(M @ x + a) ** 2)))


FUNCTIONS = {"quadratic": quadratic, "polynomial": polynomial, "tanh": tanh_layer}


def close_to_gradient(numerical, analytic, rel=1e-7):
    """Agreement to `rel` relative to the gradient's scale."""
    scale = max(1.0, float(np.max(np.abs(analytic))))
    return float(np.max(np.abs(numerical - analytic))) <= rel * scale


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(FUNCTIONS)), n=sizes, seed=seeds)
def test_numerical_gradient_matches_hand_derived_gradient(kind, n, seed):
    rng = np.random.default_rng(seed)
    f, grad = FUNCTIONS[kind](rng, n)
    x = rng.normal(size=n)
    assert close_to_gradient(numerical_gradient(f, x), grad(x))


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4), seed=seeds)
def test_numerical_gradient_of_a_matrix_argument_keeps_its_shape(rows, cols, seed):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(rows, cols))
    X = rng.normal(size=(rows, cols))
    g = numerical_gradient(lambda Z: np.sum(C * np.tanh(Z)), X)
    assert g.shape == X.shape
    assert close_to_gradient(g, C * (1 - np.tanh(X) ** 2))


def batched_tanh_matrix(C):
    """f for a stack Z (P, rows, cols) → (P,): the same f as above, one value per input."""
    return lambda Z: np.einsum("ij,pij->p", C, np.tanh(Z))


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 5), cols=st.integers(1, 5), seed=seeds,
       max_bytes=st.sampled_from([8, 100, 1000, 2**20]))
def test_batched_and_looped_numerical_gradients_agree(rows, cols, seed, max_bytes):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(rows, cols))
    X = rng.normal(size=(rows, cols))
    looped = numerical_gradient(lambda Z: np.sum(C * np.tanh(Z)), X)
    batched = numerical_gradient(batched_tanh_matrix(C), X, batched=True,
                                 max_batch_bytes=max_bytes)   # small budgets: many chunks
    np.testing.assert_allclose(batched, looped, rtol=0, atol=1e-8)
    assert close_to_gradient(batched, C * (1 - np.tanh(X) ** 2))


def test_batched_mode_calls_f_once_per_chunk_with_the_plus_and_minus_stack():
    calls = []

    def f(Z):
        calls.append(Z.shape)
        return np.sum(Z**2, axis=(1, 2))

    X = np.arange(6.0).reshape(2, 3)
    g = numerical_gradient(f, X, batched=True)
    assert calls == [(12, 2, 3)]                       # all 2·6 perturbations in one call
    np.testing.assert_allclose(g, 2 * X, atol=1e-7)


def test_batched_f_returning_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="must return shape"):
        numerical_gradient(lambda Z: np.zeros(3), np.zeros(4), batched=True)


@pytest.mark.parametrize("batched", [False, True])
def test_numerical_gradient_leaves_the_callers_array_alone(batched):
    x = np.array([0.5, -1.0, 2.0])
    before = x.copy()
    seen = []

    def f(z):
        seen.append(z is x)
        return np.sum(np.sin(z), axis=-1)

    numerical_gradient(f, x, batched=batched)
    np.testing.assert_array_equal(x, before)
    assert not any(seen)


def test_numerical_gradient_works_on_integer_and_float32_inputs_in_float64():
    g = numerical_gradient(lambda z: float(np.sum(z.astype(np.float64) ** 2)),
                           np.array([1, 2, 3], dtype=np.int64))
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], atol=1e-6)
    g32 = numerical_gradient(lambda z: float(z @ z), np.array([0.1, 0.2], dtype=np.float32))
    assert g32.dtype == np.float64


@settings(max_examples=30, deadline=None)
@given(n=sizes, seed=seeds)
def test_perturbation_interface_gives_the_same_gradient(n, seed):
    rng = np.random.default_rng(seed)
    f, grad = tanh_layer(rng, n)
    x = rng.normal(size=n)

    def perturbed(index, delta):
        out = []
        for i, v in zip(index, delta, strict=True):
            z = x.copy()
            z[i] += v
            out.append(f(z))
        return np.array(out)

    g = numerical_gradient_perturbed(perturbed, n, chunk=3)
    np.testing.assert_allclose(g, numerical_gradient(f, x), rtol=0, atol=1e-9)
    assert close_to_gradient(g, grad(x))


# -- relative error -------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(a=finite, b=finite)
def test_relative_error_is_symmetric_and_in_unit_interval(a, b):
    r = float(relative_error(a, b))
    assert r == float(relative_error(b, a))
    assert 0.0 <= r <= 1.0
    assert (r == 0.0) == (a == b)


def test_relative_error_guard_makes_zero_against_zero_zero_not_nan():
    assert float(relative_error(0.0, 0.0)) == 0.0
    assert max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert max_relative_error(np.zeros(0), np.zeros(0)) == 0.0
    assert float(relative_error(1.0, -1.0)) == 1.0
    assert np.isnan(relative_error(np.nan, 1.0))


def test_compare_gradient_arrays_points_at_the_worst_entry_outside_tolerance():
    a = np.zeros((3, 4))
    n = a.copy()
    n[0, 0] = 1e-12                     # noise around a true zero: within atol
    n[2, 1] = 0.5
    c = compare_gradient_arrays(a, n)
    assert (c.n_wrong, c.worst_index, c.passed) == (1, (2, 1), False)
    assert compare_gradient_arrays(a, a).passed


# -- random-direction and vector–Jacobian checks ----------------------------------------


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(FUNCTIONS)), n=st.integers(2, 30), seed=seeds,
       batched=st.booleans())
def test_directional_check_passes_the_true_gradient(kind, n, seed, batched):
    rng = np.random.default_rng(seed)
    f, grad = FUNCTIONS[kind](rng, n)
    x = rng.normal(size=n)
    fb = (lambda X: np.array([f(row) for row in X])) if batched else f
    result = directional_check(fb, grad(x), x, rng, n_directions=6, batched=batched)
    assert result.passed, result
    assert len(result.analytic) == 6


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(FUNCTIONS)), n=st.integers(2, 30), seed=seeds,
       entry=st.integers(0, 29))
def test_directional_check_catches_one_wrong_entry(kind, n, seed, entry):
    rng = np.random.default_rng(seed)
    f, grad = FUNCTIONS[kind](rng, n)
    x = rng.normal(size=n)
    wrong = grad(x)
    wrong[entry % n] += 1.0 + 10 * np.max(np.abs(wrong))   # far above tolerance
    result = directional_check(f, wrong, x, rng, n_directions=6)
    assert not result.passed
    assert result.max_relative_error > 1e-3


def layer(x, W):
    """y = tanh(x W): x (N, n), W (n, m) → (N, m)."""
    return np.tanh(x @ W)


def layer_vjp(g, x, W):
    """Jᵀg: with da = g ⊙ (1 − y²), dx = da Wᵀ and dW = xᵀ da."""
    da = g * (1 - np.tanh(x @ W) ** 2)
    return da @ W.T, x.T @ da


@settings(max_examples=20, deadline=None)
@given(N=st.integers(1, 4), n=st.integers(1, 5), m=st.integers(1, 5), seed=seeds)
def test_vjp_check_passes_a_correct_vector_jacobian_product(N, n, m, seed):
    rng = np.random.default_rng(seed)
    x, W = rng.normal(size=(N, n)), rng.normal(size=(n, m))
    result = vjp_check(layer, layer_vjp, [x, W], rng)
    assert result.passed, result
    assert [c.method for c in result.inputs] == ["elementwise", "elementwise"]


def test_vjp_check_goes_directional_for_large_inputs_and_catches_a_missing_transpose():
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=(3, 25)), rng.normal(size=(25, 25))      # W.size 625 > 400

    def wrong_vjp(g, x, W):
        da = g * (1 - np.tanh(x @ W) ** 2)
        return da @ W, x.T @ da                                       # W not transposed

    good = vjp_check(layer, layer_vjp, {"x": x, "W": W}, rng)
    assert good.passed
    assert [(c.name, c.method) for c in good.inputs] == [("x", "elementwise"),
                                                          ("W", "directional")]
    bad = vjp_check(layer, lambda g, x, W: dict(zip("xW", wrong_vjp(g, x, W), strict=True)),
                    {"x": x, "W": W}, rng)
    assert not bad.passed
    assert bad.worst.name == "x"
    assert [c.passed for c in bad.inputs] == [False, True]


def test_vjp_check_with_mapping_inputs_and_mapping_vjp():
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    result = vjp_check(layer, lambda g, x, W: dict(zip("xW", layer_vjp(g, x, W), strict=True)),
                       {"x": x, "W": W}, rng)
    assert result.passed


# -- parameter layout -----------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
                       min_size=1, max_size=5), seed=seeds)
def test_parameter_layout_round_trips_and_locates_every_entry(shapes, seed):
    rng = np.random.default_rng(seed)
    params = {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}
    layout = ParameterLayout.of(params)
    theta = layout.flatten(params)
    assert theta.size == layout.size == sum(v.size for v in params.values())
    back = layout.unflatten(theta)
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
    stack = np.stack([theta, 2 * theta])
    assert layout.unflatten(stack)["p0"].shape == (2,) + shapes[0]
    for flat in range(layout.size):
        key, index = layout.locate(flat)
        assert params[key][index] == theta[flat]
    with pytest.raises(IndexError):
        layout.locate(layout.size)
