"""Equations drawn offline: LaTeX → matplotlib's mathtext → inline SVG.

A feedback page must work with no network, so the corrected equation is not
left to MathJax from a CDN: matplotlib draws it, glyphs as paths (no font is
needed to show it), and the page holds the SVG text. mathtext covers most of
the LaTeX the exercises write; `for_mathtext` rewrites the few commands it
lacks (\\mathrel{+}=, \\lVert, \\Big(, \\textstyle) into ones it has. An
equation it still cannot parse comes back as None, and the page shows the
plain-text form (`grader.checking.equations.as_text` wrote it in the message).

matplotlib is imported here lazily, on the first equation drawn.
"""

from __future__ import annotations

import hashlib
import io
import re
from functools import lru_cache

REWRITES = (
    (r"\mathrel{+}=", "+="),
    (r"\lVert", r"\Vert "), (r"\rVert", r"\Vert "), (r"\|", r"\Vert "),
    (r"\textstyle", ""),
)
SIZED = re.compile(r"\\(?:Big|big|Bigg|bigg)([lr]?)\s*(\\?[()\[\]|/]|\\\{|\\\})")


def for_mathtext(latex: str) -> str:
    """The equation with the commands mathtext lacks rewritten into ones it has."""
    for old, new in REWRITES:
        latex = latex.replace(old, new)
    latex = SIZED.sub(lambda m: m.group(2), latex)
    latex = re.sub(r"\\text\{([^{}]*)\}",
                   lambda m: r"\mathrm{" + m.group(1).replace(" ", r"\ ") + "}", latex)
    return latex


@lru_cache(maxsize=512)
def equation_svg(latex: str, fontsize: float = 17.0) -> str | None:
    """The equation as an <svg> element (text), or None when mathtext cannot draw it.

    Cached: a class shares a handful of corrections, drawn once each.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = f"${for_mathtext(latex)}$"
    try:
        MathTextParser("path").parse(text, prop=FontProperties(size=fontsize))
    except ValueError:
        return None
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "bptt"}):
        figure = Figure(figsize=(0.01, 0.01))
        figure.text(0, 0, text, fontsize=fontsize)
        buffer = io.StringIO()
        try:
            figure.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.04,
                           transparent=True)
        except ValueError:
            return None
    return svg_element(buffer.getvalue(), "eq" + hashlib.sha256(latex.encode()).hexdigest()[:8])


def svg_element(document: str, prefix: str) -> str:
    """An SVG document as an element to put inside HTML: no XML declaration, DOCTYPE,
    comments or metadata, and every id prefixed (references too), so that the glyphs
    matplotlib names after the font ("DejaVuSans-13") are unique in a page of many."""
    element = document[document.find("<svg"):]
    element = re.sub(r"<!--.*?-->", "", element, flags=re.S)
    element = re.sub(r"<metadata>.*?</metadata>", "", element, flags=re.S)
    element = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', element)
    element = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', element)
    element = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", element)
    return element.strip()
