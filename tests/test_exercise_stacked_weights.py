"""The `stacked-weights` exercise (seeds 001/003): the stacked form against the split form.

`solve` computes through the split form (`reference.recurrence` with U = W_ax, W = W_aa);
here the stacked form is written out directly, one matrix product on [a_{t-1}, x_t], and
differentiated by central differences and by autograd: two methods independent of it.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy_oracle import _layer, copies

from exercises import stacked_weights
from exercises.spec import Variant
from reference.stacked_weights import split_weights, stack_weights

ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")


def _variant(activation, n, d, N, T) -> Variant:
    return Variant(activation=activation, output="linear", objective="mse", n_in=n,
                   n_hidden=d, n_out=2, T=T, N=N)


def _phi(name, z, np_=np):
    if name == "tanh":
        return np_.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np_.exp(-z))
    if name == "relu":
        return np_.maximum(z, 0.0)
    return z


def stacked_states(activation, x, a0, W_a, b_a, np_=np):
    """a_t = g([a_{t-1}, x_t] W_a + b_a), the stacked form written out (numpy or autograd)."""
    a_prev, states = a0, []
    for t in range(x.shape[1]):
        a_prev = _phi(activation, np_.dot(np_.concatenate([a_prev, x[:, t]], axis=1), W_a)
                      + b_a, np_)
        states.append(a_prev)
    return np_.stack(states, axis=1)


problems = st.tuples(st.sampled_from(ACTIVATIONS), st.integers(1, 4), st.integers(1, 4),
                     st.integers(1, 3), st.integers(1, 5), st.integers(0, 2**32 - 1))


def _data(problem):
    activation, n, d, N, T, seed = problem
    rng = np.random.default_rng(seed)
    W_a = rng.normal(0.0, 0.6, (d + n, d))
    b_a = rng.normal(0.0, 0.3, d) + (1.0 if activation == "relu" else 0.0)
    x, a0 = rng.normal(size=(N, T, n)), rng.normal(size=(N, d))
    da_out = rng.normal(size=(N, T, d))
    return _variant(activation, n, d, N, T), x, a0, W_a, b_a, da_out


@settings(max_examples=40, deadline=None)
@given(problems)
def test_the_stacked_form_is_the_split_form(problem):
    variant, x, a0, W_a, b_a, _ = _data(problem)
    a = stacked_states(variant.activation, x, a0, W_a, b_a)
    assert np.allclose(stacked_weights.solve_forward(variant, x, a0, W_a, b_a), a,
                       rtol=1e-12, atol=1e-14)
    assert np.allclose(stacked_weights.solve_step(variant, a0, x[:, 0], W_a, b_a), a[:, 0],
                       rtol=1e-12, atol=1e-14)
    W_aa, W_ax = split_weights(W_a)
    split = _layer(x, a0, *copies({"U": W_ax, "W": W_aa, "b": b_a}, x.shape[1]).values(),
                   variant.activation)[0]                    # numpy_oracle's split form
    assert np.allclose(a, split, rtol=1e-12, atol=1e-14)
    assert np.array_equal(stack_weights(W_aa, W_ax), W_a)
    assert W_aa.shape == (variant.n_hidden,) * 2 and W_ax.shape == (variant.n_in,
                                                                     variant.n_hidden)


@settings(max_examples=30, deadline=None)
@given(problems)
def test_stacked_bptt_matches_central_differences_and_autograd(problem):
    variant, x, a0, W_a, b_a, da_out = _data(problem)
    if variant.activation == "relu":      # keep every pre-activation off relu's kink
        z = np.concatenate([np.concatenate([a0[:, None], stacked_states(
            "relu", x, a0, W_a, b_a)[:, :-1]], axis=1), x], axis=2) @ W_a + b_a
        assume(np.abs(z).min() >= 1e-3)
    a = stacked_states(variant.activation, x, a0, W_a, b_a)
    dx, da0, dW_a, db_a = stacked_weights.solve_backward(variant, da_out, x, a0, a, W_a)

    def L(x, a0, W_a, b_a, np_=np):
        return np_.sum(da_out * stacked_states(variant.activation, x, a0, W_a, b_a, np_))

    h = 1e-5 if variant.activation == "relu" else 1e-6
    for array, got in ((x, dx), (a0, da0), (W_a, dW_a), (b_a, db_a)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + h
            up = L(x, a0, W_a, b_a)
            array[index] = original - h
            down = L(x, a0, W_a, b_a)
            array[index] = original
            numeric[index] = (up - down) / (2 * h)
        assert np.allclose(got, numeric, rtol=1e-5, atol=1e-7)

    def L_ag(x, a0, W_a, b_a):
        return L(x, a0, W_a, b_a, anp)

    for position, got in enumerate((dx, da0, dW_a, db_a)):
        assert np.allclose(got, grad(L_ag, position)(x, a0, W_a, b_a), rtol=1e-10, atol=1e-12)


def test_the_stacked_gradient_is_the_split_gradients_stacked():
    """∂L/∂W_a = [∂L/∂W_aa; ∂L/∂W_ax], each block from the split form's own autograd."""
    variant, x, a0, W_a, b_a, da_out = _data(("tanh", 3, 2, 2, 4, 7))
    W_aa, W_ax = split_weights(W_a)

    def split_loss(W_aa, W_ax):
        a_prev, total = a0, 0.0
        for t in range(x.shape[1]):
            a_prev = anp.tanh(anp.dot(a_prev, W_aa) + anp.dot(x[:, t], W_ax) + b_a)
            total = total + anp.sum(da_out[:, t] * a_prev)
        return total

    a = stacked_states("tanh", x, a0, W_a, b_a)
    _, _, dW_a, _ = stacked_weights.solve_backward(variant, da_out, x, a0, a, W_a)
    assert np.allclose(dW_a[:2], grad(split_loss, 0)(W_aa, W_ax), rtol=1e-10)
    assert np.allclose(dW_a[2:], grad(split_loss, 1)(W_aa, W_ax), rtol=1e-10)


@pytest.mark.parametrize(("W_aa", "W_ax"), [(np.zeros((2, 3)), np.zeros((1, 3))),
                                            (np.zeros((2, 2)), np.zeros((3, 3)))])
def test_blocks_of_the_wrong_shape_are_refused_by_name(W_aa, W_ax):
    with pytest.raises(ValueError, match="W_aa must be"):
        stack_weights(W_aa, W_ax)


def test_a_stacked_matrix_without_an_input_block_is_refused():
    with pytest.raises(ValueError, match="W_a must be"):
        split_weights(np.zeros((3, 3)))
