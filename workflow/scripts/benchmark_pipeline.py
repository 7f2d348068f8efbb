"""Pipeline benchmarks, all measured in one run on this machine; results to a JSON file.

    python workflow/scripts/benchmark_pipeline.py --out results/benchmarks/pipeline.json

(1) the whole default DAG from clean (total wall time; per claim, the summed wall time of its train
jobs from Snakemake's benchmark files); (2) a no-op rerun; (3) the rebuild after editing one notebook;
(4) each claim's batched-vs-one-by-one benchmark script (its own JSON, collected here); (5) this machine's
ceiling: float64 matmul FLOP rate and large-copy bandwidth, beside the SGD kernels' chain-steps per second;
(6) per claim at paper scale (config/paper.yaml): the number of train jobs and the largest job's estimated
CPU time, from the default run's measured job costs × each job's work ratio (paperclaims.scale).
Goals (issue 8): default DAG ≤ 15 min on 2 cores; no-op ≤ 5 s; notebook-edit rebuild ≤ 30 s; (issue 19) no
paper-scale job above ≈ 1 CPU-hour.

    python workflow/scripts/benchmark_pipeline.py --paper-scale-only --run-dir .   # (6) alone, from a
                                                                                   # finished default run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "workflow"))  # the checkout's paperclaims
from paperclaims import scale  # noqa: E402
from paperclaims.registry import claims  # noqa: E402


def _env(workdir: Path) -> dict:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(workdir / "workflow"),
    }


def timed_snakemake(workdir: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=workdir,
        env=_env(workdir),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def job_seconds_per_claim(workdir: Path) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for tsv in (workdir / "benchmarks").rglob("*.tsv"):
        claim = tsv.relative_to(workdir / "benchmarks").parts[0]
        with tsv.open() as f:
            for row in csv.DictReader(f, delimiter="\t"):
                totals[claim] += float(row["s"])
    return dict(totals)


def paper_scale(run_dir: Path) -> dict:
    """(6): per claim at paper scale, from the default run in ``run_dir`` (its benchmarks/)."""
    measured = scale.load_config()
    paper = scale.load_config(ROOT / "config" / "paper.yaml")
    estimates = scale.estimate(measured, paper, run_dir)
    print(scale.table(estimates))
    return {
        name: {k: claim[k] for k in ("jobs", "largest_job", "largest_cpu_s", "total_cpu_s")}
        | {"unestimated": claim["unestimated"]}
        for name, claim in estimates.items()
    }


def machine_ceiling() -> dict:
    import torch

    torch.set_num_threads(1)
    n = 2048
    a = torch.randn(n, n, dtype=torch.float64)
    a @ a  # warm up
    start = time.perf_counter()
    reps = 5
    for _ in range(reps):
        a @ a
    flops = 2 * n**3 * reps / (time.perf_counter() - start)
    big = torch.empty(64 * 2**20, dtype=torch.float64)  # 512 MiB
    out = torch.empty_like(big)
    out.copy_(big)
    start = time.perf_counter()
    for _ in range(5):
        out.copy_(big)
    bandwidth = 2 * big.numel() * 8 * 5 / (time.perf_counter() - start)  # read + write
    return {
        "matmul_float64_gflops_1thread": flops / 1e9,
        "copy_bandwidth_gb_per_s": bandwidth / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/pipeline.json")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--skip-dag", action="store_true", help="only (4) and (5)")
    parser.add_argument("--keep", help="run the DAG in this folder and keep it (figures, results)")
    parser.add_argument(
        "--paper-scale-only", action="store_true", help="only (6), from the run in --run-dir"
    )
    parser.add_argument("--run-dir", default=".", help="a finished default run (for (6) alone)")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
    }

    if args.paper_scale_only:
        report["paper_scale"] = paper_scale(Path(args.run_dir).resolve())
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
        return
    if not args.skip_dag:
        with tempfile.TemporaryDirectory() as tmp:
            sys.path.insert(0, str(ROOT / "tests"))
            from conftest import copy_workflow

            wd = copy_workflow(Path(args.keep) if args.keep else Path(tmp) / "wf")
            total = timed_snakemake(wd, "--cores", args.cores)
            noop = timed_snakemake(wd, "--cores", args.cores)
            nb = wd / "workflow" / "notebooks" / "periodic.ipynb"
            text = json.loads(nb.read_text())
            text["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["edit"]})
            nb.write_text(json.dumps(text))
            notebook_edit = timed_snakemake(wd, "--cores", args.cores)
            report["default_dag"] = {
                "cores": int(args.cores),
                "total_wall_s": total,
                "train_job_wall_s_per_claim": job_seconds_per_claim(wd),
                "noop_rerun_s": noop,
                "notebook_edit_rebuild_s": notebook_edit,
                "goals": {"total_wall_s": 900, "noop_rerun_s": 5, "notebook_edit_rebuild_s": 30},
            }
            print(json.dumps(report["default_dag"], indent=2))
            report["paper_scale"] = paper_scale(wd)

    report["trainers"] = {}
    for claim in claims():
        script = ROOT / "workflow" / "scripts" / f"benchmark_{claim}.py"
        if not script.exists():
            continue
        claim_out = out.parent / f"{claim}.json"
        subprocess.run(
            [sys.executable, str(script), "--out", str(claim_out)], check=True, env=_env(ROOT)
        )
        report["trainers"][claim] = json.loads(claim_out.read_text())
    report["ceiling"] = machine_ceiling()
    print(json.dumps(report["ceiling"], indent=2))
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
