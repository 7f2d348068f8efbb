"""Claim `locality`: the NTK-only pilot that chooses the task grid (k, d, N per target) before any
finite network is trained (issue 18, "Tasks in the learnable regime, chosen blind").

    python -m paperclaims.claims.locality.pilot --out workflow/paperclaims/claims/locality/pilot.json

The rule (stated and committed before the pilot ran; it reads no finite-net result, only the
analytic NTK's test errors and each label's chance level, computed from the labels alone):

1. Chance of a target (label type, k) is the test error of its majority-class predictor — the
   minority-class rate of the pilot's test labels, mean over ``PILOT_SEEDS`` seeds. It is 0.5 for
   the balanced k-local label, but family A's k-global label is imbalanced by the tie rule
   sgn(0) = +1 (k = 2, d = 32: chance 0.36). (Rule until issue 18's third pass: 0.5 for every
   label, a class-C error that left the global target short of the learnability margin.)
2. A candidate (d, k, N) is **eligible for a target** when the analytic ReLU NTK's mean test
   error over the pilot's seeds lies in [``NTK_LOW``, chance − ``BELOW_CHANCE_BY``] at *every*
   depth of the grid: at least ``NTK_LOW`` above the zero-error floor (so a trend can show below
   it) and at least ``BELOW_CHANCE_BY`` below the target's own chance (the learnable regime of a
   kernel that is a lower bound on what the lazy regime learns). The NTK is deterministic given
   the data, cheap, and blind to the finite nets' depth trend, which the claim checks measure.
3. d is the spec's 32 (shared/claims/locality.md: d ≈ 32–64); candidates k ∈ {2, 3} (the spec's),
   N ∈ ``CANDIDATE_N``.
4. The grid: k = every candidate k for which *every* label type has an eligible N (the claim
   compares label types at the same k); **per target**, n_train = its smallest ``MAX_N_VALUES``
   eligible N (training cost grows ∝ N; the issue's budget is 400 job-seconds, and the k-global
   target's smallest eligible N is several times the k-local one's, so one N per target).

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

NTK_LOW = 0.05  # ≥ 0.05 above the zero-error floor
BELOW_CHANCE_BY = 0.10  # ≥ 0.10 below the target's chance (analysis.py's learnability margin)
PILOT_D = (32,)
CANDIDATE_K = (2, 3)
CANDIDATE_N = (250, 500, 1000, 2000, 4000)
DEPTHS = (1, 2, 4, 6, 8, 10)  # the default config's depths
MAX_N_VALUES = 1
PILOT_SEEDS = 4
PILOT_N_TEST = 2000
PILOT_BASE_SEED = (
    18_000  # the pilot's own data seeds (the pipeline's are derived from its base seed)
)
RIDGE = 1e-8


def chance_level(y: torch.Tensor) -> float:
    """Rule 1: the majority-class predictor's error of ±1 labels (seed, n), mean over seeds."""
    positive = (y > 0).double().mean(-1)
    return float(torch.minimum(positive, 1 - positive).mean())


def ntk_errors(d: int, k: int, n: int, family: str, depths=DEPTHS, n_seeds=PILOT_SEEDS):
    """Mean NTK test error per (label type, depth) over the pilot's seeds, and each label type's
    chance (rule 1, from its test labels alone): (dict kind → list, dict kind → float)."""
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
    chance = {kind: chance_level(y_test[..., i]) for i, kind in enumerate(loc.LABEL_TYPES)}
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
    errs = {kind: [float(v) for v in mean[:, i]] for i, kind in enumerate(loc.LABEL_TYPES)}
    return errs, chance


def eligible(errors: list[float], chance: float) -> bool:
    """Rule 2, one target: NTK mean error in [NTK_LOW, chance − BELOW_CHANCE_BY] at every depth."""
    return all(NTK_LOW <= e <= chance - BELOW_CHANCE_BY for e in errors)


def choose_grid(cells: list[dict]) -> dict:
    """Rules 3–4 from the pilot's cells (each with k, n_train and ``eligible``: kind → bool)."""
    kinds = sorted({kind for c in cells for kind in c["eligible"]})

    def eligible_n(k, kind):
        return sorted(c["n_train"] for c in cells if c["k"] == k and c["eligible"][kind])

    ks = [k for k in CANDIDATE_K if all(eligible_n(k, kind) for kind in kinds)]
    if not ks:
        return {"k": [], "n_train": {}, "rule": "no k with an eligible N for every label type"}
    # one N list per label type: the smallest eligible N common to every chosen k
    n_train = {}
    for kind in kinds:
        common = sorted(set.intersection(*(set(eligible_n(k, kind)) for k in ks)))
        if not common:  # the chosen k disagree: keep the smallest k only
            ks = ks[:1]
            return choose_grid([c for c in cells if c["k"] == ks[0]])
        n_train[kind] = common[:MAX_N_VALUES]
    return {"k": ks, "n_train": n_train, "rule": "rule 4: per target, its smallest eligible N"}


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
        errs, chance = ntk_errors(d, k, n, args.family)
        ok = {kind: eligible(errs[kind], chance[kind]) for kind in errs}
        cells.append(
            {"d": d, "k": k, "n_train": n, "ntk_mean_error": errs, "chance": chance, "eligible": ok}
        )
        print(
            f"d={d} k={k} N={n}: "
            + "; ".join(
                f"{kind} (chance {chance[kind]:.3f}) "
                + " ".join(f"{e:.3f}" for e in v)
                + f" → {'eligible' if ok[kind] else 'not eligible'}"
                for kind, v in errs.items()
            )
            + f" ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    grid = choose_grid(cells)
    result = {
        "what": "NTK-only pilot choosing the locality task grid (rule in pilot.py's docstring)",
        "family": args.family,
        "band": {"low": NTK_LOW, "high": f"chance − {BELOW_CHANCE_BY}"},
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
