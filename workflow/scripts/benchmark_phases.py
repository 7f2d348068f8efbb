"""Benchmark of claim `phases`: batched-ensemble SGD against training the same models one by one,
and the batched trainers' throughput as a fraction of the machine's measured ceiling.

Both arms train the same members (noise levels × seeds of the default config: the MLP on digits,
the 1-D CNN on MNIST-1D) for the same number of plain-SGD steps with the same code
(`paperclaims.training.train_sgd`); the one-by-one arm makes a one-member ensemble per model. The
ceiling is a float32 matmul (1024²) timed in the same run at the same threads; a trainer's
throughput is its model FLOPs (forward + backward ≈ 3× the forward's multiply-adds × 2) per second.
The goal of issue 17: ≥ 30 % of the ceiling.

    python workflow/scripts/benchmark_phases.py --out results/benchmarks/phases.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from paperclaims import data
from paperclaims.claims.phases.cnn import EnsembleCNN
from paperclaims.claims.phases.train import _member_seeds, corrupt_labels
from paperclaims.nets import EnsembleMLP
from paperclaims.seeds import derive_seed, generator
from paperclaims.training import train_sgd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/phases.json")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.2, 0.4])
    parser.add_argument("--n-seeds", type=int, default=5)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=50)
    # 1 thread per arm is how train jobs run under --cores 2 (two jobs side by side); 2 threads is
    # one job given both cores. Both arms get the same threads at each setting.
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="best of this many timings per arm")

    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--depth", type=int, default=2)
    args = parser.parse_args()
    seeds = _member_seeds(1, args.noise, args.n_seeds)
    rhos = np.repeat(args.noise, args.n_seeds)
    models = {}
    for name, n in (("digits", 1000), ("mnist1d", 4000)):
        ds = data.load(name, seed=0, n_train=n)
        labels = np.stack(
            [
                corrupt_labels(ds.y_train[:n], rho, 10, derive_seed(s, "labels"))[0]
                for rho, s in zip(rhos, seeds)
            ]
        )
        models[name] = (torch.as_tensor(ds.x_train[:n]), torch.as_tensor(labels))
    width, channels, depth, b = args.width, args.channels, args.depth, args.batch_size
    x_mlp, _ = models["digits"]
    sizes = [x_mlp.shape[1]] + [width] * depth + [10]
    length = models["mnist1d"][0].shape[1]

    def make(name, member_seeds):
        if name == "digits":
            return EnsembleMLP(sizes, member_seeds, "relu")
        return EnsembleCNN(length, 10, member_seeds, channels=channels, depth=depth)

    def flops_per_member_step(name) -> float:
        """Multiply-adds × 2 of one forward pass on a minibatch, × 3 for forward + backward."""
        if name == "digits":
            macs = sum(a * c for a, c in zip(sizes[:-1], sizes[1:]))
        else:
            cnn = make(name, [0])
            macs, size, c_in = 0, length, 1
            for _ in range(depth):
                size = (size + 2 * cnn.pad - cnn.kernel) // 2 + 1
                macs += size * channels * c_in * cnn.kernel
                c_in = channels
            macs += cnn.flat * 10
        return 3 * 2 * b * macs

    def ceiling_flops() -> float:
        a = torch.randn(1024, 1024)
        c = torch.randn(1024, 1024)
        a @ c
        t0 = time.perf_counter()
        for _ in range(20):
            a @ c
        return 20 * 2 * 1024**3 / (time.perf_counter() - t0)

    def batched(name):
        x, labels = models[name]
        train_sgd(
            make(name, seeds),
            x,
            labels,
            steps=args.steps,
            lr=0.1,
            batch_size=b,
            gens=[generator(k) for k in range(len(seeds))],
        )

    def one_by_one(name):
        x, labels = models[name]
        for k, seed in enumerate(seeds):  # the baseline: a Python loop over models
            train_sgd(
                make(name, [seed]),
                x,
                labels[k : k + 1],
                steps=args.steps,
                lr=0.1,
                batch_size=b,
                gens=[generator(k)],
            )

    def best_time(fn, name):
        fn(name)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn(name)
            times.append(time.perf_counter() - t0)
        return min(times)

    members = len(seeds)
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        ceiling = max(ceiling_flops() for _ in range(args.repeats))
        for name in models:
            t_batched, t_loop = best_time(batched, name), best_time(one_by_one, name)
            achieved = flops_per_member_step(name) * members * args.steps / t_batched
            results.append(
                {
                    "model": "MLP" if name == "digits" else "CNN",
                    "dataset": name,
                    "threads": threads,
                    "batched_s": t_batched,
                    "one_by_one_s": t_loop,
                    "batched_member_steps_per_s": members * args.steps / t_batched,
                    "one_by_one_member_steps_per_s": members * args.steps / t_loop,
                    "speedup": t_loop / t_batched,
                    "batched_gflops": achieved / 1e9,
                    "ceiling_gflops": ceiling / 1e9,
                    "fraction_of_ceiling": achieved / ceiling,
                }
            )
            print(
                f"{name} ({results[-1]['model']}), {threads} thread(s): batched {t_batched:.2f} s, "
                f"one by one {t_loop:.2f} s → speedup {t_loop / t_batched:.1f}× ({members} "
                f"members, {args.steps} steps); {achieved / 1e9:.2f} GFLOP/s = "
                f"{achieved / ceiling:.1%} of the {ceiling / 1e9:.1f} GFLOP/s matmul ceiling"
            )
    result = {
        "claim": "phases",
        "what": "plain-SGD training of the ensembles (noise levels × seeds): MLP on digits, 1-D "
        "CNN on MNIST-1D; throughput against a float32 1024² matmul measured in the same run",
        "members": members,
        "steps": args.steps,
        "width": args.width,
        "channels": args.channels,
        "depth": args.depth,
        "batch_size": args.batch_size,
        "goal": "speedup ≥ 5 on 2 cores; ≥ 30 % of the measured ceiling (issue 17)",
        "results": results,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
