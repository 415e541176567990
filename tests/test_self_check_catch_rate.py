"""Self-checks with teeth: what the grader catches, the mutated stage's own self-check flags.

Into the release's solution cells we inject, one at a time, every catalogue bug of a stage
(its `Bug.implementation`) and single-site mutants of the stage's solution source (an
operator swapped, a transpose dropped, a constant or an index moved by one). For each the
grader grades the stage (reference comparison, trusted callees); of those it catches, the
mutated stage's self-check must print ✗ for at least 95%, and no other stage's self-check
may be the one to fail first. A right solution never gets ✗, in any variant.
The rate is printed in pytest's closing summary.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools

import numpy as np
import pytest
from conftest import report

from exercises.instance import DEMO_SECRET, PUBLIC_SALT, choose_variant, make_instance
from exercises.registry import all_exercises
from grader.authoring.self_checks import (
    _example_key,
    _is_size_field,
    _variant_from_choices,
    helper_source,
    shared_self_checks,
    structure_of,
    student_self_checks,
)
from grader.authoring.solution_cells import solution_namespace, stage_solutions
from grader.checking.verdicts import grade_outcomes
from grader.grading.in_process import run_in_process

EXERCISES = sorted(all_exercises())
STUDENTS = ("ada", "bao-17", "chen")
MUTANTS_PER_STAGE = 10
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult,
         ast.Pow: ast.Mult, ast.MatMult: ast.Mult}
TALLY: dict[str, list[int]] = {}


class _Mutator(ast.NodeTransformer):
    """Changes the `target`-th mutable site (counting from 0); counts the sites it saw."""

    def __init__(self, target: int):
        self.target, self.sites, self.label = target, 0, None

    def _here(self, label: str) -> bool:
        hit = self.sites == self.target
        self.sites += 1
        if hit:
            self.label = label
        return hit

    def visit_BinOp(self, node):
        self.generic_visit(node)
        swap = SWAPS.get(type(node.op))
        if swap is not None and self._here(f"{type(node.op).__name__} → {swap.__name__}"):
            node.op = swap()
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T" and self._here("transpose dropped"):
            return node.value
        return node

    def visit_Constant(self, node):
        if type(node.value) in (int, float) and self._here(f"{node.value!r} → {node.value + 1!r}"):
            return ast.Constant(node.value + 1)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub) and self._here("minus sign dropped"):
            return node.operand
        return node


def mutants(source: str) -> list[tuple[str, str]]:
    """Up to MUTANTS_PER_STAGE single-site mutants of a function's source, spread evenly
    over its sites: (what changed, the mutated source)."""
    counter = _Mutator(-1)
    counter.visit(ast.parse(source))
    sites = range(counter.sites)
    step = max(1, len(sites) // MUTANTS_PER_STAGE)
    found = []
    for site in list(sites)[::step][:MUTANTS_PER_STAGE]:
        mutator = _Mutator(site)
        tree = ast.fix_missing_locations(mutator.visit(ast.parse(source)))
        found.append((mutator.label, ast.unparse(tree)))
    return found


def self_check_status(exercise, variant, plans, namespace, name) -> tuple[object, str]:
    """The status the named stage's self-check records, and what it printed."""
    exec(helper_source(exercise, plans), namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
        try:
            namespace["self_check"](name)
        except Exception as error:  # noqa: BLE001 — a raising function is its own ✗
            return False, f"raised {error}"
    return namespace["SELF_CHECK_RESULTS"].get(name), printed.getvalue()


def graded_wrong(instance, namespace, stage) -> bool:
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        outcomes = run_in_process(instance, namespace, [stage.name, *stage.depends_on])
        result = grade_outcomes(instance, outcomes)
    return result.checks[instance.exercise.stages.index(stage)].score < 1.0


def _injected(exercise, variant, student, stage, source=None, bug=None) -> dict:
    namespace = solution_namespace(exercise, variant, student)
    if source is not None:
        exec(compile(source, "<mutated cell>", "exec"), namespace)
    else:
        namespace[stage.name] = lambda *args, _bug=bug, _variant=variant, **kwargs: \
            _bug.implementation(_variant, *args, **kwargs)
    return namespace


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_mutated_stage_self_check_flags_what_the_grader_catches(exercise_id):
    exercise = all_exercises()[exercise_id]
    caught = flagged = 0
    missed = []
    for student in STUDENTS:
        instance = make_instance(exercise, student, DEMO_SECRET)
        variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
        assert variant == instance.variant
        plans = student_self_checks(exercise.id, student, PUBLIC_SALT)
        sources = stage_solutions(exercise, variant)
        for stage in exercise.stages:
            injected = [(f"bug {bug.misconception}", None, bug)
                        for bug in stage.bugs_for(variant)]
            injected += [(f"mutant {label}", mutated, None)
                         for label, mutated in mutants(sources[stage.name])]
            for label, source, bug in injected:
                try:
                    namespace = _injected(exercise, variant, student, stage, source, bug)
                except Exception:  # noqa: BLE001 — a mutant that does not even define
                    continue
                if not graded_wrong(instance, namespace, stage):
                    continue
                caught += 1
                status, printed = self_check_status(exercise, variant, plans,
                                                    _injected(exercise, variant, student,
                                                              stage, source, bug), stage.name)
                if status is False:
                    flagged += 1
                else:
                    missed.append(f"{student} {stage.name} {label}: {printed.strip()[:200]}")
    TALLY[exercise_id] = [flagged, caught]
    total = np.sum(list(TALLY.values()), axis=0)
    report("self-check catch rate",
           f"{total[0]}/{total[1]} of the injected bugs and mutants the grader catches get ✗ "
           f"in the mutated stage's own self-check ({100 * total[0] / max(total[1], 1):.1f}%; "
           + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(TALLY.items())) + ")")
    assert caught
    assert flagged >= 0.95 * caught, "\n".join(missed[:20])


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_right_solution_never_gets_a_cross(exercise_id):
    exercise = all_exercises()[exercise_id]
    shared = shared_self_checks(exercise.id, PUBLIC_SALT)
    for i in range(12):
        student = f"right-{i}"
        variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
        for plans in (student_self_checks(exercise.id, student, PUBLIC_SALT), shared):
            namespace = solution_namespace(exercise, variant, student)
            exec(helper_source(exercise, plans), namespace)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                for stage in exercise.stages:
                    namespace["self_check"](stage.name)
                namespace["self_check_summary"]()
            assert "✗" not in printed.getvalue(), printed.getvalue()
            assert all(namespace["SELF_CHECK_RESULTS"][stage.name] is True
                       for stage in exercise.stages), namespace["SELF_CHECK_RESULTS"]


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_failing_self_check_names_its_own_function(exercise_id):
    """With one stage's catalogue bug in the notebook, every other stage's self-check,
    run after it in notebook order, keeps from ✗: a later function is never blamed."""
    exercise = all_exercises()[exercise_id]
    student = "ada"
    variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
    plans = student_self_checks(exercise.id, student, PUBLIC_SALT)
    for stage in exercise.stages:
        for bug in stage.bugs_for(variant):
            namespace = _injected(exercise, variant, student, stage, bug=bug)
            exec(helper_source(exercise, plans), namespace)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
                for other in exercise.stages:
                    namespace["self_check"](other.name)
            blamed = [other.name for other in exercise.stages if other is not stage
                      and namespace["SELF_CHECK_RESULTS"].get(other.name) is False]
            assert not blamed, (stage.name, bug.misconception, printed.getvalue())


# -- every stage has a plan, a worked example, and its declared finite differences ---------

WITHOUT_PLAN: dict[tuple[str, str], str] = {}     # (exercise, stage) → why it has no plan


def students_of_every_structure(exercise, tries: int = 300) -> list[str]:
    """One student for each structural choice (activation, head, …) met among `tries`."""
    found: dict[str, str] = {}
    for i in range(tries):
        student = f"right-{i}"
        variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
        found.setdefault(repr(structure_of(exercise, variant)), student)
    return list(found.values())


def every_structure(exercise):
    """A variant of every structural choice (sizes at their first option)."""
    structural = {k: v for k, v in exercise.variant_space.items() if not _is_size_field(v)}
    sizes = {k: v[0] for k, v in exercise.variant_space.items() if _is_size_field(v)}
    return [_variant_from_choices({**dict(zip(structural, values, strict=True)), **sizes})
            for values in itertools.product(*structural.values())]


def _cases(plan: dict) -> list[dict]:
    """The plans a stage's plan holds: itself, or the shared release's one per case."""
    return list(plan["cases"].values()) if "by" in plan else [plan]


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_every_stage_has_a_self_check_plan_with_a_worked_example(exercise_id):
    """Per student (one of every structural choice) and in the shared release, every stage
    has a plan, a worked example for every variant the release serves, and, when it
    declares `gradient_of`, its finite differences: none was dropped because the solution
    cells failed it (training runs whose random weights diverge, say)."""
    exercise = all_exercises()[exercise_id]
    releases = []
    for student in students_of_every_structure(exercise):
        variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
        releases.append((f"student {student}", student_self_checks(exercise.id, student,
                                                                   PUBLIC_SALT), [variant]))
    releases.append(("shared", shared_self_checks(exercise.id, PUBLIC_SALT),
                     every_structure(exercise)))
    missing = []
    for release, plans, variants in releases:
        for stage in exercise.stages:
            if (exercise.id, stage.name) in WITHOUT_PLAN:
                continue
            plan = plans.get(stage.name)
            if plan is None:
                missing.append(f"{release}: {stage.name} has no plan")
                continue
            examples = plan.get("examples")
            keys = {_example_key(exercise, variant, examples["by"]) for variant in variants} \
                if examples else {"any"}
            if examples is None or keys - examples["cases"].keys():
                missing.append(f"{release}: {stage.name} has no worked example for "
                               f"{sorted(keys - (examples or {}).get('cases', {}).keys())}")
            if stage.gradient_of is not None and not all("gradient" in case
                                                         for case in _cases(plan)):
                missing.append(f"{release}: {stage.name} has no finite differences")
    assert not missing, "\n".join(missing)


def _one_output_wrong(right, stage, result):
    """The stage's function with 1.5× its output `result`: one wrong term."""
    def wrong(*args, **kwargs):
        value = stage.named(right(*args, **kwargs))
        value[result] = 1.5 * value[result]
        return value[result] if len(stage.outputs) == 1 else \
            tuple(value[name] for name in stage.outputs)
    return wrong


@pytest.mark.parametrize("exercise_id", [exercise_id for exercise_id in EXERCISES if any(
    stage.gradient_of for stage in all_exercises()[exercise_id].stages)])
def test_the_finite_differences_name_the_one_wrong_output(exercise_id):
    """A backward with one output wrong gets ✗ at that output from its finite differences,
    and ✓ at every other, for every stage declaring `gradient_of`; an output that is zero
    at the random inputs (relu's dead units) gets no tick either way, and is rare."""
    exercise = all_exercises()[exercise_id]
    flagged = zero = 0
    for student in STUDENTS:
        variant = choose_variant(exercise.variant_space, exercise.id, student, PUBLIC_SALT)
        plans = student_self_checks(exercise.id, student, PUBLIC_SALT)
        for stage in (stage for stage in exercise.stages if stage.gradient_of is not None):
            for result in stage.gradient_of.wrt:
                namespace = solution_namespace(exercise, variant, student)
                exec(helper_source(exercise, plans), namespace)
                namespace[stage.name] = _one_output_wrong(namespace[stage.name], stage, result)
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
                    namespace["self_check"](stage.name)
                text = printed.getvalue()
                assert f"✓ {stage.name}: {result} matches finite" not in text, (student, text)
                if f"· {stage.name}: {result} is zero here" in text:
                    assert variant.activation == "relu", (student, text)   # dead units only
                    zero += 1
                    continue
                assert f"✗ {stage.name}: {result} does not match finite differences" in text, \
                    (student, text)
                for other in (other for other in stage.gradient_of.wrt if other != result):
                    assert f"✓ {stage.name}: {other} matches finite differences" in text \
                        or f"· {stage.name}: {other} is zero here" in text, (student, text)
                assert namespace["SELF_CHECK_RESULTS"][stage.name] is False
                flagged += 1
    report(f"finite differences of {exercise_id}",
           f"{flagged} wrong outputs ✗, {zero} zero at the random inputs (relu) and not ticked")
    assert flagged


def test_a_check_that_sees_only_shapes_says_so_and_does_not_tick():
    exercise = all_exercises()["elman"]
    variant = choose_variant(exercise.variant_space, exercise.id, "ada", PUBLIC_SALT)
    plans = {name: dict(plan) for name, plan in
             student_self_checks(exercise.id, "ada", PUBLIC_SALT).items()}
    for plan in plans.values():
        plan.pop("examples", None)
        plan.pop("gradient", None)
    namespace = solution_namespace(exercise, variant, "ada")
    exec(helper_source(exercise, plans), namespace)
    for stage in exercise.stages:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            namespace["self_check"](stage.name)
        assert "✓" not in printed.getvalue()
        assert "only shapes and NaN could be checked" in printed.getvalue()
        assert namespace["SELF_CHECK_RESULTS"][stage.name] is None


def test_the_report_is_html_in_jupyter_and_text_in_a_terminal():
    exercise = all_exercises()["elman"]
    namespace = {"__name__": "__main__"}
    exec(helper_source(exercise, {}), namespace)
    report_ = namespace["SelfCheckReport"](["✓ f: matches <the> example", "✗ g: differs"],
                                           title="Self-checks")
    assert repr(report_) == "Self-checks\n✓ f: matches <the> example\n✗ g: differs"
    html = report_._repr_html_()
    assert html.startswith("<table>") and "&lt;the&gt;" in html and "<caption>" in html
