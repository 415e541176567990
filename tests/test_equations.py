"""The corrected equations in feedback read as plain text."""

import pytest

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import all_exercises, get_exercise
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
    """Every correction, for every variant a student can have (a variant-dependent one is
    written for that student's φ, output and loss)."""
    corrections = {bug.correction_for(make_instance(exercise, f"s{i}", DEMO_SECRET).variant)
                   for exercise in all_exercises().values() for i in range(40)
                   for stage in exercise.stages for bug in stage.bugs}
    assert corrections
    for correction in corrections:
        text = as_text(correction)
        assert text and "\\" not in text and "{}" not in text, (correction, text)


@pytest.mark.parametrize(("activation", "shown", "not_shown"), [
    ("sigmoid", "s_t(1 - s_t)", "1 - s_t^2"), ("tanh", "1 - s_t^2", "s_t(1 - s_t)"),
    ("relu", "1[s_t > 0]", "1 - s_t^2"), ("identity", "φ'(a) = 1 where", "s_t^2")])
def test_a_derivative_correction_shows_the_students_own_activation(activation, shown, not_shown):
    bug = next(b for b in get_exercise("elman").stage("phi_prime").bugs
               if b.misconception == "wrong-activation-derivative")
    variant = next(v for v in (make_instance(get_exercise("elman"), f"s{i}", DEMO_SECRET).variant
                               for i in range(200)) if v.activation == activation)
    text = as_text(bug.correction_for(variant))
    assert shown in text and not_shown not in text


@pytest.mark.parametrize(("head", "shown"), [
    (("softmax", "ce"), "1/N (y_t - d_t)"), (("sigmoid", "bce"), "1/N (y_t - d_t)"),
    (("linear", "mse"), "2/N (y_t - d_t)"), (("tanh", "mse"), "2/N (y_t - d_t) ⊙ (1 - y_t^2)"),
    (("softmax", "mse"), "2/N J_tᵀ (y_t - d_t)")])
def test_the_output_gradient_correction_is_the_students_own_loss(head, shown):
    bug = next(b for b in get_exercise("elman").stage("output_backward").bugs
               if b.misconception == "output-delta-sign")
    variant = next(v for v in (make_instance(get_exercise("elman"), f"s{i}", DEMO_SECRET).variant
                               for i in range(400)) if (v.output, v.objective) == head)
    assert as_text(bug.correction_for(variant)).startswith("∂L/∂o_t = " + shown)
