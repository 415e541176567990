"""`bptt ci github`: the template repository's workflow, run as GitHub would run it.

The workflow parses as YAML and uses only well-known actions pinned to commits. Its
own run steps are executed here, in a git repository made from the template, with the
files and variables a runner gives a step; the step's log is read the way the runner
reads workflow commands, $GITHUB_OUTPUT the way it reads outputs, and the `result`
output the way GitHub Classroom's reporter turns it into "Points X/Y". The points it
reports must be the ones the grader gives the same notebook outside CI (solved: full,
buggy: partial), and no notebook can change them or issue a command.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from ci_notebooks import submission
from click.testing import CliRunner

from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.cli import main
from grader.grading.batch import Target, grade_batch
from grader.grading.ci_routes import neutralised

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WELL_KNOWN = ("actions/checkout", "actions/setup-python", "actions/upload-artifact",
              "classroom-resources/autograding-grading-reporter")
SKIPPED_STEPS = ("install", "userns")     # pip install and sysctl: the runner's machine
COMMAND = re.compile(r"^(::|##\[)")
POINTS = re.compile(r"^points\s*[-+\d.]+\s*/", re.IGNORECASE)
COURSE_FILE = 'secret = "the instructor secret, never in a template 0123"\n'


def bptt(*arguments: str):
    return CliRunner().invoke(main, list(arguments), catch_exceptions=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    (folder / "bptt-course.toml").write_text(COURSE_FILE)
    run = bptt("ci", "github", "elman", "--out", str(folder / "repo"),
               "--course", str(folder / "bptt-course.toml"))
    assert run.exit_code == 0, run.output
    return folder / "repo"


def workflow(repo: Path) -> dict:
    return yaml.safe_load((repo / ".github/workflows/autograding.yml").read_text())


def test_the_workflow_parses_and_pins_well_known_actions(template):
    flow = workflow(template)
    assert flow[True].keys() >= {"push"}           # YAML 1.1 reads the key `on` as True
    steps = flow["jobs"]["grade"]["steps"]
    used = [step["uses"] for step in steps if "uses" in step]
    assert len(used) == 4
    for action in used:
        name, _, ref = action.partition("@")
        assert name in WELL_KNOWN, action
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action} is not pinned to a commit"
    assert set(flow["permissions"].values()) <= {"read", "write"}
    assert flow["permissions"]["contents"] == "read"


def test_the_template_holds_no_course_secret_and_the_release(template):
    texts = [p.read_bytes() for p in template.rglob("*") if p.is_file()]
    assert not any(b"the instructor secret" in text for text in texts)
    course = CourseConfig.from_file(template / ".bptt/bptt-course.toml")
    assert course.is_demo
    notebook = json.loads((template / "elman.ipynb").read_text())
    assert notebook["metadata"]["bptt"]["exercise"] == "elman"


# -- running the workflow's steps ------------------------------------------------------


def runner_commands(log: str) -> list[str]:
    """The workflow commands GitHub's runner would read from a step's log (stop-commands
    honoured: lines between ::stop-commands::TOKEN and ::TOKEN:: are not commands)."""
    commands, stopped = [], None
    for line in log.splitlines():
        text = line.lstrip()
        if stopped is not None:
            if text == f"::{stopped}::":
                stopped = None
            continue
        if COMMAND.match(text):
            commands.append(text)
            if text.startswith("::stop-commands::"):
                stopped = text.removeprefix("::stop-commands::")
    return commands


def step_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIMITER blocks."""
    outputs, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def reporter(encoded: str) -> tuple[str, list[str]]:
    """GitHub Classroom's reporter (src/main.js, console-results.js, notify-classroom.js):
    the Points text of its notice, and the lines it prints to its own log."""
    results = json.loads(base64.b64decode(encoded))
    total = sum(test["score"] for test in results["tests"])
    printed = []
    for test in results["tests"]:
        printed.append(test["name"])
        if test["status"] == "error":
            printed += (test["message"] or "").splitlines()
    return f"Points {total:g}/{results['max_score']:g}", printed


def run_workflow(repo: Path, repository: str, scratch: Path) -> dict:
    """The workflow's run steps in `repo`, as a runner gives them their environment."""
    files = {name: scratch / name for name in ("output", "summary", "env", "path")}
    for path in files.values():
        path.write_text("")
    context = {"github.repository": repository,
               "github.repository_owner": repository.split("/")[0]}
    logs = {}
    for step in workflow(repo)["jobs"]["grade"]["steps"]:
        if "run" not in step or step.get("id") in SKIPPED_STEPS:
            continue
        environment = {**os.environ, "GITHUB_ACTIONS": "true", "CI": "true",
                       "GITHUB_OUTPUT": str(files["output"]),
                       "GITHUB_STEP_SUMMARY": str(files["summary"]),
                       "GITHUB_ENV": str(files["env"]), "GITHUB_PATH": str(files["path"]),
                       "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
        for name, value in step.get("env", {}).items():
            environment[name] = re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}",
                                       lambda m: context[m.group(1)], str(value))
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=environment,
                              capture_output=True, text=True, timeout=300)
        logs[step["id"]] = done.stdout + done.stderr
        assert done.returncode == 0, logs[step["id"]]
    return {"logs": logs, "outputs": step_outputs(files["output"]),
            "summary": files["summary"].read_text(), "output_file": files["output"].read_text()}


def student_repository(template: Path, folder: Path, notebook: dict) -> Path:
    repo = folder / "repo"
    shutil.copytree(template, repo)
    (repo / "elman.ipynb").write_text(json.dumps(notebook))
    git = ["git", "-c", "user.name=s", "-c", "user.email=s@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "my work"]):
        subprocess.run([*git, *command], cwd=repo, check=True)
    return repo


def graded_outside_ci(repo: Path, student: str) -> tuple[float, float]:
    """The same notebook graded by grade_batch directly, with the template's course file."""
    config = CourseConfig.from_file(repo / ".bptt/bptt-course.toml")
    with tempfile.TemporaryDirectory() as folder:
        summary = grade_batch([Target(repo / "elman.ipynb", student, "elman")], config,
                              Path(folder), workers=1)
    result = summary.results[0]
    return result.score, result.max_score


@pytest.mark.parametrize(("kind", "student"), [("solved", "ann"), ("buggy", "bo-42"),
                                               ("hostile", "cy"), ("raising", "di")])
def test_the_workflow_reports_the_grade_and_nothing_a_notebook_says(template, tmp_path, kind,
                                                                  student):
    config = CourseConfig.from_file(template / ".bptt/bptt-course.toml")
    notebook = submission(kind, student, config,
                          hostile_paths=[str(tmp_path / "output"), str(tmp_path / "summary")])
    repo = student_repository(template, tmp_path, notebook)
    ran = run_workflow(repo, f"classroom-org/elman-{student}", tmp_path)

    points, printed = reporter(ran["outputs"]["result"])
    score, max_score = graded_outside_ci(repo, student)
    assert points == f"Points {score:g}/{max_score:g}"
    assert max_score == get_exercise("elman").points
    if kind in ("solved", "hostile"):
        assert score == max_score
    else:
        assert 0 < score < max_score
    assert ran["logs"]["bptt"].strip() == points          # the step prints nothing else
    assert runner_commands(ran["logs"]["bptt"]) == []
    assert [line for line in printed if COMMAND.match(line.lstrip())
            or POINTS.match(line.lstrip())] == []
    assert ran["output_file"].count("result=") == 1      # only the grader's own line
    assert set(ran["outputs"]) == {"result"}
    page = repo / "bptt-results" / "feedback" / "elman.md"    # the feedback page, once written
    if page.is_file():
        assert ran["summary"] == neutralised(page.read_text())
    else:
        assert ran["summary"].startswith(f"## {points}")
    assert [line for line in ran["summary"].splitlines()
            if COMMAND.match(line.lstrip()) or POINTS.match(line.lstrip())] == []
    if kind == "hostile":
        log = (repo / "bptt-results/grade.log").read_text()
        feedback = json.loads((repo / "bptt-results/elman.json").read_text())["output"]
        assert "GITHUB_OUTPUT in the sandbox: None" in feedback
        assert "WROTE" not in feedback and "READ" not in feedback
        assert feedback.count("cannot write") == 3
        assert "| ::set-output" in ran["summary"]          # shown, made plain
        assert "Points 100/100" not in log.replace("| Points 100/100", "")


@pytest.mark.parametrize("isolate", [True, False], ids=["bubblewrap", "process"])
def test_the_sandbox_cannot_reach_the_step_files_even_when_the_grader_can(tmp_path, isolate):
    """Without the workflow's `env -u`: $GITHUB_OUTPUT set for the grader itself, the file
    world-readable in a world-searchable folder, as on a runner."""
    folder = Path(tempfile.mkdtemp(prefix="bptt-runner-files-"))
    try:
        folder.chmod(0o755)
        output = folder / "set_output"
        output.write_text("")
        output.chmod(0o644)
        config = CourseConfig()
        path = tmp_path / "elman.ipynb"
        path.write_text(json.dumps(submission("hostile", "ann", config,
                                              hostile_paths=[str(output)])))
        previous = os.environ.get("GITHUB_OUTPUT")
        os.environ["GITHUB_OUTPUT"] = str(output)
        try:
            summary = grade_batch([Target(path, "ann", "elman")], config, tmp_path / "out",
                                  workers=1, isolate=isolate)
        finally:
            os.environ.pop("GITHUB_OUTPUT")
            if previous is not None:
                os.environ["GITHUB_OUTPUT"] = previous
        result = summary.results[0]
        assert output.read_text() == ""
        assert "GITHUB_OUTPUT in the sandbox: None" in result.output
        assert "WROTE" not in result.output
        assert result.score == result.max_score
    finally:
        shutil.rmtree(folder)


def test_a_missing_notebook_is_an_error_the_student_can_read(template, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(template, repo)
    (repo / "elman.ipynb").unlink()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    with pytest.raises(AssertionError, match="could not be graded"):
        run_workflow(repo, "classroom-org/elman-ann", tmp_path)
    reported, _ = reporter(step_outputs(tmp_path / "output")["result"])
    assert reported == f"Points 0/{get_exercise('elman').points:g}"


@pytest.mark.parametrize("text", ["::set-output name=x::1", "  ::error::x", "##[error]x",
                                  "Points 100/100", "points 3.5 / 4", "\r::warning::x"])
def test_neutralised_text_is_never_a_command_or_a_score(text):
    for line in neutralised(f"before\n{text}\nafter").splitlines():
        assert not COMMAND.match(line.lstrip()) and not POINTS.match(line.lstrip())
    assert text.strip() in neutralised(text)
