"""Throughput of `bptt grade` against `nbgrader autograde`, on the same notebooks, side by side.

    python bench/grading.py [--students 200] [--runs 3] [--keep DIR]

Builds an nbgrader course with `bptt nbgrader init`, releases the `elman`
exercise with `nbgrader generate_assignment`, and fills the release notebook in
for N students (most correct, about a third with one of the catalogue's bugs),
placed in `submitted/<student>/elman/elman.ipynb`. Then it grades that tree
twice, each as a fresh command-line process so that start-up counts:

    bptt grade submitted/ --no-feedback   sandboxed (bubblewrap where available), all cores
    bptt grade submitted/                 the same, plus the feedback pages and class report
    nbgrader autograde elman              nbgrader's own pipeline, one kernel per notebook

in `--runs` paired rounds, and prints notebooks per second for each, the ratios, and
their median and range with the load average. The headline ratio compares grading
with grading (nbgrader autograde writes no feedback; its `generate_feedback` is a
separate step); the ratio with pages is printed beside it. Both graders' scores
are compared student by student. nbgrader is benchmarked at its best case on
these machines, with the `rfc3987` package installed (see DESIGN.md); the
script says when it is missing. Needs `pip install -e '.[test]'` (nbgrader).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

# This script's folder holds bench/reference.py, which would shadow the reference package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from exercises.instance import make_instance  # noqa: E402
from exercises.registry import get_exercise  # noqa: E402
from grader.authoring.course import CourseConfig  # noqa: E402
from grader.authoring.nbgrader_course import init_course  # noqa: E402
from grader.authoring.solution_cells import stage_solutions  # noqa: E402
from grader.cli.simulated import ELMAN_BUGS, filled_in, with_bug  # noqa: E402

EXERCISE = "elman"


def build_course(root: Path, students: int) -> list[str]:
    init_course(root)
    run(["nbgrader", "generate_assignment", EXERCISE, "--force"], root)
    release = json.loads((root / "release" / EXERCISE / f"{EXERCISE}.ipynb").read_text())
    config = CourseConfig.from_file(root / "bptt-course.toml")
    exercise = get_exercise(EXERCISE)
    ids = [f"s{i:04d}" for i in range(students)]
    for i, student in enumerate(ids):
        variant = make_instance(exercise, student, config.secret, config.salt).variant
        code = stage_solutions(exercise, variant)
        if i % 3 == 1:
            code = with_bug(code, sorted(ELMAN_BUGS)[(i // 3) % len(ELMAN_BUGS)])
        path = root / "submitted" / student / EXERCISE / f"{EXERCISE}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(filled_in(release, student, code), indent=1))
    return ids


def run(command: list[str], cwd: Path) -> float:
    """Run a command to completion; its wall time in seconds."""
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}"
                 f"\n{completed.stderr[-3000:]}")
    return seconds


def nbgrader_scores(root: Path) -> dict[str, float]:
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id GROUP BY submitted_assignment.student_id").fetchall()
    return {student: float(score or 0.0) for student, score in rows}


def paired_round(root: Path, n: int, students: list[str], index: int) -> dict[str, float]:
    """One paired round: `bptt grade --no-feedback` (grading alone, as nbgrader autograde
    grades), `bptt grade` with its feedback pages and class report, then nbgrader; each
    into a fresh results folder, so nothing is skipped as already graded."""
    bare = f"bptt-results-{index}-bare"
    ours = run(["bptt", "grade", "submitted", "--results", bare, "--no-feedback"], root)
    paged = run(["bptt", "grade", "submitted", "--results", f"bptt-results-{index}"], root)
    theirs = run(["nbgrader", "autograde", EXERCISE, "--force"], root)
    our_scores = {}
    for path in (root / bare).glob("*.json"):
        result = json.loads(path.read_text())
        our_scores[result["extra_data"]["student"]] = result["score"]
    their_scores = nbgrader_scores(root)
    disagree = [s for s in students
                if abs(our_scores.get(s, -1) - their_scores.get(s, -2)) > 1e-6]
    print(f"round {index + 1}: bptt grade {ours:6.1f} s ({n / ours:5.1f}/s), with pages "
          f"{paged:6.1f} s, nbgrader {theirs:6.1f} s ({n / theirs:5.2f}/s): "
          f"{theirs / ours:5.1f}x, with pages {theirs / paged:5.1f}x; "
          f"{n - len(disagree)}/{n} scores equal"
          + (f" (differing: {disagree[:10]})" if disagree else ""), flush=True)
    return {"ours": ours, "paged": paged, "theirs": theirs, "disagree": len(disagree)}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="paired rounds (default 3)")
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args()
    if shutil.which("nbgrader") is None or shutil.which("bptt") is None:
        sys.exit("needs the `bptt` and `nbgrader` commands: pip install -e '.[test]'")
    if find_spec("rfc3987") is None:
        print("note: rfc3987 is not installed, so nbgrader pays ~2.5 s more per process "
              "for `import nbformat` (pip install rfc3987 for its best case)")
    root = args.keep or Path(tempfile.mkdtemp(prefix="bptt-bench-"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}: "
          f"building {args.students} submissions of '{EXERCISE}' in {root} …", flush=True)
    students = build_course(root, args.students)
    n = len(students)
    rounds = [paired_round(root, n, students, i) for i in range(args.runs)]
    isolation = (root / "bptt-results-0" / "summary.txt").read_text().rsplit(
        "Isolation: ", 1)[-1]
    print(f"\nisolation (bptt grade): {isolation.strip()}")
    print(f"load average after the rounds: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.runs} paired rounds, median (range):")
    print(f"  bptt grade --no-feedback  {spread([r['ours'] for r in rounds])} s")
    print(f"  bptt grade (with pages)   {spread([r['paged'] for r in rounds])} s")
    print(f"  nbgrader autograde        {spread([r['theirs'] for r in rounds])} s")
    print(f"  throughput ratio          {spread([r['theirs'] / r['ours'] for r in rounds])}x"
          " (goal: >= 100x)")
    print(f"  ratio with pages          "
          f"{spread([r['theirs'] / r['paged'] for r in rounds])}x")
    if any(r["disagree"] for r in rounds):
        print("  WARNING: the two graders disagree on some scores (see the rounds above)")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
