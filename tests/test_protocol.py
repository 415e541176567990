"""The parent's reading of what a job sends back (grader.sandbox.protocol), forged or not.

out.bundle is written by the zygote, but in the fallback a job can reach its exchange
folder: every index a bundle can carry is read as untrusted, and a file is only what
its bytes are. An answer is a place in answers.bin that the record names: read only
when the dtype is a plain number's and the bytes are there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checking.verdicts import ForeignValue
from grader.sandbox.protocol import (
    MAX_RESULT_BYTES,
    Budget,
    JobFiles,
    PackedArrays,
    _decode_value,
)


def bundle(folder, index, body: bytes) -> JobFiles:
    (folder / "out.bundle").write_bytes(json.dumps(index).encode() + b"\n" + body)
    return JobFiles(folder)


def test_a_bundle_is_split_into_its_files(tmp_path):
    one, two = np.arange(3.0).tobytes(), b'{"cell_errors": []}\n'
    files = bundle(tmp_path, [["outputs.jsonl", len(two)], ["answers.bin", len(one)]], two + one)
    assert files.read("outputs.jsonl", 1000) == two
    assert files.read("outputs.jsonl", 5) is None                # over the cap
    value = _decode_value({"array": ["<f8", [3], 0]}, files)
    assert type(value) is np.ndarray and value.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("index", [
    [["c0.npy", -1]], [["c0.npy", 10 ** 9]], [["c0.npy", 1.5]], [["c0.npy", True]],
    [[1, 3]], [["c0.npy"]], {"c0.npy": 3}, "x", [["c0.npy", 3, 4]],
])
def test_a_forged_index_gives_nothing_it_does_not_hold(tmp_path, index):
    files = bundle(tmp_path, index, b"abc")
    assert files.read("c0.npy", 100) is None


def test_no_bundle_or_a_broken_one_is_no_files(tmp_path):
    assert JobFiles(tmp_path).files == {}
    (tmp_path / "out.bundle").write_bytes(b"[" * 100000 + b"\nxyz")
    assert JobFiles(tmp_path).files == {}
    (tmp_path / "out.bundle").unlink()
    (tmp_path / "out.bundle").symlink_to("/etc/passwd")
    assert JobFiles(tmp_path).files == {}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([np.zeros((2, 3)), np.arange(4), np.eye(3),
                                 np.zeros(3, dtype=bool), np.ones((2, 2), dtype=np.float32),
                                 np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                                 np.arange(6.0).reshape(2, 3), np.arange(10.0)[::2],
                                 np.array(2.5)]),
                max_size=12))
def test_packed_arrays_come_back_equal_and_identical_ones_are_stored_once(arrays):
    packed = PackedArrays()
    codes = [packed.add(a) for a in arrays]
    buffers = {name: np.concatenate(parts) for name, parts in packed.buffers.items()}
    for array, code in zip(arrays, codes, strict=True):
        name, offset, shape = packed.arrays[code]
        back = buffers[name][offset:offset + int(np.prod(shape))].reshape(shape)
        assert back.dtype == array.dtype and np.array_equal(back, array)
    distinct = {(a.dtype.str, a.shape, a.tobytes()): a.size for a in arrays}
    stored = sum(part.size for parts in packed.buffers.values() for part in parts)
    assert stored == sum(distinct.values())


@settings(max_examples=30, deadline=None)
@given(specs=st.lists(st.tuples(st.sampled_from(["f8", "f4", "i8", "i4", "b1", "u1"]),
                                st.lists(st.integers(0, 4), max_size=3)), max_size=8),
       seed=st.integers(0, 2 ** 32 - 1))
def test_job_in_carries_every_argument_back_to_the_job_bit_for_bit(specs, seed, tmp_path_factory):
    """write_job (the parent) and read_job (the job) agree on job.in: one file, every array
    back with its dtype, shape and bytes, and plain values as they were."""
    from grader.sandbox.protocol import Call, write_job
    from grader.sandbox.zygote import decode, read_job, snapshot

    rng = np.random.default_rng(seed)
    arrays = [np.asarray(rng.standard_normal(shape) * 100).astype(dtype) for dtype, shape in specs]
    kwargs = {f"a{i}": array for i, array in enumerate(arrays)}
    kwargs["plain"] = {"T": 3, "h": [1.5, None, "x"]}
    folder = tmp_path_factory.mktemp("job")
    write_job(folder, "given = 1", ["cell"], [Call("f", 0, kwargs)])
    assert [p.name for p in folder.iterdir()] == ["job.in"]
    plan, buffers = read_job(folder / "job.in")
    assert len(buffers) == len({(a.dtype.str, a.shape, a.tobytes()) for a in arrays})
    assert (plan["given"], plan["cells"]) == ("given = 1", ["cell"])
    back = {name: decode(value, buffers) for name, value in plan["calls"][0]["kwargs"].items()}
    assert back["plain"] == {"T": 3, "h": [1.5, None, "x"]}
    for i, array in enumerate(arrays):
        got = back[f"a{i}"]
        assert got.dtype == array.dtype and got.shape == array.shape
        assert got.tobytes() == array.tobytes()
        assert not got.flags.writeable          # the tables are read, never written
        given = snapshot(got)                   # what a student's function is handed
        assert given.flags.writeable and not np.shares_memory(given, got)
        given[...] = 0
        assert got.tobytes() == array.tobytes()


def answers_of(arrays, folder):
    """answers.bin and the records of `arrays` as the job writes them (zygote.Answers)."""
    from grader.sandbox.zygote import Answers

    answers = Answers(str(folder))
    try:
        records = [answers.add(np.asarray(array)) for array in arrays]
    finally:
        answers.close()
    return (folder / "answers.bin").read_bytes(), records


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(["<f8", ">f8", "<f4", "<i8", ">i4", "|b1", "|u1", "<c16", "<f2"]),
       shape=st.lists(st.integers(0, 4), max_size=3), fortran=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1))
def test_an_answer_comes_back_with_its_dtype_shape_and_values(dtype, shape, fortran, seed,
                                                              tmp_path_factory):
    """What the job's Answers writes, the parent reads back as the same array: dtype
    (byte order too), shape and every value, in an array of its own."""
    rng = np.random.default_rng(seed)
    array = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    if fortran:
        array = np.asfortranarray(array)
    other = np.arange(5.0)
    folder = tmp_path_factory.mktemp("job")
    data, records = answers_of([other, array], folder)
    files = bundle(folder, [["answers.bin", len(data)]], data)
    got = _decode_value(records[1], files)
    assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
    assert got.tobytes() == array.tobytes() and got.flags.writeable
    assert _decode_value(records[0], files).tolist() == other.tolist()


@pytest.mark.parametrize("place", [
    ["<f8", [2, 3], 8],                      # ends past the file
    ["<f8", [10 ** 5, 10 ** 5], 0],          # 75 GiB promised, 48 bytes there
    ["|O", [1], 0], ["<U4", [1], 0], ["V8", [1], 0], ["<M8", [1], 0], ["(2,)f8", [1], 0],
    ["<f8", [-1], 0], ["<f8", [1.0], 0], ["<f8", [True], 0], ["<f8", 3, 0],
    ["<f8", [1] * 33, 0], ["<f8", [1], -8], ["<f8", [1], 0.0], ["<f8", [1]],
    "answers.bin", "c0.npy", "../../../etc/passwd", None, 7, ["<f8", [1], "0"],
])
def test_a_forged_answer_place_reads_nothing(place, tmp_path):
    data = np.arange(6.0).tobytes()
    files = bundle(tmp_path, [["answers.bin", len(data)]], data)
    got = _decode_value({"array": place}, files)
    assert isinstance(got, ForeignValue), got


def test_an_answer_over_the_budget_is_not_read_and_the_budget_says_so(tmp_path):
    data = np.zeros(1000).tobytes()
    files = bundle(tmp_path, [["answers.bin", len(data)]], data)
    budget = Budget(bytes=3000)
    first = _decode_value({"array": ["<f8", [300], 0]}, files, budget)
    second = _decode_value({"array": ["<f8", [300], 0]}, files, budget)
    assert type(first) is np.ndarray and isinstance(second, ForeignValue)
    assert budget.spent == "bytes" and "64 MB" in budget.note()


def test_a_huge_answer_costs_its_own_call_only(tmp_path):
    """The job refuses to write an array the parent would not read, and a write that
    fails is taken back: the answers after it are where their records say."""
    from grader.sandbox.zygote import MAX_ANSWER_BYTES, Answers

    assert MAX_ANSWER_BYTES == MAX_RESULT_BYTES
    answers = Answers(str(tmp_path))
    try:
        huge = answers.add(np.zeros(MAX_ANSWER_BYTES // 8 + 1))
        after = answers.add(np.arange(3.0))
    finally:
        answers.close()
    data = (tmp_path / "answers.bin").read_bytes()
    files = bundle(tmp_path, [["answers.bin", len(data)]], data)
    assert "type" in huge and "MB" in huge["type"]
    assert _decode_value(after, files).tolist() == [0.0, 1.0, 2.0]
