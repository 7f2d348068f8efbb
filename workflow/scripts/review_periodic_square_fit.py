"""Review script (not a pipeline step): how the square-wave nets' training fit evolves past the
training criterion's cap, with the default job's data, seeds and step-size rule.

    python workflow/scripts/review_periodic_square_fit.py --blocks 6

Trains the checked cells (relu, tanh, the headline Snake) of the `square` extrapolation job —
the same inputs, initial weights and heavy-ball SGD as train.train_extrapolation, one momentum
buffer throughout — for ``--blocks`` × 15 000 steps, and prints per block each cell's median
training MSE / variance (the fit preconditions' quantity, level train.FIT_LEVEL = 0.1) and at the
end its median extrapolation ratio (trivial predictor's MSE over the net's, the checks'
quantity). Written for issue 16 (2026-12-02): whether the square-wave checks are inconclusive for
lack of steps or because the fit stalls.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from paperclaims.claims.periodic import train  # noqa: E402
from paperclaims.seeds import derive_seed, member_seeds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--block-steps", type=int, default=15000)
    ap.add_argument("--n-seeds", type=int, default=5)
    ap.add_argument("--base-seed", type=int, default=20201206, help="config.yaml's seed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cells = ["relu", "tanh", "snake_a10"]
    # the job's cell seed: seed("{target}") of claim.ExtrapolationParams (registry.py)
    cell_seed = derive_seed(args.base_seed, "periodic", "square")
    seeds = member_seeds(cell_seed, args.n_seeds)
    x_seed = torch.stack([train.train_inputs(32, s) for s in seeds])
    x = x_seed.repeat(len(cells), 1)[..., None].float()
    y = train.target("square", x)
    var = y.var(dim=1, unbiased=False).view(len(cells), -1)
    model = train.OneHidden.init(cells, seeds, 512, "uniform", torch.float32, "cpu")
    rates = train.step_sizes(model.gauss_newton_top(x), model.groups, 1e-2, 0.9)
    lr = torch.tensor([rates[c] for c in cells for _ in seeds]).view(-1, 1, 1)
    total = args.blocks * args.block_steps
    ends = []
    when, loss = train.heavy_ball(model, x, y, steps=total, lr=lr, momentum=0.9)
    ratio = loss.view(len(cells), len(seeds), -1) / var[..., None]
    for b in range(1, args.blocks + 1):
        k = int(np.searchsorted(when, b * args.block_steps, side="right")) - 1
        ends.append((when[k], ratio[..., k].median(dim=1).values))
    print("median training MSE / variance (level 0.1) at the end of each block:")
    for step, med in ends:
        print(f"  step {step:>7}: " + ", ".join(f"{c} {float(m):.4f}" for c, m in zip(cells, med)))
    grid = torch.linspace(-3.5, 3.5, 1401).view(1, -1, 1)
    with torch.no_grad():
        pred = model(grid.expand(x.shape[0], -1, -1))[..., 0].view(len(cells), len(seeds), -1)
    g = grid.view(-1)
    outside = g.abs() > 1
    truth = train.target("square", g[outside])
    # every cell has the same training targets per seed: the trivial predictor is their mean
    trivial = ((y.view(len(cells), len(seeds), -1)[0].mean(1, keepdim=True) - truth) ** 2).mean(1)
    for c, p in zip(cells, pred):
        mse = ((p[:, outside] - truth) ** 2).mean(1)
        print(f"{c}: median trivial MSE / extrapolation MSE {float((trivial / mse).median()):.3g}")


if __name__ == "__main__":
    main()
