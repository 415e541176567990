"""Inside a notebook: grade a stage from an nbgrader hidden-test cell; check a notebook's claims.

An instructor-source notebook's hidden test cell for a stage is

    from grader.grading.hidden_tests import grade_stage
    grade_stage("elman", "rnn_backward", globals())

It runs in the kernel that ran the student's notebook (nbgrader autograde), so
it is only as safe as nbgrader itself: the student's code could patch it. The
sandboxed batch grader (`bptt grade`) is the safe path; this one keeps nbgrader's
own workflow (formgrader, feedback) working.

nbgrader's rules for a grade cell (nbgrader/utils.py, `determine_grade` and
`get_partial_grade`, 0.9): an error output, or anything written to stderr,
gives 0; an `execute_result` that converts to a float is the score in points
(0 ≤ value ≤ the cell's points, more raises); any other output is full marks.
So `grade_stage` returns the points earned as a plain float, which the cell
shows as its result, raises AssertionError with the feedback when the stage
earns nothing, and keeps the student's prints and numpy warnings off stderr.

Which student: under `nbgrader autograde` (it sets NBGRADER_EXECUTION=autograde)
the kernel runs in the autograded copy's folder, `autograded/<student>/<assignment>/`
(nbconvert passes the notebook's folder as the kernel's working directory), and
that path is the id nbgrader trusts. Otherwise the notebook's STUDENT_ID, and
last the `bptt.student` metadata of a notebook of this exercise in the working
directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.reports.numbers import points_text

DEMO_NOTE = ("(graded with the demo secret: no bptt-course.toml was found in the course "
             "folder or its parents, nor $BPTT_COURSE)")


def student_id(exercise_id: str, namespace: Mapping[str, Any] | None = None,
               cwd: str | Path | None = None) -> str:
    """The id of the student whose notebook this kernel runs (see the module docstring)."""
    cwd = Path(cwd or os.getcwd())
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and cwd.parent.name:
        return cwd.parent.name
    claimed = (namespace or {}).get("STUDENT_ID")
    if isinstance(claimed, str) and claimed.strip():
        return claimed.strip()
    found = set()
    for path in sorted(cwd.glob("*.ipynb")):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            bptt = json.loads(path.read_text(encoding="utf-8"))["metadata"]["bptt"]
            if bptt.get("exercise") == exercise_id and bptt.get("student"):
                found.add(bptt["student"])
    if len(found) == 1:
        return found.pop()
    raise RuntimeError("cannot tell whose notebook this is: set STUDENT_ID in the notebook")


def grade_stage(exercise_id: str, stage_name: str, namespace: Mapping[str, Any]) -> float:
    """Grade one stage of the student's functions in `namespace`; print the feedback.

    Returns the points earned (a float, for nbgrader's partial credit); raises
    AssertionError with the feedback when the stage earns nothing, from a frame with no
    source (`fail_with`), so that nbgrader's feedback shows the message and not the
    grader's code.
    """
    __tracebackhide__ = True      # IPython leaves this frame out of the traceback shown
    import numpy as np

    from exercises.instance import make_instance
    from exercises.registry import get_exercise
    from grader.authoring.course import CourseConfig
    from grader.checking.verdicts import grade_outcomes
    from grader.grading.in_process import run_in_process

    with warnings.catch_warnings():  # a warning goes to stderr, which nbgrader scores as 0
        warnings.simplefilter("ignore")
        exercise = get_exercise(exercise_id)
        config = CourseConfig.load(quiet=True)
    stage = exercise.stage(stage_name)
    student = student_id(exercise_id, namespace)
    instance = make_instance(exercise, student, config.secret, config.salt)
    chatter = io.StringIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        warnings.simplefilter("ignore")
        # the stages it calls too, so the feedback can say when one of those is wrong, and
        # the forwards it differentiates, for its gradient check
        forwards = stage.gradient_of.forwards if stage.gradient_of is not None else ()
        outcomes = run_in_process(instance, namespace,
                                  [stage_name, *stage.depends_on, *forwards])
        result = grade_outcomes(instance, outcomes)
    check = result.checks[exercise.stages.index(stage)]
    earned = float(check.score * stage.points)
    earned = round(earned, 6) or earned  # 0.15, not 0.15000000000000002, in the gradebook
    if check.score <= 0.0:
        fail_with(AssertionError(check.message + (f"\n{DEMO_NOTE}" if config.is_demo else "")))
    print(f"{stage_name}: {points_text(earned)} of {points_text(stage.points)} points\n"
          f"{check.message}")
    if config.is_demo:
        print(DEMO_NOTE)
    return earned


FEEDBACK_SOURCE = "raise error  # no points for this stage: what is wrong is said below\n"
_RAISE = compile(FEEDBACK_SOURCE, "<bptt feedback>", "exec")


def fail_with(error: BaseException) -> None:
    """Raise error from a frame that has no source file: a notebook's traceback then ends
    in "<bptt feedback>" and the message, never in lines of the grader."""
    __tracebackhide__ = True
    import linecache

    # the one line a traceback shows of that frame, instead of "Could not get source"
    linecache.cache["<bptt feedback>"] = (len(FEEDBACK_SOURCE), None, [FEEDBACK_SOURCE],
                                          "<bptt feedback>")
    exec(_RAISE, {"error": error})


def claimed_variant_mismatch(notebook_json: str | bytes | Mapping[str, Any], exercise,
                             student: str, salt: str | None = None) -> str | None:
    """What a notebook's `bptt` metadata claims that the trusted student id contradicts.

    notebook_json: the notebook's text or parsed JSON. exercise: an Exercise or its id.
    Returns a sentence for the instructor, or None when the claims agree (or are absent,
    as in the shared release, whose variant is computed at run time).
    """
    from exercises.instance import PUBLIC_SALT, choose_variant
    from exercises.registry import get_exercise

    if isinstance(exercise, str):
        exercise = get_exercise(exercise)
    salt = salt or PUBLIC_SALT
    data = json.loads(notebook_json) if isinstance(notebook_json, str | bytes) else notebook_json
    metadata = (data.get("metadata") or {}) if isinstance(data, Mapping) else {}
    claims = metadata.get("bptt") if isinstance(metadata, Mapping) else None
    if not isinstance(claims, Mapping):
        return None
    problems = []
    if claims.get("exercise") not in (None, exercise.id):
        problems.append(f"it is a notebook of exercise {claims.get('exercise')!r}, "
                        f"not {exercise.id!r}")
    if claims.get("student") not in (None, "", student):
        problems.append(f"it was generated for student {claims.get('student')!r}, "
                        f"not {student!r}")
    claimed = claims.get("variant")
    if claimed is not None:
        expected = _plain(choose_variant(exercise.variant_space, exercise.id, student,
                                         salt).as_dict())
        if not isinstance(claimed, Mapping):
            problems.append("its variant metadata is not a dict")
        else:
            differ = sorted(k for k in expected.keys() | claimed.keys()
                            if _plain(claimed.get(k)) != expected.get(k))
            if differ:
                problems.append("its metadata claims another variant: " + ", ".join(
                    f"{k} = {claimed.get(k)!r} (yours is {expected.get(k)!r})" for k in differ))
    if claims.get("salt") not in (None, salt):
        problems.append(f"it was generated with the variant salt {claims.get('salt')!r}, "
                        f"not the course's {salt!r}")
    return "; ".join(problems) if problems else None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
