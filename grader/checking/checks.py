"""Check primitives: compare a student's answer with the reference, return a `CheckResult`.

Every check here scores in [0, 1] and never below 0:

- `compare_arrays`: one array. Partial credit is the fraction of entries
  within tolerance, or with `time_axis` the fraction of time steps whose
  entries are all within tolerance.
- `compare_gradients`: a dict of arrays (one per parameter), with a
  per-parameter relative-error table; partial credit is the fraction of
  parameters that are right.
- `first_wrong_time`: walking back from the last time step, where the
  student's array first departs from the reference.
- `call_detecting_mutation` / `mutation_check`: did the function change an
  array it was given?
- `call_twice` / `determinism_check`: do identical inputs give bitwise
  identical outputs?
- `checked_call`: run the student's function; an exception becomes a check
  with status "error".

Tolerance. An entry is right when |got − expected| ≤ atol + rtol·|expected|
(numpy's isclose), or, when `rel_tol` is given, when the CS231n relative error
|got − expected| / max(|got| + |expected|, 1e-12) ≤ rel_tol or
|got − expected| ≤ atol. Non-finite entries are right only where the
reference has the same non-finite value.

Trust. A student's answer is never trusted for its `__array__`, `__eq__`,
`__float__` or subclass: `answer_array` accepts only exact `np.ndarray`s of a
float dtype, Python floats and ints, numpy float scalars, and (nested) lists
and tuples of those, checked by exact type before numpy converts anything.
"""

from __future__ import annotations

import inspect
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checking.gradcheck import relative_error
from grader.reports.results import CheckResult, error_result

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
MAX_LIST_ENTRIES = 10_000_000

_FLOAT_SCALARS = (float, np.float16, np.float32, np.float64)
_DTYPE_PROBLEMS = {
    "b": "booleans",
    "i": "integers",
    "u": "unsigned integers",
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

    Accepted: exact np.ndarray of a float dtype; Python float or int (not
    bool); numpy float scalars; lists and tuples nesting those. Rejected, by
    exact type before any conversion: ndarray subclasses, objects with their
    own `__array__`, integer/bool/complex/object arrays, ragged lists.
    """
    cls = type(value)
    if cls is np.ndarray:
        kind = value.dtype.kind
        if kind != "f":
            raise RejectedAnswer(
                f"the array holds {_DTYPE_PROBLEMS.get(kind, 'non-floats')} "
                f"(dtype {value.dtype.name}); return floating-point numbers (float64)"
            )
        return np.array(value, dtype=np.float64, copy=True)
    if cls in _FLOAT_SCALARS or cls is int:
        return np.array(float(value) if cls is int else value, dtype=np.float64)
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


def _check_nested_numbers(value) -> None:
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls in (list, tuple):
            stack.extend(item)
        elif cls is np.ndarray:
            if item.dtype.kind != "f":
                kind = _DTYPE_PROBLEMS.get(item.dtype.kind, "non-floats")
                raise RejectedAnswer(
                    f"the list holds an array of {kind} (dtype {item.dtype.name}); "
                    "return floating-point numbers"
                )
            seen += item.size
        elif cls in _FLOAT_SCALARS or cls is int:
            seen += 1
        else:
            raise RejectedAnswer(
                f"the list holds a {type_name(item)}; it should hold only numbers"
            )
        if seen > MAX_LIST_ENTRIES:
            raise RejectedAnswer("the list is too large")


def _fraction(k: int, n: int) -> float:
    return 1.0 if n == 0 else min(1.0, max(0.0, k / n))


def entries_right(got: np.ndarray, expected: np.ndarray, *, rtol: float = DEFAULT_RTOL,
                  atol: float = DEFAULT_ATOL, rel_tol: float | None = None) -> np.ndarray:
    """Boolean mask of entries within tolerance (see the module docstring); same shapes only."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - expected)
        if rel_tol is None:
            close = diff <= atol + rtol * np.abs(expected)
        else:
            close = (relative_error(got, expected) <= rel_tol) | (diff <= atol)
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


def _index_text(index: tuple) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ("," if len(index) == 1 else "") + ")"


@dataclass(frozen=True)
class TimeLocalisation:
    """Which time steps of an array with a time axis match the reference.

    right_steps: per time step, whether every entry at that step is right.
    first_wrong: walking back from the last step T − 1 (the order BPTT
        computes in), the first step that is wrong; None when all are right.
    fraction_right: the fraction of steps that are right.
    """

    right_steps: tuple[bool, ...]
    first_wrong: int | None
    fraction_right: float


def first_wrong_time(got, expected, time_axis: int = 1, *, rtol: float = DEFAULT_RTOL,
                     atol: float = DEFAULT_ATOL, rel_tol: float | None = None
                     ) -> TimeLocalisation:
    """Localise a wrong array with a time axis, e.g. per-step state gradients (N, T, d).

    got, expected: float arrays of the same shape (call `answer_array` on a
    student's value first). time_axis: the axis indexing t = 0 … T − 1.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise ValueError(shape_problem(got.shape, expected.shape))
    right = entries_right(got, expected, rtol=rtol, atol=atol, rel_tol=rel_tol)
    right = np.moveaxis(right, time_axis, 0).reshape(expected.shape[time_axis], -1).all(axis=1)
    wrong_steps = np.flatnonzero(~right)
    return TimeLocalisation(
        right_steps=tuple(bool(r) for r in right),
        first_wrong=int(wrong_steps[-1]) if wrong_steps.size else None,
        fraction_right=_fraction(int(right.sum()), right.size),
    )


def _time_text(loc: TimeLocalisation) -> str:
    T = len(loc.right_steps)
    if loc.first_wrong is None:
        return ""
    text = (f"Walking back from the last time step t={T - 1}, "
            f"the first wrong step is t={loc.first_wrong}")
    if loc.first_wrong < T - 1:
        text += f" (steps t={loc.first_wrong + 1}…{T - 1} are right)"
    n_right = sum(loc.right_steps)
    return text + f"; {n_right} of {T} time steps are right."


def compare_arrays(
    name: str,
    got: Any,
    expected,
    *,
    points: float = 1.0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    rel_tol: float | None = None,
    time_axis: int | None = None,
    visibility: str = "visible",
    what: str = "your array",
) -> CheckResult:
    """Compare a student's answer `got` with the reference array `expected`.

    Partial credit: the fraction of entries right, or with time_axis the
    fraction of time steps whose entries are all right; 0 for an answer of
    the wrong shape or type. Status "passed" only when everything is right.
    details: shape, n_wrong, n_total, max_abs_error, max_relative_error,
    worst_index, first_nonfinite, and with time_axis right_steps and
    first_wrong_time.
    """
    expected = np.asarray(expected, dtype=np.float64)
    try:
        arr = answer_array(got)
    except RejectedAnswer as exc:
        return CheckResult(name, points, 0.0, "failed", visibility, f"{what}: {exc}.",
                           {"problem": "type", "expected_shape": list(expected.shape)})
    problem = shape_problem(arr.shape, expected.shape)
    if problem:
        return CheckResult(name, points, 0.0, "failed", visibility, f"{what}: {problem}.",
                           {"problem": "shape", "expected_shape": list(expected.shape),
                            "got_shape": list(arr.shape)})

    right = entries_right(arr, expected, rtol=rtol, atol=atol, rel_tol=rel_tol)
    n_total, n_right = int(right.size), int(right.sum())
    details: dict[str, Any] = {"shape": list(expected.shape), "n_wrong": n_total - n_right,
                               "n_total": n_total}
    finite = np.isfinite(arr) & np.isfinite(expected)
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.where(finite, np.abs(arr - expected), 0.0)
    rel = np.where(finite, relative_error(arr, expected), 0.0)
    if n_total:
        details["max_abs_error"] = float(np.max(absdiff))  # over finite entries
        details["max_relative_error"] = float(np.max(rel))
    lines = []
    if n_right < n_total:
        tol_text = (f"relative error ≤ {rel_tol:g}" if rel_tol is not None
                    else f"|got − expected| ≤ {atol:g} + {rtol:g}·|expected|")
        lines.append(f"{n_total - n_right} of {n_total} entries differ from the reference "
                     f"(tolerance {tol_text}).")
    nonfinite = ~np.isfinite(arr) & ~right
    if nonfinite.any():
        first = tuple(int(i) for i in np.argwhere(nonfinite)[0])
        details["first_nonfinite"] = list(first)
        kind = "NaN" if np.isnan(arr[first]) else "inf"
        more = int(nonfinite.sum()) - 1
        lines.append(f"{what[:1].upper() + what[1:]} contains {kind} at index {_index_text(first)}"
                     + (f" and {more} more non-finite entries" if more else "")
                     + " (overflow, log of 0, or 0/0?).")
    wrong_finite = ~right & finite
    if wrong_finite.any():
        ranking = np.where(wrong_finite, rel, -1.0)
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ranking)), arr.shape))
        details["worst_index"] = list(worst)
        lines.append(f"The largest relative difference is at index {_index_text(worst)}: "
                     f"got {arr[worst]:.6g}, expected {expected[worst]:.6g}.")
    score = _fraction(n_right, n_total)
    if time_axis is not None and expected.ndim:
        loc = first_wrong_time(arr, expected, time_axis, rtol=rtol, atol=atol, rel_tol=rel_tol)
        details["right_steps"] = list(loc.right_steps)
        details["first_wrong_time"] = loc.first_wrong
        score = loc.fraction_right
        if loc.first_wrong is not None:
            lines.append(_time_text(loc))
    status = "passed" if n_right == n_total else "failed"
    message = "matches the reference." if status == "passed" else " ".join(lines)
    return CheckResult(name, points, score, status, visibility, message, details)


@dataclass(frozen=True)
class ParameterVerdict:
    """One row of the per-parameter table: is the gradient of this parameter right?"""

    key: str
    shape: tuple[int, ...]
    right: bool
    entries_right: int
    entries: int
    max_relative_error: float | None
    problem: str | None


def _parameter_verdict(key, got, expected, rtol, atol, rel_tol) -> ParameterVerdict:
    exp = np.asarray(expected, dtype=np.float64)
    if got is _MISSING:
        return ParameterVerdict(key, exp.shape, False, 0, exp.size, None, "missing")
    try:
        arr = answer_array(got)
    except RejectedAnswer as exc:
        return ParameterVerdict(key, exp.shape, False, 0, exp.size, None, str(exc))
    problem = shape_problem(arr.shape, exp.shape)
    if problem:
        return ParameterVerdict(key, exp.shape, False, 0, exp.size, None, problem)
    right = entries_right(arr, exp, rtol=rtol, atol=atol, rel_tol=rel_tol)
    mre = float(np.max(relative_error(arr, exp))) if exp.size else 0.0
    return ParameterVerdict(key, exp.shape, bool(right.all()), int(right.sum()), exp.size, mre,
                            None)


_MISSING = object()


def gradient_table(verdicts: list[ParameterVerdict]) -> str:
    """The per-parameter table as fixed-width text."""
    head = ("parameter", "shape", "max rel. error", "entries right", "verdict")
    rows = [head]
    for v in verdicts:
        verdict = "ok" if v.right else ("MISSING" if v.problem == "missing" else "WRONG")
        rows.append((v.key, str(v.shape),
                     "—" if v.max_relative_error is None else f"{v.max_relative_error:.1e}",
                     "—" if v.problem else f"{v.entries_right}/{v.entries}", verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    return "\n".join(lines)


def compare_gradients(
    got: Any,
    expected: Mapping[str, Any],
    *,
    name: str = "gradients",
    points: float = 1.0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    rel_tol: float | None = None,
    visibility: str = "visible",
) -> CheckResult:
    """Compare a dict of gradients {parameter: array} with the reference's.

    got must be a plain dict with str keys. Score: the fraction of the
    reference's parameters whose gradient is entirely right; keys the
    reference lacks are reported but cost nothing. The message is a text
    table (`gradient_table`) plus a line per problem; details["parameters"]
    holds the same table as JSON.
    """
    if type(got) is not dict:
        return CheckResult(name, points, 0.0, "failed", visibility,
                           f"expected a dict of gradients keyed by parameter name "
                           f"({', '.join(expected)}), got {type_name(got)}.",
                           {"problem": "type"})
    if any(type(k) is not str for k in got):
        return CheckResult(name, points, 0.0, "failed", visibility,
                           "the gradient dict's keys must be parameter names (strings).",
                           {"problem": "keys"})
    verdicts = [_parameter_verdict(k, got.get(k, _MISSING), expected[k], rtol, atol, rel_tol)
                for k in expected]
    extra = sorted(k for k in got if k not in expected)
    n_right = sum(v.right for v in verdicts)
    lines = [gradient_table(verdicts)]
    lines += [f"{v.key}: {v.problem}" for v in verdicts if v.problem and v.problem != "missing"]
    missing = [v.key for v in verdicts if v.problem == "missing"]
    if missing:
        lines.append("missing gradients: " + ", ".join(missing))
    if extra:
        lines.append("unexpected keys (ignored): " + ", ".join(extra))
    details = {
        "parameters": {
            v.key: {"shape": list(v.shape), "right": v.right, "entries_right": v.entries_right,
                    "entries": v.entries, "max_relative_error": v.max_relative_error,
                    "problem": v.problem}
            for v in verdicts
        },
        "unexpected_keys": extra,
    }
    status = "passed" if n_right == len(verdicts) else "failed"
    return CheckResult(name, points, _fraction(n_right, len(verdicts)), status, visibility,
                       "\n".join(lines), details)


def _argument_names(fn: Callable, n_positional: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n_positional):
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY,
                                                   params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        else:
            names.append(f"argument {i + 1}")
    return names


def _bitwise_equal_arrays(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@dataclass(frozen=True)
class MutationReport:
    """The value fn returned, and the names of the array arguments it changed in place."""

    value: Any
    mutated: tuple[str, ...]


def call_detecting_mutation(fn: Callable, *args: Any, names: list[str] | None = None,
                            **kwargs: Any) -> MutationReport:
    """Call fn on copies of its array arguments and report which copies it changed.

    Every exact np.ndarray among args and kwargs is copied twice: one copy
    is passed to fn, the other kept to compare with afterwards (bitwise,
    shape and dtype included). The caller's arrays are never passed in, so
    they are never changed. names: one per positional argument (default:
    fn's parameter names, else "argument k"); keyword arguments go by key.
    """
    names = list(names) if names is not None else _argument_names(fn, len(args))
    kept = []

    def given(label, value):
        if type(value) is not np.ndarray:
            return value
        kept.append((label, np.array(value, copy=True), np.array(value, copy=True)))
        return kept[-1][2]

    passed_args = [given(label, v) for label, v in zip(names, args, strict=True)]
    passed_kwargs = {k: given(k, v) for k, v in kwargs.items()}
    value = fn(*passed_args, **passed_kwargs)
    mutated = tuple(label for label, original, given in kept
                    if not _bitwise_equal_arrays(original, given))
    return MutationReport(value, mutated)


def mutation_check(name: str, report: MutationReport, *, points: float = 1.0,
                   visibility: str = "visible") -> CheckResult:
    """Passed when the function changed none of its input arrays."""
    if not report.mutated:
        return CheckResult(name, points, 1.0, "passed", visibility,
                           "does not change its inputs.", {"mutated": []})
    listed = ", ".join(report.mutated)
    return CheckResult(name, points, 0.0, "failed", visibility,
                       f"changes its input{'s' if len(report.mutated) > 1 else ''} {listed} in "
                       "place (an in-place operation such as +=, *= or x[...] = on an array "
                       "you were given); work on a copy instead.",
                       {"mutated": list(report.mutated)})


def bitwise_differences(first: Any, second: Any, path: str = "output") -> list[str]:
    """Paths at which two outputs differ bitwise.

    Walks exact ndarrays, Python and numpy numbers, str, bytes, None, and
    lists, tuples and dicts of those; arrays must agree in shape, dtype and
    every bit (so NaN equals NaN and 0.0 differs from -0.0). Raises TypeError
    for any other type.
    """
    t1, t2 = type(first), type(second)
    if t1 is not t2:
        return [path]
    if t1 is np.ndarray:
        if first.dtype.kind == "O":
            raise TypeError(f"{path}: cannot compare arrays of Python objects")
        return [] if _bitwise_equal_arrays(first, second) else [path]
    if t1 is float:
        return [] if struct.pack("<d", first) == struct.pack("<d", second) else [path]
    if t1 in (int, bool, str, bytes, type(None)) or isinstance(first, np.generic):
        if isinstance(first, np.generic) and first.dtype.kind == "O":
            raise TypeError(f"{path}: cannot compare Python objects")
        same = (first.tobytes() == second.tobytes() if isinstance(first, np.generic)
                else first == second)
        return [] if same else [path]
    if t1 in (list, tuple):
        if len(first) != len(second):
            return [path]
        return [p for i, (a, b) in enumerate(zip(first, second, strict=True))
                for p in bitwise_differences(a, b, f"{path}[{i}]")]
    if t1 is dict:
        if list(first) != list(second):
            return [path]
        return [p for k in first for p in bitwise_differences(first[k], second[k],
                                                               f"{path}[{k!r}]")]
    raise TypeError(f"{path}: cannot compare values of type {type_name(first)}")


@dataclass(frozen=True)
class DeterminismReport:
    """Two calls on identical copies of the inputs: their outputs and where they differ."""

    first: Any
    second: Any
    differing: tuple[str, ...]

    @property
    def deterministic(self) -> bool:
        return not self.differing


def call_twice(fn: Callable, *args: Any, **kwargs: Any) -> DeterminismReport:
    """Call fn twice, each time on fresh copies of its array arguments; compare outputs bitwise."""

    def fresh(v):
        return np.array(v, copy=True) if type(v) is np.ndarray else v

    first = fn(*map(fresh, args), **{k: fresh(v) for k, v in kwargs.items()})
    second = fn(*map(fresh, args), **{k: fresh(v) for k, v in kwargs.items()})
    return DeterminismReport(first, second, tuple(bitwise_differences(first, second)))


def determinism_check(name: str, report: DeterminismReport, *, points: float = 1.0,
                      visibility: str = "visible") -> CheckResult:
    """Passed when both calls returned bitwise identical outputs."""
    if report.deterministic:
        return CheckResult(name, points, 1.0, "passed", visibility,
                           "gives the same result on identical inputs.", {"differing": []})
    return CheckResult(
        name, points, 0.0, "failed", visibility,
        "gives different results when called twice on identical inputs (at "
        + ", ".join(report.differing)
        + "): does it use unseeded randomness, or state kept between calls "
        "(a global, a default argument, an accumulator that is not reset)?",
        {"differing": list(report.differing)},
    )


def checked_call(name: str, points: float, fn: Callable, *args: Any,
                 visibility: str = "visible", **kwargs: Any) -> tuple[Any, CheckResult | None]:
    """Run fn: (value, None), or on an exception (None, an "error" CheckResult naming it)."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # student code may raise anything
        return None, error_result(name, points, f"raised {type_name(exc)}: {exc}", visibility,
                                  exception=type_name(exc))
