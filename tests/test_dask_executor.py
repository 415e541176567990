"""`bptt grade --executor dask`: the same grades as the local executor, on a cluster.

A dask `LocalCluster` of two single-threaded worker processes (the machine has two
cores) grades a class of 200 small notebooks, solved and with catalogue mistakes,
exactly as the local pool does; a worker killed half-way through loses no
submission, the run finishes on the worker left (a cluster started with `dask scheduler`
and `dask worker --no-nanny`, so nothing restarts it), and a rerun grades nothing again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from ci_notebooks import submission  # noqa: E402
from conftest import report  # noqa: E402

from grader.authoring.course import CourseConfig  # noqa: E402
from grader.grading.batch import Target, grade_batch  # noqa: E402
from grader.grading.distributed import DaskExecutor  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = CourseConfig(secret="a secret for the dask executor tests")
VARYING = ("run_seconds", "dask_worker")       # where and how long, not what


def write_class(folder: Path, size: int) -> list[Target]:
    """`size` students, one notebook each: every third solved, the rest with a mistake."""
    folder.mkdir(parents=True, exist_ok=True)
    targets = []
    for number in range(size):
        student = f"student-{number:03d}"
        path = folder / f"elman-{student}.ipynb"
        kind = "solved" if number % 3 == 0 else "buggy"
        path.write_text(json.dumps(submission(kind, student, CONFIG)))
        targets.append(Target(path, student, "elman"))
    return targets


def grades(summary) -> dict[str, dict]:
    """Each result as its Gradescope JSON, less the figures that say where and how long."""
    graded = {}
    for result in summary.results:
        data = json.loads(json.dumps(result.to_gradescope()))
        data.pop("execution_time", None)
        for key in VARYING:
            data["extra_data"]["metadata"].pop(key, None)
        graded[result.metadata["path"]] = data
    return graded


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield cluster, client


def test_a_class_graded_on_dask_gets_exactly_the_local_grades(cluster, tmp_path):
    _, client = cluster
    targets = write_class(tmp_path / "class", 200)
    started = time.perf_counter()
    local = grade_batch(targets, CONFIG, tmp_path / "local", workers=2)
    local_seconds = time.perf_counter() - started
    started = time.perf_counter()
    remote = grade_batch(targets, CONFIG, tmp_path / "dask", executor=DaskExecutor(client))
    dask_seconds = time.perf_counter() - started
    report("dask: 200 submissions", f"local pool {local_seconds:.1f} s, LocalCluster of 2 "
                                    f"workers {dask_seconds:.1f} s")
    assert remote.graded == local.graded == 200
    assert grades(remote) == grades(local)
    scores = [r.score for r in local.results]
    assert min(scores) < max(scores)               # the class has partial grades
    assert {r.metadata["dask_worker"] for r in remote.results} == set(
        client.scheduler_info()["workers"])        # both workers graded
    names = sorted(p.name for p in (tmp_path / "dask").glob("elman-*.json"))
    assert names == sorted(p.name for p in (tmp_path / "local").glob("elman-*.json"))


@pytest.fixture
def separate_cluster(tmp_path):
    """A scheduler and two workers started as `dask scheduler` and `dask worker
    --no-nanny` are (docs/scale.md): a killed worker stays dead."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    started = [subprocess.Popen([*dask, "scheduler", "--scheduler-file", str(scheduler_file),
                                 "--port", "0", "--dashboard-address", ":0"],
                                env=environment, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            started.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--no-nanny",
                 "--nthreads", "1", "--no-dashboard"], env=environment,
                stderr=subprocess.DEVNULL))
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield client, {process.pid: process for process in started[1:]}
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def test_a_worker_killed_half_way_loses_nothing(separate_cluster, tmp_path):
    client, workers = separate_cluster
    targets = write_class(tmp_path / "class", 40)
    reference = grades(grade_batch(targets, CONFIG, tmp_path / "local", workers=2))
    victim = next(iter(client.run(os.getpid).values()))
    assert victim in workers
    killed = []

    def kill_half_way(done: int, total: int) -> None:
        if done == total // 2 and not killed:
            workers[victim].send_signal(signal.SIGKILL)
            killed.append(done)

    summary = grade_batch(targets, CONFIG, tmp_path / "dask", executor=DaskExecutor(client),
                          progress=kill_half_way)
    assert killed == [20]
    assert workers[victim].wait(timeout=10) == -signal.SIGKILL
    assert len(client.scheduler_info()["workers"]) == 1
    assert summary.graded == 40
    assert not [r for r in summary.results if r.metadata.get("grader_failure")]
    assert grades(summary) == reference
    rerun = grade_batch(targets, CONFIG, tmp_path / "dask", executor=DaskExecutor(client))
    assert (rerun.graded, rerun.skipped) == (0, 40)
    assert grades(rerun) == reference


def test_bptt_grade_with_the_dask_executor_writes_what_the_local_run_writes(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    (tmp_path / "bptt-course.toml").write_text(f'secret = "{CONFIG.secret}"\n')
    write_class(tmp_path / "class", 3)
    (tmp_path / "roster.csv").write_text("student\n" + "".join(
        f"student-{n:03d}\n" for n in range(3)))
    common = ["grade", str(tmp_path / "class"), "--roster", str(tmp_path / "roster.csv"),
              "--course", str(tmp_path / "bptt-course.toml")]
    runner = CliRunner()
    local = runner.invoke(main, [*common, "--results", str(tmp_path / "local")])
    remote = runner.invoke(main, [*common, "--results", str(tmp_path / "dask"),
                                  "--executor", "dask", "--workers", "1"])
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert (tmp_path / "local/class.csv").read_text() == (tmp_path / "dask/class.csv").read_text()
    wrong = runner.invoke(main, [*common, "--scheduler", "tcp://127.0.0.1:1"])
    assert wrong.exit_code == 2 and "--executor dask" in wrong.output
