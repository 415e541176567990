"""The only place where student code runs: a zygote per worker, a forked child per job.

    worker.py    Worker (trusted parent side): starts the zygote in bubblewrap,
                 or as a plain process where bubblewrap cannot run, and says
                 which (`Isolation`); sends one job at a time; restarts a zygote
                 that misbehaves; find_bwrap
    zygote.py    runs inside the sandbox, alone: standard library and numpy
                 only, never the grader, the reference or the exercises
    protocol.py  Call, JobReport, write_job, call_outcomes: the wire format,
                 and the distrustful reading of what comes back
    limits.py    Limits: wall time, CPU, memory, file size, processes, output

The protocol, in full:

1. The parent writes a job folder that only it and the zygote can read:
       plan.json       {"given": source, "cells": [source, …], "calls": [call, …]}
       call            {"stage": name, "probe": i, "repeat": bool,
                        "kwargs": {name: encoded}}
       encoded         {"array": "a3_7"} | {"dict": {key: encoded}} | {"value": v}
                       | {"list": [encoded, …]} | {"tuple": [encoded, …]}
       arguments.npz   the arrays, by the names "array" gives (no pickle)
2. The parent writes one request line to the zygote's stdin, a pipe no job can
   reach (a job's stdin is /dev/null):
       {"job": "/exchange/<id>", "uid": 60001, "limits": {...}, "nonce": hex,
        "private_pids": bool}
3. The zygote copies plan and arguments into a fresh scratch folder, forks the
   job's child (limits, unprivileged uid when root, then the given cell, the
   student's cells and the planned calls), and waits at most the wall limit.
   The child writes `outputs.jsonl` (one record per call, as it ends) and one
   `.npy` per returned array; nothing else it writes is ever read.
4. The zygote kills what the job left behind, copies `outputs.jsonl` and the
   `.npy` files (regular files only, size-capped) into the job folder as
   `out_*`, and answers one line on stdout:
       {"job": …, "nonce": …, "status": "ok" | "timeout" | "crashed",
        "seconds": s, "exit": detail, "stdout": printed output, capped}
   A reply with the wrong nonce, or none within wall + 15 s, restarts the zygote.
5. The parent reads the `out_*` files with `protocol.call_outcomes`: JSON only,
   `.npy` headers checked against file sizes before loading without pickle, at
   most MAX_ITEMS values per result. Every verdict is computed by
   `grader.checking`, never in the sandbox.

Imports: numpy, `grader.checking` (Outcome, ForeignValue); zygote.py imports
only the standard library and numpy.
"""
