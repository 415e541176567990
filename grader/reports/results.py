"""The one result model: a submission's checks, and its Gradescope serialisation.

A `CheckResult` is one graded check: its points, the fraction of them earned
(score ∈ [0, 1]), a status, who may see it, a message for the student and a
details dict of plain JSON values for instructors and tooling. A
`SubmissionResult` is the checks of one submission of one exercise.

Canonical serialisation is Gradescope's results.json
(https://gradescope-autograders.readthedocs.io/en/latest/specs/):

    {"score": 7.5, "output": "...", "output_format": "text",
     "visibility": "visible", "stdout_visibility": "hidden",
     "execution_time": 1.2,                       # optional, seconds
     "extra_data": {"student": ..., "exercise": ..., "metadata": {...}},
     "tests": [{"name": ..., "number": "1", "score": 1.5, "max_score": 2.0,
                "status": "passed" | "failed", "visibility": ...,
                "output": message, "output_format": "text", "tags": [...],
                "extra_data": {"status": ..., "fraction": ..., "details": {...}}}]}

Gradescope's test score is in points (fraction × points) and its status has
only "passed"/"failed", so each test's extra_data keeps our own status
("error" included) and the exact fraction; `from_gradescope` reads them back,
which makes the round trip lossless. A results.json written by someone else
(no extra_data) still loads: the fraction is score / max_score.

Visibility values are Gradescope's: "visible", "hidden", "after_due_date",
"after_published".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
STATUSES = ("passed", "failed", "error")
OUTPUT_FORMATS = ("text", "simple_format", "html", "md", "ansi")


def json_value(value: Any) -> Any:
    """A plain-JSON copy of value: dict (str keys), list, str, int, float, bool, None.

    numpy scalars and arrays become Python numbers and lists, tuples become
    lists, and non-finite floats become the strings "NaN", "Infinity",
    "-Infinity" (results.json must be strict JSON). Anything else is
    rejected, so details never carry an object from student code.
    """
    if value is None or type(value) in (str, bool, int):
        return value
    if type(value) is float or isinstance(value, np.floating):
        v = float(value)
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if type(value) is np.ndarray:
        return json_value(value.tolist())
    if type(value) in (list, tuple):
        return [json_value(v) for v in value]
    if type(value) in (dict, MappingProxyType):
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"details keys must be str, got {type(k).__name__}")
            out[k] = json_value(v)
        return out
    raise TypeError(f"not a plain JSON value: {type(value).__name__}")


@dataclass(frozen=True)
class CheckResult:
    """One graded check.

    name: shown to whoever may see the check.
    points: its weight (≥ 0); the student earns score × points.
    score: fraction earned, in [0, 1].
    status: "passed", "failed" (the answer is wrong) or "error" (the check
        could not be run: the code raised, timed out, returned garbage).
    visibility: one of VISIBILITIES.
    message: feedback text for the student (plain text).
    details: plain JSON values (see `json_value`) for instructors and tools.
    tags: Gradescope tags. number: Gradescope's test number ("1.2"); None
        numbers the checks in order.
    """

    name: str
    points: float
    score: float
    status: str
    visibility: str = "visible"
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    number: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError("name must be a str")
        points, score = float(self.points), float(self.score)
        if not (math.isfinite(points) and points >= 0):
            raise ValueError(f"points must be finite and ≥ 0, got {self.points!r}")
        if not (0.0 <= score <= 1.0):
            raise ValueError(f"score must be in [0, 1], got {self.score!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}, got {self.visibility!r}")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "message", str(self.message))
        object.__setattr__(self, "details", json_value(dict(self.details)))
        object.__setattr__(self, "tags", tuple(str(t) for t in self.tags))
        if self.number is not None:
            object.__setattr__(self, "number", str(self.number))

    @property
    def earned(self) -> float:
        """Points earned: score × points."""
        return self.score * self.points

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_gradescope(self, number: str) -> dict[str, Any]:
        """This check as one entry of results.json's "tests" list."""
        extra: dict[str, Any] = {"status": self.status, "fraction": self.score,
                                 "details": self.details}
        if self.number is None:
            extra["numbered_in_order"] = True
        return {
            "name": self.name,
            "number": self.number if self.number is not None else number,
            "score": self.earned,
            "max_score": self.points,
            "status": "passed" if self.status == "passed" else "failed",
            "visibility": self.visibility,
            "output": self.message,
            "output_format": "text",
            "tags": list(self.tags),
            "extra_data": extra,
        }

    @classmethod
    def from_gradescope(cls, test: Mapping[str, Any]) -> CheckResult:
        """Read one entry of a results.json "tests" list."""
        extra = test.get("extra_data") or {}
        points = float(test.get("max_score", 0.0) or 0.0)
        if "fraction" in extra:
            score = float(extra["fraction"])
        elif points > 0 and test.get("score") is not None:
            score = min(1.0, max(0.0, float(test["score"]) / points))
        else:
            score = 1.0 if test.get("status", "passed") == "passed" else 0.0
        status = extra.get("status") or test.get("status") or (
            "passed" if score == 1.0 else "failed")
        return cls(
            name=str(test.get("name", "")),
            points=points,
            score=score,
            status=status,
            visibility=test.get("visibility", "visible"),
            message=str(test.get("output", "")),
            details=extra.get("details", {}),
            tags=tuple(test.get("tags", ())),
            number=None if extra.get("numbered_in_order") else test.get("number"),
        )


def error_result(name: str, points: float, message: str, visibility: str = "visible",
                 **details: Any) -> CheckResult:
    """A check that could not be run: score 0, status "error"."""
    return CheckResult(name, points, 0.0, "error", visibility, message, details)


@dataclass(frozen=True)
class SubmissionResult:
    """The checks of one submission.

    student, exercise: identify the submission (as the grader trusts them).
    checks: in display order. output: text about the whole submission.
    visibility, stdout_visibility: Gradescope's top-level settings.
    execution_time: seconds, or None. metadata: plain JSON values.
    """

    student: str
    exercise: str
    checks: tuple[CheckResult, ...] = ()
    output: str = ""
    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    execution_time: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "checks", tuple(self.checks))
        for v in (self.visibility, self.stdout_visibility):
            if v not in VISIBILITIES:
                raise ValueError(f"visibility must be one of {VISIBILITIES}, got {v!r}")
        object.__setattr__(self, "metadata", json_value(dict(self.metadata)))
        if self.execution_time is not None:
            object.__setattr__(self, "execution_time", float(self.execution_time))

    @property
    def score(self) -> float:
        """Total points earned."""
        return math.fsum(c.earned for c in self.checks)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return math.fsum(c.points for c in self.checks)

    def with_checks(self, checks) -> SubmissionResult:
        return replace(self, checks=tuple(checks))

    def to_gradescope(self) -> dict[str, Any]:
        """results.json as a dict (dump it with json.dumps(..., allow_nan=False))."""
        out: dict[str, Any] = {
            "score": self.score,
            "output": self.output,
            "output_format": "text",
            "visibility": self.visibility,
            "stdout_visibility": self.stdout_visibility,
            "extra_data": {"student": self.student, "exercise": self.exercise,
                           "metadata": self.metadata},
            "tests": [c.to_gradescope(str(i + 1)) for i, c in enumerate(self.checks)],
        }
        if self.execution_time is not None:
            out["execution_time"] = self.execution_time
        return out

    @classmethod
    def from_gradescope(cls, data: Mapping[str, Any]) -> SubmissionResult:
        """Read a results.json dict (ours, or any valid one: missing fields take defaults)."""
        extra = data.get("extra_data") or {}
        return cls(
            student=str(extra.get("student", "")),
            exercise=str(extra.get("exercise", "")),
            checks=tuple(CheckResult.from_gradescope(t) for t in data.get("tests", ())),
            output=str(data.get("output", "")),
            visibility=data.get("visibility", "visible"),
            stdout_visibility=data.get("stdout_visibility", "hidden"),
            execution_time=data.get("execution_time"),
            metadata=extra.get("metadata", {}),
        )
