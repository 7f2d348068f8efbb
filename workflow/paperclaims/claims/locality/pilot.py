"""Claim `locality`: the NTK-only pilot that chooses the task grid (k, d, N) before any finite
network is trained (issue 18, "Tasks in the learnable regime, chosen blind").

    python -m paperclaims.claims.locality.pilot --out workflow/paperclaims/claims/locality/pilot.json

The rule (stated and committed before the pilot ran; it reads no finite-net result):

1. A candidate cell (d, k, N) is **eligible** when, for *every* label type (k-local and k-global of
   the configured family), the analytic ReLU NTK's mean test error over ``PILOT_SEEDS`` seeds lies
   in [``NTK_LOW``, ``NTK_HIGH``] at *every* depth of the grid: at least ``NTK_LOW`` above the
   zero-error floor (so a trend can show below it) and at least ``CHANCE − NTK_HIGH`` below chance
   (so the task is in the learnable regime of a kernel that is a lower bound on what the lazy
   regime learns). The NTK is deterministic given the data, cheap, and blind to the finite nets'
   depth trend, which is what the claim checks measure.
2. d is the spec's 32 (shared/claims/locality.md: d ≈ 32–64); candidates k ∈ {2, 3} (the spec's),
   N ∈ ``CANDIDATE_N``.
3. The grid: k = every candidate k with an eligible N; n_train = the N values eligible for every
   chosen k, the smallest ``MAX_N_VALUES`` of them (training cost grows ∝ N; the budget of the
   issue is 400 job-seconds). If no N is eligible for every chosen k, keep only the k with the most
   eligible N (ties: the smaller k) and its smallest ``MAX_N_VALUES`` eligible N.

The pilot's seeds are its own (``PILOT_BASE_SEED``), not the pipeline's: the pipeline's NTK step
recomputes the NTK on the chosen grid with the run's seeds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from paperclaims.claims.locality import train as loc

CHANCE = 0.5
NTK_LOW = 0.05  # ≥ 0.05 above the zero-error floor
NTK_HIGH = 0.40  # ≥ 0.10 below chance
PILOT_D = (32,)
CANDIDATE_K = (2, 3)
CANDIDATE_N = (250, 500, 1000, 2000, 4000)
DEPTHS = (1, 2, 4, 6, 8, 10)  # the default config's depths
MAX_N_VALUES = 2
PILOT_SEEDS = 4
PILOT_N_TEST = 2000
PILOT_BASE_SEED = (
    18_000  # the pilot's own data seeds (the pipeline's are derived from its base seed)
)
RIDGE = 1e-8


def ntk_errors(d: int, k: int, n: int, family: str, depths=DEPTHS, n_seeds=PILOT_SEEDS):
    """Mean NTK test error per (label type, depth) over the pilot's seeds: dict kind → list."""
    targets = [f"{kind}_k{k}" for kind in loc.LABEL_TYPES]
    p = {
        "n_seeds": n_seeds,
        "d": d,
        "n_train": n,
        "n_test": PILOT_N_TEST,
        "inputs": "binary",
        "family": family,
        "targets": targets,
        "train_seed": PILOT_BASE_SEED + 1000 * k + n,
        "test_seed": PILOT_BASE_SEED + 7,
    }
    x_train, y_train, x_test, y_test, _ = loc.dataset(p)
    # seed by seed only to bound memory (N = 4000: a few (N, N) float64 arrays per seed)
    errors = np.concatenate(
        [
            loc.ntk_test_errors(
                x_train[s : s + 1],
                y_train[s : s + 1],
                x_test[s : s + 1],
                y_test[s : s + 1],
                depths,
                RIDGE,
            )
            for s in range(n_seeds)
        ],
        axis=1,
    )  # (depth, seed, target)
    mean = errors.mean(1)  # (depth, target)
    return {kind: [float(v) for v in mean[:, i]] for i, kind in enumerate(loc.LABEL_TYPES)}


def eligible(errors: dict) -> bool:
    """Rule 1: every label type, every depth, NTK mean error in [NTK_LOW, NTK_HIGH]."""
    return all(NTK_LOW <= e <= NTK_HIGH for errs in errors.values() for e in errs)


def choose_grid(cells: list[dict]) -> dict:
    """Rules 2–3 from the pilot's cells (each with d, k, n_train, eligible)."""
    ok = [c for c in cells if c["eligible"]]
    by_k = {k: sorted(c["n_train"] for c in ok if c["k"] == k) for k in CANDIDATE_K}
    ks = [k for k in CANDIDATE_K if by_k[k]]
    if not ks:
        return {"k": [], "n_train": [], "rule": "no eligible cell: the claim cannot be tested here"}
    common = sorted(set.intersection(*(set(by_k[k]) for k in ks)))
    if common:
        return {"k": ks, "n_train": common[:MAX_N_VALUES], "rule": "rule 3: N eligible for every k"}
    best = max(ks, key=lambda k: (len(by_k[k]), -k))
    return {"k": [best], "n_train": by_k[best][:MAX_N_VALUES], "rule": "rule 3: fallback, one k"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="workflow/paperclaims/claims/locality/pilot.json")
    parser.add_argument("--family", default="A", choices=["A", "B"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    cells = []
    start = time.perf_counter()
    for d, k, n in itertools.product(PILOT_D, CANDIDATE_K, CANDIDATE_N):
        t0 = time.perf_counter()
        errs = ntk_errors(d, k, n, args.family)
        cell = {"d": d, "k": k, "n_train": n, "ntk_mean_error": errs, "eligible": eligible(errs)}
        cells.append(cell)
        print(
            f"d={d} k={k} N={n}: "
            + "; ".join(f"{kind} " + " ".join(f"{e:.3f}" for e in v) for kind, v in errs.items())
            + f" → {'eligible' if cell['eligible'] else 'not eligible'} "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    grid = choose_grid(cells)
    result = {
        "what": "NTK-only pilot choosing the locality task grid (rule in pilot.py's docstring)",
        "family": args.family,
        "band": [NTK_LOW, NTK_HIGH],
        "depths": list(DEPTHS),
        "pilot_seeds": PILOT_SEEDS,
        "n_test": PILOT_N_TEST,
        "cells": cells,
        "chosen": {"d": PILOT_D[0], **grid},
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    print(json.dumps(result["chosen"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
