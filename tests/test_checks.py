"""Check primitives (grader.checking.checks): scores, messages, distrust of student objects."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.checking.checks import (
    RejectedAnswer,
    answer_array,
    bitwise_differences,
    call_detecting_mutation,
    call_twice,
    checked_call,
    compare_arrays,
    compare_gradients,
    determinism_check,
    first_wrong_time,
    mutation_check,
)

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
RTOL, ATOL = 1e-6, 1e-9


def within(got, expected):
    return np.abs(got - expected) <= ATOL + RTOL * np.abs(expected)


# -- compare_arrays: scores ----------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(shape=shapes, seed=seeds, fraction=st.floats(0, 1),
       size=st.sampled_from([1e-12, 1e-8, 1e-3, 1.0]))
def test_full_score_iff_every_entry_within_tolerance_and_credit_is_the_fraction(
        shape, seed, fraction, size):
    rng = np.random.default_rng(seed)
    expected = rng.normal(size=shape)
    got = expected.copy()
    hit = rng.random(shape) < fraction
    got[hit] += size * rng.choice([-1, 1], size=int(hit.sum())) * (1 + np.abs(expected[hit]))
    result = compare_arrays("a", got, expected, rtol=RTOL, atol=ATOL)
    ok = within(got, expected)
    assert (result.score == 1.0) == bool(ok.all()) == (result.status == "passed")
    assert result.score == pytest.approx(ok.mean())
    assert result.details["n_wrong"] == int((~ok).sum())


@settings(max_examples=50, deadline=None)
@given(got=st.one_of(
           hnp.arrays(np.float64, shapes, elements=st.floats(allow_nan=True, allow_infinity=True)),
           hnp.arrays(st.sampled_from([np.int64, np.bool_, np.complex128]), shapes),
           st.lists(st.floats(), max_size=6), st.none(), st.text(max_size=5),
           st.integers(), st.floats()),
       shape=shapes, seed=seeds, time_axis=st.one_of(st.none(), st.just(0)))
def test_score_is_always_in_the_unit_interval(got, shape, seed, time_axis):
    expected = np.random.default_rng(seed).normal(size=shape)
    result = compare_arrays("a", got, expected, time_axis=time_axis)
    assert 0.0 <= result.score <= 1.0
    assert result.status in ("passed", "failed")
    assert result.message


def test_exact_match_passes_and_float32_answers_are_read_in_float64():
    expected = np.linspace(-1, 1, 12).reshape(3, 4)
    assert compare_arrays("a", expected.copy(), expected).status == "passed"
    result = compare_arrays("a", expected.astype(np.float32), expected, rtol=1e-6)
    assert result.score == 1.0
    assert compare_arrays("a", expected.tolist(), expected).score == 1.0


def test_relative_error_tolerance_mode():
    expected = np.array([1.0, 0.0, 100.0])
    got = np.array([1.0 + 1e-8, 1e-12, 101.0])
    result = compare_arrays("a", got, expected, rel_tol=1e-6, atol=1e-10)
    assert result.details["n_wrong"] == 1
    assert result.details["worst_index"] == [2]


# -- compare_arrays: messages --------------------------------------------------------


def test_wrong_shape_names_both_shapes_and_suspects_a_transpose():
    expected = np.zeros((3, 5))
    result = compare_arrays("a", np.zeros((5, 3)), expected)
    assert result.score == 0.0
    assert "expected (3, 5), got (5, 3)" in result.message
    assert "transposed?" in result.message
    other = compare_arrays("a", np.zeros((3, 4)), expected)
    assert "transposed" not in other.message
    assert "axis 1 has length 4, expected 5" in other.message


def test_missing_axis_and_flattened_answers_get_their_own_hint():
    expected = np.zeros((2, 4, 3))
    assert "axis 0, of length 2, is missing" in compare_arrays("a", np.zeros((4, 3)),
                                                                expected).message
    assert "reshaped or flattened" in compare_arrays("a", np.zeros(24), expected).message
    assert "length 1" in compare_arrays("a", np.zeros((2, 1, 4, 3)), expected).message


@pytest.mark.parametrize("kind, value", [("NaN", np.nan), ("inf", np.inf), ("inf", -np.inf)])
def test_non_finite_entries_are_located(kind, value):
    expected = np.ones((2, 3, 4))
    got = expected.copy()
    got[1, 2, 0] = value
    got[1, 2, 3] = value
    result = compare_arrays("a", got, expected)
    assert f"contains {kind} at index (1, 2, 0)" in result.message
    assert "1 more non-finite" in result.message
    assert result.details["first_nonfinite"] == [1, 2, 0]
    assert result.score == pytest.approx(22 / 24)


@pytest.mark.parametrize("dtype, word", [(np.int64, "integers"), (np.bool_, "booleans"),
                                         (np.complex128, "complex"), (object, "Python objects"),
                                         (np.uint8, "unsigned integers")])
def test_non_float_dtypes_are_refused_with_a_message(dtype, word):
    result = compare_arrays("a", np.zeros(3, dtype=dtype), np.zeros(3))
    assert result.score == 0.0
    assert word in result.message
    assert "float" in result.message


@pytest.mark.parametrize("value, phrase", [
    (None, "NoneType"), ("0.5", "str"), ({"a": 1}, "dict"), (True, "bool"),
    (np.int64(3), "int64"), ([[1.0, 2.0], [3.0]], "ragged"), ([1.0, "x"], "str"),
    ([1.0, None], "NoneType"),
])
def test_non_arrays_are_refused_with_a_message(value, phrase):
    result = compare_arrays("a", value, np.zeros(2))
    assert result.score == 0.0
    assert phrase in result.message


class LyingArray(np.ndarray):
    """An ndarray subclass claiming equality with everything."""

    def __eq__(self, other):
        return np.ones(np.broadcast(self, other).shape, dtype=bool)

    def __sub__(self, other):
        return np.zeros(np.broadcast(self, other).shape)


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
    result = compare_arrays("a", expected.copy().view(LyingArray), expected)
    assert result.score == 0.0
    assert "subclass of numpy.ndarray" in result.message
    assert compare_arrays("a", np.ma.masked_array(expected), expected).score == 0.0


def test_objects_with_their_own_array_method_are_refused_without_being_asked():
    expected = np.arange(4.0)
    impostor = Impostor(expected.copy())
    result = compare_arrays("a", impostor, expected)
    assert result.score == 0.0
    assert "expected a numpy array, got Impostor" in result.message
    inside = Impostor(1.0)
    assert compare_arrays("a", [0.0, inside, 2.0, 3.0], expected).score == 0.0
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


# -- first wrong time step -------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(N=st.integers(1, 3), T=st.integers(1, 8), d=st.integers(1, 3), seed=seeds,
       data=st.data())
def test_first_wrong_time_walks_back_from_the_last_step(N, T, d, seed, data):
    rng = np.random.default_rng(seed)
    expected = rng.normal(size=(N, T, d))
    wrong_steps = data.draw(st.sets(st.integers(0, T - 1), max_size=T))
    got = expected.copy()
    for t in wrong_steps:
        got[rng.integers(N), t, rng.integers(d)] += 1.0
    loc = first_wrong_time(got, expected, time_axis=1)
    assert loc.first_wrong == (max(wrong_steps) if wrong_steps else None)
    assert loc.right_steps == tuple(t not in wrong_steps for t in range(T))
    assert loc.fraction_right == pytest.approx(1 - len(wrong_steps) / T)
    result = compare_arrays("ds", got, expected, time_axis=1)
    assert result.score == pytest.approx(loc.fraction_right)
    assert result.details["first_wrong_time"] == loc.first_wrong
    if wrong_steps:
        assert f"first wrong step is t={max(wrong_steps)}" in result.message


def test_first_wrong_time_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="wrong shape"):
        first_wrong_time(np.zeros((2, 3)), np.zeros((3, 2)))


# -- per-parameter gradient table ------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=seeds, data=st.data())
def test_gradient_credit_is_the_fraction_of_parameters_right(seed, data):
    rng = np.random.default_rng(seed)
    shapes_ = {"U": (3, 4), "W": (4, 4), "b": (4,), "V": (4, 2), "c": (2,)}
    expected = {k: rng.normal(size=s) for k, s in shapes_.items()}
    broken = data.draw(st.sets(st.sampled_from(sorted(shapes_))))
    got = {k: v.copy() for k, v in expected.items()}
    for k in broken:
        got[k].flat[rng.integers(got[k].size)] += 0.5
    result = compare_gradients(got, expected, points=3.0)
    assert result.score == pytest.approx(1 - len(broken) / len(shapes_))
    assert (result.status == "passed") == (not broken)
    table = {line.split()[0]: line.split()[-1] for line in result.message.splitlines()[1:6]}
    assert table == {k: ("WRONG" if k in broken else "ok") for k in shapes_}
    for k in shapes_:
        assert result.details["parameters"][k]["right"] == (k not in broken)


def test_gradient_table_reports_missing_misshapen_and_unexpected_keys():
    expected = {"U": np.ones((2, 3)), "W": np.ones((3, 3)), "b": np.ones(3)}
    got = {"U": np.ones((3, 2)), "W": np.ones((3, 3)), "extra": np.zeros(1)}
    result = compare_gradients(got, expected)
    assert result.score == pytest.approx(1 / 3)
    assert "missing gradients: b" in result.message
    assert "U: wrong shape: expected (2, 3), got (3, 2) (transposed?)" in result.message
    assert "unexpected keys (ignored): extra" in result.message


@pytest.mark.parametrize("got", [[np.ones(2)], None, "grads", {1: np.ones(2)}])
def test_gradients_that_are_not_a_dict_of_names_score_zero(got):
    result = compare_gradients(got, {"U": np.ones(2)})
    assert result.score == 0.0
    assert result.status == "failed"


def test_a_dict_subclass_is_not_trusted():
    class Sneaky(dict):
        def get(self, key, default=None):
            raise AssertionError("student code ran")

    assert compare_gradients(Sneaky(U=np.ones(2)), {"U": np.ones(2)}).score == 0.0


# -- mutation and determinism ---------------------------------------------------------


def step(x_t, s_prev, W):
    s_prev *= 0.5                     # the bug: scales the caller's array in place
    return np.tanh(x_t + s_prev @ W)


def pure_step(x_t, s_prev, W):
    return np.tanh(x_t + s_prev @ W)


def test_mutation_is_reported_by_argument_name_and_never_reaches_the_caller():
    rng = np.random.default_rng(0)
    x_t, s_prev, W = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(3, 3))
    kept = s_prev.copy()
    report = call_detecting_mutation(step, x_t, s_prev, W)
    assert report.mutated == ("s_prev",)
    np.testing.assert_array_equal(s_prev, kept)
    np.testing.assert_allclose(report.value, np.tanh(x_t + 0.5 * kept @ W))
    check = mutation_check("no mutation", report)
    assert (check.score, check.status) == (0.0, "failed")
    assert "s_prev" in check.message
    clean = call_detecting_mutation(pure_step, x_t, s_prev, W)
    assert clean.mutated == ()
    assert mutation_check("no mutation", clean).score == 1.0


def test_mutation_of_keyword_arrays_and_unnamed_callables():
    def scale(a, *, out):
        out[...] = 2 * a
        return out

    report = call_detecting_mutation(scale, np.ones(2), out=np.zeros(2))
    assert report.mutated == ("out",)
    report = call_detecting_mutation(np.add, np.ones(2), np.ones(2), np.zeros(2))
    assert report.mutated == ("out",)                 # np.add(x1, x2, out)
    report = call_detecting_mutation(lambda *arrays: arrays[2].fill(1.0),
                                     np.ones(2), np.ones(2), np.zeros(2))
    assert report.mutated == ("argument 3",)


def test_determinism_catches_state_kept_between_calls():
    calls = []

    def accumulating(x):
        calls.append(1)
        return x * len(calls)

    report = call_twice(accumulating, np.ones(3))
    assert not report.deterministic
    assert determinism_check("deterministic", report).score == 0.0
    pure = call_twice(lambda x: {"y": (x * 2, float(x.sum()))}, np.ones(3))
    assert pure.deterministic
    assert determinism_check("deterministic", pure).status == "passed"


def test_bitwise_comparison_treats_nan_as_equal_and_signed_zeros_as_different():
    assert bitwise_differences(np.array([np.nan]), np.array([np.nan])) == []
    assert bitwise_differences(np.array([0.0]), np.array([-0.0])) == ["output"]
    assert bitwise_differences(np.ones(2), np.ones(2, dtype=np.float32)) == ["output"]
    assert bitwise_differences((1.0, [np.nan]), (1.0, [np.nan])) == []
    assert bitwise_differences({"a": 1}, {"a": 2}) == ["output['a']"]
    with pytest.raises(TypeError):
        bitwise_differences(object(), object())


def test_checked_call_turns_an_exception_into_an_error_result():
    value, error = checked_call("forward", 2.0, lambda: 1 / 0)
    assert value is None
    assert (error.status, error.score, error.points) == ("error", 0.0, 2.0)
    assert "ZeroDivisionError" in error.message
    assert checked_call("forward", 2.0, lambda: 3) == (3, None)
