"""`bptt ci`: set up CI grading (GitHub Classroom, Gradescope) and collect for the grade
of record. docs/ci.md is the trust model; docs/github-classroom.md and docs/gradescope.md
walk through each route."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from grader.cli.grade import InvocationError


def _exercise(exercise_id: str):
    from exercises.registry import get_exercise

    try:
        return get_exercise(exercise_id)
    except ValueError as error:
        raise InvocationError(str(error)) from None


def _config(course: str | None):
    from grader.authoring.course import CourseConfig

    try:
        return CourseConfig.load(course, quiet=True)
    except ValueError as error:
        raise InvocationError(str(error)) from None


@click.group("ci")
def ci() -> None:
    """Grading in CI: GitHub Classroom, Gradescope, and the instructor's collection."""


@ci.command("github")
@click.argument("exercise_id")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the template repository.")
@click.option("--student", help="One student's repository (default: the shared release, "
                                "graded as the repository's student).")
@click.option("--prefix", help="The assignment's repository prefix in GitHub Classroom "
                               "(repositories are <prefix>-<user>; default: the exercise id).")
@click.option("--grader", "grader_spec",
              help="What the workflow installs with pip (default: this version, "
                   "bptt-autograder==VERSION; a git URL pinned to a commit works too).")
@click.option("--python-version", default="3.12", show_default=True,
              help="The Python the workflow sets up.")
@click.option("--course", type=click.Path(dir_okay=False),
              help="The course file, for its salt and limits (its secret is never written).")
def github(exercise_id, out_dir, student, prefix, grader_spec, python_version, course) -> None:
    """A GitHub Classroom template repository for EXERCISE_ID in OUT."""
    from grader.authoring.ci_files import github_template
    from grader.authoring.roster import RosterError, check_student_id

    exercise = _exercise(exercise_id)
    try:
        student = check_student_id(student) if student is not None else None
    except RosterError as error:
        raise InvocationError(str(error)) from None
    for path in github_template(exercise, Path(out_dir), _config(course), student=student,
                                grader_spec=grader_spec, prefix=prefix,
                                python_version=python_version):
        click.echo(str(path))
    click.echo(f"next: push {out_dir} to GitHub, mark it a template repository, and use it as "
               "the assignment's starter code (docs/github-classroom.md)")


@ci.command("gradescope")
@click.argument("exercise_id")
@click.option("--out", "out_zip", default="autograder.zip", show_default=True,
              type=click.Path(dir_okay=False), help="The bundle to upload to Gradescope.")
@click.option("--course", type=click.Path(dir_okay=False),
              help="The course file whose secret goes into the bundle (default: "
                   "$BPTT_COURSE or bptt-course.toml here or above).")
@click.option("--student-field", type=click.Choice(["email", "sid", "id", "name"]),
              default="email", show_default=True,
              help="Which field of Gradescope's submitter is the student id.")
@click.option("--python-version", default="3.12", show_default=True,
              help="The Python of Gradescope's base image (Ubuntu 24.04: 3.12).")
@click.option("--platform", "platforms", multiple=True,
              help="Wheel platform tags to download (default: manylinux x86_64).")
def gradescope(exercise_id, out_zip, course, student_field, python_version, platforms) -> None:
    """Gradescope's autograder.zip for EXERCISE_ID: setup.sh, run_autograder, the course
    file and the grader with every wheel it needs (downloaded now, with pip)."""
    from grader.authoring.ci_files import DEFAULT_PLATFORMS, gradescope_bundle

    exercise = _exercise(exercise_id)
    config = _config(course)
    if config.is_demo:
        raise InvocationError("no course file: the bundle would carry the demo secret, which "
                              "anyone can read; give --course FILE (bptt nbgrader init, or "
                              "write bptt-course.toml with your own secret)")
    try:
        path = gradescope_bundle(exercise, Path(out_zip), config, student_field=student_field,
                                 python_version=python_version,
                                 platforms=tuple(platforms) or DEFAULT_PLATFORMS)
    except (ValueError, RuntimeError) as error:
        raise InvocationError(str(error)) from None
    click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB): upload it as the "
               "assignment's autograder (docs/gradescope.md); it holds the course secret")


@ci.command("collect")
@click.argument("sources", nargs=-1, required=True)
@click.option("--exercise", "exercise_id", required=True, help="The exercise to collect.")
@click.option("--roster", required=True, type=click.Path(dir_okay=False),
              help="The roster: a repository is collected when it is <prefix>-<student>.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for <exercise>-<student>.ipynb and collected.csv.")
@click.option("--prefix", help="The repositories' prefix (default: the exercise id).")
def collect(sources, exercise_id, roster, out_dir, prefix) -> None:
    """The students' repositories (URLs, clones, or folders of clones) into one batch
    for `bptt grade OUT --roster ROSTER`, the grade of record."""
    from grader.authoring.roster import RosterError, read_roster
    from grader.grading.collect import collect as collect_repositories

    exercise = _exercise(exercise_id)
    try:
        students = [s.id for s in read_roster(roster)]
        collected, problems = collect_repositories(sources, exercise.id, students,
                                                   Path(out_dir), prefix)
    except (RosterError, FileNotFoundError, RuntimeError) as error:
        raise InvocationError(str(error)) from None
    for problem in problems:
        click.echo(f"left out: {problem}", err=True)
    missing = sorted(set(students) - {c.student for c in collected})
    if missing:
        click.echo(f"no repository for {len(missing)} of the roster: {', '.join(missing)}",
                   err=True)
    click.echo(f"collected {len(collected)} notebooks into {out_dir} (collected.csv: "
               "repository and commit of each)")
    click.echo(f"next: bptt grade {out_dir} --roster {roster} --course bptt-course.toml")


# -- run inside CI (the workflow and the bundle call these) --------------------------------


@ci.command("github-step", hidden=True)
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--notebook", required=True)
@click.option("--exercise", "exercise_id", required=True)
@click.option("--grade-status", type=int, default=0)
def github_step(results_dir, notebook, exercise_id, grade_status) -> None:
    """Report a `bptt grade` run to GitHub Actions: Points, `result`, the job summary."""
    from grader.grading.ci_routes import github_step as report

    text, status = report(Path(results_dir), notebook, exercise_id, grade_status, os.environ)
    click.echo(text, nl=False)
    raise SystemExit(status)


@ci.command("gradescope-run", hidden=True)
@click.option("--root", default="/autograder", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--settings", required=True, type=click.Path(dir_okay=False))
def gradescope_run(root, settings) -> None:
    """Grade one Gradescope submission into ROOT/results/results.json."""
    from grader.grading.ci_routes import gradescope_run as run
    from grader.reports.render import points_line

    result, isolation = run(Path(root), json.loads(Path(settings).read_text()))
    click.echo(isolation or "isolation: not started")
    click.echo(f"{result.student or '?'}: {points_line(result)}")
