"""The `truncated` exercise: solution cells, bugs, instances, and the truncated gradient checked
against independent oracles: autograd over per-step parameter copies (numpy_oracle) and
finite differences of each loss term's window. Nothing here compares with `reference`."""

from __future__ import annotations

import numpy as np
import pytest
from catalogue import instance_of, notebook_namespace
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy_oracle import copies, copy_gradients, forward, input_uses, surrogate
from strategies import assert_grads_close, problems

from exercises import truncated
from exercises.misconceptions import CATALOGUE
from exercises.registry import get_exercise
from exercises.spec import Variant

EXERCISE = truncated.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(60)]
RTOL = 1e-10          # two float64 computations of the same sums (see test_reference_autograd)


def floor(want: dict) -> float:
    return 1e-6 * (1.0 + float(np.sqrt(sum(np.sum(v * v) for v in want.values()))))

student_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                      max_size=12).filter(lambda s: s.strip())


def test_registered():
    assert get_exercise("truncated") is EXERCISE
    assert [stage.name for stage in EXERCISE.stages] == [
        "truncated_bptt", "truncated_update", "truncation_error"]
    assert "truncation-wrong-end" in CATALOGUE


def test_the_seed_s_bugs_apply_to_the_truncated_gradient():
    """Each of these bugs applies to some student's variant (that every applicable bug is
    caught and named unambiguously is checked for every exercise in test_catalogue.py)."""
    stage = EXERCISE.stage("truncated_bptt")
    applicable = {bug.misconception for student in STUDENTS
                  for bug in stage.bugs_for(instance_of(EXERCISE, student).variant)}
    assert {"horizon-off-by-one", "recurrent-term-dropped", "overwrite-not-accumulate",
            "weight-not-transposed", "initial-state-ignored", "truncation-wrong-end"} <= applicable


def test_horizon_minus_one_gives_way_to_recurrent_term_dropped_at_k_2():
    """With k = 2, k − 1 = 1 is exactly 'the recurrent term dropped': one name only."""
    stage = EXERCISE.stage("truncated_bptt")
    for k, expected in ((1, 1), (2, 0), (3, 1), (4, 1)):
        variant = Variant("tanh", "softmax", "ce", 2, 3, 3, 6, 2, horizon=k)
        implementations = [bug.implementation.keywords["bug"] for bug in stage.bugs_for(variant)]
        assert implementations.count("horizon-minus-one") == expected
        assert ("recurrent-term-dropped" in implementations) == (k >= 2)


def test_variants_cover_horizons_and_the_bias():
    variants = [instance_of(EXERCISE, student).variant for student in STUDENTS]
    assert {v.horizon for v in variants} == {1, 2, 3, 4}
    assert {v.bias for v in variants} == {True, False}
    assert all(v.horizon < v.T for v in variants)


@pytest.mark.parametrize("student", STUDENTS[:20])
def test_without_a_bias_there_is_no_bias_gradient(student):
    instance = instance_of(EXERCISE, student)
    namespace = notebook_namespace(instance)
    for name in ("truncated_bptt", "truncated_update"):
        stage = EXERCISE.stage(name)
        for probe in stage.probes(instance):
            assert (probe.kwargs["b"] is None) == (not instance.variant.bias)
            for result in (stage.solve(instance.variant, **probe.kwargs),
                           namespace[name](**probe.kwargs)):
                assert (result[2] is None) == (not instance.variant.bias)


@pytest.mark.parametrize("student", STUDENTS[:30])
def test_truncation_error_is_well_defined(student):
    instance = instance_of(EXERCISE, student)
    stage = EXERCISE.stage("truncation_error")
    for probe in stage.probes(instance):
        missing, relative = stage.solve(instance.variant, **probe.kwargs)
        assert np.isfinite(relative) and relative > 0
        at_T = stage.solve(instance.variant, **dict(probe.kwargs, k=instance.variant.T))
        assert np.all(at_T[0] == 0) and at_T[1] == 0


# -- against the oracle: autograd over per-step copies ------------------------------------


def layer_oracle(problem, ds_out, k):
    """∇^(k) of E_t = ⟨ds_out_t, s_t⟩ by definition: an Elman layer read out through V = I,
    each E_t differentiated by autograd with respect to per-step copies of U, W, b, the
    copies at t−k+1 … t summed (numpy_oracle.copy_gradients)."""
    p = problem.params
    layer = {key: p[key] for key in ("U", "W", "b") if key in p}
    layer["V"] = np.eye(problem.model.n_hidden)
    return copy_gradients("elman", problem.model.activation, layer, problem.x, problem.states,
                          surrogate(ds_out), horizon=k)


def oracle_states(problem):
    P = copies(problem.params, problem.T)
    return forward("elman", problem.model, P, input_uses("elman", problem.x), problem.states)["s"]


elman_layers = problems(kinds=("elman",), combinations=(("linear", "mse"),), max_size=5)


@settings(max_examples=60, deadline=None)
@given(elman_layers, st.data())
def test_truncated_gradient_is_the_sum_over_each_loss_term_s_window(problem, data):
    """solve_truncated = Σ_t Σ_{τ=t−k+1}^{t} ∂E_t/∂θ_τ, for every horizon, bias or none."""
    k = data.draw(st.integers(1, problem.T + 1), label="horizon")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    ds_out = np.random.default_rng(seed).normal(size=(problem.N, problem.T,
                                                      problem.model.n_hidden))
    p, variant = problem.params, variant_of(problem, k)
    dU, dW, db = truncated.solve_truncated(variant, ds_out, problem.x, problem.states["s0"],
                                           oracle_states(problem), p["U"], p["W"], p.get("b"), k)
    want = layer_oracle(problem, ds_out, k)
    got = {"U": dU, "W": dW}
    if problem.model.bias:
        got["b"] = db
    else:
        assert db is None
    want = {key: want[key] for key in got}
    assert_grads_close(got, want, RTOL, floor(want), f"{problem.model}, T={problem.T}, k={k}")


@settings(max_examples=30, deadline=None)
@given(elman_layers, st.data())
def test_update_and_truncation_error_against_the_oracle(problem, data):
    """truncated_update is θ − α ∇^(k)θ, truncation_error is ∇W − ∇^(k)W and its relative
    size, all from the oracle's gradients."""
    k = data.draw(st.integers(1, problem.T), label="horizon")
    lr = data.draw(st.sampled_from((0.05, 0.1, 0.2)), label="lr")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    ds_out = np.random.default_rng(seed).normal(size=(problem.N, problem.T,
                                                      problem.model.n_hidden))
    p, variant, s = problem.params, variant_of(problem, k), oracle_states(problem)
    args = (variant, ds_out, problem.x, problem.states["s0"], s, p["U"], p["W"])
    truncated_grads, full = layer_oracle(problem, ds_out, k), layer_oracle(problem, ds_out, None)
    assume(np.linalg.norm(full["W"]) > 1e-8)     # W = 0 exactly when T = 1 and s0 = 0
    U, W, b = truncated.solve_update(*args, p.get("b"), k, lr)
    got = {"U": U, "W": W, **({"b": b} if problem.model.bias else {})}
    want = {key: p[key] - lr * truncated_grads[key] for key in got}
    assert_grads_close(got, want, RTOL, floor(want))
    missing, relative = truncated.solve_error(*args, k)
    want_missing = full["W"] - truncated_grads["W"]
    assert_grads_close({"W": missing}, {"W": want_missing}, RTOL, floor(full))
    want_relative = np.linalg.norm(want_missing) / np.linalg.norm(full["W"])
    assert relative == pytest.approx(want_relative, rel=1e-8, abs=1e-12)


def variant_of(problem, k):
    m = problem.model
    return Variant(m.activation, "softmax", "ce", m.n_in, m.n_hidden, 3, problem.T, problem.N,
                   horizon=k, bias=m.bias)


# -- finite differences of each loss term over its own window ------------------------------

PHI = {"tanh": np.tanh, "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)), "identity": lambda a: a}


def states_with_window(x, s0, base, moved, window, phi):
    """s_t stepped by hand, the weights `moved` used at the steps of `window`, `base` elsewhere."""
    s_prev, states = s0, []
    for t in range(x.shape[1]):
        p = moved if t in window else base
        a = x[:, t] @ p["U"] + s_prev @ p["W"]
        if "b" in p:
            a = a + p["b"]
        s_prev = phi(a)
        states.append(s_prev)
    return np.stack(states, axis=1)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncated_gradient_against_finite_differences(activation, k):
    """∇^(k)θ = Σ_t d/dθ of E_t = ⟨ds_out_t, s_t⟩ with θ moved at the steps t−k+1 … t only."""
    rng = np.random.default_rng(3 + k)
    N, T, n, d = 2, 6, 3, 4
    base = {"U": rng.normal(0, 0.6, (n, d)), "W": rng.normal(0, 0.6, (d, d)),
            "b": rng.normal(0, 0.6, d)}
    x, s0 = rng.normal(size=(N, T, n)), rng.uniform(-0.5, 0.5, (N, d))
    ds_out = rng.normal(size=(N, T, d))
    phi = PHI[activation]
    variant = Variant(activation, "softmax", "ce", n, d, 3, T, N, horizon=k)
    s = states_with_window(x, s0, base, base, (), phi)
    got = dict(zip("UWb", truncated.solve_truncated(variant, ds_out, x, s0, s, base["U"],
                                                     base["W"], base["b"], k), strict=True))
    h = 1e-6
    for key in "UWb":
        numeric = np.zeros_like(base[key])
        for index in np.ndindex(numeric.shape):
            for t in range(T):
                window = set(range(max(0, t - k + 1), t + 1))
                values = []
                for sign in (1, -1):
                    moved = {name: value.copy() for name, value in base.items()}
                    moved[key][index] += sign * h
                    values.append(np.sum(ds_out[:, t] * states_with_window(
                        x, s0, base, moved, window, phi)[:, t]))
                numeric[index] += (values[0] - values[1]) / (2 * h)
        np.testing.assert_allclose(got[key], numeric, rtol=1e-6, atol=1e-8, err_msg=key)
