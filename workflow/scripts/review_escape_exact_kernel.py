"""Review script (not a pipeline step): the exact mean first-passage times of one-sample SGD
(d = 1, B = 1) on the discreteness cells' data sets, against the discrete Gaussian chain with the
same per-step mean and variance, at any η — no simulation, no extrapolation.

    python workflow/scripts/review_escape_exact_kernel.py --lr 0.1,0.05,0.025

The SGD step u' = u(1 − ηx²) + ηxr (u = θ − θ*, r = y − xθ*) with (x, r) one of the N samples
is a mixture of N point masses: on a grid over the escape interval |u| < a(c), with each mass
split linearly between its two grid neighbours, the mean exit steps T solve (I − P) T = 1.
Written for the review of 2026-12-02 (issue 15): it reproduced the measured cells (+44% at
η = 0.1, +13% at 0.2, −10% at 0.4) and showed the excess growing toward the large-deviation
limit (analysis.large_deviation_exit_costs) as η shrinks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.linalg as sl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from paperclaims.claims.escape.analysis import gaussian_chain_passage_steps  # noqa: E402
from paperclaims.claims.escape.train import Regression  # noqa: E402
from paperclaims.seeds import derive_seed  # noqa: E402

C = np.array([1.2, 1.3, 1.4, 1.5, 1.6, 1.8])  # the discreteness cells' thresholds (schema)


def sgd_exit_steps(problem: Regression, lr: float, c: float, n_grid: int = 1001) -> float:
    x = problem.x[:, 0].double().numpy()
    moments = problem.moments()
    r = problem.y.double().numpy() - x * moments["theta_star"]
    a = np.sqrt(2 * (c - 1) * moments["loss_star"] / moments["h"])
    u = np.linspace(-a, a, n_grid)
    du = u[1] - u[0]
    nxt = u[:, None] * (1 - lr * x * x)[None, :] + (lr * x * r)[None, :]  # (grid, N)
    inside = np.abs(nxt) < a
    pos = (nxt + a) / du
    j = np.clip(np.floor(pos).astype(np.int64), 0, n_grid - 2)
    f = pos - j
    rows = np.broadcast_to(np.arange(n_grid)[:, None], nxt.shape)
    w = inside / x.size
    ri, ji, wi, fi = rows[inside], j[inside], w[inside], f[inside]
    size = n_grid * n_grid
    p = np.bincount(ri * n_grid + ji, wi * (1 - fi), size)
    p = (p + np.bincount(ri * n_grid + ji + 1, wi * fi, size)).reshape(n_grid, n_grid)
    # I − P with a subtraction-free diagonal: exit probability + the row's off-diagonal mass
    a_mat = -p.astype(np.longdouble)
    off = p.sum(1) - np.diag(p)
    a_mat[np.arange(n_grid), np.arange(n_grid)] = (1 - inside.mean(1)) + off
    lu = sl.lu_factor(a_mat.astype(float))
    t = sl.lu_solve(lu, np.ones(n_grid)).astype(np.longdouble)
    for _ in range(6):  # iterative refinement in long double
        t = t + sl.lu_solve(lu, (1 - a_mat @ t).astype(float)).astype(np.longdouble)
    return float(t[n_grid // 2])


def log_log_slope(times: np.ndarray) -> float:
    return float(np.polyfit(np.log(C), np.log(times), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", default="0.1")
    parser.add_argument("--datasets", type=int, default=8)
    parser.add_argument("--base-seed", type=int, default=20201206)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data_seed = derive_seed(args.base_seed, "escape", "discreteness", "data")
    problems = [Regression(10000, 1, 1.0, derive_seed(data_seed, g)) for g in range(args.datasets)]
    for lr in (float(v) for v in args.lr.split(",")):
        sgd = np.array([[sgd_exit_steps(q, lr, c) for c in C] for q in problems]) * lr
        chain = (
            np.array(
                [
                    [gaussian_chain_passage_steps(q.moments(), lr, 1, c, "exact", 400) for c in C]
                    for q in problems
                ]
            )
            * lr
        )
        s, g = log_log_slope(sgd.mean(0)), log_log_slope(chain.mean(0))
        per_set = [log_log_slope(a) / log_log_slope(b) - 1 for a, b in zip(sgd, chain)]
        print(
            f"η = {lr:g}: slope SGD {s:.3f}, Gaussian chain {g:.3f}, excess {s / g - 1:+.1%} "
            f"(per data set {min(per_set):+.1%} to {max(per_set):+.1%})",
            flush=True,
        )


if __name__ == "__main__":
    main()
