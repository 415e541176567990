"""Exercise `output-jacobian`: seed 002's vector (case 1) against scalar (case 2) output activation.

Seed 002 writes the output layer as Z^{(2)}(t) = h(t) W^{(2)} + b^{(2)} and
Y(t) = f^{(2)}(Z^{(2)}(t)), with row vectors and the derivative of the
divergence as a row: ∇_{Z^{(2)}} DIV = ∇_Y DIV · ∇_{Z^{(2)}} Y. Here, batch
first and 0-based in time (DESIGN.md):

    o = Z^{(2)} (N, T, k),  y = Y (N, T, k),  h (N, T, d),  W2 = W^{(2)} (d, k),  o = h W2 + b2

- Case 1, vector activation (softmax): every y_j depends on every o_i and
  J = ∂y/∂o is full, J[j, i] = ∂y_j/∂o_i = y_j (δ_ij − y_i).
- Case 2, scalar activation (tanh, sigmoid): y_i depends on o_i alone and J is
  diagonal, J[i, i] = g'(o_i) (tanh: 1 − y_i², sigmoid: y_i (1 − y_i)).

Every student works both cases side by side, as the seed does: the stages
`output_jacobian` and `output_delta` for the variant's scalar activation g
(tanh or sigmoid, case 2), and `softmax`, `softmax_jacobian` and
`softmax_delta` for softmax (case 1).

Then dL/do = dL/dy · J (a row times the Jacobian: dL/do_i = Σ_j dL/dy_j J[j, i]),
dL/dh = dL/do · W2ᵀ and ∇_{W2} L = Σ_{n,t} h_ntᵀ dL/do_nt.

Transposes. W2 is stored as seed 002 stores W^{(2)}: row i for hidden unit i,
column j for output j (w_ij connects h_i to Z_j). The matrix the notes display
in ∇_h DIV = ∇_Z DIV W^{(2)} has w_1j … w_{N₁}j in its row j: it is W2ᵀ in this
storage, hence dL/dh = dL/do W2ᵀ.

A Jacobian transposed in the product, dL/dy · Jᵀ, cannot be told apart here:
the softmax Jacobian is symmetric (y_j δ_ij − y_j y_i) and the scalar ones are
diagonal. The transposition that does show is that of W2 (when d = k, so that
no shape error gives it away) and of the weight gradient's outer product.

The right answers come from `reference.activations` (g, its vector–Jacobian
product and `softmax_jacobian`) and `reference.network.output_layer_grads`.
"""

from __future__ import annotations

import numpy as np

from exercises.spec import (
    Bug,
    Exercise,
    GradientOf,
    Instance,
    Probe,
    Stage,
    Variant,
    bugs_from,
)
from reference import activations
from reference.network import output_layer_grads

# -- data for the probes ----------------------------------------------------------------


def _g(variant: Variant) -> activations.OutputActivation:
    return activations.output(variant.output)


SOFTMAX = activations.output("softmax")


def random_preactivations(variant: Variant, rng: np.random.Generator) -> np.ndarray:
    N, T, _, _, k = variant.sizes
    return rng.normal(0.0, 1.5, (N, T, k))


# -- the right answers, in the student's signatures ---------------------------------------


def solve_jacobian(variant, o):
    g = _g(variant)
    y = g.apply(np.asarray(o, dtype=np.float64))
    if not g.elementwise:
        return activations.softmax_jacobian(y)
    return g.vjp(y, np.ones_like(y))[..., :, None] * np.eye(y.shape[-1])


def solve_delta(variant, o, dL_dy):
    g = _g(variant)
    return g.vjp(g.apply(np.asarray(o, dtype=np.float64)), np.asarray(dL_dy, dtype=np.float64))


def solve_softmax(variant, o):
    return SOFTMAX.apply(np.asarray(o, dtype=np.float64))


def solve_softmax_jacobian(variant, o):
    return activations.softmax_jacobian(solve_softmax(variant, o))


def solve_softmax_delta(variant, o, dL_dy):
    return SOFTMAX.vjp(solve_softmax(variant, o), np.asarray(dL_dy, dtype=np.float64))


def solve_hidden_delta(variant, do, W2):
    return do @ W2.T


def solve_weight_grad(variant, h, do):
    return output_layer_grads(h, do)


# -- the bugs -------------------------------------------------------------------------------


def _scalar_derivative(name: str, y: np.ndarray) -> np.ndarray:
    return {"tanh": 1.0 - y * y, "sigmoid": y * (1.0 - y)}[name]


def buggy_jacobian(variant, o, *, bug):
    """Case 2's diagonal with the other scalar activation's g' (wrong-activation-derivative)."""
    y = _g(variant).apply(np.asarray(o, dtype=np.float64))
    other = {"tanh": "sigmoid", "sigmoid": "tanh"}[variant.output]
    return _scalar_derivative(other, y)[..., :, None] * np.eye(y.shape[-1])


def buggy_delta(variant, o, dL_dy, *, bug):
    J = buggy_jacobian(variant, o, bug=bug)
    return np.einsum("ntj,ntji->nti", dL_dy, J)


def scalar_jacobian_full(variant, o):
    """Case 1's formula y_j (δ_ij − y_i) applied to a scalar activation's y."""
    return activations.softmax_jacobian(_g(variant).apply(np.asarray(o, dtype=np.float64)))


def scalar_delta_full(variant, o, dL_dy):
    return np.einsum("ntj,ntji->nti", dL_dy, scalar_jacobian_full(variant, o))


def softmax_wrong_axis(variant, o):
    """exp(o) normalised over the time steps (axis 1) instead of the k outputs."""
    o = np.asarray(o, dtype=np.float64)
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_jacobian_elementwise(variant, o):
    """Softmax treated as a scalar activation: y (1 − y) on the diagonal, 0 off it."""
    y = solve_softmax(variant, o)
    return (y * (1.0 - y))[..., :, None] * np.eye(y.shape[-1])


def softmax_delta_elementwise(variant, o, dL_dy):
    y = solve_softmax(variant, o)
    return np.asarray(dL_dy, dtype=np.float64) * y * (1.0 - y)


def hidden_delta_untransposed(variant, do, W2):
    return do @ W2


def buggy_weight_grad(variant, h, do, *, bug):
    if bug == "outer-product-reversed":
        dW2, db2 = output_layer_grads(h, do)
        return dW2.T, db2
    if bug == "overwrite-not-accumulate":              # a loop over t that keeps the last step
        return h[:, -1].T @ do[:, -1], do[:, -1].sum(axis=0)
    dW2, _ = output_layer_grads(h, do)                 # bias-not-summed: a mean over the batch
    return dW2, do.sum(axis=1).mean(axis=0)


# -- the probes -------------------------------------------------------------------------


def probes_jacobian(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("output_jacobian")
    return [Probe(name="random pre-activations", kwargs={"o": random_preactivations(v, rng)},
                  purpose="∂y_j/∂o_i for every j and i at every step", time_axis={"J": 1})]


def probes_delta(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("output_delta")
    N, T, _, _, k = v.sizes
    o = random_preactivations(v, rng)
    one_output = np.zeros((N, T, k))
    one_output[..., int(rng.integers(k))] = rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 2.0)
    time_axis = {"do": 1}
    return [
        Probe(name="random dL/dy", kwargs={"o": o, "dL_dy": rng.normal(size=(N, T, k))},
              purpose="dL/do = dL/dy · ∂y/∂o", time_axis=time_axis),
        Probe(name="dL/dy on one output only", kwargs={"o": o, "dL_dy": one_output},
              purpose="only y_j carries a gradient: every o_i still receives one through softmax",
              time_axis=time_axis),
    ]


def probes_softmax(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("softmax")
    N, T, _, _, k = v.sizes
    o = random_preactivations(v, rng)
    shifted = o + rng.uniform(720.0, 760.0, (N, T, 1))      # e^710 overflows float64
    return [Probe(name="random pre-activations", kwargs={"o": o},
                  purpose="y_k = exp(o_k) / Σ_j exp(o_j) over the k outputs of each step",
                  time_axis={"y": 1}),
            Probe(name="large pre-activations", kwargs={"o": shifted},
                  purpose="softmax(o + c) = softmax(o): subtract the largest o_j before exp, "
                          "or exp overflows", time_axis={"y": 1})]


def probes_softmax_jacobian(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("softmax_jacobian")
    return [Probe(name="random pre-activations", kwargs={"o": random_preactivations(v, rng)},
                  purpose="∂y_j/∂o_i for every j and i at every step, off the diagonal too",
                  time_axis={"J": 1})]


def probes_softmax_delta(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("softmax_delta")
    N, T, _, _, k = v.sizes
    o = random_preactivations(v, rng)
    one_output = np.zeros((N, T, k))
    one_output[..., int(rng.integers(k))] = rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 2.0)
    time_axis = {"do": 1}
    return [
        Probe(name="random dL/dy", kwargs={"o": o, "dL_dy": rng.normal(size=(N, T, k))},
              purpose="dL/do = dL/dy · ∂y/∂o with the full Jacobian", time_axis=time_axis),
        Probe(name="dL/dy on one output only", kwargs={"o": o, "dL_dy": one_output},
              purpose="only y_j carries a gradient: every o_i still receives one through softmax",
              time_axis=time_axis),
    ]


def probes_hidden_delta(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("hidden_delta")
    N, T, _, d, k = v.sizes
    return [Probe(name="random dL/do and W2",
                  kwargs={"do": rng.normal(size=(N, T, k)), "W2": rng.normal(0.0, 0.6, (d, k))},
                  purpose="dL/dh = dL/do · W2ᵀ at every step", time_axis={"dh": 1})]


def probes_weight_grad(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("output_weight_grad")
    N, T, _, d, k = v.sizes
    return [Probe(name="random states and dL/do",
                  kwargs={"h": rng.uniform(-1.0, 1.0, (N, T, d)), "do": rng.normal(size=(N, T, k))},
                  purpose="the sum over sequences and steps of h_tᵀ dL/do_t", repeat=True)]


# -- the exercise ------------------------------------------------------------------------


JACOBIAN = r"\frac{\partial y_j}{\partial o_i} = y_j(\delta_{ij} - y_i)"
SCALAR = r"\frac{\partial y_i}{\partial o_i} = g'(o_i)\quad(\tanh: 1 - y_i^2,\ " \
         r"\sigma: y_i(1 - y_i))"
DELTA = r"\frac{\partial L}{\partial o_i} = \sum_j \frac{\partial L}{\partial y_j}" \
        r"\frac{\partial y_j}{\partial o_i}"
SCALAR_DELTA = r"\frac{\partial L}{\partial o_i} = \frac{\partial L}{\partial y_i}\, g'(o_i)"
SOFTMAX_EQ = r"y_{t,i} = e^{o_{t,i}} \Big/ \sum_{j=1}^{k} e^{o_{t,j}}\ " \
             r"\text{(a sum over the outputs of one step)}"
HIDDEN = r"\frac{\partial L}{\partial h} = \frac{\partial L}{\partial o}\, W_2^\top"
WEIGHT = r"\nabla_{W_2} L = \sum_{n,t} h_{nt}^\top \frac{\partial L}{\partial o_{nt}},\quad " \
         r"\nabla_{b_2} L = \sum_{n,t} \frac{\partial L}{\partial o_{nt}}"


def several_sequences(variant) -> bool:
    """Whether N > 1, so that a mean over the batch differs from its sum."""
    return variant.N > 1


def is_square(variant) -> bool:
    """Whether W2 is square, so that a missing transpose raises no shape error."""
    return variant.n_hidden == variant.n_out


def build() -> Exercise:
    """The `output-jacobian` exercise."""

    def scalar_bugs(wrong_derivative, full, correction):
        return (*bugs_from(wrong_derivative, {"wrong-activation-derivative": correction}),
                Bug(misconception="scalar-jacobian-full", implementation=full,
                    correction=correction))

    stages = (
        Stage(name="output_jacobian", title="The Jacobian of the output activation", points=2,
              inputs=("o",), outputs=("J",),
              docstring="Case 2, a scalar activation: J = ∂y/∂o for y = g(o) at every step, "
                        "J[n, t, j, i] = ∂y_{t,j}/∂o_{t,i}.\n"
                        "g is tanh or sigmoid: y_i depends on o_i alone, so J holds "
                        "g'(o_i) on the diagonal\nand 0 off it.\n\n"
                        "o: (N, T, k) output pre-activations Z^(2). Returns J: (N, T, k, k).",
              solve=solve_jacobian, probes=probes_jacobian,
              bugs=scalar_bugs(buggy_jacobian, scalar_jacobian_full, SCALAR)),
        Stage(name="output_delta", title="The gradient at the output pre-activation", points=2,
              inputs=("o", "dL_dy"), outputs=("do",),
              docstring="Case 2: dL/do = dL/dy · ∂y/∂o for y = g(o), a row times the "
                        "Jacobian at every step:\n"
                        "dL/do_i = Σ_j dL/dy_j ∂y_j/∂o_i (seed 002's ∇_Z DIV = ∇_Y DIV ∇_Z Y),\n"
                        "which for a scalar g is dL/dy_i g'(o_i).\n\n"
                        "o: (N, T, k), dL_dy: (N, T, k). Returns do: (N, T, k).",
              solve=solve_delta, probes=probes_delta,
              bugs=scalar_bugs(buggy_delta, scalar_delta_full, SCALAR_DELTA),
              depends_on=("output_jacobian",),
              gradient_of=GradientOf(forwards=("g",), output="g", upstream="dL_dy",
                                     wrt={"do": "o"})),
        Stage(name="softmax", title="Case 1's vector activation: softmax", points=1,
              inputs=("o",), outputs=("y",),
              docstring="y_k = exp(o_k) / Σ_j exp(o_j) over the k outputs of every step "
                        "(seed 002, case 1).\n"
                        "softmax(o + c) = softmax(o): subtract the largest o_j first, so that "
                        "exp cannot overflow.\n\n"
                        "o: (N, T, k). Returns y: (N, T, k).",
              solve=solve_softmax, probes=probes_softmax,
              bugs=(Bug(misconception="softmax-wrong-axis", implementation=softmax_wrong_axis,
                        correction=SOFTMAX_EQ),)),
        Stage(name="softmax_jacobian", title="Case 1: the full Jacobian of softmax", points=2,
              inputs=("o",), outputs=("J",),
              docstring="Case 1, a vector activation: J = ∂y/∂o for y = softmax(o) at every "
                        "step,\nJ[n, t, j, i] = ∂y_{t,j}/∂o_{t,i} = y_j (δ_ij − y_i): every y_j "
                        "depends on every o_i,\nso J is full.\n\n"
                        "o: (N, T, k). Returns J: (N, T, k, k).",
              solve=solve_softmax_jacobian, probes=probes_softmax_jacobian,
              bugs=(Bug(misconception="softmax-jacobian-elementwise",
                        implementation=softmax_jacobian_elementwise, correction=JACOBIAN),),
              depends_on=("softmax",)),
        Stage(name="softmax_delta", title="Case 1: the gradient at the output pre-activation",
              points=2, inputs=("o", "dL_dy"), outputs=("do",),
              docstring="Case 1: dL/do = dL/dy · ∂y/∂o for y = softmax(o) at every step, "
                        "with the full Jacobian:\n"
                        "dL/do_i = Σ_j dL/dy_j y_j (δ_ij − y_i) "
                        "= y_i (dL/dy_i − Σ_j dL/dy_j y_j).\n\n"
                        "o: (N, T, k), dL_dy: (N, T, k). Returns do: (N, T, k).",
              solve=solve_softmax_delta, probes=probes_softmax_delta,
              bugs=(Bug(misconception="softmax-jacobian-elementwise",
                        implementation=softmax_delta_elementwise, correction=DELTA + r",\quad "
                        + JACOBIAN),),
              depends_on=("softmax", "softmax_jacobian"),
              gradient_of=GradientOf(forwards=("softmax",), output="y", upstream="dL_dy",
                                     wrt={"do": "o"})),
        Stage(name="hidden_delta", title="The gradient reaching the hidden state", points=1,
              inputs=("do", "W2"), outputs=("dh",),
              docstring="dL/dh = dL/do · W2ᵀ at every step (o = h W2 + b2; seed 002's\n"
                        "∇_h DIV = ∇_Z DIV W^(2) displays the matrix W2ᵀ of this storage).\n\n"
                        "do: (N, T, k), W2: (d, k). Returns dh: (N, T, d).",
              solve=solve_hidden_delta, probes=probes_hidden_delta,
              bugs=(Bug(misconception="weight-not-transposed",
                        implementation=hidden_delta_untransposed,
                        correction=HIDDEN, applies=is_square),)),
        Stage(name="output_weight_grad", title="The output layer's weight gradient", points=1,
              inputs=("h", "do"), outputs=("dW2", "db2"),
              docstring="∇_{W2} L = Σ_n Σ_t h_ntᵀ dL/do_nt (seed 002: "
                        "∂DIV/∂w_ij = h_i ∂DIV/∂Z_j) and\n"
                        "∇_{b2} L = Σ_n Σ_t dL/do_nt.\n\n"
                        "h: (N, T, d), do: (N, T, k). Returns dW2: (d, k) and db2: (k,).",
              solve=solve_weight_grad, probes=probes_weight_grad,
              bugs=bugs_from(buggy_weight_grad, {"outer-product-reversed": WEIGHT,
                                                 "overwrite-not-accumulate": WEIGHT,
                                                 "bias-not-summed": WEIGHT},
                             applies={"outer-product-reversed": is_square,
                                      "bias-not-summed": several_sequences})),
    )
    return Exercise(
        id="output-jacobian",
        title="Vector against scalar output activations in the backward pass",
        seed="002",
        summary=("Softmax is a vector activation: each output depends on every pre-activation, "
                 "so its Jacobian is a full matrix (seed 002, case 1). tanh and sigmoid act on "
                 "each entry alone and their Jacobian is diagonal (case 2). You will work both "
                 "cases side by side: build the Jacobian of your scalar activation g and of "
                 "softmax, push dL/dy through each to dL/do, and carry the gradient on to the "
                 "hidden state and the output weights."),
        notation={"o": "output pre-activation Z^(2)(t) (k,)",
                  "y": "output Y(t) = g(o) (case 2) or softmax(o) (case 1) (k,)",
                  "h": "hidden state h(t) (d,)", "W2": "hidden-to-output weights W^(2) (d, k)",
                  "b2": "output bias b^(2) (k,)", "J": "the Jacobian ∂y/∂o (k, k)"},
        variant_space={
            "activation": ("identity",),
            "head": (("tanh", "mse"), ("sigmoid", "mse")),      # case 2; case 1 is softmax
            "n_in": (2,), "n_hidden": (3, 4, 5), "n_out": (3, 4),
            "T": (3, 4, 5), "N": (2, 3),
        },
        stages=stages,
        solution_module="exercises.solutions.output_jacobian",
        equations=(r"o_t = h_t W_2 + b_2", r"y_t = g(o_t)",
                   r"\frac{\partial L}{\partial o_t} = \frac{\partial L}{\partial y_t}"
                   r"\,\frac{\partial y_t}{\partial o_t}",
                   HIDDEN),
    )


EXERCISE = build()
