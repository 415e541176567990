"""`bptt grade PATH...`: grade submissions in the sandbox and write every rendering.

Exit status 0 when grading ran, whatever the scores; 2 for an invocation error
(no such path, no submission found, an unknown exercise, a bad option value, an
unreadable course or roster file, an nbgrader course graded with the demo secret).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import click


class InvocationError(click.ClickException):
    """A command line that cannot be carried out: one clear line, exit status 2."""

    exit_code = 2


def course_config(course: str | None, nbgrader_course: str | None, demo_secret: bool,
                  nbgrader_tree: bool):
    """The course file to grade with: --course, else the nbgrader course's own, else the
    usual search. Grading an nbgrader course with the demo secret needs --demo-secret."""
    from grader.authoring.course import FILE_NAME, CourseConfig

    try:
        if course is None and nbgrader_course is not None:
            own = Path(nbgrader_course) / FILE_NAME
            if not own.is_file() and not demo_secret:
                raise InvocationError(f"{own} does not exist: `bptt nbgrader init` writes it "
                                      "(or pass --course FILE, or --demo-secret to try "
                                      "things out)")
            config = CourseConfig.from_file(own) if own.is_file() else CourseConfig()
        else:
            config = CourseConfig.load(course, quiet=True)
    except ValueError as error:
        raise InvocationError(str(error)) from None
    if config.is_demo and (nbgrader_course or nbgrader_tree) and not demo_secret:
        raise InvocationError("refusing to grade an nbgrader course with the demo secret, "
                              "which anyone can read: give the course's bptt-course.toml "
                              "(--course, or --nbgrader COURSE_DIR), or --demo-secret")
    return config


@contextmanager
def executor_for(kind: str, scheduler: str | None, workers: int | None, ship: str):
    """None for the local pool, else a dask executor connected for the run."""
    if kind == "local":
        yield None
        return
    try:
        from grader.grading.distributed import dask_executor
    except ImportError as error:
        raise InvocationError(f"--executor dask needs dask.distributed ({error}): "
                              "pip install 'bptt-autograder[dask]'") from None
    try:
        context = dask_executor(scheduler, workers, ship)
        executor = context.__enter__()
    except OSError as error:
        raise InvocationError(f"cannot reach the dask scheduler {scheduler}: {error}") from None
    try:
        yield executor
    except BaseException:
        if not context.__exit__(*sys.exc_info()):
            raise
    else:
        context.__exit__(None, None, None)


class PageDrawer:
    """One submission's pictures and equations, drawn by a child process forked at the start.

    Importing matplotlib (0.2 s) takes about as long as grading one notebook: the child
    does it on the other core while this process imports the grader, plans and grades.
    `drawings` sends it the result (its Gradescope JSON, through a pipe) and, while it
    draws, runs `meanwhile` (the page templates are compiled); the child sends back
    `page_drawings` of the result (JSON, through another pipe), from which this process
    writes the pages. Fork it only while this process has one thread. A child that
    fails, answers what is not a page's drawings, or takes longer than WAIT_SECONDS gives
    None: it is ended, and the caller draws the pictures itself."""

    WAIT_SECONDS = 30.0

    def __init__(self) -> None:
        self._answered = False
        order, self._order = os.pipe()
        self._answer, answer = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._order)
            os.close(self._answer)
            os._exit(self._child(order, answer))
        os.close(order)
        os.close(answer)

    @staticmethod
    def _child(order: int, answer: int) -> int:
        try:
            import json

            from grader.reports.drawings import page_drawings
            from grader.reports.plots import load_matplotlib
            from grader.reports.results import SubmissionResult

            load_matplotlib()
            with os.fdopen(order, "rb") as handle:
                data = handle.read()
            if not data:
                return 0                        # nothing to draw: the command failed
            drawings = page_drawings(SubmissionResult.from_gradescope(json.loads(data)),
                                     fork=True)
            with os.fdopen(answer, "wb") as handle:
                handle.write(json.dumps(drawings).encode())
            return 0
        except BaseException:  # noqa: BLE001 — the parent draws the pictures itself
            return 1

    def drawings(self, result, meanwhile=lambda: None):
        """`page_drawings(result)`, drawn by the child, or None."""
        import json

        from grader.reports.render import split_by_audience

        deadline = time.monotonic() + self.WAIT_SECONDS
        try:
            self._send(json.dumps(result.to_gradescope()).encode(), deadline)
            meanwhile()
            answer = json.loads(self._read_answer(deadline))
            return _as_drawings(answer, len(split_by_audience(result, "student")[0]))
        except (OSError, TimeoutError, ValueError):
            return None

    def _send(self, order: bytes, deadline: float) -> None:
        """Write the order, then close the pipe: the child reads it whole at its end."""
        import select

        descriptor, self._order = self._order, None
        os.set_blocking(descriptor, False)
        left = memoryview(order)
        try:
            while left:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([], [descriptor], [], wait)[1]:
                    raise TimeoutError("the page drawer took too long")
                left = left[os.write(descriptor, left):]
        finally:
            os.close(descriptor)

    def _read_answer(self, deadline: float) -> bytes:
        import select

        chunks = []
        with os.fdopen(self._answer, "rb", buffering=0) as handle:
            self._answer = None
            while True:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([handle], [], [], wait)[0]:
                    raise TimeoutError("the page drawer took too long")
                chunk = handle.read(1 << 20)
                if not chunk:
                    self._answered = True
                    return b"".join(chunks)
                chunks.append(chunk)

    def close(self) -> None:
        """Close the pipes and end the child: killed, unless it has sent its answer."""
        for name in ("_order", "_answer"):
            if getattr(self, name) is not None:
                os.close(getattr(self, name))
                setattr(self, name, None)
        if self.pid is not None:
            if not self._answered:
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None


def _as_drawings(answer, checks: int) -> list:
    """The drawer's JSON answer as `page_drawings` of a page of `checks` checks; ValueError
    when it is not one."""
    from grader.reports.plots import PICTURES

    if not isinstance(answer, list) or len(answer) != checks:
        raise ValueError("not one drawing per check")
    drawings = []
    for drawing in answer:
        pictures, equation = drawing if isinstance(drawing, list) and len(drawing) == 2 \
            else (None, None)
        if not (isinstance(pictures, list) and isinstance(equation, str | None)
                and all(isinstance(picture, list) and len(picture) == 2
                        and picture[0] in dict(PICTURES) and isinstance(picture[1], str)
                        for picture in pictures)):
            raise ValueError("not a check's pictures and equation")
        drawings.append(([(kind, svg) for kind, svg in pictures], equation))
    return drawings


class StartingWorker:
    """A sandbox `Worker` started in a thread beside the rest of the command: bubblewrap
    and the zygote's own numpy import take as long as the grader's imports and its
    planning of the submission's calls, and one submission needs both. It stands for
    the worker (`run`, `isolation`), so only the job waits for it; when the worker could
    not start, the job says why (`SandboxUnavailable`), as a batch does. The thread
    lives until `close`: the zygote dies with the thread that started it (bubblewrap's
    --die-with-parent)."""

    def __init__(self, course_options: tuple, isolate: bool):
        self.course_options, self.isolate = course_options, isolate
        self.worker = self.error = None
        self.started, self.done = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._start_and_hold, name="sandbox-start",
                                       daemon=True)
        self.thread.start()

    def _start_and_hold(self) -> None:
        try:
            from grader.sandbox.worker import Worker

            limits = course_config(*self.course_options).limits
            self.worker = Worker(limits, 0, isolate=self.isolate)
        except Exception as error:  # noqa: BLE001 — said by the first job (`_started`)
            self.error = repr(error)
        finally:
            self.started.set()
        self.done.wait()
        if self.worker is not None:
            self.worker.close()

    def _started(self):
        from grader.grading.batch import SandboxUnavailable

        self.started.wait()
        if self.worker is None:
            raise SandboxUnavailable(f"the sandbox worker could not start ({self.error})")
        return self.worker

    def run(self, *args, **kwargs):
        return self._started().run(*args, **kwargs)

    @property
    def isolation(self):
        return self._started().isolation

    def close(self) -> None:
        self.done.set()
        self.thread.join()


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--results", "results_dir", default="bptt-results", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for <file stem>.json (Gradescope), class.csv, junit.xml, "
                   "summary.txt and the gradebook.")
@click.option("--exercise", help="Grade every file as this exercise (else: the nbgrader "
                                 "assignment folder, the roster's file name, the metadata).")
@click.option("--student", help="Grade every file as this student's (else: the nbgrader "
                                "submitted/<student>/ folder, the roster, the metadata).")
@click.option("--roster", type=click.Path(dir_okay=False),
              help="The roster `bptt generate --roster` used: each file named "
                   "<exercise>-<student>.ipynb is that student's.")
@click.option("--course", type=click.Path(dir_okay=False),
              help="The course file (default: COURSE_DIR/bptt-course.toml with --nbgrader, "
                   "else $BPTT_COURSE or bptt-course.toml here or in a parent folder).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Parallel sandboxes (default: one per core).")
@click.option("--no-isolation", is_flag=True,
              help="Run student code without bubblewrap (weaker; for debugging).")
@click.option("--nbgrader", "nbgrader_course", type=click.Path(file_okay=False, exists=True),
              help="Also write the scores into this nbgrader course's gradebook.db, its "
                   "autograded/ notebooks (for `nbgrader generate_feedback`) and feedback/.")
@click.option("--demo-secret", is_flag=True,
              help="Allow grading an nbgrader course with the demo secret (never for a class).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Where submissions are graded: this machine's cores, "
                                      "or a dask.distributed cluster (docs/scale.md).")
@click.option("--scheduler", help="The dask scheduler's address (tcp://host:8786, tls://...); "
                                  "without it --executor dask starts a local cluster of "
                                  "--workers processes.")
@click.option("--ship", type=click.Choice(["bytes", "path"]), default="bytes",
              show_default=True, help="With dask: send each file's bytes with its task, or "
                                      "let workers read the path (a shared file system).")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False),
              help="Folder for each submission's feedback page, <file stem>.html and .md "
                   "(default: RESULTS/feedback).")
@click.option("--no-feedback", is_flag=True, help="Write no feedback pages.")
def grade(paths, results_dir, exercise, student, roster, course, workers, no_isolation,
          nbgrader_course, demo_secret, executor, scheduler, ship, feedback_dir,
          no_feedback) -> None:
    """Grade notebooks or .py files: files, folders or an nbgrader submitted/ tree."""
    sandbox = drawer = None
    if executor == "local" and len(paths) == 1 and os.path.isfile(paths[0]):
        # one submission: no pool; its page's drawer (forked first, while this process has
        # one thread) and its sandbox start beside the imports
        if not no_feedback and threading.active_count() == 1:
            import grader.reports.drawings  # noqa: F401 — numpy and the results: the drawer's too
            drawer = PageDrawer()
            click.get_current_context().call_on_close(drawer.close)
        sandbox = StartingWorker((course, nbgrader_course, demo_secret, False),
                                 not no_isolation)
        click.get_current_context().call_on_close(sandbox.close)
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from exercises.registry import all_exercises, get_exercise
    from grader.authoring.roster import read_roster
    from grader.grading.batch import discover, grade_batch, with_roster
    from grader.reports.class_report import identity_warnings, write_class_reports
    from grader.reports.render import github_classroom_notices, github_classroom_output, points_line

    console = Console(stderr=True)
    try:
        if exercise is not None:
            get_exercise(exercise)
        targets = discover(paths)
        if roster:
            targets = with_roster(targets, [s.id for s in read_roster(roster)], all_exercises())
    except (ValueError, FileNotFoundError) as error:   # RosterError is a ValueError
        raise InvocationError(str(error)) from None
    if not targets:
        raise InvocationError("no .ipynb or .py submissions found under " + ", ".join(paths))
    config = course_config(course, nbgrader_course, demo_secret,
                           any(t.student and t.exercise for t in targets))
    if config.is_demo:
        console.print("[yellow]warning:[/] no course file: the demo secret is in use, so "
                      "anyone can compute the hidden probes (see bptt-course.toml)")
    else:
        console.print(f"course file: {escape(str(config.source))}")
    results_dir = Path(results_dir)
    if scheduler and executor != "dask":
        raise InvocationError("--scheduler is for --executor dask")
    with executor_for(executor, scheduler, workers, ship) as where, \
            Progress(console=console, transient=True) as progress:
        task = progress.add_task("grading", total=len(targets))
        summary = grade_batch(targets, config, results_dir, student=student, exercise=exercise,
                              workers=workers, isolate=not no_isolation,
                              progress=lambda done, total: progress.update(task, completed=done,
                                                                           total=total),
                              executor=where, worker=sandbox)
    write_class_reports(summary.results, results_dir, summary.isolation)
    drawings = shared_drawings(summary.results, no_feedback, nbgrader_course, drawer)
    pages = write_pages(summary.results, targets, results_dir, feedback_dir, no_feedback,
                        nbgrader_course, drawings)
    if nbgrader_course:
        from grader.grading.nbgrader_gradebook import write_auto_scores

        try:
            problems = write_auto_scores(nbgrader_course, [
                (result, Path(result.metadata.get("path", "")).stem)
                for result in summary.results])
        except ValueError as error:
            raise InvocationError(str(error)) from None
        from grader.grading.nbgrader_feedback import write_autograded

        autograded, missing = write_autograded(nbgrader_course, summary.results, drawings)
        for problem in problems + missing:
            console.print(f"[yellow]nbgrader:[/] {problem}")
        console.print(f"scores written to {nbgrader_course}/gradebook.db, and {len(autograded)} "
                      f"autograded notebooks for `nbgrader generate_feedback` to "
                      f"{nbgrader_course}/autograded/")
    for result in summary.results:
        if result.checks and result.checks[0].name == "Submission" and result.score == 0:
            console.print(f"[red]not graded:[/] {escape(str(result.metadata.get('path')))}: "
                          f"{escape(result.checks[0].message)}")
    for warning in identity_warnings(summary.results):
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if summary.isolation:
        style = "yellow" if summary.isolation.startswith("WEAKER") else "green"
        console.print(f"[{style}]{summary.isolation}[/]")
    console.print(f"graded {summary.graded}, unchanged since the last run {summary.skipped}; "
                  f"results in {results_dir}/")
    for line in pages:
        console.print(escape(line))
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


def shared_drawings(results, no_feedback: bool, nbgrader_course: str | None,
                    drawer: PageDrawer | None):
    """Each result's `page_drawings` (or None: a rendering draws its own), drawn once for
    the renderings that share them: one submission's by its drawer, and a class's for
    nbgrader (its feedback page, nbgrader's page and the autograded notebook)."""
    from grader.reports.feedback import prepare_pages

    if drawer is not None and len(results) == 1 and not no_feedback:
        return [drawer.drawings(results[0], meanwhile=prepare_pages)]
    if nbgrader_course:
        from grader.reports.drawings import class_drawings

        return class_drawings(results)
    return None


def write_pages(results, targets, results_dir: Path, feedback_dir: str | None,
                no_feedback: bool, nbgrader_course: str | None, drawings=None) -> list[str]:
    """Each submission's feedback page (HTML + Markdown, named as its results file), the
    class report beside the results (of two or more), and, for an nbgrader course,
    nbgrader's own feedback/<student>/<assignment>/<notebook>.html; lines saying where
    they are. `drawings`: each result's `page_drawings`, drawn already."""
    from grader.grading.batch import results_names
    from grader.reports.class_page import write_report
    from grader.reports.feedback import write_feedback

    lines = []
    if not no_feedback:
        names = {str(path): Path(name).stem for path, name in results_names(targets).items()}
        folder = Path(feedback_dir) if feedback_dir else results_dir / "feedback"
        pages = [(result, names.get(str(result.metadata.get("path", "")),
                                    result.student or "submission")) for result in results]
        write_feedback(pages, folder, drawings=drawings)
        lines.append(f"feedback pages in {folder}/")
        if nbgrader_course:
            from grader.grading.nbgrader_feedback import write_nbgrader_feedback

            written = write_nbgrader_feedback(nbgrader_course, results, drawings)
            lines.append(f"nbgrader feedback: {len(written)} pages in {nbgrader_course}/feedback/")
    if len(results) > 1:        # one submission (CI, Gradescope) has no class to report on
        report = write_report(results, results_dir)
        lines.append(f"class report: {report['html']} (and {report['csv'].name})")
    return lines
