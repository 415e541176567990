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
