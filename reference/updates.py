"""Update rules: gradient descent, gradient clipping and Adagrad.

All work on dicts of arrays and return new dicts; nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Arrays = Mapping[str, np.ndarray]


def sgd(params: Arrays, grads: Arrays, lr: float) -> dict[str, np.ndarray]:
    """θ ← θ + Δθ with Δθ = −α ∇_θ E, for every key of `params`.

    `grads` may hold more keys (the network's `grad` adds "x" and the initial
    states); only the parameters are updated.
    """
    missing = [key for key in params if key not in grads]
    if missing:
        raise ValueError(f"grads has no entry for parameters {missing}")
    return {key: params[key] - lr * grads[key] for key in params}


def clip_by_value(grads: Arrays, limit: float) -> dict[str, np.ndarray]:
    """Every entry clipped to [−limit, limit] (min-char-rnn's np.clip)."""
    if not limit > 0:
        raise ValueError(f"limit must be positive, not {limit!r}")
    return {key: np.clip(g, -limit, limit) for key, g in grads.items()}


def global_norm(grads: Arrays) -> float:
    """‖g‖ = sqrt(Σ_keys Σ_entries g²), the norm of all gradients as one vector."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))


def clip_by_norm(grads: Arrays, max_norm: float) -> dict[str, np.ndarray]:
    """g ← g · max_norm / ‖g‖ when the global norm ‖g‖ exceeds max_norm (Pascanu et al.)."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, not {max_norm!r}")
    norm = global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return {key: g * scale for key, g in grads.items()}


@dataclass(frozen=True)
class SGD:
    """Plain gradient descent as an optimizer: θ ← θ − α g, with no memory."""

    lr: float = 0.1

    def init(self, params: Arrays) -> dict[str, np.ndarray]:
        return {}

    def update(self, params: Arrays, grads: Arrays, memory: Arrays):
        """One step; returns (new params, memory unchanged)."""
        return sgd(params, grads, self.lr), memory


@dataclass(frozen=True)
class Adagrad:
    """Adagrad as in min-char-rnn: m ← m + g²,  θ ← θ − α g / sqrt(m + ε)."""

    lr: float = 0.1
    eps: float = 1e-8

    def init(self, params: Arrays) -> dict[str, np.ndarray]:
        """The memory m, zeros shaped like the parameters."""
        return {key: np.zeros_like(p) for key, p in params.items()}

    def update(self, params: Arrays, grads: Arrays, memory: Arrays):
        """One step; returns (new params, new memory)."""
        memory = {key: memory[key] + grads[key] ** 2 for key in params}
        params = {
            key: params[key] - self.lr * grads[key] / np.sqrt(memory[key] + self.eps)
            for key in params
        }
        return params, memory
