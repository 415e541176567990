"""Benchmark: `reference` BPTT against PyTorch autograd on CPU, float64. Not a test.

    python bench/reference.py [--runs 7]

Elman, tanh, softmax output, cross-entropy on class indices; N=32 sequences,
T=64 steps, n_in=32, d=128 hidden units, n_out=32 classes (a character-level
model: as many classes as input symbols). Truncated BPTT with horizon k=16
and full BPTT.

The torch baselines compute exactly what DESIGN.md defines: for every loss
term E_t, the parameter uses at steps t−k+1 … t with the exact total
derivative, and x_τ and s0 as uses at steps τ and 0. Two formulations:

  loop      for each t, re-run the window from the detached state s_{t−k}
            (s0 itself when the window reaches step 0) with parameters that
            require grad; the T window losses are summed, one backward;
  batched   the same T windows run side by side as one batch (N·T rows),
            k steps, shorter early windows masked; one backward.

Before timing, every gradient (parameters, x, s0) of numpy and torch must
agree to a max relative error ≤ 1e-8. Timings: warm-up, then the median of
`--runs` runs (at least 5), numpy's and torch's runs interleaved; numpy's
and torch's thread counts are set equal.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reference as ref  # noqa: E402

N, T, N_IN, D, K_OUT, HORIZON = 32, 64, 32, 128, 32, 16


def numpy_threads() -> int:
    """The BLAS thread count numpy runs with (OpenBLAS asked directly where possible)."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return int(getattr(lib, name)())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = ref.Elman(N_IN, D, K_OUT, activation="tanh", output="softmax", objective="ce")
    params = model.init_params(rng)
    params["b"] = rng.normal(0, 0.1, D)
    params["c"] = rng.normal(0, 0.1, K_OUT)
    x = rng.normal(size=(N, T, N_IN))
    d = rng.integers(0, K_OUT, (N, T))
    s0 = rng.uniform(-0.5, 0.5, (N, D))
    return model, params, x, d, s0


# -- torch baselines ---------------------------------------------------------------------------


def torch_leaves(torch, params, x, s0):
    P = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    X = torch.tensor(x, requires_grad=True)
    S0 = torch.tensor(s0, requires_grad=True)
    return P, X, S0


def torch_grads(P, X, S0):
    return {**{key: p.grad.numpy() for key, p in P.items()}, "x": X.grad.numpy(),
            "s0": S0.grad.numpy()}


def torch_full(torch, params, x, d, s0):
    """Full BPTT: one forward over T steps with shared parameters, one backward."""
    F = torch.nn.functional
    P, X, S0 = torch_leaves(torch, params, x, s0)
    D_ = torch.from_numpy(d)
    a_in = X @ P["U"] + P["b"]
    h, states = S0, []
    for t in range(T):
        h = torch.tanh(a_in[:, t] + h @ P["W"])
        states.append(h)
    o = torch.stack(states, dim=1) @ P["V"] + P["c"]
    loss = F.cross_entropy(o.reshape(-1, K_OUT), D_.reshape(-1), reduction="sum") / N
    loss.backward()
    return torch_grads(P, X, S0)


def detached_states(torch, P, X, S0):
    with torch.no_grad():
        a_in = X @ P["U"] + P["b"]
        h, states = S0, []
        for t in range(T):
            h = torch.tanh(a_in[:, t] + h @ P["W"])
            states.append(h)
        return torch.stack(states, dim=1)


def torch_truncated_loop(torch, params, x, d, s0, k=HORIZON):
    """For each E_t, re-run steps t−k+1 … t from the detached s_{t−k} (or from s0)."""
    F = torch.nn.functional
    P, X, S0 = torch_leaves(torch, params, x, s0)
    D_ = torch.from_numpy(d)
    s_det = detached_states(torch, P, X, S0)
    a_in = X @ P["U"] + P["b"]          # the input term of each step, shared by the windows
    total = 0.0
    for t in range(T):
        start = t - k + 1
        h = S0 if start <= 0 else s_det[:, start - 1]
        for tau in range(max(start, 0), t + 1):
            h = torch.tanh(a_in[:, tau] + h @ P["W"])
        o = h @ P["V"] + P["c"]
        total = total + F.cross_entropy(o, D_[:, t], reduction="sum") / N
    total.backward()
    return torch_grads(P, X, S0)


def torch_truncated_batched(torch, params, x, d, s0, k=HORIZON):
    """The T windows of the loop version side by side: batch (N, T), k steps."""
    F = torch.nn.functional
    P, X, S0 = torch_leaves(torch, params, x, s0)
    D_ = torch.from_numpy(d)
    s_det = detached_states(torch, P, X, S0)
    a_in = X @ P["U"] + P["b"]          # the input term of each step, shared by the windows
    t = torch.arange(T)
    start = t - k + 1                                            # first step of each window
    from_s0 = (start <= 0)[None, :, None]
    h = torch.where(from_s0, S0[:, None, :], s_det[:, (start - 1).clamp(min=0)])
    for j in range(k):
        tau = start + j                                          # step j of every window
        valid = (tau >= 0)[None, :, None]
        a = a_in[:, tau.clamp(min=0)] + h @ P["W"]
        h = torch.where(valid, torch.tanh(a), h)                 # windows not begun: hold
    o = h @ P["V"] + P["c"]
    loss = F.cross_entropy(o.reshape(-1, K_OUT), D_.reshape(-1), reduction="sum") / N
    loss.backward()
    return torch_grads(P, X, S0)


# -- timing ---------------------------------------------------------------------------------------


def median_ms(fns: dict, runs: int, warmup: int = 2) -> dict:
    """Median wall time (ms) of each function, the runs interleaved round by round.

    The machine is shared: interleaving exposes every contender to the same
    background load, so the ratios stay fair even when the absolute times move.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(ts) for name, ts in times.items()}


def max_relative_error(got: dict, want: dict) -> float:
    """max over keys of max|got − want| / max|want|."""
    return max(float(np.abs(got[key] - want[key]).max() / np.abs(want[key]).max())
               for key in want)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs per case (median)")
    args = parser.parse_args(argv)
    runs = max(5, args.runs)
    model, params, x, d, s0 = problem()
    threads = numpy_threads()
    print(f"Elman tanh softmax/ce: N={N} T={T} n_in={N_IN} d={D} n_out={K_OUT}, float64, "
          f"numpy {np.__version__} with {threads} BLAS thread(s)")

    def numpy_grad(horizon):
        return lambda: model.grad(params, x, d, s0=s0, horizon=horizon)

    try:
        import torch
    except ImportError:
        print("torch is not installed: timing numpy alone "
              "(pip install torch for the comparison)")
        for horizon in (HORIZON, None):
            ms = median_ms({"numpy": numpy_grad(horizon)}, runs)["numpy"]
            print(f"{'full' if horizon is None else f'truncated k={horizon}'}: numpy {ms:.1f} ms")
        return 0

    torch.set_num_threads(threads)
    print(f"torch {torch.__version__} with {torch.get_num_threads()} thread(s); "
          f"median of {runs} runs after warm-up")
    cases = [
        (f"truncated k={HORIZON}", HORIZON, {
            "torch loop": lambda: torch_truncated_loop(torch, params, x, d, s0),
            "torch batched": lambda: torch_truncated_batched(torch, params, x, d, s0),
        }),
        ("full", None, {"torch": lambda: torch_full(torch, params, x, d, s0)}),
    ]
    for label, horizon, baselines in cases:
        want = numpy_grad(horizon)()
        for name, fn in baselines.items():
            err = max_relative_error(fn(), want)
            assert err <= 1e-8, f"{label}: numpy and {name} disagree (max rel err {err:.2e})"
            print(f"{label}: numpy and {name} gradients agree, max rel err {err:.1e}")
        ms = median_ms({"numpy": numpy_grad(horizon), **baselines}, runs)
        best = min(ms[name] for name in baselines)
        detail = ", ".join(f"{name} {ms[name]:.1f} ms" for name in baselines)
        print(f"{label}: numpy {ms['numpy']:.1f} ms, {detail}, "
              f"numpy/torch = {ms['numpy'] / best:.2f} (goal ≤ 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
