"""Model solutions as a student would write them, in the student's notation.

These are the notebooks' solution cells: plain numpy, no import of the
reference. A function named `name__token` is the version of `name` for the
variants with that token (an activation such as `tanh`, or an output head such
as `softmax_ce`); `solution_sources` picks the right one and renames it.
"""

from __future__ import annotations

import inspect
import re
from types import ModuleType


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
