"""Exercise `elman`: the Elman network of seeds 003/004, forward, BPTT and the SGD update.

Notation of seed 004: x_t ∈ ℝⁿ, s_t ∈ ℝᵈ, y_t ∈ ℝᵏ, U ∈ ℝ^{n×d}, W ∈ ℝ^{d×d},
V ∈ ℝ^{d×k}, with row vectors and a batch of N sequences of T steps:

    s_t = φ(x_t U + s_{t-1} W + b),   y_t = g(s_t V + c),   L = (1/N) Σ_n Σ_t ℓ(y_t, d_t)

The right answers come from the reference; the bugs are a small BPTT written
here in plain numpy with one mistake switched on at a time.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import reference as ref
from exercises.corrections import derivative_through_state, output_delta
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
from reference.recurrence import layer_backward, layer_forward, step_backward, step_forward

# -- data for the probes ----------------------------------------------------------------


def random_model(variant: Variant, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Parameters U, W, b, V, c at a scale where φ is neither saturated nor linear."""
    model = ref.Elman(variant.n_in, variant.n_hidden, variant.n_out)
    return {key: rng.normal(0.0, 0.6, shape) for key, shape in model.param_shapes().items()}


def random_states(variant: Variant, rng: np.random.Generator, shape) -> np.ndarray:
    """States drawn from φ's range that need not be φ of anything."""
    if variant.activation == "tanh":
        return rng.uniform(-0.95, 0.95, shape)
    if variant.activation == "sigmoid":
        return rng.uniform(0.05, 0.95, shape)
    if variant.activation == "relu":
        return np.where(rng.uniform(size=shape) < 0.3, 0.0, rng.uniform(0.05, 2.0, shape))
    return rng.normal(0.0, 1.0, shape)


def random_targets(variant: Variant, rng: np.random.Generator, N: int, T: int):
    """Targets of the variant's loss: class indices (ce), values in [0, 1] (bce), reals (mse)."""
    if variant.objective == "ce":
        return rng.integers(0, variant.n_out, (N, T))
    if variant.objective == "bce":
        return rng.uniform(0.0, 1.0, (N, T, variant.n_out))
    return rng.normal(0.0, 1.0, (N, T, variant.n_out))


# -- the right answers, in the student's signatures ---------------------------------------


def saturating(variant) -> bool:
    """Whether φ(φ(s)) differs from φ(s), so φ' taken at φ(s) is a visible mistake."""
    return variant.activation in ("tanh", "sigmoid")


def _phi(variant):
    return activations.hidden(variant.activation)


def solve_phi_prime(variant, s):
    return _phi(variant).derivative_from_state(s)


def solve_step_forward(variant, x_t, s_prev, U, W, b):
    return step_forward(x_t, s_prev, U, W, b, _phi(variant))


def solve_forward(variant, x, s0, U, W, b):
    return layer_forward(x, s0, U, W, b, _phi(variant))


def solve_output_backward(variant, s, V, c, d, *, over_time=False, sign=1.0, elementwise=False):
    g = activations.output(variant.output)
    o = s @ V + c
    y = g.apply(o)
    targets = np.eye(V.shape[1])[d] if variant.objective == "ce" else d
    N = s.shape[0]
    if elementwise:  # softmax treated as a scalar activation: dL/dy ⊙ y(1 − y)
        if variant.objective == "ce":
            dy = -targets / y
        else:
            dy = 2.0 * (y - targets)
        delta = dy * y * (1.0 - y) / N
    else:
        delta = losses.output_delta(variant.objective, g, o, y, targets) / N
    if over_time:  # averaged over time as well as over the batch
        delta = delta / s.shape[1]
    delta = sign * delta
    dV, dc = output_layer_grads(s, delta)
    return dV, dc, delta @ V.T


def solve_step_backward(variant, ds, x_t, s_prev, s_t, U, W):
    return step_backward(ds, x_t, s_prev, s_t, U, W, _phi(variant))


def solve_backward(variant, ds_out, x, s0, s, U, W):
    dU, dW, db, dx, ds0 = layer_backward(as_injection(ds_out), x, s, s0, U, W, _phi(variant))
    return band_total(dx), ds0, dU, dW, db


def solve_sgd(variant, params, grads, lr):
    return ref.sgd(params, grads, lr)


def model_of(variant: Variant, params) -> ref.Elman:
    """The network with the parameters' sizes (a probe's, which need not be the variant's)."""
    (n, d), k = np.shape(params["U"]), np.shape(params["V"])[1]
    return ref.Elman(n, d, k, activation=variant.activation, output=variant.output,
                     objective=variant.objective)


def solve_train(variant, params, x, s0, d, lr, k_updates):
    return trajectory(model_of(variant, params), params, x, d, lr, k_updates, s0=s0)


def training_loss(variant, kwargs, weights) -> float:
    """L(θ) of the run's batch at the weights θ: the loss curve's points."""
    return model_of(variant, weights).loss(weights, kwargs["x"], kwargs["d"], s0=kwargs["s0"])


def training_example(variant: Variant, rng: np.random.Generator) -> dict:
    """Inputs of a training run: random weights, a batch, a non-zero s_0, the rate α, k.

    Weights and inputs are half the other probes' scale, and α the variant's, halved
    until every update brings the loss down (`descending_rate`)."""
    N, T, n, d, _ = variant.sizes
    params = {key: value / 2 for key, value in random_model(variant, rng).items()}
    x, s0 = rng.normal(0.0, 0.5, (N, T, n)), random_states(variant, rng, (N, d))
    targets, k = random_targets(variant, rng, N, T), variant.get("k_updates", 4)
    lr = descending_rate(model_of(variant, params), params, x, targets, variant.lr, k, s0=s0)
    return {"params": params, "x": x, "s0": s0, "d": targets, "lr": lr, "k_updates": k}


# -- the bugs -------------------------------------------------------------------------------


def wrong_derivative(variant, s, *, mistake):
    """φ'(s) with a mistake: `at-preactivation` applies φ again, `other` uses another φ."""
    if mistake == "at-preactivation":
        return _phi(variant).derivative_from_state(_phi(variant).apply(s))
    other = {"tanh": "sigmoid", "sigmoid": "tanh", "relu": "tanh", "identity": "tanh"}
    return activations.hidden(other[variant.activation]).derivative_from_state(s)


def buggy_bptt(variant, ds_out, x, s0, s, U, W, *, bug):
    """rnn_backward written out, with one misconception switched on by id."""
    N, T, _ = x.shape
    dx = np.zeros_like(x)
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    ds_next = np.zeros_like(s0)
    for t in reversed(range(T)):
        s_prev = s[:, t - 1] if t > 0 else (np.zeros_like(s0) if bug == "initial-state-ignored"
                                            else s0)
        if bug == "off-by-one-previous-state":
            s_prev = s[:, t]
        from_output = ds_out[:, t] if (bug != "output-gradient-left-out" or t == T - 1) else 0.0
        ds = from_output + (0.0 if bug == "recurrent-term-dropped" else ds_next)
        if bug == "derivative-at-preactivation":
            da = ds * wrong_derivative(variant, s[:, t], mistake="at-preactivation")
        elif bug == "wrong-activation-derivative":
            da = ds * wrong_derivative(variant, s[:, t], mistake="other")
        else:
            da = ds * _phi(variant).derivative_from_state(s[:, t])
        dx[:, t] = da @ U.T
        ds_next = da @ W if bug == "weight-not-transposed" else da @ W.T
        db_t = da.mean(axis=0) if bug == "bias-not-summed" else da.sum(axis=0)
        if bug == "overwrite-not-accumulate":
            dU, dW, db = x[:, t].T @ da, s_prev.T @ da, db_t
        else:
            dU, dW, db = dU + x[:, t].T @ da, dW + s_prev.T @ da, db + db_t
    return dx, ds_next, dU, dW, db


def step_forward_untransposed(variant, x_t, s_prev, U, W, b):
    """s_{t-1} Wᵀ: the recurrent weight used the wrong way round."""
    return solve_step_forward(variant, x_t, s_prev, U, W.T, b)


def buggy_step_backward(variant, ds, x_t, s_prev, s_t, U, W, *, bug):
    """rnn_step_backward with one misconception switched on by id."""
    if bug == "derivative-at-preactivation":
        da = ds * wrong_derivative(variant, s_t, mistake="at-preactivation")
    elif bug == "wrong-activation-derivative":
        da = ds * wrong_derivative(variant, s_t, mistake="other")
    else:
        da = ds * _phi(variant).derivative_from_state(s_t)
    ds_prev = da @ W if bug == "weight-not-transposed" else da @ W.T
    dW = (s_t if bug == "off-by-one-previous-state" else s_prev).T @ da
    db = da.mean(axis=0) if bug == "bias-not-summed" else da.sum(axis=0)
    return da @ U.T, ds_prev, x_t.T @ da, dW, db


def buggy_forward(variant, x, s0, U, W, b, *, bug):
    if bug == "initial-state-ignored":
        s0 = np.zeros_like(s0)
    if bug == "weight-transposed-forward":
        W = W.T
    return layer_forward(x, s0, U, W, b, _phi(variant))


def buggy_sgd(variant, params, grads, lr, *, bug):
    return wrong_update(params, grads, lr, bug=bug, biases=BIASES)   # BIASES: b and c


BIASES = ("b", "c")


def buggy_train(variant, params, x, s0, d, lr, k_updates, *, bug):
    return buggy_trajectory(model_of(variant, params), params, x, d, lr, k_updates, bug=bug,
                            biases=BIASES, s0=s0)


# -- the probes -------------------------------------------------------------------------


def probes_phi_prime(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("phi_prime")
    N, T, _, d, _ = v.sizes
    return [Probe(name="states from φ's range", kwargs={"s": random_states(v, rng, (N, T, d))},
                  purpose="φ'(a) written through the state s = φ(a)")]


def probes_step_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("rnn_step_forward")
    N, _, n, d, _ = v.sizes
    p = random_model(v, rng)
    return [Probe(name="one step",
                  kwargs={"x_t": rng.normal(size=(N, n)), "s_prev": rng.normal(size=(N, d)),
                          "U": p["U"], "W": p["W"], "b": p["b"]},
                  purpose="s_t = φ(x_t U + s_{t-1} W + b) with a non-zero previous state")]


def probes_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("rnn_forward")
    N, T, n, d, _ = v.sizes
    p = random_model(v, rng)
    x = rng.normal(size=(N, T, n))
    weights = {"U": p["U"], "W": p["W"], "b": p["b"]}
    return [
        Probe(name="zero initial state", kwargs={"x": x, "s0": np.zeros((N, d)), **weights},
              purpose="the whole sequence from s_0 = 0", time_axis={"s": 1}),
        Probe(name="non-zero initial state",
              kwargs={"x": x, "s0": rng.normal(size=(N, d)), **weights},
              purpose="the first step must use the given s_0", time_axis={"s": 1}),
    ]


def probes_output_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("output_backward")
    N, T, _, d, _ = v.sizes
    p = random_model(v, rng)
    return [Probe(name="random states and targets",
                  kwargs={"s": random_states(v, rng, (N, T, d)), "V": p["V"], "c": p["c"],
                          "d": random_targets(v, rng, N, T)},
                  purpose="dL/dV, dL/dc and the gradient reaching each s_t from y_t",
                  time_axis={"ds": 1})]


def probes_step_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("rnn_step_backward")
    N, _, n, d, _ = v.sizes
    p = random_model(v, rng)
    return [Probe(name="one step, states not φ of anything",
                  kwargs={"ds": rng.normal(size=(N, d)), "x_t": rng.normal(size=(N, n)),
                          "s_prev": random_states(v, rng, (N, d)),
                          "s_t": random_states(v, rng, (N, d)), "U": p["U"], "W": p["W"]},
                  purpose="φ' must come from s_t as given")]


def probes_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("rnn_backward")
    N, T, n, d, _ = v.sizes
    p = random_model(v, rng)
    x = rng.normal(size=(N, T, n))
    s0 = rng.normal(size=(N, d))
    s = layer_forward(x, s0, p["U"], p["W"], p["b"], _phi(v))
    last_only = only_at_step(rng.normal(size=(N, d)), t=-1, T=T)
    time_axis = {"dx": 1}
    weights = {"U": p["U"], "W": p["W"]}
    return [
        Probe(name="forward states, non-zero s_0",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), "x": x, "s0": s0, "s": s, **weights},
              purpose="full BPTT with the reference's forward states", time_axis=time_axis,
              repeat=True),
        Probe(name="gradient at the last step only",
              kwargs={"ds_out": last_only, "x": x, "s0": s0, "s": s, **weights},
              purpose="everything before T must arrive through the recurrence",
              time_axis=time_axis),
        Probe(name="states not φ of anything",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), "x": x, "s0": s0,
                      "s": random_states(v, rng, (N, T, d)), **weights},
              purpose="φ' must come from the states as given", time_axis=time_axis),
    ]


def probes_sgd(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("sgd_update")
    params = random_model(v, rng)
    grads = {key: rng.normal(size=value.shape) for key, value in params.items()}
    return [Probe(name="one update", kwargs={"params": params, "grads": grads, "lr": v.lr},
                  purpose="θ ← θ − α ∇θ for every weight")]


TRAJECTORY = {key: 0 for key in ("U", "W", "b", "V", "c")}


def probes_train(instance: Instance) -> list[Probe]:
    v = instance.variant
    kwargs = training_example(v, instance.probe_rng("rnn_train"))
    return [Probe(name=f"{kwargs['k_updates']} updates from a non-zero s_0", kwargs=kwargs,
                  purpose="the weights after every update, each gradient at the weights the "
                          "last update left", time_axis=TRAJECTORY, step_label="update",
                  repeat=True)]


# -- the exercise ------------------------------------------------------------------------


DERIVATIVE = derivative_through_state("s_t")
BACKWARD_BUGS = {
    "recurrent-term-dropped":
        r"\frac{\partial L}{\partial s_t} = \frac{\partial L}{\partial s_t}\Big|_{y_t} "
        r"+ \delta_{t+1} W^\top",
    "overwrite-not-accumulate": r"\nabla_W L = \sum_t s_{t-1}^\top \delta_t",
    "derivative-at-preactivation": DERIVATIVE,
    "wrong-activation-derivative": DERIVATIVE,
    "off-by-one-previous-state": r"\nabla_W L = \sum_t s_{t-1}^\top \delta_t",
    "initial-state-ignored": r"\nabla_W L \mathrel{+}= s_0^\top \delta_1",
    "weight-not-transposed": r"\frac{\partial L}{\partial s_{t-1}} = \delta_t W^\top",
    "bias-not-summed": r"\nabla_b L = \sum_t \sum_n \delta_{t,n}",
    "output-gradient-left-out":
        r"\frac{\partial L}{\partial s_t} = \frac{\partial L}{\partial s_t}\Big|_{y_t} "
        r"+ \delta_{t+1} W^\top \text{ at every } t",
}
STEP_BUGS = {bug: BACKWARD_BUGS[bug]                 # those one step of BPTT can show
             for bug in ("derivative-at-preactivation", "wrong-activation-derivative",
                         "off-by-one-previous-state", "weight-not-transposed", "bias-not-summed")}
UPDATE = r"\Delta\theta = -\alpha\nabla_\theta L"


APPLIES = {"derivative-at-preactivation": saturating}


def build() -> Exercise:
    """The `elman` exercise."""
    stages = (
        Stage(name="phi_prime", title="The activation's derivative through the state", points=1,
              inputs=("s",), outputs=("dphi",),
              docstring="φ'(a) for the network's activation φ, "
                        "computed from the state s = φ(a).\n\n"
                        "s: (..., d) states. Returns an array of the same shape.",
              solve=solve_phi_prime, probes=probes_phi_prime,
              bugs=(Bug(misconception="derivative-at-preactivation",
                        implementation=partial(wrong_derivative, mistake="at-preactivation"),
                        correction=DERIVATIVE, applies=saturating),
                    Bug(misconception="wrong-activation-derivative",
                        implementation=partial(wrong_derivative, mistake="other"),
                        correction=DERIVATIVE))),
        Stage(name="rnn_step_forward", title="One step forward", points=1,
              inputs=("x_t", "s_prev", "U", "W", "b"), outputs=("s_t",),
              docstring="s_t = φ(x_t U + s_{t-1} W + b).\n\n"
                        "x_t: (N, n), s_prev: (N, d), U: (n, d), W: (d, d), b: (d,). "
                        "Returns s_t: (N, d).",
              solve=solve_step_forward, probes=probes_step_forward,
              bugs=(Bug(misconception="weight-transposed-forward",
                        implementation=step_forward_untransposed,
                        correction=r"s_t = \varphi(x_t U + s_{t-1} W + b)"),)),
        Stage(name="rnn_forward", title="The forward pass over a sequence", points=1,
              inputs=("x", "s0", "U", "W", "b"), outputs=("s",),
              docstring="Every state s_t, t = 0 … T−1, starting from the given initial "
                        "state s0: the state\nbefore the first input x_0 (so s_0 = "
                        "φ(x_0 U + s0 W + b)).\n\n"
                        "x: (N, T, n), s0: (N, d). Returns s: (N, T, d).",
              solve=solve_forward, probes=probes_forward,
              bugs=bugs_from(buggy_forward, {
                  "initial-state-ignored": r"s_0 = \varphi(x_0 U + s_{\text{init}} W + b)",
                  "weight-transposed-forward": r"s_t = \varphi(x_t U + s_{t-1} W + b)"}),
              depends_on=("rnn_step_forward",)),
        Stage(name="output_backward", title="The output layer's gradients", points=2,
              inputs=("s", "V", "c", "d"), outputs=("dV", "dc", "ds"),
              docstring="For y_t = g(s_t V + c) and L = (1/N) Σ_n Σ_t ℓ(y_t, d_t): "
                        "dL/dV, dL/dc and the\n"
                        "gradient dL/ds_t that reaches each state from its own output.\n\n"
                        "s: (N, T, d), V: (d, k), c: (k,), d: targets. "
                        "Returns dV: (d, k), dc: (k,),\n"
                        "ds: (N, T, d).",
              solve=solve_output_backward, probes=probes_output_backward,
              bugs=(Bug(misconception="output-delta-sign",
                        implementation=partial(solve_output_backward, sign=-1.0),
                        correction=output_delta),
                    Bug(misconception="mean-sum-mixed-up",
                        implementation=partial(solve_output_backward, over_time=True),
                        correction=r"L = \frac{1}{N}\sum_n \sum_t \ell(y_{nt}, d_{nt})"),
                    Bug(misconception="softmax-jacobian-elementwise",
                        implementation=partial(solve_output_backward, elementwise=True),
                        correction=r"\frac{\partial y_j}{\partial o_i} = y_j(\delta_{ij} - y_i)",
                        applies=lambda v: v.output == "softmax"))),
        Stage(name="rnn_step_backward", title="One step of BPTT", points=2,
              inputs=("ds", "x_t", "s_prev", "s_t", "U", "W"),
              outputs=("dx_t", "ds_prev", "dU", "dW", "db"),
              docstring="One step of BPTT for s_t = φ(x_t U + s_{t-1} W + b).\n\n"
                        "ds: (N, d) total gradient dL/ds_t (from y_t and from s_{t+1}).\n"
                        "Returns dx_t (N, n), ds_prev (N, d), dU (n, d), dW (d, d), db (d,).",
              solve=solve_step_backward, probes=probes_step_backward,
              bugs=bugs_from(buggy_step_backward, STEP_BUGS, applies=APPLIES),
              depends_on=("phi_prime",),
              gradient_of=GradientOf(forwards=("rnn_step_forward",), output="s_t", upstream="ds",
                                     wrt={"dx_t": "x_t", "ds_prev": "s_prev", "dU": "U",
                                          "dW": "W", "db": "b"}, time_axis=None)),
        Stage(name="rnn_backward", title="Backpropagation through time", points=3,
              inputs=("ds_out", "x", "s0", "s", "U", "W"), outputs=("dx", "ds0", "dU", "dW", "db"),
              docstring="BPTT through the whole sequence.\n\n"
                        "ds_out: (N, T, d), "
                        "the gradient reaching each s_t from its own output y_t.\n"
                        "x: (N, T, n), s0: (N, d), s: (N, T, d) the forward states.\n"
                        "Returns dx (N, T, n), ds0 (N, d), dU (n, d), dW (d, d), db (d,).",
              solve=solve_backward, probes=probes_backward,
              bugs=bugs_from(buggy_bptt, BACKWARD_BUGS, applies=APPLIES),
              depends_on=("rnn_step_backward",),
              gradient_of=GradientOf(forwards=("rnn_forward",), output="s", upstream="ds_out",
                                     wrt={"dx": "x", "ds0": "s0", "dU": "U", "dW": "W",
                                          "db": "b"})),
        Stage(name="sgd_update", title="The gradient-descent update", points=1,
              inputs=("params", "grads", "lr"), outputs=("U", "W", "b", "V", "c"),
              docstring="ΔW = −α ∇_W L for every weight.\n\n"
                        "params, grads: dicts of arrays with keys U, W, b, V, c; lr: the rate α.\n"
                        "Returns a new dict of updated weights (do not change params in place).",
              solve=solve_sgd, probes=probes_sgd,
              bugs=bugs_from(buggy_sgd, {"update-wrong-sign": UPDATE,
                                         "update-applied-twice": UPDATE,
                                         "update-weight-skipped":
                                             UPDATE + r"\ \text{for } U, W, b, V, c"})),
        Stage(name="rnn_train", title="Training by your own functions", points=2,
              inputs=("params", "x", "s0", "d", "lr", "k_updates"),
              outputs=("U", "W", "b", "V", "c"),
              docstring="k_updates steps of gradient descent on the whole batch, "
                        "θ_{i+1} = θ_i − α ∇_θ L(θ_i)\n"
                        "for i = 0, 1, …, each by your rnn_forward, output_backward, rnn_backward "
                        "and sgd_update,\n"
                        "each gradient at the weights the last update left.\n\n"
                        "params: dict with U (n, d), W (d, d), b (d,), V (d, k), c (k,): θ_0.\n"
                        "x: (N, T, n), s0: (N, d), d: the targets, lr: the rate α, "
                        "k_updates: an int.\n"
                        "Returns a dict of the weights after every update, each stacked on a "
                        "first axis:\n"
                        "U (k_updates, n, d), W (k_updates, d, d), b (k_updates, d),\n"
                        "V (k_updates, d, k), c (k_updates, k). "
                        "Do not change params in place.",
              solve=solve_train, probes=probes_train,
              bugs=training_bugs(buggy_train, "U, W, b, V, c", "b, c"),
              training=Training(loss=training_loss, example=training_example),
              demo="notebook/loss_plot.py.j2",
              depends_on=("rnn_forward", "output_backward", "rnn_backward", "sgd_update")),
    )
    return Exercise(
        id="elman",
        title="Backpropagation through time in an Elman network",
        seed="004",
        summary=("An Elman network reads a sequence x_1 … x_T and keeps a state s_t that "
                 "depends on the input and on the previous state. You will write its forward "
                 "pass, the gradients of its output layer, one step of BPTT, BPTT over the "
                 "whole sequence, the gradient-descent update, and a training run of k "
                 "updates driven by your own functions."),
        notation={"x_t": "input at step t", "s_t": "state at step t", "y_t": "output at step t",
                  "U": "input-to-state weights", "W": "state-to-state weights",
                  "V": "state-to-output weights", "b": "state bias", "c": "output bias"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("softmax", "ce"), ("sigmoid", "bce"), ("linear", "mse"), ("tanh", "mse"),
                     ("softmax", "mse")),
            "n_in": (2, 3, 4, 5), "n_hidden": (3, 4, 5, 6), "n_out": (2, 3, 4),
            "T": (4, 5, 6, 7), "N": (2, 3), "lr": (0.05, 0.1, 0.2), "k_updates": (3, 4, 5),
        },
        stages=stages,
        solution_module="exercises.solutions.elman",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W + b)", r"y_t = g(s_t V + c)",
                   r"L = \frac{1}{N}\sum_{n=1}^{N}\sum_{t=1}^{T} \ell(y_{nt}, d_{nt})"),
    )


EXERCISE = build()
