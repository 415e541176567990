"""The wire format between the trusted parent and a sandbox job: what goes in, what comes back.

In: a job folder written by the parent, one file `job.in` (see `write_job`). Out:
`out.bundle` (`JobFiles`), which holds `outputs.jsonl`, one JSON record per call, and
`answers.bin`, the returned arrays' bytes, read here as data only: JSON with every
name and type checked, an array only as {"array": [dtype, shape, byte offset]} with a
plain numeric dtype, its bytes inside answers.bin, checked before any array is made,
never more than MAX_ITEMS values per result or MAX_RESULT_BYTES per array, and never
more than a `Budget` of bytes, arrays and records per submission. Every file is
opened as a job could have left it: no link followed, never blocking, regular with
one link, size-capped (`isolation.read_untrusted`), and what is checked is what is
loaded (one read). Nothing is unpickled and no method of a student's object is ever
called here; anything malformed becomes a `ForeignValue`.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.checking.verdicts import ForeignValue, Outcome
from grader.sandbox.isolation import read_untrusted

MAX_RESULT_BYTES = 16 * 1024 * 1024


@dataclass
class Budget:
    """What the parent decodes for one submission at most, over all its jobs: a record
    naming one 16 MB array 64 times made it load 4.9 GB where 44 MB is normal."""

    bytes: int = 64 * 1024 * 1024
    arrays: int = 2048
    records: int = 1024
    spent: str | None = None          # what ran out first, for the feedback

    def take(self, what: str, amount: int = 1) -> bool:
        if getattr(self, what) < amount:
            self.spent = self.spent or what
            return False
        setattr(self, what, getattr(self, what) - amount)
        return True

    def note(self) -> str | None:
        if self.spent is None:
            return None
        limit = {"bytes": "64 MB", "arrays": "2048 arrays", "records": "1024 records"}
        return ("The grader stopped reading this submission's results: they went over its "
                f"budget of {limit[self.spent]} per submission; what was not read counts "
                "as wrong.")


@dataclass(frozen=True)
class Call:
    """One planned call: the stage's function, which probe, its arguments, and the
    trusted answers of its callees (`grader.grading.callees`)."""

    stage: str
    probe: int
    kwargs: dict[str, Any]
    repeat: bool = False
    callees: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class JobReport:
    """What one job did, besides its outcomes."""

    status: str                              # ok, timeout, crashed, worker-error
    wall_seconds: float = float("inf")       # the wall limit the job ran under
    seconds: float = 0.0
    stdout: str = ""
    cell_errors: list[str] = field(default_factory=list)
    detail: str | None = None
    budget_note: str | None = None           # Budget.note(): the parent stopped decoding


ALIGN = 16          # each buffer of job.in starts on a multiple of this many bytes


class PackedArrays:
    """The arrays of a job, packed into one flat buffer per dtype, the body of job.in.

    A job's callee tables hold hundreds of small arrays (every step's arguments and
    answers); one .npz member each cost more than grading, and opening an .npz made
    each job import zipfile afresh (16 ms). Packed, the i-th distinct array is
    `arrays[i]` = [buffer, element offset, shape], and a value names it by the bare int
    i: an array equal to one already packed (the same weights passed at every step) is
    stored, and made into an array in the job, once.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, list[np.ndarray]] = {}
        self.sizes: dict[str, int] = {}
        self.arrays: list[list] = []
        self.seen: dict[tuple, int] = {}

    def add(self, array: np.ndarray) -> int:
        key = (array.dtype.str, array.shape, array.tobytes())   # C order, equal bytes
        found = self.seen.get(key)
        if found is None:
            name = key[0].lstrip("<>=|")               # f8, i8, b1: one buffer per dtype
            offset = self.sizes.get(name, 0)
            self.buffers.setdefault(name, []).append(array.ravel())   # C order too
            self.sizes[name] = offset + array.size
            found = self.seen[key] = len(self.arrays)
            self.arrays.append([name, offset, list(array.shape)])
        return found

    def layout(self) -> tuple[list[list], list[bytes]]:
        """([[dtype name, byte offset, count], …], the bytes): each buffer in native
        byte order, starting at a multiple of ALIGN bytes of the body."""
        entries, parts, offset = [], [], 0
        for name, arrays in self.buffers.items():
            data = np.concatenate(arrays).astype(np.dtype(name), copy=False).tobytes()
            padding = -len(data) % ALIGN
            entries.append([name, offset, self.sizes[name]])
            parts += [data, b"\0" * padding]
            offset += len(data) + padding
        return entries, parts


def _encode(value, arrays: PackedArrays) -> int | dict:
    """A probe argument as JSON, its arrays packed into `arrays` and named by their index:
    an int stands for an array, and nothing else is a bare int."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {value.dtype} to the sandbox")
        return arrays.add(value)
    if isinstance(value, dict):
        return {"dict": {key: _encode(item, arrays) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays) for item in value]}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return {"value": value}
    if isinstance(value, np.generic):
        return {"value": value.item()}
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def write_job(folder: Path, given: str, cells: list[str], calls: list[Call]) -> None:
    """The job folder the zygote reads: one file, job.in, a first line of JSON (the
    plan: the calls, each callee's calls as [arguments, answer]; every distinct array as
    [buffer, element offset, shape]; where each dtype's buffer lies in the body), then
    the arrays packed (numeric only, read back with numpy.frombuffer, never unpickled)."""
    arrays = PackedArrays()
    plan = {"given": given, "cells": cells, "calls": [
        {"stage": call.stage, "probe": call.probe, "repeat": call.repeat,
         "kwargs": {key: _encode(value, arrays) for key, value in call.kwargs.items()},
         "callees": {name: {"inputs": spec["inputs"], "outputs": spec["outputs"],
                            "calls": [[_encode(kwargs, arrays), _encode(answer, arrays)]
                                      for kwargs, answer in spec["calls"]]}
                     for name, spec in call.callees.items()}}
        for call in calls]}
    plan["arrays"] = arrays.arrays
    plan["buffers"], body = arrays.layout()
    with open(folder / "job.in", "wb") as handle:
        handle.write(json.dumps(plan).encode() + b"\n")
        handle.writelines(body)


# The dtypes an answer may have: what the job writes for numbers (numpy's bool, ints,
# floats and complex, either byte order), never objects, strings, records or dates.
ANSWER_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f(2|4|8|16)|c(8|16|32))$")
MAX_DIMENSIONS = 32


MAX_BUNDLE_BYTES = 64 * 1024 * 1024 + 1024 * 1024     # the zygote's cap, and its index
MAX_BUNDLE_FILES = 4096


class JobFiles:
    """The files the zygote copied out of a job, split from its one out.bundle, which is
    read as untrusted: the index is checked entry by entry, and a file is what it says
    it is only if the bytes are there. Nothing here trusts a name or a length."""

    def __init__(self, folder: Path):
        self.files: dict[str, bytes] = {}
        data = read_untrusted_file(folder, "out.bundle", MAX_BUNDLE_BYTES) or b""
        header, _, body = data.partition(b"\n")
        try:
            index = json.loads(header)
        except (ValueError, RecursionError):
            return
        offset = 0
        for entry in index[:MAX_BUNDLE_FILES] if isinstance(index, list) else ():
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                    and type(entry[1]) is int and 0 <= entry[1] <= len(body) - offset):
                return
            self.files.setdefault(entry[0], body[offset:offset + entry[1]])
            offset += entry[1]

    def read(self, name: str, cap: int) -> bytes | None:
        """The file's bytes, or None when it is not there or longer than `cap`."""
        data = self.files.get(name)
        return None if data is None or len(data) > cap else data


def _decode_value(encoded: Any, files: JobFiles, budget: Budget | None = None) -> Any:
    """One value as the worker encoded it; anything malformed becomes a ForeignValue."""
    budget = budget if budget is not None else Budget()
    if not isinstance(encoded, dict):
        return ForeignValue("malformed result")
    if encoded.get("none") is True:
        return None
    if "type" in encoded:
        return ForeignValue(str(encoded["type"])[:200])
    where = _answer_place(encoded.get("array"))
    if where is None:
        return ForeignValue("malformed result")
    if not budget.take("arrays"):
        return ForeignValue("not read: over the submission's budget")
    dtype, shape, offset = where
    count = math.prod(shape)
    size = count * dtype.itemsize
    if size > MAX_RESULT_BYTES:
        return ForeignValue("unreadable array")
    if size > budget.bytes:
        budget.spent = budget.spent or "bytes"
        return ForeignValue("unreadable array")
    answers = files.read("answers.bin", MAX_BUNDLE_BYTES) or b""
    if offset + size > len(answers):
        return ForeignValue("unreadable array")
    budget.take("bytes", size)
    if count == 0:
        return np.empty(shape, dtype)
    return np.frombuffer(answers, dtype, count, offset).reshape(shape).copy()


def _answer_place(where: Any) -> tuple[np.dtype, tuple[int, ...], int] | None:
    """(dtype, shape, byte offset) of a record's [dtype, shape, offset], or None when it
    is anything else: a dtype that is not a plain number's, a shape that is not a short
    list of non-negative ints, an offset that is not a non-negative int."""
    if not (isinstance(where, list) and len(where) == 3):
        return None
    name, shape, offset = where
    if not (isinstance(name, str) and ANSWER_DTYPE.match(name)
            and isinstance(shape, list) and len(shape) <= MAX_DIMENSIONS
            and all(type(n) is int and n >= 0 for n in shape)
            and type(offset) is int and offset >= 0):
        return None
    return np.dtype(name), tuple(shape), offset


MAX_ITEMS = 64        # as in the worker: more values than any stage returns


def _decode_result(encoded: Any, files: JobFiles, budget: Budget | None = None) -> Any:
    """A return value: a tuple or dict of values, or one value.

    A forged record with more than MAX_ITEMS values is refused before any is
    loaded: 100,000 entries naming one 16 MB array would each have been read.
    """
    items = encoded.get("tuple", encoded.get("dict")) if isinstance(encoded, dict) else None
    if isinstance(items, (list, dict)) and len(items) > MAX_ITEMS:
        return ForeignValue("malformed result")
    if isinstance(encoded, dict) and isinstance(encoded.get("tuple"), list):
        return tuple(_decode_value(item, files, budget) for item in encoded["tuple"])
    if isinstance(encoded, dict) and isinstance(encoded.get("dict"), dict):
        return {str(key): _decode_value(item, files, budget)
                for key, item in encoded["dict"].items()}
    return _decode_value(encoded, files, budget)


def read_untrusted_file(folder: Path, name: str, cap: int) -> bytes | None:
    """At most `cap` bytes of a file of the job folder, as untrusted (None: refused)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        got = read_untrusted(fd, name, cap)
    finally:
        os.close(fd)
    return None if got is None else got[0]


def read_records(files: JobFiles) -> tuple[list[str] | None, list[dict]]:
    """The cell errors and the per-call records the worker wrote, malformed lines dropped.

    The cell errors are None when the job never got past the student's cells.
    """
    got = files.read("outputs.jsonl", MAX_RESULT_BYTES)
    if got is None:
        return None, []
    data = got
    cell_errors, records = None, []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines()):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):   # RecursionError: "[[[[…" nested too deep
            continue
        if not isinstance(record, dict):
            continue
        if number == 0 and isinstance(record.get("cell_errors"), list):
            cell_errors = [str(e)[:2000] for e in record["cell_errors"][:50]]
        elif isinstance(record.get("stage"), str) and isinstance(record.get("probe"), int):
            records.append(record)
    return cell_errors, records


def by_stage(calls: list[Call], per_call: list[Outcome | None]) -> dict[str, list[Outcome]]:
    """Per-call outcomes grouped by stage; a stage whose function is missing (None) is left out."""
    outcomes: dict[str, list[Outcome]] = {}
    missing = {call.stage for call, outcome in zip(calls, per_call, strict=True)
               if outcome is None}
    for call, outcome in zip(calls, per_call, strict=True):
        if call.stage not in missing:
            outcomes.setdefault(call.stage, []).append(outcome)
    return outcomes


def call_outcomes(folder: Path, calls: list[Call], report: JobReport,
                  stage_outputs, budget: Budget | None = None
                  ) -> tuple[list[Outcome | None], int | None]:
    """One outcome per call (None: the function is not defined), and the index of the
    first call that never reported when the student's cells had run to the end (None
    when every call reported, or when the job never got past the cells). `budget`: what
    is left to decode of the submission's (spent here)."""
    budget = budget if budget is not None else Budget()
    files = JobFiles(folder)
    cell_errors, records = read_records(files)
    if len(records) > budget.records:
        budget.spent = budget.spent or "records"
    records = records[:max(budget.records, 0)]
    budget.records -= len(records)
    report.cell_errors = cell_errors or []
    by_call = {(r["stage"], r["probe"]): r for r in records}
    per_call: list[Outcome | None] = []
    stalled = None
    for index, call in enumerate(calls):
        record = by_call.get((call.stage, call.probe))
        if record is None:
            if stalled is None and cell_errors is not None:
                stalled = index
            why = {"timeout": "the time limit was reached before this call ended "
                              "(an infinite loop?)",
                   "crashed": f"the code crashed before this call ended ({report.detail})",
                   # The job's process exited cleanly without reporting this call: the
                   # student's code ended it (os._exit(0)) at import or in an earlier call.
                   "ok": "the code ended its own process (os._exit?) before this call "
                         "returned"}
            outcome = Outcome(error=why.get(report.status, "the call did not run"))
        elif record.get("missing"):
            per_call.append(None)
            continue
        elif "error" in record:
            outcome = Outcome(error=str(record["error"])[:2000])
        else:
            try:
                outputs = stage_outputs(call.stage, _decode_result(record.get("result"), files,
                                                                   budget))
                again = (stage_outputs(call.stage, _decode_result(record["repeat_result"], files,
                                                                  budget))
                         if call.repeat and "repeat_result" in record else None)
            except ValueError as error:
                outcome = Outcome(error=f"ValueError: {error}")
            else:
                # Only argument names count: anything else (a list, a dict) in a
                # forged record is dropped, not hashed.
                mutated = record.get("mutated", [])
                mutated = tuple(m for m in mutated if isinstance(m, str) and m in call.kwargs) \
                    if isinstance(mutated, list) else ()
                outcome = Outcome(outputs=outputs, repeat_outputs=again, mutated=mutated)
        per_call.append(outcome)
    return per_call, stalled
