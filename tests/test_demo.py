"""`bptt demo`, the README's main command: every simulated student gets the verdict intended."""

from __future__ import annotations

import json

from click.testing import CliRunner

from grader.cli import main
from grader.cli.demo import SCENARIOS


def test_the_demo_grades_its_class_as_intended(tmp_path):
    outcome = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert outcome.exit_code == 0, outcome.output
    results = {}
    for path in (tmp_path / "demo" / "results").glob("student-*.json"):
        data = json.loads(path.read_text())
        results[data["extra_data"]["student"]] = data
    assert len(results) == len(SCENARIOS)
    scores = sorted(results.values(), key=lambda r: r["extra_data"]["student"])
    by_label = {scenario.label: result for scenario, result in zip(SCENARIOS, scores,
                                                                    strict=True)}
    for label, result in by_label.items():
        full = result["score"] == sum(t["max_score"] for t in result["tests"])
        # Correct code, however written, and attacks that leave correct code alone earn
        # everything; every bug, crash, loop or unfinished notebook loses points.
        assert full == (label.startswith("correct") or label in (
            "hostile", "IPython magics", "memory bomb")), (label, result["score"],
                                                              result["output"][:500])
    named = {t["extra_data"]["details"].get("misconception")
             for t in by_label["bug: = for +="]["tests"]}
    assert "overwrite-not-accumulate" in named
    assert "Points 100/100" not in (tmp_path / "demo" / "results" / "summary.txt").read_text()
    assert (tmp_path / "demo" / "feedback").is_dir()
    assert "bubblewrap" in outcome.output or "WEAKER ISOLATION" in outcome.output


def test_the_demo_table_cuts_no_word_and_calls_full_marks_all_right(tmp_path):
    """Every misconception the demo names is printed whole (rich wraps at spaces, and the
    diagnosis column is as wide as the longest name), and a full-marks student whose code
    printed something is "all right", not "Printed output (first lines):"."""
    outcome = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert outcome.exit_code == 0, outcome.output
    assert "Printed output" not in outcome.output
    named = set()
    for path in (tmp_path / "demo" / "results").glob("student-*.json"):
        for test in json.loads(path.read_text())["tests"]:
            if test["extra_data"]["details"].get("misconception"):
                named.add(test["extra_data"]["details"]["misconception"])
    assert len(named) >= 5
    for name in named:
        assert name in outcome.output, name
    assert (tmp_path / "demo" / "results" / "report.html").is_file()
    assert len(list((tmp_path / "demo" / "feedback").glob("*.html"))) == len(SCENARIOS)
