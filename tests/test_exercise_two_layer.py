"""The `two-layer` exercise: bugs, instances, and its answers checked against independent
oracles: numpy_oracle's forward, autograd over per-step copies (truncated gradients by their
definition) and finite differences of forwards written here. Nothing here compares with
`reference`."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from catalogue import instance_of
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_oracle import ag_output, copies, copy_gradients, forward, input_uses, phi, surrogate
from strategies import assert_grads_close, problems

from exercises import two_layer
from exercises.registry import get_exercise
from exercises.spec import Variant

EXERCISE = two_layer.EXERCISE
STUDENTS = [f"student-{i:03d}" for i in range(60)]
student_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                      max_size=12).filter(lambda s: s.strip())


def test_registered():
    assert get_exercise("two-layer") is EXERCISE
    assert EXERCISE.seed == "000"
    assert {stage.name for stage in EXERCISE.stages} == {
        "z_step_forward", "two_layer_forward", "delta_V1_single_step", "dE_dU_two_steps",
        "two_layer_backward", "two_layer_sgd_update", "two_layer_train"}


def test_the_seed_s_bugs_apply_to_the_backward_stages():
    """Each of these bugs applies to some student's variant (that every applicable bug is
    caught and named unambiguously is checked for every exercise in test_catalogue.py)."""
    applicable = {(stage.name, bug.misconception) for student in STUDENTS
                  for stage in EXERCISE.stages
                  for bug in stage.bugs_for(instance_of(EXERCISE, student).variant)}
    required = {
        "dE_dU_two_steps": {"stacked-recurrence-missing", "recurrent-term-dropped",
                            "horizon-off-by-one", "weight-not-transposed",
                            "derivative-at-preactivation", "squared-error-halved"},
        "delta_V1_single_step": {"update-wrong-sign", "horizon-off-by-one",
                                 "derivative-at-preactivation", "squared-error-halved"},
        "two_layer_backward": {"stacked-recurrence-missing", "recurrent-term-dropped",
                               "overwrite-not-accumulate", "off-by-one-previous-state",
                               "initial-state-ignored", "weight-not-transposed",
                               "derivative-at-preactivation"},
    }
    for stage, bugs in required.items():
        assert bugs <= {bug for (name, bug) in applicable if name == stage}


def test_derivative_at_preactivation_only_where_it_can_show():
    for activation, expected in (("tanh", True), ("sigmoid", True), ("relu", False),
                                 ("identity", False)):
        variant = Variant(activation, "linear", "mse", 2, 3, 2, 4, 2)
        names = {bug.misconception for bug in EXERCISE.stage("two_layer_backward")
                 .bugs_for(variant)}
        assert ("derivative-at-preactivation" in names) == expected


# -- the answers against the oracle: truncated gradients over per-step copies --------------

RTOL = 1e-10          # two float64 computations of the same sums (see test_reference_autograd)


def floor(want: dict) -> float:
    return 1e-6 * (1.0 + float(np.sqrt(sum(np.sum(v * v) for v in want.values()))))


def variant_of(problem, lr=0.1):
    m = problem.model
    return Variant(m.activation, m.output, m.objective, m.n_in, m.n_hidden, m.n_out, problem.T,
                   problem.N, lr=lr, extra=(("n_hidden2", m.d2),))


def squared_error(problem):
    """E_t = (1/N) Σ_n Σ_k (y_ntk − d_ntk)², no ½ (seed 000), in autograd.numpy."""
    output, d, N = problem.model.output, problem.d, problem.N
    return lambda t, o: anp.sum((ag_output(output, o) - d[:, t]) ** 2) / N


stacked_problems = problems(kinds=("stacked",), bias=True,
                            combinations=(("linear", "mse"), ("sigmoid", "mse")))


@settings(max_examples=40, deadline=None)
@given(stacked_problems, st.sampled_from((0.05, 0.1, 0.2)))
def test_q2_is_horizon_one_and_q3_horizon_two_of_the_stacked_network(problem, lr):
    """Q2: −α ∂E_t/∂V1 with V1's use at t only; Q3: ∂E_{t+1}/∂U with U's uses at t and t+1;
    by autograd over per-step copies of the whole stacked network (numpy_oracle)."""
    variant, p, x, d, T = variant_of(problem, lr), problem.params, problem.x, problem.d, problem.T
    states = forward("stacked", problem.model, copies(p, T), input_uses("stacked", x),
                     problem.states)
    s, z = states["s"], states["z"]
    before_s = np.concatenate([problem.states["s0"][:, None], s], axis=1)   # [:, t] = s_{t-1}
    before_z = np.concatenate([problem.states["z0"][:, None], z], axis=1)
    term, activation = squared_error(problem), problem.model.activation
    for t in range(T):
        want = copy_gradients("stacked", activation, p, x, problem.states, term, [t], 1)["V1"]
        got = two_layer.solve_delta_V1(variant, before_s[:, t], s[:, t], before_z[:, t], z[:, t],
                                       p["W2"], p["V2"], p["c"], d[:, t], lr)
        assert_grads_close({"V1": got}, {"V1": -lr * want}, RTOL, floor({"V1": want}), f"t={t}")
    for t in range(T - 1):
        want = copy_gradients("stacked", activation, p, x, problem.states, term, [t + 1], 2)["U"]
        got = two_layer.solve_dE_dU(variant, x[:, t], x[:, t + 1], s[:, t], s[:, t + 1], z[:, t],
                                    z[:, t + 1], p["W1"], p["V1"], p["W2"], p["V2"], p["c"],
                                    d[:, t + 1])
        assert_grads_close({"U": got}, {"U": want}, RTOL, floor({"U": want}), f"t={t}")


@settings(max_examples=40, deadline=None)
@given(stacked_problems, st.integers(0, 2**32 - 1))
def test_forward_and_full_backward_against_the_oracle(problem, seed):
    """The forward of numpy_oracle, one z step by hand, and full BPTT: the gradient of
    Σ_t ⟨do_t, o_t⟩ by autograd over every parameter, x, s0 and z0."""
    variant, p, x = variant_of(problem), problem.params, problem.x
    want = forward("stacked", problem.model, copies(p, problem.T), input_uses("stacked", x),
                   problem.states)
    s, z = two_layer.solve_forward(variant, x, problem.states["s0"], problem.states["z0"],
                                   *(p[key] for key in ("U", "W1", "b1", "V1", "W2", "b2")))
    np.testing.assert_allclose(s, want["s"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z, want["z"], rtol=1e-12, atol=1e-14)
    z_prev = problem.states["z0"]
    step = two_layer.solve_z_step_forward(variant, want["s"][:, 0], z_prev, p["V1"], p["W2"],
                                          p["b2"])
    by_hand = phi(problem.model.activation, want["s"][:, 0] @ p["V1"] + z_prev @ p["W2"] + p["b2"])
    np.testing.assert_allclose(step, by_hand, rtol=1e-12, atol=1e-14)

    do = np.random.default_rng(seed).normal(size=(problem.N, problem.T, problem.model.n_out))
    got = two_layer.solve_backward(variant, do, x, problem.states["s0"], problem.states["z0"],
                                   want["s"], want["z"], p["U"], p["W1"], p["V1"], p["W2"],
                                   p["V2"])
    oracle = copy_gradients("stacked", problem.model.activation, p, x, problem.states,
                            surrogate(do))
    assert set(got) == set(two_layer.GRADIENTS) == set(oracle)
    assert_grads_close(got, oracle, RTOL, floor(oracle), f"{problem.model}, T={problem.T}")


# -- finite differences with an independent forward pass ----------------------------------

PHI = {"tanh": np.tanh, "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)), "identity": lambda a: a}
G = {"linear": lambda o: o, "sigmoid": lambda o: 1.0 / (1.0 + np.exp(-o))}


def numeric_gradient(f, arrays: dict, key: str, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f(arrays) in every entry of arrays[key]."""
    grad = np.zeros_like(arrays[key])
    for index in np.ndindex(grad.shape):
        saved = arrays[key][index]
        arrays[key][index] = saved + h
        up = f(arrays)
        arrays[key][index] = saved - h
        down = f(arrays)
        arrays[key][index] = saved
        grad[index] = (up - down) / (2 * h)
    return grad


def forward_loop(a, phi):
    """The two layers stepped by hand: s, z (N, T, ·)."""
    N, T, _ = a["x"].shape
    s_prev, z_prev, s, z = a["s0"], a["z0"], [], []
    for t in range(T):
        s_prev = phi(a["x"][:, t] @ a["U"] + s_prev @ a["W1"] + a["b1"])
        z_prev = phi(s_prev @ a["V1"] + z_prev @ a["W2"] + a["b2"])
        s.append(s_prev)
        z.append(z_prev)
    return np.stack(s, axis=1), np.stack(z, axis=1)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
def test_full_backward_against_finite_differences(activation):
    variant = Variant(activation, "linear", "mse", 3, 4, 2, 5, 2, extra=(("n_hidden2", 3),))
    rng = np.random.default_rng(7)
    a = {key: rng.normal(0.0, 0.6, shape)
         for key, shape in two_layer.model_of(variant).param_shapes().items()}
    a.update(x=rng.normal(size=(2, 5, 3)), s0=rng.uniform(-0.5, 0.5, (2, 4)),
             z0=rng.uniform(-0.5, 0.5, (2, 3)))
    do = rng.normal(size=(2, 5, 2))
    phi = PHI[activation]

    def surrogate(arrays):   # L with dL/do_t = do_t: Σ ⟨do_t, o_t⟩
        _, z = forward_loop(arrays, phi)
        return float(np.sum(do * (z @ arrays["V2"] + arrays["c"])))

    s, z = forward_loop(a, phi)
    grads = two_layer.solve_backward(variant, do, a["x"], a["s0"], a["z0"], s, z, a["U"],
                                     a["W1"], a["V1"], a["W2"], a["V2"])
    for key in two_layer.GRADIENTS:
        np.testing.assert_allclose(grads[key], numeric_gradient(surrogate, a, key),
                                   rtol=1e-6, atol=1e-8, err_msg=key)


@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_q2_and_q3_against_finite_differences_of_the_truncated_window(output):
    """Horizon h on E_t: the earlier states s_{t-h}, z_{t-h} held fixed, the weights moved."""
    variant = Variant("tanh", output, "mse", 3, 4, 2, 5, 2, lr=0.1, extra=(("n_hidden2", 3),))
    rng = np.random.default_rng(11)
    a = {key: rng.normal(0.0, 0.6, shape)
         for key, shape in two_layer.model_of(variant).param_shapes().items()}
    x_t, x_next = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    s_before, z_before = rng.uniform(-0.5, 0.5, (2, 4)), rng.uniform(-0.5, 0.5, (2, 3))
    d_next = rng.uniform(0.0, 1.0, (2, 2))
    g = G[output]

    def steps(arr, x_list, s_prev, z_prev):
        states = []
        for x_step in x_list:
            s_prev = np.tanh(x_step @ arr["U"] + s_prev @ arr["W1"] + arr["b1"])
            z_prev = np.tanh(s_prev @ arr["V1"] + z_prev @ arr["W2"] + arr["b2"])
            states.append((s_prev, z_prev))
        return states

    def error(arr, z_last):
        return float(np.sum((g(z_last @ arr["V2"] + arr["c"]) - d_next) ** 2) / 2)

    # Q3: E_{t+1} with s_{t-1}, z_{t-1} fixed and U used at t and t+1.
    (s_t, z_t), (s_next, z_next) = steps(a, [x_t, x_next], s_before, z_before)
    numeric = numeric_gradient(lambda arr: error(arr, steps(arr, [x_t, x_next], s_before,
                                                              z_before)[-1][1]), a, "U")
    got = two_layer.solve_dE_dU(variant, x_t, x_next, s_t, s_next, z_t, z_next, a["W1"],
                                a["V1"], a["W2"], a["V2"], a["c"], d_next)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-9)

    # Q2: E_t with s_t and z_{t-1} fixed and V1 used at t only.
    def e_t(arr):
        z_now = np.tanh(s_next @ arr["V1"] + z_t @ arr["W2"] + arr["b2"])
        return error(arr, z_now)

    got = two_layer.solve_delta_V1(variant, s_t, s_next, z_t, z_next, a["W2"], a["V2"], a["c"],
                                   d_next, 0.1)
    np.testing.assert_allclose(got, -0.1 * numeric_gradient(e_t, a, "V1"), rtol=1e-6, atol=1e-9)
