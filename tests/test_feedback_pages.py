"""Feedback pages, the class report, and the numbers they show (issue 12).

Pages are built from real grades: every catalogue bug of every exercise,
injected into the solution and graded in-process (as `test_diagnosis` does), and
the solution itself. Each page must be valid HTML that references nothing
outside itself, show a wrong gradient's misconception with its equation drawn and
where in time it goes wrong, and show a hidden check only as a count and its
points. The browser's view of the pages is in test_feedback_browser.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
from dataclasses import replace
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises.instance import DEMO_SECRET, make_instance
from exercises.misconceptions import CATALOGUE
from exercises.registry import all_exercises, get_exercise
from exercises.spec import Probe
from grader.authoring import solution_cells
from grader.checking.error_map import error_map
from grader.checking.verdicts import grade_outcomes
from grader.cli import main
from grader.grading.in_process import run_in_process
from grader.reports.class_page import class_view, report_csv, write_report
from grader.reports.class_report import class_csv, summary_text
from grader.reports.drawings import drawing_parts, page_drawings
from grader.reports.feedback import render_feedback_html, render_feedback_markdown
from grader.reports.numbers import points_text
from grader.reports.render import points_line, render_text, split_by_audience
from grader.reports.results import CheckResult, SubmissionResult

STUDENT = "student-007"


# -- real grades: the catalogue's bugs ------------------------------------------------------


def graded(exercise, student: str, stage=None, bug=None) -> SubmissionResult:
    instance = make_instance(exercise, student, DEMO_SECRET)
    namespace = solution_cells.solution_namespace(exercise, instance.variant, student)
    if bug is not None:
        namespace = dict(namespace, **{stage.name: partial(bug.implementation,
                                                           instance.variant)})
    return grade_outcomes(instance, run_in_process(instance, namespace),
                          metadata={"path": f"/submissions/{student}.ipynb"})


@pytest.fixture(scope="module")
def catalogue_results() -> list[tuple[str, SubmissionResult]]:
    """(label, result): each exercise's solution, then each of its bugs for one student."""
    found = []
    for exercise_id in sorted(all_exercises()):
        exercise = get_exercise(exercise_id)
        found.append((f"{exercise_id}: solution", graded(exercise, STUDENT)))
        variant = make_instance(exercise, STUDENT, DEMO_SECRET).variant
        for stage in exercise.stages:
            for bug in stage.bugs_for(variant):
                found.append((f"{exercise_id}/{stage.name}: {bug.misconception}",
                              graded(exercise, STUDENT, stage, bug)))
    assert len(found) > 40
    return found


@pytest.fixture(scope="module")
def catalogue_pages(catalogue_results) -> list[tuple[str, SubmissionResult, str]]:
    """(label, result, the student's HTML page), each page built once."""
    return [(label, result, render_feedback_html(result)) for label, result in catalogue_results]


# -- what a valid, self-contained page is ----------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class PageChecker(HTMLParser):
    """Collects what makes an HTML page invalid or not self-contained."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: list[str] = []
        self.tags: dict[str, int] = {}
        self.doctype = False
        self.text: list[str] = []

    def handle_decl(self, decl):
        self.doctype |= decl.lower() == "doctype html"

    def _attributes(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("script", "link", "iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.ids.append(value)
            if name.startswith("xmlns"):
                continue                        # a namespace name, not a resource
            if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data") \
                    and not value.startswith("#"):
                self.problems.append(f"<{tag} {name}={value[:60]!r}>")
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            if name == "style" and re.search(r"url\((?!#)", value):
                self.problems.append(f"<{tag} style with url()>")

    def handle_starttag(self, tag, attrs):
        self._attributes(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._attributes(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            if "@import" in data or re.search(r"url\((?!#)", data) or "@font-face" in data:
                self.problems.append("CSS that loads something")
        self.text.append(data)


def page_problems(page: str) -> list[str]:
    checker = PageChecker()
    checker.feed(page)
    checker.close()
    problems = list(checker.problems)
    if not checker.doctype:
        problems.append("no <!DOCTYPE html>")
    if checker.stack:
        problems.append(f"unclosed {checker.stack}")
    for tag in ("html", "head", "body", "title"):
        if checker.tags.get(tag) != 1:
            problems.append(f"{checker.tags.get(tag, 0)} <{tag}> elements")
    duplicates = {i for i in checker.ids if checker.ids.count(i) > 1}
    if duplicates:
        problems.append(f"duplicate ids {sorted(duplicates)[:5]}")
    if re.search(r"(?i)\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", re.sub(
            r'xmlns(?::\w+)?="[^"]*"', "", page)):
        problems.append("a URL in the page")
    return problems


def page_text(page: str) -> str:
    checker = PageChecker()
    checker.feed(page)
    return "".join(checker.text)


def test_the_checker_catches_what_it_looks_for():
    good = "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p></body></html>"
    assert page_problems(good) == []
    assert page_problems(good.replace("<p>x</p>", "<p>x</div>"))
    assert page_problems(good.replace("<p>x</p>", '<img src="https://cdn.example.org/a.png">'))
    assert page_problems(good.replace("<p>x</p>", "<script>1</script>"))
    assert page_problems(good.replace("<title>", "<style>@import 'x.css';</style><title>"))
    assert page_problems(good.replace("<!DOCTYPE html>", ""))


# -- pages -----------------------------------------------------------------------------------


def test_every_page_is_valid_and_self_contained(catalogue_pages, tmp_path):
    for label, result, page in catalogue_pages:
        assert page_problems(page) == [], label
        assert page_problems(render_feedback_html(result, shown=())) == [], label
    report = write_report([result for _, result, _ in catalogue_pages], tmp_path)
    assert page_problems(report["html"].read_text()) == []


def test_a_wrong_gradient_is_named_with_its_equation_drawn_and_where_it_goes_wrong(
        catalogue_pages):
    named = drawn = mapped = 0
    for label, result, page in catalogue_pages:
        for check in result.checks:
            if check.details.get("misconception"):
                named += 1
                title = CATALOGUE[check.details["misconception"]].title
                assert title.replace("'", "&#39;") in page, label
                assert check.details.get("correction"), label
            rows = (check.details.get("error_map") or {}).get("rows")
            if rows:
                mapped += 1
                assert any(max(row.get("per_step", [row.get("overall", 0)])) > 0
                           for row in rows), label
        equations = len(re.findall(r'<div class="equation"><svg', page))
        assert equations == sum(bool(c.details.get("correction")) for c in result.checks), label
        drawn += equations
        assert len(re.findall(r'<figure class="error_map"><svg', page)) == sum(
            map(draws_error_map, result.checks)), label
    # every named misconception's equation is drawn by mathtext, none falls back to text
    assert named == drawn > 20
    assert mapped > 10


def loss_step_cells(check: CheckResult) -> list:
    """Every cell of a check's map by loss step (empty without one)."""
    found = (check.details.get("error_map") or {}).get("by_loss_step") or {}
    return [cell for row in found.get("rows", []) for cell in row["per_step"]]


def draws_error_map(check: CheckResult) -> bool:
    """Whether the page should draw a heat map: a wrong output, or a cell by loss step
    that is not zero."""
    return bool((check.details.get("error_map") or {}).get("rows")) or any(
        cell != 0.0 for cell in loss_step_cells(check))


def test_a_wrong_backward_s_gradients_by_loss_step_are_drawn(catalogue_pages):
    """A visible backward with the gradient check's calls carries its map by loss step;
    where a cell is not zero the page's heat map has the panel of parameters against the
    loss step, and the page stays valid and self-contained."""
    carried = panels = 0
    for label, result, page in catalogue_pages:
        for check in result.checks:
            found = (check.details.get("error_map") or {}).get("by_loss_step")
            if found is None:
                continue
            carried += 1
            assert check.visibility == "visible", label
            assert found["steps"] > 1 and all(len(row["per_step"]) == found["steps"]
                                              for row in found["rows"]), label
            json.dumps(found, allow_nan=False)                 # plain JSON
        wanted = sum(any(cell != 0.0 for cell in loss_step_cells(c)) for c in result.checks)
        assert len(re.findall(r'<g id="c\d+error_map-parameter-map">', page)) == wanted, label
        panels += wanted
        if wanted:
            assert page_problems(page) == [], label
    assert carried > 20 and panels > 5


def test_a_page_drawn_apart_and_in_two_processes_is_the_page_drawn_in_place(catalogue_pages):
    """page_drawings (what the command line's drawer sends back) draws the same page as
    rendering draws in place, whether its drawings are shared with a forked process or
    not, for every catalogue page; many of them share (two drawings or more)."""
    shared = 0
    for label, result, page in catalogue_pages:
        seen, _ = split_by_audience(result)
        shared += sum(len(drawing_parts(check)) for check in seen) >= 2
        for fork in (False, True):
            assert render_feedback_html(result, drawings=page_drawings(result, fork=fork)) \
                == page, (label, fork)
    assert shared > 20


def test_a_full_marks_page_draws_no_error_map(catalogue_pages):
    for label, result, page in catalogue_pages:
        if result.score == result.max_score:
            assert "error_map" not in page and 'class="equation"' not in page, label


def test_the_vanishing_gradient_norms_are_drawn_against_time():
    result = graded(get_exercise("vanishing"), STUDENT)
    series = [c.details["step_series"] for c in result.checks if "step_series" in c.details]
    assert series and series[0]["output"] == "norms"
    assert np.allclose(series[0]["student"], series[0]["reference"])
    page = render_feedback_html(result)
    assert '<figure class="step_series"><svg' in page


def test_a_training_stage_s_loss_curve_is_drawn():
    curve = {"student": [2.0, 1.5, 1.4, 1.6], "reference": [2.0, 1.5, 1.1, 0.9]}
    check = CheckResult("Training (train)", 2, 0.5, "failed", message="step 2 departs",
                        details={"loss_curve": curve})
    page = render_feedback_html(SubmissionResult("s", "elman", (check,)))
    assert '<figure class="loss_curve"><svg' in page
    assert page_problems(page) == []
    hidden = replace(check, visibility="hidden")
    assert "<svg" not in render_feedback_html(SubmissionResult("s", "elman", (hidden,)))


@settings(max_examples=60, deadline=None)
@given(T=st.integers(2, 12), d=st.integers(1, 4), data=st.data())
def test_the_error_map_starts_where_the_bug_starts(T, d, data):
    """A gradient wrong at step k and every step before it (BPTT walks back from T−1)
    has zero error after k and non-zero error from k down, in every output row."""
    k = data.draw(st.integers(0, T - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    expected = {"dx": rng.normal(size=(2, T, d)), "dW": rng.normal(size=(d, d))}
    got = {"dx": expected["dx"].copy(), "dW": expected["dW"] * 1.5}
    got["dx"][:, : k + 1] += 0.5 + rng.uniform(size=(2, k + 1, d))
    found = error_map(Probe(name="p", kwargs={}, time_axis={"dx": 1}), got, expected)
    per_step = np.array(found["rows"][0]["per_step"])
    assert found["steps"] == T
    assert (per_step[k + 1:] == 0).all() and (per_step[: k + 1] > 0).all()
    assert found["rows"][1] == {"output": "dW", "overall": pytest.approx(0.2)}
    assert error_map(Probe(name="p", kwargs={}, time_axis={"dx": 1}), None, expected) is None


# -- hidden checks ---------------------------------------------------------------------------


def secrets_of(check: CheckResult) -> list[str]:
    """What a page must not show of a hidden check: its name, its message's lines, the
    probes it names, its details' strings."""
    lines = [line.strip(" •") for line in check.message.splitlines() if len(line.strip()) > 12]
    probes = re.findall(r"• (.+?)(?: \(|:)", check.message)
    details = [check.details.get("correction"), check.details.get("misconception"),
               (check.details.get("error_map") or {}).get("probe")]
    title = CATALOGUE.get(check.details.get("misconception") or "")
    return [s for s in [check.name, *lines, *probes, *details,
                        title.title if title else None] if s and len(s) > 3]


def leaks(result: SubmissionResult, hidden: set[int]) -> list[str]:
    """What the student pages (HTML and Markdown) show of the checks hidden."""
    result = result.with_checks(replace(c, visibility="hidden") if i in hidden else c
                                for i, c in enumerate(result.checks))
    seen = [c for i, c in enumerate(result.checks) if i not in hidden]
    allowed = " ".join([c.name + "\n" + c.message + json.dumps(c.details) for c in seen]
                       + [result.output])
    html_text = page_text(render_feedback_html(result))
    markdown = render_feedback_markdown(result)
    found = []
    for i in hidden:
        for secret in secrets_of(result.checks[i]):
            if secret in allowed:
                continue                        # a visible check says it too
            if secret in html_text or secret in markdown:
                found.append(secret)
    if hidden:
        assert "hidden" in html_text and "hidden" in markdown
    return found


def test_hidden_checks_show_only_their_count_and_points(catalogue_results):
    for label, result in catalogue_results:
        every = set(range(len(result.checks)))
        wrong = {i for i, c in enumerate(result.checks) if c.score < 1}
        assert leaks(result, every) == [], label
        assert leaks(result, wrong) == [], label
        page = page_text(render_feedback_html(replace(result, checks=tuple(
            replace(c, visibility="hidden") for c in result.checks))))
        assert "<svg" not in page and "probe" not in page, label


@pytest.fixture(scope="module")
def adversarial_results(tmp_path_factory) -> list[SubmissionResult]:
    """Every attack of tests/adversarial graded in the sandbox, in one batch."""
    from adversarial.corpus import ATTACKS
    from test_adversarial import REPO, write_attack

    from grader.authoring.course import CourseConfig
    from grader.grading.batch import Target, grade_batch
    from grader.sandbox.worker import find_bwrap

    folder = tmp_path_factory.mktemp("attacks")
    course = folder / "bptt-course.toml"
    course.write_text('secret = "feedback-pages-adversarial"\n[limits]\nwall_seconds = 2\n'
                      'cpu_seconds = 2\nmemory_mb = 512\nfile_mb = 8\nprocesses = 32\n'
                      'output_kb = 16\n')
    submissions = folder / "submissions"
    submissions.mkdir()
    places = {"SUBS": submissions, "RESULTS": folder / "results", "COURSE": course,
              "REPO": REPO, "MARKER": folder / "pwned"}
    bubblewrap = find_bwrap() is not None
    paths = [write_attack(attack, submissions, places) for attack in ATTACKS
             if bubblewrap or not attack.bubblewrap]
    summary = grade_batch([Target(p) for p in paths], CourseConfig.from_file(course),
                          folder / "results", workers=2)
    assert len(summary.results) == len(paths) > 30
    return summary.results


def test_no_page_of_an_attack_shows_a_hidden_check(adversarial_results):
    for result in adversarial_results:
        path = result.metadata.get("path")
        assert leaks(result, set(range(len(result.checks)))) == [], path
        assert leaks(result, {i for i, c in enumerate(result.checks) if c.score < 1}) == [], path
        page = render_feedback_html(result)
        assert page_problems(page) == [], path


def test_what_a_submission_printed_cannot_become_markup():
    printed = ('<script>alert(1)</script><img src="https://evil.example.org/x.png">\n'
               "```\n# a heading\n````")
    result = SubmissionResult("s", "elman", (CheckResult("Submission", 1, 0, "error",
                                                         message=printed),), output=printed)
    page = render_feedback_html(result)
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    markdown = render_feedback_markdown(result)
    fences = re.findall(r"^(`{3,})text$", markdown, flags=re.M)
    assert fences and all(len(f) > 4 for f in fences)


# -- numbers -----------------------------------------------------------------------------------

points = st.sampled_from([0.5, 1, 1.5, 2, 3, 0.15, 1 / 3, 7 / 6])
fractions = st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 2 / 3, 0.1, 0.7, 6 / 7])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(points, fractions), min_size=1, max_size=7))
def test_every_rendering_shows_the_same_rounded_score(checks):
    result = SubmissionResult("ann", "elman", tuple(
        CheckResult(f"stage {i}", p, f, "passed" if f == 1 else "failed")
        for i, (p, f) in enumerate(checks)), metadata={"path": "ann.ipynb"})
    total, possible = points_text(result.score), points_text(result.max_score)
    assert abs(float(total) - result.score) <= 0.005 + 1e-12
    assert f"Total: {total} / {possible}" in render_text(result)
    assert points_line(result) == f"Points {total}/{possible}"
    assert f"{total}/{possible}" in summary_text([result])
    row = class_csv([result]).splitlines()[1].split(",")
    assert row[2:4] == [total, possible]
    assert row[4:4 + len(checks)] == [points_text(c.earned) for c in result.checks]
    assert f"Score: {total} / {possible}" in render_feedback_html(result)
    assert f"**Score: {total} / {possible}**" in render_feedback_markdown(result)
    assert report_csv([result]).splitlines()[1].split(",")[2:4] == [total, possible]
    for rendering in (render_text(result), render_feedback_html(result), summary_text([result]),
                      class_csv([result]), report_csv([result])):
        assert not re.search(r"\d\.\d{3,}", rendering.replace("0.0", "")), rendering


def test_class_csv_columns_follow_the_exercise_order():
    exercise = get_exercise("elman")
    names = [f"{stage.title} ({stage.name})" for stage in exercise.stages]
    assert names != sorted(names)                       # else the test could not fail
    results = [SubmissionResult(s, "elman", tuple(CheckResult(n, 1, 1, "passed")
                                                  for n in names)) for s in ("b", "a")]
    unreadable = SubmissionResult("c", "elman", (CheckResult("Submission", 11, 0, "error"),))
    header = class_csv([unreadable, *results]).splitlines()[0].split(",")
    assert header[4:4 + len(names)] == names
    assert report_csv([unreadable, *results]).splitlines()[0].split(",")[5:5 + len(names)] \
        == names


# -- the class report against the gradebook ----------------------------------------------------


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A simulated class of the elman exercise graded in the sandbox: (results, folder)."""
    from grader.authoring.course import CourseConfig
    from grader.authoring.solution_cells import stage_solutions
    from grader.cli.simulated import ELMAN_BUGS, filled_in, release_json, with_bug
    from grader.grading.batch import discover, grade_batch

    folder = tmp_path_factory.mktemp("class")
    (folder / "bptt-course.toml").write_text('secret = "class-report-of-the-feedback-tests"\n')
    config = CourseConfig.from_file(folder / "bptt-course.toml")
    exercise = get_exercise("elman")
    submissions = folder / "submissions"
    submissions.mkdir()
    bugs = sorted(ELMAN_BUGS)
    for index in range(14):
        student = f"s{index:02d}"
        variant = make_instance(exercise, student, config.secret, config.salt).variant
        code = stage_solutions(exercise, variant)
        if index % 3:                       # a third right, the rest one bug each, repeated
            code = with_bug(code, bugs[index % len(bugs)])
        if index == 13:
            code = {k: v for k, v in code.items() if k != "rnn_backward"}
        notebook = filled_in(release_json(exercise, student, config.salt), student, code)
        (submissions / f"{student}.ipynb").write_text(json.dumps(notebook))
    (submissions / "broken.ipynb").write_text("{not json")
    summary = grade_batch(discover([submissions]), config, folder / "results", workers=2)
    return summary.results, folder


def test_the_report_s_numbers_are_the_gradebook_s(graded_class):
    results, folder = graded_class
    with sqlite3.connect(folder / "results" / "gradebook.sqlite") as db:
        rows = db.execute("SELECT student, exercise, score, max_score, results FROM grades"
                          ).fetchall()
    assert len(rows) == len(results) == 15
    view = class_view(results, drawn=False)
    elman = next(e for e in view.exercises if e.exercise == "elman")
    scores = sorted(score for _, exercise, score, _, _ in rows if exercise == "elman")
    assert sorted(elman.scores) == pytest.approx(scores)
    assert elman.mean == pytest.approx(statistics.fmean(scores))
    tests = {(student, t["name"]): t for student, _, _, _, payload in rows
             for t in json.loads(payload)["tests"]}
    for stage in elman.stages:
        passed = sum(1 for (_, name), t in tests.items()
                     if name == stage.name and t["score"] == t["max_score"])
        assert (stage.passed, stage.total) == (passed, len(scores)), stage.name
    counts: dict[str, set[str]] = {}
    for (student, _), t in tests.items():
        named = t["extra_data"]["details"].get("misconception")
        if named:
            counts.setdefault(named, set()).add(student)
    assert {row.id: (row.count, set(row.students)) for row in view.misconceptions} == {
        key: (len(who), who) for key, who in counts.items()}
    assert len(view.misconceptions) >= 3
    problems = {row.path.rsplit("/", 1)[-1]: row.problem for row in view.problems}
    assert problems.keys() == {"broken.ipynb"} and problems["broken.ipynb"].startswith("refused")
    csv_rows = {line.split(",")[0]: line.split(",") for line in report_csv(results).splitlines()}
    for student, _, score, max_score, _ in rows:
        if student:
            assert csv_rows[student][2:4] == [points_text(score), points_text(max_score)]
    assert len(view.times) == sum(r.execution_time is not None for r in results) == 14
    assert [e.exercise for e in view.exercises] == ["elman"]     # not the unreadable file's


def test_bptt_grade_writes_pages_and_report_where_asked(graded_class, tmp_path):
    _, folder = graded_class
    subs = folder / "submissions"
    chosen = [str(subs / "s01.ipynb"), str(subs / "s03.ipynb")]
    course = ["--course", str(folder / "bptt-course.toml")]
    outcome = CliRunner().invoke(main, ["grade", *chosen, *course,
                                        "--results", str(tmp_path / "r1")])
    assert outcome.exit_code == 0, outcome.output
    for stem in ("s01", "s03"):
        for suffix in (".html", ".md"):
            assert (tmp_path / "r1" / "feedback" / f"{stem}{suffix}").is_file()
    assert (tmp_path / "r1" / "report.html").is_file()
    assert (tmp_path / "r1" / "report.csv").is_file()
    assert str(tmp_path / "r1" / "report.html") in outcome.output.replace("\n", "")
    outcome = CliRunner().invoke(main, ["grade", *chosen, *course, "--results",
                                        str(tmp_path / "r2"), "--feedback", str(tmp_path / "fb")])
    assert outcome.exit_code == 0, outcome.output
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == [
        "s01.html", "s01.md", "s03.html", "s03.md"]
    assert not (tmp_path / "r2" / "feedback").exists()
    outcome = CliRunner().invoke(main, ["grade", *chosen, *course, "--results",
                                        str(tmp_path / "r3"), "--no-feedback"])
    assert outcome.exit_code == 0 and not (tmp_path / "r3" / "feedback").exists()
    outcome = CliRunner().invoke(main, ["grade", chosen[0], *course, "--results",
                                        str(tmp_path / "r4")])
    assert outcome.exit_code == 0, outcome.output       # one submission: a page, no class
    assert (tmp_path / "r4" / "feedback" / "s01.html").is_file()
    assert not (tmp_path / "r4" / "report.html").exists() and "class report" not in \
        outcome.output


def test_bptt_report_writes_html_and_csv(graded_class, tmp_path):
    results, folder = graded_class
    outcome = CliRunner().invoke(main, ["report", str(folder / "results"), "--out",
                                        str(tmp_path / "report")])
    assert outcome.exit_code == 0, outcome.output
    page = (tmp_path / "report" / "report.html").read_text()
    assert page_problems(page) == []
    assert page.count('<figure class="histogram"><svg') == 1
    for row in class_view(results, drawn=False).misconceptions:
        assert row.id in page and row.title.replace("'", "&#39;") in page
    assert len((tmp_path / "report" / "report.csv").read_text().splitlines()) == 16
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nowhere"), "--out",
                                        str(tmp_path / "x")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(main, ["report", str(empty), "--out", str(tmp_path / "x")])
    assert nothing.exit_code == 2 and "no results.json" in nothing.output


# -- nbgrader ----------------------------------------------------------------------------------


def test_a_failed_stage_in_nbgrader_s_kernel_shows_its_message_not_the_grader(monkeypatch,
                                                                              tmp_path):
    """grade_stage raising in a notebook: IPython's traceback holds the message and no line
    of the grader's source."""
    pytest.importorskip("IPython")
    from IPython.core.ultratb import AutoFormattedTB

    from grader.grading.hidden_tests import grade_stage

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPTT_COURSE", raising=False)
    exercise = get_exercise("elman")
    instance = make_instance(exercise, "nb-ann", DEMO_SECRET)
    namespace = solution_cells.solution_namespace(exercise, instance.variant, "nb-ann")
    namespace = dict(namespace, STUDENT_ID="nb-ann", phi_prime=lambda s: 0 * s + 7.0)
    try:
        grade_stage("elman", "phi_prime", namespace)
    except AssertionError as error:
        formatter = AutoFormattedTB(mode="Context", theme_name="nocolor")
        shown = "\n".join(formatter.structured_traceback(type(error), error,
                                                         error.__traceback__))
    else:
        pytest.fail("a wrong phi_prime earned points")
    assert "AssertionError: phi_prime: 2 of 2 probes wrong." in shown
    assert "grader/" not in shown and "check.message" not in shown, shown


def test_bptt_grade_nbgrader_writes_nbgrader_s_feedback_folder(tmp_path):
    """After `bptt grade --nbgrader COURSE`, COURSE/feedback/<student>/<assignment>/<notebook>
    .html exists for every graded notebook (what `nbgrader release_feedback` hands out) and
    holds each stage's message."""
    pytest.importorskip("nbgrader.api")
    from test_nbgrader_route import nbgrader
    from test_routes import WRONG

    from grader.authoring.course import CourseConfig
    from grader.authoring.nbgrader_course import init_course
    from grader.authoring.solution_cells import stage_solutions
    from grader.cli.simulated import filled_in

    course = tmp_path / "course"
    init_course(course)
    config = CourseConfig.from_file(course / "bptt-course.toml")
    nbgrader(course, "generate_assignment", "elman", "--force")
    exercise = get_exercise("elman")
    handout = json.loads((course / "release" / "elman" / "elman.ipynb").read_text())
    for student, wrong in (("nb-ann", None), ("nb-bo", "rnn_backward")):
        code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                       config.salt).variant)
        if wrong:
            code = {**code, wrong: code[wrong] + WRONG.format(name=wrong)}
        path = course / "submitted" / student / "elman" / "elman.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(filled_in(handout, student, code)))
    outcome = CliRunner().invoke(main, ["grade", str(course / "submitted"), "--nbgrader",
                                        str(course), "--results", str(tmp_path / "results")])
    assert outcome.exit_code == 0, outcome.output
    for student in ("nb-ann", "nb-bo"):
        page = (course / "feedback" / student / "elman" / "elman.html").read_text()
        assert page_problems(page) == []
        result = SubmissionResult.from_gradescope(json.loads(
            (tmp_path / "results" / f"{student}-elman.json").read_text()))
        text = page_text(page)
        for check in result.checks:
            assert check.message in text, (student, check.name)
        assert "Traceback" not in text


def test_matplotlib_is_imported_only_to_draw():
    """Neither the CLI, nor grading, nor building a page without pictures imports it."""
    import subprocess
    import sys

    code = ("import sys, grader.cli, grader.cli.grade, grader.grading.batch, "
            "grader.reports.feedback, grader.reports.class_page, grader.checking.verdicts\n"
            "from grader.reports.feedback import render_feedback_markdown\n"
            "from grader.reports.results import SubmissionResult\n"
            "render_feedback_markdown(SubmissionResult('s', 'e'))\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-2000:]


def test_pages_drawn_in_several_processes_are_those_drawn_in_one(graded_class, tmp_path):
    from grader.reports.feedback import write_feedback

    results, _ = graded_class
    batch = [(result, f"{copy}-{index}") for copy in ("a", "b")
             for index, result in enumerate(results)]
    one = write_feedback(batch, tmp_path / "one", workers=1)
    two = write_feedback(batch, tmp_path / "two", workers=2)
    assert [p.name for p in one] == [p.name for p in two] and len(one) == 4 * len(results)
    for path in one:
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name
