"""Exercise `two-layer`: the s→z network of seed 000, questions Q1–Q3 and full BPTT.

Notation of seed 000 with row vectors and a batch of N sequences of T steps:
x_t ∈ ℝⁿ, s_t ∈ ℝ^{d1}, z_t ∈ ℝ^{d2}, y_t ∈ ℝᵏ, U ∈ ℝ^{n×d1}, W1 ∈ ℝ^{d1×d1},
V1 ∈ ℝ^{d1×d2}, W2 ∈ ℝ^{d2×d2}, V2 ∈ ℝ^{d2×k}:

    s_t = φ(x_t U + s_{t-1} W1 + b1)
    z_t = φ(s_t V1 + z_{t-1} W2 + b2)
    y_t = g(z_t V2 + c)                  g linear or σ, as in the seed
    E_t = (1/N) Σ_n Σ_k (y_{nt,k} − d_{nt,k})²      (mse, no ½; mean over the batch)

Q2 (ΔV1 over a single timestep) is truncated BPTT with horizon 1 on E_t and Q3
(∂E_{t+1}/∂U over two timesteps) horizon 2 on E_{t+1} (DESIGN.md, "Math
conventions"). The right answers come from the reference's recurrent layer;
the bugs of the full backward pass reuse the elman exercise's BPTT with one
mistake switched on, run through both layers.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import reference as ref
from exercises.corrections import derivative_through_state
from exercises.elman import buggy_bptt, random_states, saturating
from exercises.spec import (
    Bug,
    Exercise,
    GradientOf,
    Instance,
    Probe,
    Stage,
    Training,
    Variant,
    bugs_from,
    only_at_step,
)
from exercises.training_runs import (
    buggy_trajectory,
    descending_rate,
    training_bugs,
    trajectory,
    wrong_update,
)
from reference import activations, losses
from reference.network import as_injection, band_total, output_layer_grads
from reference.recurrence import layer_backward, layer_forward, step_forward

# -- data for the probes ----------------------------------------------------------------


def d2_of(variant: Variant) -> int:
    """The width of z (the variant's `n_hidden2`, d1 when absent)."""
    return variant.get("n_hidden2", variant.n_hidden)


def model_of(variant: Variant) -> ref.Stacked:
    return ref.Stacked(variant.n_in, variant.n_hidden, variant.n_out,
                       activation=variant.activation, output=variant.output,
                       objective=variant.objective, n_hidden2=d2_of(variant))


def random_model(variant: Variant, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """U, W1, b1, V1, W2, b2, V2, c at a scale where φ is neither saturated nor linear."""
    return {key: rng.normal(0.0, 0.6, shape)
            for key, shape in model_of(variant).param_shapes().items()}


def random_sequence(variant: Variant, rng: np.random.Generator, p):
    """x, non-zero initial states s0 and z0, and the forward states s and z from them."""
    N, T, n, d1 = variant.N, variant.T, variant.n_in, variant.n_hidden
    x = rng.normal(size=(N, T, n))
    s0 = random_states(variant, rng, (N, d1))
    z0 = random_states(variant, rng, (N, d2_of(variant)))
    s, z = solve_forward(variant, x, s0, z0, p["U"], p["W1"], p["b1"], p["V1"], p["W2"], p["b2"])
    return x, s0, z0, s, z


def random_targets(variant: Variant, rng: np.random.Generator, shape) -> np.ndarray:
    """Targets of the mse loss: in (0, 1) for a sigmoid output, reals for a linear one."""
    if variant.output == "sigmoid":
        return rng.uniform(0.0, 1.0, shape)
    return rng.normal(0.0, 1.0, shape)


# -- the right answers, in the student's signatures ---------------------------------------


def _phi(variant):
    return activations.hidden(variant.activation)


def output_delta(variant, z_t, V2, c, d_t):
    """dE_t/do_t (N, k) for y_t = g(z_t V2 + c) and E_t = (1/N) Σ_n Σ_k (y − d)²."""
    g = activations.output(variant.output)
    o = z_t @ V2 + c
    return losses.output_delta(variant.objective, g, o, g.apply(o), d_t) / z_t.shape[0]


def solve_z_step_forward(variant, s_t, z_prev, V1, W2, b2):
    return step_forward(s_t, z_prev, V1, W2, b2, _phi(variant))


def solve_forward(variant, x, s0, z0, U, W1, b1, V1, W2, b2):
    s = layer_forward(x, s0, U, W1, b1, _phi(variant))
    return s, layer_forward(s, z0, V1, W2, b2, _phi(variant))


def solve_delta_V1(variant, s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr, *, horizon=1,
                   sign=1.0):
    """−α ∂E_t/∂V1 with the uses of V1 at the last `horizon` steps (of t−1, t) kept."""
    inject = np.zeros((2, 1) + z_t.shape)
    inject[1, 0] = output_delta(variant, z_t, V2, c, d_t) @ V2.T
    window_s = np.stack([s_prev, s_t], axis=1)
    window_z = np.stack([z_prev, z_t], axis=1)
    # z_{t-2} only enters dW2 and V1 only the gradient sent down to s: neither enters dV1.
    V1 = np.zeros((s_t.shape[1], z_t.shape[1]))
    dV1 = layer_backward(inject, window_s, window_z, np.zeros_like(z_t), V1, W2, _phi(variant),
                         horizon)[0]
    return -sign * lr * dV1


def two_step_backward(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c, d_next,
                      horizon=2):
    """The reference's backward pass over the window (t, t+1) for E_{t+1}: dU, and the layers'
    bands, through `layer_backward` exactly as `Stacked.grad` runs it."""
    phi = _phi(variant)
    inject = np.zeros((2, 1) + z_next.shape)
    inject[1, 0] = output_delta(variant, z_next, V2, c, d_next) @ V2.T
    s = np.stack([s_t, s_next], axis=1)
    z = np.stack([z_t, z_next], axis=1)
    x = np.stack([x_t, x_next], axis=1)
    # The states before the window only enter dW1 and dW2, never dU.
    ds_from_z = layer_backward(inject, s, z, np.zeros_like(z_t), V1, W2, phi, horizon)[3]
    return layer_backward(ds_from_z, x, s, np.zeros_like(s_t), np.zeros((x.shape[2], s.shape[2])),
                          W1, phi, horizon)[0]


def solve_dE_dU(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c, d_next):
    return two_step_backward(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c,
                             d_next, horizon=2)


def solve_backward(variant, do, x, s0, z0, s, z, U, W1, V1, W2, V2):
    phi = _phi(variant)
    dV2, dc = output_layer_grads(z, do)
    dV1, dW2, db2, ds_from_z, dz0 = layer_backward(as_injection(do @ V2.T), s, z, z0, V1, W2, phi)
    dU, dW1, db1, dx, ds0 = layer_backward(ds_from_z, x, s, s0, U, W1, phi)
    return {"U": dU, "W1": dW1, "b1": db1, "V1": dV1, "W2": dW2, "b2": db2, "V2": dV2, "c": dc,
            "x": band_total(dx), "s0": ds0, "z0": dz0}


PARAMETERS = ("U", "W1", "b1", "V1", "W2", "b2", "V2", "c")
BIASES = ("b1", "b2", "c")


def solve_sgd(variant, params, grads, lr):
    return ref.sgd(params, grads, lr)


def sized_model(variant: Variant, params) -> ref.Stacked:
    """The network with the parameters' sizes (a probe's, which need not be the variant's)."""
    (n, d1), (d2, k) = np.shape(params["U"]), np.shape(params["V2"])
    return ref.Stacked(n, d1, k, activation=variant.activation, output=variant.output,
                       objective=variant.objective, n_hidden2=d2)


def solve_train(variant, params, x, s0, z0, d, lr, k_updates):
    return trajectory(sized_model(variant, params), params, x, d, lr, k_updates, s0=s0, z0=z0)


def training_loss(variant, kwargs, weights) -> float:
    """E(θ) = Σ_t E_t of the run's batch at the weights θ: the loss curve's points."""
    return sized_model(variant, weights).loss(weights, kwargs["x"], kwargs["d"],
                                              s0=kwargs["s0"], z0=kwargs["z0"])


def training_example(variant: Variant, rng: np.random.Generator) -> dict:
    """Inputs of a training run: random weights, a batch, non-zero s_0 and z_0, α and k.

    Weights and inputs are half the other probes' scale, and α the variant's, halved
    until every update brings the loss down (`descending_rate`)."""
    N, T, n, d1 = variant.N, variant.T, variant.n_in, variant.n_hidden
    params = {key: value / 2 for key, value in random_model(variant, rng).items()}
    x = rng.normal(0.0, 0.5, (N, T, n))
    initial = {"s0": random_states(variant, rng, (N, d1)),
               "z0": random_states(variant, rng, (N, d2_of(variant)))}
    targets, k = random_targets(variant, rng, (N, T, variant.n_out)), variant.get("k_updates", 4)
    lr = descending_rate(sized_model(variant, params), params, x, targets, variant.lr, k,
                         **initial)
    return {"params": params, "x": x, **initial, "d": targets, "lr": lr, "k_updates": k}


# -- the bugs -------------------------------------------------------------------------------


def buggy_sgd(variant, params, grads, lr, *, bug):
    return wrong_update(params, grads, lr, bug=bug, biases=BIASES)   # BIASES: b1, b2 and c


def buggy_train(variant, params, x, s0, z0, d, lr, k_updates, *, bug):
    return buggy_trajectory(sized_model(variant, params), params, x, d, lr, k_updates, bug=bug,
                            biases=BIASES, s0=s0, z0=z0)



def buggy_z_step_forward(variant, s_t, z_prev, V1, W2, b2):
    """z_{t-1} W2ᵀ: the recurrent weight used the wrong way round."""
    return solve_z_step_forward(variant, s_t, z_prev, V1, W2.T, b2)


def buggy_forward(variant, x, s0, z0, U, W1, b1, V1, W2, b2, *, bug):
    if bug == "initial-state-ignored":
        s0, z0 = np.zeros_like(s0), np.zeros_like(z0)
    if bug == "weight-transposed-forward":
        W1, W2 = W1.T, W2.T
    return solve_forward(variant, x, s0, z0, U, W1, b1, V1, W2, b2)


def at_preactivation(variant, state):
    """φ'(φ(state)): the derivative taken one activation too far."""
    phi = _phi(variant)
    return phi.derivative_from_state(phi.apply(state))


def buggy_delta_V1(variant, s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr, *, bug):
    if bug == "squared-error-halved":
        return 0.5 * solve_delta_V1(variant, s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr)
    if bug == "update-wrong-sign":
        return solve_delta_V1(variant, s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr, sign=-1.0)
    if bug == "horizon-off-by-one":   # two timesteps: the use of V1 at t−1 through z_{t-1}
        return solve_delta_V1(variant, s_prev, s_t, z_prev, z_t, W2, V2, c, d_t, lr, horizon=2)
    # derivative-at-preactivation
    dz = (output_delta(variant, z_t, V2, c, d_t) @ V2.T) * at_preactivation(variant, z_t)
    return -lr * s_t.T @ dz


def buggy_dE_dU(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2, c, d_next, *,
                bug):
    """Seed 000's Q3 written out term by term, with one mistake switched on."""
    if bug == "squared-error-halved":
        return 0.5 * solve_dE_dU(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2,
                                 c, d_next)
    if bug == "horizon-off-by-one":   # one timestep: the first term only
        return two_step_backward(variant, x_t, x_next, s_t, s_next, z_t, z_next, W1, V1, W2, V2,
                                 c, d_next, horizon=1)
    dphi = (partial(at_preactivation, variant) if bug == "derivative-at-preactivation"
            else _phi(variant).derivative_from_state)
    if bug == "weight-not-transposed":
        W1, W2 = W1.T, W2.T
    da_z_next = (output_delta(variant, z_next, V2, c, d_next) @ V2.T) * dphi(z_next)
    da_s_next = (da_z_next @ V1.T) * dphi(s_next)
    da_z_t = (da_z_next @ W2.T) * dphi(z_t)
    through_z = (da_z_t @ V1.T) * dphi(s_t)          # z_{t+1} → z_t → s_t: the second term
    through_s = (da_s_next @ W1.T) * dphi(s_t)       # z_{t+1} → s_{t+1} → s_t: the third term
    if bug == "recurrent-term-dropped":
        through_z = 0.0 * through_z
    if bug == "stacked-recurrence-missing":
        through_s = 0.0 * through_s
    return x_next.T @ da_s_next + x_t.T @ (through_z + through_s)


def buggy_backward(variant, do, x, s0, z0, s, z, U, W1, V1, W2, V2, *, bug):
    """Both layers through the elman exercise's buggy BPTT, the mistake in each layer
    (`stacked-recurrence-missing`: the s layer's recurrent term only)."""
    z_bug = "none" if bug == "stacked-recurrence-missing" else bug
    s_bug = "recurrent-term-dropped" if bug == "stacked-recurrence-missing" else bug
    dV2, dc = output_layer_grads(z, do)
    ds_from_z, dz0, dV1, dW2, db2 = buggy_bptt(variant, do @ V2.T, s, z0, z, V1, W2, bug=z_bug)
    dx, ds0, dU, dW1, db1 = buggy_bptt(variant, ds_from_z, x, s0, s, U, W1, bug=s_bug)
    return {"U": dU, "W1": dW1, "b1": db1, "V1": dV1, "W2": dW2, "b2": db2, "V2": dV2, "c": dc,
            "x": dx, "s0": ds0, "z0": dz0}


# -- the probes -------------------------------------------------------------------------


def probes_z_step_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("z_step_forward")
    p = random_model(v, rng)
    return [Probe(name="one step",
                  kwargs={"s_t": random_states(v, rng, (v.N, v.n_hidden)),
                          "z_prev": rng.normal(size=(v.N, d2_of(v))),
                          "V1": p["V1"], "W2": p["W2"], "b2": p["b2"]},
                  purpose="z_t = φ(s_t V1 + z_{t-1} W2 + b2) with a non-zero previous state"),
            Probe(name="the recurrent term alone",
                  kwargs={"s_t": np.zeros((d2_of(v), v.n_hidden)), "z_prev": np.eye(d2_of(v)),
                          "V1": p["V1"], "W2": rng.uniform(0.1, 1.0, (d2_of(v), d2_of(v))),
                          "b2": np.zeros(d2_of(v))},
                  purpose="s_t = 0, z_{t-1} the unit rows and a positive W2, b2 = 0: "
                          "row i of z_t is φ(row i of W2)")]


def probes_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("two_layer_forward")
    p = random_model(v, rng)
    x = rng.normal(size=(v.N, v.T, v.n_in))
    weights = {key: p[key] for key in ("U", "W1", "b1", "V1", "W2", "b2")}
    time_axis = {"s": 1, "z": 1}
    return [
        Probe(name="zero initial states",
              kwargs={"x": x, "s0": np.zeros((v.N, v.n_hidden)), "z0": np.zeros((v.N, d2_of(v))),
                      **weights},
              purpose="both layers over the whole sequence from s_0 = 0 and z_0 = 0",
              time_axis=time_axis),
        Probe(name="non-zero initial states",
              kwargs={"x": x, "s0": random_states(v, rng, (v.N, v.n_hidden)),
                      "z0": random_states(v, rng, (v.N, d2_of(v))), **weights},
              purpose="the first step of each layer must use the given s_0 and z_0",
              time_axis=time_axis),
    ]


def probes_delta_V1(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("delta_V1_single_step")
    p = random_model(v, rng)
    x, s0, z0, s, z = random_sequence(v, rng, p)
    t = int(rng.integers(1, v.T))
    shapes = {"s": (v.N, v.n_hidden), "z": (v.N, d2_of(v))}
    head = {"W2": p["W2"], "V2": p["V2"], "c": p["c"], "lr": v.lr}
    return [
        Probe(name=f"forward states at t = {t}",
              kwargs={"s_prev": s[:, t - 1], "s_t": s[:, t], "z_prev": z[:, t - 1], "z_t": z[:, t],
                      **head, "d_t": random_targets(v, rng, (v.N, v.n_out))},
              purpose="ΔV1 = −α ∂E_t/∂V1 through z_t only: a single timestep"),
        Probe(name="states not φ of anything",
              kwargs={"s_prev": random_states(v, rng, shapes["s"]),
                      "s_t": random_states(v, rng, shapes["s"]),
                      "z_prev": random_states(v, rng, shapes["z"]),
                      "z_t": random_states(v, rng, shapes["z"]),
                      **head, "d_t": random_targets(v, rng, (v.N, v.n_out))},
              purpose="φ' must come from z_t as given"),
    ]


def probes_dE_dU(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("dE_dU_two_steps")
    p = random_model(v, rng)
    x, s0, z0, s, z = random_sequence(v, rng, p)
    t = int(rng.integers(0, v.T - 1))
    weights = {key: p[key] for key in ("W1", "V1", "W2", "V2", "c")}

    def window(x_t, x_next, s_t, s_next, z_t, z_next):
        return {"x_t": x_t, "x_next": x_next, "s_t": s_t, "s_next": s_next, "z_t": z_t,
                "z_next": z_next, **weights,
                "d_next": random_targets(v, rng, (v.N, v.n_out))}

    shapes = {"s": (v.N, v.n_hidden), "z": (v.N, d2_of(v))}
    return [
        Probe(name=f"forward states at t = {t}, {t + 1}",
              kwargs=window(x[:, t], x[:, t + 1], s[:, t], s[:, t + 1], z[:, t], z[:, t + 1]),
              purpose="the three terms of ∂E_{t+1}/∂U over two timesteps"),
        Probe(name="states not φ of anything",
              kwargs=window(rng.normal(size=(v.N, v.n_in)), rng.normal(size=(v.N, v.n_in)),
                            *(random_states(v, rng, shapes[key]) for key in ("s", "s", "z", "z"))),
              purpose="φ' must come from the states as given"),
        Probe(name="x_{t+1} = 0",
              kwargs=window(rng.normal(size=(v.N, v.n_in)), np.zeros((v.N, v.n_in)),
                            *(random_states(v, rng, shapes[key]) for key in ("s", "s", "z", "z"))),
              purpose="the first term vanishes: only the two paths back to step t remain"),
    ]


def probes_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("two_layer_backward")
    p = random_model(v, rng)
    x, s0, z0, s, z = random_sequence(v, rng, p)
    N, T, k = v.N, v.T, v.n_out
    weights = {key: p[key] for key in ("U", "W1", "V1", "W2", "V2")}
    last_only = only_at_step(rng.normal(size=(N, k)), t=-1, T=T)
    time_axis = {"x": 1}
    return [
        Probe(name="forward states, non-zero s_0 and z_0",
              kwargs={"do": rng.normal(size=(N, T, k)), "x": x, "s0": s0, "z0": z0, "s": s, "z": z,
                      **weights},
              purpose="full BPTT through both layers with the reference's forward states",
              time_axis=time_axis, repeat=True),
        Probe(name="gradient at the last step only",
              kwargs={"do": last_only, "x": x, "s0": s0, "z0": z0, "s": s, "z": z, **weights},
              purpose="everything before T must arrive through the two recurrences",
              time_axis=time_axis),
        Probe(name="states not φ of anything",
              kwargs={"do": rng.normal(size=(N, T, k)), "x": x, "s0": s0, "z0": z0,
                      "s": random_states(v, rng, s.shape), "z": random_states(v, rng, z.shape),
                      **weights},
              purpose="φ' must come from the states as given", time_axis=time_axis),
    ]


def probes_sgd(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("two_layer_sgd_update")
    params = random_model(v, rng)
    grads = {key: rng.normal(size=value.shape) for key, value in params.items()}
    return [Probe(name="one update", kwargs={"params": params, "grads": grads, "lr": v.lr},
                  purpose="θ ← θ − α ∇θ for all eight weights"),
            Probe(name="gradients with the inputs' and initial states' too",
                  kwargs={"params": params, "lr": v.lr,
                          "grads": {**{key: rng.normal(size=value.shape)
                                       for key, value in params.items()},
                                    "s0": rng.normal(size=(v.N, v.n_hidden)),
                                    "z0": rng.normal(size=(v.N, d2_of(v)))}},
                  purpose="two_layer_backward's dict also holds x, s0 and z0: only the weights "
                          "are updated")]


TRAJECTORY = {key: 0 for key in PARAMETERS}


def probes_train(instance: Instance) -> list[Probe]:
    kwargs = training_example(instance.variant, instance.probe_rng("two_layer_train"))
    return [Probe(name=f"{kwargs['k_updates']} updates from non-zero s_0 and z_0", kwargs=kwargs,
                  purpose="the weights after every update, each gradient at the weights the "
                          "last update left", time_axis=TRAJECTORY, step_label="update",
                  repeat=True)]


# -- the exercise ------------------------------------------------------------------------


DERIVATIVE = derivative_through_state("s_t", "z_t")
Q2 = (r"\Delta V_1 = -\alpha \frac{\partial E_t}{\partial V_1} = -\alpha\, s_t^\top \Big("
      r"\frac{\partial E_t}{\partial y_t} \frac{\partial y_t}{\partial o_t} V_2^\top \odot "
      r"\varphi'(h_t)\Big)")
Q3 = (r"\frac{\partial E_{t+1}}{\partial U} = x_{t+1}^\top \delta^s_{t+1} + x_t^\top "
      r"\big[(\delta^z_t V_1^\top + \delta^s_{t+1} W_1^\top) \odot \varphi'(a_t)\big],\ "
      r"\delta^z_t = \delta^z_{t+1} W_2^\top \odot \varphi'(h_t)")
UPDATE = r"\Delta\theta = -\alpha\nabla_\theta E"
HALVED = (r"E_t = \frac{1}{N}\sum_n \lVert y_t - d_t \rVert^2,\ "
          r"\frac{\partial E_t}{\partial y_t} = \frac{2}{N}(y_t - d_t)")
BACKWARD_BUGS = {
    "recurrent-term-dropped":
        r"\frac{\partial L}{\partial z_t} = \frac{\partial L}{\partial o_t} V_2^\top "
        r"+ \delta^z_{t+1} W_2^\top,\ \frac{\partial L}{\partial s_t} = \delta^z_t V_1^\top "
        r"+ \delta^s_{t+1} W_1^\top",
    "stacked-recurrence-missing":
        r"\frac{\partial L}{\partial s_t} = \delta^z_t V_1^\top + \delta^s_{t+1} W_1^\top",
    "overwrite-not-accumulate":
        r"\nabla_{W_1} L = \sum_t s_{t-1}^\top \delta^s_t,\ "
        r"\nabla_{W_2} L = \sum_t z_{t-1}^\top \delta^z_t",
    "off-by-one-previous-state":
        r"\nabla_{W_1} L = \sum_t s_{t-1}^\top \delta^s_t,\ "
        r"\nabla_{W_2} L = \sum_t z_{t-1}^\top \delta^z_t",
    "initial-state-ignored":
        r"\nabla_{W_1} L \mathrel{+}= s_0^\top \delta^s_1,\ \nabla_{W_2} L \mathrel{+}= "
        r"z_0^\top \delta^z_1",
    "weight-not-transposed":
        r"\frac{\partial L}{\partial s_{t-1}} = \delta^z_{t-1} V_1^\top + \delta^s_t W_1^\top,\ "
        r"\frac{\partial L}{\partial z_{t-1}} = \frac{\partial L}{\partial o_{t-1}} V_2^\top "
        r"+ \delta^z_t W_2^\top",
    "derivative-at-preactivation": DERIVATIVE,
    "wrong-activation-derivative": DERIVATIVE,
    "bias-not-summed":
        r"\nabla_{b_1} L = \sum_t \sum_n \delta^s_{t,n},\ \nabla_{b_2} L = \sum_t \sum_n "
        r"\delta^z_{t,n}",
}


APPLIES = {"derivative-at-preactivation": saturating}
GRADIENTS = ("U", "W1", "b1", "V1", "W2", "b2", "V2", "c", "x", "s0", "z0")


def output_logits(z, V2, c):
    """o_t = z_t V2 + c: the output before g, (N, T, k), from z (N, T, d2).

    What the backward stage's `do` is the gradient at (its `GradientOf` head): plain
    numpy, so that the notebook's self-check can run it too.
    """
    return z @ V2 + c


def build() -> Exercise:
    """The `two-layer` exercise."""

    stages = (
        Stage(name="z_step_forward", title="Q1: the state z at time t", points=1,
              inputs=("s_t", "z_prev", "V1", "W2", "b2"), outputs=("z_t",),
              docstring="z_t = φ(s_t V1 + z_{t-1} W2 + b2).\n\n"
                        "s_t: (N, d1), z_prev: (N, d2), V1: (d1, d2), W2: (d2, d2), b2: (d2,).\n"
                        "Returns z_t: (N, d2).",
              solve=solve_z_step_forward, probes=probes_z_step_forward,
              bugs=(Bug(misconception="weight-transposed-forward",
                        implementation=buggy_z_step_forward,
                        correction=r"z_t = \varphi(s_t V_1 + z_{t-1} W_2 + b_2)"),)),
        Stage(name="two_layer_forward", title="The forward pass of both layers", points=1,
              inputs=("x", "s0", "z0", "U", "W1", "b1", "V1", "W2", "b2"), outputs=("s", "z"),
              docstring="s_t = φ(x_t U + s_{t-1} W1 + b1) and "
                        "z_t = φ(s_t V1 + z_{t-1} W2 + b2) for\n"
                        "t = 0 … T−1, from the initial states s0 and z0 "
                        "(the states before x_0).\n\n"
                        "x: (N, T, n), s0: (N, d1), z0: (N, d2), "
                        "U: (n, d1), W1: (d1, d1), b1: (d1,),\n"
                        "V1: (d1, d2), W2: (d2, d2), b2: (d2,). "
                        "Returns s: (N, T, d1), z: (N, T, d2).",
              solve=solve_forward, probes=probes_forward,
              bugs=bugs_from(buggy_forward, {
                  "initial-state-ignored":
                      r"s_0 = \varphi(x_0 U + s_{\text{init}} W_1 + b_1),\ "
                      r"z_0 = \varphi(s_0 V_1 + z_{\text{init}} W_2 + b_2)",
                  "weight-transposed-forward":
                      r"s_t = \varphi(x_t U + s_{t-1} W_1 + b_1),\ "
                      r"z_t = \varphi(s_t V_1 + z_{t-1} W_2 + b_2)"}),
              depends_on=("z_step_forward",)),
        Stage(name="delta_V1_single_step",
              title="Q2: the update of V1 over a single timestep", points=2,
              inputs=("s_prev", "s_t", "z_prev", "z_t", "W2", "V2", "c", "d_t", "lr"),
              outputs=("dV1",),
              docstring="ΔV1 = −α ∂E_t/∂V1 over a single timestep: only the use of V1 at step t,\n"
                        "through z_t (truncation with horizon 1). y_t = g(z_t V2 + c) and\n"
                        "E_t = (1/N) Σ_n Σ_k (y_t − d_t)², the squared error of seed 000 "
                        "(no ½), averaged\n"
                        "over the batch. The values of step t−1 are given too: "
                        "decide which you need.\n\n"
                        "s_prev, s_t: (N, d1) the states s_{t-1}, s_t; z_prev, z_t: (N, d2);\n"
                        "W2: (d2, d2), V2: (d2, k), c: (k,), d_t: (N, k) targets, lr: the rate α.\n"
                        "Returns ΔV1: (d1, d2).",
              solve=solve_delta_V1, probes=probes_delta_V1,
              bugs=bugs_from(buggy_delta_V1, {"update-wrong-sign": Q2,
                                              "squared-error-halved": HALVED,
                                              "horizon-off-by-one": Q2,
                                              "derivative-at-preactivation": DERIVATIVE},
                             applies=APPLIES)),
        Stage(name="dE_dU_two_steps",
              title="Q3: the gradient for U at time t+1 over two timesteps", points=3,
              inputs=("x_t", "x_next", "s_t", "s_next", "z_t", "z_next", "W1", "V1", "W2", "V2",
                      "c", "d_next"), outputs=("dU",),
              docstring="∂E_{t+1}/∂U over 2 timesteps: "
                        "the uses of U at steps t and t+1 (truncation with\n"
                        "horizon 2), with E_{t+1} = (1/N) Σ_n Σ_k (y_{t+1} − d_{t+1})². "
                        "Seed 000's three\n"
                        "terms: the use at t+1 (z_{t+1} → s_{t+1}); the use at t through z_t\n"
                        "(z_{t+1} → z_t → s_t); the use at t through s_{t+1} "
                        "(z_{t+1} → s_{t+1} → s_t).\n\n"
                        "x_t, x_next: (N, n) the inputs x_t, x_{t+1}; s_t, s_next: (N, d1);\n"
                        "z_t, z_next: (N, d2); "
                        "W1: (d1, d1), V1: (d1, d2), W2: (d2, d2), V2: (d2, k), c: (k,),\n"
                        "d_next: (N, k) the targets d_{t+1}. Returns ∂E_{t+1}/∂U: (n, d1).",
              solve=solve_dE_dU, probes=probes_dE_dU,
              bugs=bugs_from(buggy_dE_dU, {"stacked-recurrence-missing": Q3,
                                           "recurrent-term-dropped": Q3,
                                           "horizon-off-by-one": Q3,
                                           "weight-not-transposed": Q3,
                                           "derivative-at-preactivation": DERIVATIVE,
                                           "squared-error-halved": HALVED},
                             applies=APPLIES)),
        Stage(name="two_layer_backward", title="Full BPTT for every weight", points=3,
              inputs=("do", "x", "s0", "z0", "s", "z", "U", "W1", "V1", "W2", "V2"),
              outputs=GRADIENTS,
              docstring="BPTT through both layers and the whole sequence, "
                        "given dL/do_t at every step\n"
                        "(o_t = z_t V2 + c is the output before g, "
                        "so the loss does not matter here).\n\n"
                        "do: (N, T, k), x: (N, T, n), s0: (N, d1), z0: (N, d2), s: (N, T, d1) and\n"
                        "z: (N, T, d2) the forward states; "
                        "U: (n, d1), W1: (d1, d1), V1: (d1, d2),\n"
                        "W2: (d2, d2), V2: (d2, k).\n"
                        "Returns a dict of gradients dL/d· with keys "
                        "U (n, d1), W1 (d1, d1), b1 (d1,),\n"
                        "V1 (d1, d2), W2 (d2, d2), b2 (d2,), V2 (d2, k), c (k,), x (N, T, n),\n"
                        "s0 (N, d1), z0 (N, d2).",
              solve=solve_backward, probes=probes_backward,
              bugs=bugs_from(buggy_backward, BACKWARD_BUGS, applies=APPLIES),
              gradient_of=GradientOf(forwards=("two_layer_forward",), head=output_logits,
                                     upstream="do", wrt={name: name for name in GRADIENTS})),
        Stage(name="two_layer_sgd_update", title="The gradient-descent update of every weight",
              points=1, inputs=("params", "grads", "lr"), outputs=PARAMETERS,
              docstring="ΔW = −α ∇_W E for every weight U, W1, b1, V1, W2, b2, V2, c.\n\n"
                        "params: dict of the eight weights; grads: dict of their gradients "
                        "(it may hold more\n"
                        "keys, as two_layer_backward's does: x, s0, z0); lr: the rate α.\n"
                        "Returns a new dict of the eight updated weights "
                        "(do not change params in place).",
              solve=solve_sgd, probes=probes_sgd,
              bugs=bugs_from(buggy_sgd, {
                  "update-wrong-sign": UPDATE, "update-applied-twice": UPDATE,
                  "update-weight-skipped":
                      UPDATE + r"\ \text{for } U, W_1, b_1, V_1, W_2, b_2, V_2, c"})),
        Stage(name="two_layer_train", title="Training by your own functions", points=2,
              inputs=("params", "x", "s0", "z0", "d", "lr", "k_updates"), outputs=PARAMETERS,
              docstring="k_updates steps of gradient descent on the whole batch, "
                        "θ_{i+1} = θ_i − α ∇_θ E(θ_i)\n"
                        "for i = 0, 1, …, with E = Σ_t E_t: each by your two_layer_forward, "
                        "two_layer_backward\n"
                        "(given dE/do_t, which you compute from y_t = g(z_t V2 + c)) and "
                        "two_layer_sgd_update,\n"
                        "each gradient at the weights the last update left.\n\n"
                        "params: dict of the eight weights θ_0 (shapes as in "
                        "two_layer_backward).\n"
                        "x: (N, T, n), s0: (N, d1), z0: (N, d2), d: (N, T, k) targets, "
                        "lr: the rate α, k_updates: an int.\n"
                        "Returns a dict of the weights after every update, each stacked on a "
                        "first axis:\n"
                        "U (k_updates, n, d1), W1 (k_updates, d1, d1), …, c (k_updates, k). "
                        "Do not change params in place.",
              solve=solve_train, probes=probes_train,
              bugs=training_bugs(buggy_train, "U, W_1, b_1, V_1, W_2, b_2, V_2, c",
                                 "b_1, b_2, c"),
              training=Training(loss=training_loss, example=training_example),
              demo="notebook/loss_plot.py.j2",
              depends_on=("two_layer_forward", "two_layer_backward", "two_layer_sgd_update")),
    )
    return Exercise(
        id="two-layer",
        title="Backpropagation through time in the two-layer s→z network",
        seed="000",
        summary=("A first recurrent layer keeps a state s_t; a second one keeps a state z_t "
                 "computed from s_t and z_{t-1}, and the output y_t is read from z_t. You will "
                 "write the z state (Q1), the forward pass, the update of V1 over a single "
                 "timestep (Q2), the gradient of E_{t+1} for U over two timesteps with its "
                 "three terms (Q3), BPTT through both layers for every weight, the "
                 "gradient-descent update of every weight, and a training run of k updates "
                 "driven by your own functions."),
        notation={"x_t": "input at step t", "s_t": "first layer's state at step t",
                  "z_t": "second layer's state at step t", "y_t": "output at step t",
                  "U": "input-to-s weights", "W1": "s-to-s weights", "b1": "s bias",
                  "V1": "s-to-z weights", "W2": "z-to-z weights", "b2": "z bias",
                  "V2": "z-to-output weights", "c": "output bias",
                  "a_t": "s's pre-activation x_t U + s_{t-1} W1 + b1",
                  "h_t": "z's pre-activation s_t V1 + z_{t-1} W2 + b2",
                  "δ^s_t, δ^z_t": "the gradients at a_t and h_t",
                  "E_t": "squared error at step t", "α": "learning rate"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("linear", "mse"), ("sigmoid", "mse")),
            "n_in": (2, 3, 4), "n_hidden": (3, 4, 5), "n_hidden2": (2, 3, 4, 5),
            "n_out": (2, 3), "T": (4, 5, 6), "N": (2, 3), "lr": (0.05, 0.1, 0.2),
            "k_updates": (3, 4, 5),
        },
        stages=stages,
        solution_module="exercises.solutions.two_layer",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W_1 + b_1)",
                   r"z_t = \varphi(s_t V_1 + z_{t-1} W_2 + b_2)",
                   r"y_t = g(z_t V_2 + c)",
                   r"E_t = \frac{1}{N}\sum_{n=1}^{N} \lVert y_{nt} - d_{nt} \rVert^2"),
    )


EXERCISE = build()
