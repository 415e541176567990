"""Scores as people read them: one rounding, used by every rendering.

nbgrader's formgrader and Gradescope both show points to two decimals, so
every human-facing rendering (text feedback, the HTML and Markdown pages, the
class summary, class.csv, the class report, the demo table, GitHub
Classroom's "Points" line) shows `points_text(x)`: x rounded half-even to two
decimals, trailing zeros dropped, so 0.15000000000000002 reads "0.15",
7.085714285714285 reads "7.09" and 3.0 reads "3".

results.json, the canonical record, keeps the exact fractions and points
(Gradescope rounds for display itself, and the round trip through
`SubmissionResult.from_gradescope` stays lossless); totals are summed from the
exact values and rounded once, at the end, never summed from rounded parts.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

DECIMALS = 2


def rounded(x: float) -> float:
    """x rounded half-even to DECIMALS places, as a float (for CSV cells and sorting)."""
    return float(points_text(x))


def points_text(x: float) -> str:
    """x as shown to people: DECIMALS places at most, no trailing zeros, never "-0"."""
    value = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-DECIMALS),
                                            rounding=ROUND_HALF_EVEN)
    text = format(value, "f").rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def score_text(earned: float, possible: float) -> str:
    """ "earned / possible", both rounded by `points_text`."""
    return f"{points_text(earned)} / {points_text(possible)}"


def percent_text(fraction: float) -> str:
    """A fraction in [0, 1] as a whole percentage: 0.8571 → "86%"."""
    return f"{Decimal(repr(100.0 * fraction)).quantize(Decimal(1), ROUND_HALF_EVEN)}%"
