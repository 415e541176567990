"""The exercises' LaTeX equations as plain text, for feedback read outside a notebook.

    \\frac{\\partial L}{\\partial s_{t-1}} = \\delta_t W^\\top   →   ∂L/∂s_{t-1} = δ_t Wᵀ

Only the notation the exercises use is covered: Greek letters, ∂ ∇ Σ Π,
fractions, square roots, transposes, \\text{…}, spacing and size commands. Anything else is
left as it was, so nothing is lost, only less pretty.
"""

from __future__ import annotations

import re

SYMBOLS = {
    r"\partial": "∂", r"\nabla": "∇", r"\sum": "Σ", r"\prod": "Π", r"\delta": "δ",
    r"\Delta": "Δ", r"\alpha": "α", r"\theta": "θ", r"\tau": "τ", r"\sigma": "σ",
    r"\varphi": "φ", r"\phi": "φ", r"\varepsilon": "ε", r"\epsilon": "ε", r"\ell": "ℓ",
    r"\odot": "⊙", r"\cdot": "·",
    r"\leftarrow": "←", r"\to": "→", r"\top": "ᵀ", r"\lVert": "‖", r"\rVert": "‖",
    r"\tanh": "tanh", r"\log": "log", r"\sqrt": "√", r"\quad": "  ",
}
DROPPED = (r"\Big", r"\big", r"\textstyle", r"\left", r"\right")
_GROUP = r"\{((?:[^{}]|\{[^{}]*\})*)\}"          # one brace group, one level of nesting


def _fraction(match: re.Match) -> str:
    """a/b, with parentheses around a side that is a sum (its subscripts do not count)."""
    def wrap(part: str) -> str:
        outside_braces = re.sub(r"\{[^{}]*\}", "", part)
        return f"({part})" if re.search(r"[\s+\-=]", outside_braces) else part
    return f"{wrap(match.group(1))}/{wrap(match.group(2))} "


def as_text(latex: str) -> str:
    """The equation in Unicode plain text."""
    text = re.sub(r"\\quad|\\[,;:! ]", " ", latex)               # spacing
    text = text.replace(r"\_", "_").replace(r"\|", "‖")
    for command in ("text", "mathrm", "mathbb", "mathscr", "hat", "mathrel", "textstyle"):
        text = re.sub(rf"\\{command}\s*{_GROUP}", r"\1", text)
    text = re.sub(r"\^\\top|\^\{\\top\}", "ᵀ", text)
    text = re.sub(rf"\\sqrt\s*{_GROUP}", r"√(\1)", text)
    for command in DROPPED:
        text = re.sub(re.escape(command) + r"(?![a-zA-Z])", "", text)
    for command, symbol in sorted(SYMBOLS.items(), key=lambda item: -len(item[0])):
        text = re.sub(re.escape(command) + r"(?![a-zA-Z])", symbol, text)
    text = re.sub(r"([∂∇Σ])\s+", r"\1", text)
    for _ in range(3):                                   # nested fractions, inside out
        text = re.sub(rf"\\frac\s*{_GROUP}\s*{_GROUP}", _fraction, text)
    text = re.sub(r"\s+([),.\]}|])", r"\1", text)        # no space before closing marks
    return re.sub(r"[ \t]+", " ", text).strip()
