"""The jinja2 environment over `templates/`, with the filters the notebook templates use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any


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


def packed(items: list[str], width: int = 84) -> str:
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
    """A notation symbol for MathJax, written as the equations write it: multi-letter
    subscripts braced (s_prev → s_{prev}), a code name's trailing index or net letter as a
    subscript (W1 → W_1, Uf → U_f, b2 → b_2), a parenthesised superscript braced
    (δ^(t)_τ → δ^{(t)}_τ)."""
    symbol = re.sub(r"^([A-Za-z])(\d|f|b)$", r"\1_\2", symbol)
    symbol = re.sub(r"\^\(([^)]*)\)", r"^{(\1)}", symbol)
    return re.sub(r"_(\w{2,})", r"_{\1}", symbol)
