"""One mistake costs once: a catalogue bug in one stage costs that stage's points and no more.

Every stage is graded with right answers from the functions it calls wherever it
calls them as a right stage would (`grader.grading.callees`), so a wrong
`rnn_step_backward` does not also cost `rnn_backward`. The bug is put where the
callers see it: in the very namespace their globals come from.
"""

from __future__ import annotations

import copy
from functools import partial

import numpy as np
import pytest
from conftest import report
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import all_exercises
from grader.authoring.solution_cells import solution_namespace
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process
from grader.sandbox.zygote import snapshot

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


# -- the callee tables' copies --------------------------------------------------------------

_arrays = st.builds(lambda shape, dtype, seed: np.random.default_rng(seed).normal(
                        size=shape).astype(dtype),
                    st.lists(st.integers(0, 3), max_size=3).map(tuple),
                    st.sampled_from(["f8", "f4", "i8"]), st.integers(0, 2**32 - 1))
_leaves = _arrays | st.floats(allow_nan=False) | st.integers() | st.booleans() | st.none() \
    | st.text(max_size=5) | st.builds(np.float64, st.floats(allow_nan=False))
_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4)
                       | st.lists(inner, max_size=4).map(tuple)
                       | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=12)


def _same_structure(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same_structure, a, b))
    return a == b


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays_in(item)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_snapshot_copies_what_deepcopy_copies(value):
    """The recorded arguments and answers of a callee table are `snapshot`s: equal to
    `copy.deepcopy`'s copy, type for type, and sharing no memory with the original, so a
    solution that later changes an argument in place cannot change the table."""
    copied = snapshot(value)
    assert _same_structure(copied, copy.deepcopy(value))
    for original, made in zip(_arrays_in(value), _arrays_in(copied), strict=True):
        assert not np.shares_memory(original, made)


def _close_everywhere(a, b) -> bool:
    """The callee matching's tolerance, written out with numpy: |a − b| ≤ 1e-12 + 1e-9·|b|."""
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= 1e-12 + 1e-9 * np.abs(b)))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["same", "copy", "nudged", "moved", "f4"]),
       st.lists(st.integers(1, 4), max_size=3))
def test_a_callee_argument_matches_when_it_is_equal_up_to_rounding(seed, how, shape):
    """A trusted callee answers an array argument that is the table's up to rounding, the
    same bytes first (a caller passing on its weights), and nothing further off."""
    from grader.sandbox.zygote import _same

    table = np.random.default_rng(seed).standard_normal(shape)
    given_ = {"same": table, "copy": table.copy(), "nudged": np.asarray(table * (1 + 1e-12)),
              "moved": np.asarray(table + 1e-6), "f4": table.astype(np.float32)}[how]
    with np.errstate(all="ignore"):
        assert _same(given_, table) == _close_everywhere(given_, table)
    assert _same({"W": given_, "T": 3}, {"W": table, "T": 3}) == _close_everywhere(given_, table)


def test_a_recorded_call_names_its_arguments_as_inspect_binds_them():
    """The solution's calls are recorded by parameter name in the parameters' order,
    positional or not, a default left out as inspect.signature leaves it out."""
    import inspect

    from grader.authoring.solution_cells import _recorder

    def step(x, s_prev, U, W, b=None):
        return x

    calls = []
    recording = _recorder(step, calls)
    shapes = [((1, 2, 3, 4, 5), {}), ((1,), {"U": 3, "W": 4, "s_prev": 2, "b": 5}),
              ((1, 2), {"W": 4, "U": 3}), ((), {"b": 5, "x": 1, "U": 3, "W": 4, "s_prev": 2})]
    for args, kwargs in shapes:
        recording(*args, **kwargs)
    expected = [dict(inspect.signature(step).bind(*args, **kwargs).arguments)
                for args, kwargs in shapes]
    assert [arguments for arguments, _ in calls] == expected
    assert [list(arguments) for arguments, _ in calls] == [list(e) for e in expected]
