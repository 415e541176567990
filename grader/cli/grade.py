"""`bptt grade PATH...`: grade submissions in the sandbox and write every rendering.

Exit status 0 when grading ran, whatever the scores; 1 when the grader itself
could not run (no submissions found, an unreadable course file).
"""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--results", "results_dir", default="bptt-results", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for <file stem>.json (Gradescope), class.csv, junit.xml, "
                   "summary.txt and the gradebook.")
@click.option("--exercise", help="Grade every file as this exercise (else: notebook metadata, "
                                 "or the nbgrader assignment folder).")
@click.option("--student", help="Grade every file as this student's (else: the nbgrader "
                                "submitted/<student>/ folder, or the notebook metadata).")
@click.option("--course", type=click.Path(dir_okay=False),
              help="The course file (default: $BPTT_COURSE or ./bptt-course.toml).")
@click.option("--workers", type=int, help="Parallel sandboxes (default: one per core).")
@click.option("--no-isolation", is_flag=True,
              help="Run student code without bubblewrap (weaker; for debugging).")
@click.option("--nbgrader", "nbgrader_course", type=click.Path(file_okay=False, exists=True),
              help="Also write the scores into this nbgrader course's gradebook.db.")
def grade(paths, results_dir, exercise, student, course, workers, no_isolation,
          nbgrader_course) -> None:
    """Grade notebooks or .py files: files, folders or an nbgrader submitted/ tree."""
    from rich.console import Console
    from rich.progress import Progress

    from grader.authoring.course import CourseConfig
    from grader.grading.batch import discover, grade_batch
    from grader.reports.class_report import write_class_reports
    from grader.reports.render import github_classroom_notices, github_classroom_output, points_line

    console = Console(stderr=True)
    try:
        config = CourseConfig.load(course, quiet=True)
        targets = discover(paths)
    except (ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    if not targets:
        raise click.ClickException("no .ipynb or .py submissions found under "
                                   + ", ".join(paths))
    if config.is_demo:
        console.print("[yellow]warning:[/] no course file: the demo secret is in use, so "
                      "anyone can compute the hidden probes (see bptt-course.toml)")
    results_dir = Path(results_dir)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("grading", total=len(targets))
        summary = grade_batch(targets, config, results_dir, student=student, exercise=exercise,
                              workers=workers, isolate=not no_isolation,
                              progress=lambda done, total: progress.update(task, completed=done,
                                                                           total=total))
    write_class_reports(summary.results, results_dir, summary.isolation)
    if nbgrader_course:
        from grader.grading.nbgrader_gradebook import write_auto_scores

        try:
            problems = write_auto_scores(nbgrader_course, [
                (result, Path(result.metadata.get("path", "")).stem)
                for result in summary.results])
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        for problem in problems:
            console.print(f"[yellow]nbgrader:[/] {problem}")
        console.print(f"scores written to {nbgrader_course}/gradebook.db")
    if summary.isolation:
        style = "yellow" if summary.isolation.startswith("WEAKER") else "green"
        console.print(f"[{style}]{summary.isolation}[/]")
    console.print(f"graded {summary.graded}, unchanged since the last run {summary.skipped}; "
                  f"results in {results_dir}/")
    if len(summary.results) == 1:
        result = summary.results[0]
        click.echo(points_line(result))
        if os.environ.get("GITHUB_ACTIONS") == "true":
            click.echo(github_classroom_notices(result), nl=False)
            if os.environ.get("GITHUB_OUTPUT"):
                with open(os.environ["GITHUB_OUTPUT"], "a") as handle:
                    handle.write(f"result={github_classroom_output(result)}\n")
    else:
        click.echo((results_dir / "summary.txt").read_text(), nl=False)
