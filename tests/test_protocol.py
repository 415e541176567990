"""The parent's reading of what a job sends back (grader.sandbox.protocol), forged or not.

out.bundle is written by the zygote, but in the fallback a job can reach its exchange
folder: every index a bundle can carry is read as untrusted, and a file is only what
its bytes are.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.sandbox.protocol import JobFiles, PackedArrays, _decode_value


def bundle(folder, index, body: bytes) -> JobFiles:
    (folder / "out.bundle").write_bytes(json.dumps(index).encode() + b"\n" + body)
    return JobFiles(folder)


def npy(array) -> bytes:
    handle = io.BytesIO()
    np.save(handle, array, allow_pickle=False)
    return handle.getvalue()


def test_a_bundle_is_split_into_its_files(tmp_path):
    one, two = npy(np.arange(3.0)), b'{"cell_errors": []}\n'
    files = bundle(tmp_path, [["c0_0.npy", len(one)], ["outputs.jsonl", len(two)]], one + two)
    assert files.read("outputs.jsonl", 1000) == two
    assert files.read("outputs.jsonl", 5) is None                # over the cap
    value = _decode_value({"array": "c0_0.npy"}, files)
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
                                 np.zeros(3, dtype=bool), np.ones((2, 2), dtype=np.float32)]),
                max_size=12))
def test_packed_arrays_come_back_equal_and_identical_ones_are_stored_once(arrays):
    packed = PackedArrays()
    codes = [packed.add(a) for a in arrays]
    buffers = {name: np.concatenate(parts) for name, parts in packed.buffers.items()}
    for array, code in zip(arrays, codes, strict=True):
        name, offset, shape = code["packed"]
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
    from grader.sandbox.zygote import decode, read_job

    rng = np.random.default_rng(seed)
    arrays = [np.asarray(rng.standard_normal(shape) * 100).astype(dtype) for dtype, shape in specs]
    kwargs = {f"a{i}": array for i, array in enumerate(arrays)}
    kwargs["plain"] = {"T": 3, "h": [1.5, None, "x"]}
    folder = tmp_path_factory.mktemp("job")
    write_job(folder, "given = 1", ["cell"], [Call("f", 0, kwargs)])
    assert [p.name for p in folder.iterdir()] == ["job.in"]
    plan, buffers = read_job(folder / "job.in")
    assert (plan["given"], plan["cells"]) == ("given = 1", ["cell"])
    back = {name: decode(value, buffers) for name, value in plan["calls"][0]["kwargs"].items()}
    assert back["plain"] == {"T": 3, "h": [1.5, None, "x"]}
    for i, array in enumerate(arrays):
        got = back[f"a{i}"]
        assert got.dtype == array.dtype and got.shape == array.shape
        assert got.tobytes() == array.tobytes() and got.flags.writeable


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(["<f8", ">f8", "<f4", "<i8", ">i4", "|b1", "|u1", "<c16", "<f2"]),
       shape=st.lists(st.integers(0, 4), max_size=3), fortran=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1))
def test_an_answer_is_read_as_numpy_itself_reads_it(dtype, shape, fortran, seed):
    """The parent reads each .npy header once; what it gets is what np.load gets."""
    from grader.sandbox.protocol import _load_npy

    rng = np.random.default_rng(seed)
    array = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    if fortran:
        array = np.asfortranarray(array)
    data = npy(array)
    expected = np.load(io.BytesIO(data), allow_pickle=False)
    got = _load_npy(data)
    assert type(got) is np.ndarray and got.dtype == expected.dtype
    assert got.shape == expected.shape and got.tobytes(order="A") == expected.tobytes(order="A")
    assert got.flags.f_contiguous == expected.flags.f_contiguous and got.flags.writeable
    for forged in (data + b"x", data[:-1]):           # a byte too many, a byte too few
        try:
            assert _load_npy(forged) is None
        except ValueError:                            # a cut header: the caller's "unreadable"
            pass
