"""What every network of the reference shares: hyperparameters, the output layer and the loss.

A network maps inputs x (N, T, n_in) to outputs y (N, T, n_out) through
o_t = h_t V + c and y_t = g(o_t), where h_t is its top state. The loss is

    L = (1/N) Σ_n Σ_{t ∈ times} ℓ(y_nt, d_nt)

with ℓ from `reference.losses`. Subclasses define the parameters, the states
and the backward pass; this class checks inputs and owns the output layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import activations, losses
from reference.validation import parameters, positive_int, real_array, time_indices


@dataclass(frozen=True)
class Network:
    n_in: int
    n_hidden: int
    n_out: int
    activation: str = "tanh"
    output: str = "linear"
    objective: str = "mse"
    bias: bool = True

    def __post_init__(self):
        for name in ("n_in", "n_hidden", "n_out"):
            positive_int(name, getattr(self, name))
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, not {self.bias!r}")
        activations.hidden(self.activation)
        losses.check_combination(self.objective, activations.output(self.output))
        if self.objective == "bce" and self.output == "softmax" and self.n_out < 2:
            raise ValueError("objective 'bce' with a softmax over n_out=1 class is log(1 − 1): "
                             "use output='sigmoid' for a single output")

    # -- what a subclass declares ---------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter names and shapes, in the order the notes introduce them."""
        raise NotImplementedError

    def initial_state_sizes(self) -> dict[str, int]:
        """Initial-state keyword names and their widths, e.g. {"s0": d}."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------

    def _with_or_without_biases(self, shapes: dict[str, tuple[int, ...]]):
        """All shapes, or with bias=False the weights only (the biases are the vectors)."""
        return shapes if self.bias else {key: s for key, s in shapes.items() if len(s) > 1}

    @property
    def phi(self) -> activations.HiddenActivation:
        return activations.hidden(self.activation)

    @property
    def g(self) -> activations.OutputActivation:
        return activations.output(self.output)

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Weights ~ N(0, 1/fan_in), biases zero; a dict of float64 arrays."""
        shapes = self.param_shapes().items()
        return {
            key: rng.standard_normal(s) / np.sqrt(s[0]) if len(s) > 1 else np.zeros(s)
            for key, s in shapes
        }

    def _check_inputs(self, params, x, initial: dict):
        """Checked float64 copies of params, x (N, T, n_in) and the initial states."""
        params = parameters(params, self.param_shapes())
        x = real_array("x", x, ("N", "T", self.n_in))
        N, T, _ = x.shape
        if N == 0 or T == 0:
            raise ValueError(f"x has shape {x.shape}; expected at least one sequence and one step")
        states = {
            name: np.zeros((N, width)) if initial.get(name) is None
            else real_array(name, initial[name], (N, width))
            for name, width in self.initial_state_sizes().items()
        }
        return params, x, states

    def _check_targets(self, d, N: int, T: int) -> np.ndarray:
        """Targets as float64 (N, T, n_out); class indices become one-hot rows."""
        k = self.n_out
        if self.objective == "ce" and isinstance(d, (np.ndarray, list)) and np.ndim(d) == 2:
            labels = np.asarray(d)
            if labels.dtype.kind not in "iu":
                raise ValueError(
                    f"d holds class indices, so it must be integers, not {labels.dtype}"
                )
            if labels.shape != (N, T):
                raise ValueError(f"d has shape {labels.shape}; expected ({N}, {T}) class indices")
            if labels.size and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"d holds class indices outside [0, {k - 1}]")
            return np.eye(k)[labels]
        d = real_array("d", d, (N, T, k))
        if self.objective == "bce" and ((d < 0) | (d > 1)).any():
            raise ValueError("d must lie in [0, 1] for objective 'bce'")
        if self.objective == "ce":
            if (d < 0).any() or not np.allclose(d.sum(axis=-1), 1.0, atol=1e-8):
                raise ValueError("d must hold a distribution (one-hot rows) for objective 'ce'")
        return d

    def _outputs(self, o: np.ndarray) -> np.ndarray:
        return self.g.apply(o)

    def _loss_and_output_delta(self, o, y, d, times, *, need_delta: bool):
        """L and dL/do (N, T, k), with only the selected time steps counted."""
        N, T, _ = y.shape
        d = self._check_targets(d, N, T)
        mask = time_indices(times, T)
        terms = losses.loss_terms(self.objective, self.g, o, y, d)
        L = float(terms[:, mask].sum() / N)
        if not need_delta:
            return L, None
        delta = losses.output_delta(self.objective, self.g, o, y, d) / N
        delta[:, ~mask] = 0.0
        return L, delta


def output_layer_grads(h: np.ndarray, delta_o: np.ndarray):
    """For o_t = h_t V + c: dV = Σ_n Σ_t h_ntᵀ δo_nt (d, k) and dc = Σ_n Σ_t δo_nt (k,)."""
    return np.tensordot(h, delta_o, axes=([0, 1], [0, 1])), delta_o.sum(axis=(0, 1))


def as_injection(ds: np.ndarray) -> np.ndarray:
    """A gradient dL/ds (N, T, d) from outside a layer, as lag-0 `inject` (T, 1, N, d)."""
    return ds.transpose(1, 0, 2)[:, None]


def band_total(dx: np.ndarray) -> np.ndarray:
    """A layer's band of input gradients (T, B, N, n) summed over lags, as (N, T, n)."""
    return dx.sum(axis=1).transpose(1, 0, 2)
