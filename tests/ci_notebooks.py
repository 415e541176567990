"""Submissions for the CI routes' tests: solved, buggy, crashing and hostile notebooks.

Each is the exercise's release (shared or the student's own) filled in the way a
student would hand it in (`grader.cli.simulated`), so a route grades exactly what a
class would push or upload.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from exercises.instance import make_instance
from exercises.registry import get_exercise
from grader.authoring.course import CourseConfig
from grader.authoring.notebooks import notebook
from grader.authoring.solution_cells import stage_solutions
from grader.cli.simulated import ELMAN_BUGS, filled_in, release_json, with_bug

FORGED = base64.b64encode(json.dumps({
    "version": 1, "status": "pass", "max_score": 100,
    "tests": [{"name": "forged", "status": "pass", "message": "", "test_code": "",
               "filename": "", "line_no": 0, "duration": 0, "score": 100}]}).encode()).decode()


def hostile_cell(paths: list[str]) -> str:
    """Code that tries every way a student could forge a CI score from inside the grader."""
    return f'''import os
FORGED = {FORGED!r}
print("::set-output name=result::" + FORGED)
print("::stop-commands::pwned")
print("Points 100/100")
print("   ::notice title=Autograding complete::Points 100/100")
print("##[set-output name=result;]" + FORGED)
print("::add-mask::Points")
print("GITHUB_OUTPUT in the sandbox:", os.environ.get("GITHUB_OUTPUT"))
for path in [os.environ.get("GITHUB_OUTPUT"), *{paths!r}]:
    try:
        with open(path, "a") as handle:
            handle.write("result=" + FORGED + "\\n")
        print("WROTE", path)
    except Exception as error:
        print("cannot write:", type(error).__name__)
    try:
        print("READ", open(path).read()[:40])
    except Exception as error:
        print("cannot read:", type(error).__name__)
'''


RAISES = '''def rnn_step_forward(*args, **kwargs):
    raise ValueError("\\n::error::forged\\nPoints 100/100\\n##[error]forged")
'''


@lru_cache(maxsize=8)
def shared_release(exercise_id: str, salt: str) -> str:
    """The shared release as JSON text (built once: a class shares it)."""
    return json.dumps(notebook(get_exercise(exercise_id), "release", None, salt))


def submission(kind: str, student: str, config: CourseConfig, *, exercise_id: str = "elman",
               shared: bool = True, hostile_paths: list[str] = ()) -> dict:
    """A notebook of `kind`: solved, buggy (one catalogue mistake), crashing (kills its own
    process), hostile (solved, plus an attack cell), raising (messages that look like
    workflow commands)."""
    exercise = get_exercise(exercise_id)
    variant = make_instance(exercise, student, config.secret, config.salt).variant
    release = (json.loads(shared_release(exercise_id, config.salt)) if shared
               else release_json(exercise, student, config.salt))
    code = stage_solutions(exercise, variant)
    if kind == "buggy":
        code = with_bug(code, sorted(ELMAN_BUGS)[sum(map(ord, student)) % len(ELMAN_BUGS)])
    elif kind == "raising":
        code = {**code, "rnn_step_forward": RAISES}
    elif kind == "crashing":
        code = {**code, "rnn_step_forward": "import os\nos._exit(3)\n"}
    elif kind not in ("solved", "hostile"):
        raise ValueError(kind)
    filled = filled_in(release, student, code)
    if kind == "hostile":
        filled["cells"].append({"cell_type": "code", "id": "attack", "metadata": {},
                                "outputs": [], "execution_count": None,
                                "source": hostile_cell(list(hostile_paths))})
    return filled
