"""What one submission may use while its code runs: the sandbox's budget, set per course."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one submission may use while its code runs."""

    wall_seconds: float = 20.0
    cpu_seconds: float = 20.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 64
    output_kb: int = 256
