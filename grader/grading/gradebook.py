"""The batch grader's gradebook: one SQLite row per submission, written in transactions.

A row is keyed by the submission's path and holds the digest of the file it
graded and a fingerprint of everything else the grade depends on (the grader's
version, the course's secret and salt), so that a rerun skips a submission
whose file and grading context are unchanged, and regrades one that changed.
A row is written in one transaction after its results file is in place: a run
killed at any moment leaves every finished grade and no half-written one, and
rerunning finishes the rest.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    path        TEXT PRIMARY KEY,
    student     TEXT NOT NULL,
    exercise    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    context     TEXT NOT NULL,
    score       REAL NOT NULL,
    max_score   REAL NOT NULL,
    results     TEXT NOT NULL,      -- the Gradescope results.json
    graded_at   REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Grade:
    path: str
    student: str
    exercise: str
    digest: str
    context: str
    score: float
    max_score: float
    results: str


class Gradebook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(SCHEMA)

    def is_current(self, path: str, digest: str, context: str) -> bool:
        """Whether this file, in this grading context, has been graded already."""
        row = self._connection.execute(
            "SELECT 1 FROM grades WHERE path = ? AND digest = ? AND context = ?",
            (path, digest, context)).fetchone()
        return row is not None

    def paths(self) -> set[str]:
        """The paths graded before, in any context."""
        return {path for (path,) in self._connection.execute("SELECT DISTINCT path FROM grades")}

    def record(self, grade: Grade) -> None:
        """Insert or replace one grade, atomically."""
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.execute(
                "INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (grade.path, grade.student, grade.exercise, grade.digest, grade.context,
                 grade.score, grade.max_score, grade.results, time.time()))

    def grades(self) -> Iterator[Grade]:
        """Every grade, by student then exercise then path."""
        with closing(self._connection.execute(
                "SELECT path, student, exercise, digest, context, score, max_score, results "
                "FROM grades ORDER BY student, exercise, path")) as cursor:
            for row in cursor:
                yield Grade(*row)

    def close(self) -> None:
        self._connection.close()
