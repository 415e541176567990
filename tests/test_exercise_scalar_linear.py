"""The `scalar-linear` exercise (seed 001): the forward, the closed forms and BPTT against
autograd of a forward written here (not against `reference`, which `solve` calls)."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad as autograd_grad
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises import scalar_linear

EXERCISE = scalar_linear.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(40)]


def test_probes_keep_v_away_from_zero_and_one():
    for student in STUDENTS:
        instance = instance_of(EXERCISE, student)
        for stage in EXERCISE.stages:
            for probe in stage.probes(instance):
                v = probe.kwargs["v"]
                assert abs(v) > 0.3 and abs(abs(v) - 1.0) > 0.05, (student, stage.name, v)


# -- solve against independent oracles ----------------------------------------------------


def forward_loop(x, a0, u, v, b_a, w_y, b_y):
    """a_t = v a_{t-1} + u x_t + b_a, ŷ_t = w_y a_t + b_y, stepped by hand (autograd-friendly)."""
    a_prev, states = a0, []
    for t in range(x.shape[1]):
        a_prev = v * a_prev + u * x[:, t] + b_a
        states.append(a_prev)
    a = anp.stack(states, axis=1)
    return a, w_y * a + b_y


def linear_loss(params, x, a0, z):
    """L = Σ_n Σ_t z_nt ŷ_nt: its gradient is exactly the closed forms with this z."""
    return anp.sum(z * forward_loop(x, a0, *params)[1])


def oracle(params, x, a0, z) -> dict:
    """∂L/∂(u, v, b_a, w_y, b_y) and ∂L/∂a0 by autograd of the loop above."""
    dparams, da0 = autograd_grad(linear_loss, argnum=(0, 2))(list(params), x, a0, z)
    return {**dict(zip(("u", "v", "b_a", "w_y", "b_y"), dparams, strict=True)), "a0": da0}


@st.composite
def scalar_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 7))
    v = draw(st.floats(-1.3, 1.3).filter(lambda v: abs(v) > 0.05))
    params = [rng.normal(), v, rng.normal(), rng.normal(), rng.normal()]  # u v b_a w_y b_y
    return params, rng.normal(size=(N, T)), rng.normal(size=N), rng.normal(size=(N, T))


def close(got, want) -> bool:
    return bool(np.allclose(got, want, rtol=1e-10, atol=1e-10))


@settings(max_examples=40, deadline=None)
@given(scalar_problems())
def test_forward_and_closed_forms_match_autograd(problem):
    params, x, a0, z = problem
    a, y_hat = scalar_linear.solve_forward(None, x, a0, *params)
    want_a, want_y = forward_loop(x, a0, *params)
    np.testing.assert_allclose(a, want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y_hat, want_y, rtol=1e-12, atol=1e-12)
    u, v, b_a, w_y, _ = params
    want = oracle(params, x, a0, z)
    forms = {}
    forms["w_y"], forms["b_y"] = scalar_linear.solve_output(None, x, a0, z, u, v, b_a, w_y)
    forms["v"] = scalar_linear.solve_dv(None, x, a0, z, u, v, b_a, w_y)
    forms["u"] = scalar_linear.solve_du(None, x, a0, z, u, v, b_a, w_y)
    forms["b_a"] = scalar_linear.solve_db_a(None, x, a0, z, u, v, b_a, w_y)
    for name, value in forms.items():
        assert close(value, want[name]), (name, value, want[name])


@settings(max_examples=40, deadline=None)
@given(scalar_problems())
def test_bptt_matches_autograd_with_the_initial_state_gradient(problem):
    params, x, a0, z = problem
    u, v, b_a, w_y, _ = params
    dw_y, db_y, dv, du, db_a, da0 = scalar_linear.solve_bptt(None, x, a0, z, u, v, b_a, w_y)
    want = oracle(params, x, a0, z)
    got = {"w_y": dw_y, "b_y": db_y, "v": dv, "u": du, "b_a": db_a, "a0": da0}
    for name, value in got.items():
        assert close(value, want[name]), (name, value, want[name])


def test_the_notes_equation_5_is_right_only_for_v_zero():
    rng = np.random.default_rng(1)
    x, a0, z = rng.normal(size=(2, 5)), rng.normal(size=2), rng.normal(size=(2, 5))
    explicit = float(np.sum(z * 0.8))                       # Σ_t z_t w_y
    assert np.isclose(scalar_linear.solve_db_a(None, x, a0, z, 0.3, 0.0, 0.1, 0.8), explicit)
    assert not np.isclose(scalar_linear.solve_db_a(None, x, a0, z, 0.3, 0.6, 0.1, 0.8), explicit)
