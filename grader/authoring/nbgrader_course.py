"""An nbgrader course directory with every exercise as a source assignment.

    COURSE_DIR/
      nbgrader_config.py            course root, course id, solution and hidden-test markers
      bptt-course.toml              the course secret (made fresh unless the file exists)
      source/<id>/<id>.ipynb        the instructor source, shared-release flavour

Then, from COURSE_DIR: `nbgrader generate_assignment <id>`, hand out
`release/<id>/<id>.ipynb`, collect into `submitted/<student>/<id>/<id>.ipynb`,
`nbgrader autograde <id>`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from exercises.instance import PUBLIC_SALT
from exercises.registry import all_exercises
from grader.authoring.course import FILE_NAME, CourseConfig
from grader.authoring.templating import render


def init_course(root: str | Path, course_id: str = "bptt",
                force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the course directory: (files written, files kept as they were).

    The course file is never replaced (its secret decides every student's hidden
    data). nbgrader_config.py and the source notebooks are kept when they exist,
    so an instructor's edits survive, unless `force`.
    """
    from grader.authoring.notebooks import notebook, write_notebook

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    exercises = [all_exercises()[key] for key in sorted(all_exercises())]
    written, kept = [], []
    course_file = root / FILE_NAME
    if course_file.exists():
        salt = CourseConfig.from_file(course_file).salt
        kept.append(course_file)
    else:
        salt = PUBLIC_SALT
        course_file.write_text(render("nbgrader/bptt-course.toml.j2",
                                      secret=secrets.token_urlsafe(32), salt=salt))
        course_file.chmod(0o600)
        written.append(course_file)
    config = root / "nbgrader_config.py"
    if config.exists() and not force:
        kept.append(config)
    else:
        config.write_text(render("nbgrader/nbgrader_config.py.j2", course_id=course_id,
                                 exercises=exercises))
        written.append(config)
    for exercise in exercises:
        path = root / "source" / exercise.id / f"{exercise.id}.ipynb"
        if path.exists() and not force:
            kept.append(path)
        else:
            written.append(write_notebook(notebook(exercise, "source", None, salt), path))
    return written, kept
