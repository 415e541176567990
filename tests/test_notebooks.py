"""Notebooks: generation (deterministic, per student), self-checks, hidden tests, nbgrader.

The kernel tests run every registered exercise in two Jupyter kernels in all:
one runs, per exercise, the solved notebooks of three students, the nbgrader
source of a fourth and the shared source of a fifth (with `%reset -f` between
notebooks); the other runs every release notebook. The nbgrader round trip
runs `bptt nbgrader init`, `nbgrader generate_assignment` and `nbgrader
autograde` in a temporary course and reads nbgrader's gradebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import report
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises.instance import PUBLIC_SALT, choose_variant
from exercises.registry import all_exercises, get_exercise
from grader.authoring.notebooks import notebook, notebook_cells, plain
from grader.authoring.self_checks import (
    helper_source,
    pooled_arrays,
    shared_self_checks,
    student_self_checks,
)
from grader.authoring.solution_cells import solution_namespace
from grader.cli import main
from grader.grading.hidden_tests import claimed_variant_mismatch

EXERCISES = sorted(all_exercises())
SOLVED_STUDENTS = ("ada", "bao-17", "chloé")
SOURCE_STUDENT = "dmitri"
SHARED_STUDENT = "eve.s"


@pytest.fixture(autouse=True, scope="module")
def kernel_python_on_path():
    """Kernels run this interpreter: ipykernel's python3 spec in this environment (found
    first through JUPYTER_PATH, before any user-level spec) runs `python` from PATH."""
    saved = {name: os.environ.get(name) for name in ("PATH", "JUPYTER_PATH")}
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + (saved["PATH"] or "")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [os.path.join(sys.prefix, "share", "jupyter"), *filter(None, [saved["JUPYTER_PATH"]])])
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def as_node(cells, metadata=None):
    from nbformat import v4

    node = v4.new_notebook(metadata=metadata or {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    node.cells = cells
    return node


def execute(node, cwd: Path, allow_errors: bool = False):
    from nbclient import NotebookClient

    NotebookClient(node, kernel_name="python3", timeout=300, allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return node


def text_of(cell) -> str:
    """What a code cell printed, returned and raised (from a NotebookNode or raw JSON)."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append("".join(output["data"].get("text/plain", "")))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def with_student_id(node, student: str):
    for cell in node.cells:
        if cell.get("id") == "student-id":
            cell.source = f"STUDENT_ID = {student!r}"
    return node


# -- generation, without a kernel ------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_shared_notebook_computes_choose_variant(exercise_id):
    """The shared given cell's hashlib code gives exactly exercises.instance.choose_variant."""
    exercise = get_exercise(exercise_id)
    given = next(source for _, source, meta in notebook_cells(exercise, "release", None)
                 if meta["id"] == "given")
    namespace = {"STUDENT_ID": "someone"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(given, "<given cell>", "exec"), namespace)
    for i in range(300):
        student = f"student-{i}" if i % 3 else f"Ünïcode {i} ✓"
        expected = plain(choose_variant(exercise.variant_space, exercise.id, student).as_dict())
        assert plain(namespace["choose_variant"](student)) == expected, student


def test_generation_is_deterministic_and_students_differ(tmp_path):
    exercise = get_exercise("elman")
    first = tmp_path / "a.ipynb"
    second = tmp_path / "b.ipynb"
    for kind in ("release", "solved", "source"):
        for student in ("ada", None):
            from grader.authoring.notebooks import write_notebook

            write_notebook(notebook(exercise, kind, student), first)
            write_notebook(notebook(exercise, kind, student), second)
            assert first.read_bytes() == second.read_bytes(), (kind, student)
    variants = {json.dumps(plain(choose_variant(exercise.variant_space, "elman", s).as_dict()))
                for s in SOLVED_STUDENTS}
    assert len(variants) > 1
    releases = {json.dumps(notebook(exercise, "release", s)) for s in SOLVED_STUDENTS}
    assert len(releases) == len(SOLVED_STUDENTS)


def test_cli_generates_the_same_bytes_twice(tmp_path):
    runner = CliRunner()
    for out in ("one", "two"):
        result = runner.invoke(main, ["generate", "elman", "--student", "ada",
                                      "--out", str(tmp_path / out), "--solution"])
        assert result.exit_code == 0, result.output
    one = (tmp_path / "one" / "elman-ada-solution.ipynb").read_bytes()
    assert one == (tmp_path / "two" / "elman-ada-solution.ipynb").read_bytes()
    assert json.loads(one)["metadata"]["bptt"]["student"] == "ada"


def test_roster_gives_one_notebook_per_student_and_bad_rosters_say_why(tmp_path):
    runner = CliRunner()
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Student,Email\nAda L,ada,ada@example.org\nBao,bao-17,\n")
    result = runner.invoke(main, ["generate", "elman", "--roster", str(roster),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "elman-ada.ipynb", "elman-bao-17.ipynb"]
    for text, message in (("name,email\nx,y\n", "column 'student' or 'id'"),
                          ("id\nada\nada\n", "row 3"),
                          ("id\n../evil\n", "file name"),
                          ("id\n", "no students")):
        roster.write_text(text)
        result = runner.invoke(main, ["generate", "elman", "--roster", str(roster),
                                      "--out", str(tmp_path / "bad")])
        assert result.exit_code != 0 and message in result.output, result.output


def test_cli_lists_exercises():
    runner = CliRunner()
    assert runner.invoke(main, ["exercises"]).output.split() == EXERCISES
    listed = json.loads(runner.invoke(main, ["exercises", "--json"]).output)
    assert [e["id"] for e in listed] == EXERCISES
    assert all(e["points"] == get_exercise(e["id"]).points and e["title"] for e in listed)


def test_edited_variant_metadata_is_reported():
    exercise = get_exercise("elman")
    node = json.loads(json.dumps(notebook(exercise, "release", "ada")))
    assert claimed_variant_mismatch(node, exercise, "ada", PUBLIC_SALT) is None
    assert claimed_variant_mismatch(json.dumps(node), "elman", "ada", PUBLIC_SALT) is None
    variant = node["metadata"]["bptt"]["variant"]
    variant["activation"] = "relu" if variant["activation"] != "relu" else "tanh"
    report = claimed_variant_mismatch(json.dumps(node), exercise, "ada", PUBLIC_SALT)
    assert report and "activation" in report
    other = json.loads(json.dumps(notebook(exercise, "release", "bao-17")))
    assert "bao-17" in claimed_variant_mismatch(other, exercise, "ada", PUBLIC_SALT)
    shared = json.loads(json.dumps(notebook(exercise, "release", None)))
    assert claimed_variant_mismatch(shared, exercise, "ada", PUBLIC_SALT) is None


def test_self_check_finds_a_dropped_recurrent_term():
    """The elman rnn_backward self-check, run on a catalogue bug, says what does not match."""
    exercise = get_exercise("elman")
    for student in SOLVED_STUDENTS:
        plans = student_self_checks("elman", student, PUBLIC_SALT)
        assert "gradient" in plans["rnn_backward"]
        variant = choose_variant(exercise.variant_space, "elman", student).as_dict()
        namespace = solution_namespace(exercise, variant, student)
        exec(helper_source(exercise, plans), namespace)
        step = namespace["rnn_step_backward"]
        np = namespace["np"]

        def dropped(ds_out, x, s0, s, U, W, step=step, np=np):
            dx, dU, dW, db = np.zeros_like(x), np.zeros_like(U), np.zeros_like(W), 0.0
            ds_prev = np.zeros_like(s0)
            for t in reversed(range(x.shape[1])):
                s_prev = s[:, t - 1] if t > 0 else s0
                dx[:, t], ds_prev, dU_t, dW_t, db_t = step(ds_out[:, t], x[:, t], s_prev,
                                                           s[:, t], U, W)
                dU, dW, db = dU + dU_t, dW + dW_t, db + db_t
            return dx, ds_prev, dU, dW, db

        namespace["rnn_backward"] = dropped
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            namespace["self_check"]("rnn_backward")
        assert "✗ rnn_backward: dW does not match finite differences" in printed.getvalue()
        assert namespace["SELF_CHECK_RESULTS"]["rnn_backward"] is False


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_gradient_self_checks_catch_a_scaled_gradient(exercise_id):
    """Every finite-difference self-check fails a backward pass off by a factor of 1.5."""
    exercise = get_exercise(exercise_id)
    plans = student_self_checks(exercise_id, "ada", PUBLIC_SALT)
    variant = choose_variant(exercise.variant_space, exercise_id, "ada").as_dict()
    namespace = solution_namespace(exercise, variant, "ada")
    exec(helper_source(exercise, plans), namespace)
    for name in (name for name, plan in plans.items() if "gradient" in plan):
        right = namespace[name]

        def scaled(*args, right=right, **kwargs):
            result = right(*args, **kwargs)
            if isinstance(result, dict):
                return {key: 1.5 * value for key, value in result.items()}
            if isinstance(result, tuple):
                return tuple(1.5 * value for value in result)
            return 1.5 * result

        namespace[name] = scaled
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            namespace["self_check"](name)
        namespace[name] = right
        assert "does not match finite differences" in printed.getvalue(), printed.getvalue()
        assert namespace["SELF_CHECK_RESULTS"][name] is False


def test_every_exercise_has_self_checks():
    stages = per_student = shared = gradient = 0
    for exercise_id in EXERCISES:
        names = {stage.name for stage in get_exercise(exercise_id).stages}
        plans = student_self_checks(exercise_id, "ada", PUBLIC_SALT)
        assert plans, exercise_id
        stages += len(names)
        per_student += len(names & plans.keys())
        gradient += sum("gradient" in plan for plan in plans.values())
        shared += len(names & shared_self_checks(exercise_id, PUBLIC_SALT).keys())
    report("notebook self-checks", f"{per_student}/{stages} stages per student "
           f"({gradient} by finite differences), {shared}/{stages} in the shared release")


def _unpooled(value, arrays):
    """pooled_arrays undone: every ["array", kind, shape, i] back to its base64 string."""
    if isinstance(value, list) and value and value[0] == "array" and len(value) == 4:
        return [*value[:3], arrays[value[3]]]
    if isinstance(value, list) and value and value[0] == "value":
        return value
    if isinstance(value, dict):
        return {key: _unpooled(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_unpooled(item, arrays) for item in value]
    return value


_b64 = st.binary(min_size=8, max_size=24).map(lambda b: __import__("base64").b64encode(b).decode())
_encoded = st.recursive(
    st.one_of(st.builds(lambda b, n: ["array", "f", [n], b], st.sampled_from(
        ["AAAAAAAA8D8=", "AAAAAAAAAEA="]) | _b64, st.integers(1, 3)),
        st.builds(lambda v: ["value", v], st.lists(st.sampled_from(["array", "f", "x"]),
                                                   max_size=4)),
        st.builds(lambda v: ["value", v], st.integers() | st.none())),
    lambda inner: st.builds(lambda d: ["dict", d], st.dictionaries(st.text(max_size=3), inner,
                                                                   max_size=3))
    | st.builds(lambda items: ["list", items], st.lists(inner, max_size=3))
    | st.dictionaries(st.sampled_from(["inputs", "outputs", "calls"]), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_encoded)
def test_pooled_arrays_store_each_array_once_and_lose_nothing(plans):
    pooled, arrays = pooled_arrays(plans)
    assert _unpooled(pooled, arrays) == plans
    assert len(arrays) == len(set(arrays))
    assert set(arrays) == set(_array_strings(plans))


def _array_strings(value):
    if isinstance(value, list) and value and value[0] == "array" and len(value) == 4:
        yield value[3]
    elif isinstance(value, list) and value and value[0] == "value":
        return
    elif isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _array_strings(item)


def _array_pairs(built, pooled):
    """(as built, as pooled) for every array literal, walking both plans side by side."""
    if isinstance(built, list) and built and built[0] == "array" and len(built) == 4:
        yield built, pooled
    elif isinstance(built, list) and built and built[0] == "value":
        return
    elif isinstance(built, dict):
        for key, item in built.items():
            yield from _array_pairs(item, pooled[key])
    elif isinstance(built, list):
        for item, other in zip(built, pooled, strict=True):
            yield from _array_pairs(item, other)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_helper_cell_decodes_every_worked_example_as_built(exercise_id):
    """Every array of the helper's worked examples, read back through the cell's own
    _decode, is the array the plans were built with, bit for bit."""
    import base64

    exercise = get_exercise(exercise_id)
    for plans in (shared_self_checks(exercise_id, PUBLIC_SALT),
                  student_self_checks(exercise_id, "ada", PUBLIC_SALT)):
        namespace = {}
        exec(helper_source(exercise, plans), namespace)
        pairs = list(_array_pairs(plans, namespace["SELF_CHECKS"]))
        assert pairs, exercise_id
        for built, pooled in pairs:
            expected = np.frombuffer(base64.b64decode(built[3]),
                                     "<i8" if built[1] == "i" else "<f8").reshape(built[2])
            got = namespace["_decode"](pooled)
            assert got.shape == expected.shape and got.dtype.kind == expected.dtype.kind
            assert got.tobytes() == expected.tobytes()
        assert len(namespace["EXAMPLE_ARRAYS"]) == len(set(namespace["EXAMPLE_ARRAYS"]))


def test_the_shared_release_helper_holds_each_array_once():
    """elman's shared release repeats the same weights in every training example's calls:
    pooled, its helper cell is less than half of one base64 string per array."""
    plans = shared_self_checks("elman", PUBLIC_SALT)
    pooled = len(helper_source(get_exercise("elman"), plans))
    assert pooled < len(repr(plans)) / 2, (pooled, len(repr(plans)))


# -- in a real kernel ------------------------------------------------------------------------


def solved_batch() -> tuple[list, list[tuple[str, str, object]]]:
    """All exercises' solved and source notebooks as one notebook, and what each cell is."""
    from nbformat import v4

    cells, labels = [], []

    def extend(node, label):
        cells.append(v4.new_code_cell("%reset -f"))
        labels.append(("reset", label, None))
        for cell in node.cells:
            if cell.cell_type == "code":
                cells.append(cell)
                labels.append((cell.get("id", ""), label, cell))

    for exercise_id in EXERCISES:
        exercise = get_exercise(exercise_id)
        for student in SOLVED_STUDENTS:
            extend(notebook(exercise, "solved", student), f"{exercise_id}/solved/{student}")
        extend(notebook(exercise, "source", SOURCE_STUDENT), f"{exercise_id}/source")
        extend(with_student_id(notebook(exercise, "source", None), SHARED_STUDENT),
               f"{exercise_id}/shared-source")
    return cells, labels


def test_solved_and_source_notebooks_run_in_a_kernel(tmp_path):
    cells, labels = solved_batch()
    node = execute(as_node(cells), tmp_path, allow_errors=True)
    problems, checked, graded, plots, completions = [], 0, 0, 0, 0
    for cell, (cell_id, label, _) in zip(node.cells, labels, strict=True):
        text = text_of(cell)
        if any(o["output_type"] == "error" for o in cell.get("outputs", [])):
            problems.append(f"{label} {cell_id}: {text[-400:]}")
        elif cell_id.endswith("-demo"):
            stage = get_exercise(label.split("/")[0]).stage(cell_id.removesuffix("-demo"))
            drawn = {kind for o in cell.outputs if o["output_type"] == "display_data"
                     for kind in o["data"]} & {"image/png", "image/svg+xml"}
            plots += bool(drawn)
            completions += "'de' → 'de" in text
            if stage.training is not None and not drawn:
                problems.append(f"{label} {cell_id}: no loss plot drawn: {text[-400:]}")
            if stage.training is None and "'de' → 'de" not in text:
                problems.append(f"{label} {cell_id}: no autocompletion: {text[-400:]}")
        elif cell_id.endswith("-self-check"):
            checked += 1
            if "✗" in text or not ("✓" in text or "no self-check" in text):
                problems.append(f"{label} {cell_id}: {text}")
        elif cell_id.endswith("-tests"):
            graded += 1
            exercise = get_exercise(label.split("/")[0])
            points = exercise.stage(cell_id.removesuffix("-tests")).points
            results = [o for o in cell.outputs if o["output_type"] == "execute_result"]
            if not results or float(results[-1]["data"]["text/plain"]) != points:
                problems.append(f"{label} {cell_id}: not full marks: {text[-400:]}")
        elif cell_id == "self-check-summary":   # the closing table: every stage ✓, as HTML too
            html = "".join(o["data"].get("text/html", "") for o in cell.get("outputs", [])
                           if o["output_type"] == "display_data")
            if "✗" in text or "·" in text or "<table>" not in html:
                problems.append(f"{label} {cell_id}: {text}")
    assert not problems, "\n".join(problems)
    stages = sum(len(get_exercise(e).stages) for e in EXERCISES)
    assert checked == 5 * stages and graded == 2 * stages
    training = sum(s.training is not None for e in EXERCISES for s in get_exercise(e).stages)
    demos = sum(s.demo is not None for e in EXERCISES for s in get_exercise(e).stages)
    assert plots == 5 * training and completions == 5 * (demos - training) > 0
    report("notebook demos", f"{plots} loss plots drawn, {completions} autocompletions")


def test_release_notebooks_stop_at_the_first_stub(tmp_path):
    from nbformat import v4

    cells, labels = [], []
    for exercise_id in EXERCISES:
        exercise = get_exercise(exercise_id)
        cells.append(v4.new_code_cell("%reset -f"))
        labels.append((exercise_id, "reset"))
        for cell in notebook(exercise, "release", SOLVED_STUDENTS[0]).cells:
            if cell.cell_type == "code":
                cells.append(cell)
                labels.append((exercise_id, cell.get("id", "")))
    node = execute(as_node(cells), tmp_path, allow_errors=True)
    for exercise_id in EXERCISES:
        first = get_exercise(exercise_id).stages[0].name
        errors = [(cell_id, cell) for cell, (eid, cell_id) in zip(node.cells, labels, strict=True)
                  if eid == exercise_id and any(o["output_type"] == "error"
                                                for o in cell.get("outputs", []))]
        assert errors, f"{exercise_id}: the release ran without stopping"
        cell_id, cell = errors[0]
        assert cell_id == f"{first}-self-check", (exercise_id, cell_id, text_of(cell))
        error = next(o for o in cell.outputs if o["output_type"] == "error")
        assert error["ename"] == "NotImplementedError"
        assert f"{first} is not implemented yet" in error["evalue"]
        assert f"✗ {first}: not implemented yet" in text_of(cell)


# -- nbgrader ------------------------------------------------------------------------------------

BUGGY_RNN_BACKWARD = '''def rnn_backward(ds_out, x, s0, s, U, W):
    """BPTT whose bias gradient is averaged over the batch: only db is wrong."""
    N, T, _ = x.shape
    dx = np.zeros_like(x)
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    ds_next = np.zeros_like(s0)
    for t in reversed(range(T)):
        s_prev = s[:, t - 1] if t > 0 else s0
        dx[:, t], ds_next, dU_t, dW_t, db_t = rnn_step_backward(
            ds_out[:, t] + ds_next, x[:, t], s_prev, s[:, t], U, W)
        dU += dU_t
        dW += dW_t
        db += db_t / N
    return dx, ds_next, dU, dW, db
'''


def nbgrader_run(course: Path, *args: str) -> None:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
           + os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def submit(course: Path, student: str, replace: dict[str, str] | None = None) -> None:
    """A student's submission: the release with STUDENT_ID and their variant's solutions."""
    release = json.loads((course / "release" / "elman" / "elman.ipynb").read_text())
    solved = {meta["id"]: source
              for _, source, meta in notebook_cells(get_exercise("elman"), "solved", student)}
    for cell in release["cells"]:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("id") == "student-id":
            cell["source"] = f"STUDENT_ID = {student!r}"
        elif nbgrader.get("solution"):
            cell["source"] = (replace or {}).get(nbgrader["grade_id"], solved[nbgrader["grade_id"]])
    path = course / "submitted" / student / "elman" / "elman.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(release, indent=1))


def test_nbgrader_round_trip(tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    result = CliRunner().invoke(main, ["nbgrader", "init", str(course)])
    assert result.exit_code == 0, result.output
    assert (course / "bptt-course.toml").is_file()
    secret = (course / "bptt-course.toml").read_text()
    for exercise_id in EXERCISES:
        assert (course / "source" / exercise_id / f"{exercise_id}.ipynb").is_file()
    source = course / "source" / "elman" / "elman.ipynb"
    edited = source.read_text().replace("Backpropagation through time", "BPTT, edited")
    source.write_text(edited)
    again = CliRunner().invoke(main, ["nbgrader", "init", str(course)])
    assert "kept" in again.output and "bptt-course.toml" in again.output
    assert (course / "bptt-course.toml").read_text() == secret  # an existing secret is kept
    assert source.read_text() == edited                         # and the instructor's edits
    CliRunner().invoke(main, ["nbgrader", "init", str(course), "--force"])
    assert (course / "bptt-course.toml").read_text() == secret
    assert source.read_text() != edited

    nbgrader_run(course, "generate_assignment", "elman")
    release = (course / "release" / "elman" / "elman.ipynb").read_text()
    assert "BEGIN SOLUTION" not in release and "grade_stage" not in release
    submit(course, "good-student")
    submit(course, "buggy-student", {"rnn_backward": BUGGY_RNN_BACKWARD})
    nbgrader_run(course, "autograde", "elman")

    maximum = get_exercise("elman").points
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        good = gradebook.find_submission("elman", "good-student")
        buggy = gradebook.find_submission("elman", "buggy-student")
        assert good.max_score == maximum
        assert good.score == maximum
        assert 0 < buggy.score < maximum
        grades = {g.name: g.auto_score for g in
                  gradebook.find_submission_notebook("elman", "elman", "buggy-student").grades}
    assert 0 < grades["rnn_backward-tests"] < 3
    autograded = json.loads((course / "autograded" / "buggy-student" / "elman"
                             / "elman.ipynb").read_text())
    feedback = next(text_of(cell) for cell in autograded["cells"]
                    if cell.get("id") == "rnn_backward-tests")
    assert "Likely mistake" in feedback and "demo secret" not in feedback, feedback
    assert all(score == get_exercise("elman").stage(name.removesuffix("-tests")).points
               for name, score in grades.items() if name != "rnn_backward-tests")


# -- grade_stage and the student id, in-process ----------------------------------------------


def test_student_id_comes_from_nbgrader_autograde_folder(tmp_path, monkeypatch):
    from grader.grading.hidden_tests import student_id

    folder = tmp_path / "autograded" / "trusted-id" / "elman"
    folder.mkdir(parents=True)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert student_id("elman", {"STUDENT_ID": "claimed"}, cwd=folder) == "trusted-id"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert student_id("elman", {"STUDENT_ID": " claimed "}, cwd=folder) == "claimed"
    node = notebook(get_exercise("elman"), "release", "from-metadata")
    (folder / "elman.ipynb").write_text(json.dumps(node))
    assert student_id("elman", {}, cwd=folder) == "from-metadata"
    with pytest.raises(RuntimeError, match="STUDENT_ID"):
        student_id("elman", {}, cwd=tmp_path)


def test_grade_stage_returns_points_and_fails_a_stub(monkeypatch, tmp_path, capsys):
    from grader.grading.hidden_tests import grade_stage

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("BPTT_COURSE", raising=False)
    exercise = get_exercise("elman")
    variant = choose_variant(exercise.variant_space, "elman", "ada").as_dict()
    namespace = solution_namespace(exercise, variant, "ada")
    earned = grade_stage("elman", "rnn_backward", namespace)
    assert type(earned) is float and earned == exercise.stage("rnn_backward").points
    assert "rnn_backward is right on every probe" in capsys.readouterr().out

    def not_written(**kwargs):
        raise NotImplementedError()

    namespace["rnn_step_backward"] = not_written
    with pytest.raises(AssertionError, match="not implemented yet"):
        grade_stage("elman", "rnn_step_backward", namespace)
    captured = capsys.readouterr()
    assert captured.err == ""


def test_the_command_line_and_grade_stage_do_not_import_nbformat():
    """`import nbformat` costs seconds here (DESIGN.md): only writing a notebook may pay it.
    matplotlib is imported by the notebooks' loss plots in the student's kernel only."""
    code = ("import sys, grader.cli, grader.grading.hidden_tests, grader.authoring.notebooks; "
            "print('nbformat' in sys.modules, 'matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False False"


@pytest.mark.parametrize("exercise_id", ["elman", "two-layer"])
def test_a_roster_written_on_every_core_is_the_same_bytes_as_on_one(exercise_id, tmp_path):
    """`bptt generate --roster` shares the students out among processes; each file is
    the same, byte for byte, as when one process writes them all, and listed in order."""
    runner = CliRunner()
    roster = tmp_path / "roster.csv"
    students = ["ada", "bao-17", "cy", "dee", "eve", "fay", "gus"]
    roster.write_text("id\n" + "\n".join(students) + "\n")
    written = {}
    for workers in ("1", "3"):
        result = runner.invoke(main, ["generate", exercise_id, "--roster", str(roster),
                                      "--out", str(tmp_path / workers), "--workers", workers])
        assert result.exit_code == 0, result.output
        assert result.output.split() == [str(tmp_path / workers / f"{exercise_id}-{s}.ipynb")
                                         for s in students]
        written[workers] = {p.name: p.read_bytes() for p in (tmp_path / workers).iterdir()}
    assert written["1"] == written["3"] and len(written["1"]) == len(students)


def _top_level_names(source: str) -> set[str]:
    """The names a cell's code binds at the top level (functions, classes, assignments)."""
    import ast

    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_no_cell_rebinds_a_name_of_the_self_check_helper(exercise_id):
    """The helper's private functions (_example, _run, …) stay theirs: a later given cell
    (the loss plot, say) that reused one broke every self-check after it."""
    exercise = get_exercise(exercise_id)
    for student in ("ada", None):
        cells = notebook(exercise, "solved" if student else "source", student)["cells"]
        sources = {cell.get("id"): "".join(cell["source"]) for cell in cells
                   if cell["cell_type"] == "code"}
        helper = _top_level_names(sources.pop("self-check-helper"))
        for cell_id, source in sources.items():
            clash = {name for name in _top_level_names(source) & helper if name.startswith("_")}
            assert not clash, (cell_id, clash)
