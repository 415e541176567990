"""The loss value of every network against an independent sum of its terms.

    L = (1/N) Σ_n Σ_{t ∈ times} ℓ(y_nt, d_nt),
    mse ℓ = Σ_k (y − d)² (no ½),  bce ℓ = −Σ_k [d log y + (1 − d) log(1 − y)],  ce ℓ = −Σ_k d log y,

with y from numpy_oracle's forward and ℓ written out per sequence and step
(`numpy_oracle.loss_value`), ce targets as class indices or one-hot rows. The
gradient tests cannot see a constant added to every term; these can.

Tolerance: 1e-10 relative, 1e-12 absolute. The problems keep outputs
unsaturated (1 − y ≥ 4.5e-5), so the textbook log(1 − y) loses at most ~1e-11
of a term, and the reference's log-sum-exp forms agree to that.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import loss_value
from strategies import COMBINATIONS, problems

import reference as ref


@pytest.mark.parametrize("output,objective", COMBINATIONS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_loss_is_the_mean_over_sequences_of_the_sum_over_steps_of_its_terms(output, objective,
                                                                           data):
    problem = data.draw(problems(combinations=((output, objective),)))
    times = data.draw(st.none() | st.lists(st.integers(0, problem.T - 1), min_size=1,
                                           max_size=problem.T, unique=True), label="times")
    want = loss_value(problem.kind, problem.model, problem.params, problem.x, problem.states,
                      problem.d, times)
    assert problem.loss(times=times) == pytest.approx(want, rel=1e-10, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(problems(combinations=(("softmax", "ce"),)))
def test_class_indices_and_one_hot_rows_give_the_same_loss(problem):
    labels = problem.d if problem.d.ndim == 2 else problem.d.argmax(axis=-1)
    one_hot = np.eye(problem.model.n_out)[labels]
    by_labels = problem.model.loss(problem.params, problem.x, labels, **problem.states)
    by_rows = problem.model.loss(problem.params, problem.x, one_hot, **problem.states)
    assert by_labels == pytest.approx(by_rows, rel=1e-14, abs=1e-15)
    want = loss_value(problem.kind, problem.model, problem.params, problem.x, problem.states,
                      labels)
    assert by_labels == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_a_hand_computed_loss():
    """One step, one sequence, identity everywhere: L = Σ (y − d)² with y = x U V, by hand."""
    m = ref.Elman(1, 1, 2, activation="identity", output="linear", objective="mse", bias=False)
    params = {"U": np.array([[2.0]]), "W": np.array([[0.5]]), "V": np.array([[1.0, -1.0]])}
    x = np.array([[[1.0], [1.0]]])                  # s = 2, 3; y = (2, −2), (3, −3)
    d = np.array([[[0.0, 0.0], [3.0, 0.0]]])
    assert m.loss(params, x, d) == 4.0 + 4.0 + 0.0 + 9.0
    assert m.loss(params, np.concatenate([x, x]), np.concatenate([d, d])) == 17.0   # mean over N
