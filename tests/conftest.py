"""Shared pytest set-up: figures that tests report at the end of the run; sandbox uids."""

import os

# The sandbox's workers reserve uids from here (each locked and checked unused before it is
# taken), clear of 60000+, which the product's own workers use on a shared machine.
os.environ.setdefault("BPTT_FIRST_UID", "62000")

REPORTED: dict[str, str] = {}


def report(name: str, text: str) -> None:
    """Record a figure (a catch rate, say) to print in pytest's closing summary."""
    REPORTED[name] = text


def pytest_terminal_summary(terminalreporter):
    if REPORTED:
        terminalreporter.section("figures")
        for name, text in sorted(REPORTED.items()):
            terminalreporter.write_line(f"{name}: {text}")
