"""`bptt ci collect`: students' repositories into the batch the grade of record is taken from.

Repositories cloned by URL, single clones and folders of clones are all taken; a
repository counts for a student only through its name and the roster; a notebook that
is a symbolic link (to the course secret, say) is refused; the batch then grades with
`bptt grade --roster`, each student as themselves.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from ci_notebooks import submission
from click.testing import CliRunner

from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.cli import main

COURSE = 'secret = "the collect tests secret 0123456789"\n'
GIT = ["git", "-c", "user.name=s", "-c", "user.email=s@example.org"]


def bptt(*arguments: str, cwd: Path):
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(arguments), catch_exceptions=False)
    finally:
        os.chdir(previous)


def repository(folder: Path, files: dict[str, str | Path]) -> Path:
    """A git repository with these files (a Path value: a symbolic link to it)."""
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            (folder / name).symlink_to(content)
        else:
            (folder / name).write_text(content)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "work"]):
        subprocess.run([*GIT, *command], cwd=folder, check=True)
    return folder


@pytest.fixture
def classroom(tmp_path) -> Path:
    (tmp_path / "bptt-course.toml").write_text(COURSE)
    (tmp_path / "roster.csv").write_text("student\nann\nbo\ncy\ndi\n")
    config = CourseConfig.from_file(tmp_path / "bptt-course.toml")
    clones = tmp_path / "clones"
    for student, kind in (("ann", "solved"), ("bo", "buggy")):
        repository(clones / f"elman-{student}",
                   {"elman.ipynb": json.dumps(submission(kind, student, config))})
    repository(clones / "elman-cy", {"elman.ipynb": tmp_path / "bptt-course.toml"})
    repository(clones / "elman-mallory", {"elman.ipynb": json.dumps(
        submission("solved", "mallory", config))})
    repository(tmp_path / "remote" / "elman-di", {"elman.ipynb": json.dumps(
        submission("solved", "di", config))})
    return tmp_path


def test_collect_then_grade_each_student_as_themselves(classroom):
    remote = (classroom / "remote" / "elman-di").as_uri()
    run = bptt("ci", "collect", "clones", remote, "--exercise", "elman",
               "--roster", "roster.csv", "--out", "collected", cwd=classroom)
    assert run.exit_code == 0, run.output
    assert "elman-mallory: not <elman>-<student>" in run.output
    assert "elman-cy: elman.ipynb is not a regular file" in run.output
    assert sorted(p.name for p in (classroom / "collected").glob("*.ipynb")) == [
        "elman-ann.ipynb", "elman-bo.ipynb", "elman-di.ipynb"]
    assert b"collect tests secret" not in b"".join(
        p.read_bytes() for p in (classroom / "collected").iterdir())
    with open(classroom / "collected" / "collected.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=classroom / "clones" / "elman-ann",
                          capture_output=True, text=True, check=True).stdout.strip()
    assert rows["ann"]["commit"] == head and rows["di"]["repository"] == "elman-di"

    run = bptt("grade", "collected", "--roster", "roster.csv", "--results", "results",
               cwd=classroom)
    assert run.exit_code == 0, run.output
    graded = {json.loads(p.read_text())["extra_data"]["student"]: json.loads(p.read_text())
              for p in (classroom / "results").glob("elman-*.json")}
    points = get_exercise("elman").points
    assert graded["ann"]["score"] == points == graded["di"]["score"]
    assert 0 < graded["bo"]["score"] < points


def test_collect_refuses_what_it_cannot_use(classroom):
    run = bptt("ci", "collect", "nowhere", "--exercise", "elman", "--roster", "roster.csv",
               "--out", "collected", cwd=classroom)
    assert run.exit_code == 2 and "no such repository or folder: nowhere" in run.output
    run = bptt("ci", "collect", "clones", "--exercise", "nope", "--roster", "roster.csv",
               "--out", "collected", cwd=classroom)
    assert run.exit_code == 2
