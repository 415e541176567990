"""What an exercise is: stages the student implements, probes that exercise them, bugs to recognise.

An `Exercise` is a set of `Stage`s, one per function the student writes. A
stage carries

- the student's signature, docstring and the solution's source (for the notebooks);
- `solve`, the right answer: a function of the variant followed by the
  student's arguments, `solve(variant, *student_args)`;
- `probes`, the inputs the grader calls the student's function with: random
  data from the student's instance and the probes good hand-made graders use
  (a non-zero initial state, states that are not φ of anything, inputs that
  isolate one term);
- `bugs`, the misconceptions of `exercises.misconceptions` that apply, each as
  a function with the signature of `solve` that makes that mistake, and the
  corrected equation in this exercise's notation.

The grader calls the student's function on every probe (in a sandbox), calls
`solve` and every bug on the same probe (in the trusted parent), and compares.
Nothing here imports the grader.

`Stage`, `Probe`, `Bug` and `Exercise` take keyword arguments only, so that an
exercise module reads like its assignment sheet. The plumbing the exercise
modules share lives here too: `bugs_from` (the bugs of one buggy
implementation, switched on by id), `Instance.probe_rng` (a stage's probe
generator), `Variant.sizes` and `only_at_step` (a loss at one step alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

Outputs = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Variant:
    """The randomised choices of one student's exercise (a pure function of student and salt)."""

    activation: str
    output: str
    objective: str
    n_in: int
    n_hidden: int
    n_out: int
    T: int
    N: int
    bias: bool = True
    horizon: int | None = None
    lr: float = 0.1
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def sizes(self) -> tuple[int, int, int, int, int]:
        """N, T, n_in, n_hidden, n_out: the batch, the sequence length and the three widths."""
        return self.N, self.T, self.n_in, self.n_hidden, self.n_out

    def get(self, key: str, default=None):
        """An exercise-specific choice from `extra`."""
        return dict(self.extra).get(key, default)

    def as_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "extra"}
        fields.update(dict(self.extra))
        return fields


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One call of a student function: keyword arguments and what the call tests.

    `time_axis` names the outputs that have a time axis and which axis it is,
    so that the grader can say at which step a wrong answer starts; `step_label`
    says what a step along that axis is: "t", a time step, or "update", one
    update of a training run (whose outputs are the weights after every update).
    `repeat` asks the grader to call twice and compare (accumulation bugs,
    non-determinism). `variant` is the variant the probe was drawn for when it
    is not the student's own (`exercises.instance.resized`): the right answer
    is computed for it. `gradient_check` marks a call of a backward stage's
    graded gradient check (`grader.checking.consistency`): it is not compared
    with the right answer, and says which part of the check it is.
    """

    name: str
    kwargs: Mapping[str, Any]
    purpose: str = ""
    time_axis: Mapping[str, int] = field(default_factory=dict)
    step_label: str = "t"
    repeat: bool = False
    variant: Variant | None = None
    gradient_check: Mapping[str, Any] | None = None   # a call of a graded gradient check


def always(variant: Variant) -> bool:
    """A mistake that can show in every variant: the default of `Bug.applies`."""
    return True


@dataclass(frozen=True, kw_only=True)
class Bug:
    """A misconception as it shows in one stage: a wrong implementation and its correction."""

    misconception: str                       # an id of exercises.misconceptions.CATALOGUE
    implementation: Callable[..., Any]       # same signature as Stage.solve
    correction: str | Callable[[Variant], str]   # the right equation, LaTeX (per variant)
    applies: Callable[[Variant], bool] = always    # can the mistake show here?

    def correction_for(self, variant: Variant) -> str:
        """The right equation for this student's variant (`exercises.corrections`)."""
        return self.correction(variant) if callable(self.correction) else self.correction


def bugs_from(implementation: Callable[..., Any],
              corrections: Mapping[str, str | Callable[[Variant], str]], *,
              applies: Mapping[str, Callable[[Variant], bool]] | None = None) -> tuple[Bug, ...]:
    """One `Bug` per misconception of `corrections`, in its order.

    `implementation` makes every mistake, switched on by its id (`bug=<id>`);
    `corrections` maps each id to its correction and `applies` the ids of mistakes
    that cannot show in every variant to the test (`always` for the others).
    """
    applies = applies or {}
    unknown = set(applies) - set(corrections)
    if unknown:
        raise ValueError(f"applies names bugs without a correction: {sorted(unknown)}")
    return tuple(Bug(misconception=bug, implementation=partial(implementation, bug=bug),
                     correction=correction, applies=applies.get(bug, always))
                 for bug, correction in corrections.items())


@dataclass(frozen=True, kw_only=True)
class Training:
    """What makes a stage a training run: k updates, its outputs the weights after each.

    loss(variant, kwargs, weights): the loss of the run's data (the probe's `kwargs`)
    at one set of weights, by the reference: the loss curve the feedback and the
    notebook plot, the student's weights' against the reference's.
    example(variant, rng): public inputs of a run (drawn from `rng`, never from the
    course secret), for the notebook's loss plot.
    """

    loss: Callable[[Variant, Mapping[str, Any], Mapping[str, np.ndarray]], float]
    example: Callable[[Variant, np.random.Generator], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class GradientOf:
    """What a backward stage differentiates: the forward it is the derivative of.

    The forward F is the composition of `forwards` (stages of the exercise, or
    functions the notebook gives) and an optional `head`: with θ the forwards'
    arguments (and the head's), F(θ) = head(θ, outputs of the forwards), or the
    forwards' output named `output` when there is no head. A backward stage B is
    then the vector–Jacobian product

        B(θ, states, v) = vᵀ ∂F/∂θ,        v = `upstream` (dL/dF, the shape of F),

    or, when `upstream` is None, the gradient ∇_θ F of a scalar F (a loss).

    forwards: names of the functions computing the states, in order (none when the head
              computes F from θ alone: bce-head's loss of seed 001's network).
    output:   the forwards' output (or "head") that `upstream` is the gradient at.
    wrt:      backward output → the argument of the forwards it is the derivative
              with respect to; "params.U" for an entry of a dict argument.
    upstream: the backward's argument holding v, or None.
    head:     a stage's name, or a plain numpy function of named arguments
              (o = z V₂ + c, say) applied to the forwards' outputs and arguments.
    time_axis: the axis of time of F (for "first at t=3"), None when F has none.
    Every other argument of the backward named like an output of the forwards
    (s, f, r) receives that output; the rest are arguments of F or fixed data.
    """

    forwards: tuple[str, ...]
    wrt: Mapping[str, str]
    output: str = "head"
    upstream: str | None = None
    head: str | Callable[..., Any] | None = None
    time_axis: int | None = 1

    def parameter(self, result: str) -> tuple[str, str | None]:
        """The argument (and dict entry, or None) a backward output differentiates."""
        argument, _, entry = self.wrt[result].partition(".")
        return argument, entry or None


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One function the student implements."""

    name: str                                # the function's name in the notebook
    title: str
    points: float
    inputs: tuple[str, ...]                  # argument names, in order
    outputs: tuple[str, ...]                 # names of the returned arrays, in order
    docstring: str                           # shapes and the equation, in the student's notation
    solve: Callable[..., Any]                # the right answer: solve(variant, *student_args)
    probes: Callable[[Instance], list[Probe]]
    bugs: tuple[Bug, ...] = ()
    tolerance: float = 1e-6                  # relative error accepted per entry
    training: Training | None = None         # a training run: loss curve and loss plot
    demo: str | None = None                  # a notebook cell template run after the stage
    visibility: str = "visible"
    depends_on: tuple[str, ...] = ()         # stages whose functions this one may call
    gradient_of: GradientOf | None = None    # a backward stage: the forward it differentiates

    def bugs_for(self, variant: Variant) -> tuple[Bug, ...]:
        """The bugs that can show in this variant (φ'(φ(s)) = φ'(s) for relu, say)."""
        return tuple(bug for bug in self.bugs if bug.applies(variant))

    def named(self, result) -> dict[str, np.ndarray]:
        """A function's return value as named outputs (a single array or a tuple)."""
        return named_outputs(self.outputs, result)


def named_outputs(names: tuple[str, ...], result) -> dict[str, Any]:
    """Pair the declared output names with a returned value.

    Every natural way of returning several values is the same answer: a tuple,
    a list, or any Mapping with the names as keys. With one declared output the
    value is that output, whatever its type.
    """
    if isinstance(result, Mapping):
        missing = [name for name in names if name not in result]
        if missing:
            raise ValueError(f"the returned dict has no entries {missing}")
        return {name: result[name] for name in names}
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise ValueError(f"expected {len(names)} return values ({', '.join(names)}), "
                         f"got {_count(result)}")
    return dict(zip(names, result, strict=True))


def _count(result) -> str:
    """How many values a return value holds, in words: "3 (a list)", "one (a numpy array)"."""
    if isinstance(result, (tuple, list)):
        return f"{len(result)} (a {type(result).__name__})"
    if result is None:
        return "None (did the function forget to return?)"
    kind = "numpy array" if isinstance(result, np.ndarray) else type(result).__name__
    return f"one value (a {kind})"


@dataclass(frozen=True, kw_only=True)
class Exercise:
    """An exercise of the catalogue."""

    id: str
    title: str
    seed: str                                # which lecture notes it follows, e.g. "004"
    summary: str                             # one paragraph for the notebook's introduction
    notation: Mapping[str, str]              # student symbol → meaning, shown in the notebook
    variant_space: Mapping[str, tuple]       # Variant field → options; "head" → (output, objective)
    stages: tuple[Stage, ...]
    solution_module: str                     # module holding the solutions' source, for notebooks
    equations: tuple[str, ...] = ()          # the forward equations in LaTeX, for the notebook

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"exercise {self.id!r} has no stage {name!r}")

    @property
    def points(self) -> float:
        return sum(stage.points for stage in self.stages)


@dataclass(frozen=True)
class Instance:
    """One student's exercise: the variant and a source of hidden data.

    `rng(purpose)` gives the same generator for the same (exercise, student,
    secret, purpose), so probes are reproducible anywhere and differ between
    students. See `exercises.instance` for how both are derived.
    """

    exercise: Exercise
    student: str
    variant: Variant
    data_key: bytes

    def rng(self, purpose: str) -> np.random.Generator:
        from exercises.instance import keyed_generator

        return keyed_generator(self.data_key, purpose)

    def probe_rng(self, stage: str) -> np.random.Generator:
        """The generator of a stage's probes: `rng("probe:<stage>")`."""
        return self.rng(f"probe:{stage}")


def only_at_step(values: np.ndarray, *, t: int, T: int) -> np.ndarray:
    """An (N, T, …) array of zeros but at step t, where it is `values` (N, …).

    The gradient of a loss at one step alone: whatever reaches the other steps
    must come through the recurrence.
    """
    at_step = np.zeros((values.shape[0], T) + values.shape[1:])
    at_step[:, t] = values
    return at_step
