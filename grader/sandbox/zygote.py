"""The sandbox's zygote: runs untrusted student code, one forked child per job.

This file runs inside the sandbox, alone: it imports the standard library and
numpy only, never the grader, the reference or the exercises, which are not
even mounted there. It is started once per worker with numpy imported, then
reads jobs as JSON lines on stdin and answers one JSON line per job on stdout:

    → {"job": "/exchange/<id>", "uid": 60001, "limits": {...}, "private_pids": true}
    ← {"job": "/exchange/<id>", "nonce": …, "status": "ok" | "timeout" | "crashed",
       "seconds": 0.03, "exit": …, "stdout": "…"}

For each job it forks a child that takes on the limits (memory, CPU, file size,
processes), drops to an unprivileged uid when started as root, works in a fresh
scratch directory, runs the given code and the student's cells, calls the
planned functions and writes what they returned into the scratch directory as
`.npy` files (no pickle) and `outputs.jsonl`, one line per call as it ends.
The zygote then copies those files, size-capped, into the job's exchange
directory, kills every process the job left behind, and wipes the scratch
directory.

Job directory (written by the trusted parent, readable only by root):
    plan.json   {"given": source, "cells": [source, …], "calls": [call, …]}
    call:       {"stage": name, "probe": i, "repeat": bool, "kwargs": {name: encoded}}
    encoded:    {"array": "a3_7"} | {"dict": {key: encoded}} | {"list": [encoded, …]}
                | {"tuple": [encoded, …]} | {"value": number or str}
    arguments.npz   the arrays, by the names "array" gives
"""

import copy
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Mapping

import numpy as np

SCRATCH_ROOT = os.environ.get("BPTT_SCRATCH", "/tmp")
MAX_COPY_BYTES = 64 * 1024 * 1024
GRADER_CODE_FAILED = 121          # the child's exit status when the worker's own code failed


# -- in the child: running the student's code ----------------------------------------


def decode(value, arguments):
    """A probe argument from its JSON form and the job's arguments.npz."""
    if "array" in value:
        return arguments[value["array"]]
    if "dict" in value:
        return {key: decode(item, arguments) for key, item in value["dict"].items()}
    if "list" in value:
        return [decode(item, arguments) for item in value["list"]]
    if "tuple" in value:
        return tuple(decode(item, arguments) for item in value["tuple"])
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


def encode_output(value, folder, stem):
    """Save one returned value as plain data, judging its type by exact class only.

    Numbers keep their dtype (float32 stays float32), so that the parent can say
    when lost precision is what made an answer wrong.
    """
    cls = type(value)
    if value is None:
        return {"none": True}
    if cls is np.ndarray:
        if value.dtype.kind in "OVSUMm":
            return {"type": f"numpy array of dtype {value.dtype.name}"}
        np.save(os.path.join(folder, stem + ".npy"), value, allow_pickle=False)
        return {"array": stem + ".npy"}
    if cls in (list, tuple) or cls in NUMBERS:
        if cls in (list, tuple) and not _plain_numbers(value):
            return {"type": f"{cls.__name__} holding non-numbers"}
        try:
            array = np.array(value)
            if array.dtype.kind not in "fiu":
                array = np.array(value, dtype=np.float64)
        except (ValueError, TypeError):
            return {"type": f"ragged {cls.__name__}"}
        np.save(os.path.join(folder, stem + ".npy"), array, allow_pickle=False)
        return {"array": stem + ".npy"}
    if isinstance(value, np.ndarray):
        return {"type": "subclass of numpy.ndarray (" + cls.__qualname__ + ")"}
    return {"type": type.__dict__["__qualname__"].__get__(cls, type)}


# -- trusted callees: one mistake costs once --------------------------------------------


def _bind(parameters, args, kwargs):
    """The arguments of a call by parameter name, or None when they do not fit."""
    if len(args) > len(parameters) or set(kwargs) - set(parameters[len(args):]):
        return None
    bound = dict(zip(parameters[:len(args)], args, strict=True))
    bound.update(kwargs)
    return bound if len(bound) == len(parameters) else None


_ALLCLOSE, _ISCLOSE = np.allclose, np.isclose   # taken before any student code runs


def _same(a, b):
    """Equal up to rounding: what a right caller passes, however it computed it."""
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return (type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape
                and a.dtype.kind in "fiu" and b.dtype.kind in "fiu"
                and bool(_ALLCLOSE(a, b, rtol=1e-9, atol=1e-12)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(_ISCLOSE(a, b, rtol=1e-9, atol=1e-12))
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
    def callee(*args, **kwargs):
        bound = _bind(parameters, args, kwargs)
        for arguments, answer in table if bound is not None else ():
            if _same(bound, arguments):
                answer = copy.deepcopy(answer)
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


def encode_result(value, folder, stem):
    """A function's return value: a sequence or a mapping of values, or one value.

    Any tuple or list (a namedtuple too) and any Mapping with string keys (an
    OrderedDict, a defaultdict) count, as they do on every route. The parent
    pairs the items with the stage's output names, so a wrong number of return
    values is judged there, not here.
    """
    if isinstance(value, (tuple, list)) and len(value) <= MAX_ITEMS:
        return {"tuple": [encode_output(item, folder, f"{stem}_{i}")
                          for i, item in enumerate(value)]}
    if isinstance(value, Mapping):
        items = list(value.items())
        if len(items) <= MAX_ITEMS and all(type(key) is str for key, _ in items):
            return {"dict": {key: encode_output(item, folder, f"{stem}_{i}")
                             for i, (key, item) in enumerate(items)}}
    return encode_output(value, folder, stem)


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


def run_calls(plan, job, out):
    # The log is opened, and room for it reserved, before any student code runs: a
    # submission that fills the scratch disk still gets its cell errors and its calls
    # reported (its .npy answers then fail to save, and each call says so), where the
    # job used to crash with nothing written.
    log = open(os.path.join(out, "outputs.jsonl"), "w")
    try:
        os.posix_fallocate(log.fileno(), 0, LOG_RESERVE)
    except OSError:
        pass
    try:
        write_records(plan, job, out, log)
    finally:
        if os.getpid() == JOB_PID:
            log.truncate()      # drop the unused reserve (a killed job leaves NULs: skipped)
        log.close()


def write_records(plan, job, out, log):
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    arguments = np.load(os.path.join(job, "arguments.npz"), allow_pickle=False)
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
    for index, call in enumerate(plan["calls"]):
        record = {"stage": call["stage"], "probe": call["probe"]}
        function = namespace.get(call["stage"])
        if not callable(function):
            record["missing"] = True
            log.write(json.dumps(record) + "\n")
            log.flush()
            continue
        given = {name: decode(value, arguments) for name, value in call["kwargs"].items()}
        callees = {name: {"inputs": spec["inputs"], "outputs": spec["outputs"],
                          "calls": [(decode(c["kwargs"], arguments), decode(c["answer"], arguments))
                                    for c in spec["calls"]]}
                   for name, spec in call.get("callees", {}).items()}
        try:
            kwargs = copy.deepcopy(given)
            with trusted_callees(namespace, callees):
                value = function(**kwargs)
            only_the_job_itself()
            record["result"] = encode_result(value, out, f"c{index}")
            if call["repeat"]:
                with trusted_callees(namespace, callees):
                    again = function(**copy.deepcopy(given))
                only_the_job_itself()
                record["repeat_result"] = encode_result(again, out, f"r{index}")
            record["mutated"] = [name for name in given if changed(given[name], kwargs[name])]
        except NotImplementedError:
            record["error"] = f"NotImplementedError: {call['stage']} is not implemented yet"
        except BaseException as error:  # noqa: BLE001
            record["error"] = describe(error)
        only_the_job_itself()
        log.write(json.dumps(record) + "\n")
        log.flush()


JOB_PID = None


def child(inbox, scratch, uid, limits):
    """In the forked child: limits, unprivileged uid, then the student's code."""
    global JOB_PID
    JOB_PID = os.getpid()
    os.setsid()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an oversized write fails, not the job
    null = os.open(os.devnull, os.O_RDONLY)          # no way back to the zygote's requests
    os.dup2(null, 0)
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    cpu = int(limits["cpu_seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
    if os.getuid() == 0 and uid is not None:  # counted per uid: only the job's own uid
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    log = os.open(os.path.join(scratch, "stdout.txt"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # Line by line, so that what was printed survives os._exit and the time limit's SIGKILL.
    sys.stdout.reconfigure(line_buffering=True)
    if os.getuid() == 0 and uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(scratch)
    with open(os.path.join(inbox, "plan.json")) as handle:
        plan = json.load(handle)
    run_calls(plan, inbox, scratch)


def run_job(job, uid, limits, private_pids):
    scratch = os.path.join(SCRATCH_ROOT, "job")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch, mode=0o700)
    # The child gets its own copies of the plan and arguments: the exchange
    # folder is not its business.
    inbox = os.path.join(scratch, "in")
    os.makedirs(inbox)
    for name in ("plan.json", "arguments.npz"):
        shutil.copyfile(os.path.join(job, name), os.path.join(inbox, name))
    if os.getuid() == 0 and uid is not None:
        for folder in (scratch, inbox):
            os.chown(folder, uid, uid)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child(inbox, scratch, uid, limits)
        except BaseException:  # noqa: BLE001
            # The worker's own code failed in the child, outside the student's calls:
            # most likely the submission changed builtins, numpy or this module. The
            # traceback goes to the job's printed output, for the instructor.
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
    status = wait_for(pid, limits["wall_seconds"])
    seconds = time.monotonic() - started
    kill_leftovers(pid, uid if os.getuid() == 0 else None, private_pids)
    reply = {"status": status[0], "exit": status[1], "seconds": round(seconds, 4),
             "stdout": read_capped(os.path.join(scratch, "stdout.txt"),
                                   limits["output_kb"] * 1024)}
    copy_outputs(scratch, job)
    shutil.rmtree(scratch, ignore_errors=True)
    return reply


def wait_for(pid, seconds):
    """("ok" | "timeout" | "crashed", detail) once the child exits or the time is up."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], seconds)
    finally:
        os.close(fd)
    if not ready:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
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


def kill_leftovers(pid, uid, private_pids):
    """SIGKILL every process the job left behind.

    Its process group always; then every descendant of this zygote, which is
    a child subreaper (see `main`), so that a daemon that forked twice out of
    the job's group and session is still found here, even in the process
    fallback without root; in a private pid namespace, every process but the
    namespace's init and this zygote; as root, every process of the job's uid.
    Orphans that become this zygote's children are reaped as they die.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    me = os.getpid()
    for _ in range(100):
        reap_orphans()
        table = process_table()
        targets = descendants(me, table)
        if private_pids:
            targets |= set(table) - {me, 1}
        elif uid is not None:
            targets |= {p for p, (_, _, owner) in table.items() if owner == uid}
        targets = {p for p in targets if table.get(p, (0, "Z", 0))[1] != "Z"}
        if not targets:
            return
        for target in targets:
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                continue
        time.sleep(0.002)


def process_table():
    """{pid: (parent pid, state letter, uid)} of every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), fields[0], os.stat(f"/proc/{entry}").st_uid)
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(root, table):
    children = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def reap_orphans():
    """Collect the exit status of every dead child (orphans adopted as the subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_subreaper():
    """Adopt the jobs' orphans instead of letting them go to init (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def read_capped(path, limit):
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n[output cut]" if len(data) > limit else "")


def copy_outputs(scratch, job):
    """Copy outputs.jsonl and the .npy files, regular files only, size-capped."""
    total = 0
    for name in os.listdir(scratch):
        if name != "outputs.jsonl" and not name.endswith(".npy"):
            continue
        source = os.path.join(scratch, name)
        if os.path.islink(source) or not os.path.isfile(source):
            continue
        total += os.path.getsize(source)
        if total > MAX_COPY_BYTES:
            return
        shutil.copyfile(source, os.path.join(job, "out_" + name))


def main():
    become_subreaper()
    print(json.dumps({"ready": True, "root": os.getuid() == 0}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = run_job(request["job"], request["uid"], request["limits"],
                            request.get("private_pids", False))
        except Exception as error:  # the worker itself failed: report, keep serving
            reply = {"status": "worker-error", "detail": repr(error)}
        reply["job"] = request["job"]
        reply["nonce"] = request.get("nonce")
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
