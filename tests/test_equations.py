"""The corrected equations in feedback read as plain text."""

import pytest

from exercises.registry import all_exercises
from grader.checking.equations import as_text


@pytest.mark.parametrize("latex, text", [
    (r"\frac{\partial L}{\partial s_{t-1}} = \delta_t W^\top", "∂L/∂s_{t-1} = δ_t Wᵀ"),
    (r"L = \frac{1}{N}\sum_n \sum_t \ell(y_{nt}, d_{nt})", "L = 1/N Σ_n Σ_t ℓ(y_{nt}, d_{nt})"),
    (r"\Delta\theta = -\alpha\nabla_\theta L", "Δθ = -α∇_θ L"),
    (r"\nabla_W L \mathrel{+}= s_0^\top \delta_1", "∇_W L += s_0ᵀ δ_1"),
    (r"\mathscr{L} = \sum_{t=1}^{T} -\log y_{t c_t}", "L = Σ_{t=1}^{T} -log y_{t c_t}"),
    (r"\frac{\partial L}{\partial o_i} = \sum_j \frac{\partial L}{\partial y_j}"
     r"\frac{\partial y_j}{\partial o_i}", "∂L/∂o_i = Σ_j ∂L/∂y_j ∂y_j/∂o_i"),
    (r"g \leftarrow g \cdot \frac{\text{max\_norm}}{\|g\|}", "g ← g · max_norm/‖g‖"),
    (r"\frac{a + b}{c}", "(a + b)/c"),
])
def test_equations_read_as_text(latex, text):
    assert as_text(latex) == text


def test_every_correction_of_the_catalogue_leaves_no_latex_behind():
    corrections = {bug.correction for exercise in all_exercises().values()
                   for stage in exercise.stages for bug in stage.bugs}
    assert corrections
    for correction in corrections:
        text = as_text(correction)
        assert text and "\\" not in text and "{}" not in text, (correction, text)
