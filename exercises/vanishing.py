"""Exercise `vanishing`: seed 003's vanishing and exploding gradients, and gradient clipping.

For s_t = φ(x_t U + s_{t-1} W + b) with row-vector states s_t ∈ ℝᵈ (seed 004's
notation, DESIGN.md's convention), the Jacobian of one step is

    ∂s_t/∂s_{t-1} = diag(φ'_t) Wᵀ,   entry (i, j) = ∂s_{t,i}/∂s_{t-1,j} = φ'(a_{t,i}) W_{ji},

(row vectors multiply W from the left, so the Jacobian holds Wᵀ) and over many steps

    ∂s_{T-1}/∂s_k = ∂s_{T-1}/∂s_{T-2} ⋯ ∂s_{k+1}/∂s_k = Π_{j=T-1}^{k+1} diag(φ'_j) Wᵀ,

the latest step on the left. Its norm shrinks or grows geometrically with the
distance T−1−k: vanishing and exploding gradients. The variants choose φ and
the regime, i.e. the spectral norm of W relative to the largest φ'.

Clipping (the update rules of `reference.updates`): by norm, every gradient
scaled by max_norm/‖g‖ when the global norm ‖g‖ = sqrt(Σ_keys Σ_entries g²)
exceeds max_norm; by value, every entry clipped to [−limit, limit].

The right answers come from the reference (`reference.jacobians`, whose loop
`solve_jacobian_norms` repeats for states given directly, and
`reference.updates`).
"""

from __future__ import annotations

import numpy as np

import reference as ref
from exercises.corrections import derivative_through_state
from exercises.elman import random_model, random_states, saturating, wrong_derivative
from exercises.spec import Bug, Exercise, Instance, Probe, Stage, Variant, bugs_from
from reference import activations

GRAD_KEYS = ("U", "W", "b", "V", "c")
GAIN = {  # ‖W‖₂ (vanishing) or ρ(W) (exploding) by activation (φ' ≤ 1/4 for the sigmoid)
    "vanishing": {"identity": 0.6, "tanh": 0.6, "sigmoid": 2.0},
    "exploding": {"identity": 1.4, "tanh": 1.6, "sigmoid": 6.0},
}

# -- data for the probes ----------------------------------------------------------------


def _phi(variant):
    return activations.hidden(variant.activation)


def recurrent_weight(variant: Variant, rng: np.random.Generator) -> np.ndarray:
    """A random, non-symmetric W scaled to the regime's gain.

    Vanishing: the spectral norm ‖W‖₂ is the gain, so ‖Π diag(φ') Wᵀ‖ ≤ (max φ' · gain)^m.
    Exploding: the spectral radius ρ(W) is the gain, so ‖(Wᵀ)^m‖ ≥ gain^m.
    """
    W = rng.normal(size=(variant.n_hidden, variant.n_hidden))
    regime = variant.get("regime", "vanishing")
    size = np.linalg.norm(W, 2) if regime == "vanishing" else np.abs(np.linalg.eigvals(W)).max()
    return W * GAIN[regime][variant.activation] / size


def steep_states(variant: Variant, rng: np.random.Generator, shape) -> np.ndarray:
    """States where φ is steepest (tanh near 0, sigmoid near 1/2): φ' near its maximum."""
    centre = 0.5 if variant.activation == "sigmoid" else 0.0
    return centre + rng.uniform(-0.1, 0.1, shape)


def random_grads(variant: Variant, rng: np.random.Generator, scale: float = 1.0):
    shapes = ref.Elman(variant.n_in, variant.n_hidden, variant.n_out).param_shapes()
    return {key: scale * rng.normal(size=shapes[key]) for key in GRAD_KEYS}


def global_norm(grads) -> float:
    return ref.global_norm(grads)


# -- the right answers, in the student's signatures ---------------------------------------


def solve_step(variant, s_t, W):
    return _phi(variant).derivative_from_state(s_t)[..., :, None] * W.T


def solve_jacobian_norms(variant, s, W):
    """The loop of `reference.state_jacobians` on the given states, then its norms."""
    N, T, d = s.shape
    J = np.empty((N, T, d, d))
    J[:, T - 1] = np.eye(d)
    for k in range(T - 2, -1, -1):
        J[:, k] = J[:, k + 1] @ solve_step(variant, s[:, k + 1], W)
    return ref.jacobian_norms(J)


def solve_clip_by_norm(variant, grads, max_norm):
    return ref.clip_by_norm(grads, max_norm)


def solve_clip_by_value(variant, grads, limit):
    return ref.clip_by_value(grads, limit)


def solve_clipped_update(variant, params, grads, lr, max_norm):
    return ref.sgd(params, ref.clip_by_norm(grads, max_norm), lr)


# -- the bugs -------------------------------------------------------------------------------


def buggy_step(variant, s_t, W, *, bug):
    dphi = _phi(variant).derivative_from_state(s_t)
    if bug == "derivative-at-preactivation":
        dphi = wrong_derivative(variant, s_t, mistake="at-preactivation")
    if bug == "wrong-activation-derivative":
        dphi = wrong_derivative(variant, s_t, mistake="other")
    if bug == "weight-not-transposed":
        return dphi[..., :, None] * W
    if bug == "jacobian-product-order":          # Wᵀ diag(φ'): columns scaled, not rows
        return W.T * dphi[..., None, :]
    return dphi[..., :, None] * W.T


def buggy_jacobian_norms(variant, s, W, *, bug):
    N, T, d = s.shape
    J = np.empty((N, T, d, d))
    J[:, T - 1] = np.eye(d)
    step_bug = None if bug == "jacobian-product-order" else bug
    for k in range(T - 2, -1, -1):
        step = buggy_step(variant, s[:, k + 1], W, bug=step_bug)
        # the chain multiplied from the wrong end: ∂s_{k+1}/∂s_k ⋯ ∂s_{T-1}/∂s_{T-2}
        J[:, k] = step @ J[:, k + 1] if bug == "jacobian-product-order" else J[:, k + 1] @ step
    return ref.jacobian_norms(J)


def clip_each_array(variant, grads, max_norm):
    """Each array rescaled by its own norm."""
    return {key: g * (max_norm / np.linalg.norm(g) if np.linalg.norm(g) > max_norm else 1.0)
            for key, g in grads.items()}


def update_clipping_weights(variant, params, grads, lr, max_norm):
    """The weights clipped instead of the gradients."""
    return ref.sgd(ref.clip_by_norm(params, max_norm), grads, lr)


def update_clipping_step(variant, params, grads, lr, max_norm):
    """The step −α g clipped instead of the gradient g."""
    step = ref.clip_by_norm({key: lr * g for key, g in grads.items()}, max_norm)
    return {key: params[key] - step[key] for key in params}


def update_uphill(variant, params, grads, lr, max_norm):
    return ref.sgd(params, ref.clip_by_norm(grads, max_norm), -lr)


# -- the probes -------------------------------------------------------------------------


def probes_step(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("state_jacobian_step")
    W = recurrent_weight(v, rng)
    return [Probe(name="states not φ of anything",
                  kwargs={"s_t": random_states(v, rng, (v.N, v.n_hidden)), "W": W},
                  purpose="diag(φ'_t) Wᵀ with φ' taken from s_t as given")]


def probes_norms(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("jacobian_norms")
    W = recurrent_weight(v, rng)
    params = {**random_model(v, rng), "W": W}
    x = rng.normal(size=(v.N, v.T, v.n_in))
    s0 = random_states(v, rng, (v.N, v.n_hidden))
    s = ref.layer_forward(x, s0, params["U"], W, params["b"], _phi(v))
    time_axis = {"norms": 1}
    return [
        Probe(name="forward states", kwargs={"s": s, "W": W},
              purpose="‖∂s_{T-1}/∂s_k‖ along a real sequence", time_axis=time_axis),
        Probe(name="states not φ of anything",
              kwargs={"s": random_states(v, rng, (v.N, v.T, v.n_hidden)), "W": W},
              purpose="φ' must come from the states as given", time_axis=time_axis),
        Probe(name="states where φ is steepest",
              kwargs={"s": steep_states(v, rng, (v.N, v.T, v.n_hidden)), "W": W},
              purpose="φ' near its maximum: the regime of W shows most clearly",
              time_axis=time_axis),
    ]


def probes_clip_by_norm(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("clip_by_norm")
    between = random_grads(v, rng)
    largest_array = max(np.linalg.norm(g) for g in between.values())
    small = random_grads(v, rng)
    exploding = random_grads(v, rng, scale=50.0)
    return [
        Probe(name="global norm above max_norm, every array below it",
              kwargs={"grads": between, "max_norm": (largest_array + global_norm(between)) / 2},
              purpose="the norm is that of all gradients together"),
        Probe(name="norm below max_norm",
              kwargs={"grads": small, "max_norm": 2.0 * global_norm(small)},
              purpose="gradients under the threshold are left alone"),
        Probe(name="exploding gradients", kwargs={"grads": exploding, "max_norm": 5.0},
              purpose="g · max_norm / ‖g‖ for a large ‖g‖"),
    ]


def probes_clip_by_value(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("clip_by_value")
    return [Probe(name="entries on both sides of ±limit",
                  kwargs={"grads": random_grads(v, rng, scale=3.0),
                          "limit": float(rng.uniform(1, 2))},
                  purpose="every entry clipped to [−limit, limit], the others unchanged")]


def probes_clipped_update(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("clipped_update")
    params = random_model(v, rng)
    grads = random_grads(v, rng, scale=20.0)
    max_norm = float(min(1.0, 0.5 * global_norm(params)))
    small = random_grads(v, rng, scale=0.01)
    return [
        Probe(name="exploding gradients",
              kwargs={"params": params, "grads": grads, "lr": v.lr, "max_norm": max_norm},
              purpose="θ ← θ − α clip(g): the gradient is clipped, not the weights or the step"),
        Probe(name="gradients under the threshold",
              kwargs={"params": params, "grads": small, "lr": v.lr,
                      "max_norm": 2.0 * global_norm(small)},
              purpose="plain gradient descent when ‖g‖ ≤ max_norm"),
    ]


# -- the exercise ------------------------------------------------------------------------


STEP = r"\frac{\partial s_t}{\partial s_{t-1}} = \mathrm{diag}(\varphi'_t)\, W^\top"
CHAIN = r"\frac{\partial s_{T}}{\partial s_k} = \prod_{j=T}^{k+1} " \
        r"\mathrm{diag}(\varphi'_j)\, W^\top \ \text{(latest step on the left)}"
DERIVATIVE = derivative_through_state("s_t")
CLIP = r"g \leftarrow g \cdot \frac{\text{max\_norm}}{\|g\|}\ \text{when}\ " \
       r"\|g\| = \sqrt{\textstyle\sum_{\text{keys}}\sum g^2} > \text{max\_norm}"
CLIPPED_UPDATE = r"\theta \leftarrow \theta - \alpha\,\mathrm{clip}(\nabla_\theta L)"


def not_identity(variant) -> bool:
    """Whether φ' varies, so that diag(φ') and Wᵀ do not commute."""
    return variant.activation != "identity"


def build() -> Exercise:
    """The `vanishing` exercise."""

    grads_doc = ("grads: dict with U (n, d), W (d, d), b (d,), V (d, k), c (k,).")
    stages = (
        Stage(name="state_jacobian_step", title="The Jacobian of one step", points=2,
              inputs=("s_t", "W"), outputs=("J",),
              docstring="∂s_t/∂s_{t-1} = diag(φ'_t) Wᵀ for s_t = φ(x_t U + s_{t-1} W + b), "
                        "row vectors:\n"
                        "J[n, i, j] = ∂s_{t,i}/∂s_{t-1,j} = φ'(a_{t,i}) W[j, i], "
                        "φ' written through s_t.\n\n"
                        "s_t: (N, d) states, W: (d, d). Returns J: (N, d, d).",
              solve=solve_step, probes=probes_step,
              bugs=bugs_from(buggy_step, {"weight-not-transposed": STEP,
                                          "derivative-at-preactivation": DERIVATIVE,
                                          "wrong-activation-derivative": DERIVATIVE,
                                          "jacobian-product-order": STEP},
                             applies={"derivative-at-preactivation": saturating,
                                      "jacobian-product-order": not_identity})),
        Stage(name="jacobian_norms", title="How far back a gradient reaches", points=3,
              inputs=("s", "W"), outputs=("norms",),
              docstring="‖∂s_{T-1}/∂s_k‖₂ (the spectral norm, "
                        "the largest singular value) for every\n"
                        "sequence and k = 0 … T−1, "
                        "where ∂s_{T-1}/∂s_k = Π_{j=T-1}^{k+1} diag(φ'_j) Wᵀ,\n"
                        "the latest step on the left (k = T−1 gives the identity, norm 1).\n\n"
                        "s: (N, T, d) states s_0 … s_{T-1}, W: (d, d). Returns norms: (N, T).",
              solve=solve_jacobian_norms, probes=probes_norms,
              bugs=bugs_from(buggy_jacobian_norms, {"weight-not-transposed": CHAIN,
                                                    "derivative-at-preactivation": DERIVATIVE,
                                                    "wrong-activation-derivative": DERIVATIVE,
                                                    "jacobian-product-order": CHAIN},
                             applies={"weight-not-transposed": not_identity,
                                      "derivative-at-preactivation": saturating,
                                      "jacobian-product-order": not_identity}),
              depends_on=("state_jacobian_step",)),
        Stage(name="clip_by_norm", title="Gradient clipping by norm", points=2,
              inputs=("grads", "max_norm"), outputs=GRAD_KEYS,
              docstring="Every gradient scaled by max_norm / ‖g‖ when ‖g‖ > max_norm, where\n"
                        "‖g‖ = sqrt(Σ_keys Σ_entries g²) "
                        "is the norm of all gradients as one vector.\n\n"
                        + grads_doc + " max_norm: a positive float.\n"
                        "Returns a new dict with the same keys and shapes.",
              solve=solve_clip_by_norm, probes=probes_clip_by_norm,
              bugs=(Bug(misconception="clipping-per-array", implementation=clip_each_array,
                        correction=CLIP),)),
        Stage(name="clip_by_value", title="Gradient clipping by value", points=1,
              inputs=("grads", "limit"), outputs=GRAD_KEYS,
              docstring="Every entry of every gradient clipped to [−limit, limit].\n\n"
                        + grads_doc + " limit: a positive float.\n"
                        "Returns a new dict with the same keys and shapes.",
              solve=solve_clip_by_value, probes=probes_clip_by_value),
        Stage(name="clipped_update", title="Gradient descent with clipping", points=1,
              inputs=("params", "grads", "lr", "max_norm"), outputs=GRAD_KEYS,
              docstring="θ ← θ − α clip_by_norm(∇_θ L, max_norm) for every weight.\n\n"
                        "params, " + grads_doc + " lr: the rate α, max_norm: a positive float.\n"
                        "Returns a new dict of weights (do not change params in place).",
              solve=solve_clipped_update, probes=probes_clipped_update,
              bugs=(Bug(misconception="clipping-wrong-quantity",
                        implementation=update_clipping_weights,
                        correction=CLIPPED_UPDATE),
                    Bug(misconception="clipping-wrong-quantity",
                        implementation=update_clipping_step,
                        correction=CLIPPED_UPDATE),
                    Bug(misconception="update-wrong-sign", implementation=update_uphill,
                        correction=CLIPPED_UPDATE)),
              depends_on=("clip_by_norm",)),
    )
    return Exercise(
        id="vanishing",
        title="Vanishing and exploding gradients, and gradient clipping",
        seed="003",
        summary=("The gradient that reaches s_k from a loss at step T passes through the "
                 "Jacobians of every step in between, ∂s_T/∂s_k = Π diag(φ'_j) Wᵀ. You will "
                 "compute one step's Jacobian, the norms ‖∂s_T/∂s_k‖ over k for your W (which "
                 "shows whether gradients vanish or explode), and the two clippings that keep "
                 "an exploding gradient in bounds."),
        notation={"s_t": "state at step t (row vector, d)", "W": "state-to-state weights (d, d)",
                  "φ'_t": "the activation's derivative at step t, written through s_t",
                  "‖·‖₂": "spectral norm (largest singular value)",
                  "‖g‖": "global norm of all gradients"},
        variant_space={
            "activation": ("tanh", "identity", "sigmoid"), "head": (("linear", "mse"),),
            "n_in": (2, 3), "n_hidden": (3, 4, 5), "n_out": (2, 3),
            "T": (5, 6, 7, 8), "N": (2, 3), "lr": (0.05, 0.1, 0.5),
            "regime": ("vanishing", "exploding"),
        },
        stages=stages,
        solution_module="exercises.solutions.vanishing",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W + b)", STEP,
                   r"\frac{\partial s_{T}}{\partial s_k} = \prod_{j=T}^{k+1} "
                   r"\mathrm{diag}(\varphi'_j)\, W^\top"),
    )


EXERCISE = build()
