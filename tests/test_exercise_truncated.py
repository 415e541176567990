"""The `truncated` exercise: solution cells, bugs, instances, and the truncated gradient checked
against the reference's Elman network and against finite differences of each loss term's
window."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from catalogue import (
    bug_report,
    instance_of,
    notebook_namespace,
)
from hypothesis import strategies as st

import reference as ref
from exercises import truncated
from exercises.misconceptions import CATALOGUE
from exercises.registry import get_exercise
from exercises.spec import Variant
from reference import losses

EXERCISE = truncated.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(60)]
student_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                      max_size=12).filter(lambda s: s.strip())


def test_registered():
    assert get_exercise("truncated") is EXERCISE
    assert [stage.name for stage in EXERCISE.stages] == [
        "truncated_bptt", "truncated_update", "truncation_error"]
    assert "truncation-wrong-end" in CATALOGUE


def test_every_applicable_bug_is_caught_and_named_unambiguously():
    applicable, uncaught, ambiguous = Counter(), Counter(), Counter()
    for student in STUDENTS:
        a, u, m = bug_report(EXERCISE, student)
        applicable.update(a)
        uncaught.update(u)
        ambiguous.update(m)
    assert not uncaught, uncaught
    assert not ambiguous, ambiguous
    assert {"horizon-off-by-one", "recurrent-term-dropped", "overwrite-not-accumulate",
            "weight-not-transposed", "initial-state-ignored", "truncation-wrong-end"} <= {
        bug for (stage, bug) in applicable if stage == "truncated_bptt"}


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


# -- against the reference's Elman network with a horizon --------------------------------


@pytest.mark.parametrize("student", STUDENTS[:30])
def test_truncated_gradient_is_the_reference_elman_gradient_with_a_horizon(student):
    variant = instance_of(EXERCISE, student).variant
    rng = np.random.default_rng(sum(map(ord, student)))
    model = ref.Elman(variant.n_in, variant.n_hidden, variant.n_out, variant.activation,
                      "softmax", "ce", bias=variant.bias)
    params = {key: rng.normal(0.0, 0.6, shape) for key, shape in model.param_shapes().items()}
    N, T = variant.N, variant.T
    x = rng.normal(size=(N, T, variant.n_in))
    s0 = rng.uniform(0.05, 0.9, (N, variant.n_hidden))
    labels = rng.integers(0, variant.n_out, (N, T))
    trace = model.forward(params, x, s0=s0)
    delta_o = losses.output_delta("ce", model.g, trace.o, trace.y, np.eye(variant.n_out)[labels])
    ds_out = delta_o / N @ params["V"].T
    for k in range(1, T + 2):
        expected = model.grad(params, x, labels, s0=s0, horizon=k)
        dU, dW, db = truncated.solve_truncated(variant, ds_out, x, s0, trace.s, params["U"],
                                               params["W"], params.get("b"), k)
        np.testing.assert_allclose(dU, expected["U"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dW, expected["W"], rtol=1e-10, atol=1e-12)
        if variant.bias:
            np.testing.assert_allclose(db, expected["b"], rtol=1e-10, atol=1e-12)
        else:
            assert db is None


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
