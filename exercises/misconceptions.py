"""The catalogue of known BPTT mistakes, in plain words.

Each exercise stage that a mistake can show up in implements it as a `Bug`
(`exercises.spec`): a function with the student's signature that makes that
mistake, and the corrected equation in the exercise's notation. When a
student's wrong answer matches a bug's answer, the feedback names the
misconception with the words below and shows the correction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Misconception:
    id: str
    title: str
    explanation: str


_ENTRIES = (
    Misconception(
        "recurrent-term-dropped",
        "The recurrent term is missing from the state gradient",
        "The gradient reaching a state must include what flows back from the next state, "
        "through W, not only what comes from this step's output. Without it every loss term "
        "only updates the weights at its own step: that is truncation with horizon 1, not BPTT.",
    ),
    Misconception(
        "overwrite-not-accumulate",
        "Gradients are overwritten instead of accumulated over time",
        "The weights are shared by every time step, so their gradient is a sum over steps. "
        "Assigning the gradient in the loop (=) keeps only the last step visited; add each "
        "step's contribution (+=).",
    ),
    Misconception(
        "derivative-at-preactivation",
        "The activation's derivative is applied to a value that has already been activated",
        "The state s_t is φ(a_t) already. Write φ'(a_t) through the state (for tanh, 1 − s_t²); "
        "applying φ once more, as in 1 − tanh(s_t)², differentiates at the wrong point.",
    ),
    Misconception(
        "wrong-activation-derivative",
        "The derivative of another activation function is used",
        "The derivative must be that of this network's activation: tanh' = 1 − s², "
        "σ' = s(1 − s), relu' = [s > 0], identity' = 1.",
    ),
    Misconception(
        "off-by-one-previous-state",
        "The current state is used where the previous state belongs",
        "In s_t = φ(x_t U + s_{t-1} W + b) the recurrent weight W multiplies the previous state, "
        "so its gradient at step t is s_{t-1}ᵀ δ_t, not s_tᵀ δ_t.",
    ),
    Misconception(
        "initial-state-ignored",
        "The initial state is treated as zero",
        "The first step uses the given initial state s_0 (the state before the first input), "
        "both in the forward pass and in the recurrent weight's gradient at the first step.",
    ),
    Misconception(
        "weight-not-transposed",
        "A weight matrix is not transposed in the backward pass",
        "With row vectors, s_t = … + s_{t-1} W sends the gradient back as δ_t Wᵀ. Because W is "
        "square, forgetting the transpose gives no shape error, only wrong numbers.",
    ),
    Misconception(
        "weight-transposed-forward",
        "A weight matrix is transposed in the forward pass",
        "With row vectors, s_t = φ(x_t U + s_{t-1} W + b) multiplies the previous state by W "
        "as it is. Because W is square, a stray transpose gives no shape error, only wrong "
        "numbers.",
    ),
    Misconception(
        "bias-not-summed",
        "The bias gradient is not summed over the batch",
        "The bias is added to every sequence of the batch, so its gradient is the sum of the "
        "per-sequence gradients, not their mean or the gradient of one sequence.",
    ),
    Misconception(
        "mean-sum-mixed-up",
        "Mean and sum over the batch or time are mixed up",
        "The loss is L = (1/N) Σ_n Σ_t ℓ: a mean over the N sequences and a sum over the time "
        "steps. Dividing by T or N·T, or not dividing by N, scales every gradient.",
    ),
    Misconception(
        "softmax-jacobian-elementwise",
        "The softmax Jacobian is treated as diagonal",
        "Softmax is a vector activation: every y_j depends on every o_i, "
        "∂y_j/∂o_i = y_j(δ_ij − y_i). Multiplying elementwise by y(1 − y) treats it as a scalar "
        "activation such as the sigmoid (seed 002, case 1 against case 2).",
    ),
    Misconception(
        "scalar-jacobian-full",
        "A scalar activation is given the Jacobian of a vector activation",
        "tanh and sigmoid act on each entry alone: y_i depends on o_i only, so ∂y_j/∂o_i = 0 "
        "for j ≠ i and the Jacobian is diagonal, g'(o_i) (seed 002, case 2). The full form "
        "y_j(δ_ij − y_i) belongs to softmax (case 1), whose outputs share one normalisation.",
    ),
    Misconception(
        "softmax-wrong-axis",
        "Softmax is normalised over the wrong axis",
        "Softmax turns the k output pre-activations of one step into a distribution: the sum "
        "Σ_j exp(o_j) runs over the last axis (the outputs), not over the time steps or the "
        "sequences of the batch.",
    ),
    Misconception(
        "output-delta-sign",
        "The output gradient has the wrong sign",
        "The gradient of the loss at the output pre-activation points from the target to the "
        "prediction: y − d for softmax with cross-entropy, not d − y.",
    ),
    Misconception(
        "output-gradient-left-out",
        "The output's gradient is left out of the state gradient",
        "Each state s_t feeds both the next state and its own output y_t, so dL/ds_t is the sum "
        "of both: the gradient from y_t must be added at every step, not only at the last.",
    ),
    Misconception(
        "bidirectional-not-reversed",
        "The backward-in-time net is backpropagated in the wrong direction",
        "The backward net computes r_t from r_{t+1}, so its BPTT runs from t = 0 up to t = T−1, "
        "the opposite of the forward net's (seed 002).",
    ),
    Misconception(
        "horizon-off-by-one",
        "The truncation horizon is off by one",
        "With horizon k a loss term E_t keeps the parameter uses at t, t−1, …, t−k+1: k steps "
        "counting step t itself.",
    ),
    Misconception(
        "update-wrong-sign",
        "The update climbs the gradient",
        "Gradient descent moves against the gradient: Δθ = −α ∇_θ E.",
    ),
    Misconception(
        "update-applied-twice",
        "The update is applied twice",
        "One step changes each weight once by −α ∇_θ E; here the change is twice that.",
    ),
    Misconception(
        "update-weight-skipped",
        "A weight is left out of the update",
        "Gradient descent changes every weight of the network, the biases too: each one by "
        "−α times its own gradient. A weight left out keeps its initial value, so the network "
        "trains with part of its parameters frozen.",
    ),
    Misconception(
        "update-not-carried-over",
        "Every update starts again from the initial weights",
        "Each update of a training run starts from the weights the last one left, "
        "θ_{i+1} = θ_i − α ∇L(θ_i): both the gradient and the step are taken at θ_i. "
        "Updating a copy and running the next forward pass with the old weights repeats "
        "the first update k times.",
    ),
    Misconception(
        "adagrad-memory-not-accumulated",
        "Adagrad's memory is replaced instead of accumulated",
        "Adagrad divides each step by the root of the sum of every squared gradient so far: "
        "m ← m + g², then θ ← θ − α g / √(m + ε). Setting m = g² forgets the earlier updates, "
        "and every step becomes about α times the gradient's sign.",
    ),
    Misconception(
        "adagrad-square-root-missing",
        "Adagrad's step is divided by the memory, not by its square root",
        "The step is α g / √(m + ε): dividing by m + ε itself makes the steps shrink like "
        "1/m instead of 1/√m, and their size depends on the scale of the gradients.",
    ),
    Misconception(
        "clipping-wrong-quantity",
        "Clipping is applied to the wrong quantity",
        "Clipping bounds the gradients before the update, not the weights and not the update.",
    ),
    Misconception(
        "stacked-recurrence-missing",
        "The first layer's recurrent path is missing from the two-layer network",
        "In the s→z network E_{t+1} reaches U at step t along two paths: through z_t "
        "(z_{t+1} → z_t → s_t) and through s_{t+1} (z_{t+1} → s_{t+1} → s_t). "
        "Seed 000's Q3 has three terms; the third one is this second path.",
    ),
    Misconception(
        "closed-form-explicit-only",
        "Only the explicit part of the derivative is kept",
        "a_t depends on the parameter directly and through a_{t-1} (seed 004: explicit and "
        "implicit derivatives). The total derivative sums over all earlier steps, with the "
        "powers of the recurrent weight.",
    ),
    Misconception(
        "explicit-for-total",
        "The explicit derivative of the previous state is used where its total derivative "
        "belongs",
        "In ∂s_t/∂W = ∂⁺s_t/∂W + ∂s_t/∂s_{t-1} ∂s_{t-1}/∂W the last factor is the TOTAL "
        "derivative of s_{t-1}, explicit and implicit parts together (seed 004). Carrying only "
        "∂⁺s_{t-1}/∂W stops every path two steps back: W's uses before t−1 are lost.",
    ),
    Misconception(
        "stacking-wrong-order",
        "The blocks of the stacked form are taken in the wrong order",
        "W_a = [W_aa; W_ax] puts the state's block first, so the vector it multiplies is "
        "[a_{t-1}, x_t], the state first as well, and δ_t W_aᵀ splits into ∂L/∂a_{t-1} "
        "(the first d entries) and ∂L/∂x_t (the last n). Swapping the order in one place only "
        "multiplies the state by input weights; when n = d no shape error shows it.",
    ),
    Misconception(
        "bce-minus-first-term-only",
        "The minus sign of the binary cross-entropy covers only its first term",
        "L^{<t>} = −( y log ŷ + (1 − y) log(1 − ŷ) ): the minus applies to both logs, so both "
        "terms are positive costs and z = −y/ŷ + (1 − y)/(1 − ŷ). Seed 001's second writing, "
        "−(y log ŷ) + (1 − y) log(1 − ŷ), misplaces the bracket: read literally it rewards "
        "being wrong when y = 0.",
    ),
    Misconception(
        "output-activation-derivative-left-out",
        "The output activation's derivative is left out",
        "With ŷ = σ(o) the chain rule gives ∂L/∂o = ∂L/∂ŷ · σ'(o) = z ŷ(1 − ŷ), which for the "
        "binary cross-entropy is ŷ − y. Seed 001's worked example takes the output activation "
        "as the identity, where ∂ŷ/∂o = 1; with the sigmoid the factor ŷ(1 − ŷ) stays.",
    ),
    Misconception(
        "recurrent-power-off-by-one",
        "The power of the recurrent weight is off by one",
        "Unrolling a_t = v a_{t-1} + u x_t + b_a multiplies by v once for every step crossed: "
        "x_{t-j} reaches a_t with v^j, and a_{t-j} enters ∂a_t/∂v through the explicit term of "
        "step t−j+1, so with v^{j-1}. Starting the powers one too high or too low scales the "
        "terms by v.",
    ),
    Misconception(
        "clipping-per-array",
        "Each gradient array is clipped by its own norm",
        "Clipping by norm rescales all the gradients together by max_norm / ‖g‖, where ‖g‖ is "
        "the norm of every gradient entry of every weight taken as one vector. Clipping each "
        "array by its own norm changes the direction of the update.",
    ),
    Misconception(
        "jacobian-product-order",
        "The step Jacobians are multiplied in the wrong order",
        "∂s_t/∂s_k is the chain ∂s_t/∂s_{t-1} ∂s_{t-1}/∂s_{t-2} … ∂s_{k+1}/∂s_k: the latest "
        "step on the left. Matrices do not commute, so the reversed product is another matrix "
        "(and diag(φ'_t) must multiply Wᵀ from the left, scaling its rows).",
    ),
    Misconception(
        "outer-product-reversed",
        "The weight gradient's outer product is taken the wrong way round",
        "For o = h W, ∂L/∂W_ij = h_i ∂L/∂o_j: the gradient is hᵀ δ, with the layer's input on "
        "the left, and has W's shape. δᵀ h is its transpose; when W is square the shapes agree "
        "and only the numbers are wrong.",
    ),
    Misconception(
        "truncation-wrong-end",
        "The truncation window is counted from the wrong end",
        "Truncated BPTT keeps, for each loss term E_t, the k most recent uses of the weights: "
        "steps t, t−1, …, t−k+1. Keeping the first k terms of the sum over τ = 0 … t instead "
        "(steps 0 … k−1) throws away the nearest steps, which matter most, and keeps the "
        "oldest ones.",
    ),
    Misconception(
        "squared-error-halved",
        "The squared error is differentiated as if it had a ½",
        "Seed 000's error is E_t = Σ_k (y_k − d_k)² with no ½ in front, so "
        "∂E_t/∂y_t = 2(y_t − d_t). Writing y_t − d_t, the derivative of ½(y_t − d_t)², "
        "halves every gradient and every update.",
    ),
)

CATALOGUE: dict[str, Misconception] = {entry.id: entry for entry in _ENTRIES}
