"""The import graph: dependencies point one way, and the sandbox's zygote stands alone.

    reference ← exercises ← grader
    grader:  reports ← checking ← sandbox ← authoring ← grading ← cli

("←" reads "is imported by".) Every import statement counts, at module level or
inside a function, so a lazy import cannot hide an arrow that runs backwards.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("reference", "exercises", "grader")
LAYERS = ("reports", "checking", "sandbox", "authoring", "grading", "cli")
SANDBOXED = tuple(Path("grader/sandbox", name) for name in
                  ("__init__.py", "zygote.py", "isolation.py", "seccomp.py"))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from grader import checking` names a package through its members
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _rank(module: str) -> tuple[int, int] | None:
    """(top-level rank, layer rank inside grader) of a project module, None outside it."""
    parts = module.split(".")
    if parts[0] not in PROJECT:
        return None
    top = PROJECT.index(parts[0])
    if parts[0] == "grader" and len(parts) > 1 and parts[1] in LAYERS:
        return top, LAYERS.index(parts[1])
    return top, -1 if parts[0] == "grader" and len(parts) == 1 else len(LAYERS)


def backward_imports(root: Path) -> list[str]:
    """Every import in `root`'s project packages that points against the arrows."""
    problems: dict[tuple[Path, int], str] = {}    # one report per import statement
    for package in PROJECT:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            importer = ".".join(relative.with_suffix("").parts)
            if relative in SANDBOXED:
                continue  # checked on their own: they may import nothing of the project
            mine = _rank(importer)
            for line, module in imported_modules(path):
                theirs = _rank(module)
                if theirs is None or theirs[0] < mine[0]:
                    continue
                if theirs[0] > mine[0]:
                    problems.setdefault((relative, line), f"{relative}:{line} imports {module}: "
                                        f"{PROJECT[mine[0]]} may not import {PROJECT[theirs[0]]}")
                elif package == "grader" and theirs[1] > mine[1] and theirs[1] != -1:
                    problems.setdefault((relative, line), f"{relative}:{line} imports {module}: "
                                        f"grader.{LAYERS[mine[1]]} may not import "
                                        f"grader.{LAYERS[theirs[1]]}")
    return list(problems.values())


def test_dependencies_point_one_way():
    assert backward_imports(ROOT) == []


@pytest.mark.parametrize(("importer", "planted"), [
    ("grader/checking/verdicts.py", "from grader.sandbox.protocol import Call"),
    ("grader/checking/checks.py", "    from grader.grading.in_process import run_in_process"),
    ("grader/reports/results.py", "import grader.checking.verdicts"),
    ("grader/sandbox/worker.py", "from grader import grading"),
    ("exercises/spec.py", "from grader.authoring.course import CourseConfig"),
    ("reference/network.py", "import exercises.registry"),
])
def test_a_planted_backward_import_is_reported(tmp_path, importer, planted):
    for package in PROJECT:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / importer
    source = target.read_text()
    if planted.startswith(" "):     # inside a function, where a lazy import would hide
        planted = f"def _planted():\n{planted}\n"
    target.write_text(source + "\n" + planted + "\n")
    problems = backward_imports(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(importer), problems


def test_every_grader_module_belongs_to_a_stage_of_the_pipeline():
    loose = [p.name for p in (ROOT / "grader").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert sorted(p.name for p in (ROOT / "grader").iterdir()
                  if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)
    for layer in LAYERS:
        init = ROOT / "grader" / layer / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} says what it does"


def relative_imports(path: Path) -> set[str]:
    """The sibling modules a file imports with `from . import name` or `from .name import`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1:
                found.add("<outside the package>")
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


@pytest.mark.parametrize("module", SANDBOXED, ids=[p.name for p in SANDBOXED])
def test_what_runs_in_the_sandbox_imports_only_the_standard_library_and_numpy(module):
    """They run inside the sandbox, where nothing of the project is mounted: the standard
    library, numpy and each other only (the worker copies exactly these there)."""
    from grader.sandbox.worker import SANDBOXED as COPIED

    assert sorted(COPIED) == sorted(p.name for p in SANDBOXED)
    modules = {name.split(".")[0] for _, name in imported_modules(ROOT / module)}
    foreign = {m for m in modules if m != "numpy" and m not in sys.stdlib_module_names}
    assert foreign == set()
    siblings = {p.stem for p in SANDBOXED}
    assert relative_imports(ROOT / module) <= siblings
