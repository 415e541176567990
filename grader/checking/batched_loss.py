"""The Elman loss for a stack of P parameter sets at once: the batched f of a gradient check.

For each parameter set θ_p (p = 0 … P−1), with DESIGN.md's equations

    s_t = φ(x_t U + s_{t-1} W + b),   o_t = s_t V + c,   y_t = g(o_t),
    L(θ_p) = (1/N) Σ_n Σ_t ℓ(y_nt, d_nt),

shapes x (N, T, n), s (N, T, d), o and y (N, T, k); parameter stacks U
(P, n, d), W (P, d, d), b (P, d), V (P, d, k), c (P, k). One Python loop over
time serves all P parameter sets.

Three ways in, all giving the same losses to rounding (about 1e-16 relative):

- `dense(params)`: any stack; every set on its own, batched matmul and einsum
  over the leading P axis.
- `around(center, params)`: a stack whose sets differ from a centre θ⁰ in a
  few entries each, as the perturbations θ⁰ ± ε e_i of a finite-difference
  check do. With θ_p = θ⁰ + Δ_p,

      s_{t-1} W_p = s_{t-1} W⁰ + Σ_{(i,j) ∈ Δ_p} Δ_ij s_{t-1,i} e_j,

  one large matmul with the shared W⁰ serves every set, plus a few
  scatter-adds; the same for U, b, V and c. Sets that change only V or c
  share the centre's states and skip the recurrence.
- `perturbed(center, layout, index, delta)`: the same sets given directly as
  θ⁰ + delta_p e_{index_p} (a flat index into θ), without building the
  (P, |θ|) stack at all.

Objectives and output activations are the reference's (reference.losses):
mse with any output, bce with sigmoid or softmax, ce with softmax; targets as
(N, T, k) arrays or, for ce, class indices (N, T). Internally the output
pre-activations are laid out class-first, (k, P, N, T), so that the reductions
over the k classes run across long contiguous rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from grader.checking.gradcheck import ParameterLayout

RECURRENT_KEYS = ("U", "W", "b")
SPARSE_ENTRIES_PER_SET = 8   # above this many changed entries per set on average, go dense


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


HIDDEN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda a: np.maximum(a, 0.0),
    "identity": lambda a: a,
}


def _log_softmax(o):
    """log softmax over axis 0 (the classes)."""
    shifted = o - o.max(axis=0)
    return shifted - np.log(np.exp(shifted).sum(axis=0))


def _logsumexp(a):
    """log Σ_k exp(a_k) over axis 0, shifted by the maximum."""
    peak = a.max(axis=0)
    shifted = np.subtract(a, peak)
    np.exp(shifted, out=shifted)
    total = shifted.sum(axis=0)
    np.log(total, out=total)
    total += peak
    return total


def _softplus(a):
    return np.logaddexp(0.0, a)


OUTPUT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda o: o,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": lambda o: np.exp(_log_softmax(o)),
}

Changes = dict[str, tuple[tuple[np.ndarray, ...], np.ndarray]]


@dataclass(frozen=True)
class ElmanLoss:
    """L(θ_p) of an Elman network on fixed data (x, d, s0), for stacks of parameter sets.

    activation φ ∈ HIDDEN, output g ∈ OUTPUT, objective ∈ {mse, bce, ce}.
    x (N, T, n_in); d (N, T, k) targets or, for ce, (N, T) class indices;
    s0 (N, d) or None for zeros. Parameter dicts hold U, W, V and, with
    biases, b and c.
    """

    activation: str
    output: str
    objective: str
    x: np.ndarray
    d: np.ndarray
    s0: np.ndarray | None = None
    _labels: np.ndarray | None = field(init=False, repr=False, compare=False)
    _targets: np.ndarray | None = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.activation not in HIDDEN:
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.output not in OUTPUT:
            raise ValueError(f"unknown output {self.output!r}")
        ok = {"mse": tuple(OUTPUT), "bce": ("sigmoid", "softmax"), "ce": ("softmax",)}
        if self.output not in ok.get(self.objective, ()):
            raise ValueError(f"objective {self.objective!r} with output {self.output!r}")
        object.__setattr__(self, "x", np.asarray(self.x, dtype=np.float64))
        d = np.asarray(self.d)
        labels = targets = None
        if self.objective == "ce" and d.ndim == 2:
            labels = d.astype(np.intp)
        else:
            d = d.astype(np.float64)
            targets = np.moveaxis(d, -1, 0)[:, None]            # (k, 1, N, T)
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "_labels", labels)
        object.__setattr__(self, "_targets", targets)
        if self.s0 is not None:
            object.__setattr__(self, "s0", np.asarray(self.s0, dtype=np.float64))

    # -- the loss from output pre-activations --------------------------------------

    def losses_from_outputs(self, o: np.ndarray) -> np.ndarray:
        """(1/N) Σ_n Σ_t ℓ(g(o_nt), d_nt) for o of shape (k, P, N, T) → (P,)."""
        N = o.shape[2]
        if self.objective == "ce" and self._labels is not None:
            # −log y_d = lse(o) − o_d, summed over n and t
            K, P = o.shape[:2]
            flat = o.reshape(K, P, N * o.shape[3])
            picked = flat[self._labels.reshape(-1), :, np.arange(flat.shape[2])]   # (N·T, P)
            return (_logsumexp(o).sum(axis=(1, 2)) - picked.sum(axis=0)) / N
        elif self.objective == "ce":
            terms = -(self._targets * _log_softmax(o)).sum(axis=0)
        elif self.objective == "mse":
            terms = ((OUTPUT[self.output](o) - self._targets) ** 2).sum(axis=0)
        elif self.output == "sigmoid":
            # bce: log σ(o) = −softplus(−o), log(1 − σ(o)) = −softplus(o)
            d = self._targets
            terms = (d * _softplus(-o) + (1.0 - d) * _softplus(o)).sum(axis=0)
        else:                            # bce with softmax: log(1 − y_k) = lse_{j≠k} log y_j
            log_y = _log_softmax(o)
            k = o.shape[0]
            log_1my = np.stack([_logsumexp(np.delete(log_y, j, axis=0)) if k > 1
                                else np.full(log_y.shape[1:], -np.inf) for j in range(k)])
            d = self._targets
            with np.errstate(invalid="ignore"):
                terms = -(d * log_y + np.where(d == 1.0, 0.0, (1.0 - d) * log_1my)).sum(axis=0)
        return terms.sum(axis=(1, 2)) / N

    def _s0(self, N, d):
        return np.zeros((N, d)) if self.s0 is None else self.s0

    # -- dense: every parameter set on its own -------------------------------------

    def dense(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """L for stacks U (P, n, d), W (P, d, d), V (P, d, k), optional b (P, d), c (P, k)."""
        phi = HIDDEN[self.activation]
        U, W, V = params["U"], params["W"], params["V"]
        P, N, T = U.shape[0], self.x.shape[0], self.x.shape[1]
        a_in = np.einsum("ntu,puh->pnth", self.x, U)      # x_t U for every t, (P, N, T, d)
        if "b" in params:
            a_in += params["b"][:, None, None, :]
        s = np.broadcast_to(self._s0(N, W.shape[-1]), (P, N, W.shape[-1]))
        states = np.empty(a_in.shape)
        for t in range(T):
            s = states[:, :, t] = phi(a_in[:, :, t] + s @ W)
        o = np.einsum("pnth,phk->kpnt", states, V)
        if "c" in params:
            o += params["c"].T[:, :, None, None]
        return self.losses_from_outputs(o)

    # -- sparse: small changes around a centre -------------------------------------

    def around(self, center: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]
               ) -> np.ndarray:
        """L for stacks that differ from `center` (unstacked arrays) in a few entries each.

        Falls back to `dense` when the sets differ from the centre in more
        than SPARSE_ENTRIES_PER_SET entries per set on average.
        """
        P = params["U"].shape[0]
        changes: Changes = {}
        for key in params:
            idx = np.nonzero(params[key] != center[key])
            changes[key] = (idx, params[key][idx] - center[key][idx[1:]])
        if sum(v.size for _, v in changes.values()) > SPARSE_ENTRIES_PER_SET * P:
            return self.dense(params)
        return self._sparse(center, changes, P)

    def perturbed(self, center: Mapping[str, np.ndarray], layout: ParameterLayout,
                  index: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """L(θ⁰ + delta_p e_{index_p}) for p = 0 … P−1; index: flat indices into θ (layout)."""
        index = np.asarray(index, dtype=np.intp)
        delta = np.asarray(delta, dtype=np.float64)
        offsets = np.asarray(layout.offsets)
        which = np.searchsorted(offsets, index, side="right") - 1
        if index.size and (index.min() < 0 or index.max() >= layout.size):
            raise IndexError("perturbation index outside θ")
        changes: Changes = {}
        for n, (key, shape) in enumerate(zip(layout.keys, layout.shapes, strict=True)):
            rows = np.flatnonzero(which == n)
            local = np.unravel_index(index[rows] - offsets[n], shape)
            changes[key] = ((rows, *local), delta[rows])
        return self._sparse(center, changes, index.size)

    def _sparse(self, center: Mapping[str, np.ndarray], changes: Changes, P: int) -> np.ndarray:
        phi = HIDDEN[self.activation]
        x = self.x
        N, T = x.shape[:2]
        W0, V0 = center["W"], center["V"]
        hidden = W0.shape[0]
        a_in0 = x @ center["U"] + center["b"] if "b" in center else x @ center["U"]  # (N, T, d)

        # The centre's own states, shared by every set that leaves U, W and b alone.
        s = self._s0(N, hidden)
        base = np.empty((N, T, hidden))
        for t in range(T):
            s = base[:, t] = phi(a_in0[:, t] + s @ W0)

        moved = np.zeros(P, dtype=bool)
        for key in RECURRENT_KEYS:
            if key in changes:
                moved[changes[key][0][0]] = True
        rows = np.flatnonzero(moved)
        slot = np.full(P, -1)
        slot[rows] = np.arange(rows.size)

        def local(key, n_axes):
            """(set slot among the moved sets, index along each axis, change) for one key."""
            empty = ((np.zeros(0, np.intp),) * (n_axes + 1), np.zeros(0))
            (p, *ix), v = changes.get(key, empty)
            return slot[p], *ix, v

        # o (k, P, N, T): the centre's outputs for every set, then each set's own.
        o = np.empty((V0.shape[1], P, N, T))
        o[:] = np.einsum("nth,hk->knt", base, V0)[:, None]
        (pv, iv, kv), vv = changes["V"]
        own = moved[pv]                  # V changes of sets with their own states
        if rows.size:
            pu, iu, ju, vu = local("U", 2)
            pw, iw, jw, vw = local("W", 2)
            pb, jb, vb = local("b", 1)
            po, io, ko, vo = slot[pv[own]], iv[own], kv[own], vv[own]
            add_u, add_w, add_b, add_v = (_scatter_adder(p) for p in (pu, pw, pb, po))
            x_u = vu[:, None, None] * x[:, :, iu].transpose(2, 1, 0)   # (changes, T, N)
            o_moved = np.empty((T, V0.shape[1], rows.size, N))
            s = np.broadcast_to(self._s0(N, hidden), (rows.size, N, hidden))
            for t in range(T):
                pre = (s.reshape(-1, hidden) @ W0).reshape(s.shape)   # one matmul for all sets
                pre += a_in0[:, t]
                add_u(pre, (pu, slice(None), ju), x_u[:, t])
                add_w(pre, (pw, slice(None), jw), vw[:, None] * s[pw, :, iw])
                add_b(pre, (pb, slice(None), jb), vb[:, None])
                s = phi(pre)
                o_t = o_moved[t]
                np.matmul(V0.T, s.reshape(-1, hidden).T, out=o_t.reshape(-1, rows.size * N))
                add_v(o_t, (ko, po), vo[:, None] * s[po, :, io])
            o[:, rows] = o_moved.transpose(1, 2, 3, 0)
        if "c" in center:
            o += center["c"][:, None, None, None]
        if (~own).any():                 # V changes of sets that share the centre's states
            p_, i_, k_ = pv[~own], iv[~own], kv[~own]
            _scatter_add(o, (k_, p_), vv[~own][:, None, None] * base[:, :, i_].transpose(2, 0, 1),
                         p_)
        if "c" in changes:
            (pc, kc), vc = changes["c"]
            _scatter_add(o, (kc, pc), vc[:, None, None], pc)
        return self.losses_from_outputs(o)

    # -- adapters for gradcheck ----------------------------------------------------

    def __call__(self, params: Mapping[str, np.ndarray], center=None) -> np.ndarray:
        """L for a dict of parameter stacks; sparse around `center` when given."""
        return self.dense(params) if center is None else self.around(center, params)

    def of_vectors(self, layout: ParameterLayout, center: np.ndarray | None = None
                   ) -> Callable[[np.ndarray], np.ndarray]:
        """f(Θ) for Θ of shape (P, layout.size) → (P,): `numerical_gradient(..., batched=True)`.

        center: a flat θ⁰ the rows of Θ are close to (the point being
        differenced), enabling the sparse evaluation.
        """
        center_params = None if center is None else layout.unflatten(np.asarray(center, float))

        def f(theta_stack: np.ndarray) -> np.ndarray:
            return self(layout.unflatten(theta_stack), center=center_params)

        return f

    def of_perturbations(self, layout: ParameterLayout, center: np.ndarray
                         ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """f(index, delta) → L(θ⁰ + delta_p e_{index_p}): `numerical_gradient_perturbed`."""
        center_params = layout.unflatten(np.array(center, dtype=np.float64))
        return lambda index, delta: self.perturbed(center_params, layout, index, delta)


def _scatter_adder(sets: np.ndarray) -> Callable[[np.ndarray, tuple, np.ndarray], None]:
    """target[index] += values for changes of the given sets, as a function.

    When no set appears twice, no index repeats and plain fancy-index `+=` is
    right; otherwise np.add.at accumulates the repeats.
    """
    if sets.size == 0:
        return lambda target, index, values: None
    if np.unique(sets).size == sets.size:
        def add(target, index, values):
            target[index] += values
    else:
        def add(target, index, values):
            np.add.at(target, index, np.broadcast_to(values, target[index].shape))
    return add


def _scatter_add(target: np.ndarray, index: tuple, values: np.ndarray, sets: np.ndarray
                 ) -> None:
    """target[index] += values, where index[set axis] = sets (see `_scatter_adder`)."""
    _scatter_adder(sets)(target, index, values)
