"""nbgrader's generate_feedback after `bptt grade --nbgrader`: autograded notebooks bptt writes.

The autograded notebook is built on the release (`merged_cells`): nbgrader's
cells from the release in the student's order, the student's source only in
solution cells, deleted cells put back, the student's own cells kept bare, and
no output the student saved. Its hidden-test cells' outputs are the stages'
feedback. End to end, `nbgrader generate_feedback` must then run and its HTML
hold every stage's message, for honest students and for one who deleted,
copied and relabelled cells.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.cli import main
from grader.grading.nbgrader_feedback import autograded_notebook, merged_cells
from grader.reports.render import WITHHELD
from grader.reports.results import CheckResult, SubmissionResult


def _cell(kind, source, **nbgrader):
    cell = {"cell_type": kind, "metadata": {"nbgrader": nbgrader} if nbgrader else {},
            "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


RELEASE = [
    _cell("markdown", "# Intro"),
    _cell("code", "import numpy as np", grade_id="given", locked=True, grade=False,
          solution=False),
    _cell("code", "def f(x):\n    raise NotImplementedError", grade_id="f", solution=True,
          grade=False, locked=False),
    _cell("code", "# Tests of f", grade_id="f-tests", grade=True, solution=False, locked=True,
          points=2),
    _cell("markdown", r"Now g, where $s_t = \varphi(a_t)$ and $$L = \sum_t \ell_t$$"),
    _cell("code", "def g(x):\n    raise NotImplementedError", grade_id="g", solution=True,
          grade=False, locked=False),
    _cell("code", "# Tests of g", grade_id="g-tests", grade=True, solution=False, locked=True,
          points=3),
]
IDS = [c["metadata"]["nbgrader"]["grade_id"] for c in RELEASE if c["metadata"]]


def _grade_id(cell):
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


@st.composite
def student_edits(draw):
    """A student's copy of RELEASE: cells deleted, copied, moved and added; answers written;
    locked cells edited; outputs saved; nbgrader metadata forged on their own cells."""
    cells = []
    for cell in RELEASE:
        if draw(st.integers(0, 5)) == 0:
            continue                                    # deleted
        cell = json.loads(json.dumps(cell))
        if cell["metadata"]:
            cell["source"] = draw(st.sampled_from(["", "pass", "def f(x):\n    return 2 * x"]))
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"text/html": "<script>steal()</script>"}}]
        cells.append(cell)
        if draw(st.integers(0, 5)) == 0:
            cells.append(json.loads(json.dumps(cell)))  # copied
    for _ in range(draw(st.integers(0, 3))):
        forged = draw(st.sampled_from([None, "f-tests", "mine"]))
        own = _cell("code", f"own_{len(cells)} = 1", **(
            {"grade_id": forged, "grade": True, "points": 99} if forged else {}))
        cells.insert(draw(st.integers(0, len(cells))), own)
    return draw(st.permutations(cells)) if draw(st.booleans()) else cells


@settings(max_examples=300, deadline=None)
@given(student_edits())
def test_merged_cells_hold_every_release_cell_once_and_nothing_the_student_forged(submitted):
    merged = merged_cells(submitted, RELEASE)
    ids = [_grade_id(c) for c in merged if _grade_id(c)]
    assert sorted(ids) == sorted(IDS)                   # each of nbgrader's cells, once
    release = {_grade_id(c): c for c in RELEASE if c["metadata"]}
    first = {}
    for cell in submitted:
        first.setdefault(_grade_id(cell), cell)
    for cell in merged:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        grade_id = _grade_id(cell)
        if grade_id is None:
            assert "nbgrader" not in cell["metadata"]
            continue
        assert cell["metadata"] == release[grade_id]["metadata"]
        if release[grade_id]["metadata"]["nbgrader"]["solution"] and grade_id in first:
            assert cell["source"] == first[grade_id]["source"]
        else:
            assert cell["source"] == release[grade_id]["source"]
    own = [c["source"] for c in submitted       # a forged known id makes a cell nbgrader's
           if c["source"].startswith("own_") and _grade_id(c) not in IDS]
    assert [c["source"] for c in merged if c["source"].startswith("own_")] == own


def test_deleted_cells_come_back_after_the_release_cell_they_follow():
    submitted = [RELEASE[0], RELEASE[2], RELEASE[4], RELEASE[5]]     # both test cells deleted
    merged = merged_cells(submitted, RELEASE)
    assert [_grade_id(c) for c in merged] == [None, "given", "f", "f-tests", None, "g",
                                              "g-tests"]


def _result(visibility="visible"):
    return SubmissionResult("ann", "toy", checks=[
        CheckResult("f", 2, 1.0, "passed", message="f: right on 2 of 2 probes.", tags=("f",)),
        CheckResult("g", 3, 0.0, "failed", visibility, message="g: <b>wrong</b> at t=3.",
                    tags=("g",)),
        CheckResult("Submission", 0, 1.0, "passed", message="Read 2 cells.")],
        output="printed: hello")


def _outputs(notebook, grade_id):
    [cell] = [c for c in notebook["cells"] if _grade_id(c) == grade_id]
    return [o["data"] for o in cell["outputs"]]


def test_each_test_cell_shows_its_stage_and_only_what_the_student_may_see():
    notebook = autograded_notebook({"cells": RELEASE}, {"cells": RELEASE, "metadata": {},
                                                        "nbformat": 4, "nbformat_minor": 5},
                                   _result())
    f_text = "".join(d["text/plain"] for d in _outputs(notebook, "f-tests"))
    assert "f: right on 2 of 2 probes." in f_text
    html = "".join(d["text/html"] for d in _outputs(notebook, "g-tests"))
    assert "g: &lt;b&gt;wrong&lt;/b&gt; at t=3." in html and "<b>" not in html
    assert "Read 2 cells." in f_text and "printed: hello" in f_text
    hidden = autograded_notebook(None, {"cells": RELEASE, "metadata": {}}, _result("hidden"))
    text = json.dumps(_outputs(hidden, "g-tests"))
    assert WITHHELD in text and "wrong" not in text and '"g' not in text


def test_the_release_maths_is_drawn_offline_and_a_student_s_own_is_not():
    own = _cell("markdown", r"My note: $x^2$")
    notebook = autograded_notebook({"cells": [*RELEASE, own]}, {"cells": RELEASE, "metadata": {}},
                                   _result())
    [release_text] = [c["source"] for c in notebook["cells"] if "Now g" in c["source"]]
    [own_text] = [c["source"] for c in notebook["cells"] if "My note" in c["source"]]
    assert "$" not in release_text and release_text.count("data:image/svg+xml;base64,") == 2
    assert r'alt="s_t = \varphi(a_t)"' in release_text
    assert own_text == r"My note: $x^2$"


# -- end to end -------------------------------------------------------------------------------


def test_nbgrader_generate_feedback_runs_after_bptt_grade_and_shows_every_message(tmp_path):
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
    students = {"nb-ann": None, "nb-bo": "rnn_backward", "nb-cy": "rnn_forward"}
    for student, wrong in students.items():
        code = stage_solutions(exercise, make_instance(exercise, student, config.secret,
                                                       config.salt).variant)
        if wrong:
            code = {**code, wrong: code[wrong] + WRONG.format(name=wrong)}
        notebook = filled_in(handout, student, code)
        if student == "nb-cy":      # deletes a test cell, copies another, forges a grade cell
            tests = [c for c in notebook["cells"]
                     if c["metadata"].get("nbgrader", {}).get("grade_id", "").endswith("-tests")]
            notebook["cells"].remove(tests[0])
            notebook["cells"].append(json.loads(json.dumps(tests[1])))
            notebook["cells"].append({"cell_type": "code", "execution_count": None,
                                      "metadata": {"nbgrader": {"grade_id": "bonus",
                                                                "grade": True, "points": 50}},
                                      "outputs": [], "source": "print('extra')"})
        path = course / "submitted" / student / "elman" / "elman.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(notebook))
    outcome = CliRunner().invoke(main, ["grade", str(course / "submitted"), "--nbgrader",
                                        str(course), "--results", str(tmp_path / "results")])
    assert outcome.exit_code == 0, outcome.output
    nbgrader(course, "generate_feedback", "elman", "--force")
    for student in students:
        page = (course / "feedback" / student / "elman" / "elman.html").read_text()
        assert "bptt-feedback" in page, "the page is not nbgrader's rendering of our notebook"
        body = re.sub(r"(?s)<(style|script)\b.*?</\1>", "", page)
        text = unescape(re.sub(r"<[^>]+>", "", body))
        result = SubmissionResult.from_gradescope(json.loads(
            (tmp_path / "results" / f"{student}-elman.json").read_text()))
        for check in result.checks:
            if check.visibility == "visible":
                assert check.message in text, (student, check.name)
        assert "Traceback" not in text and "grade_stage(" not in text
        assert "$$" not in text and "data:image/svg+xml;base64," in page   # maths offline
        assert "bonus" not in page


# -- a class's drawings, drawn once for the three renderings --------------------------------


def test_a_class_s_drawings_drawn_once_give_the_renderings_each_draws_alone(tmp_path):
    """`bptt grade --nbgrader` draws each result's pictures once, in forked processes, for
    the feedback page, nbgrader's page and the autograded notebook: the files are byte for
    byte those each rendering writes when it draws for itself."""
    from functools import partial

    from exercises.instance import DEMO_SECRET
    from grader.authoring.solution_cells import solution_namespace
    from grader.checking.verdicts import grade_outcomes
    from grader.cli.simulated import filled_in, release_json
    from grader.grading.in_process import run_in_process
    from grader.grading.nbgrader_feedback import write_autograded, write_nbgrader_feedback
    from grader.reports.drawings import PAGES_PER_WORKER, class_drawings

    exercise = get_exercise("elman")
    handout = release_json(exercise, None, "salt")
    results = []
    for i in range(2 * PAGES_PER_WORKER):          # enough for two drawing processes
        student = f"nb-{i}"
        instance = make_instance(exercise, student, DEMO_SECRET)
        namespace = dict(solution_namespace(exercise, instance.variant, student))
        mistakes = [None] + [(stage, bug) for stage in exercise.stages
                             for bug in stage.bugs_for(instance.variant)]
        if (mistake := mistakes[i % len(mistakes)]) is not None:
            stage, bug = mistake
            namespace[stage.name] = partial(bug.implementation, instance.variant)
        results.append(grade_outcomes(instance, run_in_process(instance, namespace), metadata={
            "path": str(tmp_path / "submitted" / student / "elman" / "elman.ipynb")}))
        path = tmp_path / "submitted" / student / "elman" / "elman.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(filled_in(handout, student, {})))
    assert len({result.score for result in results}) > 3
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    for course in (alone, shared):
        (course / "release" / "elman").mkdir(parents=True)
        (course / "release" / "elman" / "elman.ipynb").write_text(json.dumps(handout))
    write_nbgrader_feedback(alone, results)
    write_autograded(alone, results)
    drawings = class_drawings(results, workers=2)
    write_nbgrader_feedback(shared, results, drawings)
    write_autograded(shared, results, drawings)
    files = sorted(p.relative_to(alone) for p in alone.rglob("*") if p.is_file())
    assert len(files) == 1 + 2 * len(results)
    assert sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file()) == files
    for name in files:
        assert (shared / name).read_bytes() == (alone / name).read_bytes(), name
    drawn = [name.suffix for name in files if "<svg" in (alone / name).read_text()
             or "data:image/svg+xml" in (alone / name).read_text()]
    assert ".html" in drawn and ".ipynb" in drawn      # both renderings hold pictures
