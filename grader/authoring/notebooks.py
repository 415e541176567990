"""Notebooks from exercises: the student release, the nbgrader instructor source, the solved one.

    notebook(exercise, kind, student=S)      one student's notebook, variant written in
    notebook(exercise, kind, student=None)   the shared release: the variant is worked out
                                             in the notebook from STUDENT_ID with hashlib

`kind` is "release" (stubs raising NotImplementedError), "solved" (the
solution cells filled in) or "source" (nbgrader's instructor format: solution
regions between ### BEGIN/END SOLUTION, hidden test cells between ### BEGIN/END
HIDDEN TESTS, nbgrader cell metadata). The text of every cell comes from the
jinja2 templates in `templates/notebook/`; this module decides which cells a
notebook has and what goes into them.

The code comes from the exercise's solution module (`grader.authoring.solution_cells`),
the self-checks from `grader.authoring.self_checks`.

Generation is deterministic: the same arguments give the same bytes.
nbformat is imported only inside `write_notebook` and `notebook` (it costs
seconds to import here; see DESIGN.md).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np

from exercises.instance import PUBLIC_SALT, choose_variant
from exercises.spec import Exercise, Stage, Variant
from grader.authoring.demos import demo_cell
from grader.authoring.self_checks import (
    helper_source,
    probe_instance,
    shared_self_checks,
    structure_of,
    student_self_checks,
    symbolic_specs,
)
from grader.authoring.solution_cells import given_names, solution_code, stage_body, variant_tokens
from grader.authoring.templating import packed, render

TEMPLATE_VERSION = 1
KINDS = ("release", "solved", "source")
SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def plain(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def _docstring(stage: Stage) -> str:
    text = stage.docstring.strip().replace('"""', r"\"\"\"")
    prefix = "r" if "\\" in text else ""
    return f'{prefix}"""{text}\n"""' if "\n" in text else f'{prefix}"""{text}"""'


def _variant_lines(variant: Mapping[str, Any]) -> list[str]:
    words = {"activation": "activation φ", "output": "output g", "objective": "loss ℓ",
             "n_in": "input size n_in", "n_hidden": "state size n_hidden",
             "n_out": "output size n_out", "T": "sequence length T", "N": "batch size N",
             "bias": "biases", "horizon": "truncation horizon", "lr": "learning rate α"}
    return [f"{words.get(k, k)}: `{v}`" for k, v in variant.items() if v is not None]


def _notation_shapes(exercise: Exercise, variant: Variant) -> dict[str, str]:
    """The shape of each notation symbol in this variant, where a stage's argument or
    result names it: `(N, n_in)` = (2, 3) when the sizes can be named, else (2, 3).

    A symbol of one step, `x_t`, takes the shape of the sequence `x` without its time
    axis: (N, T, n_in) → (N, n_in).
    """
    values = variant.as_dict()
    named: dict[str, list] = {}
    trajectories = {stage.name for stage in exercise.stages if stage.training is not None}
    for stage_name, spec in symbolic_specs(exercise, structure_of(exercise, variant)).items():
        if stage_name in trajectories:   # a weight after every update: (k_updates, …)
            continue
        for name, argument in spec["inputs"].items():
            if argument[0] in ("float", "int", "onehot"):
                named.setdefault(name, list(argument[1]))
        for name, dims in spec["outputs"].items():
            if dims is not None:
                named.setdefault(name, list(dims))
    shapes: dict[str, str] = {}
    for symbol in exercise.notation:
        dims = named.get(symbol)
        if dims is None and symbol.endswith("_t") and "T" in named.get(symbol[:-2], []):
            dims = [d for d in named[symbol[:-2]] if d != "T"]
        if dims is None:
            continue
        concrete = tuple(sum(values[part] for part in d.split("+")) if isinstance(d, str)
                         else d for d in dims)
        written = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "")
        shapes[symbol] = f"`{written})` = {concrete}"
    instance = probe_instance(exercise, variant)
    for stage in exercise.stages:
        with contextlib.suppress(Exception):
            for name, value in stage.probes(instance)[0].kwargs.items():
                if name in exercise.notation and isinstance(value, np.ndarray):
                    shapes.setdefault(name, str(value.shape))
    return shapes


def _equations(exercise: Exercise, variant: Variant | None) -> list[str]:
    """The exercise's equations for this variant: without the bias terms when it has none
    (the shared release keeps them: its variant is not known yet)."""
    if variant is None or variant.bias:
        return list(exercise.equations)
    return [re.sub(r"\s*\+\s*b(_\{?\w+\}?)?(?![\w{])", "", equation)
            for equation in exercise.equations]


def _variant_defaults() -> dict[str, Any]:
    return {f.name: f.default for f in fields(Variant)
            if f.name != "extra" and f.default is not MISSING}


def _cell_metadata(grade_id: str, *, locked: bool = False, solution: bool = False,
                   points: float | None = None) -> dict[str, Any]:
    nbgrader: dict[str, Any] = {"grade": points is not None, "grade_id": grade_id,
                                "locked": locked, "schema_version": SCHEMA_VERSION,
                                "solution": solution, "task": False}
    if points is not None:
        nbgrader["points"] = points
    metadata: dict[str, Any] = {"nbgrader": nbgrader}
    if locked:
        metadata.update(editable=False, deletable=False)
    return metadata


def given_cell(exercise: Exercise, student: str, variant: Variant) -> str:
    """The locked given cell of one student's notebook: their variant and its functions."""
    code = solution_code(exercise.solution_module)
    tokens = variant_tokens(variant.as_dict())
    picked = [code.pick(base, tokens) for base in given_names(exercise)]
    return render("notebook/given.py.j2", exercise=exercise, imports=code.imports,
                  constants=code.constants, student=student, variant=plain(variant.as_dict()),
                  given=[f.source for f in picked if f is not None])


def graded_given_cell(exercise: Exercise, student: str, variant: Variant, salt: str, *,
                      shared: bool) -> str:
    """The given cell as the grader runs it before a student's cells: what that student's
    notebook defines, for the student id the grader trusts.

    A shared release works the variant out from STUDENT_ID, so the trusted id is set
    first; the cell then prints nothing, so the feedback shows only the student's output.
    """
    if not shared:
        return given_cell(exercise, student, variant)
    return f"STUDENT_ID = {student!r}\n" + _shared_given_cell(exercise, salt, announce=False)


def _shared_given_cell(exercise: Exercise, salt: str, *, announce: bool = True) -> str:
    """The shared release's given cell: the variant from STUDENT_ID, every version of each
    given function, and the one for the variant picked by its token. `announce` prints
    the variant, for the student."""
    code = solution_code(exercise.solution_module)
    sources, dispatch = [], {}
    for base in given_names(exercise):
        versions = code.versions(base)
        if len(versions) == 1 and not versions[0].token:
            sources.append(versions[0].source)
            continue
        for version in versions:
            sources.append(version.source.replace(f"def {base}(", f"def {version.name}(", 1))
        dispatch[base] = packed([f"{v.token!r}: {v.name}," for v in versions if v.token])
    return render(
        "notebook/given_shared.py.j2", exercise=exercise, imports=code.imports,
        constants=code.constants, given=sources, dispatch=dispatch, salt=salt,
        variant_space={k: tuple(v) for k, v in exercise.variant_space.items()},
        variant_defaults=_variant_defaults(), announce=announce,
        tokens_expression='{VARIANT["activation"], f"{VARIANT[\'output\']}_'
                          '{VARIANT[\'objective\']}"}',
    )


def notebook_cells(exercise: Exercise, kind: str, student: str | None,
                   salt: str = PUBLIC_SALT, *,
                   student_views: bool = True) -> list[tuple[str, str, dict]]:
    """The notebook's cells as (cell type, source, metadata); metadata holds "id".

    student_views=False leaves out the costly cells that only the student's own
    views in the kernel depend on: the self-check helper, whose plans are verified
    by running the solution on them, and each training stage's loss-plot cell,
    whose reference curves are training runs (twenty of them in a shared release).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    shared = student is None or student == ""
    variant = None if shared else choose_variant(exercise.variant_space, exercise.id, student,
                                                 salt)
    cells: list[tuple[str, str, dict]] = []

    def add(cell_type: str, source: str, grade_id: str | None, **flags) -> None:
        metadata = _cell_metadata(grade_id, **flags) if grade_id else {}
        metadata["id"] = grade_id or "student-id"
        cells.append((cell_type, source.rstrip("\n"), metadata))

    add("markdown", render(
        "notebook/introduction.md.j2", exercise=exercise, student=None if shared else student,
        equations=_equations(exercise, variant),
        points=exercise.points, variant=None if shared else variant.as_dict(),
        variant_lines=[] if shared else _variant_lines(variant.as_dict()),
        shapes={} if shared else _notation_shapes(exercise, variant),
    ), "introduction", locked=True)
    if shared:
        add("code", render("notebook/student_id.py.j2", student_id=""), None)
        add("code", _shared_given_cell(exercise, salt), "given", locked=True)
    else:
        add("code", given_cell(exercise, student, variant), "given", locked=True)
    add("markdown", render("notebook/self_check_intro.md.j2"), "self-check-intro", locked=True)
    if student_views:
        plans = (shared_self_checks(exercise.id, salt) if shared
                 else student_self_checks(exercise.id, student, salt))
        add("code", helper_source(exercise, plans), "self-check-helper",
            locked=True)
    tokens = None if shared else variant_tokens(variant.as_dict())
    for index, stage in enumerate(exercise.stages, start=1):
        add("markdown", render("notebook/stage.md.j2", stage=stage, index=index),
            f"{stage.name}-description", locked=True)
        body = "" if kind == "release" else stage_body(exercise, stage, tokens)
        add("code", render("notebook/function.py.j2", stage=stage, kind=kind, body=body,
                           docstring=_docstring(stage)),
            stage.name, solution=True)
        add("code", render("notebook/self_check.py.j2", stage=stage),
            f"{stage.name}-self-check", locked=True)
        if stage.demo is not None and (student_views or stage.training is None):
            add("code", demo_cell(exercise, stage, variant), f"{stage.name}-demo", locked=True)
        if kind == "source":
            add("code", render("notebook/hidden_tests.py.j2", exercise=exercise, stage=stage),
                f"{stage.name}-tests", locked=True, points=stage.points)
    add("code", render("notebook/self_check_summary.py.j2"), "self-check-summary", locked=True)
    return cells


def notebook_metadata(exercise: Exercise, kind: str, student: str | None,
                      salt: str = PUBLIC_SALT) -> dict[str, Any]:
    shared = not student
    variant = None if shared else plain(
        choose_variant(exercise.variant_space, exercise.id, student, salt).as_dict())
    return {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "bptt": {"exercise": exercise.id, "student": None if shared else student,
                 "variant": variant, "salt": salt, "kind": kind,
                 "flavour": "shared" if shared else "per-student",
                 "template_version": TEMPLATE_VERSION},
    }


def notebook(exercise: Exercise, kind: str, student: str | None = None,
             salt: str = PUBLIC_SALT):
    """The notebook (an nbformat NotebookNode) of `kind` for a student, or the shared one."""
    from nbformat import v4

    cells = []
    for cell_type, source, metadata in notebook_cells(exercise, kind, student, salt):
        metadata = dict(metadata)
        cell_id = metadata.pop("id")
        make = v4.new_markdown_cell if cell_type == "markdown" else v4.new_code_cell
        cell = make(source=source, metadata=metadata)
        cell["id"] = cell_id
        cells.append(cell)
    return v4.new_notebook(cells=cells, metadata=notebook_metadata(exercise, kind, student, salt))


def write_notebook(node, path: str | Path) -> Path:
    """Validate and write a notebook; returns the path."""
    import nbformat

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(node)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        nbformat.write(node, handle)
    return path
