"""Exercise `bidirectional`: the bidirectional RNN of seed 002, its two nets, output and BPTT.

Notation of seed 002 with row vectors and a batch of N sequences of T steps:
x_t ∈ ℝⁿ, f_t, r_t ∈ ℝᵈ, y_t ∈ ℝᵏ, Uf, Ub ∈ ℝ^{n×d}, Wf, Wb ∈ ℝ^{d×d},
Vf, Vb ∈ ℝ^{d×k}:

    f_t = φ(x_t Uf + f_{t-1} Wf + bf)      forward in time, from f0 before x_0
    r_t = φ(x_t Ub + r_{t+1} Wb + bb)      backward in time, from r0 after x_{T-1}
    y_t = g(f_t Vf + r_t Vb + c)

BPTT runs from t = T−1 down to 0 for the forward net and from t = 0 up to T−1
for the backward net ("separately perform back propagation on both nets").
The right answers come from the reference; the bugs of the backward pass run
the elman exercise's buggy BPTT on each net (the backward net on the reversed
sequence, as the reference does), one mistake at a time.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import reference as ref
from exercises.corrections import derivative_through_state
from exercises.elman import buggy_bptt, random_states, random_targets, saturating
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
from reference import activations
from reference.bidirectional import reversed_in_time
from reference.network import as_injection, band_total, output_layer_grads
from reference.recurrence import layer_backward, layer_forward

# -- data for the probes ----------------------------------------------------------------


def random_model(variant: Variant, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uf, Wf, bf, Ub, Wb, bb, Vf, Vb, c at a scale where φ is neither saturated nor linear."""
    model = ref.Bidirectional(variant.n_in, variant.n_hidden, variant.n_out)
    return {key: rng.normal(0.0, 0.6, shape) for key, shape in model.param_shapes().items()}


def random_sequence(variant: Variant, rng: np.random.Generator, p):
    """x, non-zero f0 and r0, and both nets' forward states from them."""
    N, T, n, d = variant.N, variant.T, variant.n_in, variant.n_hidden
    x = rng.normal(size=(N, T, n))
    f0, r0 = random_states(variant, rng, (N, d)), random_states(variant, rng, (N, d))
    f = solve_forward_net(variant, x, f0, p["Uf"], p["Wf"], p["bf"])
    r = solve_backward_net(variant, x, r0, p["Ub"], p["Wb"], p["bb"])
    return x, f0, r0, f, r


# -- the right answers, in the student's signatures ---------------------------------------


def _phi(variant):
    return activations.hidden(variant.activation)


def solve_forward_net(variant, x, f0, Uf, Wf, bf):
    return layer_forward(x, f0, Uf, Wf, bf, _phi(variant))


def solve_backward_net(variant, x, r0, Ub, Wb, bb):
    return reversed_in_time(layer_forward(reversed_in_time(x), r0, Ub, Wb, bb, _phi(variant)))


def solve_output(variant, f, r, Vf, Vb, c):
    return activations.output(variant.output).apply(f @ Vf + r @ Vb + c)


def solve_backward(variant, do, x, f0, r0, f, r, Uf, Wf, Ub, Wb, Vf, Vb):
    phi = _phi(variant)
    dVf, dc = output_layer_grads(f, do)
    dVb, _ = output_layer_grads(r, do)
    dUf, dWf, dbf, dx_f, df0 = layer_backward(as_injection(do @ Vf.T), x, f, f0, Uf, Wf, phi)
    dUb, dWb, dbb, dx_r, dr0 = layer_backward(
        as_injection(reversed_in_time(do @ Vb.T)), reversed_in_time(x), reversed_in_time(r), r0,
        Ub, Wb, phi)
    return {"Uf": dUf, "Wf": dWf, "bf": dbf, "Ub": dUb, "Wb": dWb, "bb": dbb, "Vf": dVf,
            "Vb": dVb, "c": dc,
            "x": band_total(dx_f) + reversed_in_time(band_total(dx_r)), "f0": df0, "r0": dr0}


PARAMETERS = ("Uf", "Wf", "bf", "Ub", "Wb", "bb", "Vf", "Vb", "c")
BIASES = ("bf", "bb", "c")


def solve_sgd(variant, params, grads, lr):
    return ref.sgd(params, grads, lr)


def sized_model(variant: Variant, params) -> ref.Bidirectional:
    """The network with the parameters' sizes (a probe's, which need not be the variant's)."""
    (n, d), k = np.shape(params["Uf"]), np.shape(params["Vf"])[1]
    return ref.Bidirectional(n, d, k, activation=variant.activation, output=variant.output,
                             objective=variant.objective)


def solve_train(variant, params, x, f0, r0, d, lr, k_updates):
    return trajectory(sized_model(variant, params), params, x, d, lr, k_updates, f0=f0, r0=r0)


def training_loss(variant, kwargs, weights) -> float:
    """L(θ) of the run's batch at the weights θ: the loss curve's points."""
    return sized_model(variant, weights).loss(weights, kwargs["x"], kwargs["d"],
                                              f0=kwargs["f0"], r0=kwargs["r0"])


def training_example(variant: Variant, rng: np.random.Generator) -> dict:
    """Inputs of a training run: random weights, a batch, non-zero f0 and r0, α and k.

    Weights and inputs are half the other probes' scale, and α the variant's, halved
    until every update brings the loss down (`descending_rate`)."""
    N, T, n, d = variant.N, variant.T, variant.n_in, variant.n_hidden
    params = {key: value / 2 for key, value in random_model(variant, rng).items()}
    x = rng.normal(0.0, 0.5, (N, T, n))
    initial = {"f0": random_states(variant, rng, (N, d)), "r0": random_states(variant, rng, (N, d))}
    targets, k = random_targets(variant, rng, N, T), variant.get("k_updates", 4)
    lr = descending_rate(sized_model(variant, params), params, x, targets, variant.lr, k,
                         **initial)
    return {"params": params, "x": x, **initial, "d": targets, "lr": lr, "k_updates": k}


# -- the bugs -------------------------------------------------------------------------------


def buggy_sgd(variant, params, grads, lr, *, bug):
    return wrong_update(params, grads, lr, bug=bug, biases=BIASES)   # BIASES: bf, bb and c


def buggy_train(variant, params, x, f0, r0, d, lr, k_updates, *, bug):
    return buggy_trajectory(sized_model(variant, params), params, x, d, lr, k_updates, bug=bug,
                            biases=BIASES, f0=f0, r0=r0)



def buggy_forward_net(variant, x, f0, Uf, Wf, bf, *, bug):
    if bug == "initial-state-ignored":
        f0 = np.zeros_like(f0)
    if bug == "weight-transposed-forward":
        Wf = Wf.T
    return solve_forward_net(variant, x, f0, Uf, Wf, bf)


def buggy_backward_net(variant, x, r0, Ub, Wb, bb, *, bug):
    if bug == "forward-in-time":        # r_t = φ(x_t Ub + r_{t-1} Wb + bb), from r0 at the start
        return layer_forward(x, r0, Ub, Wb, bb, _phi(variant))
    if bug == "not-reversed-back":      # run on the reversed sequence, left in that order
        return layer_forward(reversed_in_time(x), r0, Ub, Wb, bb, _phi(variant))
    if bug == "initial-state-ignored":
        r0 = np.zeros_like(r0)
    if bug == "weight-transposed-forward":
        Wb = Wb.T
    return solve_backward_net(variant, x, r0, Ub, Wb, bb)


def output_reversed_r(variant, f, r, Vf, Vb, c):
    """y_t from f_t and r_{T-1-t}: the backward net's states taken in the order computed."""
    return solve_output(variant, f, reversed_in_time(r), Vf, Vb, c)


def buggy_backward(variant, do, x, f0, r0, f, r, Uf, Wf, Ub, Wb, Vf, Vb, *, bug):
    """Each net through the elman exercise's buggy BPTT, the same mistake in both;
    `bidirectional-not-reversed`: the backward net backpropagated as a forward-in-time net."""
    dVf, dc = output_layer_grads(f, do)
    dVb, _ = output_layer_grads(r, do)
    dx_f, df0, dUf, dWf, dbf = buggy_bptt(variant, do @ Vf.T, x, f0, f, Uf, Wf, bug=bug)
    if bug == "bidirectional-not-reversed":
        dx_r, dr0, dUb, dWb, dbb = buggy_bptt(variant, do @ Vb.T, x, r0, r, Ub, Wb, bug="none")
    else:
        dx_r, dr0, dUb, dWb, dbb = buggy_bptt(
            variant, reversed_in_time(do @ Vb.T), reversed_in_time(x), r0, reversed_in_time(r),
            Ub, Wb, bug=bug)
        dx_r = reversed_in_time(dx_r)
    return {"Uf": dUf, "Wf": dWf, "bf": dbf, "Ub": dUb, "Wb": dWb, "bb": dbb, "Vf": dVf,
            "Vb": dVb, "c": dc, "x": dx_f + dx_r, "f0": df0, "r0": dr0}


# -- the probes -------------------------------------------------------------------------


def probes_forward_net(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("forward_net")
    p = random_model(v, rng)
    x = rng.normal(size=(v.N, v.T, v.n_in))
    weights = {"Uf": p["Uf"], "Wf": p["Wf"], "bf": p["bf"]}
    return [
        Probe(name="zero initial state",
              kwargs={"x": x, "f0": np.zeros((v.N, v.n_hidden)), **weights},
              purpose="f_0 … f_{T-1} from f_{-1} = 0", time_axis={"f": 1}),
        Probe(name="non-zero initial state",
              kwargs={"x": x, "f0": rng.normal(size=(v.N, v.n_hidden)), **weights},
              purpose="the first step must use the given f0", time_axis={"f": 1}),
    ]


def probes_backward_net(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("backward_net")
    p = random_model(v, rng)
    x = rng.normal(size=(v.N, v.T, v.n_in))
    weights = {"Ub": p["Ub"], "Wb": p["Wb"], "bb": p["bb"]}
    return [
        Probe(name="zero initial state",
              kwargs={"x": x, "r0": np.zeros((v.N, v.n_hidden)), **weights},
              purpose="r_{T-1} … r_0 from r_T = 0, backward in time", time_axis={"r": 1}),
        Probe(name="non-zero initial state",
              kwargs={"x": x, "r0": rng.normal(size=(v.N, v.n_hidden)), **weights},
              purpose="the step at t = T−1 must use the given r0", time_axis={"r": 1}),
    ]


def probes_output(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("birnn_output")
    p = random_model(v, rng)
    shape = (v.N, v.T, v.n_hidden)
    return [Probe(name="states of both nets",
                  kwargs={"f": random_states(v, rng, shape), "r": random_states(v, rng, shape),
                          "Vf": p["Vf"], "Vb": p["Vb"], "c": p["c"]},
                  purpose="y_t = g(f_t Vf + r_t Vb + c): both states of the same step t",
                  time_axis={"y": 1})]


def probes_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("birnn_backward")
    p = random_model(v, rng)
    x, f0, r0, f, r = random_sequence(v, rng, p)
    N, T, k = v.N, v.T, v.n_out
    weights = {key: p[key] for key in ("Uf", "Wf", "Ub", "Wb", "Vf", "Vb")}
    middle = T // 2
    one_step = only_at_step(rng.normal(size=(N, k)), t=middle, T=T)
    time_axis = {"x": 1}
    return [
        Probe(name="forward states, non-zero f0 and r0",
              kwargs={"do": rng.normal(size=(N, T, k)), "x": x, "f0": f0, "r0": r0, "f": f, "r": r,
                      **weights},
              purpose="BPTT through both nets with the reference's forward states",
              time_axis=time_axis, repeat=True),
        Probe(name=f"gradient at t = {middle} only",
              kwargs={"do": one_step, "x": x, "f0": f0, "r0": r0, "f": f, "r": r, **weights},
              purpose=f"the forward net's gradient must reach t < {middle} and the backward net's "
                      f"t > {middle}",
              time_axis=time_axis),
        Probe(name="states not φ of anything",
              kwargs={"do": rng.normal(size=(N, T, k)), "x": x, "f0": f0, "r0": r0,
                      "f": random_states(v, rng, f.shape), "r": random_states(v, rng, r.shape),
                      **weights},
              purpose="φ' must come from the states as given", time_axis=time_axis),
    ]


def probes_sgd(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("birnn_sgd_update")
    params = random_model(v, rng)
    grads = {key: rng.normal(size=value.shape) for key, value in params.items()}
    extra = {"x": rng.normal(size=(v.N, v.T, v.n_in)), "f0": rng.normal(size=(v.N, v.n_hidden)),
             "r0": rng.normal(size=(v.N, v.n_hidden))}
    return [Probe(name="one update", kwargs={"params": params, "grads": grads, "lr": v.lr},
                  purpose="θ ← θ − α ∇θ for all nine weights"),
            Probe(name="gradients with the inputs' and initial states' too",
                  kwargs={"params": params, "lr": v.lr,
                          "grads": {**{key: rng.normal(size=value.shape)
                                       for key, value in params.items()}, **extra}},
                  purpose="birnn_backward's dict also holds x, f0 and r0: only the weights "
                          "are updated")]


TRAJECTORY = {key: 0 for key in PARAMETERS}


def probes_train(instance: Instance) -> list[Probe]:
    kwargs = training_example(instance.variant, instance.probe_rng("birnn_train"))
    return [Probe(name=f"{kwargs['k_updates']} updates from non-zero f0 and r0", kwargs=kwargs,
                  purpose="the weights after every update, each gradient at the weights the "
                          "last update left", time_axis=TRAJECTORY, step_label="update",
                  repeat=True)]


# -- the exercise ------------------------------------------------------------------------


DERIVATIVE = derivative_through_state("f_t", "r_t")
UPDATE = r"\Delta\theta = -\alpha\nabla_\theta L"
REVERSED = (r"\frac{\partial L}{\partial r_t} = \frac{\partial L}{\partial o_t} V_b^\top "
            r"+ \delta^r_{t-1} W_b^\top,\ \nabla_{W_b} L = \sum_t r_{t+1}^\top \delta^r_t"
            r"\quad (t = 0 \to T-1)")
BACKWARD_BUGS = {
    "bidirectional-not-reversed": REVERSED,
    "recurrent-term-dropped":
        r"\frac{\partial L}{\partial f_t} = \frac{\partial L}{\partial o_t} V_f^\top "
        r"+ \delta^f_{t+1} W_f^\top,\ \frac{\partial L}{\partial r_t} = "
        r"\frac{\partial L}{\partial o_t} V_b^\top + \delta^r_{t-1} W_b^\top",
    "overwrite-not-accumulate":
        r"\nabla_{W_f} L = \sum_t f_{t-1}^\top \delta^f_t,\ "
        r"\nabla_{W_b} L = \sum_t r_{t+1}^\top \delta^r_t",
    "weight-not-transposed":
        r"\frac{\partial L}{\partial f_{t-1}} = \frac{\partial L}{\partial o_{t-1}} V_f^\top "
        r"+ \delta^f_t W_f^\top,\ \frac{\partial L}{\partial r_{t+1}} = "
        r"\frac{\partial L}{\partial o_{t+1}} V_b^\top + \delta^r_t W_b^\top",
    "initial-state-ignored":
        r"\nabla_{W_f} L \mathrel{+}= f_{\text{init}}^\top \delta^f_0,\ "
        r"\nabla_{W_b} L \mathrel{+}= r_{\text{init}}^\top \delta^r_{T-1}",
    "derivative-at-preactivation": DERIVATIVE,
    "wrong-activation-derivative": DERIVATIVE,
    "off-by-one-previous-state":
        r"\nabla_{W_f} L = \sum_t f_{t-1}^\top \delta^f_t,\ "
        r"\nabla_{W_b} L = \sum_t r_{t+1}^\top \delta^r_t",
    "bias-not-summed":
        r"\nabla_{b_f} L = \sum_t \sum_n \delta^f_{t,n},\ \nabla_{b_b} L = \sum_t \sum_n "
        r"\delta^r_{t,n}",
}


APPLIES = {"derivative-at-preactivation": saturating}
GRADIENTS = ("Uf", "Wf", "bf", "Ub", "Wb", "bb", "Vf", "Vb", "c", "x", "f0", "r0")


def output_logits(f, r, Vf, Vb, c):
    """o_t = f_t Vf + r_t Vb + c: the output before g, (N, T, k), from f, r (N, T, d).

    What the backward stage's `do` is the gradient at (its `GradientOf` head): plain
    numpy, so that the notebook's self-check can run it too.
    """
    return f @ Vf + r @ Vb + c


def build() -> Exercise:
    """The `bidirectional` exercise."""

    stages = (
        Stage(name="forward_net", title="The forward net", points=1,
              inputs=("x", "f0", "Uf", "Wf", "bf"), outputs=("f",),
              docstring="f_t = φ(x_t Uf + f_{t-1} Wf + bf) for t = 0 … T−1, "
                        "from f0 (the state before\n"
                        "x_0).\n\n"
                        "x: (N, T, n), f0: (N, d), Uf: (n, d), Wf: (d, d), bf: (d,). "
                        "Returns f: (N, T, d).",
              solve=solve_forward_net, probes=probes_forward_net,
              bugs=bugs_from(buggy_forward_net, {
                  "initial-state-ignored": r"f_0 = \varphi(x_0 U_f + f_{\text{init}} W_f + b_f)",
                  "weight-transposed-forward": r"f_t = \varphi(x_t U_f + f_{t-1} W_f + b_f)"})),
        Stage(name="backward_net", title="The backward-in-time net", points=2,
              inputs=("x", "r0", "Ub", "Wb", "bb"), outputs=("r",),
              docstring="r_t = φ(x_t Ub + r_{t+1} Wb + bb) for t = T−1 down to 0, "
                        "from r0 (the state\n"
                        "after the last input x_{T-1}). r[:, t] is r_t, in the order of time.\n\n"
                        "x: (N, T, n), r0: (N, d), Ub: (n, d), Wb: (d, d), bb: (d,). "
                        "Returns r: (N, T, d).",
              solve=solve_backward_net, probes=probes_backward_net,
              bugs=(Bug(misconception="bidirectional-not-reversed",
                        implementation=partial(buggy_backward_net, bug="forward-in-time"),
                        correction=r"r_t = \varphi(x_t U_b + r_{t+1} W_b + b_b),\ t = T-1 \to 0"),
                    Bug(misconception="bidirectional-not-reversed",
                        implementation=partial(buggy_backward_net, bug="not-reversed-back"),
                        correction=r"r[:, t] = r_t = \varphi(x_t U_b + r_{t+1} W_b + b_b)"),
                    *bugs_from(buggy_backward_net, {
                        "initial-state-ignored":
                            r"r_{T-1} = \varphi(x_{T-1} U_b + r_{\text{init}} W_b + b_b)",
                        "weight-transposed-forward":
                            r"r_t = \varphi(x_t U_b + r_{t+1} W_b + b_b)"})),
              depends_on=("forward_net",)),
        Stage(name="birnn_output", title="The output from both nets", points=1,
              inputs=("f", "r", "Vf", "Vb", "c"), outputs=("y",),
              docstring="y_t = g(f_t Vf + r_t Vb + c): both nets' states of the same step t.\n\n"
                        "f, r: (N, T, d), Vf, Vb: (d, k), c: (k,). Returns y: (N, T, k).",
              solve=solve_output, probes=probes_output,
              bugs=(Bug(misconception="bidirectional-not-reversed",
                        implementation=output_reversed_r,
                        correction=r"y_t = g(f_t V_f + r_t V_b + c)"),)),
        Stage(name="birnn_backward", title="BPTT through both nets", points=4,
              inputs=("do", "x", "f0", "r0", "f", "r", "Uf", "Wf", "Ub", "Wb", "Vf", "Vb"),
              outputs=GRADIENTS,
              docstring="BPTT through both nets given dL/do_t at every step "
                        "(o_t = f_t Vf + r_t Vb + c,\n"
                        "the output before g): from t = T−1 down to 0 for the forward net, "
                        "from t = 0\n"
                        "up to T−1 for the backward net.\n\n"
                        "do: (N, T, k), x: (N, T, n), f0, r0: (N, d), "
                        "f, r: (N, T, d) the forward states,\n"
                        "Uf, Ub: (n, d), Wf, Wb: (d, d), Vf, Vb: (d, k).\n"
                        "Returns a dict of gradients dL/d· with keys "
                        "Uf, Ub (n, d), Wf, Wb (d, d),\n"
                        "bf, bb (d,), Vf, Vb (d, k), c (k,), x (N, T, n), f0 (N, d), r0 (N, d).",
              solve=solve_backward, probes=probes_backward,
              bugs=bugs_from(buggy_backward, BACKWARD_BUGS, applies=APPLIES),
              gradient_of=GradientOf(forwards=("forward_net", "backward_net"),
                                     head=output_logits, upstream="do",
                                     wrt={name: name for name in GRADIENTS})),
        Stage(name="birnn_sgd_update", title="The gradient-descent update of every weight",
              points=1, inputs=("params", "grads", "lr"), outputs=PARAMETERS,
              docstring="ΔW = −α ∇_W L for every weight Uf, Wf, bf, Ub, Wb, bb, Vf, Vb, c.\n\n"
                        "params: dict of the nine weights; grads: dict of their gradients "
                        "(it may hold more\n"
                        "keys, as birnn_backward's does: x, f0, r0); lr: the rate α.\n"
                        "Returns a new dict of the nine updated weights "
                        "(do not change params in place).",
              solve=solve_sgd, probes=probes_sgd,
              bugs=bugs_from(buggy_sgd, {
                  "update-wrong-sign": UPDATE, "update-applied-twice": UPDATE,
                  "update-weight-skipped":
                      UPDATE + r"\ \text{for } U_f, W_f, b_f, U_b, W_b, b_b, V_f, V_b, c"})),
        Stage(name="birnn_train", title="Training by your own functions", points=2,
              inputs=("params", "x", "f0", "r0", "d", "lr", "k_updates"), outputs=PARAMETERS,
              docstring="k_updates steps of gradient descent on the whole batch, "
                        "θ_{i+1} = θ_i − α ∇_θ L(θ_i)\n"
                        "for i = 0, 1, …: each by your forward_net, backward_net, birnn_output, "
                        "birnn_backward\n"
                        "(given dL/do_t, which you compute from y_t and d_t for your loss) "
                        "and birnn_sgd_update,\n"
                        "each gradient at the weights the last update left.\n\n"
                        "params: dict of the nine weights θ_0 (shapes as in birnn_backward).\n"
                        "x: (N, T, n), f0, r0: (N, d), d: the targets, lr: the rate α, "
                        "k_updates: an int.\n"
                        "Returns a dict of the weights after every update, each stacked on a "
                        "first axis:\n"
                        "Uf (k_updates, n, d), Wf (k_updates, d, d), …, c (k_updates, k). "
                        "Do not change params in place.",
              solve=solve_train, probes=probes_train,
              bugs=training_bugs(buggy_train, "U_f, W_f, b_f, U_b, W_b, b_b, V_f, V_b, c",
                                 "b_f, b_b, c"),
              training=Training(loss=training_loss, example=training_example),
              demo="notebook/loss_plot.py.j2",
              depends_on=("forward_net", "backward_net", "birnn_output", "birnn_backward",
                          "birnn_sgd_update")),
    )
    return Exercise(
        id="bidirectional",
        title="A bidirectional RNN and its backpropagation through time",
        seed="002",
        summary=("A forward net reads the sequence from t = 0 to T−1, a backward net reads it "
                 "from T−1 down to 0, and the output at every step uses both states. You will "
                 "write both nets, the output, BPTT through both nets, which runs in "
                 "opposite directions, the gradient-descent update of every weight, and a "
                 "training run of k updates driven by your own functions."),
        notation={"x_t": "input at step t", "f_t": "forward net's state at step t",
                  "r_t": "backward net's state at step t", "y_t": "output at step t",
                  "Uf": "input-to-f weights", "Wf": "f-to-f weights", "bf": "f bias",
                  "Ub": "input-to-r weights", "Wb": "r-to-r weights", "bb": "r bias",
                  "Vf": "f-to-output weights", "Vb": "r-to-output weights",
                  "c": "output bias",
                  "δ^f_t, δ^r_t": "the gradients at the pre-activations of f_t and r_t"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("linear", "mse"), ("softmax", "ce"), ("sigmoid", "bce"), ("tanh", "mse")),
            "n_in": (2, 3, 4), "n_hidden": (3, 4, 5), "n_out": (2, 3, 4),
            "T": (4, 5, 6), "N": (2, 3), "lr": (0.05, 0.1, 0.2), "k_updates": (3, 4, 5),
        },
        stages=stages,
        solution_module="exercises.solutions.bidirectional",
        equations=(r"f_t = \varphi(x_t U_f + f_{t-1} W_f + b_f)",
                   r"r_t = \varphi(x_t U_b + r_{t+1} W_b + b_b)",
                   r"y_t = g(f_t V_f + r_t V_b + c)"),
    )


EXERCISE = build()
