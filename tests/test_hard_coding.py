"""Code that reads its variant instead of its arguments loses points, on the probe at other
sizes, rates and horizons than the variant's (`exercises.instance.resized`).

Each case is the solution with one stage rewritten the way a student who hard-codes
would: the learning rate, horizon or number of updates taken from VARIANT, a size
typed in or taken from VARIANT. Most are right on the variant's own probes, so only
the resized probe catches them (truncated's own probes already vary k).
"""

from __future__ import annotations

import pytest

from exercises.instance import DEMO_SECRET, make_instance, resized
from exercises.registry import all_exercises, get_exercise
from grader.authoring.solution_cells import solution_namespace
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

STUDENTS = [f"student-{i:03d}" for i in range(8)]

CASES = {
    ("elman", "sgd_update"): '''
_right = sgd_update
def sgd_update(params, grads, lr):
    return _right(params, grads, VARIANT["lr"])
''',
    ("elman", "rnn_forward"): '''
_right = rnn_forward
def rnn_forward(x, s0, U, W, b):
    states = np.zeros((VARIANT["N"], VARIANT["T"], VARIANT["n_hidden"]))
    s_prev = s0
    for t in range(VARIANT["T"]):
        s_prev = states[:, t] = rnn_step_forward(x[:, t], s_prev, U, W, b)
    return states
''',
    ("elman", "output_backward"): '''
_right = output_backward
def output_backward(s, V, c, d):
    dV, dc, ds = _right(s, V, c, d)
    return dV, dc, ds[:, :VARIANT["T"]]
''',
    ("truncated", "truncated_bptt"): '''
_right = truncated_bptt
def truncated_bptt(ds_out, x, s0, s, U, W, b, k):
    return _right(ds_out, x, s0, s, U, W, b, VARIANT["horizon"])
''',
    ("truncated", "truncated_update"): '''
_right = truncated_update
def truncated_update(ds_out, x, s0, s, U, W, b, k, lr):
    return _right(ds_out, x, s0, s, U, W, b, k, 0.1)
''',
    ("char-rnn", "train"): '''
_right = train
def train(params, words, lr, k_updates):
    return _right(params, words, VARIANT["lr"], VARIANT["k_updates"])
''',
    ("two-layer", "two_layer_forward"): '''
_right = two_layer_forward
def two_layer_forward(x, s0, z0, U, W1, b1, V1, W2, b2):
    s, z = _right(x, s0, z0, U, W1, b1, V1, W2, b2)
    return s[:, :VARIANT["T"]], z[:, :VARIANT["T"]]
''',
    ("explicit-implicit", "total_derivative"): '''
_right = total_derivative
def total_derivative(s0, s, W):
    return _right(s0, s[:, :VARIANT["T"]], W)
''',
    ("stacked-weights", "split_weights"): '''
def split_weights(W_a):
    d = VARIANT["n_hidden"]
    return W_a[:d], W_a[d:]
''',
    ("bce-head", "bce_bptt"): '''
_right = bce_bptt
def bce_bptt(x, a0, y, u, v, b_a, w_y, b_y):
    T = VARIANT["T"]
    return _right(x[:, :T], a0, y[:, :T], u, v, b_a, w_y, b_y)
''',
    ("output-jacobian", "softmax_jacobian"): '''
def softmax_jacobian(o):
    y = softmax(o)
    k = VARIANT["n_out"]
    return y[..., :, None] * (np.eye(k) - y[..., None, :])
''',
}


@pytest.mark.parametrize(("exercise_id", "stage_name"), sorted(CASES))
def test_reading_the_variant_instead_of_the_arguments_loses_points(exercise_id, stage_name):
    exercise = get_exercise(exercise_id)
    assert stage_name in [stage.name for stage in exercise.stages]
    lost = 0
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        namespace = solution_namespace(exercise, instance.variant, student)
        exec(compile(CASES[exercise_id, stage_name], "<student cell>", "exec"), namespace)
        result = grade_outcomes(instance, run_in_process(instance, namespace))
        check = next(c for c in result.checks if c.tags == (stage_name,))
        others = [c for c in result.checks if c.tags != (stage_name,) and c.score < 1.0]
        assert others == [], [c.message for c in others]
        if check.score < 1.0:
            lost += 1
            assert check.message.startswith(f"{stage_name}: ")
            assert "other sizes" in check.message or "k = " in check.message
    assert lost == len(STUDENTS)


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_every_exercise_with_a_choice_of_sizes_is_probed_at_other_sizes(exercise_id):
    exercise = get_exercise(exercise_id)
    for student in STUDENTS:
        variant = make_instance(exercise, student, DEMO_SECRET).variant
        other = resized(variant, exercise.variant_space)
        assert other is not None
        moved = {k for k, v in other.as_dict().items() if v != variant.as_dict()[k]}
        varying = {k for k, v in exercise.variant_space.items()
                   if len(v) > 1 and k in ("N", "T", "lr", "horizon", "n_hidden")}
        assert varying <= moved
        for name in moved:
            assert other.as_dict()[name] not in exercise.variant_space[name]
