"""The `bptt` group, and the commands that write exercises and notebooks."""

import importlib

import click


class LazyGroup(click.Group):
    """A group whose heavier commands are imported only when they are run (or listed in
    --help): `bptt grade` of one notebook does not pay for `bptt demo`'s imports."""

    lazy: dict[str, str] = {}          # command name → "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
def main() -> None:
    """Exercises and autograding for backpropagation through time."""


def _add_demo() -> None:
    main.lazy = {**main.lazy, "demo": "grader.cli.demo:demo"}


# -- exercises, notebooks and nbgrader (see grader/authoring/notebooks.py) ---------------


@main.command("exercises")
@click.option("--json", "as_json", is_flag=True, help="Ids, titles and points as JSON.")
def list_exercises(as_json: bool) -> None:
    """The exercises there are, one id a line."""
    import json

    from exercises.registry import all_exercises

    exercises = [all_exercises()[key] for key in sorted(all_exercises())]
    if as_json:
        click.echo(json.dumps([{"id": e.id, "title": e.title, "points": e.points,
                                "stages": [s.name for s in e.stages]} for e in exercises],
                              indent=2, ensure_ascii=False))
    else:
        for exercise in exercises:
            click.echo(exercise.id)


@main.command()
@click.argument("exercise_id")
@click.option("--student", help="One student's notebook, the variant written in.")
@click.option("--roster", type=click.Path(dir_okay=False),
              help="A CSV with a column 'student' or 'id': one notebook per student.")
@click.option("--shared", is_flag=True,
              help="One notebook for everyone: the variant comes from STUDENT_ID at run time.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the notebooks to.")
@click.option("--solution", is_flag=True, help="The solved notebook instead of the release.")
@click.option("--source", is_flag=True, help="The nbgrader instructor source instead.")
@click.option("--course", type=click.Path(dir_okay=False),
              help="The course file (default: $BPTT_COURSE or ./bptt-course.toml), for the salt.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes writing notebooks (default: one per core).")
def generate(exercise_id: str, student: str | None, roster: str | None, shared: bool,
             out_dir: str, solution: bool, source: bool, course: str | None,
             workers: int | None) -> None:
    """Write EXERCISE_ID's notebooks: OUT/<id>-<student>.ipynb, or OUT/<id>.ipynb (--shared).

    The solved notebook ends in -solution.ipynb, the nbgrader source in -source.ipynb.
    """
    from pathlib import Path

    from exercises.registry import get_exercise
    from grader.authoring.course import CourseConfig
    from grader.authoring.roster import RosterError, check_student_id, read_roster

    if sum(bool(x) for x in (student, roster, shared)) != 1:
        raise click.UsageError("give exactly one of --student S, --roster FILE and --shared")
    if solution and source:
        raise click.UsageError("--solution and --source exclude each other")
    try:
        exercise = get_exercise(exercise_id)
        if roster:
            students = [s.id for s in read_roster(roster)]
        else:
            students = [None] if shared else [check_student_id(student)]
        salt = CourseConfig.load(course, quiet=True).salt
    except (ValueError, RosterError) as error:
        raise click.ClickException(str(error)) from None
    from grader.authoring.class_notebooks import write_class_notebooks

    kind = "solved" if solution else "source" if source else "release"
    suffix = {"release": "", "solved": "-solution", "source": "-source"}[kind]
    stems = [exercise.id if who is None else f"{exercise.id}-{who}" for who in students]
    paths = [Path(out_dir) / f"{stem}{suffix}.ipynb" for stem in stems]
    for path in write_class_notebooks(exercise.id, kind, students, salt, paths, workers):
        click.echo(path)


@main.group()
def nbgrader() -> None:
    """nbgrader integration."""


@nbgrader.command("init")
@click.argument("course_dir", type=click.Path(file_okay=False))
@click.option("--course-id", default="bptt", show_default=True, help="nbgrader's course id.")
@click.option("--force", is_flag=True,
              help="Rewrite nbgrader_config.py and the source notebooks if they exist "
                   "(the course secret is always kept).")
def nbgrader_init(course_dir: str, course_id: str, force: bool) -> None:
    """An nbgrader course in COURSE_DIR with every exercise as a source assignment."""
    from grader.authoring.nbgrader_course import init_course

    written, kept = init_course(course_dir, course_id, force)
    for path in written:
        click.echo(f"wrote {path}")
    for path in kept:
        click.echo(f"kept  {path}")
    click.echo(f"next: cd {course_dir} && nbgrader generate_assignment <exercise id>")


# -- grading (see grader/grading/batch.py) ------------------------------------------------

from grader.cli.grade import grade  # noqa: E402

main.add_command(grade)
_add_demo()


# -- the class report (see grader/reports/class_page.py) ----------------------------------


@main.command("report")
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for report.html and report.csv.")
@click.option("--title", default="Class report", show_default=True, help="The page's title.")
def report(results_dir: str, out_dir: str, title: str) -> None:
    """The class report of RESULTS_DIR (the results.json files `bptt grade` wrote):
    report.html (score histograms, pass rate per stage, misconceptions, submissions not
    graded in full, grading times) and report.csv."""
    from pathlib import Path

    from grader.cli.grade import InvocationError
    from grader.reports.class_page import results_in, write_report

    folder = Path(results_dir)
    if not folder.is_dir():
        raise InvocationError(f"no such folder: {folder}")
    results, skipped = results_in(folder)
    for note in skipped:
        click.echo(f"skipped {note}", err=True)
    if not results:
        raise InvocationError(f"no results.json files in {folder}: run `bptt grade` first")
    paths = write_report(results, Path(out_dir), title)
    click.echo(f"{paths['html']}\n{paths['csv']}")


# -- CI (see grader/cli/ci.py) --------------------------------------------------------------

main.lazy = {**main.lazy, "ci": "grader.cli.ci:ci"}
