"""Benchmark of the `locality` training loop: throughput as a fraction of the machine's measured ceiling.

    python workflow/scripts/benchmark_locality.py --out results/benchmarks/locality.json

One cell's ensemble (members = targets × seeds × {true, shuffled labels}) is trained for a few
epochs by ``fit_to_criterion`` (the criterion set unreachably low, so every epoch runs), at 1
thread (how train jobs run under --cores 2) and at 2 threads. Its useful work is counted in
floating-point operations: per sample and layer, 2·fan_in·fan_out for the forward pass and twice
that for the backward pass, plus one forward pass over the training and test sets per epoch (the
protocol's evaluation). The ceiling is measured in the same run, on the same thread count:

- ``ceiling_shapes``: a batched matmul of the trainer's own shapes, (members, batch, width) @
  (members, width, width), forward only — what these shapes can reach at best;
- ``ceiling_square``: a 1024 × 1024 float32 matmul — the machine's dense peak.

The batched ensemble against the same members one by one is kept as a second number.
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


def matmul_gflops(a: torch.Tensor, b: torch.Tensor, repeats: int) -> float:
    """Best-of-3 GFLOP/s of a @ b (batched if 3-d)."""
    flops = 2 * a.shape[-2] * a.shape[-1] * b.shape[-1] * (a.shape[0] if a.dim() == 3 else 1)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeats)
    return flops / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/locality.json")
    parser.add_argument("--members", type=int, default=40, help="targets × seeds × 2 of one cell")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--one-by-one", type=int, default=4, help="members timed alone (×)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    d, m = 32, args.members
    seeds = member_seeds(1, m)
    x = torch.stack([loc.sample_inputs(args.n_train, d, "binary", s) for s in seeds]).float()
    x_test = torch.stack([loc.sample_inputs(args.n_test, d, "binary", s + 1) for s in seeds])
    x_test = x_test.float()
    y, y_test = loc.labels(x, "local", 2), loc.labels(x_test, "local", 2)
    p = {
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": args.batch_size,
        "max_epochs": args.epochs,
        "loss": "cross_entropy",
        "loss_target": 1e-30,  # never met: every epoch runs
        "eval_every": args.eval_every,
    }
    sizes = [d] + [args.width] * args.depth + [1]
    layer_flops = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))  # one sample, forward
    # per epoch and member: forward + backward (3×) on N, a forward over N (train error/loss),
    # and a test forward every eval_every epochs
    per_member_epoch = layer_flops * (
        3 * args.n_train + args.n_train + args.n_test / args.eval_every
    )

    def run(members: slice) -> float:
        model = loc.he_mlp(d, args.width, args.depth, seeds[members], torch.float32, "cpu")
        start = time.perf_counter()
        loc.fit_to_criterion(
            model, x[members], y[members], x_test[members], y_test[members], p, generator(0)
        )
        return time.perf_counter() - start

    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        run(slice(0, 1))  # warm-up: first-call allocations
        batched = run(slice(0, m))
        one = sum(run(slice(i, i + 1)) for i in range(args.one_by_one)) / args.one_by_one
        achieved = per_member_epoch * m * args.epochs / batched / 1e9
        a = torch.randn(m, args.batch_size, args.width)
        w = torch.randn(m, args.width, args.width)
        shapes = matmul_gflops(a, w, 20)
        square = matmul_gflops(torch.randn(1024, 1024), torch.randn(1024, 1024), 5)
        results.append(
            {
                "threads": threads,
                "batched_s": batched,
                "one_by_one_s": one * m,
                "speedup": one * m / batched,
                "achieved_gflops": achieved,
                "ceiling_shapes_gflops": shapes,
                "ceiling_square_gflops": square,
                "fraction_of_shapes_ceiling": achieved / shapes,
                "fraction_of_square_ceiling": achieved / square,
            }
        )
        print(json.dumps(results[-1]), flush=True)
    result = {
        "claim": "locality",
        "what": "fit_to_criterion throughput vs the measured matmul ceiling (same run); batched "
        "ensemble vs members one by one (extrapolated from --one-by-one members)",
        "members": m,
        "depth": args.depth,
        "width": args.width,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "batch_size": args.batch_size,
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
