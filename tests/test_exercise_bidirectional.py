"""The `bidirectional` exercise: solution cells, bugs, instances, and its answers checked
against the reference's Bidirectional network and against finite differences."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from catalogue import bug_report, instance_of
from hypothesis import strategies as st

import reference as ref
from exercises import bidirectional
from exercises.registry import get_exercise
from exercises.spec import Variant
from reference import losses

EXERCISE = bidirectional.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(60)]
student_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                      max_size=12).filter(lambda s: s.strip())


def test_registered():
    assert get_exercise("bidirectional") is EXERCISE
    assert [stage.name for stage in EXERCISE.stages] == [
        "forward_net", "backward_net", "birnn_output", "birnn_backward"]


def test_every_applicable_bug_is_caught_and_named_unambiguously():
    applicable, uncaught, ambiguous = Counter(), Counter(), Counter()
    for student in STUDENTS:
        a, u, m = bug_report(EXERCISE, student)
        applicable.update(a)
        uncaught.update(u)
        ambiguous.update(m)
    assert not uncaught, uncaught
    assert not ambiguous, ambiguous
    assert {"bidirectional-not-reversed", "recurrent-term-dropped", "overwrite-not-accumulate",
            "weight-not-transposed", "initial-state-ignored", "derivative-at-preactivation"} <= {
        bug for (stage, bug) in applicable if stage == "birnn_backward"}
    assert ("backward_net", "bidirectional-not-reversed") in applicable


def test_derivative_at_preactivation_only_where_it_can_show():
    stage = EXERCISE.stage("birnn_backward")
    for activation, expected in (("tanh", True), ("sigmoid", True), ("relu", False),
                                 ("identity", False)):
        variant = Variant(activation, "linear", "mse", 2, 3, 2, 4, 2)
        names = {bug.misconception for bug in stage.bugs_for(variant)}
        assert ("derivative-at-preactivation" in names) == expected


# -- against the reference's Bidirectional network -----------------------------------------


@pytest.mark.parametrize("student", STUDENTS[:30])
def test_stages_agree_with_the_reference_network(student):
    variant = instance_of(EXERCISE, student).variant
    rng = np.random.default_rng(sum(map(ord, student)))
    model = ref.Bidirectional(variant.n_in, variant.n_hidden, variant.n_out, variant.activation,
                              variant.output, variant.objective)
    p = bidirectional.random_model(variant, rng)
    N, T, d = variant.N, variant.T, variant.n_hidden
    x = rng.normal(size=(N, T, variant.n_in))
    f0, r0 = rng.uniform(0.05, 0.9, (N, d)), rng.uniform(0.05, 0.9, (N, d))
    trace = model.forward(p, x, f0=f0, r0=r0)
    f = bidirectional.solve_forward_net(variant, x, f0, p["Uf"], p["Wf"], p["bf"])
    r = bidirectional.solve_backward_net(variant, x, r0, p["Ub"], p["Wb"], p["bb"])
    y = bidirectional.solve_output(variant, f, r, p["Vf"], p["Vb"], p["c"])
    np.testing.assert_allclose(f, trace.f, rtol=1e-12)
    np.testing.assert_allclose(r, trace.r, rtol=1e-12)
    np.testing.assert_allclose(y, trace.y, rtol=1e-12)
    # r_{T-1} is computed from r0, r_t from r_{t+1}.
    phi = model.phi.apply
    np.testing.assert_allclose(r[:, -1], phi(x[:, -1] @ p["Ub"] + r0 @ p["Wb"] + p["bb"]))
    np.testing.assert_allclose(r[:, 0], phi(x[:, 0] @ p["Ub"] + r[:, 1] @ p["Wb"] + p["bb"]))

    if variant.objective == "ce":
        d_target = rng.integers(0, variant.n_out, (N, T))
        dense = np.eye(variant.n_out)[d_target]
    else:
        dense = d_target = rng.uniform(0.05, 0.95, (N, T, variant.n_out))
    do = losses.output_delta(variant.objective, model.g, trace.o, trace.y, dense) / N
    expected = model.grad(p, x, d_target, f0=f0, r0=r0)
    got = bidirectional.solve_backward(variant, do, x, f0, r0, f, r, p["Uf"], p["Wf"], p["Ub"],
                                       p["Wb"], p["Vf"], p["Vb"])
    for key in bidirectional.GRADIENTS:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


# -- finite differences with an independent forward pass ----------------------------------

PHI = {"tanh": np.tanh, "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)), "identity": lambda a: a}


def forward_loops(a, phi):
    """Both nets stepped by hand: f from t = 0 up, r from t = T−1 down."""
    N, T, _ = a["x"].shape
    f, r = [None] * T, [None] * T
    prev = a["f0"]
    for t in range(T):
        prev = f[t] = phi(a["x"][:, t] @ a["Uf"] + prev @ a["Wf"] + a["bf"])
    prev = a["r0"]
    for t in reversed(range(T)):
        prev = r[t] = phi(a["x"][:, t] @ a["Ub"] + prev @ a["Wb"] + a["bb"])
    return np.stack(f, axis=1), np.stack(r, axis=1)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
def test_backward_against_finite_differences(activation):
    variant = Variant(activation, "linear", "mse", 3, 4, 2, 5, 2)
    rng = np.random.default_rng(5)
    a = bidirectional.random_model(variant, rng)
    a.update(x=rng.normal(size=(2, 5, 3)), f0=rng.uniform(-0.5, 0.5, (2, 4)),
             r0=rng.uniform(-0.5, 0.5, (2, 4)))
    do = rng.normal(size=(2, 5, 2))
    phi = PHI[activation]

    def surrogate(arrays):   # L with dL/do_t = do_t: Σ ⟨do_t, o_t⟩
        f, r = forward_loops(arrays, phi)
        return float(np.sum(do * (f @ arrays["Vf"] + r @ arrays["Vb"] + arrays["c"])))

    f, r = forward_loops(a, phi)
    grads = bidirectional.solve_backward(variant, do, a["x"], a["f0"], a["r0"], f, r, a["Uf"],
                                         a["Wf"], a["Ub"], a["Wb"], a["Vf"], a["Vb"])
    h = 1e-6
    for key in bidirectional.GRADIENTS:
        numeric = np.zeros_like(a[key])
        for index in np.ndindex(numeric.shape):
            saved = a[key][index]
            a[key][index] = saved + h
            up = surrogate(a)
            a[key][index] = saved - h
            down = surrogate(a)
            a[key][index] = saved
            numeric[index] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-6, atol=1e-8, err_msg=key)
