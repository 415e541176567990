"""The `vanishing` exercise (seed 003): Jacobians, their norms, clipping."""

from __future__ import annotations

import numpy as np
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
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
def test_norms_match_the_reference_and_finite_differences(activation, d, T, seed):
    variant = _variant(activation, d, T)
    rng = np.random.default_rng(seed)
    model = ref.Elman(2, d, 2, activation=activation)
    params = {key: rng.normal(0.0, 0.8, shape) for key, shape in model.param_shapes().items()}
    x, s0 = rng.normal(size=(2, T, 2)), rng.uniform(0.1, 0.9, (2, d))
    s = model.forward(params, x, s0=s0).s
    norms = vanishing.solve_jacobian_norms(variant, s, params["W"])
    reference = ref.jacobian_norms(ref.state_jacobians(model, params, x, s0=s0))
    assert np.allclose(norms, reference, rtol=1e-12, atol=1e-14)

    # ∂s_{T-1}/∂s_k by central differences: rerun the steps k+1 … T−1 from a perturbed s_k.
    phi, h = model.phi, 1e-6
    for k in range(T - 1):
        def last(s_k, k=k):
            return ref.layer_forward(x[:, k + 1:], s_k, params["U"], params["W"], params["b"],
                                     phi)[:, -1]
        J = np.empty((2, d, d))
        for j in range(d):
            up, down = s[:, k].copy(), s[:, k].copy()
            up[:, j] += h
            down[:, j] -= h
            J[:, :, j] = (last(up) - last(down)) / (2 * h)
        assert np.allclose(np.linalg.norm(J, 2, axis=(1, 2)), norms[:, k], rtol=1e-5, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(("tanh", "sigmoid", "identity")), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_step_jacobian_matches_finite_differences(activation, d, seed):
    variant = _variant(activation, d, 2)
    rng = np.random.default_rng(seed)
    phi = ref.HIDDEN[activation]
    W, b = rng.normal(size=(d, d)), rng.normal(size=d)
    drive = rng.normal(size=(2, d))                       # x_t U, held fixed
    s_prev = rng.normal(size=(2, d))

    def step(s_prev):
        return phi.apply(drive + s_prev @ W + b)

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
        assert ref.global_norm(clipped) <= max_norm * (1 + 1e-12)
        ratios = {float(np.mean(clipped[key] / grads[key])) for key in grads}
        assert max(ratios) - min(ratios) < 1e-12
