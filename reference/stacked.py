"""The two-layer s→z network of seed 000.

    s_t = φ(x_t U + s_{t-1} W1 + b1)
    z_t = φ(s_t V1 + z_{t-1} W2 + b2)
    o_t = z_t V2 + c,   y_t = g(o_t)

Shapes: x (N, T, n), s (N, T, d1), z (N, T, d2), y (N, T, k); U (n, d1),
W1 (d1, d1), b1 (d1,), V1 (d1, d2), W2 (d2, d2), b2 (d2,), V2 (d2, k), c (k,).
The z layer is a recurrent layer whose input is s, so BPTT runs through the z
layer first and hands the s layer its input gradients, lag by lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.network import Network, as_injection, band_total, output_layer_grads
from reference.recurrence import layer_backward, layer_forward
from reference.validation import positive_int


@dataclass(frozen=True)
class StackedTrace:
    """Forward values: states s (N, T, d1) and z (N, T, d2), o and y (N, T, k)."""

    s: np.ndarray
    z: np.ndarray
    o: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Stacked(Network):
    """`n_hidden` is the width d1 of s; `n_hidden2` the width d2 of z (default d1)."""

    n_hidden2: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.n_hidden2 is not None:
            positive_int("n_hidden2", self.n_hidden2)

    @property
    def d2(self) -> int:
        return self.n_hidden if self.n_hidden2 is None else self.n_hidden2

    def param_shapes(self):
        n, d1, d2, k = self.n_in, self.n_hidden, self.d2, self.n_out
        shapes = {
            "U": (n, d1), "W1": (d1, d1), "b1": (d1,),
            "V1": (d1, d2), "W2": (d2, d2), "b2": (d2,),
            "V2": (d2, k), "c": (k,),
        }
        return self._with_or_without_biases(shapes)

    def initial_state_sizes(self):
        return {"s0": self.n_hidden, "z0": self.d2}

    def _forward(self, p, x, states) -> StackedTrace:
        s = layer_forward(x, states["s0"], p["U"], p["W1"], p.get("b1"), self.phi)
        z = layer_forward(s, states["z0"], p["V1"], p["W2"], p.get("b2"), self.phi)
        o = z @ p["V2"] + p["c"] if self.bias else z @ p["V2"]
        return StackedTrace(s=s, z=z, o=o, y=self._outputs(o))

    def forward(self, params, x, s0=None, z0=None) -> StackedTrace:
        """Run the network over x (N, T, n_in) from s0 (N, d1) and z0 (N, d2)."""
        p, x, states = self._check_inputs(params, x, {"s0": s0, "z0": z0})
        return self._forward(p, x, states)

    def loss(self, params, x, d, s0=None, z0=None, times=None) -> float:
        """L = (1/N) Σ_n Σ_{t ∈ times} ℓ(y_nt, d_nt)."""
        p, x, states = self._check_inputs(params, x, {"s0": s0, "z0": z0})
        trace = self._forward(p, x, states)
        return self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=False)[0]

    def grad(self, params, x, d, s0=None, z0=None, horizon=None, times=None):
        """dL/dθ for every parameter, and dL/dx, dL/ds0, dL/dz0, by BPTT.

        With horizon=k, E_t keeps the uses at steps t−k+1 … t along either
        path: seed 000's Q3 (∂E_{t+1}/∂U over two steps) is horizon 2.
        """
        horizon = None if horizon is None else positive_int("horizon", horizon)
        p, x, states = self._check_inputs(params, x, {"s0": s0, "z0": z0})
        trace = self._forward(p, x, states)
        _, delta_o = self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=True)

        grads = {}
        grads["V2"], dc = output_layer_grads(trace.z, delta_o)
        grads["V1"], grads["W2"], db2, ds_from_z, grads["z0"] = layer_backward(
            as_injection(delta_o @ p["V2"].T), trace.s, trace.z, states["z0"],
            p["V1"], p["W2"], self.phi, horizon,
        )
        grads["U"], grads["W1"], db1, dx, grads["s0"] = layer_backward(
            ds_from_z, x, trace.s, states["s0"], p["U"], p["W1"], self.phi, horizon,
        )
        if self.bias:
            grads["b1"], grads["b2"], grads["c"] = db1, db2, dc
        grads["x"] = band_total(dx)
        return grads
