"""Per-time-step losses ℓ(y_t, d_t) and their gradients at the output pre-activation.

    mse  ℓ = Σ_k (y_k − d_k)²                          (seed 000, no ½)
    bce  ℓ = −Σ_k [d_k log y_k + (1 − d_k) log(1 − y_k)] (seed 001)
    ce   ℓ = −Σ_k d_k log y_k                           (seeds 003/004)

The network's loss is L = (1/N) Σ_n Σ_t ℓ(y_nt, d_nt); the 1/N and the choice
of time steps belong to the model, these functions work per term.

Logarithms are taken from the pre-activation o where the output activation
allows it (log softmax, log σ), so that a confident wrong prediction costs a
large finite loss instead of log 0.
"""

from __future__ import annotations

import numpy as np

from reference.activations import OutputActivation, log_softmax, softmax

OBJECTIVES = ("mse", "bce", "ce")


def _softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + e^a) without overflow."""
    return np.logaddexp(0.0, a)


def _log_y_and_log_1_minus_y(g: OutputActivation, o: np.ndarray):
    """log y and log(1 − y) from o, finite even where y rounds to 0 or 1.

    sigmoid: log σ(o) = −softplus(−o), log(1 − σ(o)) = −softplus(o).
    softmax: 1 − y_k = Σ_{j≠k} y_j, so log(1 − y_k) = logsumexp_{j≠k} o_j − logsumexp o.
    """
    if g.name == "sigmoid":
        return -_softplus(-o), -_softplus(o)
    log_y = log_softmax(o)
    k = o.shape[-1]
    others = np.where(np.eye(k, dtype=bool), -np.inf, log_y[..., None, :])   # (..., k, k)
    peak = others.max(axis=-1, keepdims=True)
    log_1my = (peak + np.log(np.exp(others - peak).sum(axis=-1, keepdims=True)))[..., 0]
    return log_y, log_1my


def check_combination(objective: str, g: OutputActivation) -> None:
    """Refuse an objective the output activation cannot feed."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {list(OBJECTIVES)}")
    if objective == "ce" and g.name != "softmax":
        raise ValueError(
            f"objective 'ce' needs output='softmax' (a probability distribution), not {g.name!r}"
        )
    if objective == "bce" and not g.open_unit_interval:
        raise ValueError(
            f"objective 'bce' needs an output in (0, 1) ('sigmoid' or 'softmax'), not {g.name!r}"
        )


def loss_terms(objective: str, g: OutputActivation, o, y, d) -> np.ndarray:
    """ℓ(y_nt, d_nt) for every sequence and time step: (N, T) from (N, T, k) arrays."""
    if objective == "mse":
        return ((y - d) ** 2).sum(axis=-1)
    if objective == "ce":
        return -(d * log_softmax(o)).sum(axis=-1)
    log_y, log_1my = _log_y_and_log_1_minus_y(g, o)
    return -(d * log_y + (1.0 - d) * log_1my).sum(axis=-1)


def output_delta(objective: str, g: OutputActivation, o, y, d) -> np.ndarray:
    """dℓ/do_t for every term, (N, T, k).

    Where the output activation and the loss cancel, the fused form is used:
    softmax + ce gives y Σd − d (= y − d for a distribution d), sigmoid + bce
    gives y − d, softmax + bce is summed term by term so that nothing cancels.
    mse is dℓ/dy = 2(y − d) pushed through g's vector–Jacobian product, the
    full softmax Jacobian included (seed 002, case 1).
    """
    if objective == "ce":
        return y * d.sum(axis=-1, keepdims=True) - d
    if objective == "bce" and g.name == "sigmoid":
        return y - d
    if objective == "mse":
        return g.vjp(y, 2.0 * (y - d))
    # bce with softmax. log(1 − y_j) = logsumexp_{i≠j} o_i − logsumexp o has the
    # derivative q⁽ʲ⁾_i [i ≠ j] − y_i, q⁽ʲ⁾ the softmax over the classes but j, so
    #     dℓ/do_i = k y_i − d_i − Σ_{j≠i} (1 − d_j) q⁽ʲ⁾_i,
    # a sum of bounded terms that stays accurate where some y_j rounds to 1.
    k = o.shape[-1]
    others = np.where(np.eye(k, dtype=bool), -np.inf, o[..., None, :])     # (..., j, i)
    q = softmax(others)
    return k * y - d - np.einsum("...j,...ji->...i", 1.0 - d, q)
