"""The sandbox's zygote: runs untrusted student code, one walled-in child per job.

This module runs inside the sandbox with `isolation` and `seccomp` only: the
standard library and numpy, never the grader, the reference or the exercises,
which are not even mounted there. It is started once per worker with numpy
imported, then reads requests as JSON lines on stdin (from the parent only, each
validated: see `validated`) and answers one JSON line per job on stdout; the
protocol is written in full in `grader/sandbox/__init__.py`.

For each job it forks a child that walls itself in (`job_main`: its own pid,
mount, IPC and UTS namespaces and tmpfs inside bubblewrap; limits; no
capabilities; no new privileges; the seccomp filter; an empty environment),
runs the given code and the student's cells, calls the planned functions and
writes what they returned: the arrays' bytes one after another in `answers.bin`
(no pickle, no per-array file) and `outputs.jsonl`, one line per call as it ends.
The zygote then makes sure nothing of the job is left (`end_leftovers`), copies
those files, read as untrusted, into the job's exchange folder, and lets the
job's scratch vanish.

`grader.grading.in_process`, which calls a student's functions where the student's code
already runs (a notebook's hidden-test cell under nbgrader), imports two pieces of the
first half: `trusted_callees` and `changed`.
"""

import copy
import gc
import json
import math
import os
import re
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Mapping

import numpy as np

from . import isolation, seccomp

MAX_COPY_BYTES = 64 * 1024 * 1024
GRADER_CODE_FAILED = 121          # the child's exit status when the worker's own code failed


# -- in the child: running the student's code ----------------------------------------


def decode(value, arrays):
    """A probe argument from its JSON form: an int i is the job's i-th array (`read_job`).

    The arrays are read-only views of job.in's bytes: the callee tables are only read,
    and what a student's function is given or answered is a `snapshot` of them."""
    if type(value) is int:
        return arrays[value]
    if "dict" in value:
        return {key: decode(item, arrays) for key, item in value["dict"].items()}
    if "list" in value:
        return [decode(item, arrays) for item in value["list"]]
    if "tuple" in value:
        return tuple(decode(item, arrays) for item in value["tuple"])
    return value["value"]


NUMBERS = (float, int, np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
           np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


def _plain_numbers(value):
    """Whether value is a number or a (nested) list/tuple of exact numbers or numeric arrays."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) in (list, tuple):
            stack.extend(item)
        elif type(item) is np.ndarray:
            continue
        elif type(item) not in NUMBERS:
            return False
    return True


MAX_ANSWER_BYTES = 16 * 1024 * 1024      # an array the parent reads at most (MAX_RESULT_BYTES)


class Answers:
    """The job's returned arrays, their C-order bytes one after another in answers.bin.

    A record names an array as {"array": [dtype, shape, byte offset]}: one file for a
    job's hundred-odd answers, where a `.npy` each cost the job, the zygote and the
    parent a file and a header apiece. The bytes go where this object says (pwrite at
    its own offset), so that whatever the student's code writes into the file costs
    only answers it overwrote; a write that fails (the file-size limit, a full disk)
    is taken back, so that one huge answer does not cost the calls after it.
    """

    def __init__(self, folder):
        self.fd = os.open(os.path.join(folder, "answers.bin"),
                          os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self.size = 0

    def add(self, array):
        if array.nbytes > MAX_ANSWER_BYTES:          # refused before any copy is made
            return {"type": f"numpy array of {array.nbytes / 2 ** 20:.0f} MB (the grader "
                            f"reads at most {MAX_ANSWER_BYTES // 2 ** 20} MB)"}
        data = memoryview(array.tobytes())
        offset, done = self.size, 0
        try:
            while done < len(data):
                done += os.pwrite(self.fd, data[done:], offset + done)
        except OSError:
            os.ftruncate(self.fd, offset)
            raise
        self.size += len(data)
        return {"array": [array.dtype.str, list(array.shape), offset]}

    def close(self):
        os.close(self.fd)


def encode_output(value, answers):
    """One returned value as plain data, judging its type by exact class only.

    Numbers keep their dtype (float32 stays float32), so that the parent can say
    when lost precision is what made an answer wrong.
    """
    cls = type(value)
    if value is None:
        return {"none": True}
    if cls is np.ndarray:
        if value.dtype.kind in "OVSUMm":
            return {"type": f"numpy array of dtype {value.dtype.name}"}
        return answers.add(value)
    if cls in (list, tuple) or cls in NUMBERS:
        if cls in (list, tuple) and not _plain_numbers(value):
            return {"type": f"{cls.__name__} holding non-numbers"}
        try:
            array = np.array(value)
            if array.dtype.kind not in "fiu":
                array = np.array(value, dtype=np.float64)
        except (ValueError, TypeError):
            return {"type": f"ragged {cls.__name__}"}
        return answers.add(array)
    if isinstance(value, np.ndarray):
        return {"type": "subclass of numpy.ndarray (" + cls.__qualname__ + ")"}
    return {"type": type.__dict__["__qualname__"].__get__(cls, type)}


def snapshot(value):
    """A deep copy of a value made of arrays, numbers, strings and dicts, lists and tuples
    of them, as `copy.deepcopy` makes it (anything else goes to deepcopy), at a fraction
    of its cost: every call's arguments, and every trusted answer, are copied afresh."""
    kind = type(value)
    if kind is np.ndarray:
        return value.copy()
    if kind is dict:
        return {key: snapshot(item) for key, item in value.items()}
    if kind is list:
        return [snapshot(item) for item in value]
    if kind is tuple:
        return tuple(snapshot(item) for item in value)
    if kind in (float, int, bool, str, type(None)) or isinstance(value, np.generic):
        return value
    return copy.deepcopy(value)


# -- trusted callees: one mistake costs once --------------------------------------------


def bind(parameters, args, kwargs):
    """The arguments of a call by parameter name, or None when they do not fit."""
    if len(args) > len(parameters) or set(kwargs) - set(parameters[len(args):]):
        return None
    bound = dict(zip(parameters[:len(args)], args, strict=True))
    bound.update(kwargs)
    return bound if len(bound) == len(parameters) else None


# numpy's own ufuncs, taken before any student code runs (a patched np.abs stays theirs)
_ABS, _SUBTRACT, _LESS_EQUAL, _ERRSTATE = np.abs, np.subtract, np.less_equal, np.errstate


def _close(a, b):
    """|a − b| ≤ 1e-12 + 1e-9·|b| everywhere (numpy's isclose, without its overhead).
    Called under `_ERRSTATE(all="ignore")`, entered once per call being matched."""
    return bool(_LESS_EQUAL(_ABS(_SUBTRACT(a, b)), 1e-12 + 1e-9 * _ABS(b)).all())


def _same(a, b):
    """Equal up to rounding: what a right caller passes, however it computed it. Arrays
    of the same bytes are equal at once: a right caller mostly passes the very weights,
    slices and trusted answers it was given."""
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return (type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape
                and a.dtype.kind in "fiu" and b.dtype.kind in "fiu"
                and ((a.dtype == b.dtype and a.tobytes() == b.tobytes()) or _close(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return _close(float(a), float(b))
    return type(a) is type(b) and a == b


class Results(tuple):
    """A callee's trusted results: a tuple in the stage's output order that can also be
    read by output name (`results["dW"]`, `.keys()`, `.items()`), as a caller expecting
    the student's own dict-returning function would."""

    def __new__(cls, values, names):
        results = super().__new__(cls, values)
        results.names = tuple(names)
        return results

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self.names.index(key))
            except ValueError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self.names else default

    def keys(self):
        return list(self.names)

    def values(self):
        return list(self)

    def items(self):
        return list(zip(self.names, self, strict=True))


def answering(table, own, parameters, outputs):
    """A callee as a stage calls it while it is graded: for a call that the reference's
    implementation of the stage makes (`table`, [(arguments by name, answer)]), the
    trusted answer; for any other call, the student's own function.

    So a right stage is not marked down for a wrong callee, which costs its own stage
    only. The student's function is not run for a trusted call: a callee that loops or
    crashes costs its own stage, not every stage that calls it.
    """
    position = [0]       # a right caller asks in the table's order: look there first

    def callee(*args, **kwargs):
        bound = bind(parameters, args, kwargs)
        first = position[0] % max(len(table), 1)
        found = None
        if bound is not None:
            with _ERRSTATE(all="ignore"):
                found = next((index for index in (*range(first, len(table)), *range(first))
                              if _same(bound, table[index][0])), None)
        if found is not None:
            position[0] = found + 1
            answer = snapshot(table[found][1])
            return (Results(answer, outputs) if isinstance(answer, tuple)
                    and len(answer) == len(outputs) > 1 else answer)
        if not callable(own):
            raise NameError("a function this one calls is not defined")
        return own(*args, **kwargs)
    return callee


class trusted_callees:
    """Within `with`: the stage's callees answer as `answering` says, then are restored."""

    def __init__(self, namespace, callees):
        self.namespace, self.callees, self.saved = namespace, callees, {}

    def __enter__(self):
        for name, spec in self.callees.items():
            self.saved[name] = self.namespace.get(name)
            self.namespace[name] = answering(spec["calls"], self.saved[name], spec["inputs"],
                                             spec["outputs"])

    def __exit__(self, *exc):
        for name, own in self.saved.items():
            if own is None:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = own


SOURCES = {}   # "<cell 3>" → its lines, for quoting the line an error came from


def describe(error):
    text = f"{type(error).__name__}: {error}"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in SOURCES]
    if frames:
        frame = frames[-1]
        lines = SOURCES[frame.filename]
        line = lines[frame.lineno - 1].strip() if 0 < frame.lineno <= len(lines) else "…"
        text += f" (at line {frame.lineno} of {frame.filename[1:-1]}: {line})"
    return text[:2000]


def run_source(source, filename, namespace):
    SOURCES[filename] = source.splitlines()
    exec(compile(source, filename, "exec"), namespace)


MAX_ITEMS = 64


def encode_result(value, answers):
    """A function's return value: a sequence or a mapping of values, or one value.

    Any tuple or list (a namedtuple too) and any Mapping with string keys (an
    OrderedDict, a defaultdict) count, as they do on every route. The parent
    pairs the items with the stage's output names, so a wrong number of return
    values is judged there, not here.
    """
    if isinstance(value, (tuple, list)) and len(value) <= MAX_ITEMS:
        return {"tuple": [encode_output(item, answers) for item in value]}
    if isinstance(value, Mapping):
        items = list(value.items())
        if len(items) <= MAX_ITEMS and all(type(key) is str for key, _ in items):
            return {"dict": {key: encode_output(item, answers) for key, item in items}}
    return encode_output(value, answers)


def changed(before, after):
    if type(before) is np.ndarray:
        return not (type(after) is np.ndarray and before.shape == after.shape
                    and np.array_equal(before, after, equal_nan=True))
    if type(before) is dict:
        return (type(after) is not dict or before.keys() != after.keys()
                or any(changed(before[k], after[k]) for k in before))
    if type(before) in (list, tuple):
        return (type(after) is not type(before) or len(before) != len(after)
                or any(changed(b, a) for b, a in zip(before, after, strict=True)))
    return type(before) is not type(after) or before != after


def only_the_job_itself():
    """End any process the student's code forked that has come back into this loop.

    A fork inside a cell or a function returns twice; the copy would run the
    remaining calls too and write its own outputs over the job's, which makes
    a grade depend on how the processes happened to be scheduled.
    """
    if os.getpid() != JOB_PID:
        os._exit(0)


LOG_RESERVE = 1024 * 1024


def run_calls(plan, arrays, out):
    # The log and the answers' file are opened, and room for the log reserved, before
    # any student code runs: a submission that fills the scratch disk still gets its
    # cell errors and its calls reported (its answers then fail to save, and each call
    # says so), where the job used to crash with nothing written.
    log = open(os.path.join(out, "outputs.jsonl"), "w")
    answers = Answers(out)
    try:
        os.posix_fallocate(log.fileno(), 0, LOG_RESERVE)
    except OSError:
        pass
    try:
        write_records(plan, arrays, answers, log)
    finally:
        if os.getpid() == JOB_PID:
            log.truncate()      # drop the unused reserve (a killed job leaves NULs: skipped)
        log.close()
        answers.close()


def read_job(path):
    """(plan, [the job's arrays]) of a job.in written by `protocol.write_job`: a first line
    of JSON, then each dtype's buffer at the byte offset the plan gives; array i is a
    read-only view of its buffer, plan["arrays"][i] = [buffer, element offset, shape]."""
    with open(path, "rb") as handle:
        header, _, body = handle.read().partition(b"\n")
    plan = json.loads(header)
    buffers = {name: np.frombuffer(body, np.dtype(name), count, offset)
               for name, offset, count in plan.pop("buffers")}
    arrays = [buffers[name][offset:offset + math.prod(shape)].reshape(shape)
              for name, offset, shape in plan.pop("arrays")]
    return plan, arrays


def write_records(plan, arrays, answers, log):
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    run_source(plan["given"], "<given cell>", namespace)
    cell_errors = []
    for number, source in enumerate(plan["cells"], start=1):
        try:
            run_source(source, f"<cell {number}>", namespace)
        except BaseException as error:  # noqa: BLE001 — SystemExit, KeyboardInterrupt too
            cell_errors.append(f"cell {number}: {describe(error)}")
    only_the_job_itself()
    log.write(json.dumps({"cell_errors": cell_errors}) + "\n")
    log.flush()
    for call in plan["calls"]:
        record = {"stage": call["stage"], "probe": call["probe"]}
        function = namespace.get(call["stage"])
        if not callable(function):
            record["missing"] = True
            log.write(json.dumps(record) + "\n")
            log.flush()
            continue
        given = {name: decode(value, arrays) for name, value in call["kwargs"].items()}
        callees = {name: {"inputs": spec["inputs"], "outputs": spec["outputs"],
                          "calls": [(decode(arguments, arrays), decode(answer, arrays))
                                    for arguments, answer in spec["calls"]]}
                   for name, spec in call.get("callees", {}).items()}
        try:
            kwargs = snapshot(given)
            with trusted_callees(namespace, callees):
                value = function(**kwargs)
            only_the_job_itself()
            record["result"] = encode_result(value, answers)
            if call["repeat"]:
                with trusted_callees(namespace, callees):
                    again = function(**snapshot(given))
                only_the_job_itself()
                record["repeat_result"] = encode_result(again, answers)
            record["mutated"] = [name for name in given if changed(given[name], kwargs[name])]
        except NotImplementedError:
            record["error"] = f"NotImplementedError: {call['stage']} is not implemented yet"
        except BaseException as error:  # noqa: BLE001
            record["error"] = describe(error)
        only_the_job_itself()
        log.write(json.dumps(record) + "\n")
        log.flush()


JOB_PID = None


# -- the zygote: one job at a time, each walled in -------------------------------------

NAMESPACES = os.environ.get("BPTT_MODE") == "namespaces"    # inside bubblewrap
EXCHANGE = os.environ.get("BPTT_EXCHANGE", "/exchange")
SCRATCH = os.environ.get("BPTT_SCRATCH", "/tmp")
UID = os.environ.get("BPTT_UID", "")                       # the worker's host uid
DEDICATED = os.environ.get("BPTT_DEDICATED_UID") == "1"    # no other process has it
OUTPUT_CAPS = {"outputs.jsonl": MAX_ANSWER_BYTES,   # the files copied out of a job: the log
               "answers.bin": MAX_COPY_BYTES}      # as much as the parent reads of it
JOB_NAME = re.compile(r"^[0-9a-f]{16}$")
NONCE = re.compile(r"^[0-9a-f]{32}$")
LIMIT_RANGES = {"wall_seconds": (0.1, 3600), "cpu_seconds": (0.1, 3600),
                "memory_mb": (64, 65536), "file_mb": (1, 4096), "processes": (4, 4096),
                "output_kb": (1, 65536)}


def validated(request):
    """(job name, limits, nonce) of a request from the parent, or ValueError."""
    if not isinstance(request, dict) or set(request) != {"job", "uid", "limits", "nonce"}:
        raise ValueError("a request has exactly job, uid, limits and nonce")
    job, uid, limits, nonce = (request[k] for k in ("job", "uid", "limits", "nonce"))
    if type(uid) is not int or str(uid) != UID:
        raise ValueError(f"the request's uid {uid!r} is not this worker's")
    if not isinstance(job, str) or not JOB_NAME.match(job):
        raise ValueError("the job is not a folder name of the exchange")
    if not isinstance(nonce, str) or not NONCE.match(nonce):
        raise ValueError("malformed nonce")
    if not isinstance(limits, dict) or set(limits) != set(LIMIT_RANGES) or not all(
            type(limits[k]) in (int, float) and low <= limits[k] <= high
            for k, (low, high) in LIMIT_RANGES.items()):
        raise ValueError("limits out of range")
    return job, limits, nonce


def copy_in(job_fd, inbox_fd):
    """The parent's job.in, into the job's own scratch."""
    for name in ("job.in",):        # one file: the lean protocol (grader/sandbox/__init__.py)
        source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=job_fd)
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644,
                         dir_fd=inbox_fd)
        try:
            while chunk := os.read(source, 1 << 20):
                os.write(target, chunk)
        finally:
            os.close(source)
            os.close(target)


def job_main(scratch, tmpfs, limits, protect_pid):
    """The job's process (pid 1 of its own namespace, or the fallback's child): wall
    itself in, in this order, then run the student's code. Never returns."""
    global JOB_PID
    code = 0
    try:
        JOB_PID = os.getpid()
        if tmpfs is not None:
            isolation.enter_job_namespaces(tmpfs, "/tmp")
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        null = os.open("/dev/null", os.O_RDWR)
        log = os.open(os.path.join(scratch, "stdout.txt"),
                      os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        # Line by line, so that what was printed survives os._exit and the time limit.
        sys.stdout.reconfigure(line_buffering=True)
        os.setsid()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an oversized write fails, not the job
        isolation.set_limits(limits, processes=NAMESPACES or DEDICATED)
        isolation.drop_capabilities()
        seccomp.install(seccomp.program(protect_pid))
        os.chdir(scratch)
        os.environ.clear()
        os.environ.update(HOME=scratch, PATH="/usr/bin:/bin", LANG="C.UTF-8",
                          OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        run_calls(*read_job(os.path.join(scratch, "in", "job.in")), scratch)
    except BaseException:  # noqa: BLE001
        # The worker's own code failed in the child, outside the student's calls: most
        # likely the submission changed builtins, numpy or this module. The traceback
        # goes to the job's printed output, for the instructor.
        code = GRADER_CODE_FAILED
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)


def run_job(name, limits, own_pid_namespace):
    """One job: fork it walled in, wait, end everything it started, copy its outputs."""
    job_fd = os.open(os.path.join(EXCHANGE, name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    tmpfs = root_fd = None
    try:
        if NAMESPACES:
            size = max(limits["file_mb"] * 4, 64) * 1024 * 1024
            tmpfs = isolation.new_tmpfs(size, 16384)
            root_fd = os.open(f"/proc/self/fd/{tmpfs}", os.O_RDONLY | os.O_DIRECTORY)
            scratch = "/tmp/job"
        else:
            os.mkdir(os.path.join(SCRATCH, name), 0o700)
            root_fd = os.open(os.path.join(SCRATCH, name),
                              os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            scratch = os.path.join(SCRATCH, name, "job")
        os.mkdir("job", 0o700, dir_fd=root_fd)
        scratch_fd = os.open("job", os.O_RDONLY | os.O_DIRECTORY, dir_fd=root_fd)
        os.mkdir("in", 0o700, dir_fd=scratch_fd)
        inbox_fd = os.open("in", os.O_RDONLY | os.O_DIRECTORY, dir_fd=scratch_fd)
        copy_in(job_fd, inbox_fd)
        for fd in (scratch_fd, inbox_fd):
            os.close(fd)
        started = time.monotonic()
        pid = fork_job(scratch, tmpfs, limits, own_pid_namespace)
        status = wait_for(pid, limits["wall_seconds"])
        seconds = time.monotonic() - started
        end_leftovers(pid)
        stdout, outputs = collect(root_fd, job_fd, limits["output_kb"] * 1024)
    finally:
        for fd in (root_fd, tmpfs, job_fd):
            if fd is not None:
                os.close(fd)                 # the job's tmpfs vanishes with its last fd
        if not NAMESPACES and os.path.isdir(os.path.join(SCRATCH, name)):
            isolation.remove_tree(os.path.join(SCRATCH, name))
    return {"status": status[0], "exit": status[1], "seconds": round(seconds, 4),
            "stdout": stdout, "outputs": outputs}


def fork_job(scratch, tmpfs, limits, own_pid_namespace):
    if NAMESPACES:
        # The child is pid 1 of a new pid namespace: when it dies, the kernel kills
        # every process in it, threads and zombie leaders included.
        if isolation.libc.unshare(seccomp.CLONE_NEWPID) != 0:
            raise isolation._failed("unshare(CLONE_NEWPID)")
        pid = os.fork()
        if pid == 0:
            job_main(scratch, tmpfs, limits, None)
        isolation.syscall("setns", own_pid_namespace, seccomp.CLONE_NEWPID)
        return pid
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        job_main(scratch, None, limits, me)
    return pid


def wait_for(pid, seconds):
    """("ok" | "timeout" | "crashed", detail) once the child exits or the time is up."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], seconds)
    finally:
        os.close(fd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "timeout", None
    _, code = os.waitpid(pid, 0)
    if os.WIFSIGNALED(code):
        return "crashed", f"killed by signal {signal.Signals(os.WTERMSIG(code)).name}"
    if os.WEXITSTATUS(code) == GRADER_CODE_FAILED:
        return "crashed", ("the grader's code in the sandbox failed after the submission's "
                           "code ran: did it change builtins, numpy or the grader's modules?")
    return ("ok", 0) if os.WEXITSTATUS(code) == 0 else (
        "crashed", f"exit status {os.WEXITSTATUS(code)}")


def end_leftovers(pid):
    """Nothing of the job may outlive it.

    In its own pid namespace the kernel has done it: pid 1 is reaped only once every
    other process of the namespace is gone. In the fallback with a uid of its own,
    kill(-1) reaches every process of that uid (all of them descendants of this child
    subreaper) until none is left. Without a uid of its own (not root), every
    descendant of this zygote, zombie leaders with live threads included.
    """
    if NAMESPACES:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if DEDICATED:
            os.kill(-1, signal.SIGKILL)          # spares the caller
        else:
            table = process_table()
            for target in descendants(os.getpid(), table):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return                               # no child, no orphan, nothing left
        time.sleep(0.001)
    raise RuntimeError("the job's processes could not be ended")


def process_table():
    """{pid: parent pid} of every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    table[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return table


def descendants(root, table):
    children = {}
    for pid, parent in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def collect(root_fd, job_fd, output_cap):
    """(printed output, names copied): stdout.txt, and outputs.jsonl and answers.bin
    read only as `isolation.read_untrusted` allows, copied into the job's exchange
    folder as one file, out.bundle, at most MAX_COPY_BYTES in all: a first line
    [[name, length], …] in JSON, then the files' bytes one after another (one file to
    write here and to read in the parent). Of answers.bin over the cap, the first
    bytes are copied: the answers that fit stay readable."""
    try:
        scratch_fd = isolation.open_beneath(root_fd, "job", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return "", []
    index, parts, total = [], [], 0
    try:
        printed = isolation.read_untrusted(scratch_fd, "stdout.txt", output_cap)
        stdout = "" if printed is None else (printed[0].decode("utf-8", "replace")
                                             + ("\n[output cut]" if printed[1] else ""))
        for name, cap in OUTPUT_CAPS.items():
            got = isolation.read_untrusted(scratch_fd, name, min(cap, MAX_COPY_BYTES - total))
            if got is None or (got[1] and name == "outputs.jsonl"):
                continue                             # refused, or a log too big: not copied
            total += len(got[0])
            index.append([name, len(got[0])])
            parts.append(got[0])
    finally:
        os.close(scratch_fd)
    target = os.open("out.bundle", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600, dir_fd=job_fd)
    with os.fdopen(target, "wb") as handle:
        handle.write(json.dumps(index).encode() + b"\n")
        for part in parts:
            handle.write(part)
    return stdout, [name for name, _ in index]


def main():
    import numpy  # noqa: F401 — the point of a zygote: imported once, before any job
    gc.freeze()   # what is here now is never collected: a job's collections leave its pages shared
    isolation.set_not_dumpable()
    own_pid_namespace = None
    if NAMESPACES:
        own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    else:
        isolation.become_subreaper()
    print(json.dumps({"ready": True, "namespaces": NAMESPACES}), flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            name, limits, nonce = validated(request)
        except (ValueError, RecursionError) as error:
            # Not from the parent as the parent writes them: refused, and said so.
            print(json.dumps({"status": "refused", "detail": str(error)[:200]}), flush=True)
            continue
        try:
            reply = run_job(name, limits, own_pid_namespace)
        except Exception as error:  # noqa: BLE001 — the parent restarts this zygote
            reply = {"status": "worker-error", "detail": repr(error)[:500]}
        reply["job"], reply["nonce"] = name, nonce
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
