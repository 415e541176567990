"""A class's notebooks written on every core: one per student, the bytes as one at a time.

`bptt generate --roster` wrote 200 notebooks on one core at 160 ms each, most of it
verifying the self-checks against the solution. Here the students are shared out
among worker processes, forked once the first notebook is written here (so the
exercise and the compiled templates are loaded once); each notebook is still
`notebooks.notebook(...)` for that student, so the files are the same, byte for byte,
whatever the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path

from exercises.registry import get_exercise
from grader.authoring.notebooks import notebook, write_notebook


def _write(job: tuple[str, str, str | None, str, str]) -> str:
    exercise_id, kind, student, salt, path = job
    return str(write_notebook(notebook(get_exercise(exercise_id), kind, student, salt), path))


def write_class_notebooks(exercise_id: str, kind: str, students: list[str | None], salt: str,
                          paths: list[Path], workers: int | None = None) -> Iterator[str]:
    """Write `kind` of the exercise for each student to its path, in `workers` processes
    (default: one per core); yields each path written, in the students' order."""
    jobs = [(exercise_id, kind, student, salt, str(path))
            for student, path in zip(students, paths, strict=True)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) - 1))
    if workers == 1:
        yield from map(_write, jobs)
        return
    yield _write(jobs[0])        # here first: the workers fork with its templates compiled
    with get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_write, jobs[1:], chunksize=max(1, len(jobs) // (8 * workers)))
