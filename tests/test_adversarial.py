"""Hostile submissions against the batch grader and its sandbox (issue 5's verification).

Each attack of `adversarial/corpus.py` is graded with `grade_batch` in one
worker, between honest students: one before it and two after it in the same
sandbox, so that anything the attack leaves behind would show in their grades.
The test asserts what the attack's entry says (which stages score 0, what the
feedback says, what it must not leak) and that every honest student's grade is
exactly their grade when graded alone.

Then: a batch killed with SIGKILL half-way and rerun gives the grades of an
uninterrupted run, with no grade lost or duplicated; a grade is the same on
repeated runs; and the sandbox keeps the promises its isolation description
makes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from adversarial.corpus import ATTACKS, SECRET, STAGES, Attack

from exercises.instance import PUBLIC_SALT, choose_variant
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.solution_cells import stage_solutions
from grader.grading.batch import Target, discover, grade_batch, grade_target
from grader.reports.render import points_line
from grader.reports.results import SubmissionResult
from grader.sandbox.limits import Limits
from grader.sandbox.worker import Worker, find_bwrap

REPO = Path(__file__).resolve().parents[1]
EXERCISE = get_exercise("elman")
LIMITS = Limits(wall_seconds=2, cpu_seconds=2, memory_mb=512, file_mb=8, processes=32,
                output_kb=16)
HONEST = ("honest-ann", "honest-ben", "honest-cat")     # cat has a wrong phi_prime
BUBBLEWRAP = find_bwrap() is not None
SLEEPERS = ("sleep\x004242", "sleep\x004243")
BPTT = [sys.executable, "-c", "from grader.cli import main; main()"]


# -- building submissions ----------------------------------------------------------------


def code_cell(source: str, metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": metadata or {},
            "outputs": [], "source": source}


def solutions(student: str) -> dict[str, str]:
    """The model solution's cells for the student's own variant, by function name."""
    variant = choose_variant(EXERCISE.variant_space, EXERCISE.id, student, PUBLIC_SALT)
    return stage_solutions(EXERCISE, variant)


def notebook(student: str, cells: list[dict]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"bptt": {"exercise": "elman", "student": student},
                         "kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}}}


def honest_notebook(student: str) -> dict:
    code = solutions(student)
    if student == "honest-cat":
        code["phi_prime"] = "def phi_prime(s):\n    return 2.0 + 0.0 * s\n"
    return notebook(student, [code_cell(source) for source in code.values()])


def release_notebook(student: str, edit: str) -> dict:
    """The nbgrader-style release notebook, solved, with its locked cells deleted or changed."""
    from grader.authoring.notebooks import notebook_cells

    code = solutions(student)
    cells = []
    for kind, source, metadata in notebook_cells(EXERCISE, "release", student, PUBLIC_SALT):
        grade_id = metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            source = code[grade_id]
        if edit == "deleted" and grade_id == "given":   # edit "none": the release as it is
            continue
        if edit == "changed" and grade_id == "given":
            source = "import numpy as np\n\ndef phi(a):\n    return 0.0 * a\n"
        if edit == "changed" and grade_id == "rnn_backward-self-check":
            source = "print('Points 11/11')"
        metadata = {k: v for k, v in metadata.items() if k != "id"}
        if kind == "code":
            cells.append(code_cell(source, metadata))
        else:
            cells.append({"cell_type": "markdown", "metadata": metadata, "source": source})
    return notebook(student, cells)


def fill(source: str, places: dict[str, Path]) -> str:
    for name, path in places.items():
        source = source.replace(f"@{name}@", str(path))
    return source


def write_attack(attack: Attack, folder: Path, places: dict[str, Path]) -> Path:
    path = folder / f"mallory-{attack.id}{attack.suffix}"
    if attack.raw is not None:
        path.write_bytes(attack.raw)
        return path
    student = attack.student if attack.student is not None else f"mallory-{attack.id}"
    if attack.locked == "mangled":
        junk = ["a string", [1, 2], {"nbgrader": [1]}, {"nbgrader": {"grade_id": ["x"]}}]
        data = notebook(student, [code_cell(source, junk[i % 4])
                                  for i, source in enumerate(solutions(student).values())])
        for cell in data["cells"]:
            cell["metadata"] = cell["metadata"] or "junk"
    elif attack.locked:
        data = release_notebook(f"mallory-{attack.id}", attack.locked)
        data["metadata"]["bptt"]["student"] = student
    else:
        cells = [code_cell(source) for source in solutions(f"mallory-{attack.id}").values()]
        data = notebook(student, cells + [code_cell(fill(attack.cell, places))])
    path.write_text(json.dumps(data))
    return path


# -- comparing grades --------------------------------------------------------------------


def fingerprint(result: SubmissionResult) -> str:
    """The grade without what may differ between runs: timings and the file's location."""
    data = result.to_gradescope()
    data.pop("execution_time", None)
    metadata = data.get("extra_data", {}).get("metadata", {})
    for key in ("run_seconds", "path"):
        metadata.pop(key, None)
    return json.dumps(data, sort_keys=True)


def by_stage(result: SubmissionResult) -> dict[str, float]:
    return {check.tags[0]: check.score for check in result.checks if check.tags}


def feedback(result: SubmissionResult) -> str:
    return "\n".join([result.output, *(check.message for check in result.checks)])


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[CourseConfig, Path]:
    folder = tmp_path_factory.mktemp("course")
    path = folder / "bptt-course.toml"
    path.write_text(f'secret = "{SECRET}"\n[limits]\nwall_seconds = 2\ncpu_seconds = 2\n'
                    'memory_mb = 512\nfile_mb = 8\nprocesses = 32\noutput_kb = 16\n')
    config = CourseConfig.from_file(path)
    assert config.limits == LIMITS
    return config, path


@pytest.fixture(scope="module")
def alone(course, tmp_path_factory) -> dict[str, str]:
    """Each honest student's grade, graded alone in a batch of one."""
    config, _ = course
    grades = {}
    for student in HONEST:
        folder = tmp_path_factory.mktemp(student)
        path = folder / f"{student}.ipynb"
        path.write_text(json.dumps(honest_notebook(student)))
        summary = grade_batch(discover([path]), config, folder / "results", workers=1)
        grades[student] = fingerprint(summary.results[0])
    assert by_stage(SubmissionResult.from_gradescope(json.loads(
        grades["honest-cat"])))["phi_prime"] == 0.0
    return grades


def sleepers() -> list[str]:
    """Processes left over by the attacks that start `sleep 4242` or `sleep 4243`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if any(command.startswith(s) for s in SLEEPERS):
            found.append(entry)
    return found


# -- the corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(attack: Attack, course, alone, tmp_path):
    if attack.bubblewrap and not BUBBLEWRAP:
        pytest.skip("only bubblewrap isolates this; the process fallback says so (WEAKER)")
    config, course_path = course
    folder, results = tmp_path / "submissions", tmp_path / "results"
    folder.mkdir()
    places = {"SUBS": folder, "RESULTS": results, "COURSE": course_path, "REPO": REPO,
              "MARKER": tmp_path / "pwned"}
    honest = {}
    for student in HONEST:
        honest[student] = folder / f"{student}.ipynb"
        honest[student].write_text(json.dumps(honest_notebook(student)))
    hostile = write_attack(attack, folder, places)
    # One worker, in this order: an honest student, the attack, then the other two in the
    # same sandbox after it.
    order = [honest["honest-ann"], hostile, honest["honest-ben"], honest["honest-cat"]]
    started = time.monotonic()
    summary = grade_batch([Target(path) for path in order], config, results, workers=1)
    elapsed = time.monotonic() - started
    assert summary.graded == 4 and len(summary.results) == 4
    got = {Path(r.metadata["path"]).name: r for r in summary.results}

    for student in HONEST:
        assert fingerprint(got[f"{student}.ipynb"]) == alone[student], student

    result = got[hostile.name]
    text = feedback(result)
    assert "grader failed" not in text, text
    if attack.zero == ("*",):
        assert result.score == 0.0, text
    else:
        scores = by_stage(result)
        assert set(scores) == set(STAGES), text
        for stage in STAGES:
            if stage in attack.hurt or attack.hurt == ("*",):  # calls forged or cut short
                assert scores[stage] < 1.0, (stage, text)
            else:
                assert scores[stage] == (0.0 if stage in attack.zero else 1.0), (stage, text)
    for wanted in attack.text:
        assert wanted in text, (wanted, text)
    for leaked in attack.absent:
        assert leaked not in text, (leaked, text)
    assert elapsed < 4 * LIMITS.wall_seconds + 10
    if attack.check:
        CHECKS[attack.check](result=result, results=results, places=places, tmp_path=tmp_path,
                             hostile=hostile, course_path=course_path)


def _no_sleepers(**_):
    assert sleepers() == []


def _short_output(result, **_):
    assert "spam" in result.output
    assert len(result.output) < LIMITS.output_kb * 1024


def _no_grader_failure(result, **_):
    assert "grader failed" not in feedback(result)


def _results_untouched(results, **_):
    names = sorted(p.name for p in results.iterdir())
    assert not any(name.startswith("gradebook") is False and not name.endswith(".json")
                   for name in names), names
    assert not Path("/tmp/evil").exists()
    for path in results.glob("*.json"):
        data = json.loads(path.read_text())
        assert data.get("score") != 100 and data.get("tests"), path


def _no_marker(places, **_):
    assert not places["MARKER"].exists()


def _points_line(result, hostile, course_path, tmp_path, **_):
    """`bptt grade` on the file alone prints the real points line, and no other."""
    assert points_line(result) != "Points 100/100"
    environment = dict(os.environ, GITHUB_ACTIONS="true",
                       GITHUB_OUTPUT=str(tmp_path / "github-output"))
    run = subprocess.run([*BPTT, "grade", str(hostile),
                          "--course", str(course_path), "--results", str(tmp_path / "cli")],
                         capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == points_line(result), run.stdout
    assert [line for line in lines if re.search(r"Points \d", line)] == [
        points_line(result), f"::notice title=Autograding complete::{points_line(result)}"]


CHECKS = {"no_sleepers": _no_sleepers, "short_output": _short_output,
          "no_grader_failure": _no_grader_failure, "results_untouched": _results_untouched,
          "no_marker": _no_marker, "points_line": _points_line}


def test_corpus_size():
    assert len(ATTACKS) >= 30
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)


def test_untouched_release_notebook_reports_no_locked_cells(course, tmp_path):
    """The control for the locked-cell attacks: a solved release notebook says nothing."""
    config, _ = course
    path = tmp_path / "clean.ipynb"
    path.write_text(json.dumps(release_notebook("honest-ann", edit="none")))
    summary = grade_batch(discover([path]), config, tmp_path / "results", workers=1)
    result = summary.results[0]
    assert result.score == result.max_score
    assert "Locked cells" not in result.output


# -- a batch killed half-way ------------------------------------------------------------------


def class_folder(folder: Path, count: int) -> list[Path]:
    """`count` submissions, right and wrong, each sleeping a little so that a batch takes time."""
    folder.mkdir()
    paths = []
    for i in range(count):
        student = f"student-{i:02d}"
        code = solutions(student)
        if i % 3 == 1:
            code["rnn_backward"] = code["rnn_backward"].replace("ds_out[:, t] + ds_next",
                                                                "ds_out[:, t]")
        if i % 3 == 2:
            code["sgd_update"] = "def sgd_update(params, grads, lr):\n    return params\n"
        cells = [code_cell("import time\ntime.sleep(0.25)\n")]
        cells += [code_cell(source) for source in code.values()]
        paths.append(folder / f"{student}.ipynb")
        paths[-1].write_text(json.dumps(notebook(student, cells)))
    return paths


def gradebook_rows(results: Path) -> dict[str, tuple]:
    """Every gradebook row by file name, without the time it was graded and the timings."""
    with sqlite3.connect(results / "gradebook.sqlite") as connection:
        rows = connection.execute("SELECT path, student, exercise, digest, context, score, "
                                  "max_score, results FROM grades").fetchall()
    return {Path(row[0]).name: (*row[1:7], fingerprint(SubmissionResult.from_gradescope(
        json.loads(row[7])))) for row in rows}


def count_rows(results: Path) -> int:
    try:
        with sqlite3.connect(results / "gradebook.sqlite", timeout=1) as connection:
            return connection.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
    except sqlite3.Error:
        return 0


def bptt_grade(folder: Path, results: Path, course_path: Path, **popen):
    command = [*BPTT, "grade", str(folder), "--results", str(results),
               "--course", str(course_path), "--workers", "2"]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def test_killed_batch_resumes_with_the_grades_of_an_uninterrupted_run(course, tmp_path):
    _, course_path = course
    count = 12
    class_folder(tmp_path / "class", count)
    whole = bptt_grade(tmp_path / "class", tmp_path / "whole", course_path)
    out, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    expected = gradebook_rows(tmp_path / "whole")
    assert len(expected) == count

    killed = bptt_grade(tmp_path / "class", tmp_path / "killed", course_path,
                        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while count_rows(tmp_path / "killed") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
    finally:
        try:
            os.killpg(killed.pid, signal.SIGKILL)   # the orphaned pool, if still there
        except ProcessLookupError:
            pass
    kept = count_rows(tmp_path / "killed")
    assert 3 <= kept < count, "the kill did not land half-way"
    assert set(gradebook_rows(tmp_path / "killed")).issubset(expected)

    again = bptt_grade(tmp_path / "class", tmp_path / "killed", course_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"graded {count - kept}, unchanged since the last run {kept}" in err
    assert gradebook_rows(tmp_path / "killed") == expected
    for path in (tmp_path / "whole").glob("student-*.json"):
        resumed = tmp_path / "killed" / path.name
        assert fingerprint(SubmissionResult.from_gradescope(json.loads(resumed.read_text()))) \
            == fingerprint(SubmissionResult.from_gradescope(json.loads(path.read_text())))


# -- the same grade on every run ---------------------------------------------------------------


REPEATED = ("nan-results", "lying-eq", "wrong-shape", "os-exit-in-function",
            "memory-bomb-in-function", "loop-in-function", "locked-cell-changed",
            "patch-json-dumps")


def test_grades_are_the_same_on_repeated_runs(course, tmp_path):
    config, course_path = course
    folder = tmp_path / "submissions"
    folder.mkdir()
    places = {"SUBS": folder, "RESULTS": tmp_path / "r", "COURSE": course_path, "REPO": REPO,
              "MARKER": tmp_path / "pwned"}
    paths = []
    for student in HONEST:
        paths.append(folder / f"{student}.ipynb")
        paths[-1].write_text(json.dumps(honest_notebook(student)))
    for attack in ATTACKS:
        if attack.id in REPEATED:
            paths.append(write_attack(attack, folder, places))
    runs = []
    for run in range(3):
        summary = grade_batch(discover(paths), config, tmp_path / f"run{run}", workers=2)
        assert summary.graded == len(paths)
        runs.append({Path(r.metadata["path"]).name: fingerprint(r) for r in summary.results})
    assert runs[0] == runs[1] == runs[2]


# -- what the sandbox promises ----------------------------------------------------------------


PROBE = """
import os, socket
def attempt(what, action):
    try:
        print(what, 'ALLOWED', repr(action())[:80])
    except Exception as error:
        print(what, 'refused', type(error).__name__)
attempt('network', lambda: socket.create_connection(('1.1.1.1', 53), timeout=1))
attempt('project', lambda: os.listdir('@REPO@'))
attempt('course', lambda: open('@COURSE@').read())
attempt('submissions', lambda: os.listdir('@SUBS@'))
attempt('numpy.fft', lambda: __import__('numpy.fft').fft.fft([1.0, 2.0]))
print('environment', sorted(os.environ))
"""


def probe_sandbox(isolate: bool, course, tmp_path) -> tuple[SubmissionResult, Worker]:
    config, course_path = course
    places = {"REPO": REPO, "COURSE": course_path, "SUBS": tmp_path}
    path = tmp_path / "probe.ipynb"
    cells = [code_cell(source) for source in solutions("probe").values()]
    path.write_text(json.dumps(notebook("probe", [*cells, code_cell(fill(PROBE, places))])))
    with Worker(config.limits, isolate=isolate) as worker:
        return grade_target(Target(path), config, worker), worker


def test_without_bubblewrap_the_isolation_says_weaker(course, tmp_path):
    result, worker = probe_sandbox(False, course, tmp_path)
    assert worker.isolation.kind == "process"
    assert worker.isolation.description.startswith("WEAKER ISOLATION (isolation switched off)")
    assert "can reach the network and read" in worker.isolation.description
    if os.getuid() == 0 and worker.uid is None:
        assert "AS ROOT" in worker.isolation.description
    assert result.score == result.max_score
    assert result.metadata["isolation"] == "process"
    summary = grade_batch(discover([tmp_path / "probe.ipynb"]), course[0], tmp_path / "results",
                          workers=1, isolate=False)
    assert summary.isolation.startswith("WEAKER ISOLATION")


@pytest.mark.skipif(not BUBBLEWRAP, reason="bubblewrap is not available here")
def test_bubblewrap_hides_the_network_the_project_and_the_secret(course, tmp_path):
    result, worker = probe_sandbox(True, course, tmp_path)
    assert worker.isolation.kind == "bubblewrap"
    assert "no network" in worker.isolation.description
    assert result.score == result.max_score
    assert result.metadata["isolation"] == "bubblewrap"
    printed = result.output
    for what in ("network", "project", "course", "submissions"):
        assert f"{what} refused" in printed, printed
    assert "numpy.fft ALLOWED" in printed, printed
    assert "BPTT_COURSE" not in printed and SECRET not in printed


def test_process_fallback_ends_a_double_forked_daemon(course, tmp_path):
    """Without a pid namespace the zygote is a child subreaper: a daemon that left the job's
    process group and session is still its descendant, and is killed with the job."""
    config, _ = course
    daemon = next(a for a in ATTACKS if a.id == "double-forked-daemon")
    path = write_attack(daemon, tmp_path, {})
    with Worker(config.limits, isolate=False) as worker:
        result = grade_target(Target(path), config, worker)
        assert result.score == result.max_score
        time.sleep(0.2)
        assert sleepers() == []


def test_a_batch_leaves_no_sandbox_folder_behind(course, tmp_path, monkeypatch):
    config, _ = course
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))   # where Worker makes its folder
    paths = []
    for student in HONEST:
        paths.append(tmp_path / f"{student}.ipynb")
        paths[-1].write_text(json.dumps(honest_notebook(student)))
    summary = grade_batch(discover(paths), config, tmp_path / "results", workers=2)
    assert summary.graded == len(paths)
    assert list(scratch.iterdir()) == []


def test_a_sandbox_that_cannot_start_stops_the_batch_instead_of_hanging(course, tmp_path,
                                                                         monkeypatch):
    import grader.sandbox.worker
    from grader.grading.batch import SandboxUnavailable

    config, _ = course
    monkeypatch.setattr(grader.sandbox.worker, "WORKER_SOURCE", tmp_path / "no-such-worker.py")
    path = tmp_path / "honest-ann.ipynb"
    path.write_text(json.dumps(honest_notebook("honest-ann")))

    def hung(*_):
        raise TimeoutError("grade_batch hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(SandboxUnavailable, match="could not start"):
            grade_batch(discover([path]), config, tmp_path / "results", workers=1,
                        isolate=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_two_submissions_with_the_same_file_name_keep_their_own_results(course, tmp_path):
    """hw.ipynb in two folders (not an nbgrader tree): one results file each, none lost."""
    config, _ = course
    paths = []
    for student in ("honest-ann", "honest-cat"):
        (tmp_path / student).mkdir()
        paths.append(tmp_path / student / "hw.ipynb")
        paths[-1].write_text(json.dumps(honest_notebook(student)))
    summary = grade_batch(discover(paths), config, tmp_path / "results", workers=2)
    written = sorted((tmp_path / "results").glob("hw*.json"))
    assert len(written) == 2
    students = {json.loads(p.read_text())["extra_data"]["student"] for p in written}
    assert students == {"honest-ann", "honest-cat"}
    assert len(summary.results) == 2


def test_an_unreadable_file_scores_zero_out_of_the_exercise_points(course, tmp_path):
    """Not 0 out of 0, which a gradebook may count as full marks, when the exercise is known."""
    config, _ = course
    path = tmp_path / "submitted" / "mallory" / "elman" / "elman.ipynb"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    for run, given in enumerate(({}, {"exercise": "elman"})):
        summary = grade_batch(discover([path]), config, tmp_path / f"results{run}", workers=1,
                              **given)
        result = summary.results[0]
        assert (result.score, result.max_score) == (0.0, EXERCISE.points)
        assert result.exercise == "elman" and result.student == "mallory"
        assert "the notebook file is empty" in result.output


# -- issue 9: per-job isolation, the zygote's channel, a batch with an attacker ----------------


@pytest.mark.skipif(not BUBBLEWRAP, reason="bubblewrap is not installed here")
def test_inside_a_job_no_capability_no_new_privileges_and_seccomp(course):
    config, _ = course
    with Worker(config.limits) as worker:
        if worker.isolation.kind != "bubblewrap":
            pytest.skip("bubblewrap could not start here (user namespaces refused?): "
                        + "; ".join(worker.fell_back))
        assert worker.facts == {"CapEff": "0000000000000000", "NoNewPrivs": "1",
                                "Seccomp": "2", "pid": "1"}
        assert "measured in a job: no capabilities, no new privileges, seccomp filter" \
            in worker.isolation.description


def test_the_process_fallback_also_drops_privileges_and_filters(course):
    config, _ = course
    with Worker(config.limits, isolate=False) as worker:
        assert worker.facts["CapEff"] == "0000000000000000"
        assert (worker.facts["NoNewPrivs"], worker.facts["Seccomp"]) == ("1", "2")
        if os.getuid() == 0:
            assert worker.uid != 0 and f"its own uid {worker.uid}" in worker.isolation.description


@pytest.mark.parametrize("isolate", [True, False], ids=["bubblewrap", "process"])
def test_the_zygote_refuses_a_request_without_its_uid(course, isolate, tmp_path):
    """A forged request ("uid": null, another uid, an extra field, a path) runs nothing."""
    config, _ = course
    with Worker(config.limits, isolate=isolate) as worker:
        limits = {"wall_seconds": 2, "cpu_seconds": 2, "memory_mb": 512, "file_mb": 8,
                  "processes": 32, "output_kb": 16}
        good = {"job": "0123456789abcdef", "uid": worker.uid, "limits": limits,
                "nonce": "0" * 32}
        for forged in ({**good, "uid": None}, {k: v for k, v in good.items() if k != "uid"},
                       {**good, "uid": 0}, {**good, "uid": worker.uid + 1},
                       {**good, "job": "/exchange"}, {**good, "private_pids": False}):
            worker.process.stdin.write(json.dumps(forged) + "\n")
            worker.process.stdin.flush()
            reply = json.loads(worker._read_line(timeout=10))
            assert reply["status"] == "refused", (forged, reply)
        path = tmp_path / "honest-ann.ipynb"
        path.write_text(json.dumps(honest_notebook("honest-ann")))
        assert grade_target(Target(path), config, worker).score == EXERCISE.points


def test_a_nested_nbgrader_tree_grades_nobody(tmp_path):
    """submitted/mallory/elman/submitted/victim/elman/elman.ipynb is not the victim's."""
    nested = tmp_path / "submitted" / "mallory" / "elman" / "submitted" / "victim" / "elman"
    nested.mkdir(parents=True)
    (nested / "elman.ipynb").write_text(json.dumps(honest_notebook("victim")))
    [target] = discover([tmp_path / "submitted"])
    assert target.student != "victim" and target.problem


def test_a_batch_of_twenty_with_an_attacker_keeps_every_honest_grade(course, alone, tmp_path):
    """19 honest students and one that leaves a spoiler behind, in two workers: every honest
    grade is its grade alone, and the batch ends within the documented bound (docs/security.md:
    one hostile submission adds at most submission_seconds + 15 s + a zygote restart)."""
    config, course_path = course
    folder = tmp_path / "class"
    folder.mkdir()
    attack = next(a for a in ATTACKS if a.id == "zombie-leader-with-threads")
    paths = [write_attack(attack, folder, {})]
    for i in range(19):
        student = HONEST[i % 3]
        paths.append(folder / f"{student}-{i:02d}.ipynb")
        paths[-1].write_text(json.dumps(honest_notebook(student)))
    started = time.monotonic()
    summary = grade_batch([Target(p) for p in paths], config, tmp_path / "results", workers=2)
    elapsed = time.monotonic() - started
    assert summary.graded == 20
    for result in summary.results:
        name = Path(result.metadata["path"]).name
        if not name.startswith("mallory"):
            assert fingerprint(result) == alone[result.student], name
    one_submission_at_most = LIMITS.submission_seconds + 15 + 5
    assert elapsed < 20 * 2.0 + one_submission_at_most


@pytest.mark.parametrize("isolate", [True, False], ids=["bubblewrap", "process"])
def test_a_zygote_that_dies_during_a_job_is_restarted_and_the_job_run_again(course, isolate,
                                                                            tmp_path):
    import threading

    config, _ = course
    path = tmp_path / "honest-ben.ipynb"
    data = honest_notebook("honest-ben")
    data["cells"].insert(0, code_cell("import time\ntime.sleep(1.0)\n"))
    path.write_text(json.dumps(data))
    with Worker(config.limits, isolate=isolate) as worker:
        first = worker.process
        threading.Timer(0.4, first.kill).start()
        result = grade_target(Target(path), config, worker)
        assert worker.process is not first and first.poll() is not None
        assert result.score == EXERCISE.points, result.output
        assert "grader_failure" not in result.metadata
        first = worker.process
        first.kill()
        first.wait()
        assert grade_target(Target(path), config, worker).score == EXERCISE.points
