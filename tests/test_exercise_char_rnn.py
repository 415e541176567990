"""The `char-rnn` exercise (seed 004): solution cells, bugs, gradients, training."""

from __future__ import annotations

import numpy as np
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _word_loss(variant, params, x, targets, s0):
    _, y = char_rnn.solve_forward(variant, params, x, s0)
    return char_rnn.solve_loss(variant, y, targets)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(("tanh", "sigmoid")), st.integers(2, 5), st.integers(0, 2**32 - 1),
       st.text(alphabet="dep", min_size=1, max_size=6))
def test_grads_match_finite_differences(activation, d, seed, word):
    variant = Variant(activation=activation, output="softmax", objective="ce", n_in=4,
                      n_hidden=d, n_out=4, T=4, N=1)
    rng = np.random.default_rng(seed)
    params = {key: rng.normal(0.0, 0.6, shape)
              for key, shape in char_rnn.model_of(variant).param_shapes().items()}
    x, targets = char_rnn.solve_encode(variant, word)
    s0 = rng.uniform(-0.5, 0.5, d) + (0.5 if activation == "sigmoid" else 0.0)
    grads = char_rnn.solve_grads(variant, params, x, targets, s0)
    h = 1e-6
    for key, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up = {**params, key: value.copy()}
            down = {**params, key: value.copy()}
            up[key][index] += h
            down[key][index] -= h
            numeric[index] = (_word_loss(variant, up, x, targets, s0)
                              - _word_loss(variant, down, x, targets, s0)) / (2 * h)
        assert np.allclose(grads[key], numeric, rtol=1e-5, atol=1e-7), key
