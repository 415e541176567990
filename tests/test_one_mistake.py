"""One mistake costs once: a catalogue bug in one stage costs that stage's points and no more.

Every stage is graded with right answers from the functions it calls wherever it
calls them as a right stage would (`grader.grading.callees`), so a wrong
`rnn_step_backward` does not also cost `rnn_backward`. The bug is put where the
callers see it: in the very namespace their globals come from.
"""

from __future__ import annotations

from functools import partial

import pytest
from conftest import report

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import all_exercises
from grader.authoring.solution_cells import solution_namespace
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

STUDENTS = [f"student-{i:03d}" for i in range(6)]


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_a_bug_costs_only_the_points_of_its_own_stage(exercise_id):
    exercise = all_exercises()[exercise_id]
    total, over = 0, []
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        for stage in exercise.stages:
            for bug in stage.bugs_for(instance.variant):
                namespace = solution_namespace(exercise, instance.variant, student)
                namespace[stage.name] = partial(bug.implementation, instance.variant)
                result = grade_outcomes(instance, run_in_process(instance, namespace))
                others = [c.tags[0] for c in result.checks
                          if c.tags != (stage.name,) and c.score < 1.0]
                total += 1
                if others:
                    over.append((student, stage.name, bug.misconception, others))
    report(f"one mistake[{exercise_id}]",
           f"{total - len(over)}/{total} catalogue bugs cost only their own stage")
    assert total > 0
    assert over == [], over[:5]
