"""One cold submission, the CI and Gradescope case: `bptt grade` of one notebook, from nothing.

    python bench/cold.py [--runs 5]

Builds an nbgrader course of one elman submission (as `bench/grading.py` does), then
times, in paired rounds, each as a fresh process so that start-up counts:

    python -c "import numpy"                 the floor: any numpy grader pays this
    bptt grade <the notebook>                 sandboxed (bubblewrap where available), with
                                              its feedback pages (matplotlib draws them)
    bptt grade <a notebook with a bug>        the same student with the catalogue's
                                              recurrent-term-dropped bug: a page with the
                                              most drawings (an error map, the corrected
                                              equation, a loss curve)
    bptt grade <the notebook> --no-feedback   the grade alone (results.json, the CI case)
    nbgrader autograde elman --student s0000  nbgrader's own pipeline, one kernel

Every round grades into a fresh results folder, so nothing is skipped as already
graded. Before the rounds, the grader's packages are compiled to bytecode
(`compileall`), as `pip install` does for a wheel: an environment with
PYTHONDONTWRITEBYTECODE set would otherwise recompile the sources on every start.
Prints the median and range of each, the ratios, the goal (≤ 0.5 s, or ≤ 2.5× the
bare numpy import) and the load average. Needs `pip install -e '.[test]'` (nbgrader).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)   # bench/reference.py would shadow the reference package

from bench.grading import EXERCISE, build_course  # noqa: E402
from exercises.instance import make_instance  # noqa: E402
from exercises.registry import get_exercise  # noqa: E402
from grader.authoring.course import CourseConfig  # noqa: E402
from grader.authoring.solution_cells import stage_solutions  # noqa: E402
from grader.cli.simulated import filled_in, with_bug  # noqa: E402

BUG = "recurrent-term-dropped"

BPTT = [sys.executable, "-c", "from grader.cli import main; main()"]


def timed(command: list[str], cwd: Path) -> float:
    """Wall seconds of one run of the command, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def summary(name: str, seconds: list[float], floor: list[float] | None = None) -> str:
    text = (f"{name:<28} median {statistics.median(seconds):6.3f} s  "
            f"range {min(seconds):6.3f}-{max(seconds):6.3f} s")
    if floor is not None:
        ratios = [s / f for s, f in zip(seconds, floor, strict=True)]
        text += (f"  {statistics.median(ratios):5.2f}x the numpy import "
                 f"({min(ratios):.2f}-{max(ratios):.2f}x)")
    return text


def with_a_bug(root: Path, student: str) -> Path:
    """root/buggy/<exercise>.ipynb: the student's notebook with the bug BUG in it."""
    config = CourseConfig.from_file(root / "bptt-course.toml")
    exercise = get_exercise(EXERCISE)
    code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                   config.salt).variant)
    release = json.loads((root / "release" / EXERCISE / f"{EXERCISE}.ipynb").read_text())
    path = root / "buggy" / f"{EXERCISE}.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(filled_in(release, student, with_bug(code, BUG)), indent=1))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="paired rounds (at least 3)")
    args = parser.parse_args()
    if shutil.which("nbgrader") is None:
        sys.exit("needs the `nbgrader` command: pip install -e '.[test]'")
    for package in ("grader", "exercises", "reference", "templates"):
        compileall.compile_dir(REPO / package, quiet=1)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    os.environ.clear()
    os.environ.update(environment)
    root = Path(tempfile.mkdtemp(prefix="bptt-cold-"))
    try:
        [student] = build_course(root, 1)
        notebook = root / "submitted" / student / EXERCISE / f"{EXERCISE}.ipynb"
        buggy = with_a_bug(root, student)
        commands = {
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            "bptt grade (one notebook)": [*BPTT, "grade", str(notebook), "--results", "RESULTS"],
            "bptt grade (with a bug)": [*BPTT, "grade", str(buggy), "--results", "RESULTS",
                                        "--student", student, "--exercise", EXERCISE],
            "bptt grade --no-feedback": [*BPTT, "grade", str(notebook), "--results",
                                         "RESULTS", "--no-feedback"],
            "nbgrader autograde (one)": ["nbgrader", "autograde", EXERCISE, "--student", student,
                                         "--force"],
        }
        for command in commands.values():          # warm the page cache and the bytecode
            timed([root / "warm" if part == "RESULTS" else part for part in command], root)
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for run in range(max(args.runs, 3)):
            for name, command in commands.items():
                results = root / f"results-{run}-{len(seconds[name])}-{name[:4]}"
                seconds[name].append(timed(
                    [str(results) if part == "RESULTS" else part for part in command], root))
        load = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = seconds["python -c 'import numpy'"]
    theirs = seconds["nbgrader autograde (one)"]
    print(f"one cold submission, {len(floor)} paired rounds, {time.strftime('%Y-%m-%d')}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, times in seconds.items():
        print(summary(name, times, None if times is floor else floor))
    for name in ("bptt grade (one notebook)", "bptt grade (with a bug)",
                 "bptt grade --no-feedback"):
        ours = seconds[name]
        ratio = [t / o for o, t in zip(ours, theirs, strict=True)]
        met = statistics.median(ours) <= 0.5 or \
            statistics.median(ours) <= 2.5 * statistics.median(floor)
        print(f"{name}: nbgrader / bptt median {statistics.median(ratio):.1f}x "
              f"({min(ratio):.1f}-{max(ratio):.1f}x); goal (≤ 0.5 s, or ≤ 2.5x the numpy "
              f"import) {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
