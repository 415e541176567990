"""What every exercise of the registry promises, checked for each one.

Per exercise, over many students: its solution cells (run as a notebook runs
them) agree with `solve` on every probe; every bug that applies to a student's
variant is caught by some probe and cannot be mistaken for another bug; every
bug names a catalogue misconception; the same student always gets the same
instance and different students get different ones. Exercise-specific
properties (finite differences, the seeds' questions) live in test_exercise_*.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
from catalogue import bug_report, check_solutions, probe_fingerprint
from conftest import report

from exercises.misconceptions import CATALOGUE
from exercises.registry import all_exercises, get_exercise

STUDENTS = [f"student-{i:03d}" for i in range(30)]
EXERCISES = sorted(all_exercises())


@pytest.fixture(params=EXERCISES)
def exercise(request):
    return get_exercise(request.param)


def test_the_catalogue_has_its_eight_exercises():
    assert {"elman", "two-layer", "bidirectional", "truncated", "scalar-linear", "char-rnn",
            "vanishing", "output-jacobian"} <= set(EXERCISES)


def test_an_exercise_is_registered_under_its_id_and_follows_a_seed(exercise):
    assert exercise.seed in {"000", "001", "002", "003", "004"}
    assert exercise.points == sum(stage.points for stage in exercise.stages) > 0
    assert len({stage.name for stage in exercise.stages}) == len(exercise.stages)


def test_every_bug_names_a_catalogue_entry(exercise):
    for stage in exercise.stages:
        for bug in stage.bugs:
            assert bug.misconception in CATALOGUE, (exercise.id, stage.name, bug.misconception)


def test_solution_cells_agree_with_solve_on_every_probe(exercise):
    problems = [p for student in STUDENTS for p in check_solutions(exercise, student)]
    assert not problems, problems[:5]


def test_every_applicable_bug_is_caught_and_named_unambiguously(exercise):
    applicable, uncaught, ambiguous = Counter(), Counter(), Counter()
    for student in STUDENTS:
        a, u, m = bug_report(exercise, student)
        applicable.update(a)
        uncaught.update(u)
        ambiguous.update(m)
    report(f"bugs[{exercise.id}]", f"{sum(applicable.values())} bug/variant pairs over "
                                   f"{len(STUDENTS)} students, none uncaught or ambiguous")
    assert applicable
    assert not uncaught, uncaught
    assert not ambiguous, ambiguous


def test_same_student_same_instance_and_students_differ(exercise):
    assert probe_fingerprint(exercise, "ada") == probe_fingerprint(exercise, "ada")
    prints = [probe_fingerprint(exercise, student) for student in STUDENTS[:12]]
    assert len(set(prints)) == len(prints)


def test_every_misconception_of_the_catalogue_shows_in_some_exercise():
    used = {bug.misconception for name in EXERCISES for stage in get_exercise(name).stages
            for bug in stage.bugs}
    assert set(CATALOGUE) == used, set(CATALOGUE) - used
