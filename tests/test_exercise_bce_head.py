"""The `bce-head` exercise (seed 001): the loss, z = ∂L/∂ŷ, ŷ − y and BPTT, each against
central differences of a forward written here and against autograd.

`solve` takes the loss from the logit and the gradients from the reference's Elman network;
the tests write seed 001's equations out (log ŷ, log(1 − ŷ), the scalar recursion).
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises import bce_head
from exercises.spec import Variant

problems = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**32 - 1))


def _variant(N, T) -> Variant:
    return Variant(activation="identity", output="sigmoid", objective="bce", n_in=1,
                   n_hidden=1, n_out=1, T=T, N=N)


def seed_001_loss(y_hat, y, np_=np):
    return -np_.sum(y * np_.log(y_hat) + (1.0 - y) * np_.log(1.0 - y_hat))


def network_loss(params, x, a0, y, np_=np):
    """Σ_n Σ_t L^{<t>} of ŷ_t = σ(w_y a_t + b_y), a_t = v a_{t-1} + u x_t + b_a."""
    u, v, b_a, w_y, b_y = params
    a_prev, total = a0, 0.0
    for t in range(x.shape[1]):
        a_prev = v * a_prev + u * x[:, t] + b_a
        y_hat = 1.0 / (1.0 + np_.exp(-(w_y * a_prev + b_y)))
        total = total + seed_001_loss(y_hat, y[:, t], np_)
    return total


@settings(max_examples=40, deadline=None)
@given(problems)
def test_loss_and_z_match_the_seed_finite_differences_and_autograd(problem):
    N, T, seed = problem
    rng = np.random.default_rng(seed)
    variant = _variant(N, T)
    y_hat, y = rng.uniform(0.05, 0.95, (N, T)), rng.uniform(0.0, 1.0, (N, T))
    assert np.isclose(bce_head.solve_loss(variant, y_hat, y), seed_001_loss(y_hat, y),
                      rtol=1e-12)
    z = bce_head.solve_derivative(variant, y_hat, y)
    h = 1e-6
    for index in np.ndindex(y_hat.shape):
        up, down = y_hat.copy(), y_hat.copy()
        up[index] += h
        down[index] -= h
        numeric = (seed_001_loss(up, y) - seed_001_loss(down, y)) / (2 * h)
        assert np.isclose(z[index], numeric, rtol=1e-6, atol=1e-8)
    assert np.allclose(z, grad(lambda p: seed_001_loss(p, y, anp))(y_hat), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problems)
def test_the_gradient_through_the_sigmoid_is_y_hat_minus_y(problem):
    N, T, seed = problem
    rng = np.random.default_rng(seed)
    o, y = rng.normal(0.0, 2.0, (N, T)), rng.integers(0, 2, (N, T)).astype(float)

    def L(o, np_=np):
        return seed_001_loss(1.0 / (1.0 + np_.exp(-o)), y, np_)

    do = bce_head.solve_output_delta(_variant(N, T), o, y)
    assert np.allclose(do, grad(lambda o: L(o, anp))(o), rtol=1e-10, atol=1e-12)
    assert np.allclose(do, 1.0 / (1.0 + np.exp(-o)) - y, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(problems, st.sampled_from((0.5, -0.7, 1.2)))
def test_bptt_matches_finite_differences_and_autograd(problem, v):
    N, T, seed = problem
    rng = np.random.default_rng(seed)
    x, a0 = rng.normal(size=(N, T)), rng.normal(size=N)
    y = rng.integers(0, 2, (N, T)).astype(float)
    params = np.array([rng.uniform(0.4, 1.2), v, rng.normal(0, 0.5), rng.uniform(0.4, 1.2),
                       rng.normal(0, 0.5)])                   # u, v, b_a, w_y, b_y
    got = bce_head.solve_bptt(_variant(N, T), x, a0, y, *params)
    want = dict(zip(("u", "v", "b_a", "w_y", "b_y"),
                    grad(lambda p: network_loss(p, x, a0, y, anp))(params), strict=True))
    assert np.allclose(got, [want[k] for k in ("w_y", "b_y", "v", "u", "b_a")],
                       rtol=1e-10, atol=1e-12)
    h = 1e-6
    for i, key in enumerate(("u", "v", "b_a", "w_y", "b_y")):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        numeric = (network_loss(up, x, a0, y) - network_loss(down, x, a0, y)) / (2 * h)
        assert np.isclose(want[key], numeric, rtol=1e-5, atol=1e-7), key


def test_the_seed_s_misplaced_bracket_rewards_a_wrong_prediction():
    """Why the bug is a misconception and not a typo to ignore: with y = 0, the misread loss
    (1 − y) log(1 − ŷ) falls as ŷ moves away from the label."""
    variant = _variant(1, 1)
    y = np.zeros((1, 1))
    misread = [bce_head.loss_minus_on_first_term(variant, np.full((1, 1), p), y)
               for p in (0.1, 0.5, 0.9)]
    right = [bce_head.solve_loss(variant, np.full((1, 1), p), y) for p in (0.1, 0.5, 0.9)]
    assert misread[0] > misread[1] > misread[2] and right[0] < right[1] < right[2]
