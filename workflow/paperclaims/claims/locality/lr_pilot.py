"""Claim `locality`: the learning-rate pilot that chooses Adam's lr per label type and depth from
training data only, before the run that computes the checks (issue 18, third pass).

    python -m paperclaims.claims.locality.lr_pilot --out workflow/paperclaims/claims/locality/lr_pilot.json

Why: every depth shared one lr (1e-3), a departure from a paper that would tune its nets; the
diagnostic (lr_diagnostic.py, .log) found depth 10's k-local error moves from 0.37 to 0.01 between
lr 1e-3 and 1e-2 while depth 1's stays at 0.02, so one shared lr decides the depth trend.

The rule (stated and committed before the pilot ran; it reads no test set and no result of the
pipeline's run):

1. For each target (label type, k) at its configured N and each configured depth, and each lr in
   ``LR_GRID``: ``PILOT_SEEDS`` nets on the pilot's own data seeds, each trained under the
   protocol (train.loss_target criterion, train.max_epochs cap) on the first 1 − ``VAL_FRACTION``
   of its N training points; its **validation error** is read on the held-out ``VAL_FRACTION``
   at the criterion epoch.
2. An lr is eligible when every seed met the criterion; the chosen lr is the eligible one with the
   lowest mean validation error (ties: the smaller lr). With none eligible, the config's lr.
3. One lr per (label type, depth) — with several k or N per label type, the first of each (the
   default grid has one of each).
4. Grid edge (added before the full pilot ran, after the partial run chose the old grid's top
   3e-2 at every finished depth): when the chosen lr is the largest lr tried, the grid is extended
   upward by ×3 steps (one more lr each time, rules 1–2 reapplied) until the choice is not the
   largest tried — i.e. it is interior, or the next lr up misses the criterion (diverges) or is
   worse — at most ``MAX_EXTEND`` steps (then the top is kept and flagged ``at_edge``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from paperclaims.claims.locality import train as loc
from paperclaims.seeds import generator, member_seeds

LR_GRID = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # widened upward: the old top 3e-2 was chosen
MAX_EXTEND = 3  # rule 4: at most this many ×3 steps above the grid
VAL_FRACTION = 0.2
PILOT_SEEDS = 4
PILOT_BASE_SEED = 18_700  # the pilot's own seeds (the pipeline's derive from its base seed)


def validation_run(cfg: dict, kind: str, k: int, n: int, depth: int, lr: float) -> dict:
    """Rule 1: validation error (seed,) and criterion epochs of nets trained on a split of N."""
    p = {**cfg["train"], "lr": lr, "n_seeds": PILOT_SEEDS, "n_train": n, "n_test": 1}
    p.update(d=cfg["d"], inputs=cfg["inputs"], family=cfg["family"], targets=[f"{kind}_k{k}"])
    p.update(train_seed=PILOT_BASE_SEED + n, test_seed=PILOT_BASE_SEED + 1)
    x, y, _, _, _ = loc.dataset(p)
    n_val = int(round(VAL_FRACTION * n))
    xv, yv, x, y = x[:, :n_val], y[:, :n_val, 0], x[:, n_val:], y[:, n_val:, 0]
    seeds = member_seeds(PILOT_BASE_SEED + 100 * depth + k, PILOT_SEEDS)
    model = loc.he_mlp(cfg["d"], p["width"], depth, seeds, torch.float32, "cpu")
    out = loc.fit_to_criterion(
        model, x.float(), y.float(), xv.float(), yv.float(), p, generator(seeds[0])
    )
    return {
        "lr": lr,
        "validation_error": out["test_error"].tolist(),
        "criterion_epoch": out["criterion_epoch"].tolist(),
    }


def choose_lr(runs: list[dict], default: float) -> float:
    """Rule 2: the eligible lr (every seed met the criterion) with the lowest mean validation
    error, ties to the smaller lr; ``default`` when none is eligible."""
    ok = [r for r in runs if all(e > 0 for e in r["criterion_epoch"])]
    if not ok:
        return default
    # means rounded so that equal errors (multiples of 1 / n_val) tie exactly
    return min(ok, key=lambda r: (round(float(np.mean(r["validation_error"])), 9), r["lr"]))["lr"]


def merge(paths: list[str]) -> dict:
    """Partial outputs (runs split by --labels / --depths) as one: cells in label, depth order,
    chosen lrs per label aligned with the depths (None where a depth has not run)."""
    parts = [json.loads(Path(q).read_text()) for q in paths]
    out = {k: v for k, v in parts[0].items() if k not in ("cells", "chosen", "seconds")}
    cells = {(c["label"], c["depth"]): c for part in parts for c in part["cells"]}
    labels = list(dict.fromkeys(label for label, _ in cells))
    out["cells"] = [cells[(lb, d)] for lb in labels for d in out["depths"] if (lb, d) in cells]
    # a depth not run yet: None (the config cannot take a partial pilot's choice)
    out["chosen"] = {
        lb: [cells[(lb, d)]["lr"] if (lb, d) in cells else None for d in out["depths"]]
        for lb in labels
    }
    out["seconds"] = round(sum(part["seconds"] for part in parts), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--out", default="workflow/paperclaims/claims/locality/lr_pilot.json")
    parser.add_argument("--labels", nargs="*", help="only these label types (default: all)")
    parser.add_argument("--depths", nargs="*", type=int, help="only these depths (default: all)")
    parser.add_argument("--merge", nargs="*", help="merge these partial outputs into --out")
    args = parser.parse_args()
    if args.merge:
        Path(args.out).write_text(json.dumps(merge(args.merge), indent=1) + "\n")
        return
    torch.set_num_threads(1)
    from paperclaims.config import validate_config

    schema = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"
    raw = yaml.safe_load(Path(args.config).read_text())
    cfg = validate_config({"locality": raw["locality"]}, schema)["locality"]
    base = cfg["train"]["lr"]
    default = base if not isinstance(base, dict) else 1e-3
    start, cells, chosen = time.perf_counter(), [], {}

    def write() -> None:  # after every cell, so that a stopped run keeps what it finished
        result = {
            "what": "lr pilot: Adam lr per label type and depth from a validation split (rule in "
            "lr_pilot.py's docstring)",
            "lr_grid": list(LR_GRID),
            "max_extend": MAX_EXTEND,
            "val_fraction": VAL_FRACTION,
            "pilot_seeds": PILOT_SEEDS,
            "depths": cfg["depths"],
            "cells": cells,
            "chosen": chosen,
            "seconds": round(time.perf_counter() - start, 1),
        }
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")

    for kind in args.labels or cfg["labels"]:
        k, n = cfg["k"][0], cfg["n_train"][kind][0]
        chosen[kind] = []
        for depth in args.depths or cfg["depths"]:
            t0 = time.perf_counter()
            runs = [validation_run(cfg, kind, k, n, depth, lr) for lr in LR_GRID]
            lr = choose_lr(runs, default)
            for _ in range(MAX_EXTEND):  # rule 4: extend while the choice is the top lr tried
                if lr != runs[-1]["lr"]:
                    break
                runs.append(validation_run(cfg, kind, k, n, depth, 3 * runs[-1]["lr"]))
                lr = choose_lr(runs, default)
            chosen[kind].append(lr)
            at_edge = lr == runs[-1]["lr"]
            cells.append(
                {"label": kind, "k": k, "n_train": n, "depth": depth, "runs": runs, "lr": lr}
                | {"at_edge": at_edge}
            )
            print(
                f"{kind}_k{k} N={n} depth {depth}: "
                + "; ".join(
                    f"lr {r['lr']:.0e} val {np.mean(r['validation_error']):.3f}"
                    + ("" if all(e > 0 for e in r["criterion_epoch"]) else " (criterion missed)")
                    for r in runs
                )
                + f" → {lr:g} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
            write()
    print(json.dumps({"chosen": chosen}))


if __name__ == "__main__":
    main()
