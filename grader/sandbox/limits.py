"""What one submission may use while its code runs: the sandbox's budget, set per course."""

from __future__ import annotations

from dataclasses import asdict, dataclass

JOB_LIMITS = ("wall_seconds", "cpu_seconds", "memory_mb", "file_mb", "processes", "output_kb")
MIN_WALL_SECONDS = 0.1        # the shortest job the zygote accepts: less is not started


@dataclass(frozen=True)
class Limits:
    """What one submission may use while its code runs.

    The first six hold per job (one run of the student's cells and calls in the
    sandbox). A call that never returns ends its job; the later stages' calls then
    run in a fresh job, at most `retries` times, and all the jobs of one submission
    share `submission_seconds` of wall time: each job's wall limit is cut to what is
    left, and a job that would have less than MIN_WALL_SECONDS is not started (its
    calls are reported as not run). One submission therefore holds its worker for at
    most submission_seconds + 15 s (the last job's grace to answer) + a zygote restart.
    """

    wall_seconds: float = 20.0
    cpu_seconds: float = 20.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 64
    output_kb: int = 256
    submission_seconds: float = 30.0
    retries: int = 2

    def __post_init__(self) -> None:
        for name in (*JOB_LIMITS, "submission_seconds"):
            value = getattr(self, name)
            if type(value) not in (int, float) or not value > 0:
                raise ValueError(f"limits.{name} must be a positive number, not {value!r}")
        if type(self.retries) is not int or not 0 <= self.retries <= 10:
            raise ValueError(f"limits.retries must be a whole number from 0 to 10, "
                             f"not {self.retries!r}")
        if self.submission_seconds < MIN_WALL_SECONDS:
            raise ValueError(f"limits.submission_seconds must be at least {MIN_WALL_SECONDS} s")

    def job(self, wall_seconds: float | None = None) -> dict[str, float | int]:
        """The limits of one job as the zygote takes them, its wall time cut to `wall_seconds`."""
        limits = {name: value for name, value in asdict(self).items() if name in JOB_LIMITS}
        if wall_seconds is not None:
            limits["wall_seconds"] = min(self.wall_seconds, wall_seconds)
        return limits
