"""Grading the elman exercise: fair to correct code however written, precise about wrong code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_diagnosis import solution_namespace, stage_check

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import get_exercise
from grader.checking.verdicts import grade_outcomes, plan_calls
from grader.cli.simulated import ELMAN_STYLES
from grader.grading.in_process import run_in_process

ELMAN = get_exercise("elman")
STUDENTS = [f"student-{i:03d}" for i in range(16)]

# Correct implementations written the way different students write them (more in
# grader.simulated.ELMAN_STYLES, shared with the demo).
ALTERNATIVES = {
    "φ' from the pre-activation recovered from the state": '''
def phi_prime(s):
    if ACTIVATION == "tanh":
        return 1.0 / np.cosh(np.arctanh(s)) ** 2
    if ACTIVATION == "sigmoid":
        a = np.log(s / (1.0 - s))
        return np.exp(-a) / (1.0 + np.exp(-a)) ** 2
    if ACTIVATION == "relu":
        return np.where(s > 0, 1.0, 0.0)
    return np.ones(s.shape)
''',
    "update returned as lists": '''
def sgd_update(params, grads, lr):
    new = {}
    for name in ["U", "W", "b", "V", "c"]:
        new[name] = (params[name] - lr * grads[name]).tolist()
    return new
''',
    "forward with a preallocated list of states": '''
def rnn_forward(x, s0, U, W, b):
    states = [s0]
    for t in range(x.shape[1]):
        states.append(phi(x[:, t] @ U + states[-1] @ W + b))
    return np.stack(states[1:], axis=1)
''',
}


@pytest.mark.parametrize("style", sorted(ALTERNATIVES) + sorted(ELMAN_STYLES))
def test_correct_code_written_differently_gets_full_marks(style):
    source = ALTERNATIVES[style] if style in ALTERNATIVES else ELMAN_STYLES[style][1]
    for student in STUDENTS:
        instance = make_instance(ELMAN, student, DEMO_SECRET)
        namespace = solution_namespace(instance)
        namespace["ACTIVATION"] = instance.variant.activation
        exec(compile(source, "<student cell>", "exec"), namespace)
        result = grade_outcomes(instance, run_in_process(instance, namespace))
        assert result.score == result.max_score, [c.message for c in result.checks
                                                  if c.score < 1]


def bumped(value):
    """Every entry moved by 1e-3 · (1 + |entry|): wrong at any rtol, atol below 1e-3."""
    value = np.asarray(value, dtype=float)
    return value + 1e-3 * (1.0 + np.abs(value))


@settings(max_examples=40, deadline=None)
@given(student=st.text(min_size=1, max_size=12).filter(str.strip),
       stage_name=st.sampled_from([s.name for s in ELMAN.stages]), data=st.data())
def test_a_solution_cell_gets_full_marks_and_one_wrong_output_its_exact_share(student,
                                                                               stage_name,
                                                                               data):
    """The notebook's solution cell scores 1; the same cell with every entry of one of its
    outputs wrong scores 1 − 1/(number of outputs) on every probe, hence for the stage: a
    probe's score is the mean over its outputs, and a wholly wrong output (with a time axis or
    not) earns 0."""
    instance = make_instance(ELMAN, student, DEMO_SECRET)
    stage = ELMAN.stage(stage_name)
    namespace = solution_namespace(instance)
    check = stage_check(grade_outcomes(instance, run_in_process(instance, namespace)), stage_name)
    assert check.score == 1.0 and check.status == "passed"

    output = data.draw(st.sampled_from(stage.outputs), label="output")
    cell = namespace[stage_name]

    def one_output_wrong(**kwargs):
        result = cell(**kwargs)
        if isinstance(result, dict):
            return {**result, output: bumped(result[output])}
        if isinstance(result, tuple):
            position = stage.outputs.index(output)
            return result[:position] + (bumped(result[position]),) + result[position + 1:]
        return bumped(result)

    check = stage_check(grade_outcomes(instance, run_in_process(
        instance, dict(namespace, **{stage_name: one_output_wrong}), [stage_name])), stage_name)
    assert check.score == pytest.approx(1.0 - 1.0 / len(stage.outputs), abs=1e-12)
    assert check.status == "failed"
    assert f"{output}: " in check.message


@settings(max_examples=60, deadline=None)
@given(student=st.sampled_from(STUDENTS), data=st.data())
def test_one_wrong_entry_is_caught_and_localised(student, data):
    """Perturb one entry of one output of rnn_backward beyond the tolerance."""
    instance = make_instance(ELMAN, student, DEMO_SECRET)
    stage = ELMAN.stage("rnn_backward")
    probes = plan_calls(instance)["rnn_backward"]
    output = data.draw(st.sampled_from(stage.outputs), label="output")
    shape = stage.named(stage.solve(instance.variant, **probes[0].kwargs))[output].shape
    index = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    relative = data.draw(st.sampled_from([1e-4, 1e-2, 1.0, -3.0]), label="relative change")

    def perturbed(**kwargs):
        outputs = list(stage.solve(instance.variant, **kwargs))
        position = stage.outputs.index(output)
        changed = outputs[position].copy()
        changed[index] += relative * max(abs(changed[index]), 1e-3)
        outputs[position] = changed
        return tuple(outputs)

    check = stage_check(grade_outcomes(instance, run_in_process(
        instance, {"rnn_backward": perturbed})), "rnn_backward")
    assert check.score < 1.0 and check.status == "failed"
    assert f"{output}: 1 of {int(np.prod(shape))} entries wrong" in check.message
    if output == "dx":
        T = shape[1]
        assert (f"walking back from t={T - 1} as BPTT does, the first wrong step is "
                f"t={index[1]}, {T - 1} of {T} steps right") in check.message
    assert check.score == pytest.approx(1 - 1 / len(stage.outputs))


def grade_stage(stage_name: str, code: str, student: str = "student-000"):
    instance = make_instance(ELMAN, student, DEMO_SECRET)
    namespace = solution_namespace(instance)
    namespace["_solution"] = namespace["rnn_backward"]    # for cells that wrap the solution
    exec(compile(code, "<student cell>", "exec"), namespace)
    return stage_check(grade_outcomes(instance, run_in_process(instance, namespace)), stage_name)


def test_an_exception_scores_zero_and_says_where():
    check = grade_stage("rnn_forward", "def rnn_forward(x, s0, U, W, b):\n"
                                       "    return x @ W\n")
    assert check.score == 0.0 and check.status == "error"
    assert "ValueError" in check.message and "line 2" in check.message


def test_a_stub_is_reported_as_not_implemented():
    check = grade_stage("sgd_update", "def sgd_update(params, grads, lr):\n"
                                      "    raise NotImplementedError\n")
    assert check.score == 0.0 and "not implemented yet" in check.message


def test_a_missing_function_scores_zero():
    instance = make_instance(ELMAN, "student-000", DEMO_SECRET)
    result = grade_outcomes(instance, run_in_process(instance, {}))
    assert result.score == 0.0
    assert all("is not defined" in check.message for check in result.checks)


def test_changing_an_argument_in_place_costs_half_and_is_named():
    check = grade_stage("sgd_update", '''
def sgd_update(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]
    return params
''')
    assert check.score == 0.5
    assert "changed its argument(s) params in place" in check.message


def test_state_kept_between_calls_is_caught():
    check = grade_stage("rnn_backward", '''
_dW_total = None

def rnn_backward(ds_out, x, s0, s, U, W):
    global _dW_total
    dx, ds0, dU, dW, db = _solution(ds_out, x, s0, s, U, W)
    _dW_total = dW if _dW_total is None else _dW_total + dW
    return dx, ds0, dU, _dW_total, db
''')
    assert check.score < 1.0
    assert "a second call with the same inputs returned something else" in check.message


def test_a_wrong_callee_costs_its_own_stage_only_and_is_pointed_out():
    """One mistake costs once: rnn_backward is graded with right answers from its callee."""
    wrong_step = '''
def rnn_step_backward(ds, x_t, s_prev, s_t, U, W):
    da = ds * phi_prime(s_t)
    return da @ U.T, da @ W, x_t.T @ da, s_prev.T @ da, da.sum(axis=0)
'''
    caller = grade_stage("rnn_backward", wrong_step)
    assert caller.score == 1.0
    assert "graded with right answers from rnn_step_backward" in caller.message
    step = grade_stage("rnn_step_backward", wrong_step)
    assert step.score < 1.0 and "A weight matrix is not transposed" in step.message
    assert "δ_t Wᵀ" in step.message and "da = ds * φ'(a) in your code" in step.message
    both = grade_stage("rnn_backward", wrong_step + '''
def rnn_backward(ds_out, x, s0, s, U, W):
    dx, ds0, dU, dW, db = _solution(ds_out, x, s0, s, U, W)
    return dx, ds0, dU, 2 * dW, db
''')
    assert both.score < 1.0
    assert "calls rnn_step_backward, which is wrong too" in both.message
