"""Grading many submissions: find them, grade each in a sandbox, keep every grade.

    load submission → run in sandbox → checks → score → render

`discover` turns files, folders and nbgrader `submitted/` trees into targets.
`grade_target` grades one target with one sandbox `Worker` and always returns
a `SubmissionResult`: a file that cannot be read, an exercise that does not
exist or code that crashes, loops or attacks the worker becomes a result with
a clear message, never an exception that stops the batch. `grade_batch` runs
one worker per core, records each grade in the SQLite gradebook as it comes
(skipping files graded before in the same context), and writes the results
files.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from multiprocessing import get_context, util
from pathlib import Path

from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.notebooks import graded_given_cell
from grader.checking.consistency import followup_probes
from grader.checking.verdicts import grade_outcomes, plan_calls
from grader.grading.callees import plan_callees
from grader.grading.gradebook import Grade, Gradebook
from grader.grading.submission import (
    Submission,
    SubmissionError,
    load_submission,
    locked_cell_problems,
)
from grader.reports.results import CheckResult, SubmissionResult
from grader.sandbox.protocol import Call
from grader.sandbox.worker import Worker

SUFFIXES = (".ipynb", ".py")
GRADER_VERSION = "1"


@dataclass(frozen=True)
class Target:
    """A file to grade, the student and exercise its location vouches for, and why its
    location cannot be trusted when it cannot (then it is graded as unreadable)."""

    path: Path
    student: str | None = None
    exercise: str | None = None
    problem: str | None = None


NBGRADER_FOLDERS = ("submitted", "autograded")


def nbgrader_identity(root: Path, path: Path) -> tuple[str | None, str | None, str | None]:
    """(student, assignment, problem) of a file found under `root`, from nbgrader's layout.

    The layout is anchored at the folder given: `submitted/<student>/<assignment>/<file>`
    exactly, where `submitted` is the root itself, one of its two nearest ancestors (a
    student's or an assignment's folder was given), or the first such folder below it.
    A file deeper than that (a `submitted/` tree nested inside a student's folder) has
    a problem, not an identity: it would let one student grade a file as another.
    """
    root = root.absolute()
    relative = path.absolute().relative_to(root).parts
    above = [i for i, folder in enumerate((root, root.parent, root.parent.parent))
             if folder.name in NBGRADER_FOLDERS]
    if above:
        parts = (*root.parts[len(root.parts) - above[0]:], *relative)
    else:
        below = [i for i, part in enumerate(relative[:-1]) if part in NBGRADER_FOLDERS]
        if not below:
            return None, None, None
        parts = relative[below[0] + 1:]
    if len(parts) != 3:
        return None, None, ("it is not at submitted/<student>/<assignment>/<file> in the "
                            "nbgrader folder given, so whose it is cannot be told")
    return parts[0], parts[1], None


def discover(paths: Iterable[str | Path]) -> list[Target]:
    """Every gradable file under the given files and folders, in a stable order.

    Hidden files and folders are skipped, and so is anything reached through a
    symbolic link, which could lead out of the tree given.
    """
    found: dict[Path, Target] = {}
    for given in map(Path, paths):
        if given.is_dir():
            root = given
            inside = given.resolve()
            files = sorted(p for p in given.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(given).parts)
                           and p.resolve().is_relative_to(inside)
                           and p.resolve().relative_to(inside) == p.relative_to(given))
        elif given.exists():
            root, files = given.parent, [given]
        else:
            raise FileNotFoundError(f"no such file or folder: {given}")
        for path in files:
            found.setdefault(path.resolve(), Target(path, *nbgrader_identity(root, path)))
    return list(found.values())


def with_roster(targets: list[Target], students: Iterable[str],
                exercise_ids: Iterable[str]) -> list[Target]:
    """Targets whose student the file's name vouches for, against a roster.

    `bptt generate --roster` writes `<exercise>-<student>.ipynb`; a file named so for a
    student of the roster is theirs. A file that an nbgrader path already identifies
    keeps that identity; any other file has a problem: it names no student of the
    roster, and the notebook's own claim is not to be trusted.
    """
    students = set(students)
    exercise_ids = sorted(exercise_ids, key=len, reverse=True)
    named = []
    for target in targets:
        if target.student or target.problem:
            named.append(target)
            continue
        stem = target.path.stem
        match = next(((stem[len(e) + 1:], e) for e in exercise_ids
                      if stem.startswith(f"{e}-") and stem[len(e) + 1:] in students), None)
        named.append(replace(target, student=match[0], exercise=match[1]) if match else
                     replace(target, problem="its name is not <exercise>-<student>"
                             f"{target.path.suffix} for a student of the roster"))
    return named


def context_fingerprint(config: CourseConfig) -> str:
    """What a grade depends on besides the file: grader version, secret, salt and limits."""
    text = json.dumps([GRADER_VERSION, config.secret, config.salt, repr(config.limits)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unreadable(target: Target, message: str, points: float = 0.0) -> SubmissionResult:
    """The result of a submission that could not be graded at all."""
    return SubmissionResult(
        student=target.student or "", exercise=target.exercise or "",
        checks=(CheckResult("Submission", points, 0.0, "error", "visible", message),),
        output=message, metadata={"path": str(target.path)})


def _exercise_points(exercise_id: str | None) -> float:
    """The exercise's total points, or 0 when it is not known."""
    try:
        return float(get_exercise(exercise_id).points) if exercise_id else 0.0
    except ValueError:
        return 0.0


def _notes(submission: Submission, instance, limits, report) -> list[str]:
    notes = list(submission.notes)
    claimed = submission.claimed
    if claimed.get("student") not in (None, submission.student):
        notes.append(f"The notebook says it belongs to {claimed['student']!r}; it was graded "
                     f"as {submission.student!r}'s.")
    variant = claimed.get("variant")
    if isinstance(variant, dict) and variant != _jsonable(instance.variant.as_dict()):
        notes.append("The notebook's metadata claims a different variant of the exercise "
                     "than this student's; it was graded against the student's own variant.")
    notes += [f"Error while running {error}" for error in report.cell_errors]
    if report.status == "timeout":
        notes.append(f"The code ran longer than the {limits.wall_seconds:g} s limit "
                     "and was stopped (an infinite loop?).")
    elif report.status == "crashed" and str(report.detail).startswith("the grader's code"):
        notes.append(f"The code broke the process running it: {report.detail}")
    elif report.status == "crashed":
        notes.append(f"The code crashed the process running it ({report.detail}): "
                     "a memory or file-size limit, os._exit or a signal.")
    elif report.status == "worker-error":
        notes.append(f"The sandbox failed while running this submission ({report.detail}).")
    if report.budget_note:
        notes.append(report.budget_note)
    if report.stdout.strip():
        notes.append("Printed output (first lines):\n" + "\n".join(
            report.stdout.strip().splitlines()[:20]))
    return notes


def locked_cell_notes(submission: Submission, definition, salt: str) -> list[str]:
    """The release notebook's locked code cells that the submission deleted or changed.

    Only for a notebook that carries locked cells at all (one made from a
    release): a plain notebook or a .py file has none to compare. The release
    is rebuilt for the trusted student id (or the shared release, for a shared
    notebook) and compared by grade_id. Locked cells never run in the grader
    whatever they hold, so this is a note for the student and the instructor,
    not a penalty.
    """
    if not submission.locked:
        return []
    shared = submission.claimed.get("flavour") == "shared"
    released = released_locked_cells(definition.id, None if shared else submission.student,
                                      salt)
    problems = locked_cell_problems(submission.locked, released)
    return [f"Locked cells: {problem}." for problem in problems]


@lru_cache(maxsize=32)
def released_locked_cells(exercise_id: str, student: str | None, salt: str) -> dict[str, str]:
    """grade_id → source of the release's locked code cells (cached: a shared release is
    the same notebook for the whole class, so a batch builds it once per worker).

    The self-check helper and the loss-plot cells are left out of the comparison:
    rebuilding them means verifying the self-checks' plans and running the reference's
    training (most of the cost of a release, 0.3 s of a cold single grade), and what
    they hold only matters to the student's own self-checks and plots."""
    from grader.authoring.notebooks import notebook_cells

    try:
        cells = notebook_cells(get_exercise(exercise_id), "release", student, salt,
                               student_views=False)
    except Exception:  # noqa: BLE001 — no release for this exercise: nothing to compare with
        return {}
    return {metadata["nbgrader"]["grade_id"]: source for kind, source, metadata in cells
            if kind == "code" and metadata.get("nbgrader", {}).get("locked")}


def _jsonable(value):
    return json.loads(json.dumps(value))


def grade_target(target: Target, config: CourseConfig, worker: Worker,
                 student: str | None = None, exercise: str | None = None) -> SubmissionResult:
    """Grade one file in the worker's sandbox; a result in every case."""
    if target.problem:
        known = exercise or target.exercise
        return unreadable(replace(target, exercise=known),
                          f"This submission could not be graded: {target.problem}.",
                          points=_exercise_points(known))
    try:
        submission = load_submission(target.path, student=student or target.student,
                                     exercise=exercise or target.exercise)
    except SubmissionError as error:
        # Out of the exercise's points when the caller or the nbgrader path names it: an
        # unreadable file scored 0 out of 0, which a gradebook may count as full marks.
        known = exercise or target.exercise
        return unreadable(replace(target, exercise=known),
                          f"This submission could not be graded: {error}.",
                          points=_exercise_points(known))
    try:
        definition = get_exercise(submission.exercise)
    except ValueError as error:
        return unreadable(target, f"This submission could not be graded: {error}.")
    instance = make_instance(definition, submission.student, config.secret, config.salt)
    plan = plan_calls(instance)
    callees = plan_callees(instance, plan)
    calls = _calls(plan, callees)

    def stage_outputs(stage_name, value):
        return definition.stage(stage_name).named(value)

    given = graded_given_cell(definition, submission.student, instance.variant, config.salt,
                              shared=submission.claimed.get("flavour") == "shared")
    outcomes, report = worker.run(given, list(submission.cells), calls, stage_outputs)
    followup = followup_probes(instance, plan, outcomes)
    if followup and report.status != "worker-error":
        # the graded gradient checks' second round: the backward with the student's states
        more, again = worker.run(given, list(submission.cells),
                                 _calls(followup, plan_callees(instance, followup)),
                                 stage_outputs)
        for stage_name, stage_outcomes in more.items():
            outcomes[stage_name] = [*outcomes.get(stage_name, []), *stage_outcomes]
        report.seconds += again.seconds
    result = grade_outcomes(instance, outcomes, metadata={
        "path": str(target.path), "digest": submission.digest,
        "isolation": worker.isolation.kind, "run_seconds": report.seconds,
        "run_status": report.status,
        **({"grader_failure": True} if report.status == "worker-error" else {})}, plan=plan)
    notes = locked_cell_notes(submission, definition, config.salt)
    notes += _notes(submission, instance, config.limits, report)
    return SubmissionResult(student=result.student, exercise=result.exercise,
                            checks=result.checks, output="\n".join(notes),
                            execution_time=report.seconds, metadata=result.metadata)


def _calls(plan, callees) -> list[Call]:
    return [Call(stage, index, dict(probe.kwargs), probe.repeat,
                 callees[stage][index] if stage in callees else {})
            for stage, probes in plan.items() for index, probe in enumerate(probes)]


# -- the pool of workers ------------------------------------------------------------

_WORKER: Worker | None = None
_CONFIG: CourseConfig | None = None
_START_ERROR: str | None = None


def _start_worker(config: CourseConfig, slot_counter, isolate: bool) -> None:
    global _WORKER, _CONFIG, _START_ERROR
    with slot_counter.get_lock():
        slot = slot_counter.value
        slot_counter.value += 1
    _CONFIG = config
    try:
        _WORKER = Worker(config.limits, slot, isolate=isolate)
    except Exception as error:  # noqa: BLE001 — raised from _grade_in_pool instead: a pool
        # replaces a worker whose initializer raises, forever, and the batch hung.
        _WORKER, _START_ERROR = None, repr(error)
        return
    # Run when the pool worker exits normally (grade_batch closes and joins the pool): the
    # zygote stops and its sandbox folder goes, where every batch used to leave one
    # /tmp/bptt-sandbox-* per worker behind.
    util.Finalize(_WORKER, _WORKER.close, exitpriority=10)
    gc.freeze()   # the modules, registry and sandbox worker live as long as the process


class SandboxUnavailable(RuntimeError):
    """The sandbox worker could not start: the grader itself cannot run."""


def _grade_in_pool(job: tuple[Target, str | None, str | None]) -> tuple[Target, str, str]:
    target, student, exercise = job
    if _WORKER is None:
        raise SandboxUnavailable(f"the sandbox worker could not start ({_START_ERROR})")
    return _grade_one(_WORKER, _CONFIG, target, student, exercise)


def _grade_one(worker: Worker, config: CourseConfig, target: Target, student: str | None,
               exercise: str | None) -> tuple[Target, str, str]:
    """(target, its results as Gradescope JSON, the isolation that held): one submission."""
    try:
        result = grade_target(target, config, worker, student, exercise)
    except SandboxUnavailable:
        raise                       # no sandbox at all: the batch cannot run
    except Exception as error:  # the grader's own fault: still a result, never a lost batch
        result = unreadable(target, f"The grader failed on this submission ({error!r}); "
                                    "tell your instructor.")
        result = replace(result, metadata={**result.metadata, "grader_failure": True})
    return target, json.dumps(result.to_gradescope()), worker.isolation.description


def _grade_here(todo: list[Target], config: CourseConfig, student: str | None,
                exercise: str | None, isolate: bool, worker: Worker | None):
    """The results of a single submission graded in this process, with no pool: a pool's
    start and shutdown cost more than grading one notebook. `worker`: a sandbox already
    started (the command line starts one beside its imports), else one is started here."""
    own = worker is None
    if own:
        try:
            worker = Worker(config.limits, 0, isolate=isolate)
        except Exception as error:  # noqa: BLE001 — as in the pool: the batch cannot run
            raise SandboxUnavailable(f"the sandbox worker could not start ({error!r})") \
                from None
    try:
        for target in todo:
            yield _grade_one(worker, config, target, student, exercise)
    finally:
        if own:
            worker.close()


@dataclass
class BatchSummary:
    graded: int
    skipped: int
    isolation: str
    results: list[SubmissionResult]


def results_name(target: Target, stems: dict[str, int]) -> str:
    """DIR/<file stem>.json, or <student>-<stem>.json where stems repeat (nbgrader trees)."""
    stem = target.path.stem
    return f"{target.student}-{stem}.json" if stems[stem] > 1 and target.student else f"{stem}.json"


def results_names(targets: list[Target]) -> dict[Path, str]:
    """Each target's results file name (`results_name`), made unique.

    Where two targets would still share a name (hw.ipynb in two folders that are not an
    nbgrader tree, or one student's two assignments with the same notebook name), each
    of them gets a short hash of its path too: one results file never overwrites another.
    """
    stems: dict[str, int] = {}
    for target in targets:
        stems[target.path.stem] = stems.get(target.path.stem, 0) + 1
    names = {target.path: results_name(target, stems) for target in targets}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    for path, name in names.items():
        if counts[name] > 1:
            tag = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
            names[path] = f"{name.removesuffix('.json')}-{tag}.json"
    return names


def grade_batch(targets: list[Target], config: CourseConfig, results_dir: Path, *,
                student: str | None = None, exercise: str | None = None,
                workers: int | None = None, isolate: bool = True,
                progress: Callable[[int, int], None] | None = None,
                executor=None, worker: Worker | None = None) -> BatchSummary:
    """Grade every target not graded before, recording each grade as it is done.

    `executor` grades the jobs elsewhere (`grader.grading.distributed.DaskExecutor`):
    its `grade(jobs, config, isolate)` yields (target, results JSON, isolation) as each
    finishes, like the local pool; this process alone writes the results and gradebook.
    Without one, a single submission to grade is graded in this process, in `worker`
    when one is given (a `Worker`, or anything with its `run` and `isolation`, such as
    one still starting; closed by the caller); more go to a pool of `workers` processes,
    each with a sandbox of its own (`worker` is then not used)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    gradebook = Gradebook(results_dir / "gradebook.sqlite")
    context = context_fingerprint(config)
    names = results_names(targets)
    graded_before = gradebook.paths()
    todo, digests = [], {}
    for target in targets:
        # Only a file graded before is hashed here, to see whether it changed; a new one's
        # digest is that of the bytes its worker read and graded (`metadata.digest`).
        if str(target.path.resolve()) in graded_before:
            digests[target.path] = file_digest(target.path)
            if gradebook.is_current(str(target.path.resolve()), digests[target.path],
                                    context):
                continue
        todo.append(target)
    skipped = len(targets) - len(todo)
    isolation = ""
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    done, unrecorded = 0, []
    if todo:
        jobs = [(t, student, exercise) for t in todo]
        if executor is not None:
            graded = executor.grade(jobs, config, isolate)
        elif len(todo) == 1:
            graded = _grade_here(todo, config, student, exercise, isolate, worker)
        else:
            graded = _local_pool(jobs, config, workers, isolate)
        done, isolation, unrecorded = _record(graded, len(todo), gradebook, context, digests,
                                              names, results_dir, progress)
    wanted = {str(t.path.resolve()) for t in targets}
    results = [SubmissionResult.from_gradescope(json.loads(grade.results))
               for grade in gradebook.grades() if grade.path in wanted] + unrecorded
    gradebook.close()
    return BatchSummary(graded=done, skipped=skipped, isolation=isolation, results=results)


def _local_pool(jobs: list, config: CourseConfig, workers: int, isolate: bool):
    """The local executor: one sandbox worker in each process of a fork pool."""
    context_ = get_context("fork")
    counter = context_.Value("i", 0)
    with context_.Pool(workers, initializer=_start_worker,
                       initargs=(config, counter, isolate)) as pool:
        yield from pool.imap_unordered(_grade_in_pool, jobs)
        pool.close()
        pool.join()


def _record(graded, total: int, gradebook: Gradebook, context: str, digests: dict,
            names: dict, results_dir: Path, progress) -> tuple[int, str, list]:
    """Write and record each (target, payload, isolation) as it comes: (how many, the
    isolation that held, the results of the grader's own failures, never recorded)."""
    done, isolation, unrecorded = 0, "", []
    for target, payload, description in graded:
        isolation = description
        result = SubmissionResult.from_gradescope(json.loads(payload))
        _write_atomically(results_dir / names[target.path], payload)
        done += 1
        if progress:
            progress(done, total)
        if result.metadata.get("grader_failure"):
            unrecorded.append(result)   # the grader's fault: a rerun grades it again
            continue
        gradebook.record(Grade(
            path=str(target.path.resolve()), student=result.student,
            exercise=result.exercise, context=context,
            digest=result.metadata.get("digest") or digests.get(target.path)
            or file_digest(target.path),
            score=result.score, max_score=result.max_score, results=payload))
    return done, isolation, unrecorded


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, as `Submission.digest`; "unreadable" when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)
