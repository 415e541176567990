"""The Elman network (seeds 003 and 004).

    s_t = φ(x_t U + s_{t-1} W + b)
    o_t = s_t V + c,   y_t = g(o_t)

Shapes: x (N, T, n), s (N, T, d), y (N, T, k); U (n, d), W (d, d), b (d,),
V (d, k), c (k,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.network import Network, as_injection, band_total, output_layer_grads
from reference.recurrence import layer_backward, layer_forward
from reference.validation import positive_int


@dataclass(frozen=True)
class ElmanTrace:
    """Forward values: states s (N, T, d), output pre-activations o and outputs y (N, T, k)."""

    s: np.ndarray
    o: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Elman(Network):
    def param_shapes(self):
        n, d, k = self.n_in, self.n_hidden, self.n_out
        shapes = {"U": (n, d), "W": (d, d), "b": (d,), "V": (d, k), "c": (k,)}
        return self._with_or_without_biases(shapes)

    def initial_state_sizes(self):
        return {"s0": self.n_hidden}

    def _forward(self, p, x, s0) -> ElmanTrace:
        s = layer_forward(x, s0, p["U"], p["W"], p.get("b"), self.phi)
        o = s @ p["V"] + p["c"] if self.bias else s @ p["V"]
        return ElmanTrace(s=s, o=o, y=self._outputs(o))

    def forward(self, params, x, s0=None) -> ElmanTrace:
        """Run the network over x (N, T, n_in) from s0 (N, d), zeros when omitted."""
        p, x, states = self._check_inputs(params, x, {"s0": s0})
        return self._forward(p, x, states["s0"])

    def loss(self, params, x, d, s0=None, times=None) -> float:
        """L = (1/N) Σ_n Σ_{t ∈ times} ℓ(y_nt, d_nt)."""
        p, x, states = self._check_inputs(params, x, {"s0": s0})
        trace = self._forward(p, x, states["s0"])
        return self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=False)[0]

    def grad(self, params, x, d, s0=None, horizon=None, times=None) -> dict[str, np.ndarray]:
        """dL/dθ for every parameter, and dL/dx and dL/ds0, by BPTT.

        horizon=k keeps, for each loss term E_t, the parameter uses at steps
        t−k+1 … t (truncated BPTT); None is full BPTT.
        """
        horizon = None if horizon is None else positive_int("horizon", horizon)
        p, x, states = self._check_inputs(params, x, {"s0": s0})
        trace = self._forward(p, x, states["s0"])
        _, delta_o = self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=True)

        grads = {}
        grads["V"], dc = output_layer_grads(trace.s, delta_o)
        grads["U"], grads["W"], db, dx, grads["s0"] = layer_backward(
            as_injection(delta_o @ p["V"].T), x, trace.s, states["s0"],
            p["U"], p["W"], self.phi, horizon,
        )
        if self.bias:
            grads["b"], grads["c"] = db, dc
        grads["x"] = band_total(dx)
        return grads
