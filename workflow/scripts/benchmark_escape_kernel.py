"""Chain-steps per second of the escape claim's chain kernels, torch (``run_chains``) against the
fused numba kernel (escape/fused.py), in one run, so the ratio is fair on a shared machine (the
absolute numbers are not). The task is simulate_first_passage's: minibatch SGD on the d-dim
regression from θ*, first passage over thresholds no chain reaches (every step is run), plus
the d = 1 Euler–Maruyama chains of the discreteness cells.

    python workflow/scripts/benchmark_escape_kernel.py [--chains 4096] [--threads 1] [--dims 1 8]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from paperclaims.claims.escape import fused
from paperclaims.claims.escape.train import Regression, start_at_minimum
from paperclaims.seeds import generator
from paperclaims.sgd import FirstPassage, chunk_length, run_chains

NEVER = np.array([1e9, 2e9])  # thresholds c no chain reaches: every step runs


def torch_rate(problem, process, chains, steps, lr, batch):
    thresholds = torch.as_tensor(NEVER * problem.loss_star, dtype=torch.float64)
    passage = FirstPassage(chains, thresholds)
    gen = generator(1)
    if process == "sgd":
        kernel = problem.sgd(gen, chains, lr, batch)
        width = batch * (problem.dim + 2) + 2 * problem.dim
    else:
        kernel = problem.euler_maruyama(gen, chains, lr, batch, "decoupled")
        width = 6
    t0 = time.perf_counter()
    run_chains(
        start_at_minimum(problem, chains),
        steps,
        *kernel,
        chunk_length(chains, width),
        lambda trajectory, first: passage.update(problem.loss(trajectory), first),
    )
    return chains * steps / (time.perf_counter() - t0)


def fused_rate(problem, process, chains, steps, lr, batch, threads):
    if process == "sgd":
        kernel = fused.regression_sgd(problem, chains, lr, batch)
        width = batch * (problem.dim + 2) + 2 * problem.dim
    else:
        kernel = fused.regression_euler_maruyama(problem, chains, lr, batch, "decoupled")
        width = 6
    keys = fused.chain_keys(1, chains)
    passage = np.full((chains, len(NEVER)), -1, dtype=np.int64)
    t0 = time.perf_counter()
    fused.run(
        kernel,
        start_at_minimum(problem, chains).numpy(),
        steps,
        chunk_length(chains, width),
        keys,
        thresholds=NEVER * problem.loss_star,
        passage=passage,
        threads=threads,
    )
    return chains * steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1, help="both kernels (train jobs: 1)")
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=3.0, help="target time per kernel")
    parser.add_argument("--repeats", type=int, default=3, help="best of, per kernel")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lr, batch, n_data = 0.1, 1, 10000

    t0 = time.perf_counter()  # first call: compile, or load numba's cache
    small = Regression(64, 1, 1.0, seed=0)
    fused_rate(small, "sgd", 8, 8, lr, batch, args.threads)
    fused_rate(small, "em", 8, 8, lr, batch, args.threads)
    fused_rate(Regression(64, 2, 1.0, seed=0), "sgd", 8, 8, lr, batch, args.threads)
    compile_s = time.perf_counter() - t0

    results = []
    cases = [("sgd", d) for d in args.dims] + ([("em", 1)] if 1 in args.dims else [])
    for process, dim in cases:
        problem = Regression(n_data, dim, 1.0, seed=0)
        row = {"process": process, "dim": dim, "chains": args.chains, "threads": args.threads}
        kernels = {"torch": (torch_rate, ()), "fused": (fused_rate, (args.threads,))}
        steps = {}
        for name, (rate, extra) in kernels.items():  # warm-up, and steps for --seconds
            probe = rate(problem, process, args.chains, 50, lr, batch, *extra)
            steps[name] = max(50, int(args.seconds * probe / args.chains))
        best = {name: 0.0 for name in kernels}
        for _ in range(args.repeats):  # interleaved: both see the same load on a shared machine
            for name, (rate, extra) in kernels.items():
                r = rate(problem, process, args.chains, steps[name], lr, batch, *extra)
                best[name] = max(best[name], r)
        for name in kernels:
            row[name], row[f"{name}_steps"] = best[name], steps[name]
        row["ratio"] = row["fused"] / row["torch"]
        results.append(row)
        print(
            f"{process:>3} d={dim}: torch {row['torch']:.3g} chain-steps/s, fused "
            f"{row['fused']:.3g} chain-steps/s, ratio {row['ratio']:.1f}×",
            flush=True,
        )
    print(f"fused kernel first call (compile or cache load): {compile_s:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"compile_s": compile_s, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
