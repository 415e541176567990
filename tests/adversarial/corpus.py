"""Hostile submissions of the `elman` exercise, one `Attack` each.

An attack is the student's correct solution cells for their own variant plus a
cell of hostile code after them (`cell`), or a file of raw bytes (`raw`) for
the notebooks that cannot be read at all. Most attack cells wrap one of the
student's (correct) functions, `_right = name`, so that the attack works in
every variant. Placeholders in the code are filled in by the test with the
host's real paths:

    @SUBS@      the folder holding every submission of the batch
    @RESULTS@   the batch's results folder (results.json files, the gradebook)
    @COURSE@    the course file holding the secret
    @REPO@      the project's checkout (the reference, the exercises)
    @MARKER@    a host path that must not exist after grading

What the test asserts for each: the stages in `zero` score 0 ("*": every
stage, or the single "Submission" check of an unreadable file), every other
stage scores full marks (the attack gains nothing and breaks nothing else),
each string of `text` appears in the feedback, no string of `absent` does, and
every honest student graded in the same batch gets exactly their grade alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from exercises.registry import get_exercise

SECRET = "course-secret-4f1c9b7e-never-shown"
STAGES = tuple(stage.name for stage in get_exercise("elman").stages)


@dataclass(frozen=True)
class Attack:
    id: str
    cell: str = ""                        # hostile code, after the solution cells
    raw: bytes | None = None              # the whole file, for unreadable notebooks
    suffix: str = ".ipynb"
    student: str | None = None            # the metadata's student id (default: mallory-<id>)
    zero: tuple[str, ...] = ()            # stages that must score 0; ("*",) for all
    hurt: tuple[str, ...] = ()            # stages that must score below full marks: the
                                          # attack forged or cut short only some of their calls
    text: tuple[str, ...] = ()            # what the feedback must say
    absent: tuple[str, ...] = ()          # what the feedback must not hold
    locked: str | None = None             # "deleted" / "changed": a release notebook, edited;
                                          # "mangled": cell metadata that is not a dict
    bubblewrap: bool = True               # only holds with bubblewrap's isolation
    check: str | None = None              # the name of an extra assertion in the test
    notes: dict = field(default_factory=dict)


LIAR = '''
class Liar:
    """Equal to everything, an array of anything, a float of anything."""
    def __init__(self, value=None): self.value = value
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, dtype=None, copy=None): return self.value
    def __float__(self): return 0.0
    def __len__(self): return len(self.value)
    def __getattr__(self, name): return getattr(self.value, name)
'''

ATTACKS = [
    # -- time ------------------------------------------------------------------------
    Attack("loop-top-level", "while True:\n    pass\n", zero=("*",),
           text=("time limit",)),
    Attack("loop-in-function", "def rnn_backward(ds_out, x, s0, s, U, W):\n"
                               "    while True:\n        pass\n",
           zero=("rnn_backward",),
           text=("time limit", "not run: an earlier probe of rnn_backward did not return")),
    Attack("sleep-top-level", "import time\ntime.sleep(3600)\n", zero=("*",),
           text=("time limit",)),
    Attack("sleep-in-function", "import time\n_right = sgd_update\n"
                                "def sgd_update(params, grads, lr):\n"
                                "    time.sleep(3600)\n    return _right(params, grads, lr)\n",
           zero=("sgd_update",), text=("time limit",)),
    # -- processes -------------------------------------------------------------------
    Attack("fork-bomb", "import os\nwhile True:\n    try:\n        os.fork()\n"
                        "    except OSError:\n        pass\n",
           zero=("*",), text=("time limit",)),
    Attack("subprocess-bomb", "import subprocess\nfor _ in range(10000):\n"
                              "    subprocess.Popen(['sleep', '4242'])\n",
           text=("Error while running cell", "Resource temporarily unavailable"),
           check="no_sleepers"),
    Attack("double-forked-daemon", "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                                   "    if os.fork() == 0:\n"
                                   "        os.execvp('sleep', ['sleep', '4243'])\n"
                                   "    os._exit(0)\n",
           check="no_sleepers"),
    # -- memory, disk, output --------------------------------------------------------
    Attack("memory-bomb-top-level", "hoard = []\nwhile True:\n"
                                    "    hoard.append(bytearray(10 ** 7))\n",
           text=("MemoryError",)),
    Attack("memory-bomb-in-function", "import numpy as np\n_right = rnn_forward\n"
                                      "def rnn_forward(x, s0, U, W, b):\n"
                                      "    np.ones((10 ** 5, 10 ** 5))\n"
                                      "    return _right(x, s0, U, W, b)\n",
           zero=("rnn_forward",), text=("MemoryError",)),
    Attack("disk-many-files", "for i in range(10 ** 6):\n"
                              "    with open(f'filler{i}', 'w') as f:\n"
                              "        f.write('x' * 10 ** 6)\n",
           zero=("*",), text=("Error while running cell", "No space left on device",
                              "the call raised OSError: [Errno 28] No space left on device")),
    Attack("disk-one-huge-file", "with open('filler', 'wb') as f:\n    while True:\n"
                                 "        f.write(b'x' * 10 ** 6)\n",
           text=("Error while running cell", "File too large")),
    Attack("huge-output", "for i in range(10 ** 6):\n    print('spam ' * 40)\n",
           text=("Printed output",), check="short_output", bubblewrap=False),
    # -- leaving early ---------------------------------------------------------------
    Attack("sys-exit-top-level", "import sys\nsys.exit(0)\n",
           text=("SystemExit",), bubblewrap=False),
    Attack("os-exit-top-level", "import os\nos._exit(0)\n", zero=("*",),
           text=("ended its own process (os._exit?)",), bubblewrap=False),
    Attack("sys-exit-in-function", "import sys\ndef phi_prime(s):\n    sys.exit(1)\n",
           zero=("phi_prime",),
           text=("SystemExit",), bubblewrap=False),
    Attack("os-exit-in-function", "import os\ndef sgd_update(params, grads, lr):\n"
                                  "    os._exit(0)\n",
           zero=("sgd_update",), text=("ended its own process (os._exit?)",), bubblewrap=False),
    Attack("keyboard-interrupt-top-level", "raise KeyboardInterrupt\n",
           text=("KeyboardInterrupt",), bubblewrap=False),
    Attack("keyboard-interrupt-in-function", "def rnn_step_forward(x_t, s_prev, U, W, b):\n"
                                             "    raise KeyboardInterrupt\n",
           zero=("rnn_step_forward",), text=("KeyboardInterrupt",),
           bubblewrap=False),
    Attack("system-exit-from-check", "def output_backward(s, V, c, d):\n"
                                     "    raise SystemExit('all tests passed')\n",
           zero=("output_backward",), text=("SystemExit: all tests passed",),
           bubblewrap=False),
    # -- monkeypatching --------------------------------------------------------------
    Attack("patch-numpy", "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                          "np.array_equal = lambda *a, **k: True\n"
                          "np.testing.assert_allclose = lambda *a, **k: None\n"
                          "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
                          "def phi_prime(s):\n    return np.zeros_like(s)\n",
           zero=("phi_prime",),
           text=("phi_prime: 2 of 2 probes wrong",), bubblewrap=False),
    Attack("patch-ndarray", "import numpy as np\n"
                            "np.ndarray.__eq__ = lambda self, other: True\n",
           text=("TypeError",), bubblewrap=False),
    Attack("patch-builtins", LIAR + "import builtins, numpy as np\n_right = phi_prime\n"
                                    "def phi_prime(s):\n    return Liar(_right(s) + 1.0)\n"
                                    "builtins.isinstance = lambda *a: True\n"
                                    "builtins.type = lambda *a: np.ndarray\n"
                                    "builtins.print = lambda *a, **k: None\n",
           zero=("*",), text=("The code broke the process running it",
                              "did it change builtins, numpy or the grader's modules?"),
           bubblewrap=False),
    Attack("patch-worker-module", "import sys\nworker = sys.modules['__main__']\n"
                                  "worker.encode_output = lambda *args: "
                                  "{'array': '../../../etc/passwd'}\n"
                                  "worker.changed = lambda before, after: False\n",
           zero=("*",), text=("malformed result",), bubblewrap=False),
    Attack("patch-json-dumps", "import json\n_dumps = json.dumps\n"
                               "def dumps(record, **kw):\n"
                               "    if isinstance(record, dict) and 'stage' in record:\n"
                               "        record = dict(record, mutated=[['x']], probe=0)\n"
                               "    return _dumps(record, **kw)\n"
                               "json.dumps = dumps\n",
           hurt=("*",), bubblewrap=False, check="no_grader_failure"),
    # -- lying return values ---------------------------------------------------------
    Attack("lying-eq", LIAR + "_right = phi_prime\ndef phi_prime(s):\n"
                              "    return Liar(_right(s))\n",
           zero=("phi_prime",),
           text=("expected a numpy array, got Liar",), bubblewrap=False),
    Attack("lying-array-in-tuple", LIAR + "_right = rnn_backward\n"
                                          "def rnn_backward(*args, **kw):\n"
                                          "    return tuple(Liar(v) for v in "
                                          "_right(*args, **kw))\n",
           zero=("rnn_backward",), text=("got Liar",), bubblewrap=False),
    Attack("lying-float", LIAR + "_right = sgd_update\ndef sgd_update(params, grads, lr):\n"
                                 "    return {k: [[Liar(x) for x in row] for row in "
                                 "v.reshape(v.shape[0], -1)] for k, v in "
                                 "_right(params, grads, lr).items()}\n",
           zero=("sgd_update",), text=("holding non-numbers",), bubblewrap=False),
    Attack("ndarray-subclass", "import numpy as np\nclass Sneaky(np.ndarray):\n"
                               "    def __eq__(self, other): return True\n"
                               "_right = rnn_forward\ndef rnn_forward(*args, **kw):\n"
                               "    return _right(*args, **kw).view(Sneaky)\n",
           zero=("rnn_forward",), text=("subclass of numpy.ndarray",), bubblewrap=False),
    Attack("nan-results", "import numpy as np\n_right = rnn_step_forward\n"
                          "def rnn_step_forward(*args, **kw):\n"
                          "    return np.full_like(_right(*args, **kw), np.nan)\n",
           zero=("rnn_step_forward",), text=("NaN or inf",), bubblewrap=False),
    Attack("inf-results", "import numpy as np\n_right = output_backward\n"
                          "def output_backward(*args, **kw):\n"
                          "    return tuple(np.full_like(v, np.inf) "
                          "for v in _right(*args, **kw))\n",
           zero=("output_backward",), text=("NaN or inf",), bubblewrap=False),
    Attack("wrong-shape", "_right = rnn_forward\ndef rnn_forward(*args, **kw):\n"
                          "    return _right(*args, **kw)[:, :-1]\n",
           zero=("rnn_forward",), text=("shape",), bubblewrap=False),
    Attack("wrong-dtype", "import numpy as np\n_right = phi_prime\ndef phi_prime(s):\n"
                          "    return _right(s).astype(object)\n"
                          "_step = rnn_step_forward\n"
                          "def rnn_step_forward(*args, **kw):\n"
                          "    return _step(*args, **kw).astype(np.complex128)\n",
           zero=("phi_prime", "rnn_step_forward"),
           text=("dtype object", "complex"), bubblewrap=False),
    # -- reading what is not theirs --------------------------------------------------
    Attack("read-reference", "import glob, importlib.util\nfor path in "
                             "['@REPO@/reference/__init__.py', '@REPO@/exercises/elman.py']:\n"
                             "    try:\n        print(open(path).read()[:300])\n"
                             "    except OSError as e:\n"
                             "        print('refused', type(e).__name__)\n"
                             "print('spec', importlib.util.find_spec('reference'),\n"
                             "      importlib.util.find_spec('exercises'))\n"
                             "import sys\n"
                             "print('site', glob.glob(sys.base_prefix + '/lib/python3*/"
                             "site-packages/*'))\n",
           text=("refused FileNotFoundError", "spec None None"),
           absent=("import numpy", "def solve_", "reference.")),
    Attack("read-secret", "import os, time\nprint('env', sorted(os.environ))\n"
                          "found, deadline = [], time.monotonic() + 1.0\n"
                          "for top in ('/tmp', '/exchange', '/opt', '/root'):\n"
                          "    for d, _, fs in os.walk(top):\n"
                          "        if time.monotonic() > deadline:\n"
                          "            break          # the job's wall limit is 2 s here\n"
                          "        found += [os.path.join(d, f) for f in fs if 'course' in f]\n"
                          "for path in ['@COURSE@', *found, '/proc/1/environ', "
                          "'/proc/1/cmdline']:\n"
                          "    try:\n        print(path, open(path).read()[:300])\n"
                          "    except OSError as e:\n        print('refused', type(e).__name__)\n",
           text=("refused",), absent=(SECRET, "BPTT_COURSE")),
    Attack("read-hidden-tests", "import os, glob\n"
                                "seen = os.path.isdir('/exchange') and os.listdir('/exchange')\n"
                                "print('exchange', seen or 'empty')\n"
                                "print('plans', glob.glob('/exchange/*/job.in') + "
                                "glob.glob('/tmp/**/job.in', recursive=True))\n"
                                "print('tests', glob.glob('@REPO@/tests/*') + "
                                "glob.glob('@REPO@/templates/*'))\n",
           text=("exchange empty", "plans ['/tmp/job/in/job.in']", "tests []")),
    Attack("read-other-submission", "import os\nfor path in ['@SUBS@/honest-ann.ipynb', "
                                    "'@SUBS@']:\n"
                                    "    try:\n        print(path, os.listdir(path) "
                                    "if os.path.isdir(path) else open(path).read()[:200])\n"
                                    "    except OSError as e:\n"
                                    "        print('refused', type(e).__name__)\n",
           text=("refused FileNotFoundError",), absent=("rnn_step_forward(x_t",)),
    Attack("network-socket", "import socket\nfor address in [('1.1.1.1', 53), "
                             "('127.0.0.1', 22)]:\n"
                             "    try:\n        socket.create_connection(address, timeout=1)\n"
                             "        print('connected', address)\n"
                             "    except OSError as e:\n        print('refused', e)\n"
                             "s = socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen()\n"
                             "print('listening on', s.getsockname())\n",
           text=("refused [Errno 101] Network is unreachable",), absent=("connected",)),
    # -- forging results -------------------------------------------------------------
    Attack("fake-results-files", "import json, os\n"
                                 "fake = json.dumps({'score': 100, 'tests': []})\n"
                                 "for path in ['@RESULTS@/mallory-fake-results-files.json', "
                                 "'@RESULTS@/honest-ann.json', '/exchange/results.json', "
                                 "'results.json', '/tmp/results.json']:\n"
                                 "    try:\n        open(path, 'w').write(fake)\n"
                                 "        print('wrote', path)\n"
                                 "    except OSError as e:\n"
                                 "        print('refused', type(e).__name__)\n"
                                 "_right = sgd_update\n"
                                 "def sgd_update(params, grads, lr):\n"
                                 "    with open('outputs.jsonl', 'a') as log:\n"
                                 "        log.write(json.dumps({'stage': 'sgd_update', "
                                 "'probe': 0, 'result': 'all right', 'score': 100}) + '\\n')\n"
                                 "    os._exit(0)\n",
           zero=("sgd_update",), text=("refused FileNotFoundError", "refused OSError",
                                       "ended its own process"),
           check="results_untouched"),
    Attack("print-points", "print('Points 100/100')\n"
                           "print('::notice title=Autograding complete::Points 100/100')\n"
                           "def phi_prime(s):\n    return s * 0.0\n",
           zero=("phi_prime",), check="points_line",
           bubblewrap=False),
    Attack("pickle-payload", "import io, json, os, pickle, numpy as np\n"
                             "class Evil:\n    def __reduce__(self):\n"
                             "        return (os.system, ('touch @MARKER@',))\n"
                             "def rnn_step_forward(x_t, s_prev, U, W, b):\n"
                             "    return np.array([Evil()], dtype=object)\n"
                             "def sgd_update(params, grads, lr):\n"
                             "    # a pickle at the start of answers.bin, and phi_prime's\n"
                             "    # answer (call 0) forged to name it as an object array\n"
                             "    with open('answers.bin', 'r+b') as f:\n"
                             "        f.write(pickle.dumps(Evil()))\n"
                             "    with open('outputs.jsonl', 'a') as log:\n"
                             "        log.write('\\n' + json.dumps({'stage': 'phi_prime', "
                             "'probe': 0, 'result': {'array': ['|O', [1], 0]}}) + '\\n')\n"
                             "    os._exit(0)\n",
           zero=("rnn_step_forward", "sgd_update"), hurt=("phi_prime",),
           text=("dtype object", "malformed result"), check="no_marker", bubblewrap=False),
    Attack("answer-size-bomb", "import json, os\n"
                               "def sgd_update(params, grads, lr):\n"
                               "    # phi_prime's answer (call 0): 75 GiB promised, a few bytes\n"
                               "    with open('outputs.jsonl', 'a') as log:\n"
                               "        log.write('\\n' + json.dumps({'stage': 'phi_prime', "
                               "'probe': 0, 'result': {'array': ['<f8', [10 ** 5, 10 ** 5], "
                               "0]}}) + '\\n')\n"
                               "    os._exit(0)\n",
           zero=("sgd_update",), hurt=("phi_prime",), text=("unreadable array",),
           bubblewrap=False, check="no_grader_failure"),
    Attack("answer-overwritten", "import os\n_right = sgd_update\n"
                                 "def sgd_update(params, grads, lr):\n"
                                 "    # phi_prime's answer (call 0) overwritten in place\n"
                                 "    with open('answers.bin', 'r+b') as f:\n"
                                 "        f.write(b'\\x7f' * 16)\n"
                                 "    return _right(params, grads, lr)\n",
           hurt=("phi_prime",), bubblewrap=False, check="no_grader_failure"),
    Attack("outputs-json-bombs", "import json, os, numpy as np\n"
                                 "def sgd_update(params, grads, lr):\n"
                                 "    with open('answers.bin', 'ab') as f:\n"
                                 "        f.write(np.zeros(10 ** 6).tobytes())\n"
                                 "    many = {str(i): {'array': ['<f8', [10 ** 6], 0]}\n"
                                 "            for i in range(10 ** 5)}\n"
                                 "    with open('outputs.jsonl', 'a') as log:\n"
                                 "        deep = '[' * 10 ** 5 + ']' * 10 ** 5\n"
                                 "        log.write('\\n' + deep + '\\n')\n"
                                 "        log.write(json.dumps({'stage': 'phi_prime', 'probe': 0, "
                                 "'result': {'dict': many}}) + '\\n')\n"
                                 "    os._exit(0)\n",
           zero=("sgd_update",), hurt=("phi_prime",), text=("malformed result",), bubblewrap=False,
           check="no_grader_failure"),
    Attack("malicious-outputs-lines", "import json, os, numpy as np\n"
                                      "def sgd_update(params, grads, lr):\n"
                                      "    open('answers.bin', 'ab').write(bytes(24))\n"
                                      "    with open('outputs.jsonl', 'a') as log:\n"
                                      "        for line in ['[1, 2]', 'not json', '\"x\"',\n"
                                      "                json.dumps({'stage': 'phi_prime', "
                                      "'probe': 0, 'result': {'array': ['<f8', [3], 0]}, "
                                      "'mutated': [['s']]}),\n"
                                      "                json.dumps({'stage': 'rnn_step_forward', "
                                      "'probe': 0, 'result': {'tuple': 5}, 'mutated': 's'}),\n"
                                      "                json.dumps({'stage': 'sgd_update', "
                                      "'probe': 0, 'result': {'array': '/etc/passwd'}}),\n"
                                      "                'x' * 10 ** 6]:\n"
                                      "            log.write(line + '\\n')\n"
                                      "    os._exit(0)\n",
           zero=("sgd_update",), hurt=("phi_prime", "rnn_step_forward"), text=("malformed result",),
           bubblewrap=False, check="no_grader_failure"),
    # -- locked cells ----------------------------------------------------------------
    Attack("locked-cell-deleted", locked="deleted",
           text=("the locked cell 'given' was deleted",), bubblewrap=False),
    Attack("locked-cell-changed", locked="changed",
           text=("the locked cell 'given' was changed",
                 "the locked cell 'rnn_backward-self-check' was changed"),
           bubblewrap=False),
    # -- unreadable files ------------------------------------------------------------
    Attack("not-json", raw=b'{"cells": [{"cell_type": "code", "source": "x = ', zero=("*",),
           text=("not valid JSON",), bubblewrap=False),
    Attack("json-not-notebook", raw=json.dumps([1, 2, 3]).encode(), zero=("*",),
           text=("not a Jupyter notebook",), bubblewrap=False),
    Attack("nbformat-3", raw=json.dumps({"nbformat": 3, "nbformat_minor": 0, "cells": [],
                                         "worksheets": [{"cells": []}]}).encode(),
           zero=("*",), text=("format version 3",), bubblewrap=False),
    Attack("metadata-not-a-dict", raw=json.dumps({"nbformat": 4, "nbformat_minor": 5,
                                                  "metadata": ["student", "honest-ann"],
                                                  "cells": [{"cell_type": "code",
                                                             "metadata": "locked",
                                                             "source": "x = 1"}]}).encode(),
           zero=("*",), text=("no student id",), bubblewrap=False),
    Attack("cell-metadata-mangled", locked="mangled", bubblewrap=False),
    Attack("empty-file", raw=b"", zero=("*",), text=("empty",), bubblewrap=False),
    Attack("twenty-megabytes", raw=b" " * (20 * 1024 * 1024), zero=("*",),
           text=("the limit is",), bubblewrap=False),
    Attack("student-id-path", student="../../../../tmp/evil", zero=("*",),
           text=("student id",), bubblewrap=False, check="results_untouched"),
    Attack("student-id-newline", student="mallory\nhonest-ann  elman  11/11  all right",
           zero=("*",), text=("student id",), bubblewrap=False),
]


# -- issue 9: what a red team did from one submission, and more of the same families -----

SYS = '''
import ctypes, errno, os, platform, time, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"x86_64": dict(exit=60, ptrace=101, unshare=272, setns=308, mount=165,
                     name_to_handle_at=303, open_by_handle_at=304, clone=56),
      "aarch64": dict(exit=93, ptrace=117, unshare=97, setns=268, mount=40,
                      name_to_handle_at=264, open_by_handle_at=265, clone=220)}[platform.machine()]
def sc(name, *args):
    r = libc.syscall(ctypes.c_long(NR[name]),
                     *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
'''

# A thread body that tries to spoil every later job: stop and kill what it can see, and
# overwrite any answer file it can find.
SPOILER = '''
JOB = os.getpid()
def spoil():
    import glob, signal
    while True:                 # wait for its own job to end, so as not to spoil it
        try:
            os.kill(JOB, 0)
            time.sleep(0.005)
        except OSError:
            break
    while True:
        for pid in os.listdir('/proc'):
            if pid.isdigit() and int(pid) != os.getpid():
                for sig in (signal.SIGSTOP, signal.SIGKILL):
                    try:
                        os.kill(int(pid), sig)
                    except OSError:
                        pass
        for path in (glob.glob('/tmp/**/answers.bin', recursive=True)
                     + glob.glob('/exchange/*/*')):
            try:
                open(path, 'wb').write(b'spoiled')
            except OSError:
                pass
        time.sleep(0.005)
'''

REPLACE_ANSWER = '''
_right = sgd_update
def sgd_update(params, grads, lr):
    # every answer written so far, phi_prime's (call 0) first, replaced by {what}
    os.unlink('answers.bin')
    {how}
    return _right(params, grads, lr)
'''

ATTACKS += [
    # processes that outlive their job
    Attack("zombie-leader-with-threads", SYS + SPOILER +
           "if os.fork() == 0:\n"
           "    for _ in range(3):\n        threading.Thread(target=spoil).start()\n"
           "    libc.syscall(ctypes.c_long(NR['exit']), 0)   # the leader only: a zombie\n"
           "time.sleep(0.2)\n",
           check="no_grader_failure"),
    Attack("setsid-daemon-spoiler", SYS + SPOILER +
           "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
           "        threading.Thread(target=spoil).start()\n        spoil()\n"
           "    os._exit(0)\ntime.sleep(0.2)\n",
           check="no_grader_failure"),
    Attack("ptrace-anything", SYS +
           "print('attach-1', sc('ptrace', 16, 1, 0, 0))\n"
           "print('attach-ppid', sc('ptrace', 16, os.getppid(), 0, 0))\n"
           "print('traceme', sc('ptrace', 0, 0, 0, 0))\n",
           text=("attach-1 EPERM", "traceme EPERM")),
    # trusted code touching what a student wrote
    Attack("stdout-symlink", "import os\nos.unlink('stdout.txt')\n"
                             "os.symlink('/proc/1/environ', 'stdout.txt')\n"
                             "print('HOME' + '=' + 'leaked?')\n",
           absent=(SECRET, "BPTT_", "HOME=")),
    Attack("stdout-fifo", "import os\nos.unlink('stdout.txt')\nos.mkfifo('stdout.txt')\n",
           check="no_grader_failure"),
    Attack("answer-symlink", "import os\n" + REPLACE_ANSWER.format(
               what="a link to the host's files", how="os.symlink('/etc/passwd', 'answers.bin')"),
           hurt=("*",), text=("unreadable array",), check="no_grader_failure"),
    Attack("answer-hard-link", "import os\n" + REPLACE_ANSWER.format(
               what="a hard link", how="os.link('stdout.txt', 'answers.bin')"),
           hurt=("*",), text=("unreadable array",), check="no_grader_failure"),
    Attack("answer-fifo", "import os\n" + REPLACE_ANSWER.format(
               what="a FIFO", how="os.mkfifo('answers.bin')"),
           hurt=("*",), text=("unreadable array",), check="no_grader_failure"),
    Attack("answer-socket", "import os, socket\n" + REPLACE_ANSWER.format(
               what="a socket", how="socket.socket(socket.AF_UNIX).bind('answers.bin')"),
           hurt=("*",), text=("unreadable array",), check="no_grader_failure"),
    Attack("deep-chdir-tree", "import os\nfor _ in range(1500):\n"
                              "    os.mkdir('d')\n    os.chdir('d')\n"
                              "open('deep', 'w').write('x')\n"
                              "print('depth', os.getcwd().count('/d'))\n",
           text=("depth 1500",), check="no_grader_failure"),
    Attack("wide-tree-of-answers", "import os\nfor i in range(3000):\n"
                                   "    open(f'c{i + 100}.npy', 'wb').write(b'x' * 100)\n"
                                   "    os.mkdir(f'd{i}')\n",
           check="no_grader_failure"),
    # namespaces, capabilities, the zygote's channel
    Attack("forged-request-uid-null", "import json, os\n"
           "forged = json.dumps({'job': '/exchange', 'uid': None, 'limits': {}, 'nonce': 'x'})\n"
           "found = []\nfor pid in [p for p in os.listdir('/proc')\n"
           "            if p.isdigit() and p != str(os.getpid())]:\n"
           "    for fd in ('0', '1', '3', '4'):\n"
           "        try:\n"
           "            with open(f'/proc/{pid}/fd/{fd}', 'w') as pipe:\n"
           "                pipe.write(forged + '\\n')\n"
           "            found.append((pid, fd))\n"
           "        except OSError:\n            pass\n"
           "print('wrote into', found)\n"
           "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n",
           text=("wrote into []",), check="no_grader_failure"),
    Attack("unshare-and-clone-namespaces", SYS +
           "print('unshare-user', sc('unshare', 0x10000000))\n"
           "print('unshare-mount', sc('unshare', 0x20000))\n"
           "print('clone-newuser', sc('clone', 0x10000000 | 17, 0, 0, 0, 0))\n",
           text=("unshare-user EPERM", "unshare-mount EPERM", "clone-newuser EPERM")),
    Attack("setns-and-mount", SYS +
           "fd = os.open('/proc/1/ns/mnt', os.O_RDONLY)\n"
           "print('setns', sc('setns', fd, 0))\n"
           "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), "
           "errno.errorcode[ctypes.get_errno()])\n"
           "try:\n    open('/evil', 'w')\nexcept OSError as e:\n    print('root-fs', e.strerror)\n",
           text=("setns EPERM", "mount -1 EPERM", "root-fs Read-only file system")),
    Attack("open-by-handle", SYS +
           "handle = ctypes.create_string_buffer(136)\n"
           "ctypes.cast(handle, ctypes.POINTER(ctypes.c_uint))[0] = 128\n"
           "print('name_to_handle_at', sc('name_to_handle_at', -100, b'/', handle, "
           "ctypes.byref(ctypes.c_int()), 0))\n"
           "print('open_by_handle_at', sc('open_by_handle_at', -100, handle, 0))\n",
           text=("name_to_handle_at EPERM", "open_by_handle_at EPERM")),
    Attack("proc-of-the-zygote", "import os\n"
           "for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):\n"
           "    for what in ('environ', 'cmdline', 'fd'):\n"
           "        try:\n            path = f'/proc/{pid}/{what}'\n"
           "            got = os.listdir(path) if what == 'fd' else open(path, 'rb').read()\n"
           "            print('read', pid, what, repr(got)[:80])\n"
           "        except OSError as e:\n            print('refused', pid, what, e.strerror)\n",
           text=("read 1 environ",), absent=(SECRET, "BPTT_COURSE", "read 2 ", "read 3 ")),
    # the trusted parent made to work
    Attack("one-big-npy-named-many-times", "import json, os, numpy as np\n"
           "def sgd_update(params, grads, lr):\n"
           "    with open('answers.bin', 'ab') as f:           # 8 MB\n"
           "        start = f.tell()\n"
           "        f.write(np.zeros(10 ** 6 - 100).tobytes())\n"
           "    many = {'tuple': [{'array': ['<f8', [10 ** 6 - 100], start]}] * 64}\n"
           "    with open('outputs.jsonl', 'a') as log:\n"
           "        for stage in " + repr(STAGES) + ":\n"
           "            for probe in range(8):\n"
           "                log.write(json.dumps({'stage': stage, 'probe': probe, "
           "'result': many, 'repeat_result': many}) + '\\n')\n"
           "    os._exit(0)\n",
           zero=STAGES[1:], hurt=STAGES[:1], text=("budget of 64 MB per submission",),
           check="no_grader_failure"),
]
