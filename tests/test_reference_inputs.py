"""Bad input is refused with a ValueError that says what is wrong and where.

The issue's contract: wrong shapes, wrong dtypes, NaN/inf, unknown names and
mismatched params raise ValueError naming the array, its shape and the shape
expected. For shape and dtype errors the tests require all three in the
message; for NaN/inf they require the array's name, what was found and where
(its index), which says more than the shapes would.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import reference as ref

N, T, N_IN, D1, D2, K = 2, 5, 3, 4, 6, 2


def build(kind: str, objective="mse", output="linear"):
    if kind == "elman":
        return ref.Elman(N_IN, D1, K, output=output, objective=objective)
    if kind == "stacked":
        return ref.Stacked(N_IN, D1, K, output=output, objective=objective, n_hidden2=D2)
    return ref.Bidirectional(N_IN, D1, K, output=output, objective=objective)


KINDS = ("elman", "stacked", "bidirectional")
STATE_WIDTH = {"s0": D1, "z0": D2, "f0": D1, "r0": D1}


def valid(kind):
    rng = np.random.default_rng(0)
    m = build(kind)
    params = m.init_params(rng)
    x = rng.normal(size=(N, T, N_IN))
    d = rng.normal(size=(N, T, K))
    states = {name: rng.uniform(-0.5, 0.5, (N, w)) for name, w in m.initial_state_sizes().items()}
    return m, params, x, d, states


def call(method, m, params, x, d, states, **kwargs):
    if method == "forward":
        return m.forward(params, x, **states)
    return getattr(m, method)(params, x, d, **states, **kwargs)


def all_of(*parts: str) -> str:
    """A regex matching a message that contains every part (literally), in any order."""
    return "(?s)" + "".join(f"(?=.*{re.escape(part)})" for part in parts)


def shape_text(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


METHODS = ("forward", "loss", "grad")


# -- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad_shape", [(N, T), (N, T, N_IN + 1), (N, T, N_IN, 1), (T, N_IN)])
def test_x_of_the_wrong_shape(kind, method, bad_shape):
    m, params, _, d, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("x", shape_text(bad_shape), f"(N, T, {N_IN})")):
        call(method, m, params, np.ones(bad_shape), d, states)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", METHODS)
def test_initial_states_of_the_wrong_shape(kind, method):
    m, params, x, d, states = valid(kind)
    for name, width in STATE_WIDTH.items():
        if name not in states:
            continue
        for bad_shape in [(N, width + 1), (N + 1, width), (width,), (N, width, 1)]:
            wrong = dict(states, **{name: np.zeros(bad_shape)})
            with pytest.raises(ValueError, match=all_of(name, shape_text(bad_shape),
                                                        shape_text((N, width)))):
                call(method, m, params, x, d, wrong)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ("loss", "grad"))
@pytest.mark.parametrize("bad_shape", [(N, T, K + 1), (N, T + 1, K), (N + 1, T, K), (N, T)])
def test_targets_of_the_wrong_shape(kind, method, bad_shape):
    m, params, x, _, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("d", shape_text(bad_shape),
                                                shape_text((N, T, K)))):
        call(method, m, params, x, np.zeros(bad_shape), states)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", METHODS)
def test_parameters_of_the_wrong_shape(kind, method):
    m, params, x, d, states = valid(kind)
    for key, shape in m.param_shapes().items():
        for bad_shape in [tuple(n + 1 for n in shape), shape + (1,), shape[:-1]]:
            wrong = dict(params, **{key: np.zeros(bad_shape)})
            with pytest.raises(ValueError, match=all_of(key, shape_text(bad_shape),
                                                        shape_text(shape))):
                call(method, m, wrong, x, d, states)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad_shape", [(0, T, N_IN), (N, 0, N_IN)])
def test_empty_batch_or_sequence(kind, bad_shape):
    m, params, _, d, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("x", shape_text(bad_shape))):
        m.forward(params, np.zeros(bad_shape))


# -- dtypes -----------------------------------------------------------------------------------

BAD_DTYPES = {
    "str": lambda a: a.astype(str),
    "complex": lambda a: a.astype(complex),
    "object": lambda a: a.astype(object),
    "bool": lambda a: a > 0,
}


def dtype_cases():
    for kind in KINDS:
        m = build(kind)
        names = ["x", "d", *m.initial_state_sizes(), *(f"params[{k!r}]" for k in m.param_shapes())]
        for name in names:
            for dtype in BAD_DTYPES:
                yield pytest.param(kind, name, dtype, id=f"{kind}-{name}-{dtype}")


def replace(kind, name, transform):
    """The valid arguments with array `name` transformed; returns them and the expected shape."""
    m, params, x, d, states = valid(kind)
    if name == "x":
        return (m, params, transform(x), d, states), x.shape, "(N, T, 3)"
    if name == "d":
        return (m, params, x, transform(d), states), d.shape, shape_text(d.shape)
    if name in states:
        new = dict(states, **{name: transform(states[name])})
        return (m, params, x, d, new), states[name].shape, shape_text(states[name].shape)
    key = name[len("params['"):-2]
    new = dict(params, **{key: transform(params[key])})
    return (m, new, x, d, states), params[key].shape, shape_text(params[key].shape)


@pytest.mark.parametrize("kind,name,dtype", list(dtype_cases()))
def test_arrays_of_a_wrong_dtype(kind, name, dtype):
    args, shape, expected = replace(kind, name, BAD_DTYPES[dtype])
    with pytest.raises(ValueError, match=all_of(name, shape_text(shape), expected)):
        call("grad", *args)


@pytest.mark.parametrize("kind", KINDS)
def test_real_dtypes_other_than_float64_are_accepted(kind):
    """float32 arrays are read as the float64 numbers they hold: the gradient equals, bit for
    bit, the one of the same values given as float64, and is within float32 rounding of the
    unrounded problem's."""
    m, params, x, d, states = valid(kind)
    want = m.grad(params, x, d, **states)
    as32 = {k: v.astype(np.float32) for k, v in params.items()}
    got = m.grad(as32, x.astype(np.float32), d, **states)
    same_values = m.grad({k: v.astype(np.float64) for k, v in as32.items()},
                         x.astype(np.float32).astype(np.float64), d, **states)
    assert set(got) == set(want) == set(same_values)
    for key in want:
        assert got[key].dtype == np.float64, key
        np.testing.assert_array_equal(got[key], same_values[key], err_msg=key)
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
    ints = m.forward(params, np.round(x).astype(np.int32), **states)
    floats = m.forward(params, np.round(x), **states)
    np.testing.assert_array_equal(ints.y, floats.y)


# -- NaN and inf ------------------------------------------------------------------------------


def nonfinite_cases():
    for kind in KINDS:
        m = build(kind)
        names = ["x", "d", *m.initial_state_sizes(), *(f"params[{k!r}]" for k in m.param_shapes())]
        for name in names:
            for value in (np.nan, np.inf, -np.inf):
                yield pytest.param(kind, name, value, id=f"{kind}-{name}-{value}")


@pytest.mark.parametrize("kind,name,value", list(nonfinite_cases()))
def test_nan_and_inf_are_refused_with_their_position(kind, name, value):
    def poison(a):
        a = a.copy()
        a[(a.ndim - 1) * (1,) + (0,)] = value
        return a

    args, shape, _ = replace(kind, name, poison)
    index = (len(shape) - 1) * (1,) + (0,)
    with pytest.raises(ValueError, match=all_of(name, shape_text(index)) + "(?=.*(NaN|inf))"):
        call("grad", *args)
    if name != "d":
        with pytest.raises(ValueError, match=all_of(name)):
            call("forward", *args)


# -- names and combinations -------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ref.Elman, ref.Stacked, ref.Bidirectional])
@pytest.mark.parametrize("field,bad", [("activation", "softplus"), ("activation", "softmax"),
                                       ("output", "relu"), ("output", "identity"),
                                       ("objective", "hinge"), ("objective", "MSE")])
def test_unknown_names(cls, field, bad):
    kwargs = dict(activation="tanh", output="linear", objective="mse")
    kwargs[field] = bad
    options = {"activation": ref.HIDDEN, "output": ref.OUTPUT, "objective": ref.OBJECTIVES}[field]
    with pytest.raises(ValueError, match=all_of(repr(bad), *options)):
        cls(2, 3, 2, **kwargs)


@pytest.mark.parametrize("output,objective", [("linear", "ce"), ("sigmoid", "ce"), ("tanh", "ce"),
                                              ("linear", "bce"), ("tanh", "bce")])
def test_invalid_combinations(output, objective):
    with pytest.raises(ValueError, match=all_of(repr(objective), repr(output))):
        ref.Elman(2, 3, 2, output=output, objective=objective)


def test_bce_on_a_single_class_softmax_is_refused():
    """softmax over one class is y ≡ 1, not an output in (0, 1): bce against it is log 0.

    The reference accepts the model and returns a NaN loss and NaN gradients.
    """
    with pytest.raises(ValueError, match="bce"):
        ref.Elman(2, 3, 1, output="softmax", objective="bce")


@pytest.mark.parametrize("field,bad", [("n_in", 0), ("n_hidden", -1), ("n_out", 2.5),
                                       ("n_in", True), ("n_hidden", "3"), ("bias", "yes"),
                                       ("bias", 1)])
def test_bad_hyperparameters(field, bad):
    kwargs = dict(n_in=2, n_hidden=3, n_out=2)
    kwargs[field] = bad
    with pytest.raises(ValueError, match=all_of(field, repr(bad))):
        ref.Elman(**kwargs)


def test_bad_second_layer_width():
    with pytest.raises(ValueError, match=all_of("n_hidden2", "0")):
        ref.Stacked(2, 3, 2, n_hidden2=0)


# -- targets ----------------------------------------------------------------------------------


def test_bce_targets_outside_the_unit_interval():
    m = ref.Elman(N_IN, D1, K, output="sigmoid", objective="bce")
    x = valid("elman")[2]
    with pytest.raises(ValueError, match=all_of("d", "[0, 1]")):
        m.loss(m.init_params(np.random.default_rng(0)), x, np.full((N, T, K), 1.5))


@pytest.mark.parametrize("labels,message", [
    (np.full((N, T), K), f"[0, {K - 1}]"),
    (np.full((N, T), -1), f"[0, {K - 1}]"),
    (np.zeros((N, T)), "integers"),
    (np.zeros((N, T + 1), dtype=int), shape_text((N, T + 1))),
])
def test_ce_class_indices(labels, message):
    m = ref.Elman(N_IN, D1, K, output="softmax", objective="ce")
    _, _, x, _, _ = valid("elman")
    with pytest.raises(ValueError, match=all_of("d", message)):
        m.grad(m.init_params(np.random.default_rng(0)), x, labels)


def test_ce_dense_targets_must_be_distributions():
    m = ref.Elman(N_IN, D1, K, output="softmax", objective="ce")
    _, _, x, _, _ = valid("elman")
    with pytest.raises(ValueError, match="d"):
        m.grad(m.init_params(np.random.default_rng(0)), x, np.full((N, T, K), 0.7))


# -- params dicts -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_missing_and_unexpected_parameter_keys(kind):
    m, params, x, d, states = valid(kind)
    first = next(iter(params))
    missing = {k: v for k, v in params.items() if k != first}
    with pytest.raises(ValueError, match=all_of("missing", repr(first))):
        m.grad(missing, x, d, **states)
    with pytest.raises(ValueError, match=all_of("unexpected", "'Z'")):
        m.grad(dict(params, Z=np.zeros(3)), x, d, **states)
    no_bias = dataclasses.replace(m, bias=False)
    with pytest.raises(ValueError, match="unexpected"):
        no_bias.forward(params, x)
    with pytest.raises(ValueError, match="params"):
        m.forward(list(params.values()), x)


# -- horizon and times ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("horizon", [0, -1, 2.5, True, False, "2", 2.0, np.float64(3)])
def test_bad_horizon(kind, horizon):
    m, params, x, d, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("horizon", repr(horizon))):
        m.grad(params, x, d, **states, horizon=horizon)


@pytest.mark.parametrize("kind", KINDS)
def test_numpy_integer_horizon_is_accepted(kind):
    m, params, x, d, states = valid(kind)
    a = m.grad(params, x, d, **states, horizon=np.int64(2))
    b = m.grad(params, x, d, **states, horizon=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ("loss", "grad"))
@pytest.mark.parametrize("times", [[T], [-1], [0, T + 3], [1.0], [2.5], 1.5, ["1"]])
def test_bad_times(kind, method, times):
    m, params, x, d, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("times", f"[0, {T - 1}]")):
        call(method, m, params, x, d, states, times=times)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ("loss", "grad"))
@pytest.mark.parametrize("times", [[True], [False], True, [0, True]])
def test_booleans_are_not_time_indices(kind, method, times):
    """As for horizon, True is not the integer 1 (numpy would read it as a mask)."""
    m, params, x, d, states = valid(kind)
    with pytest.raises(ValueError, match=all_of("times", f"[0, {T - 1}]")):
        call(method, m, params, x, d, states, times=times)


# -- nothing is changed in place --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_are_not_modified(kind):
    m, params, x, d, states = valid(kind)
    before = [{k: v.copy() for k, v in params.items()}, x.copy(), d.copy(),
              {k: v.copy() for k, v in states.items()}]
    m.grad(params, x, d, **states, horizon=2, times=[1, 3])
    m.forward(params, x, **states)
    ref.sgd(params, m.grad(params, x, d, **states), 0.1)
    for key in params:
        np.testing.assert_array_equal(params[key], before[0][key])
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(d, before[2])
    for key in states:
        np.testing.assert_array_equal(states[key], before[3][key])
