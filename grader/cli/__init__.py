"""The `bptt` command line: click commands only, each a thin call into the packages.

    commands.py   main (the group), exercises, generate, nbgrader init
    grade.py      bptt grade PATH…
    ci.py         bptt ci github | gradescope | collect (and the steps CI runs)
    demo.py       bptt demo: a simulated class graded end to end
    simulated.py  simulated students: solutions filled into release notebooks,
                  catalogue bugs, other coding styles (the demo, tests, bench)

Imports: anything in `grader`; nothing imports it.
"""

import atexit
import gc
import os

# Set before numpy loads its BLAS: `bptt grade` keeps every core busy with a process of
# its own, and BLAS threads on arrays this small only spin against them.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

# At exit, the garbage collector's last passes over everything a command made take 40 ms,
# most of a cold `bptt grade`'s shutdown, and nothing it leaves needs them: its files are
# written and closed, its sandbox and children stopped. Frozen objects are never scanned.
atexit.register(gc.freeze)

from grader.cli.commands import main  # noqa: E402

__all__ = ["main"]
