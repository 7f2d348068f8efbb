"""Claim `locality`: diagnostic of the learning-rate departure (issue 18, third pass). Not part of
the pipeline and no input to any check: it asks whether the k-local contradicts (depth 10 worse
than depth 1) hinge on every depth sharing Adam's lr.

    python -m paperclaims.claims.locality.lr_diagnostic --out workflow/paperclaims/claims/locality/lr_diagnostic.json

local_k2 at the pilot's N, depths 1 and 10, lr ∈ {lr/3, lr, 3·lr, 10·lr} of the default config, a few
seeds of their own, the default protocol otherwise (train to mean training loss ≤ loss_target).
Read: the epoch each run meets the training-loss criterion, its training error over epochs (how
fast and how smoothly it fits), and — for the report only — its test error at the criterion.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from paperclaims.claims.locality import train as loc
from paperclaims.seeds import generator, member_seeds

BASE = dict(width=128, optimizer="adam", lr=1e-3, batch_size=64, max_epochs=300)
BASE.update(loss="cross_entropy", loss_target=0.01, eval_every=5)
FACTORS = (1 / 3, 1.0, 3.0, 10.0)  # ×10 added after the first three: does depth 10 ever win?
DEPTHS = (1, 10)
SEEDS = 4
DIAG_SEED = 18_500  # the diagnostic's own seeds


def run(n: int, depth: int, lr: float, validation: float = 0.0) -> dict:
    """With ``validation`` > 0, that fraction of the N training points is held out and stands in
    for the test set (training data only: what a per-depth lr rule could read)."""
    p = {**BASE, "lr": lr, "n_seeds": SEEDS, "d": 32, "n_train": n, "n_test": 2000}
    p.update(inputs="binary", family="A", targets=["local_k2"])
    p.update(train_seed=DIAG_SEED + 1, test_seed=DIAG_SEED + 2)
    x, y, xt, yt, _ = loc.dataset(p)
    if validation:
        n_val = int(round(validation * n))
        x, xt, y, yt = x[:, n_val:], x[:, :n_val], y[:, n_val:], y[:, :n_val]
    model = loc.he_mlp(
        32, p["width"], depth, member_seeds(DIAG_SEED + depth, SEEDS), torch.float32, "cpu"
    )
    out = loc.fit_to_criterion(
        model, x.float(), y[..., 0].float(), xt.float(), yt[..., 0].float(), p, generator(DIAG_SEED)
    )
    train_err = out["train_error"][:, : int(out["stop_epoch"][0])]
    # non-monotone fitting: the largest rise of the training error after it first hit its minimum
    rises = [float((e - torch.cummin(e, 0).values).max()) for e in train_err]
    return {
        "depth": depth,
        "lr": lr,
        "criterion_epoch": out["criterion_epoch"].tolist(),
        "fit_epoch": out["fit_epoch"].tolist(),
        "train_loss": out["train_loss"].tolist(),
        "max_train_error_rise": rises,
        "train_error_epoch_10": train_err[:, min(9, train_err.shape[1] - 1)].tolist(),
        "test_error": out["test_error"].tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="workflow/paperclaims/claims/locality/lr_diagnostic.json")
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument(
        "--validation", type=float, default=0.0, help="held-out fraction read in place of test"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for factor in FACTORS:
        for depth in DEPTHS:
            t0 = time.perf_counter()
            r = run(args.n_train, depth, BASE["lr"] * factor, args.validation)
            rows.append(r)
            print(
                f"lr {r['lr']:.2e} depth {depth}: criterion epoch {r['criterion_epoch']}, "
                f"fit epoch {r['fit_epoch']}, train error at epoch 10 "
                f"{np.round(r['train_error_epoch_10'], 3).tolist()}, max rise "
                f"{np.round(r['max_train_error_rise'], 3).tolist()}; test error "
                f"{np.mean(r['test_error']):.3f} ± {np.std(r['test_error'], ddof=1) / 2:.3f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    Path(args.out).write_text(
        json.dumps(
            {"n_train": args.n_train, "validation": args.validation, "base": BASE, "runs": rows},
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
