"""`bptt ci gradescope`: the bundle, installed and run as Gradescope would.

The bundle is unzipped into a temporary folder laid out like /autograder, its setup.sh
installs the grader from the bundle's wheels alone (pip with --no-index: no network),
and run_autograder grades solved, buggy, crashing and hostile submissions, then runs
with a broken grader. Every results.json it leaves is checked against Gradescope's
specification (as a JSON schema), and every score against the same notebook graded
by `grade_batch` outside the bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest
from ci_notebooks import submission
from click.testing import CliRunner

from exercises.registry import get_exercise
from grader.authoring.ci_files import unpack_bundle
from grader.authoring.course import CourseConfig
from grader.cli import main
from grader.grading.batch import Target, grade_batch

SECRET = "the gradescope course secret 0123456789"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
POINTS = get_exercise("elman").points

# Gradescope's results.json, from gradescope-autograders.readthedocs.io/en/latest/specs/
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
TEST = {"type": "object", "properties": {
    "score": {"type": "number"}, "max_score": {"type": "number"},
    "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
    "name_format": FORMAT, "number": {"type": "string"}, "output": {"type": "string"},
    "output_format": FORMAT, "tags": {"type": "array", "items": {"type": "string"}},
    "visibility": VISIBILITY, "extra_data": {"type": "object"}},
    "additionalProperties": False}
RESULTS_SCHEMA = {"type": "object", "properties": {
    "score": {"type": "number"}, "execution_time": {"type": "number"},
    "output": {"type": "string"}, "output_format": FORMAT, "test_output_format": FORMAT,
    "test_name_format": FORMAT, "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
    "extra_data": {"type": "object"}, "tests": {"type": "array", "items": TEST},
    "leaderboard": {"type": "array"}},
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
    "additionalProperties": False}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """/autograder after Gradescope built the image: source/ unzipped, setup.sh run."""
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "bptt-course.toml").write_text(f'secret = "{SECRET}"\n')
    run = CliRunner().invoke(main, ["ci", "gradescope", "elman", "--out",
                                    str(folder / "autograder.zip"), "--course",
                                    str(folder / "bptt-course.toml"),
                                    "--python-version", PYTHON_VERSION],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    root = folder / "autograder"
    unpack_bundle(folder / "autograder.zip", root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True,
                           text=True, env=_environment(root, BPTT_PYTHON=sys.executable),
                           timeout=600)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "bptt-autograder ready" in setup.stdout
    return root


def _environment(root: Path, **extra) -> dict[str, str]:
    """The environment of Gradescope's harness: no PYTHONPATH (the bundle's own code
    must be the one that runs), no proxy (and pip was told --no-index)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONPATH", "VIRTUAL_ENV") and "proxy" not in k.lower()}
    return {**environment, "BPTT_AUTOGRADER_ROOT": str(root), **extra}


def run_autograder(root: Path, notebook: dict | None, email: str) -> tuple[dict, str]:
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
    (root / "submission").mkdir()
    if notebook is not None:
        (root / "submission" / "elman.ipynb").write_text(json.dumps(notebook))
    (root / "submission_metadata.json").write_text(json.dumps({
        "id": 1, "created_at": "2026-12-02T15:00:00.000000-07:00",
        "assignment": {"title": "BPTT", "total_points": str(POINTS)},
        "submission_method": "upload",
        "users": [{"email": email, "id": 77, "name": "A Student"}],
        "previous_submissions": []}))
    done = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True,
                          text=True, env=_environment(root), timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    return results, done.stdout + done.stderr


def graded_directly(notebook: dict, student: str) -> float:
    config = CourseConfig(secret=SECRET)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "elman.ipynb"
        path.write_text(json.dumps(notebook))
        summary = grade_batch([Target(path, student, "elman")], config, Path(folder) / "out",
                              workers=1)
    return summary.results[0].score


@pytest.mark.parametrize("kind", ["solved", "buggy", "crashing", "hostile"])
def test_the_bundle_grades_each_submission_as_the_submitter(autograder, kind):
    email = f"{kind}.student@example.org"
    config = CourseConfig(secret=SECRET)
    source = autograder / "source"
    notebook = submission(kind, email, config, hostile_paths=[
        str(source / "bptt-course.toml"), str(autograder / "results" / "results.json"),
        str(source / "run_autograder")])
    results, log = run_autograder(autograder, notebook, email)
    assert results["extra_data"]["student"] == email
    assert results["score"] == pytest.approx(graded_directly(notebook, email), abs=1e-12)
    assert sum(t["max_score"] for t in results["tests"]) == POINTS
    assert {"solved": results["score"] == POINTS, "buggy": 0 < results["score"] < POINTS,
            "crashing": results["score"] < POINTS, "hostile": results["score"] == POINTS}[kind]
    assert "grader_failure" not in json.dumps(results)
    text = json.dumps(results) + log
    assert SECRET not in text
    if kind == "hostile":
        assert "WROTE" not in results["output"] and "READ" not in results["output"]
        assert results["output"].count("cannot write") == 4


def test_an_upload_without_a_notebook_is_graded_zero_with_a_reason(autograder):
    results, _ = run_autograder(autograder, None, "empty@example.org")
    assert results["score"] == 0
    assert "upload your elman.ipynb" in results["tests"][0]["output"]


def test_a_grader_that_fails_still_leaves_a_failure_result(autograder):
    course = autograder / "source" / "bptt-course.toml"
    python = autograder / "bptt-venv" / "bin" / "python"
    notebook = submission("solved", "ann@example.org", CourseConfig(secret=SECRET))
    saved = course.read_bytes()
    course.unlink()                                     # the grader raises: Python's fallback
    try:
        results, _ = run_autograder(autograder, notebook, "ann@example.org")
    finally:
        course.write_bytes(saved)
        course.chmod(0o600)
    assert results["score"] == 0 and results["extra_data"]["metadata"]["grader_failure"]
    assert "not your grade" in results["tests"][0]["output"]

    real = python.resolve()
    python.unlink()
    python.write_text("#!/bin/sh\nexit 1\n")           # the interpreter itself is broken
    python.chmod(0o755)
    try:
        results, log = run_autograder(autograder, notebook, "ann@example.org")
    finally:
        python.unlink()
        python.symlink_to(real)
    assert results["score"] == 0 and results["extra_data"]["metadata"]["grader_failure"]
    assert "the grader failed" in log


def test_the_bundle_carries_the_secret_for_root_alone(autograder):
    course = autograder / "source" / "bptt-course.toml"
    assert course.stat().st_mode & 0o077 == 0
    assert (autograder / "source").stat().st_mode & 0o077 == 0
    assert CourseConfig.from_file(course).secret == SECRET


def test_a_bundle_needs_a_course_secret(tmp_path):
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        run = CliRunner().invoke(main, ["ci", "gradescope", "elman", "--out", "a.zip"])
    finally:
        os.chdir(previous)
    assert run.exit_code == 2 and "demo secret" in run.output
    assert not (tmp_path / "a.zip").exists()
