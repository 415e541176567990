"""Exercise `scalar-linear`: seed 001's scalar linear RNN, its closed-form gradients and BPTT.

Notation of seed 001, with g = g* = identity and a batch of N scalar sequences
of T steps (0-based in code: a0 is the state before the first input x_0):

    a_t = v a_{t-1} + u x_t + b_a,     ŷ_t = w_y a_t + b_y

The loss enters only through z_t = ∂L/∂ŷ_t (N, T), the generic derivative of
the seed, so the closed forms are sums over n and t:

    ∂L/∂w_y = Σ_n Σ_t z_t a_t                                   (1)
    ∂L/∂b_y = Σ_n Σ_t z_t                                       (2)
    ∂L/∂v   = Σ_n Σ_t z_t w_y Σ_{j=1}^{t} v^{j-1} a_{t-j}        (3)   (steps counted from 1,
    ∂L/∂u   = Σ_n Σ_t z_t w_y Σ_{j=0}^{t-1} v^{j} x_{t-j}        (4)    a_0 the initial state)
    ∂L/∂b_a = Σ_n Σ_t z_t w_y Σ_{j=0}^{t-1} v^{j}                (5)

The seed's own (5), Σ_t z_t w_y, keeps the explicit term only: it is right for
v = 0 alone, so every probe here has v ≠ 0 (and |v| ≠ 1, where a power of v
off by one would not show). The right answers come from
`reference.scalar_linear_closed_forms` and, for BPTT, from
`reference.Elman(1, 1, 1, activation="identity", output="linear", objective="mse")`.
With mse, z = 2(ŷ − d)/N, so any z is the derivative of that loss for the
targets d = ŷ − N z / 2: that is how a given z is handed to the reference.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import reference as ref
from exercises.spec import (
    Bug,
    Exercise,
    GradientOf,
    Instance,
    Probe,
    Stage,
    Variant,
    bugs_from,
    only_at_step,
)

CLOSED_FORM_ARGS = ("x", "a0", "z", "u", "v", "b_a", "w_y")

# -- data for the probes ----------------------------------------------------------------


def _away_from_zero(rng: np.random.Generator, low: float = 0.4, high: float = 1.5) -> float:
    return float(rng.choice((-1.0, 1.0)) * rng.uniform(low, high))


def random_weights(variant: Variant, rng: np.random.Generator) -> dict[str, float]:
    """u, v, b_a, w_y, b_y with v ≠ 0, |v| ≠ 1 of the variant's sign and size, w_y and u ≠ 0."""
    magnitude = variant.get("v_magnitude", 0.7) * rng.uniform(0.9, 1.1)
    if abs(magnitude - 1.0) < 0.05:
        magnitude += 0.1
    return {"u": _away_from_zero(rng), "v": float(variant.get("v_sign", 1) * magnitude),
            "b_a": _away_from_zero(rng, 0.2, 1.0), "w_y": _away_from_zero(rng),
            "b_y": float(rng.normal())}


def _data(variant: Variant, rng: np.random.Generator):
    N, T = variant.N, variant.T
    return rng.normal(size=(N, T)), _away_from_zero_array(rng, (N,)), rng.normal(size=(N, T))


def _away_from_zero_array(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.choice((-1.0, 1.0), shape) * rng.uniform(0.5, 1.5, shape)


# -- the right answers, in the student's signatures ---------------------------------------


def solve_forward(variant, x, a0, u, v, b_a, w_y, b_y):
    a = ref.scalar_linear_states(u, v, b_a, x, a0)
    return a, w_y * a + b_y


def _closed_forms(x, a0, z, u, v, b_a, w_y):
    return ref.scalar_linear_closed_forms(u, v, b_a, w_y, x, z, a0)


def solve_dv(variant, x, a0, z, u, v, b_a, w_y):
    return _closed_forms(x, a0, z, u, v, b_a, w_y)["v"]


def solve_du(variant, x, a0, z, u, v, b_a, w_y):
    return _closed_forms(x, a0, z, u, v, b_a, w_y)["u"]


def solve_db_a(variant, x, a0, z, u, v, b_a, w_y):
    return _closed_forms(x, a0, z, u, v, b_a, w_y)["b_a"]


def solve_output(variant, x, a0, z, u, v, b_a, w_y):
    forms = _closed_forms(x, a0, z, u, v, b_a, w_y)
    return forms["w_y"], forms["b_y"]


def reference_model() -> ref.Elman:
    """The same network as an Elman network: U = [[u]], W = [[v]], b = [b_a], V = [[w_y]]."""
    return ref.Elman(1, 1, 1, activation="identity", output="linear", objective="mse")


def solve_bptt(variant, x, a0, z, u, v, b_a, w_y):
    x, a0, z = (np.asarray(array, dtype=np.float64) for array in (x, a0, z))
    N = x.shape[0]
    model = reference_model()
    params = {"U": np.array([[u]]), "W": np.array([[v]]), "b": np.array([b_a]),
              "V": np.array([[w_y]]), "c": np.zeros(1)}
    y_hat = model.forward(params, x[:, :, None], s0=a0[:, None]).y
    targets = y_hat - N * z[:, :, None] / 2.0          # mse: z = 2 (ŷ − d) / N
    g = model.grad(params, x[:, :, None], targets, s0=a0[:, None])
    return (float(g["V"][0, 0]), float(g["c"][0]), float(g["W"][0, 0]), float(g["U"][0, 0]),
            float(g["b"][0]), g["s0"][:, 0])


# -- the bugs -------------------------------------------------------------------------------


def forward_from_zero(variant, x, a0, u, v, b_a, w_y, b_y):
    """The forward pass with the given a_0 replaced by zeros."""
    return solve_forward(variant, x, np.zeros_like(a0), u, v, b_a, w_y, b_y)


def buggy_closed_forms(x, a0, z, u, v, b_a, w_y, *, bug):
    """The sums (1)–(5) written out in 0-based steps, with one misconception switched on."""
    x, z = np.asarray(x, dtype=np.float64), np.asarray(z, dtype=np.float64)
    a0 = np.zeros(x.shape[0]) if bug == "initial-state-ignored" else np.asarray(a0, float)
    N, T = x.shape
    a = ref.scalar_linear_states(u, v, b_a, x, a0)
    before = np.concatenate([a0[:, None], a], axis=1)      # before[:, t] = a_{t-1}, a_{-1} = a0
    extra = 1 if bug == "recurrent-power-off-by-one" else 0
    totals = {"v": 0.0, "u": 0.0, "b_a": 0.0, "w_y": 0.0, "b_y": 0.0}
    for t in range(T):
        if bug == "closed-form-explicit-only":
            terms_v, terms_u, terms_b = before[:, t], x[:, t], np.ones(N)
        else:
            shift = 1 if bug == "off-by-one-previous-state" else 0
            terms_v = sum(v ** (j - 1 + extra) * before[:, t + 1 - j + shift]
                          for j in range(1, t + 2))
            terms_u = sum(v ** (j + extra) * x[:, t - j] for j in range(t + 1))
            terms_b = sum(v ** (j + extra) for j in range(t + 1)) * np.ones(N)
        state = before[:, t] if bug == "off-by-one-previous-state" else a[:, t]
        step = {"v": np.sum(z[:, t] * w_y * terms_v), "u": np.sum(z[:, t] * w_y * terms_u),
                "b_a": np.sum(z[:, t] * w_y * terms_b), "w_y": np.sum(z[:, t] * state),
                "b_y": np.sum(z[:, t])}
        for key, value in step.items():
            totals[key] = value if bug == "overwrite-not-accumulate" else totals[key] + value
    return {key: float(value) for key, value in totals.items()}


def buggy_closed_form(variant, x, a0, z, u, v, b_a, w_y, *, key, bug):
    forms = buggy_closed_forms(x, a0, z, u, v, b_a, w_y, bug=bug)
    return (forms["w_y"], forms["b_y"]) if key == "output" else forms[key]


def buggy_bptt(variant, x, a0, z, u, v, b_a, w_y, *, bug):
    """scalar_bptt written out, with one misconception switched on by id."""
    x, z = np.asarray(x, dtype=np.float64), np.asarray(z, dtype=np.float64)
    a0 = np.asarray(a0, dtype=np.float64)
    start = np.zeros_like(a0) if bug == "initial-state-ignored" else a0
    a = ref.scalar_linear_states(u, v, b_a, x, start)
    T = x.shape[1]
    dw_y = db_y = dv = du = db_a = 0.0
    delta_next = np.zeros_like(a0)                      # ∂L/∂a_{t+1} · v, arriving at a_t
    for t in reversed(range(T)):
        a_prev = a[:, t - 1] if t > 0 else start
        if bug == "off-by-one-previous-state":
            a_prev = a[:, t]
        delta = z[:, t] * w_y + (0.0 if bug == "recurrent-term-dropped" else delta_next)
        step = (np.sum(z[:, t] * a[:, t]), np.sum(z[:, t]), np.sum(delta * a_prev),
                np.sum(delta * x[:, t]), np.sum(delta))
        if bug == "overwrite-not-accumulate":
            dw_y, db_y, dv, du, db_a = step
        else:
            dw_y, db_y, dv, du, db_a = (total + s for total, s in
                                         zip((dw_y, db_y, dv, du, db_a), step, strict=True))
        delta_next = v * delta
    return float(dw_y), float(db_y), float(dv), float(du), float(db_a), delta_next


# -- the probes -------------------------------------------------------------------------


def _closed_form_probes(instance: Instance, stage: str, *, from_state_only: bool) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng(stage)
    weights = random_weights(v, rng)
    weights.pop("b_y")
    x, a0, z = _data(v, rng)
    last_only = only_at_step(_away_from_zero_array(rng, (v.N,)), t=-1, T=v.T)
    first_only = only_at_step(_away_from_zero_array(rng, (v.N,)), t=0, T=v.T)
    probes = [
        Probe(name="random data, non-zero a_0", kwargs={"x": x, "a0": a0, "z": z, **weights},
              purpose="every term of the sum, with v ≠ 0 and a non-zero initial state",
              repeat=True),
        Probe(name="loss at the last step only",
              kwargs={"x": x, "a0": a0, "z": last_only, **weights},
              purpose="z_t = 0 before T: the whole unrolled sum of one loss term"),
        Probe(name="loss at the first step only",
              kwargs={"x": x, "a0": a0, "z": first_only, **weights},
              purpose="z_t = 0 after the first step: the sum over t must keep this term"),
    ]
    if from_state_only:
        probes.append(Probe(name="no input and no bias",
                            kwargs={"x": np.zeros_like(x), "a0": a0, "z": z,
                                    **{**weights, "b_a": 0.0}},
                            purpose="x_t = 0 and b_a = 0, so a_t = v^t a_0: "
                                    "only the initial state's terms remain"))
    return probes


def probes_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("scalar_forward")
    weights = random_weights(v, rng)
    x, a0, _ = _data(v, rng)
    time_axis = {"a": 1, "y_hat": 1}
    return [
        Probe(name="zero initial state", kwargs={"x": x, "a0": np.zeros(v.N), **weights},
              purpose="the recursion from a_0 = 0", time_axis=time_axis),
        Probe(name="non-zero initial state", kwargs={"x": x, "a0": a0, **weights},
              purpose="the first step must use the given a_0", time_axis=time_axis),
    ]


def probes_bptt(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("scalar_bptt")
    weights = random_weights(v, rng)
    weights.pop("b_y")
    x, a0, z = _data(v, rng)
    last_only = only_at_step(_away_from_zero_array(rng, (v.N,)), t=-1, T=v.T)
    return [
        Probe(name="random data, non-zero a_0", kwargs={"x": x, "a0": a0, "z": z, **weights},
              purpose="BPTT over the whole sequence", repeat=True),
        Probe(name="loss at the last step only",
              kwargs={"x": x, "a0": a0, "z": last_only, **weights},
              purpose="everything before T must arrive through the recurrence"),
        Probe(name="no input and no bias",
              kwargs={"x": np.zeros_like(x), "a0": a0, "z": z, **{**weights, "b_a": 0.0}},
              purpose="a_t = v^t a_0: the initial state's terms alone"),
    ]


# -- the exercise ------------------------------------------------------------------------


DV = r"\frac{\partial L}{\partial v} = \sum_t z_t w_y \sum_{j=1}^{t} v^{j-1} a_{t-j}"
DU = r"\frac{\partial L}{\partial u} = \sum_t z_t w_y \sum_{j=0}^{t-1} v^{j} x_{t-j}"
DB_A = r"\frac{\partial L}{\partial b_a} = \sum_t z_t w_y \sum_{j=0}^{t-1} v^{j}"
DW_Y = r"\frac{\partial L}{\partial w_y} = \sum_t z_t a_t,\quad " \
       r"\frac{\partial L}{\partial b_y} = \sum_t z_t"
DELTA = r"\delta_t = \frac{\partial L}{\partial a_t} = z_t w_y + v\,\delta_{t+1}"

CLOSED_FORM_BUGS = {
    "v": {"closed-form-explicit-only": DV, "off-by-one-previous-state": DV,
          "initial-state-ignored": DV + r",\quad a_0 \text{ as given}",
          "recurrent-power-off-by-one": DV, "overwrite-not-accumulate": DV},
    "u": {"closed-form-explicit-only": DU, "recurrent-power-off-by-one": DU,
          "overwrite-not-accumulate": DU},
    "b_a": {"closed-form-explicit-only": DB_A, "recurrent-power-off-by-one": DB_A,
            "overwrite-not-accumulate": DB_A},
    "output": {"off-by-one-previous-state": DW_Y,
               "initial-state-ignored": DW_Y + r",\quad a_t \text{ from the given } a_0",
               "overwrite-not-accumulate": DW_Y},
}
BPTT_BUGS = {
    "recurrent-term-dropped": DELTA,
    "off-by-one-previous-state": r"\frac{\partial L}{\partial v} = \sum_t \delta_t a_{t-1}",
    "initial-state-ignored": r"\frac{\partial L}{\partial v} \mathrel{+}= \delta_1 a_0",
    "overwrite-not-accumulate": r"\frac{\partial L}{\partial v} = \sum_t \delta_t a_{t-1}",
}

CLOSED_FORM_DOC = (
    "x: (N, T) inputs, a0: (N,) initial states (the state before x_0), z: (N, T) the loss's\n"
    "derivatives z_t = ∂L/∂ŷ_t; u, v, b_a, w_y: floats. The sums run over the N sequences\n"
    "as well as over t."
)


def build() -> Exercise:
    """The `scalar-linear` exercise."""

    def closed_form_bugs(key):
        return bugs_from(partial(buggy_closed_form, key=key), CLOSED_FORM_BUGS[key])

    stages = (
        Stage(name="scalar_forward", title="The forward pass", points=1,
              inputs=("x", "a0", "u", "v", "b_a", "w_y", "b_y"), outputs=("a", "y_hat"),
              docstring="a_t = v a_{t-1} + u x_t + b_a and ŷ_t = w_y a_t + b_y for t = 0 … T−1.\n\n"
                        "x: (N, T) inputs, a0: (N,) the state before x_0; "
                        "u, v, b_a, w_y, b_y: floats.\n"
                        "Returns a: (N, T) the states and y_hat: (N, T) the outputs.",
              solve=solve_forward, probes=probes_forward,
              bugs=(Bug(misconception="initial-state-ignored", implementation=forward_from_zero,
                        correction=r"a_1 = v a_0 + u x_1 + b_a"),)),
        Stage(name="closed_form_output", title="∂L/∂w_y and ∂L/∂b_y", points=1,
              inputs=CLOSED_FORM_ARGS, outputs=("dw_y", "db_y"),
              docstring="Seed 001's (1) and (2): ∂L/∂w_y = Σ_t z_t a_t and ∂L/∂b_y = Σ_t z_t.\n\n"
                        + CLOSED_FORM_DOC + "\nReturns dw_y, db_y: floats.",
              solve=solve_output,
              probes=partial(_closed_form_probes, stage="closed_form_output",
                             from_state_only=True),
              bugs=closed_form_bugs("output"),
              depends_on=("scalar_forward",),
              gradient_of=GradientOf(forwards=("scalar_forward",), output="y_hat", upstream="z",
                                     wrt={"dw_y": "w_y", "db_y": "b_y"})),
        Stage(name="closed_form_dv", title="∂L/∂v as a closed-form sum", points=2,
              inputs=CLOSED_FORM_ARGS, outputs=("dv",),
              docstring="Seed 001's (3) with every implicit term "
                        "(steps counted from 1, a_0 the initial\n"
                        "state): ∂L/∂v = Σ_t z_t w_y Σ_{j=1}^{t} v^{j-1} a_{t-j}.\n\n"
                        + CLOSED_FORM_DOC + "\nReturns dv: a float.",
              solve=solve_dv,
              probes=partial(_closed_form_probes, stage="closed_form_dv",
                             from_state_only=True),
              bugs=closed_form_bugs("v"),
              depends_on=("scalar_forward",),
              gradient_of=GradientOf(forwards=("scalar_forward",), output="y_hat", upstream="z",
                                     wrt={"dv": "v"})),
        Stage(name="closed_form_du", title="∂L/∂u as a closed-form sum", points=2,
              inputs=CLOSED_FORM_ARGS, outputs=("du",),
              docstring="Seed 001's (4): ∂L/∂u = Σ_t z_t w_y Σ_{j=0}^{t-1} v^j x_{t-j} "
                        "(steps from 1).\n\n"
                        + CLOSED_FORM_DOC + "\nReturns du: a float.",
              solve=solve_du,
              probes=partial(_closed_form_probes, stage="closed_form_du",
                             from_state_only=False),
              bugs=closed_form_bugs("u"),
              gradient_of=GradientOf(forwards=("scalar_forward",), output="y_hat", upstream="z",
                                     wrt={"du": "u"})),
        Stage(name="closed_form_db_a", title="∂L/∂b_a as a closed-form sum", points=1,
              inputs=CLOSED_FORM_ARGS, outputs=("db_a",),
              docstring="Seed 001's (5) with the implicit terms: "
                        "∂L/∂b_a = Σ_t z_t w_y Σ_{j=0}^{t-1} v^j.\n"
                        "(The notes' Σ_t z_t w_y keeps the explicit term only: "
                        "right for v = 0 alone.)\n\n"
                        + CLOSED_FORM_DOC + "\nReturns db_a: a float.",
              solve=solve_db_a,
              probes=partial(_closed_form_probes, stage="closed_form_db_a",
                             from_state_only=False),
              bugs=closed_form_bugs("b_a"),
              gradient_of=GradientOf(forwards=("scalar_forward",), output="y_hat", upstream="z",
                                     wrt={"db_a": "b_a"})),
        Stage(name="scalar_bptt", title="BPTT, which must agree with the closed forms", points=3,
              inputs=CLOSED_FORM_ARGS, outputs=("dw_y", "db_y", "dv", "du", "db_a", "da0"),
              docstring="Backpropagation through time for the same network: "
                        "walking back from t = T−1,\n"
                        "δ_t = ∂L/∂a_t = z_t w_y + v δ_{t+1} "
                        "(δ_T = 0), then ∂L/∂v = Σ_t δ_t a_{t-1},\n"
                        "∂L/∂u = Σ_t δ_t x_t, ∂L/∂b_a = Σ_t δ_t, ∂L/∂w_y = Σ_t z_t a_t, "
                        "∂L/∂b_y = Σ_t z_t\n"
                        "and ∂L/∂a_0 = v δ_0 per sequence.\n\n"
                        + CLOSED_FORM_DOC
                        + "\nReturns dw_y, db_y, dv, du, db_a: floats, and da0: (N,).",
              solve=solve_bptt, probes=probes_bptt, bugs=bugs_from(buggy_bptt, BPTT_BUGS),
              depends_on=("scalar_forward",),
              gradient_of=GradientOf(forwards=("scalar_forward",), output="y_hat", upstream="z",
                                     wrt={"dw_y": "w_y", "db_y": "b_y", "dv": "v", "du": "u",
                                          "db_a": "b_a", "da0": "a0"})),
    )
    return Exercise(
        id="scalar-linear",
        title="Closed-form gradients of a scalar linear RNN, checked against BPTT",
        seed="001",
        summary=("With identity activations the RNN a_t = v a_{t-1} + u x_t + b_a, "
                 "ŷ_t = w_y a_t + b_y can be unrolled by hand, and every derivative of the loss "
                 "becomes an explicit sum over the earlier steps with powers of v. You will write "
                 "the forward pass, the closed-form sums for ∂L/∂w_y, ∂L/∂b_y, ∂L/∂v, ∂L/∂u and "
                 "∂L/∂b_a, and BPTT, which must give the same numbers."),
        notation={"x_t": "input at step t (a scalar)", "a_t": "state at step t",
                  "a0": "the state before the first input", "ŷ_t": "output at step t",
                  "u": "input weight (W_ax)", "v": "recurrent weight (W_aa)",
                  "b_a": "state bias", "w_y": "output weight", "b_y": "output bias",
                  "z_t": "∂L/∂ŷ_t, the loss's derivative at step t"},
        variant_space={
            "activation": ("identity",), "head": (("linear", "mse"),),
            "n_in": (1,), "n_hidden": (1,), "n_out": (1,),
            "T": (3, 4, 5, 6), "N": (1, 2, 3),
            "v_sign": (1, -1), "v_magnitude": (0.5, 0.7, 0.85, 1.2),
        },
        stages=stages,
        solution_module="exercises.solutions.scalar_linear",
        equations=(r"a_t = v\,a_{t-1} + u\,x_t + b_a", r"\hat y_t = w_y a_t + b_y",
                   r"z_t = \frac{\partial L}{\partial \hat y_t}"),
    )


EXERCISE = build()
