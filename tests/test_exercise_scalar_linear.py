"""The `scalar-linear` exercise (seed 001): solution cells, bugs, closed forms against BPTT."""

from __future__ import annotations

import numpy as np
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
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


def _linear_loss(params, x, a0, z):
    """L = Σ_n Σ_t z_nt ŷ_nt: its gradient is exactly the closed forms with this z."""
    _, y_hat = scalar_linear.solve_forward(None, x, a0, *params)
    return float(np.sum(z * y_hat))


@st.composite
def scalar_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 7))
    v = draw(st.floats(-1.3, 1.3).filter(lambda v: abs(v) > 0.05))
    params = [rng.normal(), v, rng.normal(), rng.normal(), rng.normal()]  # u v b_a w_y b_y
    return params, rng.normal(size=(N, T)), rng.normal(size=N), rng.normal(size=(N, T))


@settings(max_examples=40, deadline=None)
@given(scalar_problems())
def test_closed_forms_match_finite_differences(problem):
    params, x, a0, z = problem
    u, v, b_a, w_y, _ = params
    names = ("u", "v", "b_a", "w_y", "b_y")
    forms = {"w_y": None, "b_y": None}
    forms["w_y"], forms["b_y"] = scalar_linear.solve_output(None, x, a0, z, u, v, b_a, w_y)
    forms["v"] = scalar_linear.solve_dv(None, x, a0, z, u, v, b_a, w_y)
    forms["u"] = scalar_linear.solve_du(None, x, a0, z, u, v, b_a, w_y)
    forms["b_a"] = scalar_linear.solve_db_a(None, x, a0, z, u, v, b_a, w_y)
    h = 1e-6
    for i, name in enumerate(names):
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        numeric = (_linear_loss(up, x, a0, z) - _linear_loss(down, x, a0, z)) / (2 * h)
        assert np.isclose(forms[name], numeric, rtol=1e-6, atol=1e-6), (name, forms[name], numeric)


@settings(max_examples=40, deadline=None)
@given(scalar_problems())
def test_bptt_equals_the_closed_forms_and_the_initial_state_gradient(problem):
    params, x, a0, z = problem
    u, v, b_a, w_y, _ = params
    dw_y, db_y, dv, du, db_a, da0 = scalar_linear.solve_bptt(None, x, a0, z, u, v, b_a, w_y)
    forms = ref.scalar_linear_closed_forms(u, v, b_a, w_y, x, z, a0)
    got = {"w_y": dw_y, "b_y": db_y, "v": dv, "u": du, "b_a": db_a}
    for name, value in got.items():
        assert np.isclose(value, forms[name], rtol=1e-9, atol=1e-9), name
    assert np.allclose(da0, forms["a0"], rtol=1e-9, atol=1e-9)
    h = 1e-6
    for n in range(len(a0)):
        up, down = a0.copy(), a0.copy()
        up[n] += h
        down[n] -= h
        numeric = (_linear_loss(params, x, up, z) - _linear_loss(params, x, down, z)) / (2 * h)
        assert np.isclose(da0[n], numeric, rtol=1e-6, atol=1e-6)


def test_the_notes_equation_5_is_right_only_for_v_zero():
    rng = np.random.default_rng(1)
    x, a0, z = rng.normal(size=(2, 5)), rng.normal(size=2), rng.normal(size=(2, 5))
    explicit = float(np.sum(z * 0.8))                       # Σ_t z_t w_y
    assert np.isclose(scalar_linear.solve_db_a(None, x, a0, z, 0.3, 0.0, 0.1, 0.8), explicit)
    assert not np.isclose(scalar_linear.solve_db_a(None, x, a0, z, 0.3, 0.6, 0.1, 0.8), explicit)
