"""Simulated students: release notebooks filled in with code, for the demo, benchmarks and tests."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

from grader.authoring.notebooks import notebook_cells

# -- the elman exercise, as different students write it ------------------------------------

EINSUM_STEP = '''def rnn_step_backward(ds, x_t, s_prev, s_t, U, W):
    da = ds * phi_prime(s_t)
    return (np.einsum("nd,id->ni", da, U), np.einsum("nd,jd->nj", da, W),
            np.einsum("ni,nd->id", x_t, da), np.einsum("nj,nd->jd", s_prev, da),
            np.einsum("nd->d", da))'''

LOOPED_STEP = '''def rnn_step_backward(ds, x_t, s_prev, s_t, U, W):
    N = ds.shape[0]
    dx, ds_prev = np.zeros((N, U.shape[0])), np.zeros((N, W.shape[0]))
    dU, dW, db = np.zeros(U.shape), np.zeros(W.shape), np.zeros(W.shape[1])
    for n in range(N):
        da = ds[n] * phi_prime(s_t[n])
        dx[n], ds_prev[n] = U @ da, W @ da
        dU += np.outer(x_t[n], da)
        dW += np.outer(s_prev[n], da)
        db += da
    return dx, ds_prev, dU, dW, db'''

VECTORISED_BACKWARD = '''def rnn_backward(ds_out, x, s0, s, U, W):
    N, T, _ = x.shape
    deltas = [None] * T
    ds_next = np.zeros_like(s0)
    for t in range(T - 1, -1, -1):
        deltas[t] = (ds_out[:, t] + ds_next) * phi_prime(s[:, t])
        ds_next = deltas[t] @ W.T
    da = np.stack(deltas, axis=1)
    s_before = np.concatenate([s0[:, None], s[:, :-1]], axis=1)
    return (da @ U.T, ds_next, np.einsum("nti,ntd->id", x, da),
            np.einsum("ntj,ntd->jd", s_before, da), da.sum(axis=(0, 1)))'''

ELMAN_STYLES = {   # correct code written another way: (stage, source)
    "einsum": ("rnn_step_backward", EINSUM_STEP),
    "loops": ("rnn_step_backward", LOOPED_STEP),
    "vectorised": ("rnn_backward", VECTORISED_BACKWARD),
}

ELMAN_BUGS = {     # one catalogue mistake each: (stage, text of the solution, replacement)
    "weight-not-transposed": ("rnn_step_backward", "da @ W.T", "da @ W"),
    "off-by-one-previous-state": ("rnn_step_backward", "s_prev.T @ da", "s_t.T @ da"),
    "bias-not-summed": ("rnn_step_backward", "da.sum(axis=0)", "da.mean(axis=0)"),
    "recurrent-term-dropped": ("rnn_backward", "ds_out[:, t] + ds_next", "ds_out[:, t]"),
    "initial-state-ignored": ("rnn_backward", "else s0", "else np.zeros_like(s0)"),
    "update-wrong-sign": ("sgd_update", "- lr *", "+ lr *"),
}


def edited(source: str, old: str, new: str) -> str:
    """`source` with `old` replaced by `new`, insisting that `old` is there: a simulated
    student's edit must not silently turn into the correct solution."""
    if old not in source:
        raise ValueError(f"the solution no longer contains {old!r}")
    return source.replace(old, new)


def with_bug(code: Mapping[str, str], misconception: str) -> dict[str, str]:
    """The solution functions with one of ELMAN_BUGS made."""
    stage, old, new = ELMAN_BUGS[misconception]
    return {**code, stage: edited(code[stage], old, new)}


def in_style(code: Mapping[str, str], style: str) -> dict[str, str]:
    """The solution functions with one function written in another, correct, style."""
    stage, source = ELMAN_STYLES[style]
    return {**code, stage: source}


# -- notebooks ----------------------------------------------------------------------------


def release_json(exercise, student: str | None, salt: str) -> dict:
    """The release notebook as plain JSON (no nbformat), per student or shared (student None)."""
    cells = []
    for cell_type, source, metadata in notebook_cells(exercise, "release", student, salt):
        metadata = dict(metadata)
        cell = {"cell_type": cell_type, "id": metadata.pop("id"), "metadata": metadata,
                "source": source}
        if cell_type == "code":
            cell.update(outputs=[], execution_count=None)
        cells.append(cell)
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"bptt": {"exercise": exercise.id, "student": student, "salt": salt,
                                  "kind": "release"}}}


UNSET_ID = re.compile(r"^STUDENT_ID = (''|\"\")$", re.MULTILINE)   # the shared release's empty id


def filled_in(release: dict, student: str, code: Mapping[str, str]) -> dict:
    """The release with the student's id set and their code in the stages' solution cells.

    A stage missing from `code` keeps its stub, as an unfinished notebook would.
    """
    notebook = copy.deepcopy(release)
    for cell in notebook["cells"]:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if UNSET_ID.search(source) and not nbgrader.get("locked"):
            cell["source"] = UNSET_ID.sub(f"STUDENT_ID = {student!r}", source)
        elif nbgrader.get("solution") and nbgrader.get("grade_id") in code:
            cell["source"] = code[nbgrader["grade_id"]]
    return notebook
