"""The notebooks' self-checks: what to feed each student function, and which to differentiate.

Each stage gets a plan: random inputs drawn from a spec (the shapes of the
stage's first probe, written with the variant's size names so that one plan
serves every student of a shared release), the shapes of its outputs, and, when
the stage is the backward pass of another, a finite-difference check against
the student's own forward function. The notebook's helper cell
(`templates/notebook/self_check_helper.py.j2`) carries the plans as a literal
and runs them with numpy alone.

    spec of an argument: ["float", dims, low, high]   normal (low None) or uniform
                         ["int", dims, high]          class indices in [0, high)
                         ["onehot", dims]             one-hot rows along the last axis
                         ["dict", {key: spec}]        a dict of arrays (parameters)
                         ["value", v] / ["field", f]  a literal, or the variant's field f
                         ["number", low, high]        a random float
    dims: ints, or variant field names ("N", "n_hidden"), or the sum of a field named
          in the same shape and one more ("n_hidden+n_in": the stacked W_a (d+n, d))

Sizes are named by building the probes for two variants whose size fields all
differ, and matching each dimension to the field that moved with it. Every plan
is run on the solution cells before it goes into a notebook; a check the
solution would fail is left out.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import inspect
import io
import itertools
import json
import textwrap
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from exercises.instance import DEMO_SECRET, choose_variant, make_instance
from exercises.spec import Exercise, Instance, Variant
from grader.authoring.solution_cells import recorded_calls, solution_code, solution_namespace
from grader.authoring.templating import render


def _is_size_field(options: tuple) -> bool:
    return all(isinstance(o, int) and not isinstance(o, bool) for o in options)


def _variant_from_choices(chosen: dict[str, Any]) -> Variant:
    """A Variant from one option per field, as `choose_variant` builds it."""
    chosen = dict(chosen)
    if "head" in chosen:
        chosen["output"], chosen["objective"] = chosen.pop("head")
    known = set(Variant.__dataclass_fields__) - {"extra"}
    extra = tuple(sorted((k, v) for k, v in chosen.items() if k not in known))
    return Variant(**{k: v for k, v in chosen.items() if k in known}, extra=extra)


def _size_assignments(space: Mapping[str, tuple]) -> tuple[dict, dict]:
    """Two choices of every size field, from which each dimension of an array can be named
    by the field that moved with it: the first from the options (distinct values where
    they allow), the second past every option and distinct from every other value, so
    that no two fields move alike (vanishing's N, n_in and n_out all choose from (2, 3)).
    A field with one option is structural and keeps it in both."""
    sizes = sorted((name for name, options in space.items() if _is_size_field(options)),
                   key=lambda name: len(space[name]))
    first: dict[str, int] = {}
    for name in sizes:
        options = list(space[name])
        first[name] = next((o for o in options if o not in first.values()), options[0])
    second: dict[str, int] = {}
    taken = set(first.values())
    for name in sorted(sizes, key=lambda name: max(space[name])):
        if len(space[name]) < 2:
            second[name] = first[name]
            continue
        value = max(space[name]) + 1
        while value in taken:
            value += 1
        taken.add(value)
        second[name] = value
    return first, second


def _spec(value: Any) -> Any:
    """A spec of one argument's value, concrete."""
    if isinstance(value, np.generic):
        value = value.item()  # a numpy scalar: the plain Python number
    if isinstance(value, np.ndarray):
        dims = list(value.shape)
        if value.dtype.kind in "iu":
            return ["int", dims, int(value.max()) + 1 if value.size else 1]
        if value.dtype.kind != "f":
            raise ValueError("unsupported array")
        if value.ndim and value.size and np.isin(value, (0.0, 1.0)).all() \
                and (value.sum(axis=-1) == 1.0).all():
            return ["onehot", dims]  # one-hot rows: characters, class targets
        low, high = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
        if low >= 0.0 and high <= 1.0:  # probabilities, targets of bce, sigmoid states
            return ["float", dims, 0.05, 0.95]
        return ["float", dims, None, None]
    if isinstance(value, Mapping):
        return ["dict", {str(k): _spec(v) for k, v in value.items()}]
    if value is None or isinstance(value, bool | int | float | str):
        return ["value", value]
    if isinstance(value, list | tuple) and all(isinstance(v, bool | int | float | str)
                                               for v in value):
        return ["value", list(value)]  # a list of words, say
    raise ValueError(f"unsupported argument type {type(value).__name__}")


def _unify(a: Any, b: Any, first: Mapping, second: Mapping) -> Any:
    """One spec from the concrete specs of two variants: sizes that differ become field names."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a and all(
            type(v) is int for v in a + b):
        return _dims(a, b, first, second)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        if a and a[0] == "value" and b[0] == "value":
            if a[1] == b[1]:
                return a
            with contextlib.suppress(ValueError):
                return ["field", _field(a[1], b[1], first, second)]
            if all(type(v) is float for v in (a[1], b[1])):  # a random number: between the two
                return ["number", min(a[1], b[1]), max(a[1], b[1])]
            if type(a[1]) is type(b[1]) is list:  # random words: either list will do
                return a
            raise ValueError(f"the argument is {a[1]!r} in one variant, {b[1]!r} in the other")
        if a and a[0] == "int" and b[0] == "int":  # class indices: a bound valid for both
            return ["int", _unify(a[1], b[1], first, second), min(a[2], b[2])]
        if a and a[0] == "onehot" and b[0] == "onehot":
            return ["onehot", _unify(a[1], b[1], first, second)]
        if a and a[0] == "float" and b[0] == "float":
            dims = _unify(a[1], b[1], first, second)
            return ["float", dims, *(a[2:] if a[2:] == b[2:] else [None, None])]
        return [_unify(x, y, first, second) for x, y in zip(a, b, strict=True)]
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: _unify(a[k], b[k], first, second) for k in a}
    if a == b:
        return a
    if isinstance(a, int) and isinstance(b, int):
        with contextlib.suppress(ValueError):
            return _field(a, b, first, second)
        return min(a, b)  # a length the probe chose (a word's): the shorter fits both
    raise ValueError("the two variants' arguments differ in structure")


def _dims(a: list, b: list, first: Mapping, second: Mapping) -> list:
    """A shape's dimensions named by field; one that no field names may be the sum of a field
    named in the same shape and exactly one other (W_a = [W_aa; W_ax]: (n_hidden+n_in,
    n_hidden)). Restricting the sum to a field of the same shape keeps it unambiguous."""
    dims = [_unify(x, y, first, second) for x, y in zip(a, b, strict=True)]
    named = {d for d in dims if isinstance(d, str)}
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if isinstance(dims[i], str) or x == y:
            continue
        sums = [f"{one}+{other}" for one in sorted(named) for other in first
                if other != one and first[one] + first[other] == x
                and second[one] + second[other] == y]
        if len(sums) == 1:
            dims[i] = sums[0]
    return dims


def _field(a: Any, b: Any, first: Mapping, second: Mapping) -> str:
    for name in first:
        if first[name] == a and second[name] == b:
            return name
    raise ValueError(f"no variant field is {a} in one variant and {b} in the other")


def probe_instance(exercise: Exercise, variant: Variant) -> Instance:
    template = make_instance(exercise, "self-check", DEMO_SECRET)
    return Instance(exercise, "self-check", variant, template.data_key)


def _stage_specs(exercise: Exercise, variant: Variant) -> dict[str, dict]:
    """Concrete input and output specs of every stage for one variant (from its first probe)."""
    instance = probe_instance(exercise, variant)
    specs = {}
    for stage in exercise.stages:
        try:
            probe = stage.probes(instance)[0]
            kwargs = dict(probe.kwargs)
            outputs = stage.named(stage.solve(variant, **kwargs))
            specs[stage.name] = {
                "inputs": {k: _spec(v) for k, v in kwargs.items()},
                "outputs": {k: None if v is None else list(np.shape(v))
                            for k, v in outputs.items()},
            }
        except Exception:  # a stage whose arguments we cannot describe gets no self-check
            continue
    return specs


def symbolic_specs(exercise: Exercise, structure: Mapping[str, Any]) -> dict[str, dict]:
    """Specs with sizes written as variant field names, for one choice of the other fields.

    Worked out once per structure (a class of 200 has about 60) and copied out."""
    return copy.deepcopy(_symbolic_specs(exercise.id, tuple(structure.items())))


@cache
def _symbolic_specs(exercise_id: str, structure_items: tuple) -> dict[str, dict]:
    exercise, structure = _exercise(exercise_id), dict(structure_items)
    first, second = _size_assignments(exercise.variant_space)
    a = _stage_specs(exercise, _variant_from_choices({**structure, **first}))
    b = _stage_specs(exercise, _variant_from_choices({**structure, **second}))
    specs = {}
    for name in a.keys() & b.keys():
        with contextlib.suppress(ValueError):
            specs[name] = _name_values(_unify(a[name], b[name], first, second), structure)
    return specs


def _name_values(spec: Any, structure: Mapping[str, Any]) -> Any:
    """A float argument equal to exactly one non-size choice (the learning rate) names it."""
    if isinstance(spec, dict):
        return {k: _name_values(v, structure) for k, v in spec.items()}
    if isinstance(spec, list):
        if len(spec) == 2 and spec[0] == "value" and type(spec[1]) is float:
            named = [k for k, v in structure.items() if type(v) is float and v == spec[1]]
            return ["field", named[0]] if len(named) == 1 else spec
        return [_name_values(item, structure) for item in spec]
    return spec


def _heads(exercise: Exercise) -> dict[str, str]:
    """The numpy heads of the exercise's `GradientOf` declarations (o = z V₂ + c), as the
    source the notebook's helper defines them by: `_<name>` → its source."""
    heads = {}
    for stage in exercise.stages:
        head = stage.gradient_of.head if stage.gradient_of is not None else None
        if callable(head):
            source = textwrap.dedent(inspect.getsource(head))
            heads[f"_{head.__name__}"] = source.replace(f"def {head.__name__}(",
                                                        f"def _{head.__name__}(", 1)
    return heads


def _gradient_plan(exercise: Exercise, stage, specs: Mapping[str, dict]) -> dict | None:
    """The finite-difference check of a backward stage, from its `GradientOf`:

    {"forwards": [{"name", "parameters", "outputs"}], "head": None | {"stage": name} |
     {"function": "_name"}, "output", "upstream", "wrt": {result: [argument, entry]},
     "inputs": {argument: spec}}, the inputs being θ: the forwards' and the head's
    arguments, drawn like the stage's own, the forwards' or another stage's first probe."""
    gradient = stage.gradient_of
    if gradient is None or stage.name not in specs:
        return None
    code = solution_code(exercise.solution_module)
    names = {s.name: s for s in exercise.stages}
    forwards = []
    for name in gradient.forwards:
        if name in names:
            forwards.append({"name": name, "parameters": list(names[name].inputs),
                             "outputs": list(names[name].outputs)})
        elif code.versions(name):
            forwards.append({"name": name, "parameters": list(code.versions(name)[0].parameters),
                             "outputs": [name]})
        else:
            return None
    outputs = {o for forward in forwards for o in forward["outputs"]}
    arguments = [p for forward in forwards for p in forward["parameters"]]
    head = None
    if isinstance(gradient.head, str):
        head = {"stage": gradient.head}
        arguments += [p for p in names[gradient.head].inputs if p not in outputs]
    elif gradient.head is not None:
        head = {"function": f"_{gradient.head.__name__}"}
        arguments += [p for p in inspect.signature(gradient.head).parameters if p not in outputs]
    order = [stage.name, *gradient.forwards] + [s.name for s in exercise.stages]
    inputs = {}
    for argument in dict.fromkeys(arguments):
        found = [specs[name]["inputs"][argument] for name in order
                 if name in specs and argument in specs[name]["inputs"]]
        if not found:
            return None
        inputs[argument] = found[0]
    return {"forwards": forwards, "head": head, "output": gradient.output,
            "upstream": gradient.upstream,
            "wrt": {result: list(gradient.parameter(result)) for result in gradient.wrt},
            "inputs": inputs}


def _seed(exercise: Exercise, stage: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{exercise.id}\x1f{stage}".encode()).digest()[:4], "big")


def _plans(exercise: Exercise, specs: Mapping[str, dict], gradient: bool) -> dict[str, dict]:
    plans = {}
    for stage in exercise.stages:
        if stage.name not in specs:
            continue
        plan = {"seed": _seed(exercise, stage.name), "parameters": list(stage.inputs),
                "depends_on": list(stage.depends_on), **specs[stage.name]}
        check = _gradient_plan(exercise, stage, specs) if gradient else None
        if check is not None:
            plan["gradient"] = check
        plans[stage.name] = plan
    return plans


# -- public worked examples ----------------------------------------------------------------

EXAMPLE_STUDENT = "worked-example"      # a public generator, not a student's hidden probes


ARRAY_SIZES = ("N", "T", "n_in", "n_hidden", "n_out")


def _smallest(exercise: Exercise, variant: Variant) -> Variant:
    """The variant with small array sizes that differ from each other where the options
    allow (a worked example stays short, and one size is not mistaken for another), and
    every other count (a horizon, a number of updates) at its largest, so that the
    example shows every term."""
    first, _ = _size_assignments(exercise.variant_space)
    values = {name: max(options) if name not in ARRAY_SIZES and min(options) > 0
              else first[name]
              for name, options in exercise.variant_space.items() if _is_size_field(options)}
    known = {k: v for k, v in values.items() if k in Variant.__dataclass_fields__}
    extra = dict(variant.extra)
    extra.update({k: v for k, v in values.items() if k not in known})
    return replace(variant, **known, extra=tuple(sorted(extra.items())))


def encoded(value: Any) -> Any:
    """A value as a plain literal for the notebook: ["array", kind, shape, base64 of the
    little-endian float64 or int64 bytes] for arrays, ["dict", {…}] for dicts, ["list", […]]
    for several values, ["value", v] for numbers, words and None.

    Arrays travel as bytes, not nested lists: a shared release holds every variant's
    examples, and Python parses megabytes of float literals in seconds where it takes a
    string of their bytes at once (and the bytes are exact)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        kind = "i" if value.dtype.kind in "iu" else "f"
        data = np.ascontiguousarray(value, dtype="<i8" if kind == "i" else "<f8").tobytes()
        return ["array", kind, list(value.shape), base64.b64encode(data).decode("ascii")]
    if isinstance(value, Mapping):
        return ["dict", {str(k): encoded(v) for k, v in value.items()}]
    if isinstance(value, list | tuple):
        if all(v is None or isinstance(v, bool | int | float | str) for v in value):
            return ["value", list(value)]  # a list of words, say
        return ["list", [encoded(v) for v in value]]   # several returned values
    return ["value", value]


def worked_example(exercise: Exercise, stage, variant: Variant) -> dict | None:
    """A public worked example of a stage for the variant's structure: the inputs of the
    stage's first probe drawn by a public generator at the smallest sizes, the right
    outputs, and the answers of the stages it calls to those calls (so that the example
    judges the stage alone)."""
    small = _smallest(exercise, variant)
    instance = Instance(exercise, EXAMPLE_STUDENT, small,
                        make_instance(exercise, EXAMPLE_STUDENT, DEMO_SECRET).data_key)
    try:
        probe, expected = _telling_probe(stage, instance)
        kwargs = dict(probe.kwargs)
        callees = {}
        if stage.depends_on:
            namespace = solution_namespace(exercise, small, EXAMPLE_STUDENT)
            table = recorded_calls(namespace, exercise, stage.name,
                                   [name for name in stage.depends_on
                                    if callable(namespace.get(name))], kwargs)
            callees = {name: {"parameters": spec["inputs"], "outputs": spec["outputs"],
                              "calls": [[encoded(arguments), encoded(answer)]
                                        for arguments, answer in spec["calls"]]}
                       for name, spec in table.items()}
    except Exception:  # noqa: BLE001 — a stage whose example cannot be drawn gets none
        return None
    return {"inputs": {k: encoded(v) for k, v in kwargs.items()},
            "outputs": {k: encoded(v) for k, v in expected.items()},
            "callees": callees, "time_axis": dict(probe.time_axis),
            "tolerance": stage.tolerance}


def _telling_probe(stage, instance: Instance):
    """The stage's probe that tells the most of its misconceptions from the right answer
    (the first on a tie), and the right answer on it: many probes isolate one term, and a
    worked example should show every term."""
    best, best_score = None, -1.0
    for probe in stage.probes(instance):
        variant = probe.variant or instance.variant
        expected = stage.named(stage.solve(variant, **copy.deepcopy(dict(probe.kwargs))))
        told = 0
        for bug in stage.bugs_for(instance.variant):
            try:
                theirs = stage.named(bug.implementation(variant,
                                                        **copy.deepcopy(dict(probe.kwargs))))
                told += not all(_close(theirs[k], v) for k, v in expected.items())
            except Exception:  # noqa: BLE001 — the bug raises here: it is told apart
                told += 1
        nonzero = np.mean([np.count_nonzero(np.asarray(v, dtype=float)) > 0
                           for v in expected.values() if v is not None] or [0.0])
        score = told + 0.5 * nonzero
        if score > best_score:
            best, best_score = (probe, expected), score
    return best


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _examples(exercise: Exercise, variants: list[Variant]) -> dict[str, dict]:
    """Each stage's worked examples for these variants, by the structural choices that
    pick one: {"by": [field…], "cases": {key: id}, "examples": {id: example}}, the same
    example stored once."""
    fields = [field for name, options in exercise.variant_space.items()
              if not _is_size_field(options)
              for field in (("output", "objective") if name == "head" else (name,))]
    tables: dict[str, dict] = {}
    for stage in exercise.stages:
        cases, examples, ids = {}, {}, {}
        for variant in variants:
            key = _example_key(exercise, variant, fields)
            if key in cases:
                continue
            example = worked_example(exercise, stage, variant)
            if example is None:
                continue
            text = json.dumps(example, sort_keys=True)
            if text not in ids:
                ids[text] = str(len(ids))     # JSON keys are strings
                examples[ids[text]] = example
            cases[key] = ids[text]
        if cases:
            tables[stage.name] = {"by": fields, "cases": cases, "examples": examples}
    return tables


def _example_key(exercise: Exercise, variant: Variant, fields: list[str]) -> str:
    """The variant's choices of `fields` as the notebook writes them: "tanh|softmax|ce"."""
    values = variant.as_dict()
    return "|".join(str(values[field]) for field in fields)


# -- running the self-checks on the solution, while building -------------------------------


def _failing_checks(exercise: Exercise, plans: dict, variant: Mapping[str, Any]) -> set[str]:
    """The stages whose self-check the solution cells do not pass for this variant."""
    namespace = solution_namespace(exercise, variant, "self-check")
    exec(compile(helper_source(exercise, plans), "<self-check helper>", "exec"),
         namespace)
    failing = set()
    for name in (name for name, plan in plans.items() if not plan.get("given")):
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            try:
                namespace["self_check"](name)
            except Exception:
                failing.add(name)
                continue
        if not namespace["SELF_CHECK_RESULTS"].get(name, True):
            failing.add(name)
    return failing


def helper_source(exercise: Exercise, plans: Mapping[str, Any]) -> str:
    """The notebook's self-check helper cell: the plans, one stage a line, the distinct
    arrays of their worked examples, one a line, and the code that runs them."""
    pooled, arrays = pooled_arrays(plans)
    lines = [f"    {name!r}: {plan!r}," for name, plan in pooled.items()]
    return render("notebook/self_check_helper.py.j2",
                  self_checks="{\n" + "\n".join(lines) + "\n}" if lines else "{}",
                  example_arrays="[\n" + "".join(f"    {a!r},\n" for a in arrays) + "]",
                  heads=list(_heads(exercise).values()))


def pooled_arrays(plans: Any) -> tuple[Any, list[str]]:
    """The plans with each worked example's ["array", kind, shape, base64] written as
    ["array", kind, shape, i], and the distinct base64 strings, i-th at i.

    A training stage's example holds every update's calls to the other stages, and a
    shared release holds one example per structure: the same weights and data recur
    in almost every call (elman's shared release: 9,133 arrays, 3,242 distinct, its
    helper cell 3.5 MB where 1.2 MB says the same)."""
    index: dict[str, int] = {}

    def pool(value: Any) -> Any:
        if isinstance(value, list) and value and value[0] == "array" and len(value) == 4:
            return [*value[:3], index.setdefault(value[3], len(index))]
        if isinstance(value, list) and value and value[0] == "value" and len(value) == 2:
            return value                            # a literal: words are not arrays
        if isinstance(value, dict):
            return {key: pool(item) for key, item in value.items()}
        if isinstance(value, list):
            return [pool(item) for item in value]
        return value

    pooled = pool(plans)
    return pooled, list(index)


def _verified(exercise: Exercise, plans: dict, variants: list[Mapping[str, Any]]) -> dict:
    """The plans with what the solution fails removed: the gradient check first, then the
    worked example, then all."""
    plans = json.loads(json.dumps(plans))
    for variant in variants:
        failing = _failing_checks(exercise, plans, variant)
        if not failing:
            continue            # the usual case: nothing to take out, so no second run
        for part in ("gradient", "examples"):
            for name in failing:
                plans[name].pop(part, None)
            failing = _failing_checks(exercise, plans, variant)
        for name in failing:
            plans[name]["failed"] = True
    return {name: plan for name, plan in plans.items() if not plan.get("failed")}


def _with_examples(exercise: Exercise, plans: dict, variants: list[Variant]) -> dict:
    """Every stage's plan with its worked examples (a stage without a plan gets one that
    holds its examples alone)."""
    plans = dict(plans)
    for name, examples in _examples(exercise, variants).items():
        stage = exercise.stage(name)
        plan = plans.get(name) or {"seed": _seed(exercise, name), "inputs": {},
                                   "parameters": list(stage.inputs),
                                   "depends_on": list(stage.depends_on),
                                   "outputs": {o: None for o in stage.outputs}}
        plans[name] = {**plan, "examples": examples}
    order = [stage.name for stage in exercise.stages]
    return dict(sorted(plans.items(), key=lambda item: order.index(item[0])))


def structure_of(exercise: Exercise, variant: Variant) -> dict[str, Any]:
    """The variant's choices of the fields that are not sizes, as variant_space names them."""
    values = variant.as_dict()
    structure = {}
    for name, options in exercise.variant_space.items():
        if _is_size_field(options):
            continue
        structure[name] = (values["output"], values["objective"]) if name == "head" \
            else values[name]
    return structure


@cache
def student_self_checks(exercise_id: str, student: str, salt: str) -> dict:
    """The self-check plans of one student's notebook."""
    exercise = _exercise(exercise_id)
    variant = choose_variant(exercise.variant_space, exercise.id, student, salt)
    specs = symbolic_specs(exercise, structure_of(exercise, variant))
    concrete = _stage_specs(exercise, variant)
    for name in concrete.keys() - specs.keys():
        specs[name] = concrete[name]
    plans = _with_examples(exercise, _plans(exercise, specs, True), [variant])
    return _verified(exercise, plans, [variant.as_dict()])


SHARED_SAMPLE = 24


@cache
def shared_self_checks(exercise_id: str, salt: str) -> dict:
    """Self-check plans for every variant: one per stage, or one per value of the field
    the stage's arguments depend on."""
    exercise = _exercise(exercise_id)
    structural = {k: v for k, v in exercise.variant_space.items() if not _is_size_field(v)}
    combos = [dict(zip(structural, values, strict=True))
              for values in itertools.product(*structural.values())]
    step = max(1, len(combos) // SHARED_SAMPLE)
    combos = combos[::step]
    per_combo = [(combo, symbolic_specs(exercise, combo)) for combo in combos]
    specs: dict[str, Any] = {}
    for stage in exercise.stages:
        seen = [(combo, s[stage.name]) for combo, s in per_combo if stage.name in s]
        if len(seen) != len(per_combo) or not seen:
            continue
        merged = _merge([spec for _, spec in seen])
        if merged is not None:
            specs[stage.name] = merged
            continue
        for field in structural:
            groups: dict[str, list] = {}
            for combo, spec in seen:
                groups.setdefault(_case_key(combo[field]), []).append(spec)
            cases = {key: _merge(group) for key, group in groups.items()}
            if all(case is not None for case in cases.values()):
                specs[stage.name] = {"by": _by_field(field), "cases": cases}
                break
    first, _ = _size_assignments(exercise.variant_space)
    every = [_variant_from_choices({**dict(zip(structural, values, strict=True)), **first})
             for values in itertools.product(*structural.values())]
    plans = _with_examples(exercise, _plans_by_case(exercise, specs), every)
    students = [f"self-check-{i}" for i in range(8)]
    variants = [choose_variant(exercise.variant_space, exercise.id, s, salt).as_dict()
                for s in students]
    return _verified(exercise, plans, variants)


def _merge(specs: list[Any]) -> Any:
    """One spec for all, where they differ only in the range of random floats (then normal)."""
    first = specs[0]
    if all(spec == first for spec in specs):
        return first
    if all(isinstance(spec, dict) for spec in specs) and all(s.keys() == first.keys()
                                                             for s in specs):
        merged = {k: _merge([s[k] for s in specs]) for k in first}
        return None if any(v is None for v in merged.values()) and \
            any(first[k] is not None for k in first) else merged
    if all(isinstance(spec, list) and len(spec) == len(first) for spec in specs):
        if first and first[0] == "float" and all(s[0] == "float" and s[1] == first[1]
                                                 for s in specs):
            return ["float", first[1], None, None]
        merged = [_merge([s[i] for s in specs]) for i in range(len(first))]
        return None if any(m is None and f is not None for m, f in zip(merged, first,
                                                                       strict=True)) else merged
    return None


def _case_key(value: Any) -> str:
    """How a field's value is written as a key of the notebook's plan (`str` of the value)."""
    return str(value[1] if isinstance(value, tuple) and len(value) == 2 else value)


def _by_field(field: str) -> str:
    return "objective" if field == "head" else field


def _plans_by_case(exercise: Exercise, specs: Mapping[str, Any]) -> dict:
    """Plans from specs some of which are {"by": field, "cases": {value: spec}}."""
    plain_specs = {k: v for k, v in specs.items() if "by" not in v}
    plans = _plans(exercise, plain_specs, True)
    for name, spec in specs.items():
        if "by" not in spec:
            continue
        cases = {key: _plans(exercise, {**plain_specs, **_same_case(specs, spec["by"], key),
                                        name: case}, True)[name]
                 for key, case in spec["cases"].items()}
        plans[name] = {"by": spec["by"], "cases": cases}
    order = [stage.name for stage in exercise.stages]
    return dict(sorted(plans.items(), key=lambda item: order.index(item[0])
                       if item[0] in order else -1))


def _same_case(specs: Mapping[str, Any], by: str, key: str) -> dict:
    """The specs of the other stages split by the same field, for its value `key`: where a
    backward's finite differences find the arguments of a forward split alike."""
    return {name: spec["cases"][key] for name, spec in specs.items()
            if "by" in spec and spec["by"] == by and key in spec["cases"]}


def _exercise(exercise_id: str) -> Exercise:
    from exercises.registry import get_exercise

    return get_exercise(exercise_id)
