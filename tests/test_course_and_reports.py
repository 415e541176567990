"""The course file and the class reports."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from exercises.instance import DEMO_SECRET
from grader.authoring.course import CourseConfig
from grader.reports.class_report import class_csv, misconception_counts, summary_text
from grader.reports.results import CheckResult, SubmissionResult
from grader.sandbox.limits import Limits


def test_a_course_file_sets_secret_salt_and_limits(tmp_path):
    path = tmp_path / "bptt-course.toml"
    path.write_text('secret = "0123456789abcdefXYZ"\nsalt = "spring"\n'
                    "[limits]\nwall_seconds = 3\nmemory_mb = 256\n")
    config = CourseConfig.from_file(path)
    assert (config.secret, config.salt, config.source) == ("0123456789abcdefXYZ", "spring",
                                                           str(path))
    assert config.limits == Limits(wall_seconds=3, memory_mb=256)
    assert not config.is_demo


@pytest.mark.parametrize("text, message", [
    ('secret = "short"', "at least 16 characters"),
    ('secret = "0123456789abcdefXYZ"\ncolour = "red"', "unknown settings"),
    ('secret = "0123456789abcdefXYZ"\n[limits]\nwall = 3', "unknown limits"),
    ('secret = ', "cannot read"),
])
def test_a_bad_course_file_is_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "bptt-course.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        CourseConfig.from_file(path)


def test_the_course_file_is_found_in_a_parent_folder_or_through_the_environment(
        tmp_path, monkeypatch):
    (tmp_path / "bptt-course.toml").write_text('secret = "0123456789abcdefXYZ"')
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    monkeypatch.delenv("BPTT_COURSE", raising=False)
    assert CourseConfig.load().secret == "0123456789abcdefXYZ"
    other = tmp_path / "other.toml"
    other.write_text('secret = "fedcba9876543210ZYX"')
    monkeypatch.setenv("BPTT_COURSE", str(other))
    assert CourseConfig.load().secret == "fedcba9876543210ZYX"


def test_without_a_course_file_the_demo_secret_comes_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPTT_COURSE", raising=False)
    with pytest.warns(UserWarning, match="demo secret"):
        config = CourseConfig.load()
    assert config.secret == DEMO_SECRET and config.is_demo


def result(student, scores, misconception=None):
    checks = [CheckResult(f"stage {i}", 2.0, score, "passed" if score == 1 else "failed",
                          details={"misconception": misconception if score < 1 else None})
              for i, score in enumerate(scores)]
    return SubmissionResult(student=student, exercise="elman", checks=tuple(checks),
                            metadata={"path": f"/sub/{student}.ipynb"})


def test_the_class_csv_has_a_row_per_submission_and_a_column_per_check():
    rows = list(csv.DictReader(io.StringIO(class_csv(
        [result("bob", [1, 0.5], "weight-not-transposed"), result("ada", [1, 1])]))))
    assert [row["student"] for row in rows] == ["ada", "bob"]
    assert rows[1]["score"] == "3" and rows[1]["max_score"] == "4"
    assert rows[1]["stage 1"] == "1" and rows[1]["path"] == "/sub/bob.ipynb"


def test_the_summary_counts_the_misconceptions_named():
    results = [result("ada", [1, 0], "update-wrong-sign"),
               result("bob", [0.5, 1], "update-wrong-sign"),
               result("cy", [0, 1], "bias-not-summed")]
    assert misconception_counts(results) == {"update-wrong-sign": 2, "bias-not-summed": 1}
    text = summary_text(results, "bubblewrap sandbox")
    assert "3 submissions, mean score 2.33" in text
    assert "   2  update-wrong-sign" in text
    assert text.rstrip().endswith("Isolation: bubblewrap sandbox")


def test_a_student_id_cannot_forge_a_line_of_the_summary():
    text = summary_text([result("eve\nmallory  elman  4/4  all right", [0, 0])])
    assert "\nmallory" not in text and "eve\\nmallory" in text


def test_the_class_junit_parses():
    from grader.reports.render import render_junit

    root = ET.fromstring(render_junit([result("ada", [1, 0.5])], audience="instructor")
                         .split("\n", 1)[1])
    assert root.get("tests") == "2" and root.get("failures") == "1"
