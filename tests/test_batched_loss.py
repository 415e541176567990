"""The batched Elman loss (grader.checking.batched_loss) equals the reference's loss, set by set.

Every way in — a dense stack of unrelated parameter sets, a stack of small
changes around a centre, and single-entry perturbations given by index — must
give `reference.Elman.loss` for each set to rounding, for every activation,
output × objective, bias and initial state the reference supports. Then the
full finite-difference gradient built on it must agree with `m.grad`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems

import reference as ref
from grader.checking.batched_loss import ElmanLoss
from grader.checking.gradcheck import (
    ParameterLayout,
    compare_gradient_arrays,
    numerical_gradient_perturbed,
)

elman_problems = problems(kinds=("elman",), max_size=4, T=st.integers(1, 5))


def batched(problem) -> ElmanLoss:
    m = problem.model
    return ElmanLoss(m.activation, m.output, m.objective, problem.x, problem.d,
                     problem.states["s0"])


def reference_losses(problem, layout, stack):
    return np.array([problem.loss(params=layout.unflatten(row)) for row in stack])


def assert_same_losses(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problem=elman_problems, seed=st.integers(0, 2**32 - 1), P=st.integers(1, 5))
def test_dense_stack_equals_reference_loss_for_each_set(problem, seed, P):
    rng = np.random.default_rng(seed)
    layout = ParameterLayout.of(problem.params)
    theta = layout.flatten(problem.params)
    stack = theta + 0.2 * rng.normal(size=(P, layout.size))       # unrelated parameter sets
    assert_same_losses(batched(problem).of_vectors(layout)(stack),
                       reference_losses(problem, layout, stack))


@settings(max_examples=40, deadline=None)
@given(problem=elman_problems, seed=st.integers(0, 2**32 - 1), P=st.integers(1, 6),
       per_set=st.integers(1, 3))
def test_sparse_changes_around_a_centre_equal_reference_loss(problem, seed, per_set, P):
    rng = np.random.default_rng(seed)
    layout = ParameterLayout.of(problem.params)
    theta = layout.flatten(problem.params)
    stack = np.repeat(theta[None], P, axis=0)
    for _ in range(per_set):                      # a few changed entries per set, repeats allowed
        stack[np.arange(P), rng.integers(0, layout.size, P)] += rng.normal(size=P)
    loss = batched(problem)
    want = reference_losses(problem, layout, stack)
    assert_same_losses(loss.of_vectors(layout, center=theta)(stack), want)
    assert_same_losses(loss.of_vectors(layout)(stack), want)          # dense path agrees


@settings(max_examples=40, deadline=None)
@given(problem=elman_problems, seed=st.integers(0, 2**32 - 1), P=st.integers(1, 8))
def test_single_entry_perturbations_equal_reference_loss(problem, seed, P):
    rng = np.random.default_rng(seed)
    layout = ParameterLayout.of(problem.params)
    theta = layout.flatten(problem.params)
    index = rng.integers(0, layout.size, P)
    delta = rng.normal(size=P)
    stack = np.repeat(theta[None], P, axis=0)
    stack[np.arange(P), index] += delta
    got = batched(problem).of_perturbations(layout, theta)(index, delta)
    assert_same_losses(got, reference_losses(problem, layout, stack))


@settings(max_examples=15, deadline=None)
@given(problem=problems(kinds=("elman",), activations=("tanh", "sigmoid"), max_size=4,
                        T=st.integers(1, 5)))
def test_finite_difference_gradient_from_the_batched_loss_matches_bptt(problem):
    layout = ParameterLayout.of(problem.params)
    theta = layout.flatten(problem.params)
    numerical = numerical_gradient_perturbed(batched(problem).of_perturbations(layout, theta),
                                             layout.size, chunk=7)
    analytic = layout.flatten(problem.grad())
    comparison = compare_gradient_arrays(analytic, numerical, rtol=1e-5, atol=1e-7)
    assert comparison.passed, (comparison, layout.locate(comparison.worst_index[0]))


def test_the_benchmark_model_size_and_a_known_loss():
    """The bench's configuration: a ce/softmax Elman net of about 2,000 parameters."""
    m = ref.Elman(n_in=10, n_hidden=36, n_out=10, activation="tanh", output="softmax",
                  objective="ce")
    rng = np.random.default_rng(0)
    params = m.init_params(rng)
    layout = ParameterLayout.of(params)
    assert 1900 <= layout.size <= 2100
    x = rng.normal(size=(2, 20, 10))
    d = rng.integers(0, 10, (2, 20))
    loss = ElmanLoss("tanh", "softmax", "ce", x, d)
    theta = layout.flatten(params)
    got = loss.of_perturbations(layout, theta)(np.array([0, layout.size - 1]), np.zeros(2))
    assert_same_losses(got, [m.loss(params, x, d)] * 2)
