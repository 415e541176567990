"""One cold submission (the CI and Gradescope case): what `bptt` imports, and a single file
graded without a pool, its sandbox started beside the imports, exactly as in a batch."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from exercises.instance import make_instance
from exercises.registry import BUILT_IN, all_exercises, get_exercise
from grader.authoring import solution_cells
from grader.authoring.course import CourseConfig
from grader.authoring.solution_cells import stage_solutions
from grader.checking.verdicts import grade_outcomes
from grader.cli import main
from grader.cli.grade import _as_drawings
from grader.cli.simulated import ELMAN_BUGS, filled_in, release_json, with_bug
from grader.grading.in_process import run_in_process

REPO = Path(__file__).resolve().parents[1]
SECRET = "a secret for the cold path tests"


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_command_line_imports_no_command_before_it_runs():
    loaded = imported_after("import grader.cli")
    assert not loaded & {"grader.cli.demo", "numpy", "jinja2", "rich", "exercises.registry",
                         "grader.grading.batch", "grader.sandbox.worker"}


def test_the_command_line_keeps_blas_to_one_thread_unless_told_otherwise():
    """Every core grades in a process of its own: numpy's BLAS gets one thread, set before
    numpy loads, and a thread count the user chose stays theirs."""
    import os

    code = ("import grader.cli, numpy, os; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])")
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True, env=environment)
    assert done.stdout.split() == ["1", "1"]
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True, env={**environment, "OMP_NUM_THREADS": "3"})
    assert done.stdout.split() == ["1", "3"]


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_an_exercise_is_loaded_alone(exercise_id):
    """get_exercise loads the exercise's module and what that module imports, not the
    catalogue (nor the entry points of every installed package)."""
    module = "exercises." + exercise_id.replace("-", "_")
    loaded = imported_after(f"from exercises.registry import get_exercise\n"
                            f"assert get_exercise({exercise_id!r}).id == {exercise_id!r}")
    itself = imported_after(f"import {module}")
    assert loaded & set(BUILT_IN) == itself & set(BUILT_IN)
    assert "importlib.metadata" not in loaded - itself


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items()
                if "second" not in k and "time" not in k}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_one_file_alone_is_graded_as_in_a_batch(tmp_path, monkeypatch):
    """Alone: no pool, the sandbox started beside the imports. In a batch: a pool of two."""
    (tmp_path / "bptt-course.toml").write_text(f'secret = "{SECRET}"\n')
    monkeypatch.chdir(tmp_path)
    exercise = get_exercise("elman")
    config = CourseConfig(secret=SECRET)
    bugs = sorted(ELMAN_BUGS)
    students = ["ada", "bo", "cy", "dee"]
    for i, student in enumerate(students):
        code = stage_solutions(exercise, make_instance(exercise, student, SECRET,
                                                       config.salt).variant)
        if i % 2:
            code = with_bug(code, bugs[i % len(bugs)])
        path = tmp_path / "class" / f"elman-{student}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(filled_in(release_json(exercise, student, config.salt),
                                             student, code)))
    runner = CliRunner()
    batch = runner.invoke(main, ["grade", "class", "--results", "batch", "--workers", "2"],
                          catch_exceptions=False)
    assert batch.exit_code == 0, batch.output
    for student in students:
        alone = runner.invoke(main, ["grade", f"class/elman-{student}.ipynb", "--results",
                                     f"alone-{student}"], catch_exceptions=False)
        assert alone.exit_code == 0, alone.output
        name = f"elman-{student}.json"
        expected = without_timings(json.loads((tmp_path / "batch" / name).read_text()))
        got = without_timings(json.loads((tmp_path / f"alone-{student}" / name).read_text()))
        assert got == expected
    scores = {json.loads(p.read_text())["score"] for p in (tmp_path / "batch").glob("*.json")}
    assert len(scores) > 1                 # the bugs cost points: the comparison has teeth


def test_a_sandbox_that_cannot_start_is_said_for_one_file_too(tmp_path, monkeypatch):
    import grader.sandbox.worker
    from grader.grading.batch import SandboxUnavailable

    (tmp_path / "bptt-course.toml").write_text(f'secret = "{SECRET}"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grader.sandbox.worker, "WORKER_SOURCE", tmp_path / "no-such-zygote.py")
    exercise = get_exercise("elman")
    path = tmp_path / "elman-ada.ipynb"
    path.write_text(json.dumps(release_json(exercise, "ada", CourseConfig().salt)))
    result = CliRunner().invoke(main, ["grade", str(path), "--no-isolation"])
    assert isinstance(result.exception, SandboxUnavailable)
    assert "could not start" in str(result.exception)


def test_one_file_s_pages_drawn_by_the_forked_drawer_are_the_batch_s(tmp_path):
    """`bptt grade` of one file, in a fresh process (one thread, so its pictures are drawn
    by the child forked at the start, and a page of several drawings by that child and a
    grandchild), writes the same pages as a batch draws."""
    (tmp_path / "bptt-course.toml").write_text(f'secret = "{SECRET}"\n')
    exercise = get_exercise("elman")
    salt = CourseConfig(secret=SECRET).salt
    bugs = {"ada": None, "bo": sorted(ELMAN_BUGS)[0], "cy": "recurrent-term-dropped"}
    for student, bug in bugs.items():
        code = stage_solutions(exercise, make_instance(exercise, student, SECRET, salt).variant)
        code = with_bug(code, bug) if bug else code
        path = tmp_path / "class" / f"elman-{student}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(filled_in(release_json(exercise, student, salt), student,
                                             code)))
    command = [sys.executable, "-c", "from grader.cli import main; main()", "grade"]
    batch = subprocess.run([*command, "class", "--results", "batch"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert batch.returncode == 0, batch.stderr[-2000:]
    for student in bugs:
        alone = subprocess.run([*command, f"class/elman-{student}.ipynb", "--results", student],
                               cwd=tmp_path, capture_output=True, text=True)
        assert alone.returncode == 0, alone.stderr[-2000:]
        for suffix in (".html", ".md"):
            page = f"elman-{student}{suffix}"
            assert (tmp_path / student / "feedback" / page).read_bytes() == \
                (tmp_path / "batch" / "feedback" / page).read_bytes(), page
    several = (tmp_path / "cy" / "feedback" / "elman-cy.html").read_text()
    assert 'class="equation"' in several and 'class="error_map"' in several
    assert 'class="loss_curve"' in several       # three drawings: both processes drew


DRAWER_SCRIPT = """
import json, os, signal, sys, time
from grader.cli.grade import PageDrawer
from grader.reports.feedback import render_feedback_html
from grader.reports.results import SubmissionResult
import grader.reports.plots
result = SubmissionResult.from_gradescope(json.loads(sys.stdin.read()))
drawer = PageDrawer()
drawn = drawer.drawings(result)
print(drawn is not None and render_feedback_html(result, drawings=drawn)
      == render_feedback_html(result))
drawer.close()
dead = PageDrawer()
os.kill(dead.pid, signal.SIGKILL)
print(dead.drawings(result))
dead.close()
grader.reports.plots.load_matplotlib = lambda: time.sleep(60)
slow = PageDrawer()
slow.WAIT_SECONDS = 0.5
started = time.monotonic()
print(slow.drawings(result), time.monotonic() - started < 5)
slow.close()
print(slow.pid)
long = SubmissionResult.from_gradescope({**result.to_gradescope(), "output": "x" * 300_000})
stuck = PageDrawer()                # the order does not fit in the pipe: sending it waits too
stuck.WAIT_SECONDS = 0.5
started = time.monotonic()
print(stuck.drawings(long), time.monotonic() - started < 5)
stuck.close()
"""


def test_the_drawer_child_draws_a_page_s_pictures_and_a_failed_one_gives_none():
    """What the forked drawer sends back draws the page the parent would draw itself; a
    drawer that died, or takes longer than its wait (to take the order, or to answer),
    gives None (the caller draws) and is ended."""
    exercise = get_exercise("elman")
    instance = make_instance(exercise, "ada", SECRET)
    namespace = dict(solution_cells.solution_namespace(exercise, instance.variant, "ada"))
    stage = exercise.stage("rnn_backward")
    [bug, *_] = stage.bugs_for(instance.variant)
    namespace["rnn_backward"] = partial(bug.implementation, instance.variant)
    result = grade_outcomes(instance, run_in_process(instance, namespace))
    done = subprocess.run([sys.executable, "-c", DRAWER_SCRIPT], cwd=REPO, capture_output=True,
                          text=True, input=json.dumps(result.to_gradescope()))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "None", "None", "True", "None", "None", "True"]


@pytest.mark.parametrize("answer", [
    None, {}, [], [[[], None]] * 2, [[[], None, None]], [[["error_map", "<svg/>"]], None],
    [[[["no_such_kind", "<svg/>"]], None]], [[[["error_map", 3]], None]],
    [[[["error_map"]], None]], [[[], 7]], [["<svg/>", None]]])
def test_an_answer_that_is_not_a_page_s_drawings_is_refused(answer):
    with pytest.raises(ValueError):
        _as_drawings(answer, 1)


def test_a_page_s_drawings_are_read_back_as_drawn():
    answer = [[[["error_map", "<svg>map</svg>"], ["loss_curve", "<svg>curve</svg>"]], None],
              [[], "<svg>equation</svg>"]]
    assert _as_drawings(answer, 2) == [
        ([("error_map", "<svg>map</svg>"), ("loss_curve", "<svg>curve</svg>")], None),
        ([], "<svg>equation</svg>")]


def test_the_command_line_freezes_what_it_holds_at_exit():
    """Its shutdown skips the collector's passes over what a command made (40 ms of a
    cold grade): gc.freeze runs at exit, before the interpreter tears down."""
    code = ("import atexit, gc\n"
            "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
            "import grader.cli\n"
            "print(gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
