"""One mistake costs once: what a stage's callees would answer, planned from the reference.

A stage such as `rnn_backward` calls the student's own `rnn_step_backward`. Graded
as it is, a wrong step function would cost the step's points and the caller's.
So while a stage is graded its callees answer from a table planned here: for
every probe, the calls that the solution's own implementation of the stage
makes to each callee (`depends_on`), with the arguments by name and the
solution's answer. In the sandbox (or the kernel), a call whose arguments match
one of these, up to rounding, gets the planned answer; any other call goes to
the student's own function (`grader.sandbox.zygote.answering`). Only answers to
the probe's own calls cross into the sandbox, never the solution's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exercises.spec import Instance, Probe, Variant
from grader.authoring.solution_cells import recorded_calls, solution_namespace

Table = dict[str, dict[str, Any]]      # callee → {"inputs", "outputs", "calls": [(kwargs, answer)]}


def plan_callees(instance: Instance, plan: Mapping[str, list[Probe]]) -> dict[str, list[Table]]:
    """For every stage that calls others, one table per probe (in `plan`'s order)."""
    exercise = instance.exercise
    callers = [stage for stage in exercise.stages if stage.depends_on and stage.name in plan]
    if not callers:
        return {}
    namespace = _solutions(exercise, instance.variant)
    tables: dict[str, list[Table]] = {}
    for stage in callers:
        callees = [name for name in stage.depends_on if callable(namespace.get(name))]
        tables[stage.name] = [_recorded(namespace, stage.name, callees, probe, exercise)
                              for probe in plan[stage.name]]
    return tables


_SOLUTIONS: dict[tuple[str, Variant], dict] = {}


def _solutions(exercise, variant: Variant) -> dict:
    """The solution cells run for a variant, once per process (a class shares variants):
    only read here, its functions called through copies of it."""
    key = (exercise.id, variant)
    if key not in _SOLUTIONS:
        if len(_SOLUTIONS) > 256:
            _SOLUTIONS.clear()
        _SOLUTIONS[key] = solution_namespace(exercise, variant, "solution")
    return _SOLUTIONS[key]


def _recorded(namespace: dict, caller: str, callees: list[str], probe: Probe,
              exercise) -> Table:
    """Run the solution's `caller` on the probe with its callees recorded."""
    return recorded_calls(namespace, exercise, caller, callees, probe.kwargs)
