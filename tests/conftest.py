"""Shared pytest set-up: figures that tests report at the end of the run."""

REPORTED: dict[str, str] = {}


def report(name: str, text: str) -> None:
    """Record a figure (a catch rate, say) to print in pytest's closing summary."""
    REPORTED[name] = text


def pytest_terminal_summary(terminalreporter):
    if REPORTED:
        terminalreporter.section("figures")
        for name, text in sorted(REPORTED.items()):
            terminalreporter.write_line(f"{name}: {text}")
