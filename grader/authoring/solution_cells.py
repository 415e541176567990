"""An exercise's solution module read as notebook code: given functions, solutions, versions.

The solution module (`Exercise.solution_module`, e.g. `exercises.solutions.elman`)
is plain numpy, written as a student would. Functions named after a stage are
that stage's solution; the others are *given* (they go into the notebook's locked
given cell, with the module's imports and constants). `name__token` is the
version of `name` for the variants with that token: the activation (`tanh`) or
the output head `<output>_<objective>` (`softmax_ce`), as in `exercises.solutions`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from exercises.spec import Exercise, Stage, Variant
from grader.sandbox.zygote import bind, snapshot


@dataclass(frozen=True)
class Function:
    """One function of a solution module: `base__token` is `base` for variants with `token`."""

    name: str
    base: str
    token: str
    source: str          # the whole definition, renamed to `base`
    body: str            # the statements after the docstring, dedented
    parameters: tuple[str, ...] = ()


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


def _statement_source(lines: list[str], node: ast.stmt) -> str:
    """The source of a top-level statement (`ast.get_source_segment`, without splitting the
    whole module's text again for each statement); offsets are in UTF-8 bytes."""
    *whole, last = lines[node.lineno - 1:node.end_lineno]
    return "\n".join([*whole, last.encode()[:node.end_col_offset].decode()])


@cache
def solution_code(module_name: str) -> SolutionCode:
    """Imports, module constants and functions of a solution module, in file order."""
    module = importlib.import_module(module_name)
    text = inspect.getsource(module)
    lines = text.splitlines()
    imports, constants, functions = [], [], []
    for node in ast.parse(text).body:
        segment = _NOQA.sub("", _statement_source(lines, node))
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
            functions.append(Function(node.name, base, token, source, _NOQA.sub("", body),
                                      tuple(a.arg for a in node.args.args)))
    return SolutionCode(tuple(imports), tuple(constants), tuple(functions))


def variant_tokens(variant: Mapping[str, Any] | Variant) -> set[str]:
    """The tokens that pick a variant's function versions: its activation and output head."""
    if isinstance(variant, Variant):
        variant = variant.as_dict()
    return {str(variant.get("activation")), f"{variant.get('output')}_{variant.get('objective')}"}


def given_names(exercise: Exercise) -> list[str]:
    """The functions the notebook gives: those of the solution module that are not stages."""
    stages = {stage.name for stage in exercise.stages}
    code = solution_code(exercise.solution_module)
    return list(dict.fromkeys(f.base for f in code.functions if f.base not in stages))


def stage_solutions(exercise: Exercise, variant: Mapping[str, Any]) -> dict[str, str]:
    """The variant's solution of every stage, as the cell a student would write."""
    code = solution_code(exercise.solution_module)
    tokens = variant_tokens(variant)
    return {stage.name: picked.source for stage in exercise.stages
            if (picked := code.pick(stage.name, tokens)) is not None}


def solution_namespace(exercise: Exercise, variant: Mapping[str, Any] | Variant,
                       student: str) -> dict:
    """The given cell and the solution cells of a variant, executed as the notebook would."""
    code = solution_code(exercise.solution_module)
    tokens = variant_tokens(variant)
    if isinstance(variant, Variant):
        variant = variant.as_dict()
    namespace: dict[str, Any] = {"__name__": "__main__", "STUDENT_ID": student,
                                 "VARIANT": dict(variant)}
    sources = [*code.imports, *code.constants]
    for base in dict.fromkeys(f.base for f in code.functions):
        picked = code.pick(base, tokens)
        if picked is not None:
            sources.append(picked.source)
    exec(compile("\n\n".join(sources), "<solution cells>", "exec"), namespace)
    return namespace


def stage_body(exercise: Exercise, stage: Stage, tokens: set[str] | None) -> str:
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


def recorded_calls(namespace: dict, exercise: Exercise, caller: str, callees: list[str],
                   kwargs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run the solution's `caller` on kwargs with its callees recorded: for each callee,
    {"inputs", "outputs", "calls": [(arguments by name, answer)]}, in the order made."""
    table: dict[str, dict[str, Any]] = {}
    scope = dict(namespace)
    for name in callees:
        callee = exercise.stage(name)
        calls: list[tuple[dict, Any]] = []
        table[name] = {"inputs": list(callee.inputs), "outputs": list(callee.outputs),
                       "calls": calls}
        scope[name] = _recorder(namespace[name], calls)
    function = namespace[caller]
    rebound = types.FunctionType(function.__code__, scope, function.__name__,
                                 function.__defaults__, function.__closure__)
    rebound(**snapshot(dict(kwargs)))
    return table


def _recorder(function, calls: list):
    """`function`, recording each call's arguments by name (in the order of its
    parameters, as inspect.signature binds them) and its answer."""
    code = function.__code__
    plain = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
                 or code.co_kwonlyargcount or code.co_posonlyargcount)
    parameters = list(code.co_varnames[:code.co_argcount]) if plain else None
    signature = None

    def recording(*args, **kwargs):
        nonlocal signature
        bound = bind(parameters, args, kwargs) if parameters is not None else None
        if bound is None:                  # a default left out, or an unusual signature
            signature = signature or inspect.signature(function)
            bound = signature.bind(*args, **kwargs).arguments
        arguments = snapshot({name: bound[name] for name in (parameters or bound)
                              if name in bound})
        answer = function(*args, **kwargs)
        calls.append((arguments, snapshot(answer)))
        return answer
    return recording
