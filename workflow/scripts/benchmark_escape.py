"""Chain-steps per second of the batched SGD-chain kernel against a per-chain loop, one run.

    python workflow/scripts/benchmark_escape.py --out results/benchmarks/escape.json

Both sides run the same kernel (paperclaims.claims.escape.train, d-dimensional linear regression,
minibatch SGD); the loop advances one chain at a time, the batched kernel all chains as one
float64 tensor. The ratio of the two rates is the speed-up (goal ≥ 100×).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from paperclaims.claims.escape.train import Regression, start_at_minimum
from paperclaims.seeds import generator
from paperclaims.sgd import chunk_length, run_chains


def chain_steps_per_second(problem: Regression, chains: int, steps: int, seed: int) -> float:
    gen = generator(seed)
    next_chunk, update = problem.sgd(gen, chains, lr=0.1, batch=1)
    start = time.perf_counter()
    run_chains(
        start_at_minimum(problem, chains),
        steps,
        next_chunk,
        update,
        chunk_length(chains, 4 * problem.dim + 3),
        lambda trajectory, first: bool(problem.loss(trajectory).isnan().any()),
    )
    return chains * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/escape.json")
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--chains", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--loop-chains", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for dim in args.dims:
        problem = Regression(10_000, dim, 1.0, seed=0)
        batched = chain_steps_per_second(problem, args.chains, args.steps, seed=1)
        # one chain at a time: the same kernel with a (1, d) tensor, looped over chains
        start = time.perf_counter()
        for chain in range(args.loop_chains):
            chain_steps_per_second(problem, 1, args.steps, seed=100 + chain)
        looped = args.loop_chains * args.steps / (time.perf_counter() - start)
        results.append(
            {
                "dim": dim,
                "batched_chains": args.chains,
                "batched_chain_steps_per_s": batched,
                "per_chain_loop_chain_steps_per_s": looped,
                "ratio": batched / looped,
            }
        )
        print(
            f"d = {dim}: batched {batched:.3g} chain-steps/s ({args.chains} chains), "
            f"per-chain loop {looped:.3g} chain-steps/s, ratio {batched / looped:.0f}×"
        )
    report = {
        "benchmark": "escape SGD-chain kernel: batched vs per-chain loop",
        "steps": args.steps,
        "threads": 1,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
