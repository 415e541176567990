"""Check primitives: read a student's answer as numbers, and compare it with the reference.

- `answer_array`: the answer as a fresh float64 array, or `RejectedAnswer`
  with a message for the student;
- `entries_right`: which entries are within tolerance;
- `steps_right`: which time steps of an array with a time axis are right;
- `shape_problem`: a wrong shape named, with its likely cause;
- `lower_precision`: whether a float32 or float16 answer may explain a miss.

Tolerance. An entry is right when |got − expected| ≤ ATOL + RTOL·|expected|
(numpy's isclose, with RTOL = 1e-6 and ATOL = 1e-9), both in float64.
Non-finite entries are right only where the reference has the same
non-finite value (NaN where it has NaN, +inf where it has +inf).

Trust. A student's answer is never trusted for its `__array__`, `__eq__`,
`__float__` or subclass: `answer_array` accepts only exact `np.ndarray`s of a
float or integer dtype, Python floats and ints, numpy float and integer
scalars, and (nested) lists and tuples of those, checked by exact type before
numpy converts anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RTOL = 1e-6
ATOL = 1e-9
MAX_LIST_ENTRIES = 10_000_000

_NUMBER_SCALARS = (float, int, np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                   np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
_NUMBER_KINDS = "fiu"         # float, signed and unsigned integer arrays: compared in float64
_DTYPE_PROBLEMS = {
    "b": "booleans",
    "c": "complex numbers",
    "O": "Python objects",
    "U": "strings",
    "S": "bytes",
    "V": "structured records",
    "M": "dates",
    "m": "time deltas",
}


class RejectedAnswer(ValueError):
    """The answer cannot be read as a float array; the message says why, for the student."""


def type_name(value: Any) -> str:
    """The name of value's class, read without running any code of that class."""
    cls = type(value)
    return type.__dict__["__qualname__"].__get__(cls, type)


def answer_array(value: Any) -> np.ndarray:
    """A fresh float64 copy of a student's answer, or `RejectedAnswer`.

    Accepted, and compared in float64: exact np.ndarray of a float or integer
    dtype; Python float or int (not bool); numpy float and integer scalars;
    lists and tuples nesting those. Rejected, by exact type before any
    conversion: ndarray subclasses, objects with their own `__array__`,
    bool/complex/object arrays, ragged lists.
    """
    cls = type(value)
    if cls is np.ndarray:
        kind = value.dtype.kind
        if kind not in _NUMBER_KINDS:
            raise RejectedAnswer(
                f"the array holds {_DTYPE_PROBLEMS.get(kind, 'non-numbers')} "
                f"(dtype {value.dtype.name}); return floating-point numbers (float64)"
            )
        return np.array(value, dtype=np.float64, copy=True)
    if cls in _NUMBER_SCALARS:
        return np.array(value, dtype=np.float64)
    if cls in (list, tuple):
        _check_nested_numbers(value)
        try:
            return np.array(value, dtype=np.float64, copy=True)
        except ValueError as exc:
            raise RejectedAnswer(
                "the nested list is ragged (its rows have different lengths); "
                "return one numpy array"
            ) from exc
    if isinstance(value, np.ndarray):
        raise RejectedAnswer(
            f"got a {type_name(value)}, a subclass of numpy.ndarray; "
            "return a plain numpy array (np.asarray(...))"
        )
    if isinstance(value, np.generic):
        raise RejectedAnswer(
            f"got a numpy {type_name(value)} scalar; return floating-point numbers (float64)"
        )
    if cls is bool:
        raise RejectedAnswer("got a bool (True/False); return floating-point numbers")
    raise RejectedAnswer(f"expected a numpy array, got {type_name(value)}")


def lower_precision(value: Any) -> str | None:
    """"float16" or "float32" when an answer holds floats of less than double precision
    (which may be why it misses the tolerance), else None. Reads exact types only."""
    stack, found = [value], set()
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls in (list, tuple):
            stack.extend(item)
        elif cls is np.ndarray:
            found.add(item.dtype.name)
        elif cls in (np.float16, np.float32):
            found.add(np.dtype(cls).name)
    return next((name for name in ("float16", "float32") if name in found), None)


def _check_nested_numbers(value) -> None:
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls in (list, tuple):
            stack.extend(item)
        elif cls is np.ndarray:
            if item.dtype.kind not in _NUMBER_KINDS:
                kind = _DTYPE_PROBLEMS.get(item.dtype.kind, "non-numbers")
                raise RejectedAnswer(
                    f"the list holds an array of {kind} (dtype {item.dtype.name}); "
                    "return floating-point numbers"
                )
            seen += item.size
        elif cls in _NUMBER_SCALARS:
            seen += 1
        else:
            raise RejectedAnswer(
                f"the list holds a {type_name(item)}; it should hold only numbers"
            )
        if seen > MAX_LIST_ENTRIES:
            raise RejectedAnswer("the list is too large")


def entries_right(got: np.ndarray, expected: np.ndarray, *, rtol: float = RTOL,
                  atol: float = ATOL) -> np.ndarray:
    """Boolean mask of entries within tolerance (see the module docstring); same shapes only."""
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    same_nonfinite = ~np.isfinite(expected) & (
        (np.isnan(expected) & np.isnan(got)) | (got == expected))
    return (close & np.isfinite(got) & np.isfinite(expected)) | same_nonfinite


def shape_problem(got_shape: tuple, expected_shape: tuple) -> str | None:
    """A message naming expected and actual shape, with a hint at the cause; None if equal."""
    got_shape, expected_shape = tuple(got_shape), tuple(expected_shape)
    if got_shape == expected_shape:
        return None
    msg = f"wrong shape: expected {expected_shape}, got {got_shape}"
    if len(got_shape) >= 2 and got_shape == expected_shape[::-1]:
        return msg + " (transposed?)"
    if tuple(n for n in got_shape if n != 1) == tuple(n for n in expected_shape if n != 1):
        return msg + " (an extra or missing axis of length 1: keepdims or a stray reshape?)"
    if len(got_shape) == len(expected_shape) - 1:
        for axis in range(len(expected_shape)):
            if expected_shape[:axis] + expected_shape[axis + 1:] == got_shape:
                return msg + (f" (axis {axis}, of length {expected_shape[axis]}, is missing:"
                              " summed or averaged over it?)")
    if int(np.prod(got_shape)) == int(np.prod(expected_shape)):
        return msg + " (same number of entries in a different arrangement: reshaped or flattened?)"
    if len(got_shape) == len(expected_shape):
        wrong = [a for a in range(len(got_shape)) if got_shape[a] != expected_shape[a]]
        if len(wrong) == 1:
            a = wrong[0]
            return msg + f" (axis {a} has length {got_shape[a]}, expected {expected_shape[a]})"
    return msg


def steps_right(got: np.ndarray, expected: np.ndarray, time_axis: int) -> np.ndarray:
    """Per time step, whether every entry at that step is within tolerance (same shapes)."""
    right = entries_right(got, expected)
    return np.moveaxis(right, time_axis, 0).reshape(expected.shape[time_axis], -1).all(axis=1)
