"""Benchmark of the `locality` training loop: one batched ensemble vs the same members one by one.

    python workflow/scripts/benchmark_locality.py --out results/benchmarks/locality.json

Both arms train the same members on the same data for the same number of epochs (the epoch
cap is set low enough that no member fits its training set early), in one process, at 1 thread (how
train jobs run under --cores 2) and at 2 threads (one job given both cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from paperclaims.claims.locality import train as loc
from paperclaims.seeds import generator, member_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/locality.json")
    parser.add_argument("--members", type=int, default=12, help="targets × seeds of one cell")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    d, n_test = 32, 500
    seeds = member_seeds(1, args.members)
    x = torch.stack([loc.sample_inputs(args.n_train, d, "binary", s) for s in seeds]).float()
    x_test = torch.stack([loc.sample_inputs(n_test, d, "binary", s + 1) for s in seeds]).float()
    y, y_test = loc.labels(x, "local", 3), loc.labels(x_test, "local", 3)
    p = {
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 64,
        "max_epochs": args.epochs,
        "loss": "cross_entropy",
    }

    def run(members: slice) -> float:
        model = loc.he_mlp(d, args.width, args.depth, seeds[members], torch.float32, "cpu")
        start = time.perf_counter()
        loc.fit_to_zero_error(
            model, x[members], y[members], x_test[members], y_test[members], p, generator(0)
        )
        return time.perf_counter() - start

    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        run(slice(0, 1))  # warm-up: first-call allocations
        batched = run(slice(0, args.members))
        one_by_one = sum(run(slice(i, i + 1)) for i in range(args.members))
        results.append(
            {
                "threads": threads,
                "batched_s": batched,
                "one_by_one_s": one_by_one,
                "speedup": one_by_one / batched,
            }
        )
    result = {
        "claim": "locality",
        "what": "fit_to_zero_error: one batched ensemble vs a Python loop over members",
        "members": args.members,
        "depth": args.depth,
        "width": args.width,
        "n_train": args.n_train,
        "epochs": args.epochs,
        "results": results,
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
