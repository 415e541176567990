"""Throughput of the dask executor against the local one, on the same machine and notebooks.

    python bench/dask.py [--students 120] [--workers 2] [--ship bytes|path]

Fills the shared `elman` release in for N students (two thirds with one of the
catalogue's mistakes), then grades the class twice with `grade_batch`, each into a
fresh results folder so nothing is skipped:

    local    the fork pool, one sandbox per worker process (`--workers`)
    dask     a LocalCluster of `--workers` single-threaded processes (its start-up
             is timed apart: a real cluster is started once for many runs)

and prints submissions per second for both, their ratio (dask / local), and dask's
overhead per submission, (t_dask - t_local) / N, in milliseconds. The grades of
the two runs are compared submission by submission. Needs `pip install -e '.[dask]'`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# This script's folder holds bench/reference.py, which would shadow the reference package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from distributed import Client, LocalCluster  # noqa: E402

from exercises.instance import make_instance  # noqa: E402
from exercises.registry import get_exercise  # noqa: E402
from grader.authoring.course import CourseConfig  # noqa: E402
from grader.authoring.notebooks import notebook  # noqa: E402
from grader.authoring.solution_cells import stage_solutions  # noqa: E402
from grader.cli.simulated import ELMAN_BUGS, filled_in, with_bug  # noqa: E402
from grader.grading.batch import Target, grade_batch  # noqa: E402
from grader.grading.distributed import DaskExecutor  # noqa: E402

EXERCISE = "elman"
CONFIG = CourseConfig(secret="the dask benchmark's course secret")


def write_class(folder: Path, students: int) -> list[Target]:
    exercise = get_exercise(EXERCISE)
    release = json.loads(json.dumps(notebook(exercise, "release", None, CONFIG.salt)))
    targets = []
    for i in range(students):
        student = f"s{i:05d}"
        code = stage_solutions(exercise, make_instance(exercise, student, CONFIG.secret,
                                                       CONFIG.salt).variant)
        if i % 3:
            code = with_bug(code, sorted(ELMAN_BUGS)[i % len(ELMAN_BUGS)])
        path = folder / f"{EXERCISE}-{student}.ipynb"
        path.write_text(json.dumps(filled_in(release, student, code)))
        targets.append(Target(path, student, EXERCISE))
    return targets


def scores(summary) -> dict[str, float]:
    return {r.metadata["path"]: r.score for r in summary.results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ship", choices=("bytes", "path"), default="bytes")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bptt-bench-dask-") as folder:
        folder = Path(folder)
        (folder / "class").mkdir()
        targets = write_class(folder / "class", options.students)
        started = time.perf_counter()
        local = grade_batch(targets, CONFIG, folder / "local", workers=options.workers)
        t_local = time.perf_counter() - started

        started = time.perf_counter()
        with LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            t_start = time.perf_counter() - started
            started = time.perf_counter()
            remote = grade_batch(targets, CONFIG, folder / "dask",
                                 executor=DaskExecutor(client, ship=options.ship))
            t_dask = time.perf_counter() - started
    n = options.students
    same = scores(local) == scores(remote)
    print(f"{n} submissions, {options.workers} workers, shipped as {options.ship}")
    print(f"local pool   {t_local:7.2f} s   {n / t_local:7.1f} submissions/s")
    print(f"dask         {t_dask:7.2f} s   {n / t_dask:7.1f} submissions/s   "
          f"(cluster start-up {t_start:.1f} s, not counted)")
    print(f"ratio dask/local throughput: {t_local / t_dask:.2f}x")
    print(f"dask overhead per submission: {1000 * (t_dask - t_local) / n:+.1f} ms")
    print(f"per worker core: local {n / t_local / options.workers:.1f}/s, "
          f"dask {n / t_dask / options.workers:.1f}/s")
    print("grades identical" if same else "GRADES DIFFER")


if __name__ == "__main__":
    main()
