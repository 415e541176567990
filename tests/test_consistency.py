"""The graded gradient check: a backward against finite differences of the student's own forward.

- a right solution is consistent, for hundreds of students and every structural variant
  (relu's kinks and sigmoid's flat tails included);
- a backward that is the exact derivative of a wrong forward is consistent, and the
  feedback says the forward is where the error is;
- a backward with one wrong term is inconsistent at that parameter alone, first at the
  step the term starts at;
- a catalogue bug of a backward stage is inconsistent at the parameters where it differs
  from the right gradient, first at the step where it starts to, both computed from the
  reference's exact gradients, not from finite differences;
- the check adds no points: the stages' points and scores are those of the comparison;
- the error map by loss step (the check's calls at the reference's states against the
  reference's backward on the same arguments) is zero in every cell of a right solution,
  and, for a backward wrong from the loss at step k on or a catalogue bug, non-zero in
  exactly the cells (parameter, step) where its gradient differs from the reference's;
  a hidden stage never carries it.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import all_exercises
from grader.authoring.solution_cells import solution_namespace
from grader.checking.checks import entries_right
from grader.checking.consistency import (
    CONSISTENT,
    INCONSISTENT,
    _setup,
    checked_stages,
)
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

CHECKED = [(exercise, stage) for exercise in all_exercises().values()
           for stage in checked_stages(make_instance(exercise, "x", DEMO_SECRET))]
IDS = [f"{exercise.id}:{stage.name}" for exercise, stage in CHECKED]


def gradient_check(instance, namespace, stage):
    """The check's details and the stage's message, from the stages it needs alone."""
    with np.errstate(all="ignore"):
        outcomes = run_in_process(instance, namespace,
                                  [stage.name, *stage.gradient_of.forwards])
        result = grade_outcomes(instance, outcomes)
    check = result.checks[instance.exercise.stages.index(stage)]
    return check.details.get("gradient_check"), check


def test_every_backward_stage_of_a_network_is_checked():
    """Each exercise with a forward of the student's own has its backward checked."""
    assert {exercise.id for exercise, _ in CHECKED} >= {
        "elman", "scalar-linear", "char-rnn", "two-layer", "bidirectional"}


@pytest.mark.parametrize(("exercise", "stage"), CHECKED, ids=IDS)
def test_a_right_solution_is_consistent_for_every_student_and_variant(exercise, stage):
    seen = set()
    for i in range(120):
        instance = make_instance(exercise, f"student-{i}", DEMO_SECRET)
        namespace = solution_namespace(exercise, instance.variant, instance.student)
        details, check = gradient_check(instance, namespace, stage)
        assert check.score == 1.0
        assert details["status"] == CONSISTENT, (instance.variant, check.message)
        assert "is the exact derivative of your own" in check.message
        by_loss_step = check.details.get("error_map", {}).get("by_loss_step")
        if len(_setup(instance, stage).upstream) > 1:
            assert by_loss_step["rows"] and all(
                cell == 0.0 for row in by_loss_step["rows"] for cell in row["per_step"])
        else:
            assert by_loss_step is None
        seen.add((instance.variant.activation, instance.variant.output))
    structural = {(a, head[0]) for a in exercise.variant_space["activation"]
                  for head in exercise.variant_space["head"]}
    assert seen == structural  # every variant met


def _scaled(function, parameter, factor, result=None, stage=None):
    """function with one argument (or dict entry "params.W") scaled by factor, and, when
    `result` names an output, that output multiplied by factor: the chain rule of the
    forward F(θ with W → factor·W)."""
    argument, _, entry = parameter.partition(".")

    signature = inspect.signature(function)

    def scaled(*args, **kwargs):
        kwargs = dict(signature.bind(*args, **kwargs).arguments)   # called positionally too
        if entry:
            kwargs[argument] = {**kwargs[argument], entry: factor * kwargs[argument][entry]}
        else:
            kwargs[argument] = factor * kwargs[argument]
        value = function(**kwargs)
        if result is None:
            return value
        value = stage.named(value)
        return {**value, result: factor * np.asarray(value[result])}
    return scaled


def _recurrent_parameter(stage) -> tuple[str, str]:
    """A (result, parameter) the backward returns and takes: the first matrix or scalar
    weight that is an argument of both the forward and the backward."""
    gradient = stage.gradient_of
    for result, parameter in gradient.wrt.items():
        argument = parameter.partition(".")[0]
        if argument in stage.inputs and parameter not in ("x", "s0", "a0", "f0", "r0", "z0"):
            return result, parameter
    raise AssertionError(f"{stage.name} takes none of the parameters it differentiates")


WRONG_SCALE = 0.5      # a weight halved: probabilities (bce's ŷ) stay in (0, 1)


@pytest.mark.parametrize(("exercise", "stage"), CHECKED, ids=IDS)
def test_the_exact_derivative_of_a_wrong_forward_is_consistent(exercise, stage):
    result, parameter = _recurrent_parameter(stage)
    for i in range(12):
        instance = make_instance(exercise, f"wrong-forward-{i}", DEMO_SECRET)
        namespace = solution_namespace(exercise, instance.variant, instance.student)
        right = dict(namespace)
        for forward in stage.gradient_of.forwards:
            if parameter.partition(".")[0] in exercise.stage(forward).inputs:
                namespace[forward] = _scaled(namespace[forward], parameter, WRONG_SCALE)
        namespace[stage.name] = _with_right_forwards(
            _scaled(namespace[stage.name], parameter, WRONG_SCALE, result, stage), namespace, right,
            stage.gradient_of.forwards)
        details, check = gradient_check(instance, namespace, stage)
        assert check.score < 1.0                       # the reference sees it is wrong
        assert details["status"] == CONSISTENT, check.message
        assert "Your forward is where the error is" in check.message


def _with_right_forwards(function, namespace, right, forwards):
    """function, calling the right forwards while it runs (a backward that runs the
    forward itself, as the closed forms do, must not see it scaled twice)."""
    def backward(*args, **kwargs):
        scaled = {name: namespace[name] for name in forwards}
        namespace.update({name: right[name] for name in forwards})
        try:
            return function(*args, **kwargs)
        finally:
            namespace.update(scaled)
    return backward


def _one_wrong_term(function, stage, result, t0):
    """The backward with 1.5× the gradient of `result` from the loss at steps ≥ t0 (all of
    it without a time axis): one wrong term, starting at step t0."""
    gradient = stage.gradient_of

    def wrong(**kwargs):
        value = stage.named(function(**kwargs))
        if gradient.upstream is None or t0 is None:
            extra = value[result]
        else:
            late = np.array(kwargs[gradient.upstream], dtype=float)
            index = (slice(None),) * gradient.time_axis + (slice(0, t0),)
            late[index] = 0.0
            extra = stage.named(function(**{**kwargs, gradient.upstream: late}))[result]
        return {**value, result: value[result] + 0.5 * np.asarray(extra)}
    return wrong


@pytest.mark.parametrize(("exercise", "stage"), CHECKED, ids=IDS)
def test_one_wrong_term_is_found_at_its_parameter_and_first_step(exercise, stage):
    rng = np.random.default_rng(11)
    for i in range(12):
        instance = make_instance(exercise, f"one-term-{i}", DEMO_SECRET)
        setup = _setup(instance, stage)
        timed = len(setup.upstream) > 1
        results = list(setup.directions)
        result = results[rng.integers(len(results))]
        t0 = int(rng.integers(len(setup.upstream))) if timed else None
        namespace = solution_namespace(exercise, instance.variant, instance.student)
        namespace[stage.name] = _one_wrong_term(namespace[stage.name], stage, result, t0)
        details, check = gradient_check(instance, namespace, stage)
        assert details["status"] == INCONSISTENT, check.message
        assert details["parameters"] == [result], check.message
        assert details["first_step"] == t0
        where = f"at {result}, first for the loss at t={t0}" if timed else f"at {result}."
        assert where in check.message


@pytest.mark.parametrize(("exercise", "stage"), CHECKED, ids=IDS)
def test_a_catalogue_bug_is_found_where_it_differs_from_the_exact_gradient(exercise, stage):
    """Where a bug differs is computed from the reference's gradient (solve) and the bug's,
    on the check's own calls: which outputs differ at all, and the first loss step."""
    checked = 0
    for i, bug in itertools.product(range(3), stage.bugs):
        instance = make_instance(exercise, f"bug-{i}", DEMO_SECRET)
        if not bug.applies(instance.variant):
            continue
        setup = _setup(instance, stage)
        states = {name: value for forward in setup.forwards
                  for name, value in forward.named(forward.solve(
                      instance.variant, **{k: setup.point[k] for k in forward.inputs})).items()}
        differs: dict[str, int] = {}
        for step, v in enumerate(setup.upstream):
            kwargs = {name: v if name == stage.gradient_of.upstream else states.get(
                name, setup.point.get(name, setup.others.get(name))) for name in stage.inputs}
            right = stage.named(stage.solve(instance.variant, **kwargs))
            try:
                theirs = stage.named(bug.implementation(instance.variant, **kwargs))
            except Exception:  # noqa: BLE001 — the bug raises at these sizes
                break
            for result in setup.directions:
                a, b = np.asarray(theirs[result], float), np.asarray(right[result], float)
                if a.shape != b.shape or not entries_right(a, b, rtol=1e-3, atol=1e-6).all():
                    differs.setdefault(result, step)
        else:
            namespace = solution_namespace(exercise, instance.variant, instance.student)
            namespace[stage.name] = _as_student(bug.implementation, instance.variant)
            details, check = gradient_check(instance, namespace, stage)
            if not differs:
                continue
            assert details["status"] == INCONSISTENT, (bug.misconception, check.message)
            assert set(details["parameters"]) <= set(differs), bug.misconception
            if len(setup.upstream) > 1:
                assert details["first_step"] == min(differs[p] for p in details["parameters"])
            checked += 1
    assert checked or not stage.bugs


def _as_student(implementation, variant):
    def student(**kwargs):
        return implementation(variant, **kwargs)
    return student


@pytest.mark.parametrize(("exercise", "stage"), CHECKED[:1], ids=IDS[:1])
def test_the_check_adds_no_points(exercise, stage):
    instance = make_instance(exercise, "points", DEMO_SECRET)
    namespace = solution_namespace(exercise, instance.variant, instance.student)
    with np.errstate(all="ignore"):
        result = grade_outcomes(instance, run_in_process(instance, namespace))
    assert sum(check.points for check in result.checks) == exercise.points
    assert [check.score for check in result.checks] == [1.0] * len(exercise.stages)


WRONG_FORWARD = '''

_right_rnn_forward = rnn_forward


def rnn_forward(x, s0, U, W, b):
    return _right_rnn_forward(x, s0, U, 1.5 * W, b)
'''
ITS_DERIVATIVE = '''

_right_rnn_backward = rnn_backward


def rnn_backward(ds_out, x, s0, s, U, W):
    dx, ds0, dU, dW, db = _right_rnn_backward(ds_out, x, s0, s, U, 1.5 * W)
    return dx, ds0, dU, 1.5 * dW, db
'''
WRONG_TERM = '''

_right_rnn_backward = rnn_backward


def rnn_backward(ds_out, x, s0, s, U, W):
    dx, ds0, dU, dW, db = _right_rnn_backward(ds_out, x, s0, s, U, W)
    return dx, ds0, dU, 1.5 * dW, db
'''


def test_bptt_grade_reports_the_check_from_the_sandbox(tmp_path):
    """Through `bptt grade` (the sandbox, a second round of calls for a forward that is
    not the reference's): the verdict is in the stage's message and details."""
    from test_routes import COURSE_FILE, bptt_grade, release

    from grader.authoring.course import CourseConfig
    from grader.authoring.solution_cells import stage_solutions
    from grader.cli.simulated import filled_in

    (tmp_path / "bptt-course.toml").write_text(COURSE_FILE)
    config = CourseConfig.from_file(tmp_path / "bptt-course.toml")
    exercise = all_exercises()["elman"]
    folder = tmp_path / "in"
    folder.mkdir()
    for student in ("gc-1", "gc-2"):
        solution = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                           config.salt).variant)
        versions = {"faithful": {**solution, "rnn_forward": solution["rnn_forward"] + WRONG_FORWARD,
                                 "rnn_backward": solution["rnn_backward"] + ITS_DERIVATIVE},
                    "wrong-term": {**solution,
                                   "rnn_backward": solution["rnn_backward"] + WRONG_TERM}}
        per_student = release(exercise, student, config.salt)
        for label, code in versions.items():
            (folder / f"{student}-{label}.ipynb").write_text(
                json.dumps(filled_in(per_student, student, code)))
    results = bptt_grade(tmp_path, "in")
    for path, result in results.items():
        test = next(t for t in result["tests"] if "(rnn_backward)" in t["name"])
        if path.endswith("faithful.ipynb"):
            assert "is the exact derivative of your own rnn_forward" in test["output"]
            assert "Your forward is where the error is" in test["output"]
        else:
            assert "disagrees with finite differences of your own rnn_forward at dW, first " \
                   "for the loss at t=" in test["output"], test["output"]


@pytest.mark.parametrize("forged", ["short", "nan", "float32", "foreign", "error", "missing"])
def test_unusable_answers_make_the_check_not_made_never_a_failure(forged):
    """Forged or broken outcomes of the check's own calls (what a hostile or careless
    notebook can return) give "not checked", and the grade stays the comparison's."""
    from grader.checking.verdicts import ForeignValue, Outcome, plan_calls

    exercise = all_exercises()["elman"]
    stage = exercise.stage("rnn_backward")
    instance = make_instance(exercise, "forged", DEMO_SECRET)
    namespace = solution_namespace(exercise, instance.variant, instance.student)
    plan = plan_calls(instance)
    with np.errstate(all="ignore"):
        outcomes = run_in_process(instance, namespace)
    forward = outcomes["rnn_forward"]
    for index, probe in enumerate(plan["rnn_forward"]):
        if probe.gradient_check is None:
            continue
        s = forward[index].outputs["s"]
        forward[index] = {
            "short": Outcome(outputs={"s": s[:, :-1]}),
            "nan": Outcome(outputs={"s": np.full_like(s, np.nan)}),
            "float32": Outcome(outputs={"s": s.astype(np.float32)}),
            "foreign": Outcome(outputs={"s": ForeignValue("Evil")}),
            "error": Outcome(error="RuntimeError: no"),
            "missing": None,
        }[forged]
    if forged == "missing":
        outcomes["rnn_forward"] = [o for o in forward if o is not None]
    with np.errstate(all="ignore"):
        result = grade_outcomes(instance, outcomes, plan=plan)
    check = result.checks[exercise.stages.index(stage)]
    assert check.details["gradient_check"]["status"] == "not checked", check.message
    assert check.score == 1.0
    assert "Gradient check: not made, because" in check.message


# -- the error map by loss step ----------------------------------------------------------------


def _calls_at_reference(instance, stage):
    """The arguments of the check's backward calls at the reference's states, one per loss
    step t (v_t non-zero at step t only), built from the setup as the check builds them."""
    setup = _setup(instance, stage)
    states = {name: value for forward in setup.forwards
              for name, value in forward.named(forward.solve(
                  instance.variant, **{k: setup.point[k] for k in forward.inputs})).items()}
    return [{name: v if name == stage.gradient_of.upstream else states.get(
        name, setup.point.get(name, setup.others.get(name))) for name in stage.inputs}
        for v in setup.upstream]


def _loss_step_rows(check) -> dict[str, list]:
    found = check.details["error_map"]["by_loss_step"]
    assert found["steps"] == len(found["rows"][0]["per_step"])
    return {row["parameter"]: row["per_step"] for row in found["rows"]}


TIMED = [(exercise, stage) for exercise, stage in CHECKED
         if len(_setup(make_instance(exercise, "x", DEMO_SECRET), stage).upstream) > 1]


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(range(len(TIMED))), student=st.integers(0, 10**6), data=st.data())
def test_a_backward_wrong_from_the_loss_at_step_k_on_shows_as_a_band(case, student, data):
    """One parameter's gradient 1.5× the right one for the losses at steps ≥ k: its row is
    zero before k and non-zero from k on (wherever the right gradient is not itself within
    tolerance of zero), every other row is zero."""
    exercise, stage = TIMED[case]
    instance = make_instance(exercise, f"band-{student}", DEMO_SECRET)
    setup = _setup(instance, stage)
    result = data.draw(st.sampled_from(sorted(setup.directions)))
    k = data.draw(st.integers(0, len(setup.upstream) - 1))
    namespace = solution_namespace(exercise, instance.variant, instance.student)
    namespace[stage.name] = _one_wrong_term(namespace[stage.name], stage, result, k)
    _, check = gradient_check(instance, namespace, stage)
    rows = _loss_step_rows(check)
    wrong = []
    for t, kwargs in enumerate(_calls_at_reference(instance, stage)):
        right = np.asarray(stage.named(stage.solve(instance.variant, **kwargs))[result], float)
        wrong.append(t >= k and not entries_right(1.5 * right, right).all())
    assert [cell > 0 for cell in rows[result]] == wrong
    # A wrong term on a gradient that is zero from step k on (the last step's, through
    # ReLU units all off there) changes nothing, and the map rightly shows nothing.
    assume(any(wrong[k:]))
    for name, cells in rows.items():
        if name != result:
            assert cells == [0.0] * len(cells), name


@pytest.mark.parametrize(("exercise", "stage"), TIMED, ids=[f"{e.id}:{s.name}" for e, s in TIMED])
def test_a_catalogue_bug_s_map_is_non_zero_where_it_differs_from_the_reference(exercise, stage):
    """Per parameter and loss step, non-zero exactly where the bug's gradient on the check's
    call differs from the reference's (None where the bug raises); a bug right for the
    first losses and wrong from step k on (a recurrent term dropped, BPTT cut short)
    shows as a band from k."""
    compared = banded = 0
    for i, bug in itertools.product(range(3), stage.bugs):
        instance = make_instance(exercise, f"bug-map-{i}", DEMO_SECRET)
        if not bug.applies(instance.variant):
            continue
        namespace = solution_namespace(exercise, instance.variant, instance.student)
        namespace[stage.name] = _as_student(bug.implementation, instance.variant)
        _, check = gradient_check(instance, namespace, stage)
        rows = _loss_step_rows(check)
        for t, kwargs in enumerate(_calls_at_reference(instance, stage)):
            right = stage.named(stage.solve(instance.variant, **kwargs))
            try:
                with np.errstate(all="ignore"):
                    theirs = stage.named(bug.implementation(instance.variant, **kwargs))
            except Exception:  # noqa: BLE001 — the bug raises at these sizes
                theirs = None
            for name, cells in rows.items():
                if theirs is None:
                    assert cells[t] is None, (bug.misconception, name, t)
                    continue
                a, b = np.asarray(theirs[name], float), np.asarray(right[name], float)
                differs = a.shape != b.shape or not entries_right(a, b).all()
                assert (cells[t] is None if a.shape != b.shape else (cells[t] > 0) == differs), \
                    (bug.misconception, name, t, cells)
                compared += 1
        for cells in rows.values():
            k = next((t for t, cell in enumerate(cells) if cell != 0.0), 0)
            banded += 0 < k and all(cell is not None and cell > 0 for cell in cells[k:])
    assert compared or not stage.bugs
    if stage.name in ("rnn_backward", "scalar_bptt"):      # recurrent-term-dropped, at least
        assert banded


@pytest.mark.parametrize(("exercise", "stage"), TIMED, ids=[f"{e.id}:{s.name}" for e, s in TIMED])
def test_a_hidden_stage_never_carries_the_map(exercise, stage):
    hidden = replace(exercise, stages=tuple(replace(s, visibility="hidden") if s == stage else s
                                            for s in exercise.stages))
    hidden_stage = hidden.stage(stage.name)
    for i, bug in enumerate([None, *stage.bugs]):
        instance = make_instance(hidden, f"hidden-{i}", DEMO_SECRET)
        namespace = solution_namespace(hidden, instance.variant, instance.student)
        if bug is not None and bug.applies(instance.variant):
            namespace[stage.name] = _as_student(bug.implementation, instance.variant)
        details, check = gradient_check(instance, namespace, hidden_stage)
        assert check.visibility == "hidden" and details is not None
        assert "error_map" not in check.details
        assert "by_loss_step" not in json.dumps(check.details)


@pytest.mark.parametrize("forged", ["error", "short", "foreign", "missing"])
def test_an_unusable_backward_call_leaves_its_column_empty(forged):
    """A call of the check that raised, or whose answer cannot be read with the reference's
    shape, is a column of None (drawn grey), never an error of the grader; the others keep
    their errors, and the page still draws the map."""
    from grader.checking.verdicts import ForeignValue, Outcome, plan_calls
    from grader.reports.feedback import render_feedback_html

    exercise = all_exercises()["elman"]
    stage = exercise.stage("rnn_backward")
    instance = make_instance(exercise, f"forged-map-{forged}", DEMO_SECRET)
    namespace = solution_namespace(exercise, instance.variant, instance.student)
    plan = plan_calls(instance)
    with np.errstate(all="ignore"):
        outcomes = run_in_process(instance, namespace)
    calls = [i for i, probe in enumerate(plan[stage.name]) if probe.gradient_check]
    j = len(calls) // 2
    index = calls[j]
    dW = outcomes[stage.name][index].outputs["dW"]
    outcomes[stage.name][index] = {
        "error": Outcome(error="RuntimeError: no"),
        "short": Outcome(outputs={**outcomes[stage.name][index].outputs, "dW": dW[:-1]}),
        "foreign": Outcome(outputs={**outcomes[stage.name][index].outputs,
                                    "dW": ForeignValue("Evil")}),
        "missing": None,
    }[forged]
    if forged == "missing":
        outcomes[stage.name] = outcomes[stage.name][:index]
    with np.errstate(all="ignore"):
        result = grade_outcomes(instance, outcomes, plan=plan)
    check = result.checks[exercise.stages.index(stage)]
    rows = _loss_step_rows(check)
    for name, cells in rows.items():
        broken = {j} if forged in ("error", "missing") or name == "dW" else set()
        if forged == "missing":
            broken = set(range(j, len(cells)))
        assert [t for t, cell in enumerate(cells) if cell is None] == sorted(broken), name
        assert all(cell == 0.0 for t, cell in enumerate(cells) if t not in broken), name
    assert re.search(r'<g id="c\d+error_map-parameter-map">', render_feedback_html(result))
