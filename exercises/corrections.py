"""Corrections written for the student's own variant: their φ, their output and loss.

A bug's correction is the right equation in the exercise's notation. Where the
right equation depends on the variant, the correction is one of the functions
here, called with the student's variant, so that a sigmoid student is shown
σ' = s(1 − s) and not tanh's, and an mse student the 2/N of the squared error.
"""

from __future__ import annotations

from collections.abc import Callable

from exercises.spec import Variant

_THROUGH_STATE = {
    "tanh": "1 - {s}^2",
    "sigmoid": "{s}(1 - {s})",
    "relu": r"\mathbb{{1}}[{s} > 0]",
    "identity": "1",
}


def derivative_through_state(*states: str) -> Callable[[Variant], str]:
    """φ' at each state's pre-activation, written through the state s = φ(a), for the
    variant's φ: one equation per state symbol given ("s_t", or "f_t" and "r_t")."""
    def correction(variant: Variant) -> str:
        form = _THROUGH_STATE[variant.activation]
        return r";\ ".join(rf"\varphi'(a) = {form.format(s=state)}\ \text{{where}}\ "
                            rf"{state} = \varphi(a)" for state in states)
    return correction


def output_delta(variant: Variant) -> str:
    """∂L/∂o_t for the variant's output g and loss ℓ, with L the mean over the N sequences."""
    if (variant.output, variant.objective) in (("softmax", "ce"), ("sigmoid", "bce")):
        return r"\frac{\partial L}{\partial o_t} = \frac{1}{N}(y_t - d_t)"
    factor = {"linear": "", "tanh": r" \odot (1 - y_t^2)", "sigmoid": r" \odot y_t(1 - y_t)"}
    if variant.output in factor:
        return r"\frac{\partial L}{\partial o_t} = \frac{2}{N}(y_t - d_t)" + factor[variant.output]
    return (r"\frac{\partial L}{\partial o_t} = \frac{2}{N} J_t^\top (y_t - d_t),\ "
            r"J_{t,ij} = y_{t,i}(\delta_{ij} - y_{t,j})")
