"""The course configuration: one typed file with documented defaults.

    # bptt-course.toml
    secret = "a long random string kept by the instructor"   # hidden probe data
    salt = "bptt-autograder/variants/v1"                      # public: variants
    [limits]
    wall_seconds = 20        # per job: one run of the student's cells and calls
    cpu_seconds = 20
    memory_mb = 1024
    file_mb = 16
    processes = 64
    output_kb = 256
    submission_seconds = 30  # all the jobs of one submission, in all
    retries = 2              # fresh jobs for the later stages after a call that never returned

Where it is read from: the path given, else $BPTT_COURSE, else
./bptt-course.toml in the working directory or one of its parents. Without any,
the demo secret is used and a warning says so: fine for `bptt demo`, wrong for
a real course, where anyone could compute the hidden probes.
"""

from __future__ import annotations

import os
import tomllib
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from exercises.instance import DEMO_SECRET, PUBLIC_SALT
from grader.sandbox.limits import Limits

FILE_NAME = "bptt-course.toml"
ENVIRONMENT_VARIABLE = "BPTT_COURSE"


@dataclass(frozen=True)
class CourseConfig:
    secret: str = DEMO_SECRET
    salt: str = PUBLIC_SALT
    limits: Limits = field(default_factory=Limits)
    source: str | None = None          # the file it was read from, None for defaults

    @property
    def is_demo(self) -> bool:
        return self.secret == DEMO_SECRET

    @classmethod
    def from_file(cls, path: str | Path) -> CourseConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"cannot read the course configuration {path}: {error}") from None
        known = {f.name for f in fields(cls)} - {"limits", "source"}
        unknown = set(data) - known - {"limits"}
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}; "
                             f"known: {sorted(known | {'limits'})}")
        limit_names = {f.name for f in fields(Limits)}
        limits = data.get("limits", {})
        if set(limits) - limit_names:
            raise ValueError(f"{path}: unknown limits {sorted(set(limits) - limit_names)}; "
                             f"known: {sorted(limit_names)}")
        try:
            limits = replace(Limits(), **limits)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        config = cls(**{k: v for k, v in data.items() if k in known},
                     limits=limits, source=str(path))
        if not isinstance(config.secret, str) or len(config.secret) < 16:
            raise ValueError(f"{path}: secret must be a string of at least 16 characters")
        return config

    @classmethod
    def load(cls, path: str | Path | None = None, *, quiet: bool = False) -> CourseConfig:
        """The configuration from `path`, $BPTT_COURSE or bptt-course.toml, else defaults."""
        if path is None and os.environ.get(ENVIRONMENT_VARIABLE):
            path = os.environ[ENVIRONMENT_VARIABLE]
        if path is None:
            for folder in (Path.cwd(), *Path.cwd().parents):
                if (folder / FILE_NAME).is_file():
                    path = folder / FILE_NAME
                    break
        if path is not None:
            return cls.from_file(path)
        if not quiet:
            warnings.warn("no bptt-course.toml found: using the demo secret, which anyone can "
                          "read; write a course file with your own secret for a real course",
                          stacklevel=2)
        return cls()
