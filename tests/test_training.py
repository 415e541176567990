"""Update rules and training runs for every network: the reference, the grading, the feedback.

- `reference.train_steps` is gradient descent: its first update is sgd with the
  gradient, k updates are j then k − j, and its losses are the oracle's loss at the
  weights it returns;
- a correct student gets full marks on every update and training stage, for
  students covering every activation and output head, and the loss curve in the
  check's details is the reference's, plain floats, one per update;
- a training loop with a wrong update rule written into it (the sign, the rate
  applied twice, a weight skipped) or that does not carry the weights over is
  named at the first update where its weights depart from the reference's, an
  update found here by running that loop, not from the grader;
- the notebook's example is public and is not a hidden probe.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy_oracle import loss_value
from strategies import problems

import reference as ref
from exercises.instance import DEMO_SECRET, make_instance
from exercises.misconceptions import CATALOGUE
from exercises.registry import get_exercise
from exercises.training_runs import descending_rate, stacked, trajectory
from grader.authoring.demos import structure_variants, training_example
from grader.authoring.solution_cells import solution_code, solution_namespace
from grader.checking.checks import entries_right
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

TRAINING = {"elman": ("rnn_train", "sgd_update"),
            "two-layer": ("two_layer_train", "two_layer_sgd_update"),
            "bidirectional": ("birnn_train", "birnn_sgd_update")}


# -- the reference ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(problems(T=st.integers(1, 5)), st.floats(1e-3, 0.1), st.integers(1, 4), st.data())
def test_train_steps_is_gradient_descent_with_the_oracle_s_losses(problem, lr, k, data):
    m, x, d, states = problem.model, problem.x, problem.d, problem.states
    run = ref.train_steps(m, problem.params, x, d, lr, k, **states)
    first = ref.sgd(problem.params, m.grad(problem.params, x, d, **states), lr)
    for key in first:
        np.testing.assert_array_equal(run.params[0][key], first[key])
    j = data.draw(st.integers(0, k - 1))
    if j:
        rest = ref.train_steps(m, run.params[j - 1], x, d, lr, k - j, **states)
        for got, want in zip(rest.params, run.params[j:], strict=True):
            for key in want:
                np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12)
    compared = 0
    for weights, loss in zip(run.params, run.losses, strict=True):
        with np.errstate(all="ignore"):
            oracle = loss_value(problem.kind, m, weights, x, states, d)
        if np.isfinite(oracle):   # the oracle's plain log(y) overflows once y saturates
            assert loss == pytest.approx(oracle, rel=1e-9, abs=1e-12)
            compared += 1
    assume(compared)


@settings(max_examples=60, deadline=None)
@given(problems(T=st.integers(1, 5)), st.floats(1e-2, 50.0), st.integers(1, 5))
def test_descending_rate_is_the_first_halving_whose_every_update_brings_the_loss_down(
        problem, lr, k):
    """descending_rate stops a trial rate at its first failing update; the definition, the
    whole trajectory of each trial rate by `train_steps`, must give the same rate."""
    m, x, d, states = problem.model, problem.x, problem.d, problem.states
    start = m.loss(problem.params, x, d, **states)
    want = lr
    for _ in range(30):
        with np.errstate(all="ignore"):
            try:
                losses = ref.train_steps(m, problem.params, x, d, want, k, **states).losses
            except ValueError:
                losses = [np.inf]
        if np.all(np.diff([start, *losses]) < 0):
            break
        want /= 2
    else:
        with pytest.raises(ValueError, match="no rate"):
            descending_rate(m, problem.params, x, d, lr, k, **states)
        return
    assert descending_rate(m, problem.params, x, d, lr, k, **states) == want


@settings(max_examples=40, deadline=None)
@given(problems(T=st.integers(1, 5)), st.floats(1e-3, 0.1), st.integers(1, 4))
def test_a_judged_trajectory_is_train_steps_whether_or_not_its_run_was_kept(problem, lr, k):
    """trajectory() takes the run descending_rate accepted instead of running it again:
    bit for bit train_steps' weights, and only for the very same inputs."""
    m, x, d, states = problem.model, problem.x, problem.d, problem.states

    def fresh(inputs, rate):
        return stacked(ref.train_steps(m, problem.params, inputs, d, rate, k, **states).params)

    try:
        rate = descending_rate(m, problem.params, x, d, lr, k, **states)
    except ValueError:
        return
    for inputs, at in ((x, rate), (x, rate / 3), (x + 0.5, rate)):   # kept, then two others
        got, want = trajectory(m, problem.params, inputs, d, at, k, **states), fresh(inputs, at)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].tobytes() == want[key].tobytes(), key
    kept = trajectory(m, problem.params, x, d, rate, k, **states)
    for key in kept:
        kept[key][...] = np.nan                     # a caller's copy: the kept run is untouched
    again = trajectory(m, problem.params, x, d, rate, k, **states)
    assert all(not np.isnan(value).any() for value in again.values())


def test_train_steps_refuses_a_count_that_is_not_a_positive_int():
    m = ref.Elman(2, 3, 2)
    params = m.init_params(np.random.default_rng(0))
    x, d = np.zeros((1, 2, 2)), np.zeros((1, 2, 2))
    for k in (0, -1, 2.5):
        with pytest.raises(ValueError, match="k"):
            ref.train_steps(m, params, x, d, 0.1, k)


# -- a correct student ------------------------------------------------------------------------


def students_covering_every_head(exercise, extra: int = 12) -> list[str]:
    """Students whose variants cover every (activation, output head) of the exercise, and a
    few more."""
    wanted = {(v.activation, v.output, v.objective) for v in structure_variants(exercise)}
    chosen, seen = [], set()
    for i in range(2000):
        student = f"trainee-{i:04d}"
        v = make_instance(exercise, student, DEMO_SECRET).variant
        key = (v.activation, v.output, v.objective)
        if key not in seen or len(chosen) < len(wanted) + extra and i % 7 == 0:
            seen.add(key)
            chosen.append(student)
        if seen == wanted and len(chosen) >= len(wanted) + extra:
            break
    assert seen == wanted
    return chosen


@pytest.mark.parametrize("exercise_id", sorted(TRAINING))
def test_a_correct_student_gets_full_marks_and_the_reference_loss_curve(exercise_id):
    exercise = get_exercise(exercise_id)
    train, update = TRAINING[exercise_id]
    stage = exercise.stage(train)
    for student in students_covering_every_head(exercise):
        instance = make_instance(exercise, student, DEMO_SECRET)
        namespace = solution_namespace(exercise, instance.variant, student)
        result = grade_outcomes(instance, run_in_process(instance, namespace))
        scores = {check.tags[0]: check.score for check in result.checks}
        assert scores[train] == scores[update] == 1.0, (student, result.checks[-1].message)
        curve = next(c for c in result.checks if c.tags == (train,)).details["loss_curve"]
        probe = stage.probes(instance)[0]
        v, kw = instance.variant, probe.kwargs
        model = _model(exercise_id, v, kw["params"])
        initial = {key: kw[key] for key in ("s0", "z0", "f0", "r0") if key in kw}
        run = ref.train_steps(model, kw["params"], kw["x"], kw["d"], kw["lr"], kw["k_updates"],
                              **initial)
        assert all(type(value) is float for value in curve["student"] + curve["reference"])
        assert curve["reference"] == pytest.approx(run.losses, rel=1e-12)
        assert curve["student"] == pytest.approx(run.losses, rel=1e-9)
        assert run.losses[-1] < ref_loss(model, kw, initial)     # the run trains


def _model(exercise_id, variant, params):
    heads = dict(activation=variant.activation, output=variant.output,
                 objective=variant.objective)
    if exercise_id == "elman":
        return ref.Elman(params["U"].shape[0], params["W"].shape[0], params["V"].shape[1],
                         **heads)
    if exercise_id == "two-layer":
        return ref.Stacked(params["U"].shape[0], params["W1"].shape[0], params["V2"].shape[1],
                           n_hidden2=params["W2"].shape[0], **heads)
    return ref.Bidirectional(params["Uf"].shape[0], params["Wf"].shape[0],
                             params["Vf"].shape[1], **heads)


def ref_loss(model, kw, initial) -> float:
    return model.loss(kw["params"], kw["x"], kw["d"], **initial)


# -- a wrong training loop ----------------------------------------------------------------------

BIASES = {"elman": ("b", "c"), "two-layer": ("b1", "b2", "c"),
          "bidirectional": ("bf", "bb", "c")}


def wrong_rules(exercise_id: str) -> dict[str, tuple[str, str | None]]:
    """Update rules a student may write into the loop: label → (source, misconception)."""
    biases = BIASES[exercise_id]
    return {
        "sign": ("def wrong_update(params, grads, lr):\n"
                 "    return {k: params[k] + lr * grads[k] for k in params}\n",
                 "update-wrong-sign"),
        "lr twice": ("def wrong_update(params, grads, lr):\n"
                     "    params = {k: params[k] - lr * grads[k] for k in params}\n"
                     "    return {k: params[k] - lr * grads[k] for k in params}\n",
                     "update-applied-twice"),
        "biases skipped": ("def wrong_update(params, grads, lr):\n"
                           f"    return {{k: params[k] if k in {biases!r} else "
                           "params[k] - lr * grads[k] for k in params}\n",
                           "update-weight-skipped"),
        "one matrix skipped": ("def wrong_update(params, grads, lr):\n"
                               "    first = next(iter(params))\n"
                               "    return {k: params[k] if k == first else "
                               "params[k] - lr * grads[k] for k in params}\n", None),
    }


def wrong_loop(exercise_id: str, variant, rule: str | None) -> str:
    """The solution's training loop with `rule` in place of the student's update function,
    or (rule None) with the new weights never carried into the next forward pass."""
    train, update = TRAINING[exercise_id]
    source = solution_code(get_exercise(exercise_id).solution_module).pick(
        train, {variant.activation, f"{variant.output}_{variant.objective}"}).source
    if rule is not None:
        return rule + "\n\n" + source.replace(f"params = {update}(", "params = wrong_update(")
    return (source.replace(f"params = {update}(", f"latest = {update}(")
            .replace("after[key].append(params[key])", "after[key].append(latest[key])"))


def first_departure(loop, kwargs, expected) -> int:
    """The first update (1-based) after which the loop's weights differ from `expected`."""
    got = loop(**{key: (dict(value) if isinstance(value, dict) else value)
                  for key, value in kwargs.items()})
    for i in range(len(next(iter(expected.values())))):
        if not all(entries_right(np.asarray(got[key][i], float), expected[key][i]).all()
                   for key in expected):
            return i + 1
    raise AssertionError("the wrong loop never departs")


@pytest.mark.parametrize("exercise_id", sorted(TRAINING))
def test_a_wrong_update_rule_is_named_at_the_first_update_that_departs(exercise_id):
    exercise = get_exercise(exercise_id)
    train, _ = TRAINING[exercise_id]
    stage = exercise.stage(train)
    departures = set()
    for student in [f"loop-{i}" for i in range(6)]:
        instance = make_instance(exercise, student, DEMO_SECRET)
        probe = stage.probes(instance)[0]
        expected = stage.named(stage.solve(instance.variant, **probe.kwargs))
        cases = {label: (wrong_loop(exercise_id, instance.variant, rule), misconception)
                 for label, (rule, misconception) in wrong_rules(exercise_id).items()}
        cases["not carried over"] = (wrong_loop(exercise_id, instance.variant, None),
                                     "update-not-carried-over")
        for label, (source, misconception) in cases.items():
            namespace = solution_namespace(exercise, instance.variant, student)
            exec(compile(source, f"<{label}>", "exec"), namespace)
            with np.errstate(all="ignore"):
                step = first_departure(namespace[train], probe.kwargs, expected)
                result = grade_outcomes(instance, run_in_process(instance, namespace))
            check = next(c for c in result.checks if c.tags == (train,))
            assert check.score < 1.0, (label, check.message)
            first_line = check.message.splitlines()[1]
            assert re.search(rf"first depart from the reference's after update {step}\b",
                             first_line), (label, step, first_line)
            if misconception is not None:
                assert check.details["misconception"] == misconception, (label, check.message)
                assert CATALOGUE[misconception].title in check.message
            departures.add((label, step))
            others = [c.tags[0] for c in result.checks if c.tags != (train,) and c.score < 1]
            assert others == [], (label, others)     # one mistake costs once
    assert ("not carried over", 2) in departures and ("sign", 1) in departures


# -- the public example ------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", sorted(TRAINING))
def test_the_notebook_example_is_public_and_no_hidden_probe(exercise_id):
    exercise = get_exercise(exercise_id)
    stage = exercise.stage(TRAINING[exercise_id][0])
    instance = make_instance(exercise, "ada", "a course secret nobody else knows")
    mine = training_example(exercise, stage, instance.variant)
    assert mine == training_example(exercise, stage, instance.variant)   # no secret in it
    hidden = stage.probes(instance)[0].kwargs
    assert not np.array_equal(np.asarray(mine["inputs"]["x"]), hidden["x"])
    reference = mine["reference"]
    assert len(reference) == mine["inputs"]["k_updates"] and reference[-1] < reference[0]
