"""The per-submission time budget (`Limits.submission_seconds`, `Limits.retries`).

A student whose every function loops forever used to hold a worker for (1 + 2) x the
wall limit, a number no course could set. Now every job of a submission comes out of
one budget, and the number of fresh jobs after a stalled call is the course's.
"""

from __future__ import annotations

import json
import time

import pytest

from exercises.instance import PUBLIC_SALT, choose_variant
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.solution_cells import stage_solutions
from grader.grading.batch import Target, grade_target
from grader.sandbox.limits import Limits
from grader.sandbox.worker import Worker

EXERCISE = get_exercise("elman")
SECRET = "a secret for the time-budget tests"
GRACE = 1.5       # forks, the parent's planning and reading, on a busy machine


def looping_everywhere(student: str, tmp_path) -> Target:
    """A notebook whose every stage function is the student's, looping forever."""
    variant = choose_variant(EXERCISE.variant_space, EXERCISE.id, student, PUBLIC_SALT)
    cells = [f"def {name}(*args, **kwargs):\n    while True:\n        pass\n"
             for name in stage_solutions(EXERCISE, variant)]
    path = tmp_path / f"{student}.ipynb"
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"bptt": {"exercise": EXERCISE.id, "student": student}},
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                   "outputs": [], "source": source} for source in cells]}))
    return Target(path, student=student, exercise=EXERCISE.id)


def graded(target: Target, limits: Limits) -> tuple[object, float, list[float]]:
    """(result, seconds, the wall limit each job ran under) of one submission alone."""
    config = CourseConfig(secret=SECRET, limits=limits)
    walls: list[float] = []
    with Worker(limits) as worker:
        run_once = worker._run_once

        def counted(*args, wall_seconds=None, **kwargs):
            walls.append(limits.job(wall_seconds)["wall_seconds"])
            return run_once(*args, wall_seconds=wall_seconds, **kwargs)

        worker._run_once = counted
        started = time.monotonic()
        result = grade_target(target, config, worker)
        return result, time.monotonic() - started, walls


@pytest.mark.parametrize("student", ["ada", "grace"])
def test_a_student_who_loops_in_every_function_costs_the_budget_and_no_more(student, tmp_path):
    limits = Limits(wall_seconds=1, cpu_seconds=1, memory_mb=512, submission_seconds=2.5,
                    retries=10)
    result, seconds, walls = graded(looping_everywhere(student, tmp_path), limits)
    assert seconds < limits.submission_seconds + GRACE
    assert len(walls) < 1 + limits.retries                  # the budget ended it, not retries
    assert all(wall <= limits.wall_seconds for wall in walls)
    assert sum(walls) <= limits.submission_seconds + 0.01
    assert result.score == 0 and result.max_score == EXERCISE.points
    messages = "\n".join(check.message for check in result.checks)
    assert "time budget of 2.5 s was spent" in messages
    assert "time limit was reached" in messages               # the stalled calls say so


@pytest.mark.parametrize("retries", [0, 1])
def test_the_course_sets_how_many_fresh_jobs_follow_a_stalled_call(retries, tmp_path):
    limits = Limits(wall_seconds=0.6, cpu_seconds=1, memory_mb=512, submission_seconds=60,
                    retries=retries)
    result, seconds, walls = graded(looping_everywhere(f"retries-{retries}", tmp_path), limits)
    assert len(walls) == 1 + retries
    assert seconds < (1 + retries) * limits.wall_seconds + GRACE
    assert result.score == 0


def test_an_honest_submission_is_graded_alike_under_a_tight_budget(tmp_path):
    student = "honest-ann"
    variant = choose_variant(EXERCISE.variant_space, EXERCISE.id, student, PUBLIC_SALT)
    path = tmp_path / f"{student}.ipynb"
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"bptt": {"exercise": EXERCISE.id, "student": student}},
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": source}
                  for source in stage_solutions(EXERCISE, variant).values()]}))
    target = Target(path, student=student, exercise=EXERCISE.id)
    tight, _, walls = graded(target, Limits(wall_seconds=5, submission_seconds=5, retries=0))
    assert len(walls) == 1 and tight.score == EXERCISE.points


@pytest.mark.parametrize("setting, value", [("retries", -1), ("retries", 11), ("retries", 1.5),
                                            ("submission_seconds", 0), ("wall_seconds", "20"),
                                            ("submission_seconds", 0.01)])
def test_a_course_file_with_a_bad_budget_is_refused_naming_it(setting, value, tmp_path):
    path = tmp_path / "bptt-course.toml"
    path.write_text(f'secret = "{SECRET}"\n[limits]\n{setting} = {json.dumps(value)}\n')
    with pytest.raises(ValueError, match=f"{path}: limits.{setting}"):
        CourseConfig.from_file(path)


def test_a_course_file_sets_the_budget(tmp_path):
    path = tmp_path / "bptt-course.toml"
    path.write_text(f'secret = "{SECRET}"\n[limits]\nsubmission_seconds = 12.5\nretries = 0\n')
    limits = CourseConfig.from_file(path).limits
    assert (limits.submission_seconds, limits.retries) == (12.5, 0)
    assert set(limits.job()) == {"wall_seconds", "cpu_seconds", "memory_mb", "file_mb",
                                 "processes", "output_kb"}
    assert limits.job(3.0)["wall_seconds"] == 3.0 and limits.job(99)["wall_seconds"] == 20


@pytest.mark.parametrize("lost, cached", [(0.2, True), (1.45, False)])
def test_a_sandbox_failure_is_never_cached_when_the_budget_cannot_rerun_it(lost, cached,
                                                                           tmp_path):
    """The first job fails in the sandbox after `lost` seconds (a zygote that did not answer).
    With time left for a full job, the rerun's grade is the grade; without, the result is
    the sandbox's failure, which a batch never caches (a rerun grades it)."""
    student = "honest-ben"
    variant = choose_variant(EXERCISE.variant_space, EXERCISE.id, student, PUBLIC_SALT)
    path = tmp_path / f"{student}.ipynb"
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"bptt": {"exercise": EXERCISE.id, "student": student}},
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": source}
                  for source in stage_solutions(EXERCISE, variant).values()]}))
    limits = Limits(wall_seconds=1, cpu_seconds=1, memory_mb=512, submission_seconds=1.5)
    config = CourseConfig(secret=SECRET, limits=limits)
    with Worker(limits) as worker:
        run_once, failures = worker._run_once, []

        def failing_once(*args, **kwargs):
            outcomes, stalled, report = run_once(*args, **kwargs)
            if not failures:
                failures.append(time.sleep(lost))
                report.status = "worker-error"
            return outcomes, stalled, report

        worker._run_once = failing_once
        result = grade_target(Target(path, student=student, exercise=EXERCISE.id), config,
                              worker)
    assert failures
    assert ("grader_failure" not in result.metadata) == cached
    if cached:
        assert result.score == EXERCISE.points
