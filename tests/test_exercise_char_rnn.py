"""The `char-rnn` exercise (seed 004): encoding, and forward, loss, gradients and training
against independent oracles (numpy_oracle's forward and autograd), not against `reference`."""

from __future__ import annotations

import numpy as np
import pytest
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import (
    ag_ell,
    ag_output,
    copies,
    copy_gradients,
    forward,
    input_uses,
    per_term_loss,
)
from strategies import assert_grads_close

from exercises import char_rnn
from exercises.spec import Variant

EXERCISE = char_rnn.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(40)]


def test_encode_deep_as_the_seed_reads_it():
    x, targets = char_rnn.solve_encode(None, "deep")
    assert x.argmax(axis=1).tolist() == [0, 1, 1, 2]              # d e e p
    assert targets.argmax(axis=1).tolist() == [1, 1, 2, 3]        # e e p <stop>


def test_training_brings_the_loss_down_for_every_student():
    for student in STUDENTS:
        instance = instance_of(EXERCISE, student)
        (probe,) = EXERCISE.stage("train").probes(instance)
        kwargs = probe.kwargs
        before = char_rnn.words_loss(instance.variant, kwargs["params"], kwargs["words"])
        trained = char_rnn.solve_train(instance.variant, **kwargs)
        after = char_rnn.words_loss(instance.variant, trained, kwargs["words"])
        assert after < before, (student, before, after)


class Spec:
    """What numpy_oracle.forward reads of a model."""

    def __init__(self, activation):
        self.activation, self.output, self.objective = activation, "softmax", "ce"


def cross_entropy(targets):
    """E_t = −Σ_k d_tk log y_tk (one word, N = 1), in autograd.numpy."""
    return lambda t, o: ag_ell("ce", ag_output("softmax", o), targets[None, t])


@st.composite
def char_problems(draw):
    activation = draw(st.sampled_from(("tanh", "sigmoid")))
    d = draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    word = draw(st.text(alphabet="dep", min_size=1, max_size=6))
    variant = Variant(activation=activation, output="softmax", objective="ce", n_in=4,
                      n_hidden=d, n_out=4, T=len(word), N=1)
    params = {key: rng.normal(0.0, 0.6, shape)
              for key, shape in char_rnn.model_of(variant).param_shapes().items()}
    s0 = rng.uniform(-0.5, 0.5, d) + (0.5 if activation == "sigmoid" else 0.0)
    return variant, params, word, s0


@settings(max_examples=40, deadline=None)
@given(char_problems())
def test_forward_loss_and_grads_against_the_oracle(problem):
    """States and outputs are numpy_oracle's forward; the loss is the sum of its terms
    −Σ_t Σ_k d_tk log y_tk; the gradients are autograd's of that loss."""
    variant, params, word, s0 = problem
    x, targets = char_rnn.solve_encode(variant, word)
    want = forward("elman", Spec(variant.activation), copies(params, len(word)),
                   input_uses("elman", x[None]), {"s0": s0[None]})
    s, y = char_rnn.solve_forward(variant, params, x, s0)
    np.testing.assert_allclose(s, want["s"][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, want["y"][0], rtol=1e-12, atol=1e-14)
    loss = sum(float(per_term_loss("ce", want["y"][0, t], targets[t])) for t in range(len(word)))
    assert char_rnn.solve_loss(variant, y, targets) == pytest.approx(loss, rel=1e-12)
    oracle = copy_gradients("elman", variant.activation, params, x[None], {"s0": s0[None]},
                            cross_entropy(targets))
    oracle = {key: oracle[key] for key in char_rnn.PARAMETERS}
    assert_grads_close(char_rnn.solve_grads(variant, params, x, targets, s0), oracle, 1e-10,
                       1e-6 * (1 + sum(np.linalg.norm(v) for v in oracle.values())))


@settings(max_examples=15, deadline=None)
@given(char_problems(), st.integers(1, 6), st.sampled_from((0.05, 0.1, 0.5)))
def test_training_is_sgd_with_the_oracle_s_gradients(problem, k_updates, lr):
    """k updates θ ← θ − α ∇θ L(word_i), cycling through the words, each word from s0 = 0."""
    variant, params, _, _ = problem
    words = ["deep", "pee", "ded"]
    trained = char_rnn.solve_train(variant, {k: v.copy() for k, v in params.items()}, words, lr,
                                   k_updates)
    want = {key: value.copy() for key, value in params.items()}
    for i in range(k_updates):
        x, targets = char_rnn.solve_encode(variant, words[i % len(words)])
        zero = {"s0": np.zeros((1, variant.n_hidden))}
        grads = copy_gradients("elman", variant.activation, want, x[None], zero,
                               cross_entropy(targets))
        want = {key: want[key] - lr * grads[key] for key in want}
    assert_grads_close(trained, want, 1e-10, 1e-6)
