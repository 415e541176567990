"""Throughput of `bptt grade` against `nbgrader autograde`, on the same notebooks, side by side.

    python bench/grading.py [--students 200] [--keep DIR]

Builds an nbgrader course with `bptt nbgrader init`, releases the `elman`
exercise with `nbgrader generate_assignment`, and fills the release notebook in
for N students (most correct, about a third with one of the catalogue's bugs),
placed in `submitted/<student>/elman/elman.ipynb`. Then it grades that tree
twice, each as a fresh command-line process so that start-up counts:

    bptt grade submitted/          sandboxed (bubblewrap where available), all cores
    nbgrader autograde elman       nbgrader's own pipeline, one kernel per notebook

and prints notebooks per second for both and their ratio. Both graders' scores
are compared student by student. nbgrader is benchmarked at its best case on
these machines, with the `rfc3987` package installed (see DESIGN.md); the
script says when it is missing. Needs `pip install -e '.[test]'` (nbgrader).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args()
    if shutil.which("nbgrader") is None or shutil.which("bptt") is None:
        sys.exit("needs the `bptt` and `nbgrader` commands: pip install -e '.[test]'")
    if find_spec("rfc3987") is None:
        print("note: rfc3987 is not installed, so nbgrader pays ~2.5 s more per process "
              "for `import nbformat` (pip install rfc3987 for its best case)")
    root = args.keep or Path(tempfile.mkdtemp(prefix="bptt-bench-"))
    print(f"building {args.students} submissions of '{EXERCISE}' in {root} …")
    students = build_course(root, args.students)

    ours = run(["bptt", "grade", "submitted", "--results", "bptt-results"], root)
    isolation = (root / "bptt-results" / "summary.txt").read_text().rsplit("Isolation: ", 1)[-1]
    theirs = run(["nbgrader", "autograde", EXERCISE, "--force"], root)

    our_scores = {}
    for path in (root / "bptt-results").glob("*.json"):
        result = json.loads(path.read_text())
        our_scores[result["extra_data"]["student"]] = result["score"]
    their_scores = nbgrader_scores(root)
    disagree = [s for s in students
                if abs(our_scores.get(s, -1) - their_scores.get(s, -2)) > 1e-6]

    n = len(students)
    print(f"\nisolation (bptt grade): {isolation.strip()}")
    print(f"bptt grade:         {ours:7.1f} s  {n / ours:7.1f} notebooks/s")
    print(f"nbgrader autograde: {theirs:7.1f} s  {n / theirs:7.2f} notebooks/s")
    print(f"throughput ratio:   {theirs / ours:7.1f}× (goal ≥ 50×)")
    print(f"scores: {n - len(disagree)} of {n} students get the same score from both graders"
          + (f"; differing: {disagree[:10]}" if disagree else ""))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
