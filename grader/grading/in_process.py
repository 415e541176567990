"""Calling a student's functions on the planned probes, in the current process.

This is the runner for code already running where the student's code runs: a
sandbox worker, or a notebook's hidden-test cell under nbgrader. It returns
the `Outcome`s that `grader.verdicts.grade_outcomes` judges. Each call gets
fresh copies of the probe's arguments, so one call cannot spoil the next.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

from exercises.spec import Instance, Probe, Stage
from grader.checking.consistency import followup_probes
from grader.checking.verdicts import Outcome, plan_calls
from grader.grading.callees import Table, plan_callees
from grader.sandbox.zygote import changed, trusted_callees


def describe_error(error: BaseException) -> str:
    """`Type: message`, and the line of the student's code it came from when known."""
    text = f"{type(error).__name__}: {error}"
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename.startswith("<")]  # cells and exec'd code, not library files
    if frames:
        text += f" (at line {frames[-1].lineno}: {frames[-1].line or '…'})"
    return text[:2000]


def call_probe(function: Callable, stage: Stage, probe: Probe,
               namespace: dict | None = None, callees: Table | None = None) -> Outcome:
    """Call `function` on the probe (twice for a `repeat` probe) and record what happened,
    with its callees in `namespace` answering from `callees` (as in the sandbox)."""
    kwargs = copy.deepcopy(dict(probe.kwargs))
    scope = namespace if namespace is not None else {}
    try:
        with trusted_callees(scope, callees or {}):
            outputs = stage.named(function(**kwargs))
        with trusted_callees(scope, callees or {}):
            repeat = (stage.named(function(**copy.deepcopy(dict(probe.kwargs))))
                      if probe.repeat else None)
    except NotImplementedError:
        return Outcome(error=f"NotImplementedError: {stage.name} is not implemented yet")
    except Exception as error:  # the student's code may raise anything
        return Outcome(error=describe_error(error))
    mutated = tuple(name for name, value in probe.kwargs.items() if changed(value, kwargs[name]))
    return Outcome(outputs=outputs, repeat_outputs=repeat, mutated=mutated)


def run_in_process(instance: Instance, namespace: dict[str, Any],
                   stages: list[str] | None = None) -> dict[str, list[Outcome]]:
    """Outcomes of every planned call whose function `namespace` defines, each stage with
    trusted callees (`grader.grading.callees`).

    stages: only these stages (by function name); None for all.
    """
    plan = plan_calls(instance)
    if stages is not None:
        plan = {name: probes for name, probes in plan.items() if name in stages}
    plan = {name: probes for name, probes in plan.items() if callable(namespace.get(name))}
    outcomes = _call_all(instance, namespace, plan)
    # the graded gradient checks' second round: the backward with the student's own states
    for name, probes in _call_all(instance, namespace,
                                  followup_probes(instance, plan, outcomes)).items():
        outcomes[name] += probes
    return outcomes


def _call_all(instance: Instance, namespace: dict[str, Any],
              plan: dict[str, list[Probe]]) -> dict[str, list[Outcome]]:
    tables = plan_callees(instance, plan)
    outcomes: dict[str, list[Outcome]] = {}
    for name, probes in plan.items():
        stage = instance.exercise.stage(name)
        outcomes[name] = [
            call_probe(namespace[name], stage, probe, namespace,
                       tables[name][index] if name in tables else None)
            for index, probe in enumerate(probes)]
    return outcomes
