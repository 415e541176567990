"""The `bptt` command line."""

import click


@click.group()
def main() -> None:
    """Exercises and autograding for backpropagation through time."""


@main.command()
def demo() -> None:
    """Run the reference demo."""
    from grader.demo import run

    run()
