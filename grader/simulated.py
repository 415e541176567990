"""Simulated students: release notebooks filled in with code, for the demo, benchmarks and tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from grader.notebooks import notebook_cells


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


def filled_in(release: dict, student: str, code: Mapping[str, str]) -> dict:
    """The release with the student's id set and their code in the stages' solution cells.

    A stage missing from `code` keeps its stub, as an unfinished notebook would.
    """
    notebook = copy.deepcopy(release)
    for cell in notebook["cells"]:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if 'STUDENT_ID = ""' in source and not nbgrader.get("locked"):
            cell["source"] = source.replace('STUDENT_ID = ""', f"STUDENT_ID = {student!r}")
        elif nbgrader.get("solution") and nbgrader.get("grade_id") in code:
            cell["source"] = code[nbgrader["grade_id"]]
    return notebook
