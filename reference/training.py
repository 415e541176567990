"""Training: k full-batch gradient steps, and chunked truncated BPTT over one long sequence.

`train_steps` is the training the exercises grade step by step: every update
uses the whole batch and the gradient at the weights the previous update left,
θ_{i+1} = θ_i − α ∇_θ L(θ_i), and the run keeps the weights and the loss after
every update (the weight trajectory the grader compares, the loss curve it plots).

`train_chunks` is the classic scheme of min-char-rnn: cut the sequence into chunks of
`chunk` steps, run BPTT inside each chunk only, update the weights, and carry
the last state into the next chunk as its initial state. The state carried is
the one the chunk's forward pass computed, before the update, as min-char-rnn
does with `hprev`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from reference.bidirectional import Bidirectional
from reference.updates import SGD, Adagrad, clip_by_value, sgd
from reference.validation import positive_int


@dataclass
class Trajectory:
    """The weights after each of k updates, θ_1 … θ_k, and the loss L(θ_1) … L(θ_k) at each."""

    params: list[dict[str, np.ndarray]]
    losses: list[float]


def train_steps(model, params, x, d, lr: float, k: int, **initial) -> Trajectory:
    """k steps of gradient descent on the whole batch: θ_{i+1} = θ_i − α ∇_θ L(θ_i).

    model: Elman, Stacked or Bidirectional; x (N, T, n) and d its targets;
    initial: the initial states as the model's keywords (s0=, z0=, f0=, r0=).
    Returns the weights after every update and the loss of (x, d) at each.
    """
    k = positive_int("k", k)
    trajectory = Trajectory(params=[], losses=[])
    for weights, loss in itertools.islice(descent(model, params, x, d, lr, **initial), k):
        trajectory.params.append(weights)
        trajectory.losses.append(loss)
    return trajectory


def descent(model, params, x, d, lr: float, **initial) -> Iterator[tuple[dict, float]]:
    """`train_steps` without an end: after each update θ_{i+1} = θ_i − α ∇_θ L(θ_i), the
    weights θ_{i+1} and the loss L(θ_{i+1}) of (x, d), for a caller that stops on its own
    (at the first update that does not bring the loss down, say)."""
    params = {key: np.asarray(value, dtype=np.float64) for key, value in params.items()}
    while True:
        params = sgd(params, model.grad(params, x, d, **initial), lr)
        yield params, model.loss(params, x, d, **initial)


@dataclass
class TrainingRun:
    """Parameters after training, the loss of every chunk, and the state carried out."""

    params: dict[str, np.ndarray]
    losses: list[float]
    final_state: dict[str, np.ndarray]


def final_states(trace) -> dict[str, np.ndarray]:
    """The last state of each layer, as initial-state keywords for the next chunk."""
    states = {"s0": trace.s[:, -1]}
    if hasattr(trace, "z"):
        states["z0"] = trace.z[:, -1]
    return states


def train_chunks(model, params, x, d, chunk: int, optimizer: SGD | Adagrad, *,
                 clip: float | None = None, epochs: int = 1) -> TrainingRun:
    """Train a causal network (Elman or Stacked) on x (N, T, n) chunk by chunk.

    optimizer: `SGD(lr)` or `Adagrad(lr)`.
    clip: clip every gradient entry to [−clip, clip] before the update.
    The state is carried across chunks and reset to zeros at each epoch.
    """
    if isinstance(model, Bidirectional):
        raise ValueError("chunked training needs a causal network; the bidirectional one "
                         "reads the future, so its state cannot be carried forward")
    chunk = positive_int("chunk", chunk)
    epochs = positive_int("epochs", epochs)
    if not isinstance(optimizer, (SGD, Adagrad)):
        raise ValueError(f"optimizer must be SGD(lr) or Adagrad(lr), not {optimizer!r}")
    memory = optimizer.init(params)
    T = np.shape(x)[1]
    losses: list[float] = []
    state: dict[str, np.ndarray] = {}
    for _ in range(epochs):
        state = {}
        for start in range(0, T, chunk):
            x_chunk, d_chunk = x[:, start:start + chunk], d[:, start:start + chunk]
            losses.append(model.loss(params, x_chunk, d_chunk, **state))
            grads = model.grad(params, x_chunk, d_chunk, **state)
            grads = {key: grads[key] for key in params}
            if clip is not None:
                grads = clip_by_value(grads, clip)
            next_state = final_states(model.forward(params, x_chunk, **state))
            params, memory = optimizer.update(params, grads, memory)
            state = next_state
    return TrainingRun(params=params, losses=losses, final_state=state)
