"""The result model (grader.reports.results) and its renderings (grader.reports.render).

Properties: the Gradescope results.json round trip is lossless; JUnit output
is well-formed XML whatever the messages hold; hidden checks never leak into
what students read; GitHub Classroom output adds up to the grade.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.reports.render import (
    WITHHELD,
    github_classroom_notices,
    github_classroom_output,
    github_classroom_result,
    points_line,
    render_json,
    render_junit,
    render_text,
    xml_text,
)
from grader.reports.results import (
    STATUSES,
    VISIBILITIES,
    CheckResult,
    SubmissionResult,
    error_result,
    json_value,
)

# Text with anything but surrogates (which cannot be written as UTF-8):
# control characters, markup, non-BMP characters.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), any_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(any_text, inner, max_size=3)),
    max_leaves=8,
)
points = st.floats(0, 100, allow_nan=False)
fractions = st.floats(0, 1, allow_nan=False)


any_visibility = st.sampled_from(VISIBILITIES)


@st.composite
def checks(draw, name=any_text, message=any_text, visibility=any_visibility):
    return CheckResult(
        name=draw(name),
        points=draw(points),
        score=draw(fractions),
        status=draw(st.sampled_from(STATUSES)),
        visibility=draw(visibility),
        message=draw(message),
        details=draw(st.dictionaries(any_text, json_values, max_size=3)),
        tags=tuple(draw(st.lists(any_text, max_size=2))),
        number=draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,2}(\.[0-9])?\Z"))),
    )


@st.composite
def submissions(draw, check_strategy=None):
    return SubmissionResult(
        student=draw(any_text),
        exercise=draw(any_text),
        checks=tuple(draw(st.lists(checks() if check_strategy is None else check_strategy,
                                   max_size=6))),
        output=draw(any_text),
        visibility=draw(st.sampled_from(VISIBILITIES)),
        stdout_visibility=draw(st.sampled_from(VISIBILITIES)),
        execution_time=draw(st.one_of(st.none(), st.floats(0, 1e4))),
        metadata=draw(st.dictionaries(any_text, json_values, max_size=3)),
    )


# -- the model -----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"score": 1.5}, "score"), ({"score": -0.1}, "score"), ({"score": float("nan")}, "score"),
    ({"points": -1.0}, "points"), ({"status": "ok"}, "status"),
    ({"visibility": "secret"}, "visibility"),
])
def test_check_results_refuse_out_of_range_values(kwargs, match):
    base = dict(name="c", points=1.0, score=0.5, status="failed")
    with pytest.raises(ValueError, match=match):
        CheckResult(**{**base, **kwargs})


def test_details_are_plain_json_and_objects_are_refused():
    import numpy as np

    c = CheckResult("c", 1.0, 1.0, "passed",
                    details={"a": np.float64(0.5), "b": (1, 2), "c": np.arange(2),
                             "d": float("nan"), "e": np.bool_(True)})
    assert c.details == {"a": 0.5, "b": [1, 2], "c": [0, 1], "d": "NaN", "e": True}
    with pytest.raises(TypeError):
        CheckResult("c", 1.0, 1.0, "passed", details={"x": object()})
    with pytest.raises(TypeError):
        json_value({1: "non-str key"})


def test_totals_add_earned_points():
    sub = SubmissionResult("s", "e", [CheckResult("a", 2.0, 0.5, "failed"),
                                      CheckResult("b", 3.0, 1.0, "passed"),
                                      error_result("c", 1.0, "raised")])
    assert (sub.score, sub.max_score) == (4.0, 6.0)


# -- Gradescope results.json ---------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(sub=submissions())
def test_gradescope_round_trip_is_lossless(sub):
    text = json.dumps(sub.to_gradescope(), allow_nan=False)       # strict JSON
    assert SubmissionResult.from_gradescope(json.loads(text)) == sub
    assert SubmissionResult.from_gradescope(json.loads(render_json(sub))) == sub


@settings(max_examples=40, deadline=None)
@given(sub=submissions())
def test_gradescope_json_has_the_specified_fields(sub):
    data = sub.to_gradescope()
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    assert data["visibility"] in VISIBILITIES and data["stdout_visibility"] in VISIBILITIES
    assert data["output_format"] == "text"
    assert len(data["tests"]) == len(sub.checks)
    for i, (test, check) in enumerate(zip(data["tests"], sub.checks, strict=True), 1):
        assert set(test) >= {"name", "number", "score", "max_score", "status", "visibility",
                             "output", "output_format", "tags"}
        assert test["status"] == ("passed" if check.status == "passed" else "failed")
        assert test["number"] == (check.number or str(i))
        assert 0 <= test["score"] <= test["max_score"] + 1e-12
        assert test["visibility"] == check.visibility


def test_a_foreign_results_json_loads_with_defaults():
    data = {"tests": [{"name": "t1", "score": 1.5, "max_score": 2.0},
                      {"name": "t2", "status": "failed"},
                      {"name": "t3", "score": 3.0, "max_score": 3.0, "visibility": "hidden"}]}
    sub = SubmissionResult.from_gradescope(data)
    assert [c.score for c in sub.checks] == [0.75, 0.0, 1.0]
    assert [c.status for c in sub.checks] == ["failed", "failed", "passed"]
    assert sub.checks[2].visibility == "hidden"


# -- JUnit XML -------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(sub=submissions(), audience=st.sampled_from(["student", "instructor"]))
def test_junit_is_well_formed_whatever_the_messages_hold(sub, audience):
    root = ET.fromstring(render_junit(sub, audience=audience).encode("utf-8"))
    suite = root.find("testsuite")
    shown = [c for c in sub.checks if audience == "instructor" or c.visibility == "visible"]
    cases = suite.findall("testcase")
    assert len(cases) == len(shown) == int(suite.get("tests"))
    for case, check in zip(cases, shown, strict=True):
        assert case.get("name") == xml_text(check.name)
        failure, error = case.find("failure"), case.find("error")
        assert (failure is not None) == (check.status == "failed")
        assert (error is not None) == (check.status == "error")
        outcome = failure if failure is not None else error
        if outcome is not None:
            assert (outcome.text or "") == xml_text(check.message)
    assert int(suite.get("failures")) == sum(c.status == "failed" for c in shown)
    assert int(suite.get("errors")) == sum(c.status == "error" for c in shown)


def test_junit_escapes_markup_and_control_characters_visibly():
    msg = "a < b && c > d \x00\x07\x1b[31m\ud800 end"
    sub = SubmissionResult("s", "e", [CheckResult("c<1>", 1.0, 0.0, "failed", message=msg)])
    text = render_junit(sub)
    case = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase")
    assert case.get("name") == "c<1>"
    assert case.find("failure").text == "a < b && c > d \\x00\\x07\\x1b[31m\\ud800 end"


def test_junit_holds_one_testsuite_per_submission():
    subs = [SubmissionResult(f"s{i}", "e", [CheckResult("c", 1.0, 1.0, "passed")])
            for i in range(3)]
    root = ET.fromstring(render_junit(subs).encode("utf-8"))
    assert [s.get("name") for s in root.findall("testsuite")] == ["e:s0", "e:s1", "e:s2"]
    assert root.get("tests") == "3"


# -- hidden checks do not leak -----------------------------------------------------------

SECRET = "SECRET-7f3a"
hidden_checks = checks(name=any_text.map(lambda t: SECRET + t),
                       message=any_text.map(lambda t: t + SECRET),
                       visibility=st.sampled_from(["hidden", "after_due_date", "after_published"]))
visible_checks = checks(name=st.text("abc ", max_size=8), message=st.text("xyz ", max_size=8),
                        visibility=st.just("visible"))


@settings(max_examples=40, deadline=None)
@given(sub=submissions(check_strategy=st.one_of(hidden_checks, visible_checks)),
       data=st.data())
def test_hidden_checks_do_not_leak_into_student_renderings(sub, data):
    sub = SubmissionResult(sub.student.replace(SECRET, ""), sub.exercise.replace(SECRET, ""),
                           sub.checks, output="")
    student_views = [render_text(sub), render_junit(sub), github_classroom_output(sub),
                     json.dumps(github_classroom_result(sub))]
    decoded = base64.b64decode(github_classroom_output(sub)).decode("utf-8")
    for view in student_views + [decoded]:
        assert SECRET not in view
    hidden = [c for c in sub.checks if c.visibility != "visible"]
    if hidden:
        assert SECRET in render_text(sub, audience="instructor")
        assert SECRET in render_junit(sub, audience="instructor")
        assert "hidden" in render_text(sub)
        # after the due date, the after_due_date checks may be shown
        released = render_text(sub, shown=("visible", "after_due_date"))
        assert (SECRET in released) == any(c.visibility == "after_due_date" for c in hidden)


def test_text_rendering_lists_checks_messages_and_total():
    sub = SubmissionResult("ada", "elman-backward", [
        CheckResult("forward states", 2.0, 1.0, "passed", message="matches the reference."),
        CheckResult("gradients", 3.0, 0.6, "failed", message="W: WRONG\nb: WRONG"),
        CheckResult("hidden probe", 1.0, 0.0, "failed", "hidden", message="nonzero s0"),
    ])
    text = render_text(sub)
    assert "Exercise elman-backward, student ada" in text
    row = next(line for line in text.splitlines() if line.startswith("2  gradients"))
    assert row.split()[2:] == ["1.8", "/", "3", "failed"]
    assert "    W: WRONG\n    b: WRONG" in text
    assert "1 more check is hidden (1 points)" in text
    assert "Total of the checks shown: 3.8 / 5" in text
    assert "hidden probe" not in text and "nonzero s0" not in text
    full = render_text(sub, audience="instructor")
    assert "Total: 3.8 / 6" in full and "nonzero s0" in full
    with pytest.raises(ValueError):
        render_text(sub, audience="everyone")


# -- GitHub Classroom --------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(sub=submissions())
def test_github_classroom_result_decodes_and_adds_up_to_the_grade(sub):
    data = json.loads(base64.b64decode(github_classroom_output(sub)).decode("utf-8"))
    assert data["version"] == 1
    assert data["max_score"] == pytest.approx(sub.max_score)
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(sub.score)
    statuses = {t["status"] for t in data["tests"]}
    assert statuses <= {"pass", "fail", "error"}
    assert data["status"] == ("error" if "error" in statuses else
                              "fail" if "fail" in statuses else "pass")
    for test, check in zip(data["tests"], sub.checks, strict=True):
        if check.visibility != "visible":
            assert test["message"] == WITHHELD


def test_points_line_and_notices():
    sub = SubmissionResult("s", "e", [CheckResult("a", 2.0, 0.75, "failed"),
                                      CheckResult("b", 3.0, 1.0, "passed")])
    assert points_line(sub) == "Points 4.5/5"
    notices = github_classroom_notices(sub).splitlines()
    assert notices[0] == "::notice title=Autograding complete::Points 4.5/5"
    assert json.loads(notices[1].split("::", 2)[2]) == {"totalPoints": 4.5, "maxPoints": 5.0}
    assert points_line(SubmissionResult("s", "e")) == "Points 0/0"
