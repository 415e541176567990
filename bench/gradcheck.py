"""Benchmark: a full elementwise finite-difference check of an Elman network, loop vs batched.

    python bench/gradcheck.py [--N 1 4] [--repeats 3]

The model is reference.Elman(n_in=10, n_hidden=36, n_out=10, tanh, softmax,
ce): 2,062 parameters, sequences of T = 20 steps. Every parameter is
differenced centrally, (L(θ + εe_i) − L(θ − εe_i)) / 2ε with ε = 1e-6, so each
method evaluates the loss 2 × 2,062 times:

- loop: the CS231n `eval_numerical_gradient` pattern, one entry at a time
  with np.nditer, calling `m.loss` twice per entry;
- batched stack: `grader.gradcheck.numerical_gradient(..., batched=True)`,
  which hands the loss stacks of perturbed parameter vectors (P, 2062),
  evaluated by `grader.batched_loss.ElmanLoss` as small changes around θ;
- batched perturbations: `numerical_gradient_perturbed`, the same loss
  evaluations given as (index, ±ε) pairs, so the (P, 2062) stacks are never
  built.

All three gradients are compared with each other and with the reference's
BPTT gradient. Times are the best of --repeats runs.

OpenBLAS is pinned to one thread (unless OPENBLAS_NUM_THREADS is already
set): on these 2-core machines its second thread made a (1680 × 36) @ (36 × 36)
matmul about 30× slower (3.2 ms against 0.1 ms). The loop's matmuls are too
small for OpenBLAS to thread, so the pin does not slow the loop down.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# This script's folder holds bench/reference.py, which would shadow the reference package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402  (after the thread pin)

import reference as ref  # noqa: E402
from grader.checking.batched_loss import ElmanLoss  # noqa: E402
from grader.checking.gradcheck import (  # noqa: E402
    ParameterLayout,
    compare_gradient_arrays,
    numerical_gradient,
    numerical_gradient_perturbed,
)

EPS = 1e-6
T = 20


def eval_numerical_gradient(f, x, h=EPS):
    """CS231n-style: perturb one entry of x in place, evaluate f twice, restore."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


def best_time(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def run(N: int, repeats: int, seed: int = 0) -> None:
    m = ref.Elman(n_in=10, n_hidden=36, n_out=10, activation="tanh", output="softmax",
                  objective="ce")
    rng = np.random.default_rng(seed)
    params = m.init_params(rng)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    x = rng.standard_normal((N, T, m.n_in))
    d = rng.integers(0, m.n_out, (N, T))
    layout = ParameterLayout.of(params)
    theta = layout.flatten(params)
    loss = ElmanLoss(m.activation, m.output, m.objective, x, d)

    def loop():
        work = {k: v.copy() for k, v in params.items()}
        return layout.flatten({k: eval_numerical_gradient(lambda _: m.loss(work, x, d), work[k])
                               for k in layout.keys})

    def stacked():
        return numerical_gradient(loss.of_vectors(layout, theta), theta, EPS, batched=True,
                                  max_batch_bytes=4 * 2**20)

    def perturbed():
        return numerical_gradient_perturbed(loss.of_perturbations(layout, theta), layout.size,
                                            EPS, chunk=512)

    t_loop, g_loop = best_time(loop, repeats)
    t_stack, g_stack = best_time(stacked, repeats)
    t_pert, g_pert = best_time(perturbed, repeats)
    bptt = layout.flatten(m.grad(params, x, d))

    print(f"Elman n_in=10 n_hidden=36 n_out=10 (tanh, softmax, ce): {layout.size} parameters, "
          f"N={N}, T={T}, {2 * layout.size} loss evaluations per method, best of {repeats}")
    print(f"  loop: {t_loop:.3f} s, batched: {t_pert:.3f} s, speed-up: {t_loop / t_pert:.1f}×"
          "   (batched = perturbation interface)")
    print(f"  loop: {t_loop:.3f} s, batched: {t_stack:.3f} s, speed-up: {t_loop / t_stack:.1f}×"
          "   (batched = stacks of perturbed vectors)")
    for name, g in (("batched (perturbations)", g_pert), ("batched (stacks)", g_stack)):
        c = compare_gradient_arrays(g, g_loop, rtol=1e-6, atol=1e-8)
        print(f"  {name} vs loop: max |difference| {c.max_abs_error:.1e}")
    c = compare_gradient_arrays(bptt, g_pert, rtol=1e-5, atol=1e-7)
    where = layout.locate(c.worst_index[0]) if c.worst_index else None
    print(f"  BPTT vs finite differences: max |difference| {c.max_abs_error:.1e}, "
          f"max relative error {c.max_relative_error:.1e} (worst at {where}), "
          f"{'agree' if c.passed else 'DISAGREE'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, nargs="+", default=[1, 4], help="batch sizes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    for N in args.N:
        run(N, args.repeats)


if __name__ == "__main__":
    main()
