"""Compare two runs of the pipeline file by file: every results/<claim>/runs/*.nc and measured.nc,
and every verdict.json check (measured value and pass/fail).

Use it to see what changed between a CPU and a GPU run (float reductions run in another order on a
GPU, so arrays agree to rounding, chaotic training runs less), or between two machines:

    python workflow/scripts/compare_runs.py RUN_A RUN_B [--json OUT]

RUN_A and RUN_B are working directories (each with a results/ folder). For each numeric variable
present in both, the largest absolute difference and the largest difference relative to RUN_A's
largest magnitude are reported (for flags and labels, the fraction of entries that differ); for each check, both verdicts' values and pass/fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's paperclaims

from paperclaims.io import read_dataset  # noqa: E402


def compare_datasets(path_a: Path, path_b: Path) -> dict:
    a, b = read_dataset(path_a), read_dataset(path_b)
    out = {}
    for name in sorted(set(a.data_vars) & set(b.data_vars)):
        x, y = a[name].values, b[name].values
        if x.shape != y.shape:
            out[name] = {"comparable": False, "shape_a": x.shape, "shape_b": y.shape}
            continue
        if x.dtype == bool or not np.issubdtype(x.dtype, np.number):  # flags, labels, names
            different = float(np.mean(x != y)) if x.size else 0.0
            out[name] = {"fraction_different": different, "max_rel_diff": different}
            continue
        x, y = x.astype(float), y.astype(float)
        both = np.isfinite(x) & np.isfinite(y)
        diff = np.abs(x - y)[both]
        scale = np.abs(x[both]).max() if both.any() else 0.0
        out[name] = {
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "max_rel_diff": float(diff.max() / scale) if diff.size and scale > 0 else 0.0,
            "nan_pattern_equal": bool(np.array_equal(np.isnan(x), np.isnan(y))),
        }
    return out


def compare_verdicts(path_a: Path, path_b: Path) -> list[dict]:
    checks_a = {c["id"]: c for c in json.loads(path_a.read_text())["checks"]}
    checks_b = {c["id"]: c for c in json.loads(path_b.read_text())["checks"]}
    return [
        {
            "id": check_id,
            "measured_a": checks_a[check_id].get("measured"),
            "measured_b": checks_b[check_id].get("measured"),
            "pass_a": checks_a[check_id].get("passed"),
            "pass_b": checks_b[check_id].get("passed"),
        }
        for check_id in sorted(set(checks_a) & set(checks_b))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--json", type=Path, help="write the full comparison here")
    args = parser.parse_args()
    report: dict = {"files": {}, "verdicts": {}}
    for path_a in sorted((args.run_a / "results").rglob("*.nc")):
        rel = path_a.relative_to(args.run_a)
        path_b = args.run_b / rel
        if path_b.exists():
            report["files"][str(rel)] = compare_datasets(path_a, path_b)
    for path_a in sorted((args.run_a / "results").glob("*/verdict.json")):
        rel = path_a.relative_to(args.run_a)
        if (args.run_b / rel).exists():
            report["verdicts"][path_a.parent.name] = compare_verdicts(path_a, args.run_b / rel)

    for rel, variables in report["files"].items():
        worst = max((v.get("max_rel_diff", 0.0) for v in variables.values()), default=0.0)
        skipped = [name for name, v in variables.items() if v.get("comparable") is False]
        note = f" (shapes differ: {', '.join(skipped)})" if skipped else ""
        print(f"{rel}: largest relative difference {worst:.2e}{note}")
    for claim, checks in report["verdicts"].items():
        flipped = [c["id"] for c in checks if c["pass_a"] != c["pass_b"]]
        print(f"{claim}: {len(checks)} checks, {len(flipped)} changed pass/fail {flipped or ''}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
