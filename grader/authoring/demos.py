"""The cells a notebook shows after a stage (`Stage.demo`): a loss plot, an autocompletion.

After a training stage (`Stage.training`) the notebook runs the student's own
training function on a public example and plots the loss after every update
against the reference's. The example is drawn from a public seed (the exercise
and the variant's structure, never the course secret), so it is not one of the
grader's hidden probes; the reference's losses are computed here, when the
notebook is generated, and written into the cell with the example. A shared
release carries one example per activation and output head, and the cell
picks the student's.

matplotlib is imported by the cell itself, in the student's kernel only: not
here, not by the grader, not in the sandbox (the cell is locked, and locked
cells are not run there).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from exercises.spec import Exercise, Stage, Variant
from grader.authoring.templating import render

PLOT_UPDATES = 20          # updates in the plotted run: enough for the curve to bend
DECIMALS = 4               # the example's numbers as written into the notebook


def example_key(values: Mapping[str, Any]) -> str:
    """How a cell finds a variant's example: "tanh softmax_ce" (activation, output head)."""
    return f"{values['activation']} {values['output']}_{values['objective']}"


def demo_cell(exercise: Exercise, stage: Stage, variant: Variant | None) -> str:
    """The source of the cell shown after `stage`: for one student's variant, or for every
    variant of the shared release (`variant` None)."""
    if stage.training is None:
        return render(stage.demo, stage=stage, exercise=exercise)
    variants = [variant] if variant is not None else structure_variants(exercise)
    examples = {example_key(v.as_dict()): training_example(exercise, stage, v) for v in variants}
    lines = [f"    {key!r}: {example!r}," for key, example in examples.items()]
    return render(stage.demo, stage=stage, exercise=exercise,
                  examples="{\n" + "\n".join(lines) + "\n}")


def structure_variants(exercise: Exercise) -> list[Variant]:
    """One variant per activation and output head, every other field at its first option."""
    space = exercise.variant_space
    first = {name: options[0] for name, options in space.items()}
    activations, heads = space.get("activation", (None,)), space.get("head", (None,))
    variants = []
    for activation, head in itertools.product(activations, heads):
        chosen = {**first, "activation": activation, "head": head}
        chosen["output"], chosen["objective"] = chosen.pop("head")
        known = set(Variant.__dataclass_fields__) - {"extra"}
        extra = tuple(sorted((k, v) for k, v in chosen.items() if k not in known))
        variants.append(Variant(**{k: v for k, v in chosen.items() if k in known}, extra=extra))
    return variants


def training_example(exercise: Exercise, stage: Stage, variant: Variant) -> dict[str, Any]:
    """The public example of a training stage for a variant, as plain lists, and the
    reference's loss after each of its PLOT_UPDATES updates."""
    variant = replace(variant, extra=tuple(
        (key, PLOT_UPDATES if key == "k_updates" else value) for key, value in variant.extra))
    seed = hashlib.sha256(f"{exercise.id}\x1f{example_key(variant.as_dict())}\x1f"
                          "training example".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(seed[:8], "big"))
    inputs = _rounded(stage.training.example(variant, rng))
    after = stage.named(stage.solve(variant, **inputs))
    steps = len(next(iter(after.values())))
    reference = [float(stage.training.loss(variant, inputs, {key: np.asarray(value)[i]
                                                             for key, value in after.items()}))
                 for i in range(steps)]
    return {"inputs": _plain(inputs), "reference": reference}


def _rounded(value: Any) -> Any:
    """The example with every float array rounded, so the notebook's literal is the example."""
    if isinstance(value, Mapping):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.round(value, DECIMALS)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
