"""The only place where student code runs: a zygote per worker, a walled-in child per job.

    worker.py     Worker (trusted parent side): reserves a uid for itself, starts the
                  zygote in bubblewrap's own user namespace, or as a plain process
                  where that cannot run, measures what holds in a job and says so
                  (`Isolation`); sends one job at a time; restarts a zygote that fails
                  and runs that job once more; find_bwrap
    zygote.py     runs inside the sandbox: one job at a time, each walled in
    isolation.py  runs inside too: namespaces, tmpfs, capabilities, limits of a job;
                  `read_untrusted`, the only way trusted code reads a job's file
    seccomp.py    runs inside too: the BPF deny-list every job runs under
    protocol.py   Call, JobReport, write_job, call_outcomes: the wire format, and the
                  distrustful, budgeted reading of what comes back
    limits.py     Limits: wall time, CPU, memory, file size, processes, output

The four modules that run inside import the standard library, numpy and each other
only; they are copied, root-owned, into the worker's folder and mounted read-only at
/opt/bptt/bptt_sandbox. docs/security.md is the threat model.

The protocol, in full:

1. The parent makes a job folder <name> (16 hex digits) in its exchange folder, writes
   into it while only root can write there, then gives it to the worker's uid. It holds
   one file, job.in: a first line of JSON, then the arrays' bytes:
       header          {"given": source, "cells": [source, …], "calls": [call, …],
                        "arrays": [[buffer, element offset, shape], …],
                        "buffers": [[dtype, byte offset, count], …]}
       call            {"stage": name, "probe": i, "repeat": bool,
                        "kwargs": {name: encoded}, "callees": {name: table}}
       encoded         i (the i-th of "arrays") | {"dict": {key: encoded}}
                       | {"list": [encoded, …]} | {"tuple": [encoded, …]} | {"value": v}
       table           {"inputs": [name, …], "outputs": [name, …],
                        "calls": [[arguments encoded, answer encoded], …]}
       body            one flat numeric buffer per dtype ("f8", "i8"…), each at its byte
                       offset (a multiple of 16), read with numpy.frombuffer, never
                       unpickled; an array is the slice [offset, offset + size) of its
                       buffer reshaped, read-only, made once however often it is named
2. The parent writes one request line to the zygote's stdin, a pipe that only the
   parent holds (a job closes every inherited descriptor; its stdin is /dev/null; it
   cannot see, trace or signal the zygote):
       {"job": "<name>", "uid": 60001, "limits": {...}, "nonce": 32 hex digits}
   The zygote refuses (answers "refused", runs nothing) a request with any other key,
   a job that is not 16 hex digits, a uid that is missing, null or not the worker's
   own, limits out of their ranges, or a malformed nonce. A request never changes a
   uid, a capability or a path outside the exchange folder.
3. The zygote copies job.in into the job's fresh scratch (a tmpfs of its
   own; in the fallback, a new folder), forks the job (namespaces, limits, no
   capabilities, no new privileges, seccomp, an empty environment, then the given
   cell, the student's cells and the planned calls), and waits at most the wall
   limit. The job writes `outputs.jsonl` (one record per call, as it ends), the
   returned arrays' bytes one after another in `answers.bin` (a record names an
   array as [dtype, shape, byte offset]), and its printed output in `stdout.txt`.
4. Nothing the job started outlives it (its pid namespace, or kill(-1) as its own
   uid). The zygote reads stdout.txt, outputs.jsonl and answers.bin with
   `isolation.read_untrusted` (no link followed, regular files with one link,
   never blocking, capped), writes them into the job folder as one file, out.bundle
   (a first line [[name, length], …] in JSON, then their bytes), and answers
   one line on stdout:
       {"job": …, "nonce": …, "status": "ok" | "timeout" | "crashed" | "worker-error",
        "seconds": s, "exit": detail, "stdout": printed output, capped, "outputs": […]}
   A reply with the wrong nonce, none within wall + 15 s, or "worker-error" (its
   cleanup failed) restarts the zygote, and the job is run once more on the fresh
   one; a second failure is reported as the sandbox's, never cached as a grade.
5. The parent reads out.bundle with `protocol.call_outcomes` (`JobFiles`), as untrusted
   as the job's own: no link followed, regular files only, size-capped, JSON only,
   arrays made only of plain numeric dtypes and of bytes that are there, without
   pickle, at most MAX_ITEMS values per result and a budget of bytes, arrays and
   records per submission (said in the feedback when it is spent). Every verdict is computed by
   `grader.checking`, never in the sandbox. The parent then removes the job folder
   without recursion and without following a link.

Imports: numpy, `grader.checking` (Outcome, ForeignValue).
"""
