"""`bptt demo`: what the reference computes, shown on the lecture notes' own examples.

1. A finite-difference check of full and truncated BPTT for the three networks.
2. Seed 004's autocompletion task: an Elman network with softmax outputs learns
   to predict the next character of "deep" over the vocabulary {d, e, p, <stop>}.
"""

from __future__ import annotations

import click
import numpy as np

import reference as ref

VOCABULARY = ("d", "e", "p", "<stop>")


def _central_difference(loss, params, key, eps=1e-6):
    grad = np.zeros_like(params[key])
    for index in np.ndindex(grad.shape):
        shifted = {k: v.copy() for k, v in params.items()}
        shifted[key][index] += eps
        up = loss(shifted)
        shifted[key][index] -= 2 * eps
        grad[index] = (up - loss(shifted)) / (2 * eps)
    return grad


def gradient_check_table(rng: np.random.Generator) -> list[tuple[str, str, float]]:
    """(network, key, relative error of BPTT against central differences)."""
    rows = []
    for model in (
        ref.Elman(3, 4, 4, activation="tanh", output="softmax", objective="ce"),
        ref.Stacked(3, 4, 2, activation="sigmoid", output="linear", objective="mse"),
        ref.Bidirectional(3, 3, 2, activation="tanh", output="sigmoid", objective="bce"),
    ):
        params = model.init_params(rng)
        x = rng.standard_normal((2, 6, 3))
        d = (rng.integers(0, 4, (2, 6)) if model.objective == "ce"
             else rng.uniform(size=(2, 6, model.n_out)))
        grads = model.grad(params, x, d)

        def loss(p, model=model, x=x, d=d):
            return model.loss(p, x, d)

        for key in params:
            numeric = _central_difference(loss, params, key)
            error = np.linalg.norm(grads[key] - numeric) / max(
                np.linalg.norm(grads[key]) + np.linalg.norm(numeric), 1e-300)
            rows.append((type(model).__name__, key, float(error)))
    return rows


def autocompletion(rng: np.random.Generator, steps: int = 300):
    """Train on "deep" + <stop>: input the current character, predict the next."""
    word = [VOCABULARY.index(c) for c in "deep"] + [3]
    eye = np.eye(len(VOCABULARY))
    x = eye[word[:-1]][None]                    # (1, 4, 4): d e e p
    d = np.array([word[1:]])                    # (1, 4):    e e p <stop>
    model = ref.Elman(4, 8, 4, activation="tanh", output="softmax", objective="ce")
    params = model.init_params(rng)
    losses = []
    for _ in range(steps):
        losses.append(model.loss(params, x, d))
        params = ref.sgd(params, model.grad(params, x, d), lr=0.5)
    prediction = model.forward(params, x).y[0].argmax(axis=-1)
    return losses, [VOCABULARY[i] for i in prediction]


def run() -> None:
    rng = np.random.default_rng(2026)
    click.echo("BPTT against central differences (relative error, float64)")
    for network, key, error in gradient_check_table(rng):
        click.echo(f"  {network:<14} {key:<3} {error:9.2e}  {'ok' if error < 1e-6 else 'WRONG'}")
    losses, predicted = autocompletion(rng)
    click.echo("\nSeed 004: autocompletion of 'deep' over {d, e, p, <stop>}")
    click.echo(f"  loss {losses[0]:.3f} -> {losses[-1]:.3f} after {len(losses)} SGD updates")
    click.echo(f"  after d, e, e, p the network predicts: {', '.join(predicted)}")
