"""The bidirectional network of seed 002.

    f_t = φ(x_t Uf + f_{t-1} Wf + bf)      forward in time, from f0
    r_t = φ(x_t Ub + r_{t+1} Wb + bb)      backward in time, from r0 after the last step
    o_t = f_t Vf + r_t Vb + c,   y_t = g(o_t)

The backward-in-time net is an ordinary recurrent layer run on the reversed
sequence, so its BPTT runs from t = 0 up to t = T−1, as the notes say: "from
t=T down to t=0 for the forward net, from t=0 up to t=T for the backward net".

Shapes: x (N, T, n), f and r (N, T, d), y (N, T, k); Uf, Ub (n, d); Wf, Wb
(d, d); bf, bb (d,); Vf, Vb (d, k); c (k,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.network import Network, as_injection, band_total, output_layer_grads
from reference.recurrence import layer_backward, layer_forward
from reference.validation import positive_int


@dataclass(frozen=True)
class BidirectionalTrace:
    """Forward values: states f and r (N, T, d), o and y (N, T, k)."""

    f: np.ndarray
    r: np.ndarray
    o: np.ndarray
    y: np.ndarray


def reversed_in_time(a: np.ndarray) -> np.ndarray:
    """a (N, T, …) with its time axis reversed."""
    return a[:, ::-1]


@dataclass(frozen=True)
class Bidirectional(Network):
    def param_shapes(self):
        n, d, k = self.n_in, self.n_hidden, self.n_out
        shapes = {
            "Uf": (n, d), "Wf": (d, d), "bf": (d,),
            "Ub": (n, d), "Wb": (d, d), "bb": (d,),
            "Vf": (d, k), "Vb": (d, k), "c": (k,),
        }
        return self._with_or_without_biases(shapes)

    def initial_state_sizes(self):
        return {"f0": self.n_hidden, "r0": self.n_hidden}

    def _forward(self, p, x, states) -> BidirectionalTrace:
        f = layer_forward(x, states["f0"], p["Uf"], p["Wf"], p.get("bf"), self.phi)
        r = reversed_in_time(layer_forward(
            reversed_in_time(x), states["r0"], p["Ub"], p["Wb"], p.get("bb"), self.phi
        ))
        o = f @ p["Vf"] + r @ p["Vb"]
        if self.bias:
            o += p["c"]
        return BidirectionalTrace(f=f, r=r, o=o, y=self._outputs(o))

    def forward(self, params, x, f0=None, r0=None) -> BidirectionalTrace:
        """Run both nets over x (N, T, n_in); f0 precedes step 0, r0 follows step T−1."""
        p, x, states = self._check_inputs(params, x, {"f0": f0, "r0": r0})
        return self._forward(p, x, states)

    def loss(self, params, x, d, f0=None, r0=None, times=None) -> float:
        """L = (1/N) Σ_n Σ_{t ∈ times} ℓ(y_nt, d_nt)."""
        p, x, states = self._check_inputs(params, x, {"f0": f0, "r0": r0})
        trace = self._forward(p, x, states)
        return self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=False)[0]

    def grad(self, params, x, d, f0=None, r0=None, horizon=None, times=None):
        """dL/dθ for every parameter, and dL/dx, dL/df0, dL/dr0, by BPTT.

        With horizon=k, E_t keeps the forward net's uses at t−k+1 … t and the
        backward net's at t … t+k−1.
        """
        horizon = None if horizon is None else positive_int("horizon", horizon)
        p, x, states = self._check_inputs(params, x, {"f0": f0, "r0": r0})
        trace = self._forward(p, x, states)
        _, delta_o = self._loss_and_output_delta(trace.o, trace.y, d, times, need_delta=True)

        grads = {}
        grads["Vf"], dc = output_layer_grads(trace.f, delta_o)
        grads["Vb"], _ = output_layer_grads(trace.r, delta_o)
        grads["Uf"], grads["Wf"], dbf, dx_f, grads["f0"] = layer_backward(
            as_injection(delta_o @ p["Vf"].T), x, trace.f, states["f0"],
            p["Uf"], p["Wf"], self.phi, horizon,
        )
        grads["Ub"], grads["Wb"], dbb, dx_r, grads["r0"] = layer_backward(
            as_injection(reversed_in_time(delta_o @ p["Vb"].T)),
            reversed_in_time(x), reversed_in_time(trace.r), states["r0"],
            p["Ub"], p["Wb"], self.phi, horizon,
        )
        if self.bias:
            grads["bf"], grads["bb"], grads["c"] = dbf, dbb, dc
        grads["x"] = band_total(dx_f) + reversed_in_time(band_total(dx_r))
        return grads
