"""What an instructor hands to CI: a GitHub Classroom template repository and a
Gradescope autograder bundle. docs/ci.md says what each route protects and what not.

GitHub Classroom (`github_template`): a template repository

    <exercise>.ipynb                       the release: shared (STUDENT_ID set by the
                                           student) or one student's
    .github/workflows/autograding.yml      grade on push, report to Classroom
    .bptt/bptt-course.toml                 salt and limits, and no secret: student CI
                                           grades with the public demo secret
    README.md  .gitignore

Gradescope (`gradescope_bundle`): autograder.zip with Gradescope's two scripts at its
root (gradescope-autograders.readthedocs.io/en/latest/specs/)

    setup.sh  run_autograder               the image's set-up; one submission's run
    bptt-course.toml                       the course file, secret included (mode 0600)
    bptt-gradescope.json                   the exercise and where the student id comes from
    requirements.txt  wheels/*.whl         the grader's dependencies for the image's Python
    python/{reference,exercises,grader,templates}/   the grader's own code
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from exercises.spec import Exercise
from grader.authoring.course import CourseConfig
from grader.authoring.notebooks import notebook, write_notebook
from grader.authoring.templating import render
from grader.reports.results import CheckResult, SubmissionResult

DISTRIBUTION = "bptt-autograder"
PACKAGES = ("reference", "exercises", "grader", "templates")
STUDENT_FIELDS = ("email", "sid", "id", "name")
DEFAULT_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def course_file_text(config: CourseConfig, *, with_secret: bool) -> str:
    """A course file with the config's salt and limits; its secret only when asked."""
    lines = ["# bptt-autograder course configuration (grader/authoring/course.py)."]
    if with_secret:
        lines += ["# Keep this file private: the secret decides every student's hidden test data.",
                  f"secret = {json.dumps(config.secret)}"]
    else:
        lines += ["# No secret here: this repository is the student's, so its CI grades with",
                  "# the public demo secret, as feedback. The grade of record is the instructor's."]
    lines += [f"salt = {json.dumps(config.salt)}", "", "[limits]"]
    lines += [f"{name} = {value!r}" for name, value in vars(config.limits).items()]
    return "\n".join(lines) + "\n"


# -- GitHub Classroom ---------------------------------------------------------------------


def github_template(exercise: Exercise, out: Path, config: CourseConfig, *,
                    student: str | None = None, grader_spec: str | None = None,
                    prefix: str | None = None, python_version: str = "3.12") -> list[Path]:
    """Write the template repository into `out`; the files written.

    `grader_spec` is what the workflow gives pip (default: this version of the grader);
    `prefix` is the assignment's prefix in GitHub Classroom, which names each student's
    repository `<prefix>-<user name>` (default: the exercise id).
    """
    out = Path(out)
    name = f"{exercise.id}.ipynb" if student is None else f"{exercise.id}-{student}.ipynb"
    context = {"exercise_id": exercise.id, "title": exercise.title, "notebook": name,
               "student": student, "prefix": prefix or exercise.id, "version": version(),
               "grader_spec": grader_spec or f"{DISTRIBUTION}=={version()}",
               "python_version": python_version}
    files = {
        Path(".github/workflows/autograding.yml"): render("ci/github/autograding.yml.j2",
                                                          **context),
        Path(".bptt/bptt-course.toml"): course_file_text(config, with_secret=False),
        Path("README.md"): render("ci/github/README.md.j2", **context),
        Path(".gitignore"): render("ci/github/gitignore.j2", **context),
    }
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    write_notebook(notebook(exercise, "release", student, config.salt), out / name)
    return [*written, out / name]


# -- Gradescope ---------------------------------------------------------------------------


def failure_result(exercise: Exercise, message: str) -> SubmissionResult:
    """What Gradescope shows when the grader itself failed: no points, and why."""
    check = CheckResult("Autograder", float(exercise.points), 0.0, "error", "visible",
                        message + " This is not your grade: tell your instructor, who will "
                                  "grade your submission again.")
    return SubmissionResult(student="", exercise=exercise.id, checks=(check,), output=message,
                            metadata={"grader_failure": True})


def requirements() -> list[str]:
    """The grader's own dependencies (no extras), as its installed metadata declares them."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        declared = []
    return [r for r in declared if "extra ==" not in r]


def download_wheels(into: Path, requirements: list[str], python_version: str,
                    platforms: tuple[str, ...]) -> None:
    """`pip download` of binary wheels for the target interpreter and platform (this needs
    the network once, when the bundle is made; the image never does)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(into),
               "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python_version,
               *[argument for p in platforms for argument in ("--platform", p)], *requirements]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("pip could not download the grader's wheels for Python "
                           f"{python_version} on {', '.join(platforms)}:\n{done.stderr.strip()}")


def _package_dirs() -> dict[str, Path]:
    import exercises
    import grader
    import reference
    import templates

    return {module.__name__: Path(module.__file__).parent
            for module in (reference, exercises, grader, templates)}


def gradescope_bundle(exercise: Exercise, out_zip: Path, config: CourseConfig, *,
                      student_field: str = "email", python_version: str = "3.12",
                      platforms: tuple[str, ...] = DEFAULT_PLATFORMS) -> Path:
    """Write Gradescope's autograder.zip for `exercise` (see the module docstring)."""
    if student_field not in STUDENT_FIELDS:
        raise ValueError(f"student field must be one of {STUDENT_FIELDS}, got {student_field!r}")
    if not re.fullmatch(r"3\.\d+", python_version):
        raise ValueError(f"python version must look like 3.12, got {python_version!r}")
    wanted = requirements()
    context = {"exercise_id": exercise.id, "version": version(),
               "python_version": python_version, "platform": ", ".join(platforms),
               "failure_json": json.dumps(failure_result(
                   exercise, "The autograder failed before it could grade this submission."
               ).to_gradescope(), indent=2)}
    with tempfile.TemporaryDirectory(prefix="bptt-bundle-") as folder:
        wheels = Path(folder)
        download_wheels(wheels, wanted, python_version, platforms)
        entries: dict[str, tuple[bytes, int]] = {
            "setup.sh": (render("ci/gradescope/setup.sh.j2", **context).encode(), 0o755),
            "run_autograder": (render("ci/gradescope/run_autograder.j2", **context).encode(),
                               0o755),
            "bptt-course.toml": (course_file_text(config, with_secret=True).encode(), 0o600),
            "bptt-gradescope.json": (json.dumps({
                "exercise": exercise.id, "student_field": student_field}, indent=2).encode(),
                0o644),
            "requirements.txt": (("\n".join(wanted) + "\n").encode(), 0o644),
        }
        for wheel in sorted(wheels.glob("*.whl")):
            entries[f"wheels/{wheel.name}"] = (wheel.read_bytes(), 0o644)
        for directory in _package_dirs().values():
            for path in sorted(directory.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts \
                        and path.suffix not in (".pyc", ".pyo"):
                    relative = path.relative_to(directory.parent).as_posix()
                    entries[f"python/{relative}"] = (path.read_bytes(), 0o644)
        out_zip = Path(out_zip)
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (data, mode) in entries.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
    return out_zip


def unpack_bundle(bundle: Path, source: Path) -> None:
    """Unzip a bundle keeping each file's mode, as Gradescope does into /autograder/source."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as data, open(target, "wb") as handle:
                shutil.copyfileobj(data, handle)
            target.chmod((info.external_attr >> 16) & 0o777 or 0o644)
