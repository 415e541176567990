"""Finite-difference gradient checking in float64.

The central difference of a scalar function f at x along a unit vector u,

    D_u f(x) ≈ (f(x + εu) − f(x − εu)) / 2ε,        ε ≈ 1e-6,

has truncation error O(ε² f''') and rounding error about ε_mach·|f| / ε, so in
float64 it agrees with the true derivative to 8–10 significant digits.
Analytic and numerical gradients are compared with the CS231n relative error

    rel(a, b) = |a − b| / max(|a| + |b|, floor),     floor = 1e-12,

computed elementwise. The floor only guards the denominator: 0 against 0 is
error 0, not NaN. Entries whose absolute difference is below `atol` are
counted as agreeing whatever their relative error, because an entry whose
true value is 0 is never reproduced to more than rounding noise.

Three ways to check, from exact to cheap:

- `numerical_gradient`: every entry (2·x.size evaluations of f), either one at
  a time or, when f accepts a stack of inputs, all perturbations in a few
  calls (`batched=True`).
- `directional_check`: a few random unit directions u, comparing uᵀ∇f with
  the directional difference above (PyTorch's "fast mode", vᵀJu with v = 1).
- `vjp_check`: for an array-valued function y = F(x) and a vector–Jacobian
  product ḡ ↦ Jᵀḡ, draws a random upstream gradient ḡ and checks the
  supplied product against differences of the scalar ⟨ḡ, F(x)⟩, elementwise
  for small inputs and along random directions for large ones.

Everything returns small frozen dataclasses of numbers; nothing prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_EPS = 1e-6
RELATIVE_ERROR_FLOOR = 1e-12
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8
ELEMENTWISE_LIMIT = 400
MAX_BATCH_BYTES = 32 * 2**20


def relative_error(a, b, floor: float = RELATIVE_ERROR_FLOOR) -> np.ndarray:
    """Elementwise |a − b| / max(|a| + |b|, floor), in float64.

    a, b: arrays of one shape (or broadcastable). The result lies in [0, 1]
    for finite inputs; it is NaN where either input is NaN.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


def max_relative_error(a, b, floor: float = RELATIVE_ERROR_FLOOR) -> float:
    """The largest elementwise relative error; 0.0 for empty arrays, NaN if any entry is NaN."""
    r = relative_error(a, b, floor)
    if r.size == 0:
        return 0.0
    return float(np.max(r))


@dataclass(frozen=True)
class GradientComparison:
    """Analytic against numerical gradient, entry by entry.

    max_relative_error: over all entries (see `relative_error`).
    max_abs_error: max |analytic − numerical|.
    worst_index: index of the worst entry among those outside atol (else of the
        largest relative error), as a tuple; () for scalars and empty arrays.
    n_wrong: entries with relative error > rtol and absolute error > atol.
    passed: n_wrong == 0 and everything is finite.
    """

    max_relative_error: float
    max_abs_error: float
    worst_index: tuple[int, ...]
    n_wrong: int
    size: int
    passed: bool


def compare_gradient_arrays(
    analytic, numerical, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
) -> GradientComparison:
    """Compare two float arrays of one shape; an entry agrees if rel ≤ rtol or |a − b| ≤ atol."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape}, numerical {n.shape}")
    rel = relative_error(a, n)
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.abs(a - n)
    wrong = ~((rel <= rtol) | (absdiff <= atol))  # NaN compares False, so NaN is wrong
    if a.size == 0:
        return GradientComparison(0.0, 0.0, (), 0, 0, True)
    ranking = np.where(wrong, np.nan_to_num(rel, nan=np.inf), -1.0) if wrong.any() else rel
    worst = np.unravel_index(int(np.argmax(ranking)), a.shape)
    return GradientComparison(
        max_relative_error=float(np.max(rel)),
        max_abs_error=float(np.max(absdiff)),
        worst_index=tuple(int(i) for i in worst),
        n_wrong=int(wrong.sum()),
        size=int(a.size),
        passed=not wrong.any(),
    )


def numerical_gradient(
    f: Callable,
    x,
    eps: float = DEFAULT_EPS,
    *,
    batched: bool = False,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> np.ndarray:
    """Central-difference gradient of a scalar function f at x, in float64.

        ∂f/∂x_i ≈ (f(x + ε e_i) − f(x − ε e_i)) / 2ε

    x: array of any shape; it is copied to float64 first, so the caller's
    array is never touched (f sees the copy).
    batched=False: f(x') → scalar, called 2·x.size times on a working copy
        whose entry i is perturbed and then restored.
    batched=True: f(X) with X of shape (P, *x.shape) → (P,) values; all
        2·x.size perturbed inputs go through f in chunks of at most
        `max_batch_bytes` of stacked input (each chunk holds the + and −
        perturbations of the same entries).
    Returns an array of x's shape.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    if batched:
        return _numerical_gradient_batched(f, x, eps, max_batch_bytes)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = float(f(x))
        x[i] = old - eps
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _numerical_gradient_batched(f, x, eps, max_batch_bytes) -> np.ndarray:
    n = x.size
    flat = x.reshape(-1)
    grad = np.empty(n)
    per_entry = 2 * max(x.nbytes, 8)  # the + and − copies of x
    chunk = int(max(1, min(n, max_batch_bytes // per_entry)))
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        m = idx.size
        stack = np.repeat(flat[None, :], 2 * m, axis=0)  # rows: m plus, then m minus
        rows = np.arange(m)
        stack[rows, idx] += eps
        stack[m + rows, idx] -= eps
        values = np.asarray(f(stack.reshape((2 * m,) + x.shape)), dtype=np.float64)
        if values.shape != (2 * m,):
            raise ValueError(
                f"batched f must return shape ({2 * m},) for {2 * m} inputs, got {values.shape}"
            )
        grad[idx] = (values[:m] - values[m:]) / (2 * eps)
    return grad.reshape(x.shape)


def numerical_gradient_perturbed(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    shape,
    eps: float = DEFAULT_EPS,
    *,
    chunk: int = 4096,
) -> np.ndarray:
    """Central differences through a perturbation interface, without stacking copies of x.

    f(index, delta) → values: for flat indices index (P,) and offsets delta
    (P,), the values f(x + delta_p e_{index_p}) (P,), x being the point f
    was built around. This is the batched mode of `numerical_gradient` for
    functions that can exploit that each input differs from x in one entry
    (see grader.checking.batched_loss): building the (P, x.size) stack itself costs
    O(x.size²). Perturbations go in chunks of 2·chunk. Returns x's shape.
    """
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)
    n = int(np.prod(shape, dtype=np.int64))
    grad = np.empty(n)
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        m = idx.size
        values = np.asarray(f(np.concatenate([idx, idx]),
                              np.concatenate([np.full(m, eps), np.full(m, -eps)])),
                            dtype=np.float64)
        if values.shape != (2 * m,):
            raise ValueError(f"f must return shape ({2 * m},), got {values.shape}")
        grad[idx] = (values[:m] - values[m:]) / (2 * eps)
    return grad.reshape(shape)


def unit_directions(rng: np.random.Generator, n_directions: int, shape) -> np.ndarray:
    """n_directions random unit vectors (Gaussian, normalised), shape (n_directions, *shape)."""
    u = rng.standard_normal((n_directions,) + tuple(shape))
    norms = np.sqrt(np.sum(u.reshape(n_directions, -1) ** 2, axis=1))
    norms[norms == 0] = 1.0
    return u / norms.reshape((n_directions,) + (1,) * len(tuple(shape)))


@dataclass(frozen=True)
class DirectionalCheck:
    """uᵀ∇f (analytic) against the central difference along u (numerical), per direction.

    analytic, numerical: one value per direction.
    max_relative_error: over directions; worst_direction: its index.
    passed: every direction agrees (rel ≤ rtol or abs ≤ atol).
    """

    analytic: tuple[float, ...]
    numerical: tuple[float, ...]
    max_relative_error: float
    worst_direction: int
    passed: bool


def directional_check(
    f: Callable,
    grad,
    x,
    rng: np.random.Generator,
    n_directions: int = 8,
    *,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    batched: bool = False,
) -> DirectionalCheck:
    """Check a claimed gradient of scalar f at x along random unit directions u.

        uᵀ grad   vs   (f(x + εu) − f(x − εu)) / 2ε

    A single wrong entry grad_i shows up as an error δ·u_i in direction u,
    so a handful of directions catches any error well above tolerance.
    grad: array of x's shape (converted to float64). batched: as in
    `numerical_gradient` (f takes (P, *x.shape) → (P,)).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    g = np.asarray(grad, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"grad has shape {g.shape}, x has shape {x.shape}")
    u = unit_directions(rng, n_directions, x.shape)
    analytic = np.tensordot(u, g, axes=x.ndim) if x.ndim else u * g
    if batched:
        values = np.asarray(f(np.concatenate([x + eps * u, x - eps * u])), dtype=np.float64)
        if values.shape != (2 * n_directions,):
            raise ValueError(f"batched f must return shape ({2 * n_directions},)")
        numerical = (values[:n_directions] - values[n_directions:]) / (2 * eps)
    else:
        numerical = np.array(
            [(float(f(x + eps * ui)) - float(f(x - eps * ui))) / (2 * eps) for ui in u]
        )
    comparison = compare_gradient_arrays(analytic, numerical, rtol, atol)   # NaN fails
    return DirectionalCheck(
        analytic=tuple(float(v) for v in analytic),
        numerical=tuple(float(v) for v in numerical),
        max_relative_error=comparison.max_relative_error,
        worst_direction=int(comparison.worst_index[0]) if n_directions else 0,
        passed=comparison.passed,
    )


@dataclass(frozen=True)
class InputCheck:
    """The vector–Jacobian product's entry for one input.

    method: "elementwise" (every entry differenced) or "directional".
    worst_index: the worst entry (elementwise) or (direction,) (directional).
    """

    name: str
    method: str
    max_relative_error: float
    worst_index: tuple[int, ...]
    passed: bool


@dataclass(frozen=True)
class VJPCheck:
    """One `InputCheck` per input of F, and whether all of them passed."""

    inputs: tuple[InputCheck, ...]
    passed: bool

    @property
    def worst(self) -> InputCheck | None:
        """The input with the largest relative error."""
        if not self.inputs:
            return None
        return max(self.inputs, key=lambda c: np.nan_to_num(c.max_relative_error, nan=np.inf))


def vjp_check(
    fun: Callable,
    vjp: Callable,
    inputs: Sequence | Mapping,
    rng: np.random.Generator,
    *,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    elementwise_limit: int = ELEMENTWISE_LIMIT,
    n_directions: int = 8,
) -> VJPCheck:
    """Check a vector–Jacobian product against finite differences.

    fun: y = F(x_1, …, x_m), an array (positional inputs) — or F(**inputs) when
        inputs is a mapping of names to arrays.
    vjp: (ḡ, *inputs) — or (ḡ, **inputs) — → one array per input,
        Jᵀ_i ḡ = ∂⟨ḡ, F⟩/∂x_i: a sequence in input order, or a mapping by name.
    Draws ḡ ~ N(0, 1) of y's shape; for each input x_i, the scalar
        h(x_i) = ⟨ḡ, F(…, x_i, …)⟩
    is differenced entry by entry when x_i.size ≤ elementwise_limit, else
    along n_directions random unit directions.
    """
    named = isinstance(inputs, Mapping)
    names = [str(k) for k in inputs] if named else [str(i) for i in range(len(inputs))]
    values = [np.array(v, dtype=np.float64, copy=True) for v in
              (inputs.values() if named else inputs)]

    def call(args):
        return fun(**dict(zip(names, args, strict=True))) if named else fun(*args)

    y = np.asarray(call(values), dtype=np.float64)
    g = rng.standard_normal(y.shape)
    claimed = vjp(g, **dict(zip(names, values, strict=True))) if named else vjp(g, *values)
    claimed = ([claimed[k] for k in names] if isinstance(claimed, Mapping) else list(claimed))
    if len(claimed) != len(values):
        raise ValueError(f"vjp returned {len(claimed)} arrays for {len(values)} inputs")

    results = []
    for i, (name, xi, gi) in enumerate(zip(names, values, claimed, strict=True)):
        gi = np.asarray(gi, dtype=np.float64)
        if gi.shape != xi.shape:
            raise ValueError(f"vjp for input {name} has shape {gi.shape}, input has {xi.shape}")

        def h(v, i=i):
            args = list(values)
            args[i] = v
            return float(np.sum(g * np.asarray(call(args), dtype=np.float64)))

        if xi.size <= elementwise_limit:
            numerical = numerical_gradient(h, xi, eps)
            c = compare_gradient_arrays(gi, numerical, rtol, atol)
            results.append(InputCheck(name, "elementwise", c.max_relative_error,
                                      c.worst_index, c.passed))
        else:
            d = directional_check(h, gi, xi, rng, n_directions, eps=eps, rtol=rtol, atol=atol)
            results.append(InputCheck(name, "directional", d.max_relative_error,
                                      (d.worst_direction,), d.passed))
    return VJPCheck(inputs=tuple(results), passed=all(r.passed for r in results))


@dataclass(frozen=True)
class ParameterLayout:
    """Where each parameter of a dict lives in one flat vector θ.

    keys: parameter names in order; shapes: their shapes; offsets: start of
    each in θ (len(keys) + 1 entries, the last being θ's size).
    """

    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, params: Mapping[str, np.ndarray]) -> ParameterLayout:
        keys = tuple(params)
        shapes = tuple(tuple(np.shape(params[k])) for k in keys)
        offsets = [0]
        for shape in shapes:
            offsets.append(offsets[-1] + int(np.prod(shape, dtype=np.int64)))
        return cls(keys, shapes, tuple(offsets))

    @property
    def size(self) -> int:
        return self.offsets[-1]

    def flatten(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """θ (size,) float64 from a dict of arrays with this layout."""
        return np.concatenate(
            [np.asarray(params[k], dtype=np.float64).reshape(-1) for k in self.keys]
        ) if self.keys else np.zeros(0)

    def unflatten(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Views into θ: (size,) → dict of arrays; (P, size) → dict of (P, *shape) stacks."""
        lead = theta.shape[:-1]
        return {
            k: theta[..., a:b].reshape(lead + shape)
            for k, shape, a, b in zip(self.keys, self.shapes, self.offsets, self.offsets[1:],
                                      strict=False)
        }

    def locate(self, flat_index: int) -> tuple[str, tuple[int, ...]]:
        """The parameter name and index within it of entry flat_index of θ."""
        for k, shape, a, b in zip(self.keys, self.shapes, self.offsets, self.offsets[1:],
                                  strict=False):
            if a <= flat_index < b:
                return k, tuple(int(i) for i in np.unravel_index(flat_index - a, shape))
        raise IndexError(f"flat index {flat_index} outside θ of size {self.size}")
