"""Exercise `explicit-implicit`: seed 004's explicit (∂⁺) and implicit derivatives of s_t by W.

Seed 004 asks how to compute ∂s_4/∂W when s_4 = σ(W s_3 + b) and s_3 depends on W
as well: "we can't compute ∂s_4/∂W by simply treating s_3 as a constant". In an
ordered network the total derivative has two parts,

    ∂s_t/∂W = ∂⁺s_t/∂W  (explicit: all other inputs held constant)
            + ∂s_t/∂s_{t-1} ∂s_{t-1}/∂W  (implicit: every indirect path),

which unrolls to ∂s_t/∂W = Σ_{k ≤ t} ∂s_t/∂s_k ∂⁺s_k/∂W and gives BPTT:
∂L/∂W = Σ_t ∂L_t/∂s_t Σ_{k ≤ t} ∂s_t/∂s_k ∂⁺s_k/∂W.

Here with row vectors and a batch, as everywhere in the project (DESIGN.md):
s_t = φ(x_t U + s_{t-1} W + b), s (N, T, d), W (d, d), s0 (N, d) the constant
starting state (∂s0/∂W = 0). A derivative of a state by W is the tensor
D[n, i, j, k] = ∂s_{t,i}/∂W_{jk}, (N, d, d, d), so that

    explicit  D⁺[n, i, j, k] = φ'(a_{t,i}) s_{t-1,j} [i = k]
    implicit  Σ_m φ'(a_{t,i}) W_{mi} ∂s_{t-1,m}/∂W_{jk}

φ'(a) is given in the notebook through the state, `phi_prime(s)`. The right
answers come from `reference.ordered_network`; the loss gradient must equal
BPTT's (`reference.recurrence.layer_backward`), which the tests check.
"""

from __future__ import annotations

import numpy as np

from exercises.corrections import derivative_through_state
from exercises.elman import random_model, random_states, saturating
from exercises.spec import Exercise, Instance, Probe, Stage, Variant, bugs_from, only_at_step
from reference import activations
from reference.ordered_network import (
    explicit_state_derivative,
    implicit_state_derivative,
    loss_gradient_by_state_derivatives,
    total_state_derivatives,
)
from reference.recurrence import layer_forward

# -- data for the probes ----------------------------------------------------------------


def _phi(variant: Variant) -> activations.HiddenActivation:
    return activations.hidden(variant.activation)


def forward_states(variant: Variant, rng: np.random.Generator):
    """s0 ≠ 0, W and the states s of a random Elman network run over random inputs.

    For relu the bias leans positive, so that most units stay active and the implicit
    paths through earlier states carry something.
    """
    N, T, n, d, _ = variant.sizes
    p = random_model(variant, rng)
    b = p["b"] + (1.0 if variant.activation == "relu" else 0.0)
    s0 = rng.normal(0.0, 0.8, (N, d))
    return s0, layer_forward(rng.normal(size=(N, T, n)), s0, p["U"], p["W"], b,
                             _phi(variant)), p["W"]


def active_states(variant: Variant, rng: np.random.Generator, shape) -> np.ndarray:
    """States from φ's range that need not be φ of anything; for relu all active (s > 0),
    so that no implicit path is cut where every unit of a step happens to be off."""
    if variant.activation == "relu":
        return rng.uniform(0.05, 2.0, shape)
    return random_states(variant, rng, shape)


# -- the right answers, in the student's signatures ---------------------------------------


def solve_explicit(variant, s_prev, s_t):
    return explicit_state_derivative(np.asarray(s_prev, float), np.asarray(s_t, float),
                                     _phi(variant))


def solve_implicit(variant, s_t, W, ds_prev_dW):
    return implicit_state_derivative(np.asarray(s_t, float), np.asarray(W, float),
                                     np.asarray(ds_prev_dW, float), _phi(variant))


def solve_total(variant, s0, s, W):
    return total_state_derivatives(np.asarray(s0, float), np.asarray(s, float),
                                   np.asarray(W, float), _phi(variant))


def solve_loss_gradient(variant, dL_ds, s0, s, W):
    return loss_gradient_by_state_derivatives(np.asarray(dL_ds, float), np.asarray(s0, float),
                                              np.asarray(s, float), np.asarray(W, float),
                                              _phi(variant))


# -- the bugs -------------------------------------------------------------------------------


def _dphi(variant, s_t, bug):
    """φ'(a_t) through the state, or φ' taken at φ(s_t) (derivative-at-preactivation)."""
    phi = _phi(variant)
    if bug == "derivative-at-preactivation":
        return phi.derivative_from_state(phi.apply(s_t))
    return phi.derivative_from_state(s_t)


def buggy_explicit(variant, s_prev, s_t, *, bug):
    """∂⁺s_t/∂W with one mistake: s_t for s_{t-1}, W's indices swapped, or φ' at φ(s_t)."""
    source = s_t if bug == "off-by-one-previous-state" else s_prev
    dphi = _dphi(variant, s_t, bug)
    eye = np.eye(s_t.shape[-1])
    if bug == "outer-product-reversed":          # φ'_i s_{t-1,k} [i = j]: ∂a/∂Wᵀ
        return dphi[:, :, None, None] * source[:, None, None, :] * eye[None, :, :, None]
    return dphi[:, :, None, None] * source[:, None, :, None] * eye[None, :, None, :]


def buggy_implicit(variant, s_t, W, ds_prev_dW, *, bug):
    """The implicit term with W untransposed (Σ_m W_im) or φ' taken at φ(s_t)."""
    dphi = _dphi(variant, s_t, bug)
    path = "im,nmjk->nijk" if bug == "weight-not-transposed" else "mi,nmjk->nijk"
    return dphi[:, :, None, None] * np.einsum(path, W, ds_prev_dW)


def buggy_total(variant, s0, s, W, *, bug):
    """Seed 004's recursion with one misconception switched on by id."""
    N, T, d = s.shape
    total = np.zeros((N, T, d, d, d))
    previous = np.zeros_like(s0) if bug == "initial-state-ignored" else s0
    ds_prev_dW = explicit_prev = np.zeros((N, d, d, d))
    for t in range(T):
        explicit = buggy_explicit(variant, previous, s[:, t],
                                  bug="off-by-one-previous-state"
                                  if bug == "off-by-one-previous-state" else "none")
        if bug == "closed-form-explicit-only":
            implicit = 0.0
        else:
            carried = explicit_prev if bug == "explicit-for-total" else ds_prev_dW
            implicit = buggy_implicit(variant, s[:, t], W, carried,
                                      bug="weight-not-transposed"
                                      if bug == "weight-not-transposed" else "none")
        ds_prev_dW = total[:, t] = explicit + implicit
        explicit_prev, previous = explicit, s[:, t]
    return total


def buggy_loss_gradient(variant, dL_ds, s0, s, W, *, bug):
    if bug == "overwrite-not-accumulate":        # a loop over t that keeps the last step
        total = solve_total(variant, s0, s, W)
        return np.einsum("ni,nijk->jk", dL_ds[:, -1], total[:, -1])
    return np.einsum("nti,ntijk->jk", dL_ds, buggy_total(variant, s0, s, W, bug=bug))


# -- the probes -------------------------------------------------------------------------


def probes_explicit(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("explicit_derivative")
    N, _, _, d, _ = v.sizes
    return [Probe(name="one step, states not φ of anything",
                  kwargs={"s_prev": rng.normal(0.0, 0.8, (N, d)),
                          "s_t": random_states(v, rng, (N, d))},
                  purpose="∂⁺s_t/∂W with s_{t-1} held constant, φ' from s_t as given")]


def probes_implicit(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("implicit_derivative")
    N, _, _, d, _ = v.sizes
    W = random_model(v, rng)["W"]
    return [Probe(name="a random ∂s_{t-1}/∂W",
                  kwargs={"s_t": random_states(v, rng, (N, d)), "W": W,
                          "ds_prev_dW": rng.normal(size=(N, d, d, d))},
                  purpose="∂s_t/∂s_{t-1} ∂s_{t-1}/∂W: every path through the previous state")]


def probes_total(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("total_derivative")
    N, T, _, d, _ = v.sizes
    s0, s, W = forward_states(v, rng)
    time_axis = {"total": 1}      # computed forward in time, from t = 0
    return [
        Probe(name="forward states, non-zero s0", kwargs={"s0": s0, "s": s, "W": W},
              purpose="explicit + implicit at every step, from ∂s0/∂W = 0", time_axis=time_axis),
        Probe(name="states not φ of anything",
              kwargs={"s0": rng.normal(0.0, 0.8, (N, d)),
                      "s": active_states(v, rng, (N, T, d)), "W": W},
              purpose="φ' must come from the states as given", time_axis=time_axis),
    ]


def probes_loss_gradient(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("loss_gradient")
    N, T, _, d, _ = v.sizes
    s0, s, W = forward_states(v, rng)
    last_only = only_at_step(rng.normal(size=(N, d)), t=-1, T=T)
    return [
        Probe(name="a loss at every step", kwargs={"dL_ds": rng.normal(size=(N, T, d)),
                                                   "s0": s0, "s": s, "W": W},
              purpose="L = Σ_t L_t: the sum over t of ∂L_t/∂s_t ∂s_t/∂W", repeat=True),
        Probe(name="the seed's L_4: a loss at the last step only",
              kwargs={"dL_ds": last_only, "s0": s0, "s": s, "W": W},
              purpose="∂L_T/∂W reaches every earlier step through the implicit terms alone"),
        Probe(name="states not φ of anything, a loss at the last step only",
              kwargs={"dL_ds": only_at_step(rng.normal(size=(N, d)), t=-1, T=T),
                      "s0": rng.normal(0.0, 0.8, (N, d)), "s": active_states(v, rng, (N, T, d)),
                      "W": W},
              purpose="φ' must come from the states as given, along every implicit path"),
    ]


# -- the exercise ------------------------------------------------------------------------


EXPLICIT = (r"\frac{\partial^+ s_{t,i}}{\partial W_{jk}} = "
            r"\varphi'(a_{t,i})\, s_{t-1,j}\, [i = k]")
IMPLICIT = (r"\Big(\frac{\partial s_t}{\partial s_{t-1}}\frac{\partial s_{t-1}}{\partial W}"
            r"\Big)_{ijk} = \sum_m \varphi'(a_{t,i})\, W_{mi}\, "
            r"\frac{\partial s_{t-1,m}}{\partial W_{jk}}")
TOTAL = (r"\frac{\partial s_t}{\partial W} = \frac{\partial^+ s_t}{\partial W}\ "
         r"\text{(explicit)} + \frac{\partial s_t}{\partial s_{t-1}}"
         r"\frac{\partial s_{t-1}}{\partial W}\ \text{(implicit)},\quad "
         r"\frac{\partial s_0}{\partial W} = 0")
TOTAL_EQUATION = (r"\frac{\partial s_t}{\partial W} = "
                  r"\underbrace{\frac{\partial^+ s_t}{\partial W}}_{\text{explicit}} + "
                  r"\underbrace{\frac{\partial s_t}{\partial s_{t-1}}"
                  r"\frac{\partial s_{t-1}}{\partial W}}_{\text{implicit}},\quad "
                  r"\frac{\partial s_0}{\partial W} = 0")
LOSS = (r"\frac{\partial L}{\partial W} = \sum_t \frac{\partial L_t}{\partial s_t}"
        r"\sum_{k=1}^{t} \frac{\partial s_t}{\partial s_k}\frac{\partial^+ s_k}{\partial W}")
DERIVATIVE = derivative_through_state("s_t")

TOTAL_BUGS = {
    "closed-form-explicit-only": TOTAL,
    "explicit-for-total": TOTAL,
    "initial-state-ignored": EXPLICIT + r",\quad s_{t-1} = s_0 \text{ as given at the first step}",
    "off-by-one-previous-state": EXPLICIT,
    "weight-not-transposed": IMPLICIT,
}
LOSS_BUGS = {
    "closed-form-explicit-only": LOSS,
    "explicit-for-total": LOSS,
    "initial-state-ignored": LOSS + r",\quad s_0 \text{ as given}",
    "overwrite-not-accumulate": LOSS,
}
SHAPES = "D[n, i, j, k] = ∂s_{t,i}/∂W_{jk}: the state's index i first, then W's indices j, k."


def build() -> Exercise:
    """The `explicit-implicit` exercise."""
    stages = (
        Stage(name="explicit_derivative", title="The explicit derivative ∂⁺s_t/∂W", points=2,
              inputs=("s_prev", "s_t"), outputs=("explicit",),
              docstring="The explicit derivative ∂⁺s_t/∂W of s_t = φ(x_t U + s_{t-1} W + b): "
                        "every other input,\ns_{t-1} included, held constant (seed 004). "
                        "Entry [n, i, j, k] is φ'(a_{t,i}) s_{t-1,j} [i = k].\n"
                        + SHAPES + "\n\n"
                        "s_prev: (N, d) the state s_{t-1}, s_t: (N, d). "
                        "Returns explicit: (N, d, d, d).",
              solve=solve_explicit, probes=probes_explicit,
              bugs=bugs_from(buggy_explicit, {"off-by-one-previous-state": EXPLICIT,
                                              "outer-product-reversed": EXPLICIT,
                                              "derivative-at-preactivation": DERIVATIVE},
                             applies={"derivative-at-preactivation": saturating})),
        Stage(name="implicit_derivative", title="The implicit derivative through s_{t-1}",
              points=2, inputs=("s_t", "W", "ds_prev_dW"), outputs=("implicit",),
              docstring="The implicit part of ∂s_t/∂W: ∂s_t/∂s_{t-1} · ∂s_{t-1}/∂W, every "
                        "path from s_t to W\nthrough the previous state. With "
                        "∂s_{t,i}/∂s_{t-1,m} = φ'(a_{t,i}) W_{mi}, entry [n, i, j, k] is\n"
                        "Σ_m φ'(a_{t,i}) W_{mi} ds_prev_dW[n, m, j, k].\n"
                        + SHAPES + "\n\n"
                        "s_t: (N, d), W: (d, d), ds_prev_dW: (N, d, d, d) the total derivative "
                        "∂s_{t-1}/∂W.\nReturns implicit: (N, d, d, d).",
              solve=solve_implicit, probes=probes_implicit,
              bugs=bugs_from(buggy_implicit, {"weight-not-transposed": IMPLICIT,
                                              "derivative-at-preactivation": DERIVATIVE},
                             applies={"derivative-at-preactivation": saturating})),
        Stage(name="total_derivative", title="The total derivative: explicit + implicit",
              points=3, inputs=("s0", "s", "W"), outputs=("total",),
              docstring="∂s_t/∂W for every step t by seed 004's recursion\n"
                        "∂s_t/∂W = ∂⁺s_t/∂W (explicit) + ∂s_t/∂s_{t-1} ∂s_{t-1}/∂W (implicit),\n"
                        "where the implicit term carries the TOTAL derivative of s_{t-1}, and "
                        "s0, the constant\nstarting state, gives ∂s0/∂W = 0.\n"
                        + SHAPES + "\n\n"
                        "s0: (N, d) the state before the first input, s: (N, T, d) the states, "
                        "W: (d, d).\nReturns total: (N, T, d, d, d), total[:, t] = ∂s_t/∂W.",
              solve=solve_total, probes=probes_total,
              bugs=bugs_from(buggy_total, TOTAL_BUGS),
              depends_on=("explicit_derivative", "implicit_derivative")),
        Stage(name="loss_gradient", title="∂L/∂W from the state derivatives", points=2,
              inputs=("dL_ds", "s0", "s", "W"), outputs=("dW",),
              docstring="∂L/∂W = Σ_t ∂L_t/∂s_t ∂s_t/∂W = Σ_t ∂L_t/∂s_t Σ_{k≤t} "
                        "∂s_t/∂s_k ∂⁺s_k/∂W (seed 004),\n"
                        "summed over the N sequences too: the number BPTT computes backwards.\n\n"
                        "dL_ds: (N, T, d) ∂L_t/∂s_t, the gradient of each loss term at its own "
                        "state;\ns0: (N, d), s: (N, T, d), W: (d, d). Returns dW: (d, d).",
              solve=solve_loss_gradient, probes=probes_loss_gradient,
              bugs=bugs_from(buggy_loss_gradient, LOSS_BUGS),
              depends_on=("total_derivative",)),
    )
    return Exercise(
        id="explicit-implicit",
        title="Explicit and implicit derivatives in an ordered network",
        seed="004",
        summary=("s_t depends on W directly and through s_{t-1}, which depends on W too: "
                 "seed 004 calls the first part the explicit derivative ∂⁺s_t/∂W (s_{t-1} "
                 "held constant) and the second the implicit one, ∂s_t/∂s_{t-1} ∂s_{t-1}/∂W. "
                 "You will write both, add them up step by step into the total derivative "
                 "∂s_t/∂W, and turn it into ∂L/∂W = Σ_t ∂L_t/∂s_t ∂s_t/∂W, which is what BPTT "
                 "computes."),
        notation={"s_t": "state at step t (d,)", "s0": "the constant starting state (d,)",
                  "W": "state-to-state weights (d, d)",
                  "∂⁺s_t/∂W": "explicit derivative, s_{t-1} held constant (d, d, d)",
                  "total": "the total derivative ∂s_t/∂W of every step (N, T, d, d, d)",
                  "dL_ds": "∂L_t/∂s_t, each loss term's gradient at its own state (N, T, d)"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("linear", "mse"),),
            "n_in": (2, 3), "n_hidden": (2, 3, 4), "n_out": (2,),
            "T": (3, 4, 5, 6), "N": (2, 3),
        },
        stages=stages,
        solution_module="exercises.solutions.explicit_implicit",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W + b)", TOTAL_EQUATION, LOSS),
    )


EXERCISE = build()
