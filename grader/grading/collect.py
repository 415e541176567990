"""`bptt ci collect`: the students' repositories into one batch for the grade of record.

Each source is a repository to clone (a URL, with `git clone --depth 1`), a clone on
disk, or a folder of clones. A repository is a student's when its name is
`<prefix>-<student>` (GitHub Classroom's naming) for a student of the roster; anything
else is reported and left out. Its notebook (`<exercise>.ipynb`,
`<exercise>-<student>.ipynb`, or its only notebook) is copied to
`OUT/<exercise>-<student>.ipynb`, which is the name `bptt grade --roster` trusts, and
`OUT/collected.csv` records the repository and commit each file came from.

A student's repository is untrusted: a notebook that is a symbolic link (to the course
secret, say), or is not a regular file, or is larger than `MAX_BYTES`, is refused, and
nothing in a repository is run (git runs no hook of a cloned repository).
"""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
GIT_ENVIRONMENT = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass(frozen=True)
class Collected:
    student: str
    repository: str
    commit: str
    file: Path


def _is_url(source: str) -> bool:
    return "://" in source or source.startswith("git@")


def _git(*arguments: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", "-c", "core.symlinks=false", "-c", "core.hooksPath=/dev/null",
                           *arguments], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENVIRONMENT}, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"git {arguments[0]} failed")
    return done.stdout.strip()


def repositories(sources: Iterable[str], scratch: Path) -> list[tuple[str, Path]]:
    """(repository name, clone) for every source: URLs cloned into `scratch`."""
    found = []
    for source in sources:
        if _is_url(source):
            name = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            clone = scratch / f"{len(found):05d}-{name}"
            _git("clone", "--quiet", "--depth", "1", "--no-recurse-submodules", source,
                 str(clone))
            found.append((name, clone))
            continue
        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f"no such repository or folder: {source}")
        if (folder / ".git").exists():
            found.append((folder.resolve().name, folder))
        else:
            found += [(child.name, child) for child in sorted(folder.iterdir())
                      if child.is_dir() and not child.is_symlink() and (child / ".git").exists()]
    return found


def notebook_in(clone: Path, exercise_id: str, student: str) -> Path:
    """The student's notebook in their clone (a regular file, not a link)."""
    candidates = [clone / f"{exercise_id}.ipynb", clone / f"{exercise_id}-{student}.ipynb"]
    present = [p for p in candidates if os.path.lexists(p)]
    if not present:
        present = sorted(p for p in clone.glob("*.ipynb"))
        if len(present) != 1:
            raise ValueError(f"no {exercise_id}.ipynb (and {len(present)} other notebooks)")
    path = present[0]
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path.name} is not a regular file (a symbolic link?)")
    if info.st_size > MAX_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB")
    return path


def _read_no_follow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_BYTES + 1)[:MAX_BYTES]


def collect(sources: Iterable[str], exercise_id: str, students: Iterable[str], out: Path,
            prefix: str | None = None) -> tuple[list[Collected], list[str]]:
    """Copy each student's notebook into `out`; (what was collected, what was left out)."""
    prefix = prefix or exercise_id
    roster = set(students)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    collected, problems = [], []
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bptt-collect-")))
        for name, clone in repositories(sources, scratch):
            student = name[len(prefix) + 1:] if name.startswith(f"{prefix}-") else None
            if student not in roster:
                problems.append(f"{name}: not <{prefix}>-<student> for a student of the roster")
                continue
            try:
                path = notebook_in(clone, exercise_id, student)
                commit = _git("rev-parse", "HEAD", cwd=clone)
            except (ValueError, RuntimeError, OSError) as error:
                problems.append(f"{name}: {error}")
                continue
            target = out / f"{exercise_id}-{student}.ipynb"
            target.write_bytes(_read_no_follow(path))
            collected.append(Collected(student, name, commit, target))
    with open(out / "collected.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "repository", "commit", "file"])
        writer.writerows([c.student, c.repository, c.commit, c.file.name] for c in collected)
    return collected, problems
