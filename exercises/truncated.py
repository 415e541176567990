"""Exercise `truncated`: truncated BPTT with horizon k, its weight update, and what it leaves out.

Seeds 000 and 003 in the Elman notation U, W, s with row vectors and a batch of
N sequences of T steps:

    s_t = φ(x_t U + s_{t-1} W + b)        (no b in the variants without a bias)

DESIGN.md's truncated gradient with horizon k: each loss term E_t keeps the
uses of the weights at the steps τ = t, t−1, …, t−k+1 (with the exact total
derivative ∂E_t/∂θ_τ); k ≥ T is full BPTT. The student is given
ds_out[:, t] = ∂E_t/∂s_t, the gradient that reaches s_t from its own output,
so every entry of ds_out starts its own window of k steps.

The bias is what the variant decides. Without a bias the functions are given
b = None and return None where the bias's gradient or update would be: the
network has no such parameter. (Stage outputs are a fixed tuple in
`exercises.spec`, so a missing output is None rather than absent.)
"""

from __future__ import annotations

from functools import partial

import numpy as np

from exercises.elman import random_states, saturating
from exercises.spec import Bug, Exercise, Instance, Probe, Stage, Variant, only_at_step
from reference import activations
from reference.network import as_injection
from reference.recurrence import layer_backward, layer_forward

# -- data for the probes ----------------------------------------------------------------


def random_weights(variant: Variant, rng: np.random.Generator):
    """U, W and b (None without a bias) at a scale where φ is neither saturated nor linear."""
    n, d = variant.n_in, variant.n_hidden
    return (rng.normal(0.0, 0.6, (n, d)), rng.normal(0.0, 0.6, (d, d)),
            rng.normal(0.0, 0.6, d) if variant.bias else None)


def alive(s: np.ndarray) -> bool:
    """Whether relu states pass gradients back: most entries and a unit of every row positive."""
    return (s > 0).mean() >= 0.5 and (s > 0).any(axis=-1).all()


def random_problem(variant: Variant, rng: np.random.Generator):
    """x, a non-zero s0, the forward states s, and U, W, b.

    For relu the draw is repeated (from the same generator) until the states are `alive`:
    a network whose units are all off passes no gradient back and hides every mistake.
    """
    for _ in range(100):
        U, W, b = random_weights(variant, rng)
        x = rng.normal(size=(variant.N, variant.T, variant.n_in))
        s0 = random_states(variant, rng, (variant.N, variant.n_hidden))
        s = layer_forward(x, s0, U, W, b, _phi(variant))
        if variant.activation != "relu" or alive(s):
            break
    return {"x": x, "s0": s0, "s": s, "U": U, "W": W}, b


# -- the right answers, in the student's signatures ---------------------------------------


def _phi(variant):
    return activations.hidden(variant.activation)


def solve_truncated(variant, ds_out, x, s0, s, U, W, b, k):
    dU, dW, db, _, _ = layer_backward(as_injection(ds_out), x, s, s0, U, W, _phi(variant),
                                      horizon=k)
    return dU, dW, None if b is None else db


def solve_update(variant, ds_out, x, s0, s, U, W, b, k, lr, *, step=1.0):
    dU, dW, db = solve_truncated(variant, ds_out, x, s0, s, U, W, b, k)
    return (U - step * lr * dU, W - step * lr * dW,
            None if b is None else b - step * lr * db)


def solve_error(variant, ds_out, x, s0, s, U, W, k, *, truncate=None):
    """What truncation leaves out of ∇W: dW_full − dW_k, and its size relative to dW_full."""
    _, dW_k, _ = (truncate or solve_truncated)(variant, ds_out, x, s0, s, U, W, None, k)
    _, dW_full, _ = solve_truncated(variant, ds_out, x, s0, s, U, W, None, x.shape[1])
    missing = dW_full - dW_k
    return missing, np.linalg.norm(missing) / np.linalg.norm(dW_full)


# -- the bugs -------------------------------------------------------------------------------


def buggy_truncated(variant, ds_out, x, s0, s, U, W, b, k, *, bug):
    """truncated_bptt written out loss term by loss term, with one mistake switched on."""
    phi = _phi(variant)
    k = {"horizon-minus-one": k - 1, "horizon-plus-one": k + 1}.get(bug, k)
    N, T, _ = x.shape
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    for t in range(T):
        ds = ds_out[:, t]
        for tau in range(t, -1, -1):
            if bug == "truncation-wrong-end":
                kept = tau <= k - 1                      # the first k terms of Σ_{τ=0}^{t}
            else:
                kept = tau >= t - k + 1
                if not kept:
                    break
            if bug == "derivative-at-preactivation":
                da = ds * phi.derivative_from_state(phi.apply(s[:, tau]))
            else:
                da = ds * phi.derivative_from_state(s[:, tau])
            if tau > 0:
                s_prev = s[:, tau - 1]
            else:
                s_prev = np.zeros_like(s0) if bug == "initial-state-ignored" else s0
            if bug == "off-by-one-previous-state":
                s_prev = s[:, tau]
            db_tau = da.mean(axis=0) if bug == "bias-not-summed" else da.sum(axis=0)
            if kept and bug == "overwrite-not-accumulate":
                dU, dW, db = x[:, tau].T @ da, s_prev.T @ da, db_tau
            elif kept:
                dU, dW, db = dU + x[:, tau].T @ da, dW + s_prev.T @ da, db + db_tau
            if bug == "recurrent-term-dropped":
                break
            ds = da @ W if bug == "weight-not-transposed" else da @ W.T
    return dU, dW, None if b is None else db


def _real_bug(bug: str) -> str:
    """The catalogue id of a bug of this module ('horizon-minus-one' is horizon-off-by-one)."""
    return "horizon-off-by-one" if bug.startswith("horizon-") else bug


# -- the probes -------------------------------------------------------------------------


def probes_truncated(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("truncated_bptt")
    N, T, d, k = v.N, v.T, v.n_hidden, v.horizon
    problem, b = random_problem(v, rng)
    last_only = only_at_step(rng.normal(size=(N, d)), t=-1, T=T)
    return [
        Probe(name=f"forward states, non-zero s_0, k = {k}",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), **problem, "b": b, "k": k},
              purpose="every loss term E_t through its own last k steps", repeat=True),
        Probe(name=f"gradient from E_{{T-1}} only, k = {k}",
              kwargs={"ds_out": last_only, **problem, "b": b, "k": k},
              purpose="one loss term: only the uses at steps T−k … T−1 count"),
        Probe(name=f"states not φ of anything, k = {k}",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), **problem,
                      "s": random_states(v, rng, (N, T, d)), "b": b, "k": k},
              purpose="φ' must come from the states as given"),
        Probe(name=f"k = T = {T}",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), **problem, "b": b, "k": T},
              purpose="a horizon of T or more is full BPTT"),
    ]


def probes_update(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("truncated_update")
    problem, b = random_problem(v, rng)
    return [Probe(name=f"one update, k = {v.horizon}",
                  kwargs={"ds_out": rng.normal(size=(v.N, v.T, v.n_hidden)), **problem, "b": b,
                          "k": v.horizon, "lr": v.lr},
                  purpose="θ ← θ − α ∇θ with the truncated gradients", repeat=True)]


def probes_error(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("truncation_error")
    N, T, d = v.N, v.T, v.n_hidden
    problem, _ = random_problem(v, rng)
    last_only = only_at_step(rng.normal(size=(N, d)), t=-1, T=T)
    return [
        Probe(name=f"forward states, k = {v.horizon}",
              kwargs={"ds_out": rng.normal(size=(N, T, d)), **problem, "k": v.horizon},
              purpose="the part of full BPTT's ∇W that truncation leaves out", repeat=True),
        Probe(name=f"gradient from E_{{T-1}} only, k = {v.horizon}",
              kwargs={"ds_out": last_only, **problem, "k": v.horizon},
              purpose="for one loss term: the uses before step T−k"),
    ]


# -- the exercise ------------------------------------------------------------------------


WINDOW = (r"\nabla^{(k)}_W E = \sum_t \sum_{\tau = t-k+1}^{t} s_{\tau-1}^\top \delta^{(t)}_\tau,"
          r"\quad \delta^{(t)}_t = \frac{\partial E_t}{\partial s_t} \odot \varphi'(a_t),\ "
          r"\delta^{(t)}_{\tau-1} = \delta^{(t)}_\tau W^\top \odot \varphi'(a_{\tau-1})")
TRUNCATED_BUGS = (
    ("horizon-minus-one", WINDOW, lambda v: v.horizon != 2),  # k − 1 = 1 is the next one
    ("horizon-plus-one", WINDOW, lambda v: True),
    ("recurrent-term-dropped",
     r"\frac{\partial E_t}{\partial s_{\tau-1}} = \delta^{(t)}_\tau W^\top "
     r"\text{ for } \tau > t-k+1", lambda v: v.horizon >= 2),
    ("overwrite-not-accumulate", WINDOW, lambda v: True),
    ("weight-not-transposed",
     r"\frac{\partial E_t}{\partial s_{\tau-1}} = \delta^{(t)}_\tau W^\top",
     lambda v: v.horizon >= 2),
    ("initial-state-ignored", r"\nabla_W E_t \mathrel{+}= s_0^\top \delta^{(t)}_1",
     lambda v: True),
    ("off-by-one-previous-state", WINDOW, lambda v: True),
    ("truncation-wrong-end", WINDOW, lambda v: True),
    ("derivative-at-preactivation",
     r"\varphi'(a_\tau)\ \text{written through } s_\tau\ (\tanh: 1 - s_\tau^2,\ "
     r"\sigma: s_\tau(1 - s_\tau))", saturating),
    ("bias-not-summed", r"\nabla^{(k)}_b E = \sum_t \sum_{\tau=t-k+1}^{t} \sum_n "
     r"\delta^{(t)}_{\tau,n}", lambda v: v.bias),
)
UPDATE = r"\Delta\theta = -\alpha \nabla^{(k)}_\theta E"
ERROR = (r"\nabla_W E - \nabla^{(k)}_W E = \sum_t \sum_{\tau=0}^{t-k} "
         r"s_{\tau-1}^\top \delta^{(t)}_\tau")


def build() -> Exercise:
    """The `truncated` exercise."""

    stages = (
        Stage(name="truncated_bptt", title="Truncated BPTT with horizon k", points=4,
              inputs=("ds_out", "x", "s0", "s", "U", "W", "b", "k"), outputs=("dU", "dW", "db"),
              docstring="The truncated gradient with horizon k: "
                        "each loss term E_t reaches the weights\n"
                        "through its last k steps only, τ = t, t−1, …, t−k+1 "
                        "(k ≥ T is full BPTT).\n\n"
                        "ds_out: (N, T, d), ds_out[:, t] = ∂E_t/∂s_t from the output at step t.\n"
                        "x: (N, T, n), s0: (N, d), s: (N, T, d) the forward states, U: (n, d),\n"
                        "W: (d, d), b: (d,) the bias, or None when the network has none; k ≥ 1.\n"
                        "Returns dU (n, d), dW (d, d), db (d,) (None when b is None).",
              solve=solve_truncated, probes=probes_truncated,
              bugs=tuple(Bug(misconception=_real_bug(bug),
                             implementation=partial(buggy_truncated, bug=bug),
                             correction=correction, applies=applies)
                         for bug, correction, applies in TRUNCATED_BUGS)),
        Stage(name="truncated_update", title="The weight update truncated BPTT gives", points=1,
              inputs=("ds_out", "x", "s0", "s", "U", "W", "b", "k", "lr"), outputs=("U", "W", "b"),
              docstring="One gradient-descent step with the truncated gradients: "
                        "θ ← θ − α ∇θ^(k).\n\n"
                        "The arguments of truncated_bptt, then lr: the rate α.\n"
                        "Returns the new U (n, d), W (d, d), b (d,) (None when b is None); do not\n"
                        "change the given arrays in place.",
              solve=solve_update, probes=probes_update,
              bugs=(Bug(misconception="update-wrong-sign",
                        implementation=partial(solve_update, step=-1.0),
                        correction=UPDATE),
                    Bug(misconception="update-applied-twice",
                        implementation=partial(solve_update, step=2.0),
                        correction=UPDATE)),
              depends_on=("truncated_bptt",)),
        Stage(name="truncation_error", title="What truncation leaves out", points=2,
              inputs=("ds_out", "x", "s0", "s", "U", "W", "k"), outputs=("dW_missing", "relative"),
              docstring="Compare with full BPTT: "
                        "the part of ∇W that truncation to k steps leaves out,\n"
                        "dW_full − dW_k, and its size ‖dW_full − dW_k‖ / ‖dW_full‖ "
                        "(Frobenius norms).\n\n"
                        "The arguments of truncated_bptt without b. Returns dW_missing (d, d) and\n"
                        "relative, a number.",
              solve=solve_error, probes=probes_error,
              bugs=tuple(Bug(misconception=_real_bug(bug),
                             implementation=partial(solve_error,
                                                    truncate=partial(buggy_truncated, bug=bug)),
                             correction=ERROR)
                         for bug in ("horizon-minus-one", "horizon-plus-one",
                                     "truncation-wrong-end")),
              depends_on=("truncated_bptt",)),
    )
    return Exercise(
        id="truncated",
        title="Truncated backpropagation through time",
        seed="003",
        summary=("Full BPTT sends every loss term E_t back to the start of the sequence. "
                 "Truncated BPTT with horizon k stops after k steps: E_t only reaches the "
                 "weights through steps t, t−1, …, t−k+1. You will write the truncated "
                 "gradient, the weight update it gives, and measure what it leaves out of "
                 "full BPTT's gradient (seeds 000 and 003)."),
        notation={"x_t": "input at step t", "s_t": "state at step t",
                  "U": "input-to-state weights", "W": "state-to-state weights",
                  "b": "state bias (absent in some variants)", "k": "truncation horizon",
                  "E_t": "loss term at step t", "α": "learning rate",
                  "δ^(t)_τ": "the gradient of E_t at step τ's pre-activation"},
        variant_space={
            "activation": ("tanh", "sigmoid", "relu", "identity"),
            "head": (("softmax", "ce"),),
            "bias": (True, False),
            "horizon": (1, 2, 3, 4),
            "n_in": (2, 3, 4), "n_hidden": (3, 4, 5), "n_out": (3,),
            "T": (5, 6, 7, 8), "N": (2, 3), "lr": (0.05, 0.1, 0.2),
        },
        stages=stages,
        solution_module="exercises.solutions.truncated",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W + b)",
                   r"\nabla^{(k)}_\theta E = \sum_t \sum_{\tau=t-k+1}^{t} "
                   r"\frac{\partial E_t}{\partial \theta_\tau}"),
    )


EXERCISE = build()
