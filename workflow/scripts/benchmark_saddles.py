"""Benchmark of the `saddles` phase-diagram kernel: all (λ, σ) cells × chains as one tensor vs the
same cells advanced one by one (each cell still batching its chains), measured in one run.

    python workflow/scripts/benchmark_saddles.py --out results/benchmarks/saddles.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from paperclaims.claims.saddles.train import lr_grid, run_phase_chains
from paperclaims.seeds import generator


def timed(lrs, noise, args) -> float:
    start = time.perf_counter()
    run_phase_chains(
        lrs,
        noise,
        batch=args.batch,
        slope=0.25,
        chains=args.chains,
        steps=args.steps,
        init_scale=0.01,
        window=0.1,
        gen=generator(0),
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/saddles.json")
    parser.add_argument("--lr-points", type=int, default=24)
    parser.add_argument("--noise-points", type=int, default=11)
    parser.add_argument("--chains", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    lrs = torch.as_tensor(lr_grid(0.01, 3, args.lr_points), dtype=torch.float64)
    noise = torch.linspace(0, 5, args.noise_points, dtype=torch.float64)
    batched = timed(lrs, noise, args)
    one_by_one = sum(
        timed(lrs[i : i + 1], noise[j : j + 1], args)
        for i in range(len(lrs))
        for j in range(len(noise))
    )
    result = {
        "claim": "saddles",
        "kernel": "SGD on f = u·w·x (run_phase_chains)",
        "cells": len(lrs) * len(noise),
        "chains_per_cell": args.chains,
        "batch_size": args.batch,
        "steps": args.steps,
        "threads": 1,
        "batched_s": batched,
        "one_by_one_s": one_by_one,
        "speedup": one_by_one / batched,
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
