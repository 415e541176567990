"""The dask executor: `bptt grade --executor dask` grades on a dask.distributed cluster.

    client ── jobs (target, student, exercise, and the file's bytes) ──► dask workers
    client ◄── (results.json text, isolation) ─────────────────────────── each worker:
                                                          sandbox Worker → grade_target

The pipeline is the local one (`grader.grading.batch`); only where a job runs changes:

- every dask worker process keeps its own sandbox `Worker`s (`SandboxPlugin`, one per
  task running at once), so student code runs in the same sandbox as on one machine;
- a submission reaches the worker as bytes shipped with the task (`ship="bytes"`, the
  default: no shared file system needed) or is read from a path every worker sees
  (`ship="path"`, for a shared file system and large batches);
- the verdicts are computed on the worker by the trusted grader (`grade_target`), and
  what comes back is the result's Gradescope JSON as a `str`: plain data, checked again
  by the client, never a pickle of anything student code produced;
- at most `window` tasks are in flight (4 per worker thread), so a 100,000-file
  regrade never holds every file in the scheduler's memory at once;
- the client alone writes results files and the gradebook, as each task finishes, so a
  regrade resumes where a killed run stopped (`grade_batch`), and a task whose worker
  dies is run again on another worker by dask's scheduler.

The course file (with its secret) travels to the workers inside each task: use a
`tls://` scheduler address on any network you do not trust (docs/scale.md).
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from grader.authoring.course import CourseConfig
from grader.grading.batch import Target, grade_target, unreadable
from grader.reports.results import SubmissionResult
from grader.sandbox.limits import Limits
from grader.sandbox.worker import Worker

PLUGIN = "bptt-sandbox"
SHIPPING = ("bytes", "path")


class SandboxPlugin(WorkerPlugin):
    """The sandbox workers of one dask worker process: started when a task needs one,
    reused by the next task, stopped when the dask worker closes."""

    name = PLUGIN

    def __init__(self, limits: Limits, isolate: bool):
        self.limits = limits
        self.isolate = isolate

    def setup(self, worker) -> None:
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._started: list[Worker] = []

    def teardown(self, worker) -> None:
        for sandbox in self._started:
            sandbox.close()
        self._started.clear()

    @contextmanager
    def sandbox(self) -> Iterator[Worker]:
        """A sandbox worker of this process no other task is using."""
        try:
            sandbox = self._idle.get_nowait()
        except queue.Empty:
            sandbox = Worker(self.limits, len(self._started), isolate=self.isolate)
            self._started.append(sandbox)
        try:
            yield sandbox
        finally:
            self._idle.put(sandbox)


def grade_on_worker(target: Target, content: bytes | None, config: CourseConfig,
                    student: str | None, exercise: str | None) -> tuple[str, str]:
    """(results.json text, isolation description) of one target, run on a dask worker.

    With `content`, the file is written to a private folder under its own name and
    graded there; the result names the original path, as the local run does.
    """
    plugin = get_worker().plugins[PLUGIN]
    with plugin.sandbox() as sandbox, tempfile.TemporaryDirectory(prefix="bptt-job-") as here:
        local = target
        if content is not None:
            local = replace(target, path=Path(here) / target.path.name)
            local.path.write_bytes(content)
        try:
            result = grade_target(local, config, sandbox, student, exercise)
        except Exception as error:  # noqa: BLE001 — the grader's own fault: still a result
            result = unreadable(local, f"The grader failed on this submission ({error!r}); "
                                       "tell your instructor.")
            result = replace(result, metadata={**result.metadata, "grader_failure": True})
        result = replace(result, metadata={**result.metadata, "path": str(target.path),
                                           "dask_worker": get_worker().address})
        return json.dumps(result.to_gradescope()), sandbox.isolation.description


class DaskExecutor:
    """Grades `grade_batch`'s jobs on a dask cluster (see the module docstring)."""

    def __init__(self, client: Client, *, ship: str = "bytes", window: int | None = None):
        if ship not in SHIPPING:
            raise ValueError(f"ship must be one of {SHIPPING}, got {ship!r}")
        self.client = client
        self.ship = ship
        self.window = window     # tasks in flight (default: 4 per worker thread)

    def grade(self, jobs: list[tuple[Target, str | None, str | None]], config: CourseConfig,
              isolate: bool) -> Iterator[tuple[Target, str, str]]:
        """(target, results.json text, isolation) for every job, in the order they finish."""
        self.client.register_plugin(SandboxPlugin(config.limits, isolate), name=PLUGIN)
        pending = iter(jobs)
        futures: dict = {}
        running = as_completed()

        def submit_next() -> None:
            for target, student, exercise in pending:
                future = self.client.submit(grade_on_worker, target, self._content(target),
                                            config, student, exercise, pure=False)
                futures[future] = target
                running.add(future)
                return

        for _ in range(self.window or 4 * max(1, self._threads())):
            submit_next()
        for future in running:
            target = futures.pop(future)
            submit_next()
            yield (target, *self._checked(target, future))

    def _threads(self) -> int:
        return sum(self.client.nthreads().values())

    def _content(self, target: Target) -> bytes | None:
        if self.ship == "path" or target.problem:
            return None
        try:
            return target.path.read_bytes()
        except OSError:
            return None          # the worker reports it unreadable, as the local run does

    @staticmethod
    def _checked(target: Target, future) -> tuple[str, str]:
        """The task's answer, checked to be a results.json for this target; a grader
        failure (never recorded in the gradebook) when the task failed."""
        try:
            payload, description = future.result()
            if not (isinstance(payload, str) and isinstance(description, str)):
                raise TypeError("a dask task answered something other than text")
            SubmissionResult.from_gradescope(json.loads(payload))
            return payload, description
        except Exception as error:  # noqa: BLE001 — a lost task is a grader failure
            result = unreadable(target, f"The grader failed on this submission on the "
                                        f"cluster ({error!r}); it is graded again next run.")
            result = replace(result, metadata={**result.metadata, "grader_failure": True})
            return json.dumps(result.to_gradescope()), ""


@contextmanager
def dask_executor(scheduler: str | None, workers: int | None = None,
                  ship: str = "bytes") -> Iterator[DaskExecutor]:
    """A `DaskExecutor` on the cluster at `scheduler`, or on a `LocalCluster` of `workers`
    single-threaded processes (default: one per core) started for this run."""
    if scheduler:
        with Client(scheduler) as client:
            yield DaskExecutor(client, ship=ship)
        return
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                      processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield DaskExecutor(client, ship=ship)
