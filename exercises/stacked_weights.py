"""Exercise `stacked-weights`: the stacked W_a = [W_aa; W_ax] form against the split form.

Seeds 001 and 003 write one recurrent layer two ways: with two weight matrices,
a^{<t>} = g(W_aa a^{<t-1>} + W_ax x^{<t>} + b_a), and with one stacked matrix acting on
the stacked vector, a^{<t>} = g(W_a [a^{<t-1>}, x^{<t>}] + b_a). In seed 001's letters,
with row vectors and a batch (DESIGN.md):

    a_t = g(a_{t-1} W_aa + x_t W_ax + b_a) = g([a_{t-1}, x_t] W_a + b_a),
    W_a = [W_aa; W_ax]  (d + n, d),  [a_{t-1}, x_t]  (N, d + n)

and BPTT in the stacked form gives, with δ_t = ∂L/∂(pre-activation at t),

    ∂L/∂W_a = Σ_t [a_{t-1}, x_t]ᵀ δ_t = [∂L/∂W_aa; ∂L/∂W_ax],
    [∂L/∂a_{t-1}|_{from t}, ∂L/∂x_t] = δ_t W_aᵀ.

The order of the blocks is the whole lesson: the state's block comes first in both
W_a and [a_{t-1}, x_t]; swapping it in one place only gives no shape error when
n = d and wrong numbers always. The right answers come from the split form
(`reference.recurrence`, U = W_ax, W = W_aa) stacked by `reference.stacked_weights`;
the tests check the stacked form against it.
"""

from __future__ import annotations

import numpy as np

from exercises.corrections import derivative_through_state
from exercises.elman import random_states, saturating
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
from reference import activations
from reference.network import as_injection, band_total
from reference.recurrence import layer_backward, layer_forward, step_forward
from reference.stacked_weights import split_weights, stack_weights, stacked_input

# -- data for the probes ----------------------------------------------------------------


def _g(variant: Variant) -> activations.HiddenActivation:
    return activations.hidden(variant.activation)


def random_blocks(variant: Variant, rng: np.random.Generator):
    """W_aa (d, d), W_ax (n, d) and b_a (d,) at a scale where g is neither saturated nor linear."""
    _, _, n, d, _ = variant.sizes
    return rng.normal(0.0, 0.6, (d, d)), rng.normal(0.0, 0.6, (n, d)), rng.normal(0.0, 0.3, d)


# -- the right answers, in the student's signatures ---------------------------------------


def solve_stack(variant, W_aa, W_ax):
    return stack_weights(W_aa, W_ax)


def solve_split(variant, W_a):
    return split_weights(W_a)


def solve_step(variant, a_prev, x_t, W_a, b_a):
    W_aa, W_ax = split_weights(W_a)
    return step_forward(np.asarray(x_t, float), np.asarray(a_prev, float), W_ax, W_aa,
                        np.asarray(b_a, float), _g(variant))


def solve_forward(variant, x, a0, W_a, b_a):
    W_aa, W_ax = split_weights(W_a)
    return layer_forward(np.asarray(x, float), np.asarray(a0, float), W_ax, W_aa,
                         np.asarray(b_a, float), _g(variant))


def solve_backward(variant, da_out, x, a0, a, W_a):
    W_aa, W_ax = split_weights(W_a)
    dW_ax, dW_aa, db_a, dx, da0 = layer_backward(
        as_injection(np.asarray(da_out, float)), np.asarray(x, float), np.asarray(a, float),
        np.asarray(a0, float), W_ax, W_aa, _g(variant))
    return band_total(dx), da0, stack_weights(dW_aa, dW_ax), db_a


# -- the bugs -------------------------------------------------------------------------------


def stack_swapped(variant, W_aa, W_ax):
    """[W_ax; W_aa]: the input's block first."""
    return np.concatenate([W_ax, W_aa], axis=0)


def split_swapped(variant, W_a):
    """The first n rows taken as W_ax, the last d as W_aa."""
    n = W_a.shape[0] - W_a.shape[1]
    return W_a[n:], W_a[:n]


def buggy_step(variant, a_prev, x_t, W_a, b_a, *, bug):
    """[x_t, a_{t-1}] W_a: the stacked vector in the other order from W_a's blocks."""
    return _g(variant).apply(stacked_input(x_t, a_prev) @ W_a + b_a)


def buggy_forward(variant, x, a0, W_a, b_a, *, bug):
    a_prev = np.zeros_like(a0) if bug == "initial-state-ignored" else a0
    a = np.zeros(x.shape[:2] + (W_a.shape[1],))
    for t in range(x.shape[1]):
        pair = stacked_input(x[:, t], a_prev) if bug == "stacking-wrong-order" \
            else stacked_input(a_prev, x[:, t])
        a_prev = a[:, t] = _g(variant).apply(pair @ W_a + b_a)
    return a


def buggy_backward(variant, da_out, x, a0, a, W_a, *, bug):
    """The stacked BPTT written out, with one misconception switched on by id."""
    g = _g(variant)
    N, T, n = x.shape
    d = W_a.shape[1]
    dx, dW_a, db_a = np.zeros_like(x), np.zeros_like(W_a), np.zeros(d)
    start = np.zeros_like(a0) if bug == "initial-state-ignored" else a0
    da_next = np.zeros_like(a0)
    for t in reversed(range(T)):
        a_prev = a[:, t] if bug == "off-by-one-previous-state" else \
            (a[:, t - 1] if t > 0 else start)
        da = da_out[:, t] + (0.0 if bug == "recurrent-term-dropped" else da_next)
        state = g.apply(a[:, t]) if bug == "derivative-at-preactivation" else a[:, t]
        delta = da * g.derivative_from_state(state)
        back = delta @ W_a.T                                   # (N, d + n)
        if bug == "stacking-wrong-order":                      # as if it were [x_t, a_{t-1}]
            dx[:, t], da_next = back[:, :n], back[:, n:]
            dW_t = stacked_input(x[:, t], a_prev).T @ delta
        else:
            da_next, dx[:, t] = back[:, :d], back[:, d:]
            dW_t = stacked_input(a_prev, x[:, t]).T @ delta
        if bug == "overwrite-not-accumulate":
            dW_a, db_a = dW_t, delta.sum(axis=0)
        else:
            dW_a, db_a = dW_a + dW_t, db_a + delta.sum(axis=0)
    return dx, da_next, dW_a, db_a


# -- the probes -------------------------------------------------------------------------


def probes_stack(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("stack_weights")
    W_aa, W_ax, _ = random_blocks(v, rng)
    return [Probe(name="random blocks", kwargs={"W_aa": W_aa, "W_ax": W_ax},
                  purpose="W_a = [W_aa; W_ax]: the state's block on top")]


def probes_split(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("split_weights")
    W_aa, W_ax, _ = random_blocks(v, rng)
    return [Probe(name="a random stacked matrix", kwargs={"W_a": stack_weights(W_aa, W_ax)},
                  purpose="the first d rows are W_aa, the last n rows W_ax")]


def probes_step(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("stacked_step")
    N, _, n, d, _ = v.sizes
    W_aa, W_ax, b_a = random_blocks(v, rng)
    return [Probe(name="one step",
                  kwargs={"a_prev": rng.normal(size=(N, d)), "x_t": rng.normal(size=(N, n)),
                          "W_a": stack_weights(W_aa, W_ax), "b_a": b_a},
                  purpose="a_t = g([a_{t-1}, x_t] W_a + b_a) with a non-zero previous state")]


def probes_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("stacked_forward")
    N, T, n, d, _ = v.sizes
    W_aa, W_ax, b_a = random_blocks(v, rng)
    x = rng.normal(size=(N, T, n))
    weights = {"W_a": stack_weights(W_aa, W_ax), "b_a": b_a}
    return [
        Probe(name="non-zero initial state",
              kwargs={"x": x, "a0": rng.normal(size=(N, d)), **weights},
              purpose="the first step must use the given a0", time_axis={"a": 1}),
        Probe(name="zero initial state", kwargs={"x": x, "a0": np.zeros((N, d)), **weights},
              purpose="the whole sequence from a0 = 0", time_axis={"a": 1}),
    ]


def probes_backward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("stacked_backward")
    N, T, n, d, _ = v.sizes
    W_aa, W_ax, b_a = random_blocks(v, rng)
    W_a = stack_weights(W_aa, W_ax)
    x, a0 = rng.normal(size=(N, T, n)), rng.normal(size=(N, d))
    a = layer_forward(x, a0, W_ax, W_aa, b_a, _g(v))
    time_axis = {"dx": 1}
    return [
        Probe(name="forward states, non-zero a0",
              kwargs={"da_out": rng.normal(size=(N, T, d)), "x": x, "a0": a0, "a": a, "W_a": W_a},
              purpose="full BPTT in the stacked form", time_axis=time_axis, repeat=True),
        Probe(name="gradient at the last step only",
              kwargs={"da_out": only_at_step(rng.normal(size=(N, d)), t=-1, T=T), "x": x,
                      "a0": a0, "a": a, "W_a": W_a},
              purpose="everything before T must arrive through W_aa's block",
              time_axis=time_axis),
        Probe(name="states not g of anything",
              kwargs={"da_out": rng.normal(size=(N, T, d)), "x": x, "a0": a0,
                      "a": random_states(v, rng, (N, T, d)), "W_a": W_a},
              purpose="g' must come from the states as given", time_axis=time_axis),
    ]


# -- the exercise ------------------------------------------------------------------------


STACK = r"W_a = [W_{aa};\ W_{ax}]\ \text{(the state's block on top)}"
STEP = r"a_t = g\big([a_{t-1}, x_t]\, W_a + b_a\big) = g(a_{t-1} W_{aa} + x_t W_{ax} + b_a)"
GRADIENT = (r"\frac{\partial L}{\partial W_a} = \sum_t [a_{t-1}, x_t]^\top \delta_t = "
            r"\Big[\frac{\partial L}{\partial W_{aa}};\ \frac{\partial L}{\partial W_{ax}}"
            r"\Big],\quad \Big[\frac{\partial L}{\partial a_{t-1}}, "
            r"\frac{\partial L}{\partial x_t}\Big] = \delta_t W_a^\top")
DELTA = (r"\frac{\partial L}{\partial a_t} = \frac{\partial L}{\partial a_t}\Big|_{\hat{y}_t} + "
         r"\delta_{t+1} W_{aa}^\top")
DERIVATIVE = derivative_through_state("a_t")
BACKWARD_BUGS = {
    "stacking-wrong-order": GRADIENT,
    "recurrent-term-dropped": DELTA,
    "off-by-one-previous-state": GRADIENT,
    "initial-state-ignored": r"[a_{t-1}, x_t] = [a_0, x_1] \text{ at the first step}",
    "derivative-at-preactivation": DERIVATIVE,
    "overwrite-not-accumulate": GRADIENT,
}


def build() -> Exercise:
    """The `stacked-weights` exercise."""
    stages = (
        Stage(name="stack_weights", title="Stacking W_aa and W_ax into W_a", points=1,
              inputs=("W_aa", "W_ax"), outputs=("W_a",),
              docstring="W_a = [W_aa; W_ax]: W_aa's rows on top of W_ax's (seed 001, in row "
                        "vectors).\n\n"
                        "W_aa: (d, d), W_ax: (n, d). Returns W_a: (d+n, d).",
              solve=solve_stack, probes=probes_stack,
              bugs=(Bug(misconception="stacking-wrong-order", implementation=stack_swapped,
                        correction=STACK),)),
        Stage(name="split_weights", title="Splitting W_a back into W_aa and W_ax", points=1,
              inputs=("W_a",), outputs=("W_aa", "W_ax"),
              docstring="The inverse of stack_weights: W_aa is the first d rows of W_a and "
                        "W_ax the last n.\n"
                        "The same split turns the stacked gradient ∂L/∂W_a into ∂L/∂W_aa and "
                        "∂L/∂W_ax.\n\n"
                        "W_a: (d+n, d). Returns W_aa: (d, d), W_ax: (n, d).",
              solve=solve_split, probes=probes_split,
              bugs=(Bug(misconception="stacking-wrong-order", implementation=split_swapped,
                        correction=STACK),)),
        Stage(name="stacked_step", title="One step in the stacked form", points=1,
              inputs=("a_prev", "x_t", "W_a", "b_a"), outputs=("a_t",),
              docstring="a_t = g([a_{t-1}, x_t] W_a + b_a), the stacked vector in the order of "
                        "W_a's blocks:\nthe same a_t as g(a_{t-1} W_aa + x_t W_ax + b_a).\n\n"
                        "a_prev: (N, d), x_t: (N, n), W_a: (d+n, d), b_a: (d,). "
                        "Returns a_t: (N, d).",
              solve=solve_step, probes=probes_step,
              bugs=bugs_from(buggy_step, {"stacking-wrong-order": STEP})),
        Stage(name="stacked_forward", title="The forward pass in the stacked form", points=1,
              inputs=("x", "a0", "W_a", "b_a"), outputs=("a",),
              docstring="Every state a_t, t = 0 … T−1, from the given initial state a0 (the "
                        "state before x_0),\nby a_t = g([a_{t-1}, x_t] W_a + b_a).\n\n"
                        "x: (N, T, n), a0: (N, d), W_a: (d+n, d), b_a: (d,). "
                        "Returns a: (N, T, d).",
              solve=solve_forward, probes=probes_forward,
              bugs=bugs_from(buggy_forward, {
                  "initial-state-ignored": r"a_1 = g([a_0, x_1] W_a + b_a)",
                  "stacking-wrong-order": STEP}),
              depends_on=("stacked_step",)),
        Stage(name="stacked_backward", title="BPTT in the stacked form", points=3,
              inputs=("da_out", "x", "a0", "a", "W_a"), outputs=("dx", "da0", "dW_a", "db_a"),
              docstring="BPTT through the stacked layer. With δ_t = ∂L/∂a_t ⊙ g'(·) at step t:\n"
                        "δ_t W_aᵀ = [∂L/∂a_{t-1} from step t, ∂L/∂x_t] (the blocks in W_a's "
                        "order),\n"
                        "∂L/∂W_a = Σ_t [a_{t-1}, x_t]ᵀ δ_t = [∂L/∂W_aa; ∂L/∂W_ax], "
                        "∂L/∂b_a = Σ_t Σ_n δ_t.\n\n"
                        "da_out: (N, T, d), the gradient reaching each a_t from its own "
                        "output ŷ_t.\n"
                        "x: (N, T, n), a0: (N, d), a: (N, T, d) the forward states, "
                        "W_a: (d+n, d).\n"
                        "Returns dx: (N, T, n), da0: (N, d), dW_a: (d+n, d), db_a: (d,).",
              solve=solve_backward, probes=probes_backward,
              bugs=bugs_from(buggy_backward, BACKWARD_BUGS,
                             applies={"derivative-at-preactivation": saturating}),
              gradient_of=GradientOf(forwards=("stacked_forward",), output="a",
                                     upstream="da_out",
                                     wrt={"dx": "x", "da0": "a0", "dW_a": "W_a", "db_a": "b_a"})),
    )
    return Exercise(
        id="stacked-weights",
        title="The stacked weight matrix W_a = [W_aa; W_ax] against the split form",
        seed="001",
        summary=("Seeds 001 and 003 write a recurrent layer with one stacked matrix, "
                 "a_t = g(W_a [a_{t-1}, x_t] + b_a), where W_a stacks W_aa and W_ax. It is the "
                 "same layer as a_t = g(a_{t-1} W_aa + x_t W_ax + b_a): you will stack and split "
                 "the weights, run the stacked forward pass, and backpropagate through it, "
                 "finding that ∂L/∂W_a is ∂L/∂W_aa and ∂L/∂W_ax stacked the same way."),
        notation={"x_t": "input at step t (n,)", "a_t": "state at step t (d,)",
                  "a0": "the state before the first input (d,)",
                  "W_aa": "state-to-state weights (d, d)", "W_ax": "input-to-state weights (n, d)",
                  "W_a": "the stacked weights [W_aa; W_ax] (d+n, d)", "b_a": "state bias (d,)",
                  "g": "the hidden activation"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("linear", "mse"),),
            "n_in": (2, 3, 4, 5), "n_hidden": (2, 3, 4, 5), "n_out": (2,),
            "T": (3, 4, 5, 6), "N": (2, 3),
        },
        stages=stages,
        solution_module="exercises.solutions.stacked_weights",
        equations=(STEP, STACK, GRADIENT),
    )


EXERCISE = build()
