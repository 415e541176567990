"""Check primitives (grader.checking.checks): tolerance at its boundary, types, messages.

The tolerance is written once, in the checks module's docstring:
an entry is right when |got − expected| ≤ 1e-9 + 1e-6·|expected|. The tests
below put entries at half and at twice that bound, so that a looser, tighter
or differently scaled rule fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.checking.checks import (
    ATOL,
    RTOL,
    RejectedAnswer,
    answer_array,
    entries_right,
    lower_precision,
    shape_problem,
    steps_right,
)

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def test_the_tolerance_is_the_one_the_students_guide_states():
    assert (RTOL, ATOL) == (1e-6, 1e-9)


# -- the tolerance at its boundary ----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=seeds, scale=st.sampled_from([0.0, 1e-6, 1.0, 1e3, 1e8]))
def test_an_entry_is_right_at_half_the_bound_and_wrong_at_twice_it(shape, seed, scale):
    """|expected| from 0 (where only atol counts) to 1e8 (where rtol dominates)."""
    rng = np.random.default_rng(seed)
    expected = scale * rng.normal(size=shape)
    bound = 1e-9 + 1e-6 * np.abs(expected)        # written out, not imported
    sign = rng.choice([-1.0, 1.0], size=shape)
    assert entries_right(expected + 0.5 * sign * bound, expected).all()
    far = expected + 2.0 * sign * bound
    assert not entries_right(far, expected).any()
    one = expected.copy()
    one.flat[0] = far.flat[0]
    mask = entries_right(one, expected)
    assert not mask.flat[0] and mask.sum() == expected.size - 1


def test_the_bound_is_relative_to_the_expected_value_not_the_answer():
    # Off by 1 + 5e-7 from 1e6: within 1e-6·|got| = 1 + 1e-6, beyond 1e-6·|expected| = 1.
    assert not entries_right(np.array([1e6 + 1.0000005]), np.array([1e6])).any()
    assert entries_right(np.array([1e6 + 0.9999995]), np.array([1e6])).all()
    # Near zero only atol counts: 5e-10 is right, 2e-9 is wrong.
    zero = np.zeros(2)
    assert entries_right(np.array([5e-10, -5e-10]), zero).all()
    assert not entries_right(np.array([2e-9, -2e-9]), zero).any()


@pytest.mark.parametrize(("got", "expected", "right"), [
    (np.inf, np.inf, True), (-np.inf, -np.inf, True), (np.nan, np.nan, True),
    (np.inf, -np.inf, False), (-np.inf, np.inf, False), (1e308, np.inf, False),
    (np.nan, 1.0, False), (np.inf, 1.0, False), (1.0, np.nan, False), (np.nan, np.inf, False),
    (0.0, 0.0, True), (-0.0, 0.0, True),
])
def test_non_finite_entries_are_right_only_where_the_reference_has_the_same(got, expected,
                                                                           right):
    assert bool(entries_right(np.array([got]), np.array([expected]))[0]) is right


def test_an_empty_answer_to_an_empty_expectation_is_right():
    assert entries_right(np.zeros((0, 3)), np.zeros((0, 3))).all()
    assert answer_array([]).shape == (0,)


# -- which steps are wrong ---------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3), T=st.integers(1, 6), d=st.integers(1, 4), seed=seeds,
       data=st.data())
def test_steps_right_marks_exactly_the_steps_with_a_wrong_entry(N, T, d, seed, data):
    rng = np.random.default_rng(seed)
    expected = rng.normal(size=(N, T, d))
    wrong = data.draw(st.sets(st.integers(0, T - 1)), label="wrong steps")
    got = expected.copy()
    for t in wrong:
        got[rng.integers(N), t, rng.integers(d)] += 1e-3
    assert [not r for r in steps_right(got, expected, 1)] == [t in wrong for t in range(T)]
    moved = np.moveaxis(got, 1, 0)
    assert list(steps_right(moved, np.moveaxis(expected, 1, 0), 0)) == list(
        steps_right(got, expected, 1))


# -- what counts as an answer ---------------------------------------------------------------


@pytest.mark.parametrize("value", [
    np.arange(6.0).reshape(2, 3), np.arange(6).reshape(2, 3), np.arange(6, dtype=np.uint8),
    np.arange(6, dtype=np.float32), [[0.0, 1.0], [2.0, 3.0]], [[0, 1], [2, 3]], (1.0, 2.0),
    [np.float32(1.5), np.int64(2)], 3, 2.5, np.float64(0.5), np.float32(0.5), np.int64(3),
    [np.zeros(2), np.ones(2)],
])
def test_numbers_in_any_natural_form_are_read_in_float64(value):
    array = answer_array(value)
    assert type(array) is np.ndarray and array.dtype == np.float64
    np.testing.assert_array_equal(array, np.asarray(value, dtype=np.float64))


def test_the_answer_is_a_copy():
    value = np.zeros(3)
    answer_array(value)[0] = 1.0
    assert value[0] == 0.0


@pytest.mark.parametrize(("value", "phrase"), [
    (None, "NoneType"), ("0.5", "str"), ({"a": 1}, "dict"), (True, "bool"),
    ([[1.0, 2.0], [3.0]], "ragged"), ([1.0, "x"], "str"), ([1.0, None], "NoneType"),
    (np.zeros(3, dtype=bool), "booleans"), (np.zeros(3, dtype=complex), "complex"),
    (np.zeros(3, dtype=object), "Python objects"), ([np.zeros(2, dtype=bool)], "booleans"),
    (np.bool_(True), "bool"), (np.complex128(1), "complex128"),
])
def test_what_is_not_numbers_is_refused_with_a_message_naming_it(value, phrase):
    with pytest.raises(RejectedAnswer, match=phrase):
        answer_array(value)


class LyingArray(np.ndarray):
    """An ndarray subclass claiming equality with everything."""

    def __eq__(self, other):
        return np.ones(np.broadcast(self, other).shape, dtype=bool)


class Impostor:
    """Not an array at all, but hands over the right answer when numpy asks."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = 0

    def __array__(self, dtype=None, copy=None):
        self.asked += 1
        return self.answer

    def __float__(self):
        self.asked += 1
        return 0.0


def test_ndarray_subclasses_are_refused_even_when_they_hold_the_right_values():
    expected = np.arange(4.0)
    for value in (expected.copy().view(LyingArray), np.ma.masked_array(expected)):
        with pytest.raises(RejectedAnswer, match="subclass of numpy.ndarray"):
            answer_array(value)


def test_objects_with_their_own_array_method_are_refused_without_being_asked():
    impostor, inside = Impostor(np.arange(4.0)), Impostor(1.0)
    with pytest.raises(RejectedAnswer, match="expected a numpy array, got Impostor"):
        answer_array(impostor)
    with pytest.raises(RejectedAnswer, match="Impostor"):
        answer_array([0.0, inside, 2.0])
    assert impostor.asked == inside.asked == 0


def test_a_class_whose_metaclass_lies_about_its_name_is_named_without_running_its_code():
    class Meta(type):
        def __getattribute__(cls, name):
            if name in ("__name__", "__qualname__"):
                raise AssertionError("student code ran")
            return super().__getattribute__(name)

    class Sneaky(metaclass=Meta):
        pass

    with pytest.raises(RejectedAnswer, match="Sneaky"):
        answer_array(Sneaky())


@pytest.mark.parametrize(("value", "precision"), [
    (np.zeros(2, dtype=np.float32), "float32"), (np.zeros(2, dtype=np.float16), "float16"),
    (np.float32(1.0), "float32"), ([np.zeros(2), np.zeros(2, dtype=np.float32)], "float32"),
    ([np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.float16)], "float16"),
    (np.zeros(2), None), (np.zeros(2, dtype=int), None), ([1.0, 2], None), (None, None),
])
def test_lower_precision_names_the_least_precise_float_in_the_answer(value, precision):
    assert lower_precision(value) == precision


# -- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("got", "expected", "hint"), [
    ((5, 3), (3, 5), "transposed?"),
    ((3, 4), (3, 5), "axis 1 has length 4, expected 5"),
    ((4, 3), (2, 4, 3), "axis 0, of length 2, is missing"),
    ((24,), (2, 4, 3), "reshaped or flattened"),
    ((2, 1, 4, 3), (2, 4, 3), "length 1"),
])
def test_a_wrong_shape_names_both_shapes_and_its_likely_cause(got, expected, hint):
    problem = shape_problem(got, expected)
    assert f"expected {expected}, got {got}" in problem and hint in problem
    assert shape_problem(expected, expected) is None
