"""What a notebook says about shapes is what the grader passes: docstrings and notation table.

Every stage's docstring states its arguments' and results' shapes in the seed's
letters, `x: (N, T, n)`. For every exercise and many students, each stated shape,
read with the variant's sizes, must equal the shape of the array the first probe
passes (arguments) or the solution returns (results). The notation table's shapes
must agree the same way.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import all_exercises
from grader.authoring.notebooks import _notation_shapes
from grader.checking.verdicts import plan_calls

STUDENTS = [f"text-{i:02d}" for i in range(25)]
STATED = re.compile(r"(?<![\w.])(\w+): \(([^()]*)\)")


def letters(variant) -> dict[str, int]:
    """The seeds' letters for the sizes, as the docstrings write them."""
    values = variant.as_dict()
    sizes = {"N": values["N"], "T": values["T"], "n": values["n_in"], "n_in": values["n_in"],
             "d": values["n_hidden"], "n_hidden": values["n_hidden"], "k": values["n_out"],
             "n_out": values["n_out"], "d1": values["n_hidden"],
             "d2": values.get("n_hidden2", values["n_hidden"]),
             "n_hidden2": values.get("n_hidden2", values["n_hidden"])}
    return sizes


def stated_shapes(docstring: str) -> dict[str, str]:
    return {name: dims for name, dims in STATED.findall(docstring)}


# Letters that stand for a size the probe chooses, not the variant: char-rnn's T is the
# length of the word. They must still mean one value within a stage.
FREE = {"char-rnn": {"T"}}


def evaluate(dims: str, sizes: dict[str, int], actual: tuple, bound: dict[str, int],
             free: set[str]) -> tuple | None:
    """(2, 3) from "N, d"; None when a dimension is not a plain size ("...", "T+1")."""
    parts = [part.strip() for part in dims.split(",") if part.strip()]
    values = []
    for axis, part in enumerate(parts):
        if part.isdigit():
            values.append(int(part))
        elif part in free:
            if axis < len(actual):
                bound.setdefault(part, actual[axis])
            values.append(bound.get(part, -1))
        elif part in sizes:
            values.append(sizes[part])
        else:
            return None
    return tuple(values)


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_every_shape_a_docstring_states_is_the_shape_the_grader_passes(exercise_id):
    exercise = all_exercises()[exercise_id]
    checked, wrong = 0, []
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        plan = plan_calls(instance)
        sizes = letters(instance.variant)
        for stage in exercise.stages:
            probe = plan[stage.name][0]
            answers = stage.named(stage.solve(instance.variant, **probe.kwargs))
            arrays = {**{k: v for k, v in probe.kwargs.items()}, **answers}
            bound: dict[str, int] = {}
            for name, dims in stated_shapes(stage.docstring).items():
                value = arrays.get(name)
                if not isinstance(value, np.ndarray):
                    continue
                expected = evaluate(dims, sizes, value.shape, bound, FREE.get(exercise_id, set()))
                if expected is None:
                    continue
                checked += 1
                if value.shape != expected:
                    wrong.append((stage.name, name, dims, expected, value.shape))
    assert checked > 0
    assert wrong == [], sorted(set(wrong))[:10]


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_the_notation_tables_shapes_are_the_arrays_shapes(exercise_id):
    exercise = all_exercises()[exercise_id]
    for student in STUDENTS[:8]:
        instance = make_instance(exercise, student, DEMO_SECRET)
        plan = plan_calls(instance)
        passed = {name: value.shape for probes in plan.values() for name, value in
                  probes[0].kwargs.items() if isinstance(value, np.ndarray)}
        for symbol, shown in _notation_shapes(exercise, instance.variant).items():
            concrete = shown.rsplit("= ", 1)[-1]
            if symbol in passed:
                assert concrete == str(passed[symbol]), (symbol, shown, passed[symbol])


# The seeds' own words for the content issue 11 found missing, as a release notebook shows
# them: every student's notebook, whatever their variant.
SEED_WORDS = {
    "explicit-implicit": ("explicit", "implicit", "∂⁺s_t/∂W", "total derivative"),
    "stacked-weights": ("W_a = [W_aa; W_ax]", "W_aa", "W_ax", "split"),
    "bce-head": ("−( y_t log ŷ_t + (1 − y_t) log(1 − ŷ_t) )", "z_t = ∂L/∂ŷ_t", "ŷ_t − y_t"),
    "output-jacobian": ("Case 1", "Case 2", "softmax", "full", "diagonal"),
}


@pytest.mark.parametrize("exercise_id", sorted(SEED_WORDS))
def test_the_release_notebook_asks_the_seed_s_question_in_its_words(exercise_id):
    from grader.authoring.notebooks import notebook_cells

    exercise = all_exercises()[exercise_id]
    for student in STUDENTS[:6]:
        text = "\n".join(source for _, source, _ in
                         notebook_cells(exercise, "release", student, student_views=False))
        missing = [word for word in SEED_WORDS[exercise_id] if word not in text]
        assert missing == [], (student, missing)
