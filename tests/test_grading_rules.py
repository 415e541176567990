"""The rules that turn outcomes into credit, each pinned by the exact credit it gives.

The rules are written in `grader.checking.verdicts`' docstring and in
docs/students.md: a stage earns the mean of its probes; a probe earns the
fraction of its counted outputs that are right; an output is right only when
every entry is; an output that must be None counts only when it is not None;
a call that raised earns 0; changing an argument in place halves the probe; a
repeated call that disagrees earns the lower of the two. Every expected value
below is that arithmetic written out, never a call into the grader.

`rnn_backward` of the elman exercise has 4 probes (the first one repeated, the last
one at other sizes than the student's) and 5 outputs (dx, ds0, dU, dW, db); it calls
`rnn_step_backward`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import get_exercise
from grader.checking.verdicts import ForeignValue, Outcome, grade_outcomes, plan_calls

ELMAN = get_exercise("elman")
INSTANCE = make_instance(ELMAN, "student-007", DEMO_SECRET)
PLAN = plan_calls(INSTANCE)


def right_outcomes(instance, stage_name: str, plan=None) -> list[Outcome]:
    """What a correct function returns on every probe of the stage."""
    stage = instance.exercise.stage(stage_name)
    probes = (plan or PLAN)[stage_name]
    return [Outcome(outputs=stage.named(stage.solve(instance.variant, **probe.kwargs)))
            for probe in probes]


def graded(stage_name: str, outcomes: list[Outcome], instance=INSTANCE, plan=None,
           others: dict | None = None):
    """The stage's check when it has these outcomes and every other stage is right."""
    plan = plan or PLAN
    everything = {name: right_outcomes(instance, name, plan) for name in plan}
    everything.update(others or {})
    everything[stage_name] = outcomes
    result = grade_outcomes(instance, everything, plan=plan)
    return next(check for check in result.checks if check.tags == (stage_name,))


def with_output(outcome: Outcome, name: str, value) -> Outcome:
    return dataclasses.replace(outcome, outputs={**outcome.outputs, name: value})


def nudged(array: np.ndarray, factor: float, index=0) -> np.ndarray:
    """`array` with one entry moved by `factor` times the tolerance bound 1e-9 + 1e-6·|e|."""
    changed = np.array(array, dtype=np.float64, copy=True)
    changed.flat[index] += factor * (1e-9 + 1e-6 * abs(changed.flat[index]))
    return changed


def test_right_on_every_probe_is_full_credit_and_passed():
    check = graded("rnn_backward", right_outcomes(INSTANCE, "rnn_backward"))
    assert (check.score, check.status) == (1.0, "passed")


@pytest.mark.parametrize("output", ["dx", "ds0", "dU", "dW", "db"])
@pytest.mark.parametrize(("factor", "right"), [(0.5, True), (2.0, False)])
def test_one_entry_at_half_or_twice_the_bound_in_one_probe(output, factor, right):
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    outcomes[1] = with_output(outcomes[1], output, nudged(outcomes[1].outputs[output], factor))
    check = graded("rnn_backward", outcomes)
    # one output of five wrong in one probe of four: (1 + 4/5 + 1 + 1) / 4
    assert check.score == pytest.approx(1.0 if right else (1 + 4 / 5 + 1 + 1) / 4)
    assert check.status == ("passed" if right else "failed")


def test_an_output_with_one_wrong_time_step_is_wrong_as_a_whole():
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    dx = outcomes[2].outputs["dx"].copy()
    dx[:, [0, -1]] += 1.0                              # the first and the last step wrong
    outcomes[2] = with_output(outcomes[2], "dx", dx)
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx((1 + 1 + 4 / 5 + 1) / 4)
    T = dx.shape[1]
    assert f"the first wrong step is t={T - 1}, {T - 2} of {T} steps right" in check.message


def test_a_forward_state_is_located_going_forward_from_t0():
    outcomes = right_outcomes(INSTANCE, "rnn_forward")
    s = outcomes[0].outputs["s"].copy()
    s[:, 1:] += 1.0                                     # wrong from t=1 on
    outcomes[0] = with_output(outcomes[0], "s", s)
    check = graded("rnn_forward", outcomes)
    assert "going forward from t=0, the first wrong step is t=1" in check.message
    assert check.score == pytest.approx((0 + 1 + 1) / 3)


def test_one_probe_that_raises_earns_zero_and_the_rest_keep_their_credit():
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    outcomes[0] = Outcome(error="IndexError: index 5 is out of bounds")
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx(3 / 4)
    assert check.status == "failed"                    # partial credit: not "error"
    assert "the call raised IndexError" in check.message


def test_every_probe_raising_is_an_error_with_no_credit():
    check = graded("rnn_backward", [Outcome(error="ZeroDivisionError: division by zero")] * 4)
    assert (check.score, check.status) == (0.0, "error")


@pytest.mark.parametrize("which", ["first", "second"])
def test_a_repeated_call_that_disagrees_earns_the_lower_of_the_two(which):
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    right = outcomes[0].outputs
    wrong = {**right, "dW": right["dW"] + 1.0}
    first, second = (wrong, right) if which == "first" else (right, wrong)
    outcomes[0] = Outcome(outputs=first, repeat_outputs=second)
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx((4 / 5 + 1 + 1 + 1) / 4)
    assert "a second call with the same inputs returned something else" in check.message


def test_changing_an_argument_in_place_halves_that_probe():
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    outcomes[2] = dataclasses.replace(outcomes[2], mutated=("ds_out",))
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx((1 + 1 + 1 / 2 + 1) / 4)
    assert "changed its argument(s) ds_out in place" in check.message


@pytest.mark.parametrize("answer", [None, ForeignValue("MyGradient"), "0.5", np.zeros(0)])
def test_none_or_anything_but_numbers_where_an_array_is_expected_is_wrong(answer):
    outcomes = [with_output(o, "db", answer) for o in right_outcomes(INSTANCE, "rnn_backward")]
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx(4 / 5)


NO_BIAS = next(instance for instance in (
    make_instance(get_exercise("truncated"), f"student-{i:03d}", DEMO_SECRET) for i in range(200))
    if not instance.variant.bias)
NO_BIAS_PLAN = plan_calls(NO_BIAS)


def test_an_output_that_must_be_none_counts_only_when_it_is_not():
    outcomes = right_outcomes(NO_BIAS, "truncated_bptt", NO_BIAS_PLAN)
    assert all(o.outputs["db"] is None for o in outcomes)
    n = len(outcomes)
    check = graded("truncated_bptt", outcomes, NO_BIAS, NO_BIAS_PLAN)
    assert check.score == 1.0
    wrong = [with_output(o, "db", np.zeros(3)) for o in outcomes]
    check = graded("truncated_bptt", wrong, NO_BIAS, NO_BIAS_PLAN)
    assert check.score == pytest.approx(2 / 3)         # dU, dW right; db counted, wrong
    assert "db should be None" in check.message
    only_none = [Outcome(outputs={"dU": None, "dW": None, "db": None})] * n
    assert graded("truncated_bptt", only_none, NO_BIAS, NO_BIAS_PLAN).score == 0.0


def test_a_wrong_stage_with_right_callees_does_not_blame_them():
    outcomes = [with_output(o, "dW", o.outputs["dW"] + 1.0)
                for o in right_outcomes(INSTANCE, "rnn_backward")]
    check = graded("rnn_backward", outcomes)
    assert check.score == pytest.approx(4 / 5)
    assert "which is wrong too" not in check.message


def test_a_wrong_callee_is_named_in_its_callers_feedback_and_costs_the_caller_nothing():
    step = [with_output(o, "dW", o.outputs["dW"] + 1.0)
            for o in right_outcomes(INSTANCE, "rnn_step_backward")]
    right_caller = graded("rnn_backward", right_outcomes(INSTANCE, "rnn_backward"),
                          others={"rnn_step_backward": step})
    assert right_caller.score == 1.0
    wrong = [with_output(o, "dW", o.outputs["dW"] + 1.0)
             for o in right_outcomes(INSTANCE, "rnn_backward")]
    wrong_caller = graded("rnn_backward", wrong, others={"rnn_step_backward": step})
    assert wrong_caller.score == pytest.approx(4 / 5)
    assert "calls rnn_step_backward, which is wrong too" in wrong_caller.message


def test_a_float32_answer_that_misses_is_told_about_precision():
    outcomes = right_outcomes(INSTANCE, "rnn_backward")
    rough = (outcomes[0].outputs["dW"] + 1e-3).astype(np.float32)
    outcomes[0] = with_output(outcomes[0], "dW", rough)
    check = graded("rnn_backward", outcomes)
    assert "it is float32" in check.message and "float64" in check.message
    close = outcomes[1].outputs["dU"].astype(np.float32).astype(np.float64)
    assert "float32" not in graded("rnn_backward", [
        with_output(o, "dU", close) if i == 1 else o
        for i, o in enumerate(right_outcomes(INSTANCE, "rnn_backward"))]).message


def test_an_empty_result_that_should_be_empty_is_right():
    """Zero entries, all of them right (a batch of no sequences, say): not a wrong output."""
    from grader.checking.verdicts import _judge_output

    assert _judge_output("s", np.zeros((0, 4)), np.zeros((0, 4)), 1).right
    assert not _judge_output("s", np.zeros((0, 4)), np.zeros((0, 3)), 1).right
