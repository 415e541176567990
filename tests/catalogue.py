"""Shared checks for the exercises of the catalogue: solutions, bugs, instances.

    from catalogue_harness import run_solutions, bug_report

An exercise is checked as the grader would use it: the solution cells are
exec'd from `solution_sources` the way a notebook runs them (numpy imported,
the variant's φ given), every stage's probes are built from the student's
instance, and `solve` and every bug are called on the same probes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from exercises.instance import DEMO_SECRET, make_instance
from exercises.spec import Exercise, Instance
from grader.authoring.solution_cells import solution_namespace

SECRET = DEMO_SECRET


def tokens(instance: Instance) -> set[str]:
    v = instance.variant
    return {v.activation, f"{v.output}_{v.objective}"}


def notebook_namespace(instance: Instance) -> dict:
    """The solution cells of the student's variant, run in order as a notebook would."""
    return solution_namespace(instance.exercise, instance.variant, instance.student)


def copy_kwargs(kwargs: Mapping) -> dict:
    """Fresh copies of a probe's arrays (dicts of arrays included), so no call sees another's."""
    def copy(value):
        if isinstance(value, np.ndarray):
            return value.copy()
        if isinstance(value, Mapping):
            return {key: copy(item) for key, item in value.items()}
        return value
    return {key: copy(value) for key, value in kwargs.items()}


def call(function, kwargs: Mapping, *, variant=None):
    """function(**kwargs), or solve-like function(variant, **kwargs) when a variant is given."""
    kwargs = copy_kwargs(kwargs)
    return function(**kwargs) if variant is None else function(variant, **kwargs)


def outputs(stage, result) -> dict[str, np.ndarray | None]:
    """The named outputs as float arrays; None stays None (a gradient that does not exist)."""
    return {name: None if value is None else np.asarray(value, dtype=float)
            for name, value in stage.named(result).items()}


def max_difference(a: dict, b: dict) -> float:
    """The largest |a − b| / (1 + |b|) over every output (inf on a shape or None mismatch,
    or where one has NaN and the other not: a run that blows up is not a right answer)."""
    worst = 0.0
    for name in b:
        if a[name] is None or b[name] is None:
            if (a[name] is None) != (b[name] is None):
                return float("inf")
            continue
        if a[name].shape != b[name].shape:
            return float("inf")
        if b[name].size:
            with np.errstate(invalid="ignore", over="ignore"):
                gap = np.abs(a[name] - b[name]) / (1.0 + np.abs(b[name]))
            same_nan = np.isnan(a[name]) & np.isnan(b[name])       # NaN only matches NaN
            worst = max(worst, float(np.max(np.where(same_nan, 0.0, np.nan_to_num(
                gap, nan=np.inf)))))
    return worst


def same(a: dict, b: dict, tolerance: float = 1e-6) -> bool:
    return max_difference(a, b) <= tolerance


def instance_of(exercise: Exercise, student: str) -> Instance:
    return make_instance(exercise, student, SECRET)


def check_solutions(exercise: Exercise, student: str, tolerance: float = 1e-9) -> list[str]:
    """Problems of the solution cells against solve on every probe of every stage."""
    instance = instance_of(exercise, student)
    namespace = notebook_namespace(instance)
    problems = []
    for stage in exercise.stages:
        if stage.name not in namespace:
            problems.append(f"{stage.name}: no solution cell")
            continue
        for probe in stage.probes(instance):
            expected = outputs(stage, call(stage.solve, probe.kwargs, variant=instance.variant))
            got = outputs(stage, call(namespace[stage.name], probe.kwargs))
            error = max_difference(got, expected)
            if not error <= tolerance:
                problems.append(f"{stage.name} / {probe.name}: solution differs by {error:.3g} "
                                f"({instance.variant})")
            if probe.repeat:
                again = outputs(stage, call(namespace[stage.name], probe.kwargs))
                if max_difference(again, got) != 0.0:
                    problems.append(f"{stage.name} / {probe.name}: a second call differs")
    return problems


def bug_report(exercise: Exercise, student: str):
    """For every stage: the bugs that apply, those no probe catches, and pairs no probe separates.

    Returns (applicable, uncaught, ambiguous): lists of (stage, misconception) and
    (stage, misconception, misconception); bugs with the same misconception id are one name,
    so they are never reported as ambiguous with each other.
    """
    instance = instance_of(exercise, student)
    applicable, uncaught, ambiguous = [], [], []
    for stage in exercise.stages:
        probes = stage.probes(instance)
        answers = [outputs(stage, call(stage.solve, p.kwargs, variant=instance.variant))
                   for p in probes]
        bugs = stage.bugs_for(instance.variant)
        bug_answers = []
        for bug in bugs:
            applicable.append((stage.name, bug.misconception))
            got = [outputs(stage, call(bug.implementation, p.kwargs, variant=instance.variant))
                   for p in probes]
            bug_answers.append(got)
            if all(same(g, a) for g, a in zip(got, answers, strict=True)):
                uncaught.append((stage.name, bug.misconception))
        for i, first in enumerate(bugs):
            for j in range(i + 1, len(bugs)):
                second = bugs[j]
                if first.misconception == second.misconception:
                    continue
                if all(same(a, b) for a, b in zip(bug_answers[i], bug_answers[j], strict=True)):
                    ambiguous.append((stage.name, first.misconception, second.misconception))
    return applicable, uncaught, ambiguous


def probe_fingerprint(exercise: Exercise, student: str) -> tuple:
    """The variant and a digest of every probe's arrays, to tell instances apart."""
    instance = instance_of(exercise, student)
    digest = []
    for stage in exercise.stages:
        for probe in stage.probes(instance):
            for key in sorted(probe.kwargs):
                value = probe.kwargs[key]
                if isinstance(value, Mapping):
                    value = np.concatenate([np.ravel(value[k]) for k in sorted(value)])
                if isinstance(value, str | list) and all(isinstance(v, str) for v in value):
                    digest.append(repr(value).encode())          # words (char-rnn)
                else:
                    digest.append(np.asarray(value, dtype=float).tobytes())
    return instance.variant, tuple(digest)
