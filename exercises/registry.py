"""Where exercises are found: the built-in catalogue and any package's entry points.

A course adds its own exercises by publishing, in its package metadata,

    [project.entry-points."bptt_autograder.exercises"]
    my-exercise = "my_course.exercises:EXERCISE"

where EXERCISE is an `exercises.spec.Exercise`. Built-in ids win over plugins
with the same id, which are reported rather than silently shadowed.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache

from exercises.spec import Exercise

ENTRY_POINT_GROUP = "bptt_autograder.exercises"

BUILT_IN = (
    "exercises.elman",
    "exercises.scalar_linear",
    "exercises.char_rnn",
    "exercises.vanishing",
    "exercises.output_jacobian",
    "exercises.two_layer",
    "exercises.truncated",
    "exercises.bidirectional",
    "exercises.explicit_implicit",
    "exercises.stacked_weights",
    "exercises.bce_head",
)


@cache
def all_exercises() -> dict[str, Exercise]:
    """Every exercise by id: built-in first, then entry-point plugins."""
    from importlib.metadata import entry_points  # 50 ms: only when the catalogue is listed

    found: dict[str, Exercise] = {}
    for module_name in BUILT_IN:
        exercise = importlib.import_module(module_name).EXERCISE
        found[exercise.id] = exercise
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            exercise = entry.load()
        except Exception as error:  # a broken plugin must not hide the catalogue
            warnings.warn(f"exercise plugin {entry.name!r} failed to load: {error}", stacklevel=2)
            continue
        if not isinstance(exercise, Exercise):
            warnings.warn(f"exercise plugin {entry.name!r} is not an Exercise", stacklevel=2)
        elif exercise.id in found:
            warnings.warn(f"exercise plugin {entry.name!r} reuses the id {exercise.id!r}",
                          stacklevel=2)
        else:
            found[exercise.id] = exercise
    return found


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id, or a ValueError listing the ids there are.

    A built-in exercise whose module is named after its id ("two-layer":
    exercises.two_layer) is imported alone: grading one notebook does not load
    the whole catalogue. Any other id looks through `all_exercises`."""
    module_name = "exercises." + exercise_id.replace("-", "_")
    if module_name in BUILT_IN:
        exercise = importlib.import_module(module_name).EXERCISE
        if exercise.id == exercise_id:
            return exercise
    exercises = all_exercises()
    try:
        return exercises[exercise_id]
    except KeyError:
        raise ValueError(
            f"no exercise {exercise_id!r}; known exercises: {', '.join(sorted(exercises))}"
        ) from None
