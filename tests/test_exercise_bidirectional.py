"""The `bidirectional` exercise: bugs, instances, and its answers checked against independent
oracles: numpy_oracle's forward, autograd over per-step copies and finite differences of a
forward written here. Nothing here compares with `reference`."""

from __future__ import annotations

import numpy as np
import pytest
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import copies, copy_gradients, forward, input_uses, surrogate
from strategies import assert_grads_close, problems

from exercises import bidirectional
from exercises.registry import get_exercise
from exercises.spec import Variant

EXERCISE = bidirectional.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(60)]
student_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                      max_size=12).filter(lambda s: s.strip())


def test_registered():
    assert get_exercise("bidirectional") is EXERCISE
    assert [stage.name for stage in EXERCISE.stages] == [
        "forward_net", "backward_net", "birnn_output", "birnn_backward", "birnn_sgd_update",
        "birnn_train"]


def test_the_seed_s_bugs_apply_to_the_backward_pass():
    """Each of these bugs applies to some student's variant (that every applicable bug is
    caught and named unambiguously is checked for every exercise in test_catalogue.py)."""
    applicable = {(stage.name, bug.misconception) for student in STUDENTS
                  for stage in EXERCISE.stages
                  for bug in stage.bugs_for(instance_of(EXERCISE, student).variant)}
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


# -- against the oracle: numpy_oracle's forward and autograd over per-step copies ----------

RTOL = 1e-10          # two float64 computations of the same sums (see test_reference_autograd)


def floor(want: dict) -> float:
    return 1e-6 * (1.0 + float(np.sqrt(sum(np.sum(v * v) for v in want.values()))))


def variant_of(problem):
    m = problem.model
    return Variant(m.activation, m.output, m.objective, m.n_in, m.n_hidden, m.n_out, problem.T,
                   problem.N)


@settings(max_examples=60, deadline=None)
@given(problems(kinds=("bidirectional",), bias=True), st.integers(0, 2**32 - 1))
def test_stages_agree_with_the_oracle(problem, seed):
    """Both nets, the output and BPTT through both nets: the forward of numpy_oracle, and the
    gradient of Σ_t ⟨do_t, o_t⟩ by autograd over every parameter, x, f0 and r0."""
    variant, p, x = variant_of(problem), problem.params, problem.x
    f0, r0 = problem.states["f0"], problem.states["r0"]
    want = forward("bidirectional", problem.model, copies(p, problem.T),
                   input_uses("bidirectional", x), problem.states)
    f = bidirectional.solve_forward_net(variant, x, f0, p["Uf"], p["Wf"], p["bf"])
    r = bidirectional.solve_backward_net(variant, x, r0, p["Ub"], p["Wb"], p["bb"])
    y = bidirectional.solve_output(variant, want["f"], want["r"], p["Vf"], p["Vb"], p["c"])
    np.testing.assert_allclose(f, want["f"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r, want["r"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, want["y"], rtol=1e-12, atol=1e-14)

    do = np.random.default_rng(seed).normal(size=(problem.N, problem.T, problem.model.n_out))
    got = bidirectional.solve_backward(variant, do, x, f0, r0, want["f"], want["r"], p["Uf"],
                                       p["Wf"], p["Ub"], p["Wb"], p["Vf"], p["Vb"])
    oracle = copy_gradients("bidirectional", problem.model.activation, p, x, problem.states,
                            surrogate(do))
    assert set(got) == set(bidirectional.GRADIENTS) == set(oracle)
    assert_grads_close(got, oracle, RTOL, floor(oracle), f"{problem.model}, T={problem.T}")


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
