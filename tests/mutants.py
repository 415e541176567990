"""A mutation check of the grading rules: plant one small bug at a time, see the suite fail.

    python tests/mutants.py [--jobs 2] [--only N ...]

Each mutant changes one site of `grader/checking/` (the code that decides a
grade). For each, a copy of the project gets that one change and runs the
tests that pin the rules; a mutant is *caught* when they fail. The list is
fixed, so figures compare across commits. Prints one line per mutant and the
total; exits 1 when any survives.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS, VERDICTS = "grader/checking/checks.py", "grader/checking/verdicts.py"
TESTS = ["tests/test_checks.py", "tests/test_grading_rules.py", "tests/test_verdicts.py",
         "tests/test_diagnosis.py", "tests/test_catalogue.py"]

# (what the bug is, file, the text it replaces, the replacement)
MUTANTS = [
    ("atol dropped", CHECKS,
     "<= atol + rtol * np.abs(expected)", "<= rtol * np.abs(expected)"),
    ("rtol 10× looser", CHECKS,
     "<= atol + rtol * np.abs(expected)", "<= atol + 10 * rtol * np.abs(expected)"),
    ("rtol 10× tighter", CHECKS,
     "<= atol + rtol * np.abs(expected)", "<= atol + 0.1 * rtol * np.abs(expected)"),
    ("rtol relative to the student's value", CHECKS,
     "<= atol + rtol * np.abs(expected)", "<= atol + rtol * np.abs(got)"),
    ("inf = inf treated as wrong", CHECKS,
     "(np.isnan(expected) & np.isnan(got)) | (got == expected)",
     "(np.isnan(expected) & np.isnan(got))"),
    ("NaN = NaN treated as wrong", CHECKS,
     "(np.isnan(expected) & np.isnan(got)) | (got == expected)", "(got == expected)"),
    ("a non-finite answer accepted anywhere", CHECKS,
     "(close & np.isfinite(got) & np.isfinite(expected))", "(close | ~np.isfinite(got))"),
    ("bool arrays accepted", CHECKS, '_NUMBER_KINDS = "fiu"', '_NUMBER_KINDS = "fiub"'),
    ("integer arrays refused", CHECKS, '_NUMBER_KINDS = "fiu"', '_NUMBER_KINDS = "f"'),
    ("ndarray subclasses trusted", CHECKS,
     "    if cls is np.ndarray:\n        kind = value.dtype.kind",
     "    if isinstance(value, np.ndarray):\n        kind = value.dtype.kind"),
    ("a step right when any entry is", CHECKS, "-1).all(axis=1)", "-1).any(axis=1)"),
    ("no transpose hint", CHECKS,
     "got_shape == expected_shape[::-1]", "got_shape == expected_shape"),
    ("float16 not named", CHECKS, 'for name in ("float16", "float32")', 'for name in ("float32",)'),
    ("anything accepted where None is expected", VERDICTS,
     "if got is not None and answer is not None:", "if False:"),
    ("None accepted where an array is expected", VERDICTS,
     "        elif got is None:\n            verdicts.append(_OutputVerdict(name, False, \"\"))\n",
     "        elif got is None or answer is None:\n            continue\n"),
    ("an output right when any entry is", VERDICTS,
     "    if right.all():\n        return _OutputVerdict(name, True",
     "    if right.any():\n        return _OutputVerdict(name, True"),
    ("an empty answer to an empty expectation scored wrong", VERDICTS,
     "    if right.all():\n        return _OutputVerdict(name, True",
     "    if right.size and right.all():\n        return _OutputVerdict(name, True"),
    ("a probe's credit the worst output", VERDICTS,
     "return float(np.mean([v.right for v in verdicts]))",
     "return float(np.min([v.right for v in verdicts]))"),
    ("the higher of two disagreeing calls", VERDICTS,
     "score = min(score, _probe_score(again))", "score = max(score, _probe_score(again))"),
    ("a disagreeing second call not noticed", VERDICTS,
     "if not _same_outputs(outcome.repeat_outputs", "if False and not _same_outputs("
     "outcome.repeat_outputs"),
    ("the minimum over probes", VERDICTS,
     "verdict.score = float(np.mean(verdict.probe_scores))",
     "verdict.score = float(np.min(verdict.probe_scores))"),
    ("a raising probe earns credit", VERDICTS,
     "            verdict.probe_scores.append(0.0)\n",
     "            verdict.probe_scores.append(1.0)\n"),
    ("in-place changes not penalised", VERDICTS, "score *= 0.5", "score *= 1.0"),
    ("status error despite partial credit", VERDICTS,
     'else "error" if verdict.errored and verdict.score == 0.0 else "failed"',
     'else "error" if verdict.errored else "failed"'),
    ("callees always blamed", VERDICTS,
     "if dep in verdicts and verdicts[dep].score < 1.0]", "if dep in verdicts]"),
    ("a misconception named when one probe matches", VERDICTS,
     "            if not _same_outputs(outcome.outputs, theirs):\n                break",
     "            if not _same_outputs(outcome.outputs, theirs):\n                continue"),
    ("BPTT's first wrong step counted from t=0", VERDICTS,
     "f\"t={int(wrong[-1])}, {T - wrong.size}", "f\"t={int(wrong[0])}, {T - wrong.size}"),
    ("a missing function earns credit", VERDICTS,
     "CheckResult(name, stage.points, 0.0, \"error\"",
     "CheckResult(name, stage.points, 1.0, \"error\""),
]


def run(index: int, scratch: Path) -> tuple[int, bool, str]:
    label, relative, old, new = MUTANTS[index]
    copy = scratch / f"m{index}"
    for part in ("reference", "exercises", "grader", "templates", "tests"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns(
            "__pycache__", ".hypothesis"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    target = copy / relative
    source = target.read_text()
    if source.count(old) != 1:
        return index, False, f"site not found once in {relative}"
    target.write_text(source.replace(old, new))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=copy, capture_output=True, text=True, env={"PYTHONPATH": str(copy),
                                                       "PATH": "/usr/bin:/bin"})
    shutil.rmtree(copy, ignore_errors=True)
    return index, done.returncode != 0, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", type=int, nargs="*")
    args = parser.parse_args()
    chosen = args.only if args.only else range(len(MUTANTS))
    caught = 0
    with tempfile.TemporaryDirectory(prefix="bptt-mutants-") as scratch, \
            ThreadPoolExecutor(args.jobs) as pool:
        for index, killed, label in pool.map(lambda i: run(i, Path(scratch)), chosen):
            caught += killed
            print(f"{'caught  ' if killed else 'SURVIVED'} {index:2d} {label}", flush=True)
    total = len(list(chosen))
    print(f"{caught} of {total} mutants caught ({100 * caught / total:.0f}%)")
    sys.exit(0 if caught == total else 1)


if __name__ == "__main__":
    main()
