"""The `char-rnn` exercise (seed 004): solution cells, bugs, gradients, training."""

from __future__ import annotations

import numpy as np
from catalogue_probes import (
    bug_verdicts,
    disagreements,
    instance_of,
    probe_fingerprint,
    same_fingerprint,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises import char_rnn
from exercises.misconceptions import CATALOGUE
from exercises.registry import get_exercise
from exercises.spec import Variant

EXERCISE = char_rnn.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(40)]


def test_registered_under_its_id():
    assert get_exercise("char-rnn") is EXERCISE


def test_every_bug_names_a_catalogue_entry():
    for stage in EXERCISE.stages:
        for bug in stage.bugs:
            assert bug.misconception in CATALOGUE, (stage.name, bug.misconception)


def test_solution_cells_agree_with_solve_on_every_probe():
    found = [problem for student in STUDENTS for problem in disagreements(EXERCISE, student)]
    assert not found, found


def test_every_bug_is_caught_by_some_probe():
    uncaught = [(student, *where) for student in STUDENTS
                for where in bug_verdicts(EXERCISE, student)[0]]
    assert not uncaught, uncaught


def test_no_two_bugs_look_alike():
    twins = set().union(*(bug_verdicts(EXERCISE, student)[1] for student in STUDENTS[:10]))
    assert twins == set(), twins


def test_same_student_same_instance_and_students_differ():
    first, again = instance_of(EXERCISE, "ada"), instance_of(EXERCISE, "ada")
    assert first.variant == again.variant
    assert same_fingerprint(probe_fingerprint(first), probe_fingerprint(again))
    prints = [probe_fingerprint(instance_of(EXERCISE, s)) for s in STUDENTS[:8]]
    for i in range(len(prints)):
        for j in range(i + 1, len(prints)):
            assert not same_fingerprint(prints[i], prints[j])


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
