"""Input checks that name the array, its shape and the shape expected.

A dimension of an expected shape is either a size (an int) or a free symbol
(a str such as "N"), shown as such in the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Shape = Sequence[int | str]


def _describe(shape: Shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def real_array(name: str, value, shape: Shape) -> np.ndarray:
    """`value` as a float64 array of the given shape, all entries finite.

    Raises ValueError naming `name`, its shape and the expected shape when
    `value` is not a real numeric array of that shape or holds NaN or ±inf.
    """
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple, int, float, np.number)):
        try:
            array = np.asarray(value)
        except ValueError as error:
            raise ValueError(f"{name} is not a rectangular array: {error}") from None
    else:
        raise ValueError(f"{name} must be a numpy array, not {type(value).__name__}")
    if array.dtype.kind not in "fiu":
        raise ValueError(
            f"{name} has dtype {array.dtype} and shape {_describe(array.shape)}; "
            f"expected real numbers (float64) of shape {_describe(shape)}"
        )
    if array.ndim != len(shape) or any(
        isinstance(want, int) and have != want
        for have, want in zip(array.shape, shape, strict=True)
    ):
        raise ValueError(
            f"{name} has shape {_describe(array.shape)}; expected {_describe(shape)}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {where})")
    return array


def parameters(given: Mapping[str, object], shapes: Mapping[str, tuple[int, ...]]):
    """The parameter dict checked against the model's shapes, as float64 arrays."""
    if not isinstance(given, Mapping):
        raise ValueError(f"params must be a dict of arrays, not {type(given).__name__}")
    missing = [key for key in shapes if key not in given]
    unexpected = [key for key in given if key not in shapes]
    if missing or unexpected:
        raise ValueError(
            f"params do not match the model: missing {missing}, unexpected {unexpected}; "
            f"expected keys {list(shapes)}"
        )
    return {key: real_array(f"params[{key!r}]", given[key], shape) for key, shape in shapes.items()}


def positive_int(name: str, value) -> int:
    """A positive int, refusing bools, floats and anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def time_indices(times, T: int) -> np.ndarray:
    """A boolean mask over 0..T−1 from the selected time indices (None: all)."""
    mask = np.zeros(T, dtype=bool)
    if times is None:
        mask[:] = True
        return mask
    for t in np.atleast_1d(np.asarray(times, dtype=object)):
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) \
                or not 0 <= t < T:
            raise ValueError(f"times must hold integers in [0, {T - 1}], got {t!r}")
        mask[t] = True
    return mask
