"""The `bptt` command line: click commands only, each a thin call into the packages.

    commands.py   main (the group), exercises, generate, nbgrader init
    grade.py      bptt grade PATH…
    ci.py         bptt ci github | gradescope | collect (and the steps CI runs)
    demo.py       bptt demo: a simulated class graded end to end
    simulated.py  simulated students: solutions filled into release notebooks,
                  catalogue bugs, other coding styles (the demo, tests, bench)

Imports: anything in `grader`; nothing imports it.
"""

from grader.cli.commands import main

__all__ = ["main"]
