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

The code of the given cell and of the solutions is read from the exercise's
solution module (`exercises.solutions.*`): functions named after a stage are
the student's, the others are given; `name__token` is the version of `name`
for the variants with that token (see `exercises.solutions`).

Self-checks: each stage gets a self-check that draws random inputs from a spec
(shapes written with the variant's size names, so that one spec serves every
student of a shared release), checks the shapes of what the student's function
returns, and, when a stage is the backward pass of another (it returns `dX`
for every argument `X` of the forward stage and takes the forward output and
one upstream gradient), compares it with central differences of the student's
own forward function. Every self-check is run on the solution cells while the
notebook is built, and one the solution would fail is left out.

Generation is deterministic: the same arguments give the same bytes.
nbformat is imported only inside `write_notebook` and `notebook` (it costs
seconds to import here; see DESIGN.md).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import inspect
import io
import itertools
import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from exercises.instance import DEMO_SECRET, PUBLIC_SALT, choose_variant, make_instance
from exercises.spec import Exercise, Instance, Stage, Variant

TEMPLATE_VERSION = 1
KINDS = ("release", "solved", "source")
SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


# -- the solution module, read as code -----------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One function of a solution module: `base__token` is `base` for variants with `token`."""

    name: str
    base: str
    token: str
    source: str          # the whole definition, renamed to `base`
    body: str            # the statements after the docstring, dedented


@dataclass(frozen=True)
class SolutionCode:
    imports: tuple[str, ...]
    constants: tuple[str, ...]
    functions: tuple[Function, ...]

    def versions(self, base: str) -> list[Function]:
        return [f for f in self.functions if f.base == base]

    def pick(self, base: str, tokens: set[str]) -> Function | None:
        """The version of `base` for a variant: the one whose token it has, else the plain one."""
        versions = self.versions(base)
        return (next((f for f in versions if f.token and f.token in tokens), None)
                or next((f for f in versions if not f.token), None))


_NOQA = re.compile(r"[ \t]+# noqa[^\n]*")


@cache
def solution_code(module_name: str) -> SolutionCode:
    """Imports, module constants and functions of a solution module, in file order."""
    module = importlib.import_module(module_name)
    text = inspect.getsource(module)
    lines = text.splitlines()
    imports, constants, functions = [], [], []
    for node in ast.parse(text).body:
        segment = _NOQA.sub("", ast.get_source_segment(text, node) or "")
        if isinstance(node, ast.Import | ast.ImportFrom):
            if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                imports.append(segment)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            constants.append(segment)
        elif isinstance(node, ast.FunctionDef):
            base, _, token = node.name.partition("__")
            source = re.sub(rf"^def {re.escape(node.name)}\(", f"def {base}(", segment, count=1)
            first = node.body[0]
            has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                       and isinstance(first.value.value, str))
            if has_doc and len(node.body) > 1:
                start = first.end_lineno + 1
            else:
                start = first.lineno
                while start - 1 > node.lineno and lines[start - 2].strip().startswith("#"):
                    start -= 1
            body = textwrap.dedent("\n".join(lines[start - 1:node.end_lineno]))
            functions.append(Function(node.name, base, token, source, _NOQA.sub("", body)))
    return SolutionCode(tuple(imports), tuple(constants), tuple(functions))


def variant_tokens(variant: Mapping[str, Any]) -> set[str]:
    """The tokens that pick a variant's function versions: its activation and output head."""
    return {str(variant.get("activation")), f"{variant.get('output')}_{variant.get('objective')}"}


def given_names(exercise: Exercise) -> list[str]:
    """The functions the notebook gives: those of the solution module that are not stages."""
    stages = {stage.name for stage in exercise.stages}
    code = solution_code(exercise.solution_module)
    return list(dict.fromkeys(f.base for f in code.functions if f.base not in stages))


def plain(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


# -- self-check specs ------------------------------------------------------------------------


def _is_size_field(options: tuple) -> bool:
    return all(isinstance(o, int) and not isinstance(o, bool) for o in options)


def _variant_from_choices(chosen: dict[str, Any]) -> Variant:
    """A Variant from one option per field, as `choose_variant` builds it."""
    chosen = dict(chosen)
    if "head" in chosen:
        chosen["output"], chosen["objective"] = chosen.pop("head")
    known = set(Variant.__dataclass_fields__) - {"extra"}
    extra = tuple(sorted((k, v) for k, v in chosen.items() if k not in known))
    return Variant(**{k: v for k, v in chosen.items() if k in known}, extra=extra)


def _size_assignments(space: Mapping[str, tuple]) -> tuple[dict, dict]:
    """Two choices of every size field, each with distinct values where the options allow,
    and differing between the two wherever a field has more than one option."""
    sizes = sorted((name for name, options in space.items() if _is_size_field(options)),
                   key=lambda name: len(space[name]))
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for name in sizes:
        options = list(space[name])
        first[name] = next((o for o in options if o not in first.values()), options[0])
        rest = [o for o in reversed(options) if o != first[name]] or options
        second[name] = next((o for o in rest if o not in second.values()), rest[0])
    return first, second


def _spec(value: Any, variant: Mapping[str, Any]) -> Any:
    """A spec of one argument's value, concrete."""
    if isinstance(value, np.ndarray):
        dims = list(value.shape)
        if value.dtype.kind in "iu":
            return ["int", dims, int(value.max()) + 1 if value.size else 1]
        if value.dtype.kind != "f":
            raise ValueError("unsupported array")
        low, high = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
        if low >= 0.0 and high <= 1.0:  # probabilities, targets of bce, sigmoid states
            return ["float", dims, 0.05, 0.95]
        return ["float", dims, None, None]
    if isinstance(value, Mapping):
        return ["dict", {str(k): _spec(v, variant) for k, v in value.items()}]
    if value is None or isinstance(value, bool | int | float | str):
        return ["value", value]
    raise ValueError(f"unsupported argument type {type(value).__name__}")


def _unify(a: Any, b: Any, first: Mapping, second: Mapping) -> Any:
    """One spec from the concrete specs of two variants: sizes that differ become field names."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        if a and a[0] == "value" and b[0] == "value":
            return a if a[1] == b[1] else ["field", _field(a[1], b[1], first, second)]
        if a and a[0] == "int" and b[0] == "int":  # class indices: a bound valid for both
            return ["int", _unify(a[1], b[1], first, second), min(a[2], b[2])]
        if a and a[0] == "float" and b[0] == "float":
            dims = _unify(a[1], b[1], first, second)
            return ["float", dims, *(a[2:] if a[2:] == b[2:] else [None, None])]
        return [_unify(x, y, first, second) for x, y in zip(a, b, strict=True)]
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: _unify(a[k], b[k], first, second) for k in a}
    if a == b:
        return a
    if isinstance(a, int) and isinstance(b, int):
        return _field(a, b, first, second)
    raise ValueError("the two variants' arguments differ in structure")


def _field(a: Any, b: Any, first: Mapping, second: Mapping) -> str:
    for name in first:
        if first[name] == a and second[name] == b:
            return name
    raise ValueError(f"no variant field is {a} in one variant and {b} in the other")


def _instance(exercise: Exercise, variant: Variant) -> Instance:
    template = make_instance(exercise, "self-check", DEMO_SECRET)
    return Instance(exercise, "self-check", variant, template.data_key)


def _stage_specs(exercise: Exercise, variant: Variant) -> dict[str, dict]:
    """Concrete input and output specs of every stage for one variant (from its first probe)."""
    instance = _instance(exercise, variant)
    specs = {}
    for stage in exercise.stages:
        try:
            probe = stage.probes(instance)[0]
            kwargs = dict(probe.kwargs)
            outputs = stage.outputs(stage.solve(variant, **kwargs))
            specs[stage.name] = {
                "inputs": {k: _spec(v, variant.as_dict()) for k, v in kwargs.items()},
                "outputs": {k: None if v is None else list(np.shape(v))
                            for k, v in outputs.items()},
            }
        except Exception:  # a stage whose arguments we cannot describe gets no self-check
            continue
    return specs


def _symbolic_specs(exercise: Exercise, structure: Mapping[str, Any]) -> dict[str, dict]:
    """Specs with sizes written as variant field names, for one choice of the other fields."""
    first, second = _size_assignments(exercise.variant_space)
    a = _stage_specs(exercise, _variant_from_choices({**structure, **first}))
    b = _stage_specs(exercise, _variant_from_choices({**structure, **second}))
    specs = {}
    for name in a.keys() & b.keys():
        with contextlib.suppress(ValueError):
            specs[name] = _name_values(_unify(a[name], b[name], first, second), structure)
    return specs


def _name_values(spec: Any, structure: Mapping[str, Any]) -> Any:
    """A float argument equal to exactly one non-size choice (the learning rate) names it."""
    if isinstance(spec, dict):
        return {k: _name_values(v, structure) for k, v in spec.items()}
    if isinstance(spec, list):
        if len(spec) == 2 and spec[0] == "value" and type(spec[1]) is float:
            named = [k for k, v in structure.items() if type(v) is float and v == spec[1]]
            return ["field", named[0]] if len(named) == 1 else spec
        return [_name_values(item, structure) for item in spec]
    return spec


def _gradient_pairs(exercise: Exercise) -> dict[str, dict]:
    """Backward stages and the forward stage each one differentiates, found by their names.

    B is the backward pass of F when B returns dX for arguments X of F (and nothing
    else), and B's arguments are F's arguments, F's single output and exactly one
    more: the upstream gradient dL/d(output).
    """
    pairs = {}
    for backward, forward in itertools.permutations(exercise.stages, 2):
        if len(forward.returns) != 1 or not backward.returns:
            continue
        wrt = {r: r[1:] for r in backward.returns}
        if not all(r.startswith("d") and p in forward.parameters for r, p in wrt.items()):
            continue
        extra = [p for p in backward.parameters
                 if p not in forward.parameters and p not in forward.returns]
        if len(extra) != 1 or forward.returns[0] not in backward.parameters:
            continue
        pairs[backward.name] = {"forward": forward.name, "output": forward.returns[0],
                                "upstream": extra[0], "wrt": wrt}
    return pairs


def _seed(exercise: Exercise, stage: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{exercise.id}\x1f{stage}".encode()).digest()[:4], "big")


def _plans(exercise: Exercise, specs: Mapping[str, dict], gradient: bool) -> dict[str, dict]:
    pairs = _gradient_pairs(exercise) if gradient else {}
    plans = {}
    for stage in exercise.stages:
        if stage.name not in specs:
            continue
        plan = {"seed": _seed(exercise, stage.name), "parameters": list(stage.parameters),
                **specs[stage.name]}
        pair = pairs.get(stage.name)
        if pair and pair["forward"] in specs:
            plan["gradient"] = pair
        plans[stage.name] = plan
    return plans


# -- running the self-checks on the solution, while building -------------------------------


def _solution_namespace(exercise: Exercise, variant: Mapping[str, Any], student: str) -> dict:
    """The given cell and the solution cells of a variant, executed as the notebook would."""
    code = solution_code(exercise.solution_module)
    tokens = variant_tokens(variant)
    namespace: dict[str, Any] = {"__name__": "__main__", "STUDENT_ID": student,
                                 "VARIANT": dict(variant)}
    sources = [*code.imports, *code.constants]
    for base in dict.fromkeys(f.base for f in code.functions):
        picked = code.pick(base, tokens)
        if picked is not None:
            sources.append(picked.source)
    exec(compile("\n\n".join(sources), "<solution cells>", "exec"), namespace)
    return namespace


def _failing_checks(exercise: Exercise, plans: dict, variant: Mapping[str, Any]) -> set[str]:
    """The stages whose self-check the solution cells do not pass for this variant."""
    namespace = _solution_namespace(exercise, variant, "self-check")
    exec(compile(render("notebook/self_check_helper.py.j2", self_checks=repr(plans)),
                 "<self-check helper>", "exec"), namespace)
    failing = set()
    for name in plans:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            try:
                namespace["self_check"](name)
            except Exception:
                failing.add(name)
                continue
        if not namespace["SELF_CHECK_RESULTS"].get(name, True):
            failing.add(name)
    return failing


def _verified(exercise: Exercise, plans: dict, variants: list[Mapping[str, Any]]) -> dict:
    """The plans with what the solution fails removed: the gradient check first, then all."""
    plans = json.loads(json.dumps(plans))
    for variant in variants:
        for name in _failing_checks(exercise, plans, variant):
            plans[name].pop("gradient", None)
        for name in _failing_checks(exercise, plans, variant):
            plans[name]["failed"] = True
    return {name: plan for name, plan in plans.items() if not plan.get("failed")}


def _structure(exercise: Exercise, variant: Variant) -> dict[str, Any]:
    """The variant's choices of the fields that are not sizes, as variant_space names them."""
    values = variant.as_dict()
    structure = {}
    for name, options in exercise.variant_space.items():
        if _is_size_field(options):
            continue
        structure[name] = (values["output"], values["objective"]) if name == "head" \
            else values[name]
    return structure


@cache
def student_self_checks(exercise_id: str, student: str, salt: str) -> dict:
    """The self-check plans of one student's notebook."""
    exercise = _exercise(exercise_id)
    variant = choose_variant(exercise.variant_space, exercise.id, student, salt)
    specs = _symbolic_specs(exercise, _structure(exercise, variant))
    concrete = _stage_specs(exercise, variant)
    for name in concrete.keys() - specs.keys():
        specs[name] = concrete[name]
    return _verified(exercise, _plans(exercise, specs, True), [variant.as_dict()])


SHARED_SAMPLE = 24


@cache
def shared_self_checks(exercise_id: str, salt: str) -> dict:
    """Self-check plans for every variant: one per stage, or one per value of the field
    the stage's arguments depend on."""
    exercise = _exercise(exercise_id)
    structural = {k: v for k, v in exercise.variant_space.items() if not _is_size_field(v)}
    combos = [dict(zip(structural, values, strict=True))
              for values in itertools.product(*structural.values())]
    step = max(1, len(combos) // SHARED_SAMPLE)
    combos = combos[::step]
    per_combo = [(combo, _symbolic_specs(exercise, combo)) for combo in combos]
    specs: dict[str, Any] = {}
    for stage in exercise.stages:
        seen = [(combo, s[stage.name]) for combo, s in per_combo if stage.name in s]
        if len(seen) != len(per_combo) or not seen:
            continue
        merged = _merge([spec for _, spec in seen])
        if merged is not None:
            specs[stage.name] = merged
            continue
        for field in structural:
            groups: dict[str, list] = {}
            for combo, spec in seen:
                groups.setdefault(_case_key(combo[field]), []).append(spec)
            cases = {key: _merge(group) for key, group in groups.items()}
            if all(case is not None for case in cases.values()):
                specs[stage.name] = {"by": _by_field(field), "cases": cases}
                break
    plans = _plans_by_case(exercise, specs)
    students = [f"self-check-{i}" for i in range(8)]
    variants = [choose_variant(exercise.variant_space, exercise.id, s, salt).as_dict()
                for s in students]
    return _verified(exercise, plans, variants)


def _merge(specs: list[Any]) -> Any:
    """One spec for all, where they differ only in the range of random floats (then normal)."""
    first = specs[0]
    if all(spec == first for spec in specs):
        return first
    if all(isinstance(spec, dict) for spec in specs) and all(s.keys() == first.keys()
                                                             for s in specs):
        merged = {k: _merge([s[k] for s in specs]) for k in first}
        return None if any(v is None for v in merged.values()) and \
            any(first[k] is not None for k in first) else merged
    if all(isinstance(spec, list) and len(spec) == len(first) for spec in specs):
        if first and first[0] == "float" and all(s[0] == "float" and s[1] == first[1]
                                                 for s in specs):
            return ["float", first[1], None, None]
        merged = [_merge([s[i] for s in specs]) for i in range(len(first))]
        return None if any(m is None and f is not None for m, f in zip(merged, first,
                                                                       strict=True)) else merged
    return None


def _case_key(value: Any) -> str:
    """How a field's value is written as a key of the notebook's plan (`str` of the value)."""
    return str(value[1] if isinstance(value, tuple) and len(value) == 2 else value)


def _by_field(field: str) -> str:
    return "objective" if field == "head" else field


def _plans_by_case(exercise: Exercise, specs: Mapping[str, Any]) -> dict:
    """Plans from specs some of which are {"by": field, "cases": {value: spec}}."""
    plain_specs = {k: v for k, v in specs.items() if "by" not in v}
    plans = _plans(exercise, plain_specs, True)
    for name, spec in specs.items():
        if "by" not in spec:
            continue
        cases = {key: _plans(exercise, {name: case}, False)[name]
                 for key, case in spec["cases"].items()}
        plans[name] = {"by": spec["by"], "cases": cases}
    order = [stage.name for stage in exercise.stages]
    return dict(sorted(plans.items(), key=lambda item: order.index(item[0])))


def _exercise(exercise_id: str) -> Exercise:
    from exercises.registry import get_exercise

    return get_exercise(exercise_id)


# -- templates ----------------------------------------------------------------------------


@cache
def _environment():
    import jinja2

    import templates

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(templates.__file__).parent),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )
    environment.filters.update(
        pyrepr=repr, pyformat=_pyformat, points=_points, shape=_shape,
        code=lambda text: f"`{text}`", latex_symbol=_latex_symbol,
    )
    return environment


def render(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)


def _packed(items: list[str], width: int = 84) -> str:
    """Items joined by spaces, in lines of at most `width`, continued with four spaces."""
    lines = [""]
    for item in items:
        if lines[-1] and len(lines[-1]) + 1 + len(item) > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {item}" if lines[-1] else item
    return "\n    ".join(lines)


def _pyformat(value: Any) -> str:
    """A literal, wrapped to fit a notebook cell."""
    if isinstance(value, Mapping) and value:
        return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in value.items()) + "}"
    return repr(value)


def _points(value: float) -> str:
    return f"{value:g}"


def _shape(value: Any) -> str:
    return "" if value is None else str(value)


def _latex_symbol(symbol: str) -> str:
    """A notation symbol for MathJax: multi-letter subscripts braced (s_prev → s_{prev})."""
    return re.sub(r"_(\w{2,})", r"_{\1}", symbol)


# -- notebooks --------------------------------------------------------------------------------


def _docstring(stage: Stage) -> str:
    text = stage.docstring.strip().replace('"""', r"\"\"\"")
    prefix = "r" if "\\" in text else ""
    return f'{prefix}"""{text}\n"""' if "\n" in text else f'{prefix}"""{text}"""'


def _stage_body(exercise: Exercise, stage: Stage, tokens: set[str] | None) -> str:
    """The solution's statements: the variant's version, or all versions by token (shared)."""
    code = solution_code(exercise.solution_module)
    if tokens is not None:
        picked = code.pick(stage.name, tokens)
        if picked is None:
            raise ValueError(f"{exercise.solution_module} has no solution for {stage.name}")
        return picked.body
    versions = code.versions(stage.name)
    if len(versions) == 1 and not versions[0].token:
        return versions[0].body
    branches = []
    for number, version in enumerate(v for v in versions if v.token):
        keyword = "if" if number == 0 else "elif"
        branches.append(f"{keyword} {version.token!r} in VARIANT_TOKENS:\n"
                        + textwrap.indent(version.body, "    "))
    general = next((v for v in versions if not v.token), None)
    if general is not None:
        branches.append("else:\n" + textwrap.indent(general.body, "    "))
    return "\n".join(branches)


def _variant_lines(variant: Mapping[str, Any]) -> list[str]:
    words = {"activation": "activation φ", "output": "output g", "objective": "loss ℓ",
             "n_in": "input size n_in", "n_hidden": "state size n_hidden",
             "n_out": "output size n_out", "T": "sequence length T", "N": "batch size N",
             "bias": "biases", "horizon": "truncation horizon", "lr": "learning rate α"}
    return [f"{words.get(k, k)}: `{v}`" for k, v in variant.items() if v is not None]


def _notation_shapes(exercise: Exercise, variant: Variant) -> dict[str, str]:
    """The shape of each notation symbol in this variant, where a stage's argument names it:
    `(N, n_in)` = (2, 3) when the sizes can be named, else (2, 3)."""
    values = variant.as_dict()
    shapes: dict[str, str] = {}
    for spec in _symbolic_specs(exercise, _structure(exercise, variant)).values():
        for name, argument in spec["inputs"].items():
            if name in exercise.notation and argument[0] in ("float", "int"):
                dims = argument[1]
                concrete = tuple(values[d] if isinstance(d, str) else d for d in dims)
                named = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "")
                shapes.setdefault(name, f"`{named})` = {concrete}")
    instance = _instance(exercise, variant)
    for stage in exercise.stages:
        with contextlib.suppress(Exception):
            for name, value in stage.probes(instance)[0].kwargs.items():
                if name in exercise.notation and isinstance(value, np.ndarray):
                    shapes.setdefault(name, str(value.shape))
    return shapes


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


def notebook_cells(exercise: Exercise, kind: str, student: str | None,
                   salt: str = PUBLIC_SALT) -> list[tuple[str, str, dict]]:
    """The notebook's cells as (cell type, source, metadata); metadata holds "id"."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    shared = student is None or student == ""
    variant = None if shared else choose_variant(exercise.variant_space, exercise.id, student,
                                                 salt)
    code = solution_code(exercise.solution_module)
    cells: list[tuple[str, str, dict]] = []

    def add(cell_type: str, source: str, grade_id: str | None, **flags) -> None:
        metadata = _cell_metadata(grade_id, **flags) if grade_id else {}
        metadata["id"] = grade_id or "student-id"
        cells.append((cell_type, source.rstrip("\n"), metadata))

    add("markdown", render(
        "notebook/introduction.md.j2", exercise=exercise, student=None if shared else student,
        points=exercise.points, variant=None if shared else variant.as_dict(),
        variant_lines=[] if shared else _variant_lines(variant.as_dict()),
        shapes={} if shared else _notation_shapes(exercise, variant),
    ), "introduction", locked=True)
    given = given_names(exercise)
    if shared:
        add("code", render("notebook/student_id.py.j2",
                           student_id="" if kind == "source" else student or ""), None)
        sources, dispatch = [], {}
        for base in given:
            versions = code.versions(base)
            if len(versions) == 1 and not versions[0].token:
                sources.append(versions[0].source)
                continue
            for version in versions:
                sources.append(version.source.replace(f"def {base}(", f"def {version.name}(",
                                                      1))
            dispatch[base] = _packed([f"{v.token!r}: {v.name}," for v in versions if v.token])
        add("code", render(
            "notebook/given_shared.py.j2", exercise=exercise, imports=code.imports,
            constants=code.constants, given=sources, dispatch=dispatch, salt=salt,
            variant_space={k: tuple(v) for k, v in exercise.variant_space.items()},
            variant_defaults=_variant_defaults(),
            tokens_expression='{VARIANT["activation"], f"{VARIANT[\'output\']}_'
                              '{VARIANT[\'objective\']}"}',
        ), "given", locked=True)
        plans = shared_self_checks(exercise.id, salt)
    else:
        tokens = variant_tokens(variant.as_dict())
        picked = [code.pick(base, tokens) for base in given]
        add("code", render(
            "notebook/given.py.j2", exercise=exercise, imports=code.imports,
            constants=code.constants, student=student, variant=plain(variant.as_dict()),
            given=[f.source for f in picked if f is not None],
        ), "given", locked=True)
        plans = student_self_checks(exercise.id, student, salt)
    add("markdown", render("notebook/self_check_intro.md.j2"), "self-check-intro", locked=True)
    add("code", render("notebook/self_check_helper.py.j2", self_checks=_format_plans(plans)),
        "self-check-helper", locked=True)
    tokens = None if shared else variant_tokens(variant.as_dict())
    for index, stage in enumerate(exercise.stages, start=1):
        add("markdown", render("notebook/stage.md.j2", stage=stage, index=index),
            f"{stage.name}-description", locked=True)
        body = "" if kind == "release" else _stage_body(exercise, stage, tokens)
        add("code", render("notebook/function.py.j2", stage=stage, kind=kind, body=body,
                           docstring=_docstring(stage)),
            stage.name, solution=True)
        add("code", render("notebook/self_check.py.j2", stage=stage),
            f"{stage.name}-self-check", locked=True)
        if kind == "source":
            add("code", render("notebook/hidden_tests.py.j2", exercise=exercise, stage=stage),
                f"{stage.name}-tests", locked=True, points=stage.points)
    return cells


def _format_plans(plans: Mapping[str, Any]) -> str:
    """The plans as a Python literal, one stage a line."""
    if not plans:
        return "{}"
    lines = [f"    {name!r}: {plan!r}," for name, plan in plans.items()]
    return "{\n" + "\n".join(lines) + "\n}"


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
