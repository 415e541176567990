"""Every catalogue bug, injected into a correct submission, is caught and named.

For every registered exercise, a sample of students, every stage and every bug
that applies to the student's variant: the submission is the exercise's
solution cells (as a notebook would run them) with that one stage replaced by
the bug. The stage must score below full, and the diagnosis must name the bug:
every one of them (100% caught and 100% named).
The catch and naming rates are printed in pytest's closing summary.
"""

from __future__ import annotations

from functools import partial

import pytest
from conftest import report

from exercises.instance import DEMO_SECRET, make_instance
from exercises.misconceptions import CATALOGUE
from exercises.registry import all_exercises
from grader.authoring import solution_cells
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

STUDENTS = [f"student-{i:03d}" for i in range(12)]


def solution_namespace(instance) -> dict:
    """The given cell and the solution cells of the instance's notebook, run as a notebook would."""
    return solution_cells.solution_namespace(instance.exercise, instance.variant,
                                             instance.student)


def stage_check(result, stage_name):
    return next(check for check in result.checks if check.tags == (stage_name,))


@pytest.fixture(scope="module", params=sorted(all_exercises()))
def exercise(request):
    return all_exercises()[request.param]


def test_solution_cells_get_full_marks(exercise):
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        result = grade_outcomes(instance, run_in_process(instance, solution_namespace(instance)))
        wrong = [check.message for check in result.checks if check.score < 1.0]
        assert not wrong, f"{exercise.id} / {student}: {wrong}"


def test_every_bug_is_caught_and_named(exercise):
    total = caught = named = 0
    misnamed = []
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        namespace = solution_namespace(instance)
        for stage in exercise.stages:
            for bug in stage.bugs_for(instance.variant):
                assert bug.misconception in CATALOGUE, bug.misconception
                buggy = dict(namespace, **{stage.name: partial(bug.implementation,
                                                               instance.variant)})
                check = stage_check(grade_outcomes(
                    instance, run_in_process(instance, buggy, [stage.name])), stage.name)
                total += 1
                caught += check.score < 1.0
                if check.details["misconception"] == bug.misconception:
                    named += 1
                    assert CATALOGUE[bug.misconception].title in check.message
                else:
                    misnamed.append((student, stage.name, bug.misconception,
                                     check.details["misconception"]))
    report(f"diagnosis[{exercise.id}]",
           f"{caught}/{total} bugs caught ({caught / total:.0%}), "
           f"{named}/{total} named ({named / total:.0%})")
    assert total > 0
    assert caught == total
    assert named == total, misnamed[:10]


def test_catalogue_has_the_issue_s_misconceptions():
    required = {
        "recurrent-term-dropped", "overwrite-not-accumulate", "derivative-at-preactivation",
        "wrong-activation-derivative", "off-by-one-previous-state", "initial-state-ignored",
        "weight-not-transposed", "bias-not-summed", "mean-sum-mixed-up",
        "softmax-jacobian-elementwise", "bidirectional-not-reversed", "horizon-off-by-one",
        "update-wrong-sign", "update-applied-twice", "clipping-wrong-quantity",
        "output-gradient-left-out", "stacked-recurrence-missing",
    }
    assert required <= set(CATALOGUE)
    assert len(CATALOGUE) >= 15
