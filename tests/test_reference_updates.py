"""Update rules: sgd, clipping, Adagrad, and chunked truncated-BPTT training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy_oracle import copies, forward, input_uses

import reference as ref

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)


@st.composite
def gradient_dicts(draw, keys=("U", "W", "b", "V", "c")):
    return {key: draw(arrays(float, draw(shapes), elements=finite)) for key in keys}


@st.composite
def params_and_grads(draw):
    grads = draw(gradient_dicts())
    params = {key: draw(arrays(float, g.shape, elements=finite)) for key, g in grads.items()}
    return params, grads


# -- sgd --------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(params_and_grads(), st.floats(1e-4, 10.0), st.data())
def test_sgd_is_theta_minus_lr_gradient_for_parameters_only(pg, lr, data):
    params, grads = pg
    extra = {"x": data.draw(arrays(float, (2, 3, 1), elements=finite)),
             "s0": data.draw(arrays(float, (2, 4), elements=finite))}
    before = {key: value.copy() for key, value in params.items()}
    new = ref.sgd(params, {**grads, **extra}, lr)
    assert set(new) == set(params)
    for key in params:
        np.testing.assert_array_equal(new[key], before[key] - lr * grads[key])
        np.testing.assert_array_equal(params[key], before[key])     # not in place
    assert ref.SGD(lr).update(params, grads, {})[0].keys() == new.keys()
    for key, value in ref.SGD(lr).update(params, grads, {})[0].items():
        np.testing.assert_array_equal(value, new[key])


def test_sgd_needs_a_gradient_for_every_parameter():
    params = {"U": np.ones(2), "W": np.ones(2)}
    with pytest.raises(ValueError, match="W"):
        ref.sgd(params, {"U": np.ones(2)}, 0.1)


def test_sgd_step_lowers_the_loss():
    rng = np.random.default_rng(1)
    m = ref.Elman(3, 4, 2, output="softmax", objective="ce")
    params = m.init_params(rng)
    x, d = rng.normal(size=(2, 6, 3)), rng.integers(0, 2, (2, 6))
    new = ref.sgd(params, m.grad(params, x, d), 1e-2)
    assert m.loss(new, x, d) < m.loss(params, x, d)


# -- clipping ---------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(gradient_dicts(), st.floats(1e-3, 1e3))
def test_clip_by_value_bounds_every_entry(grads, limit):
    clipped = ref.clip_by_value(grads, limit)
    assert set(clipped) == set(grads)
    for key, g in grads.items():
        c = clipped[key]
        assert np.all(np.abs(c) <= limit)
        inside = np.abs(g) <= limit
        np.testing.assert_array_equal(c[inside], g[inside])
        np.testing.assert_array_equal(c[~inside], np.sign(g[~inside]) * limit)


@pytest.mark.parametrize("limit", [0.0, -1.0])
def test_clip_limits_must_be_positive(limit):
    with pytest.raises(ValueError):
        ref.clip_by_value({"W": np.ones(2)}, limit)
    with pytest.raises(ValueError):
        ref.clip_by_norm({"W": np.ones(2)}, limit)


def norm_of_all(grads) -> float:
    return float(np.sqrt(sum(float((g ** 2).sum()) for g in grads.values())))


@settings(max_examples=100, deadline=None)
@given(gradient_dicts(), st.floats(1e-3, 1e3))
def test_clip_by_norm(grads, max_norm):
    norm = norm_of_all(grads)
    assert ref.global_norm(grads) == pytest.approx(norm, rel=1e-12, abs=1e-300)
    clipped = ref.clip_by_norm(grads, max_norm)
    assert set(clipped) == set(grads)
    assert norm_of_all(clipped) <= max_norm * (1 + 1e-12)
    if norm <= max_norm:                       # small gradients are left alone
        for key in grads:
            np.testing.assert_array_equal(clipped[key], grads[key])
    else:                                      # same direction, length max_norm
        assert norm_of_all(clipped) == pytest.approx(max_norm, rel=1e-12)
        for key in grads:
            np.testing.assert_allclose(clipped[key], grads[key] * (max_norm / norm),
                                       rtol=1e-12, atol=1e-300)


# -- Adagrad as in min-char-rnn ---------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(params_and_grads(), st.floats(1e-3, 1.0), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_adagrad_matches_min_char_rnn(pg, lr, steps, seed):
    """min-char-rnn, written out:

        mem += dparam * dparam
        param += -learning_rate * dparam / np.sqrt(mem + 1e-8)
    """
    params, grads = pg
    rng = np.random.default_rng(seed)
    opt = ref.Adagrad(lr)
    memory = opt.init(params)
    mine = {key: value.copy() for key, value in params.items()}
    mem = {key: np.zeros_like(value) for key, value in params.items()}
    for _ in range(steps):
        step_grads = {key: g * rng.uniform(0.5, 1.5, g.shape) for key, g in grads.items()}
        params, memory = opt.update(params, step_grads, memory)
        for key in mine:
            dparam = step_grads[key]
            mem[key] += dparam * dparam
            mine[key] += -lr * dparam / np.sqrt(mem[key] + 1e-8)
    for key in mine:
        np.testing.assert_allclose(params[key], mine[key], rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(memory[key], mem[key], rtol=1e-14, atol=1e-300)


# -- chunked truncated BPTT -------------------------------------------------------------------

CHARS = "dep."                  # seed 004's {d, e, p, <stop>}


def next_character_task(repeats: int, N: int = 2):
    """One-hot 'dep.dep.…' inputs (N, T, 4) and the next character as class indices (N, T)."""
    text = CHARS * repeats
    ids = np.array([CHARS.index(ch) for ch in text])
    x = np.eye(4)[ids[:-1]]
    d = ids[1:]
    return np.repeat(x[None], N, axis=0), np.repeat(d[None], N, axis=0)


@pytest.mark.parametrize("optimizer", [ref.Adagrad(0.1), ref.SGD(0.2)])
@pytest.mark.parametrize("cls", [ref.Elman, ref.Stacked])
def test_training_lowers_the_loss(optimizer, cls):
    rng = np.random.default_rng(0)
    m = cls(4, 8, 4, activation="tanh", output="softmax", objective="ce")
    x, d = next_character_task(10)
    run = ref.train_chunks(m, m.init_params(rng), x, d, chunk=6, optimizer=optimizer, epochs=30)
    per_epoch = np.array(run.losses).reshape(30, -1).sum(axis=1)
    assert per_epoch[-1] < 0.2 * per_epoch[0]
    assert m.loss(run.params, x, d) < 0.2 * m.loss(m.init_params(np.random.default_rng(0)), x, d)


def replay(m, kind, params, x, d, chunk, optimizer, epochs, clip=None):
    """train_chunks written out: BPTT inside each chunk, carrying the state forward.

    The state is computed with the independent forward of `numpy_oracle`,
    chunk by chunk, each chunk with the parameters *before* its update.
    """
    memory = optimizer.init(params)
    losses, T = [], x.shape[1]
    names = list(m.initial_state_sizes())
    for _ in range(epochs):
        state = {name: np.zeros((x.shape[0], w)) for name, w in m.initial_state_sizes().items()}
        for start in range(0, T, chunk):
            xc, dc = x[:, start:start + chunk], d[:, start:start + chunk]
            losses.append(m.loss(params, xc, dc, **state))
            grads = {key: g for key, g in m.grad(params, xc, dc, **state).items() if key in params}
            if clip is not None:
                grads = {key: np.clip(g, -clip, clip) for key, g in grads.items()}
            out = forward(kind, m, copies(params, xc.shape[1]), input_uses(kind, xc), state)
            state = {"s0": out["s"][:, -1]} if names == ["s0"] else \
                {"s0": out["s"][:, -1], "z0": out["z"][:, -1]}
            params, memory = optimizer.update(params, grads, memory)
    return params, losses, state


@pytest.mark.parametrize("kind,cls", [("elman", ref.Elman), ("stacked", ref.Stacked)])
@pytest.mark.parametrize("chunk", [1, 4, 5, 11, 30])
@pytest.mark.parametrize("clip", [None, 0.05])
def test_the_carried_state_comes_from_the_pre_update_parameters(kind, cls, chunk, clip):
    rng = np.random.default_rng(chunk)
    m = cls(4, 5, 4, activation="tanh", output="softmax", objective="ce")
    params = m.init_params(rng)
    x, d = next_character_task(3)                   # T = 11
    optimizer = ref.Adagrad(0.2)
    run = ref.train_chunks(m, params, x, d, chunk=chunk, optimizer=optimizer, epochs=2,
                           clip=clip)
    want_params, want_losses, want_state = replay(m, kind, params, x, d, chunk, optimizer, 2,
                                                  clip)
    np.testing.assert_allclose(run.losses, want_losses, rtol=1e-12)
    assert set(run.final_state) == set(want_state)
    for key in want_state:
        np.testing.assert_allclose(run.final_state[key], want_state[key], rtol=1e-12, atol=1e-15)
    for key in params:
        np.testing.assert_allclose(run.params[key], want_params[key], rtol=1e-12, atol=1e-15)
    if chunk < x.shape[1]:
        # The state really is carried: the last chunk from zeros would give another state.
        start = (x.shape[1] - 1) // chunk * chunk
        fresh = m.forward(params, x[:, start:]).s[:, -1]
        assert not np.allclose(fresh, run.final_state["s0"])


@pytest.mark.parametrize("cls", [ref.Elman, ref.Stacked])
@pytest.mark.parametrize("chunk", [1, 3, 7, 11])
def test_without_updates_chunks_rebuild_the_whole_sequence(cls, chunk):
    """With lr = 0 the carried state is the whole sequence's, and the losses add up to L."""
    rng = np.random.default_rng(7)
    m = cls(4, 5, 4, activation="tanh", output="softmax", objective="ce")
    params = m.init_params(rng)
    x, d = next_character_task(3)
    run = ref.train_chunks(m, params, x, d, chunk=chunk, optimizer=ref.SGD(0.0))
    whole = m.forward(params, x)
    np.testing.assert_allclose(run.final_state["s0"], whole.s[:, -1], rtol=1e-12, atol=1e-15)
    if cls is ref.Stacked:
        np.testing.assert_allclose(run.final_state["z0"], whole.z[:, -1], rtol=1e-12,
                                   atol=1e-15)
    assert sum(run.losses) == pytest.approx(m.loss(params, x, d), rel=1e-12)


def test_clipped_sgd_moves_each_parameter_by_at_most_lr_times_clip_per_chunk():
    rng = np.random.default_rng(2)
    m = ref.Elman(4, 5, 4, activation="tanh", output="softmax", objective="ce")
    params = m.init_params(rng)
    x, d = next_character_task(3)
    lr, clip, chunk = 0.5, 1e-3, 4
    run = ref.train_chunks(m, params, x, d, chunk=chunk, optimizer=ref.SGD(lr), clip=clip)
    chunks = -(-x.shape[1] // chunk)
    for key in params:
        assert np.all(np.abs(run.params[key] - params[key]) <= lr * clip * chunks * (1 + 1e-12))
    assert any(np.any(run.params[key] != params[key]) for key in params)


def test_bidirectional_training_is_refused():
    m = ref.Bidirectional(4, 5, 4, output="softmax", objective="ce")
    x, d = next_character_task(3)
    with pytest.raises(ValueError, match="causal"):
        ref.train_chunks(m, m.init_params(np.random.default_rng(0)), x, d, chunk=4,
                         optimizer=ref.SGD(0.1))


@pytest.mark.parametrize("kwargs", [dict(chunk=0), dict(chunk=2.5), dict(epochs=0),
                                    dict(optimizer="sgd")])
def test_bad_training_arguments(kwargs):
    m = ref.Elman(4, 5, 4, output="softmax", objective="ce")
    x, d = next_character_task(3)
    args = dict(chunk=4, optimizer=ref.SGD(0.1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ref.train_chunks(m, m.init_params(np.random.default_rng(0)), x, d, **args)
