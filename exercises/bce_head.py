"""Exercise `bce-head`: seed 001's binary cross-entropy head and its derivative.

Seed 001 puts a sigmoid on the output of its RNN and scores it with the binary
cross-entropy, in its own letters (y the label, ŷ the prediction):

    ŷ^{<t>} = σ(w_y a^{<t>} + b_y),
    L^{<t>}(ŷ^{<t>}, y^{<t>}) = −( y^{<t>} log ŷ^{<t>} + (1 − y^{<t>}) log(1 − ŷ^{<t>}) ),
    L = Σ_t L^{<t>},
    z^{<t>} = ∂L^{<t>}/∂ŷ^{<t>} = −y^{<t>}/ŷ^{<t>} + (1 − y^{<t>})/(1 − ŷ^{<t>}),

and, through the sigmoid (σ' = ŷ(1 − ŷ)), ∂L^{<t>}/∂o^{<t>} = z^{<t>} ŷ^{<t>}(1 − ŷ^{<t>})
= ŷ^{<t>} − y^{<t>} for o^{<t>} = w_y a^{<t>} + b_y. The RNN is seed 001's scalar one,
a^{<t>} = v a^{<t-1>} + u x^{<t>} + b_a (g = identity), as in `scalar-linear`.

Here a batch of N sequences of T steps, 0-based in code; the loss is summed over the
sequences as well as over t (L = Σ_n Σ_t L^{<t>}), so that z_nt = ∂L/∂ŷ_nt is the
seed's z^{<t>} of sequence n. The seed's second writing of the loss,
−(y log ŷ) + (1 − y) log(1 − ŷ), puts the minus sign on the first term only: that
misreading is one of the bugs.

The right answers come from `reference.losses` (the loss from the logit, the fused
ŷ − y) and `reference.Elman(1, 1, 1, activation="identity", output="sigmoid",
objective="bce")`, whose loss is the mean over the batch: its gradients times N.
"""

from __future__ import annotations

import numpy as np

import reference as ref
from exercises.scalar_linear import _away_from_zero_array, random_weights
from exercises.spec import Bug, Exercise, GradientOf, Instance, Probe, Stage, Variant, bugs_from
from reference import activations, losses

SIGMOID = activations.output("sigmoid")
BPTT_ARGS = ("x", "a0", "y", "u", "v", "b_a", "w_y", "b_y")

# -- data for the probes ----------------------------------------------------------------


def labels(variant: Variant, rng: np.random.Generator) -> np.ndarray:
    """Binary labels y ∈ {0, 1} (N, T), with both values present."""
    y = rng.integers(0, 2, (variant.N, variant.T)).astype(float)
    y.flat[0], y.flat[-1] = 0.0, 1.0
    return y


def predictions(variant: Variant, rng: np.random.Generator) -> np.ndarray:
    """ŷ ∈ (0.03, 0.97) (N, T): confident enough to differ from 1/2, not saturated."""
    return rng.uniform(0.03, 0.97, (variant.N, variant.T))


# -- the right answers, in the student's signatures ---------------------------------------


def solve_loss(variant, y_hat, y):
    y_hat, y = np.asarray(y_hat, float), np.asarray(y, float)
    o = np.log(y_hat) - np.log1p(-y_hat)                     # the logit: ŷ = σ(o)
    return float(losses.loss_terms("bce", SIGMOID, o[..., None], y_hat[..., None],
                                   y[..., None]).sum())


def solve_derivative(variant, y_hat, y):
    y_hat, y = np.asarray(y_hat, float), np.asarray(y, float)
    return -y / y_hat + (1.0 - y) / (1.0 - y_hat)


def solve_output_delta(variant, o, y):
    o, y = np.asarray(o, float)[..., None], np.asarray(y, float)[..., None]
    return losses.output_delta("bce", SIGMOID, o, SIGMOID.apply(o), y)[..., 0]


def reference_model() -> ref.Elman:
    """Seed 001's network as an Elman network: U = [[u]], W = [[v]], b = [b_a], V = [[w_y]]."""
    return ref.Elman(1, 1, 1, activation="identity", output="sigmoid", objective="bce")


def solve_bptt(variant, x, a0, y, u, v, b_a, w_y, b_y):
    x, a0, y = (np.asarray(array, dtype=np.float64) for array in (x, a0, y))
    params = {"U": np.array([[u]]), "W": np.array([[v]]), "b": np.array([b_a]),
              "V": np.array([[w_y]]), "c": np.array([b_y])}
    g = reference_model().grad(params, x[:, :, None], y[:, :, None], s0=a0[:, None])
    N = x.shape[0]                                           # the reference's L is a mean
    return (N * float(g["V"][0, 0]), N * float(g["c"][0]), N * float(g["W"][0, 0]),
            N * float(g["U"][0, 0]), N * float(g["b"][0]))


# -- what the backward stages differentiate (their `GradientOf` heads) ------------------------
# Plain numpy of named arguments, so that the notebook's self-check can run them too.


def bce_of_sigmoid(sigmoid, y):
    """L = Σ_n Σ_t −(y_t log ŷ_t + (1 − y_t) log(1 − ŷ_t)) with ŷ = `sigmoid`, the notebook's
    given sigmoid(o) (N, T): the loss whose ∂L/∂o `bce_output_delta` returns. A float."""
    return float(-np.sum(y * np.log(sigmoid) + (1.0 - y) * np.log(1.0 - sigmoid)))


def bce_of_network(x, a0, y, u, v, b_a, w_y, b_y):
    """Seed 001's L = Σ_n Σ_t L^{<t>} for a_t = v a_{t-1} + u x_t + b_a, o_t = w_y a_t + b_y,
    ŷ_t = σ(o_t): the loss whose gradients `bce_bptt` returns. x, y: (N, T), a0: (N,).

    L^{<t>} = −(y_t log σ(o_t) + (1 − y_t) log(1 − σ(o_t))) = log(1 + e^{o_t}) − y_t o_t,
    the second form accurate where σ(o_t) is within rounding of 0 or 1. A float."""
    a, total = a0, 0.0
    for t in range(x.shape[1]):
        a = v * a + u * x[:, t] + b_a
        o = w_y * a + b_y
        total += float(np.sum(np.logaddexp(0.0, o) - y[:, t] * o))
    return total


# -- the bugs -------------------------------------------------------------------------------


def loss_minus_on_first_term(variant, y_hat, y):
    """−(y log ŷ) + (1 − y) log(1 − ŷ): seed 001's second writing, read literally."""
    return float(np.sum(-y * np.log(y_hat) + (1.0 - y) * np.log(1.0 - y_hat)))


def buggy_derivative(variant, y_hat, y, *, bug):
    if bug == "bce-minus-first-term-only":                   # d/dŷ of the misread loss
        return -y / y_hat - (1.0 - y) / (1.0 - y_hat)
    return y / y_hat - (1.0 - y) / (1.0 - y_hat)              # output-delta-sign


def buggy_output_delta(variant, o, y, *, bug):
    y_hat = SIGMOID.apply(np.asarray(o, float))
    if bug == "output-activation-derivative-left-out":       # ∂L/∂ŷ, as if ŷ = o
        return solve_derivative(variant, y_hat, y)
    return y - y_hat                                          # output-delta-sign


def buggy_bptt(variant, x, a0, y, u, v, b_a, w_y, b_y, *, bug):
    """The BPTT of `solve_bptt` written out, with one misconception switched on by id."""
    start = np.zeros_like(a0) if bug == "initial-state-ignored" else a0
    a = ref.scalar_linear_states(u, v, b_a, x, start)
    y_hat = SIGMOID.apply(w_y * a + b_y)
    z = (solve_derivative(variant, y_hat, y) if bug == "output-activation-derivative-left-out"
         else y_hat - y)                                     # ∂L/∂o_t
    dw_y = db_y = dv = du = db_a = 0.0
    carried = np.zeros_like(a0)                              # v δ_{t+1}, reaching a_t
    for t in reversed(range(x.shape[1])):
        a_prev = a[:, t] if bug == "off-by-one-previous-state" else \
            (a[:, t - 1] if t > 0 else start)
        delta = z[:, t] * w_y + (0.0 if bug == "recurrent-term-dropped" else carried)
        dw_y, db_y = dw_y + np.sum(z[:, t] * a[:, t]), db_y + np.sum(z[:, t])
        dv, du, db_a = dv + np.sum(delta * a_prev), du + np.sum(delta * x[:, t]), \
            db_a + np.sum(delta)
        carried = v * delta
    return float(dw_y), float(db_y), float(dv), float(du), float(db_a)


# -- the probes -------------------------------------------------------------------------


def probes_loss(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("bce_loss")
    return [Probe(name="binary labels", kwargs={"y_hat": predictions(v, rng), "y": labels(v, rng)},
                  purpose="L = Σ_n Σ_t −(y log ŷ + (1 − y) log(1 − ŷ))"),
            Probe(name="soft labels in [0, 1]",
                  kwargs={"y_hat": predictions(v, rng), "y": rng.uniform(0.0, 1.0, (v.N, v.T))},
                  purpose="both terms at once, for labels between 0 and 1")]


def probes_derivative(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("bce_derivative")
    return [Probe(name="binary labels", kwargs={"y_hat": predictions(v, rng), "y": labels(v, rng)},
                  purpose="z_t = −y_t/ŷ_t + (1 − y_t)/(1 − ŷ_t)", time_axis={"z": 1}),
            Probe(name="soft labels in [0, 1]",
                  kwargs={"y_hat": predictions(v, rng), "y": rng.uniform(0.0, 1.0, (v.N, v.T))},
                  purpose="both terms of z at once", time_axis={"z": 1})]


def probes_output_delta(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("bce_output_delta")
    N, T = v.N, v.T
    return [Probe(name="binary labels", kwargs={"o": rng.normal(0.0, 2.0, (N, T)),
                                                "y": labels(v, rng)},
                  purpose="∂L/∂o_t = z_t σ'(o_t) = ŷ_t − y_t", time_axis={"do": 1}),
            Probe(name="confident predictions",
                  kwargs={"o": rng.choice((-1.0, 1.0), (N, T)) * rng.uniform(8.0, 12.0, (N, T)),
                          "y": labels(v, rng)},
                  purpose="ŷ within 1e-3 of 0 or 1: the fused ŷ − y stays accurate",
                  time_axis={"do": 1})]


def probes_bptt(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("bce_bptt")
    weights = random_weights(v, rng)
    x, a0 = rng.normal(size=(v.N, v.T)), _away_from_zero_array(rng, (v.N,))
    y = labels(v, rng)
    return [
        Probe(name="random data, non-zero a_0", kwargs={"x": x, "a0": a0, "y": y, **weights},
              purpose="every gradient of Σ_t L^{<t>} through the sigmoid head", repeat=True),
        Probe(name="no input and no bias",
              kwargs={"x": np.zeros_like(x), "a0": a0, "y": y, **{**weights, "b_a": 0.0}},
              purpose="a_t = v^t a_0: the initial state's terms alone"),
    ]


# -- the exercise ------------------------------------------------------------------------


LOSS = (r"L = \sum_n \sum_t -\big(y_t \log \hat{y}_t + (1 - y_t) \log(1 - \hat{y}_t)\big)")
Z = r"z_t = \frac{\partial L}{\partial \hat{y}_t} = -\frac{y_t}{\hat{y}_t} + " \
    r"\frac{1 - y_t}{1 - \hat{y}_t}"
DELTA = r"\frac{\partial L}{\partial o_t} = z_t\, \sigma'(o_t) = z_t\, \hat{y}_t(1 - \hat{y}_t) " \
        r"= \hat{y}_t - y_t"
BPTT = (r"\delta_t = \frac{\partial L}{\partial a_t} = (\hat{y}_t - y_t)\, w_y + v\,\delta_{t+1},"
        r"\quad \frac{\partial L}{\partial v} = \sum_t \delta_t a_{t-1}")
BPTT_BUGS = {"output-activation-derivative-left-out": DELTA, "recurrent-term-dropped": BPTT,
             "off-by-one-previous-state": BPTT,
             "initial-state-ignored": BPTT + r",\ a_0 \text{ as given}"}
HEAD_DOC = ("x: (N, T) inputs, a0: (N,) the states before x_0, y: (N, T) labels in [0, 1]; "
            "u, v, b_a, w_y,\nb_y: floats. The sums run over the N sequences as well as over t.")


def build() -> Exercise:
    """The `bce-head` exercise."""
    stages = (
        Stage(name="bce_loss", title="Seed 001's binary cross-entropy", points=1,
              inputs=("y_hat", "y"), outputs=("L",),
              docstring="L = Σ_n Σ_t L^{<t>}, L^{<t>} = −( y_t log ŷ_t + (1 − y_t) log(1 − ŷ_t) "
                        "): the minus sign\ncovers both terms.\n\n"
                        "y_hat: (N, T) predictions in (0, 1), y: (N, T) labels in [0, 1]. "
                        "Returns L: a float.",
              solve=solve_loss, probes=probes_loss,
              bugs=(Bug(misconception="bce-minus-first-term-only",
                        implementation=loss_minus_on_first_term, correction=LOSS),)),
        Stage(name="bce_derivative", title="Its derivative z = ∂L/∂ŷ", points=1,
              inputs=("y_hat", "y"), outputs=("z",),
              docstring="z_t = ∂L/∂ŷ_t = −y_t/ŷ_t + (1 − y_t)/(1 − ŷ_t) for every sequence and "
                        "step (seed 001's z^{<t>}).\n\n"
                        "y_hat: (N, T) predictions in (0, 1), y: (N, T) labels. "
                        "Returns z: (N, T).",
              solve=solve_derivative, probes=probes_derivative,
              bugs=bugs_from(buggy_derivative, {"bce-minus-first-term-only": Z,
                                                "output-delta-sign": Z}),
              gradient_of=GradientOf(forwards=("bce_loss",), output="L",
                                     wrt={"z": "y_hat"}, time_axis=None)),
        Stage(name="bce_output_delta", title="Through the sigmoid: ∂L/∂o = ŷ − y", points=2,
              inputs=("o", "y"), outputs=("do",),
              docstring="For ŷ_t = σ(o_t), o_t = w_y a_t + b_y: ∂L/∂o_t = z_t σ'(o_t) = "
                        "z_t ŷ_t(1 − ŷ_t) = ŷ_t − y_t.\n"
                        "Use the simplified ŷ − y: it stays accurate where ŷ is within 1e-3 "
                        "of 0 or 1.\n\n"
                        "o: (N, T) output pre-activations, y: (N, T) labels. "
                        "Returns do: (N, T).",
              solve=solve_output_delta, probes=probes_output_delta,
              bugs=bugs_from(buggy_output_delta, {"output-activation-derivative-left-out": DELTA,
                                                  "output-delta-sign": DELTA}),
              gradient_of=GradientOf(forwards=("sigmoid",), head=bce_of_sigmoid,
                                     wrt={"do": "o"}, time_axis=None)),
        Stage(name="bce_bptt", title="BPTT with the BCE head", points=3,
              inputs=BPTT_ARGS, outputs=("dw_y", "db_y", "dv", "du", "db_a"),
              docstring="The gradients of L = Σ_n Σ_t L^{<t>} for seed 001's RNN\n"
                        "a_t = v a_{t-1} + u x_t + b_a, ŷ_t = σ(w_y a_t + b_y): with "
                        "∂L/∂o_t = ŷ_t − y_t,\n"
                        "δ_t = ∂L/∂a_t = (ŷ_t − y_t) w_y + v δ_{t+1} (δ_T = 0); "
                        "∂L/∂w_y = Σ_t (ŷ_t − y_t) a_t,\n"
                        "∂L/∂b_y = Σ_t (ŷ_t − y_t), ∂L/∂v = Σ_t δ_t a_{t-1}, "
                        "∂L/∂u = Σ_t δ_t x_t, ∂L/∂b_a = Σ_t δ_t.\n\n"
                        + HEAD_DOC + "\nReturns dw_y, db_y, dv, du, db_a: floats.",
              solve=solve_bptt, probes=probes_bptt,
              bugs=bugs_from(buggy_bptt, BPTT_BUGS),
              depends_on=("bce_output_delta",),
              gradient_of=GradientOf(forwards=(), head=bce_of_network,
                                     wrt={"dw_y": "w_y", "db_y": "b_y", "dv": "v", "du": "u",
                                          "db_a": "b_a"}, time_axis=None)),
    )
    return Exercise(
        id="bce-head",
        title="Seed 001's binary cross-entropy head and its derivative",
        seed="001",
        summary=("Seed 001 scores its RNN's sigmoid output ŷ_t with the binary cross-entropy "
                 "L^{<t>} = −(y_t log ŷ_t + (1 − y_t) log(1 − ŷ_t)). You will write the loss, "
                 "its derivative z_t = ∂L/∂ŷ_t, the gradient through the sigmoid, which "
                 "simplifies to ŷ_t − y_t, and BPTT for the scalar RNN "
                 "a_t = v a_{t-1} + u x_t + b_a with this head."),
        notation={"x_t": "input at step t (a scalar)", "a_t": "state at step t",
                  "a0": "the state before the first input", "o_t": "w_y a_t + b_y",
                  "ŷ_t": "prediction σ(o_t) in (0, 1)", "y_t": "label in [0, 1]",
                  "z_t": "∂L/∂ŷ_t", "u": "input weight (W_ax)", "v": "recurrent weight (W_aa)",
                  "b_a": "state bias", "w_y": "output weight", "b_y": "output bias"},
        variant_space={
            "activation": ("identity",), "head": (("sigmoid", "bce"),),
            "n_in": (1,), "n_hidden": (1,), "n_out": (1,),
            "T": (3, 4, 5, 6), "N": (1, 2, 3),
            "v_sign": (1, -1), "v_magnitude": (0.5, 0.7, 0.85, 1.2),
        },
        stages=stages,
        solution_module="exercises.solutions.bce_head",
        equations=(r"a_t = v\,a_{t-1} + u\,x_t + b_a", r"\hat{y}_t = \sigma(w_y a_t + b_y)",
                   LOSS, Z),
    )


EXERCISE = build()
