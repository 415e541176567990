"""Running an exercise's probes as the grader would: solution cells, `solve` and every bug.

    from catalogue_probes import instance_of, solution_namespace, disagreements, bug_verdicts

The solution cells are exec'd from `solution_sources` into a namespace holding
what a notebook gives (numpy as `np`), one cell after the other, exactly as a
notebook runs them; each call gets fresh copies of the probe's arguments.
"""

from __future__ import annotations

import copy
from itertools import combinations

import numpy as np

from exercises.instance import make_instance
from exercises.spec import Exercise, Instance, Probe, Stage
from grader import solution_cells

SECRET = "catalogue test secret"
ATOL = 1e-9          # the grader's default absolute tolerance


def instance_of(exercise: Exercise, student: str, secret: str = SECRET) -> Instance:
    return make_instance(exercise, student, secret)


def tokens(variant) -> set[str]:
    """The tokens that pick `name__token` solution variants: activation and output_objective."""
    return {variant.activation, f"{variant.output}_{variant.objective}"}


def solution_namespace(exercise: Exercise, variant) -> dict:
    """The notebook's namespace after running every solution cell of this variant."""
    return solution_cells.solution_namespace(exercise, variant, "student")


def call(function, probe: Probe, *prefix):
    """function(*prefix, **probe.kwargs) on deep copies of the probe's arguments."""
    return function(*prefix, **copy.deepcopy(dict(probe.kwargs)))


def _arrays(stage: Stage, result) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=np.float64)
            for name, value in stage.outputs(result).items()}


def outputs_close(stage: Stage, got, expected, rtol: float, atol: float = ATOL) -> bool:
    got, expected = _arrays(stage, got), _arrays(stage, expected)
    return all(got[name].shape == expected[name].shape
               and np.allclose(got[name], expected[name], rtol=rtol, atol=atol)
               for name in expected)


def disagreements(exercise: Exercise, student: str, rtol: float = 1e-9) -> list[str]:
    """Where the solution cells differ from `solve` (probes with repeat=True are run twice)."""
    instance = instance_of(exercise, student)
    namespace = solution_namespace(exercise, instance.variant)
    found = []
    for stage in exercise.stages:
        for probe in stage.probes(instance):
            expected = call(stage.solve, probe, instance.variant)
            runs = 2 if probe.repeat else 1
            for run in range(runs):
                got = call(namespace[stage.name], probe)
                if not outputs_close(stage, got, expected, rtol):
                    found.append(f"{student}: {stage.name} on {probe.name!r} (call {run + 1})")
    return found


def bug_outputs(stage: Stage, instance: Instance):
    """[(bug index, bug, [outputs per probe])] for the bugs that apply, and solve's outputs."""
    probes = stage.probes(instance)
    right = [call(stage.solve, probe, instance.variant) for probe in probes]
    wrong = [(i, bug, [call(bug.implementation, probe, instance.variant) for probe in probes])
             for i, bug in enumerate(stage.bugs) if bug.applies(instance.variant)]
    return right, wrong


def _same_everywhere(stage, first, second) -> bool:
    return all(outputs_close(stage, a, b, stage.tolerance) for a, b in zip(first, second,
                                                                            strict=True))


def bug_verdicts(exercise: Exercise, student: str):
    """(uncaught, twins): bugs equal to solve on every probe; pairs of bugs equal to each other."""
    instance = instance_of(exercise, student)
    uncaught, twins = [], set()
    for stage in exercise.stages:
        right, wrong = bug_outputs(stage, instance)
        for i, bug, results in wrong:
            if _same_everywhere(stage, results, right):
                uncaught.append((stage.name, i, bug.misconception))
        for (_, a, ra), (_, b, rb) in combinations(wrong, 2):
            if _same_everywhere(stage, ra, rb):
                twins.add((stage.name, a.misconception, b.misconception))
    return uncaught, twins


def probe_fingerprint(instance: Instance) -> list:
    """Every probe's arguments, flattened, to compare two instances."""
    values = []
    for stage in instance.exercise.stages:
        for probe in stage.probes(instance):
            for key in sorted(probe.kwargs):
                value = probe.kwargs[key]
                if isinstance(value, dict):
                    values.extend(np.asarray(value[k], float).ravel() for k in sorted(value))
                elif isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
                    values.append(" ".join(value))
                elif isinstance(value, str):
                    values.append(value)
                else:
                    values.append(np.asarray(value, float).ravel())
    return values


def same_fingerprint(first: list, second: list) -> bool:
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                return False
        elif a.shape != b.shape or not np.array_equal(a, b):
            return False
    return True
