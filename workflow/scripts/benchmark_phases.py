"""Benchmark of claim `phases`: batched-ensemble SGD against training the same models one by one.

Both arms train the same members (noise levels × seeds of the default config, MLP on digits) for
the same number of plain-SGD steps with the same code (`paperclaims.training.train_sgd`); the
one-by-one arm makes a one-member ensemble per model. The ratio is measured in one run.

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
    args = parser.parse_args()

    ds = data.load("digits", seed=0)
    x = torch.as_tensor(ds.x_train[:1000])
    seeds = _member_seeds(1, args.noise, args.n_seeds)
    rhos = np.repeat(args.noise, args.n_seeds)
    labels = torch.as_tensor(
        np.stack(
            [
                corrupt_labels(ds.y_train[:1000], rho, 10, derive_seed(s, "labels"))[0]
                for rho, s in zip(rhos, seeds)
            ]
        )
    )
    sizes = [x.shape[1], args.width, args.width, 10]

    def batched():
        model = EnsembleMLP(sizes, seeds, "relu")
        train_sgd(
            model, x, labels, steps=args.steps, lr=0.1, batch_size=args.batch_size, gen=generator(0)
        )

    def one_by_one():
        for k, seed in enumerate(seeds):  # the baseline: a Python loop over models
            model = EnsembleMLP(sizes, [seed], "relu")
            train_sgd(
                model,
                x,
                labels[k : k + 1],
                steps=args.steps,
                lr=0.1,
                batch_size=args.batch_size,
                gen=generator(k),
            )

    def best_time(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    members = len(seeds)
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        t_batched, t_loop = best_time(batched), best_time(one_by_one)
        results.append(
            {
                "threads": threads,
                "batched_s": t_batched,
                "one_by_one_s": t_loop,
                "batched_member_steps_per_s": members * args.steps / t_batched,
                "one_by_one_member_steps_per_s": members * args.steps / t_loop,
                "speedup": t_loop / t_batched,
            }
        )
        print(
            f"{threads} thread(s): batched {t_batched:.2f} s, one by one {t_loop:.2f} s → "
            f"speedup {t_loop / t_batched:.1f}× ({members} members, {args.steps} steps)"
        )
    result = {
        "claim": "phases",
        "what": "plain-SGD training of an MLP ensemble (noise levels × seeds) on digits",
        "members": members,
        "steps": args.steps,
        "width": args.width,
        "batch_size": args.batch_size,
        "goal": "speedup ≥ 5 on 2 cores",
        "results": results,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
