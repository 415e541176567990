"""Reading submissions: the student's code and nothing else, and a clear word when it can't."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.submission import (
    SubmissionError,
    load_submission,
    locked_cell_problems,
    strip_magics,
)


def notebook(*cells, metadata=None, nbformat=4) -> str:
    return json.dumps({"nbformat": nbformat, "nbformat_minor": 2,
                       "metadata": {"bptt": {"exercise": "elman", "student": "ada"}}
                       if metadata is None else metadata,
                       "cells": list(cells)})


def code(source, **nbgrader):
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}
    if nbgrader:
        cell["metadata"]["nbgrader"] = nbgrader
    return cell


def write(tmp_path, text, name="ada.ipynb"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_only_the_students_cells_run(tmp_path):
    path = write(tmp_path, notebook(
        code("import numpy as np\ndef phi(a): return a", locked=True, grade_id="given"),
        code("def f(x):\n    return x", solution=True, grade_id="f"),
        code("helper = 2"),
        {"cell_type": "markdown", "source": "# f", "metadata": {}},
        code("### BEGIN HIDDEN TESTS\nassert f(1) == 1\n### END HIDDEN TESTS"),
        code("assert f(2) == 2", grade=True, solution=False, grade_id="f-tests", points=1),
    ))
    submission = load_submission(path)
    assert submission.cells == ("def f(x):\n    return x", "helper = 2")
    assert (submission.student, submission.exercise) == ("ada", "elman")
    assert set(submission.locked) == {"given", "f-tests"}


def test_sources_as_lists_of_lines_are_joined(tmp_path):
    path = write(tmp_path, notebook(code(["def f(x):\n", "    return x\n"])))
    assert load_submission(path).cells == ("def f(x):\n    return x",)


def test_magics_and_shell_escapes_are_removed_with_a_note():
    source = "%matplotlib inline\n!pip install torch\nfiles = !ls\nx = 1\n  %time y = 2"
    kept, notes = strip_magics(source, "cell 3")
    assert kept.split("\n") == ["", "", "", "x = 1", ""]   # line numbers stay where they were
    assert len(notes) == 4 and all(note.startswith("cell 3, line") for note in notes)
    assert "`!pip install torch`" in notes[1]
    kept, notes = strip_magics("%%bash\necho hi\n", "cell 4")
    assert kept == "" and "cell magic `%%bash`" in notes[0]


@given(st.text())
def test_stripping_magics_never_adds_code(source):
    kept, notes = strip_magics(source, "cell")
    assert len(kept.splitlines()) <= max(1, len(source.splitlines()))
    assert all(line in source.splitlines() or not line for line in kept.splitlines())


def test_a_python_file_is_one_cell(tmp_path):
    path = write(tmp_path, "import numpy as np\n!ls\ndef f(x):\n    return x\n", "ada.py")
    submission = load_submission(path, student="ada", exercise="elman")
    assert submission.cells == ("import numpy as np\n\ndef f(x):\n    return x",)
    assert "removed `!ls`" in submission.notes[0]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("{not json", "not valid JSON"),
    ('{"cells": 3}', "not a Jupyter notebook"),
    ('[1, 2]', "not a Jupyter notebook"),
    (notebook(nbformat=3), "format version 3"),
    (notebook(code("x = 1"), metadata={}), "no student id"),
    (notebook(code("x = 1"), metadata={"bptt": {"student": "ada"}}), "no exercise"),
    (notebook({"cell_type": "code", "source": 7, "metadata": {}}), "neither text nor"),
    (notebook({"cell_type": "code", "source": ["x = 1\n", 2], "metadata": {}}), "neither text"),
    (notebook({"cell_type": "code", "source": [None], "metadata": {}}), "neither text nor"),
])
def test_unreadable_notebooks_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(SubmissionError, match=message):
        load_submission(write(tmp_path, text))


def test_other_files_and_huge_files_are_refused(tmp_path):
    with pytest.raises(SubmissionError, match="cannot grade a .txt file"):
        load_submission(write(tmp_path, "x", "ada.txt"), student="ada", exercise="elman")
    huge = write(tmp_path, notebook(code("x = '" + "a" * (9 * 1024 * 1024) + "'")))
    with pytest.raises(SubmissionError, match="the limit is"):
        load_submission(huge)
    with pytest.raises(SubmissionError, match="cannot read"):
        load_submission(tmp_path / "missing.ipynb", student="ada", exercise="elman")


def test_the_trusted_student_id_wins_and_the_claim_is_kept(tmp_path):
    path = write(tmp_path, notebook(code("x = 1")))
    submission = load_submission(path, student="bob")
    assert submission.student == "bob" and submission.claimed["student"] == "ada"


def test_deleted_and_changed_locked_cells_are_named():
    released = {"given": "import numpy as np", "f-tests": "assert f(1) == 1"}
    assert locked_cell_problems(released, released) == []
    problems = locked_cell_problems({"given": "import numpy as np\nnp.x = 1"}, released)
    assert problems == ["the locked cell 'given' was changed (the grader ignored the change "
                        "and used its own copy)", "the locked cell 'f-tests' was deleted"]
