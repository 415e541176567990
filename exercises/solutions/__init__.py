"""Model solutions as a student would write them, in the student's notation.

These are the notebooks' solution cells: plain numpy, no import of the
reference. A function named `name__token` is the version of `name` for the
variants with that token (an activation such as `tanh`, or an output head such
as `softmax_ce`); `solution_sources` picks the right one and renames it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType


def variant_tokens(variant) -> set[str]:
    """The tokens that pick a variant's versions: its activation and its output head."""
    return {variant.activation, f"{variant.output}_{variant.objective}"}


def notebook_code(exercise, variant) -> tuple[dict[str, str], dict[str, str]]:
    """(given, solutions): the variant's source by function name, split into what the
    notebook gives the student and what the student writes (the exercise's stages)."""
    module = importlib.import_module(exercise.solution_module)
    sources = solution_sources(module, variant_tokens(variant))
    stages = {stage.name for stage in exercise.stages}
    given = {name: code for name, code in sources.items() if name not in stages}
    return given, {name: code for name, code in sources.items() if name in stages}


def given_cell(exercise, variant) -> str:
    """The code cell the notebook gives: numpy imported, then the variant's given functions."""
    given, _ = notebook_code(exercise, variant)
    return "\n\n".join(["import numpy as np", *given.values()]) + "\n"


def solution_sources(module: ModuleType, tokens: set[str]) -> dict[str, str]:
    """Each function of `module` for a variant, in file order, by the name students see."""
    sources: dict[str, str] = {}
    functions = [f for _, f in inspect.getmembers(module, inspect.isfunction)
                 if f.__module__ == module.__name__]
    for function in sorted(functions, key=lambda f: f.__code__.co_firstlineno):
        name = function.__name__
        base, _, token = name.partition("__")
        if token and token not in tokens:
            continue
        source = inspect.getsource(function)
        sources[base] = re.sub(rf"^def {re.escape(name)}\(", f"def {base}(", source, count=1)
    return sources
