"""Throughput of the periodic claim's extrapolation trainer against this machine's ceiling.

    PYTHONPATH=workflow python workflow/scripts/benchmark_periodic.py [--steps 200] [--threads 1]

Measures, in the same run and on the default shapes (8 activation cells × 5 seeds, 1–512–1 nets,
64 training points):

- the ceilings: a large float32 matmul (FLOP/s) and an elementwise add on a tensor of the trainer's
  size M × N × H (bytes/s: 3 × 4 bytes per element, 2 reads and 1 write);
- the trainer (``train.OneHidden`` + ``train.heavy_ball``): steps/s, and its FLOP/s and bytes/s
  from the counts of its code (per step: 3 bmm over M × N × H, 2 FLOP per element each, and the
  first layer's multiply-add; 7 passes of 4 bytes over M × N × H: z, φ written, ψ read and written
  in place, φ read twice and ψ once by the bmm);
- batched against one model at a time (the same trainer with M = 1, one model per cell), and
  against main's design before issue 16 (autograd EnsembleMLP + torch.optim.SGD, one cell at a
  time with its seeds batched).

Numbers on a shared machine are inflated by contention; run it alone for the README.
"""

from __future__ import annotations

import argparse
import time

import torch
from paperclaims.claims.periodic import train
from paperclaims.nets import EnsembleMLP
from paperclaims.seeds import member_seeds

CELLS = ["relu", "tanh", "sin", "x_plus_sin", "snake_a5.5", "snake_a10", "snake_a20", "snake_a30"]


def _best(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _problem(cells, n_seeds, width, n_per_side):
    seeds = member_seeds(1, n_seeds)
    x = torch.stack([train.train_inputs(n_per_side, s) for s in seeds]).repeat(len(cells), 1)
    x = x[..., None].float()
    model = train.OneHidden.init(cells, seeds, width, "uniform", torch.float32, "cpu")
    return model, x, train.target("sin", x)


def trainer_seconds(cells, n_seeds, width, n_per_side, steps) -> float:
    model, x, y = _problem(cells, n_seeds, width, n_per_side)
    lr = torch.full((x.shape[0], 1, 1), 1e-3)
    train.heavy_ball(model, x, y, steps=5, lr=lr, momentum=0.9)  # warm-up
    return _best(lambda: train.heavy_ball(model, x, y, steps=steps, lr=lr, momentum=0.9), 2)


def autograd_seconds(cells, n_seeds, width, n_per_side, steps) -> float:
    """main's design: one EnsembleMLP per cell (seeds batched), autograd and torch.optim.SGD."""
    seeds = member_seeds(1, n_seeds)
    x = torch.stack([train.train_inputs(n_per_side, s) for s in seeds])[..., None].float()
    y = train.target("sin", x)
    total = 0.0
    for cell in cells:
        name, a = train.parse_activation(cell)
        model = EnsembleMLP([1, width, 1], seeds, name, snake_a=a)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        def run(model=model, opt=opt):
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                ((model(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
                opt.step()

        total += _best(run, 2)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--per-side", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    m, n, h = len(CELLS) * args.seeds, 2 * args.per_side, args.width
    size = m * n * h

    a = torch.randn(2048, 2048)
    matmul = _best(lambda: a @ a)
    flops_ceiling = 2 * 2048**3 / matmul
    u, v, out = torch.randn(m, n, h), torch.randn(m, n, h), torch.empty(m, n, h)
    add = _best(lambda: [torch.add(u, v, out=out) for _ in range(20)]) / 20
    bytes_ceiling = 3 * 4 * size / add

    batched = trainer_seconds(CELLS, args.seeds, h, args.per_side, args.steps)
    per_step = batched / args.steps
    flops = (3 * 2 + 2) * size / per_step
    bytes_per_s = 7 * 4 * size / per_step
    single = sum(trainer_seconds([c], 1, h, args.per_side, args.steps) for c in CELLS)
    single *= args.seeds  # every seed of every cell, one model at a time
    autograd = autograd_seconds(CELLS, args.seeds, h, args.per_side, args.steps)

    print(
        f"shape: {len(CELLS)} cells × {args.seeds} seeds = {m} nets, 1–{h}–1, {n} points; "
        f"{args.threads} thread(s), {args.steps} steps"
    )
    print(
        f"ceiling: matmul {flops_ceiling / 1e9:.1f} GFLOP/s; elementwise add on M×N×H "
        f"{bytes_ceiling / 1e9:.1f} GB/s"
    )
    print(
        f"trainer: {1e3 * per_step:.2f} ms/step ({1 / per_step:.0f} steps/s); "
        f"{flops / 1e9:.2f} GFLOP/s = {flops / flops_ceiling:.0%} of the matmul ceiling; "
        f"{bytes_per_s / 1e9:.1f} GB/s = {bytes_per_s / bytes_ceiling:.0%} of the elementwise "
        "ceiling"
    )
    print(f"15 000 steps of one target (all {m} nets): {15000 * per_step:.0f} s")
    print(f"batched vs one model at a time: {single / batched:.1f}× faster")
    print(
        f"vs main's autograd trainer (one cell at a time, seeds batched): "
        f"{autograd / batched:.1f}× faster"
    )


if __name__ == "__main__":
    main()
