"""What each isolation step of a sandbox job costs, against the old plain fork, side by side.

    python bench/isolation.py [--jobs 150] [--runs 5]

Inside one bubblewrap zygote (numpy imported), paired runs of empty jobs, each step added
to the one before, timed from fork to reaped (zygote side, no pipe round trip):

    plain fork          fork, setsid, rlimits, run, waitpid (the zygote before issue 9)
    + pid namespace     unshare(CLONE_NEWPID) before the fork: the job is pid 1
    + tmpfs             a fresh size- and inode-capped tmpfs per job (fsopen/fsmount)
    + mount ns          the job's own mount/IPC/UTS namespaces, / read-only, /exchange
                        detached, its own /proc, tmpfs moved onto /tmp, fresh /dev/shm
    + caps, seccomp     fds closed, securebits, empty capability sets, no_new_privs, filter

Then the full round trip of `Worker.run` with an empty submission, the old zygote's figure
from the prototype's measurement for reference. Prints the median and range of the runs'
medians, each ratio to the plain fork, and the load average. Needs root or user namespaces.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from grader.sandbox.limits import Limits  # noqa: E402
from grader.sandbox.worker import Worker  # noqa: E402

# Runs in the job (pid 1 of nothing): the zygote's own modules, as the zygote uses them.
STEPS = r'''
import json, os, resource, signal, statistics, sys, time
from bptt_sandbox import isolation, seccomp
LIMITS = dict(memory_mb=1024, cpu_seconds=20, file_mb=16, processes=64)
JOBS, RUNS = %d, %d

def job(level, tmpfs):
    try:
        os.setsid()
        if level >= 3:
            isolation.enter_job_namespaces(tmpfs, "/tmp")
        isolation.set_limits(LIMITS, processes=level >= 1)
        if level >= 4:
            os.closerange(3, 256)
            isolation.drop_capabilities()
            seccomp.install(seccomp.program())
    finally:
        os._exit(0)

def one(level, own):
    started = time.perf_counter()
    tmpfs = isolation.new_tmpfs(64 << 20, 16384) if level >= 2 else None
    if level >= 1:
        isolation.libc.unshare(seccomp.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        job(level, tmpfs)
    if level >= 1:
        isolation.syscall("setns", own, seccomp.CLONE_NEWPID)
    os.waitpid(pid, 0)
    if tmpfs is not None:
        os.close(tmpfs)
    return time.perf_counter() - started
'''

NAMES = ("plain fork (before)", "+ pid namespace", "+ tmpfs per job", "+ mount/ipc/uts ns",
         "+ caps dropped, seccomp")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with Worker(Limits(wall_seconds=10)) as worker:
        print(worker.isolation.description)
        if worker.isolation.kind != "bubblewrap":
            sys.exit("bench/isolation.py measures the bubblewrap steps: not available here")
        # The step timings run in a job whose given cell re-creates the zygote's loop;
        # a job may not unshare (seccomp), so they run in the zygote's place: a second
        # zygote process started through the same bubblewrap command.
        import subprocess

        from grader.sandbox import worker as module

        code = STEPS % (args.jobs, args.runs) + r'''
own = os.open("/proc/self/ns/pid", os.O_RDONLY)
medians = {level: [] for level in range(5)}
for _ in range(RUNS):
    for level in range(5):       # paired: every step in every run, interleaved
        times = [one(level, own) for _ in range(JOBS)]
        medians[level].append(statistics.median(times) * 1e3)
print(json.dumps(medians))
'''
        binds = worker._bind_sources()
        command = worker._bwrap_command(module.find_bwrap(), binds)
        command[-1] = ("import sys; sys.path[:0] = ['/opt/bptt', '/opt/bptt/site']; "
                       "exec(sys.stdin.read())")
        process = subprocess.run(command, input=code, capture_output=True, text=True,
                                 preexec_fn=worker._preexec(binds), timeout=600)
        if process.returncode:
            sys.exit(process.stderr)
        medians = {int(k): v for k, v in json.loads(process.stdout).items()}
        base = statistics.median(medians[0])
        print(f"per job, zygote side ({args.runs} paired runs x {args.jobs} jobs), "
              f"load average {os.getloadavg()[0]:.2f}:")
        for level, name in enumerate(NAMES):
            values = medians[level]
            print(f"  {name:26s} median {statistics.median(values):6.2f} ms  range "
                  f"{min(values):6.2f}-{max(values):6.2f} ms  "
                  f"{statistics.median(values) / base:5.2f}x the plain fork")
        rounds = []
        for _ in range(args.runs):
            times = []
            for _ in range(max(args.jobs // 3, 10)):
                started = time.perf_counter()
                worker.run("", [], [], lambda stage, value: value)
                times.append(time.perf_counter() - started)
            rounds.append(statistics.median(times) * 1e3)
        print(f"  Worker.run round trip, empty submission: median "
              f"{statistics.median(rounds):.2f} ms, range {min(rounds):.2f}-{max(rounds):.2f} "
              f"ms (the prototype measured 1.96 ms before, 4.81 ms isolated); load average "
              f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
