"""The `vanishing` exercise (seed 003): Jacobians, their norms, clipping, against autograd,
finite differences and the definitions (not against `reference`, which `solve` calls)."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import jacobian as autograd_jacobian
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import ag_recurrence, copies, forward, input_uses, phi

from exercises import vanishing
from exercises.spec import Variant

EXERCISE = vanishing.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(40)]


def test_the_regimes_show_where_phi_is_steepest():
    """Far back (k = 0) the norm is below 1 in the vanishing regime and above 1 when exploding."""
    seen = set()
    for student in STUDENTS:
        instance = instance_of(EXERCISE, student)
        probe = EXERCISE.stage("jacobian_norms").probes(instance)[2]
        norms = vanishing.solve_jacobian_norms(instance.variant, **probe.kwargs)
        regime = instance.variant.get("regime")
        seen.add(regime)
        if regime == "vanishing":
            assert (norms[:, 0] < 0.5).all(), (student, norms[:, 0])
        else:
            assert (norms[:, 0] > 2.0).all(), (student, norms[:, 0])
    assert seen == {"vanishing", "exploding"}


# -- solve against independent oracles ----------------------------------------------------


def _variant(activation, d, T, N=2):
    return Variant(activation=activation, output="linear", objective="mse", n_in=2,
                   n_hidden=d, n_out=2, T=T, N=N)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(("tanh", "sigmoid", "identity")), st.integers(1, 4), st.integers(2, 6),
       st.integers(0, 2**32 - 1))
def test_norms_are_the_spectral_norms_of_autograd_s_jacobians(activation, d, T, seed):
    """‖∂s_{T-1}/∂s_k‖₂ for k = 0 … T−1, the Jacobian by autograd of the layer stepped by hand
    from a given s_k (numpy_oracle's φ), its norm by numpy's SVD."""
    variant = _variant(activation, d, T)
    rng = np.random.default_rng(seed)
    U, W, b = rng.normal(0.0, 0.8, (2, d)), rng.normal(0.0, 0.8, (d, d)), rng.normal(0.0, 0.8, d)
    x, s0 = rng.normal(size=(2, T, 2)), rng.uniform(0.1, 0.9, (2, d))
    P = copies({"U": U, "W": W, "b": b, "V": np.eye(d)}, T)
    spec = type("Spec", (), {"activation": activation, "output": "linear"})
    s = forward("elman", spec, P, input_uses("elman", x), {"s0": s0})["s"]
    norms = vanishing.solve_jacobian_norms(variant, s, W)
    assert norms.shape == (2, T)
    for k in range(T):
        for n in range(2):
            def last(s_k, k=k, n=n):
                """s_{T-1} of sequence n from s_k (a flat (d,)), stepping k+1 … T−1."""
                steps = [x[n:n + 1, t] for t in range(k + 1, T)]
                states = ag_recurrence(steps, anp.reshape(s_k, (1, d)), [U] * T, [W] * T,
                                       [b] * T, activation)
                return (states[-1] if states else anp.reshape(s_k, (1, d)))[0]
            J = autograd_jacobian(last)(s[n, k].copy())
            assert np.isclose(norms[n, k], np.linalg.norm(J, 2), rtol=1e-10, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(("tanh", "sigmoid", "identity")), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_step_jacobian_matches_finite_differences(activation, d, seed):
    variant = _variant(activation, d, 2)
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(d, d)), rng.normal(size=d)
    drive = rng.normal(size=(2, d))                       # x_t U, held fixed
    s_prev = rng.normal(size=(2, d))

    def step(s_prev):
        return phi(activation, drive + s_prev @ W + b)

    J = vanishing.solve_step(variant, step(s_prev), W)
    h = 1e-6
    for j in range(d):
        up, down = s_prev.copy(), s_prev.copy()
        up[:, j] += h
        down[:, j] -= h
        assert np.allclose(J[:, :, j], (step(up) - step(down)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_clipping_by_norm_bounds_the_global_norm_and_keeps_the_direction():
    instance = instance_of(EXERCISE, "ada")
    for probe in EXERCISE.stage("clip_by_norm").probes(instance):
        grads, max_norm = probe.kwargs["grads"], probe.kwargs["max_norm"]
        clipped = vanishing.solve_clip_by_norm(instance.variant, grads, max_norm)
        norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        scale = min(1.0, max_norm / norm)
        for key in grads:
            np.testing.assert_allclose(clipped[key], scale * grads[key], rtol=1e-14, atol=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0), st.floats(0.01, 0.5))
def test_clipping_and_the_clipped_update_by_their_definitions(seed, limit, lr):
    """clip by norm: g · min(1, c/‖g‖) with ‖g‖ the global norm; by value: each entry into
    [−c, c]; the clipped update: θ − α · clip_by_norm(g)."""
    rng = np.random.default_rng(seed)
    grads = {key: rng.normal(0.0, 2.0, (3, 2)) for key in ("U", "W", "b")}
    params = {key: rng.normal(size=(3, 2)) for key in grads}
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    by_norm = {key: g * min(1.0, limit / norm) for key, g in grads.items()}
    variant = _variant("tanh", 2, 3)
    got = vanishing.solve_clip_by_norm(variant, grads, limit)
    for key in grads:
        np.testing.assert_allclose(got[key], by_norm[key], rtol=1e-14, atol=1e-15)
    got = vanishing.solve_clip_by_value(variant, grads, limit)
    for key, g in grads.items():
        np.testing.assert_array_equal(got[key], np.where(g > limit, limit,
                                                         np.where(g < -limit, -limit, g)))
    got = vanishing.solve_clipped_update(variant, params, grads, lr, limit)
    for key in params:
        np.testing.assert_allclose(got[key], params[key] - lr * by_norm[key], rtol=1e-14,
                                   atol=1e-15)
