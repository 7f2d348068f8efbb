"""Job sizes at another scale (issue 19): per claim, the train jobs a config makes and each job's
estimated CPU time, from a finished run's measured job costs (Snakemake ``benchmarks/``) and each
train step's work model (``registry.TrainStep.work``).

A step's rate is the largest CPU seconds per unit of work among its measured jobs that ran at
least MIN_SECONDS (below that a job's fixed start-up cost would dominate; a step with no such job
takes its summed seconds over its summed work); a job at the other scale is estimated at rate ×
its work. The largest rate, not the mean, because the work models count what a job may do (a
training criterion's cap, every chain to its step limit) and some jobs stop early. The work
models are products of the sizes a job's cost grows with (steps, members, widths…), so the
estimate is linear extrapolation: an order of magnitude, not a measurement.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from paperclaims import audit
from paperclaims.registry import Claim, TrainStep, claims, step_args

ROOT = Path(__file__).resolve().parents[2]


def load_config(*configfiles: str | Path) -> dict:
    """The config Snakemake runs with: config/config.yaml, then each ``--configfile`` (later
    ones win), schema defaults filled and validated (``paperclaims audit``'s reading)."""
    return audit.load_config(ROOT, [str(f) for f in configfiles], {})


@dataclass(frozen=True)
class Job:
    claim: Claim
    step: TrainStep
    cell: dict[str, str]
    work: float | None

    @property
    def name(self) -> str:
        """The job's benchmark file stem, e.g. 'phases_train digits_rho0-0_seed0-4'."""
        return f"{self.claim.name}_{self.step.name} {self.step.log.format(**self.cell)}"

    def benchmark(self, run_dir: Path) -> Path:
        log = self.step.log.format(**self.cell)
        return run_dir / "benchmarks" / self.claim.name / self.step.name / f"{log}.tsv"


def train_jobs(config: dict) -> list[Job]:
    """Every train job of every claim ``config`` runs, with its work."""
    jobs = []
    for claim in claims().values():
        if claim.name not in config["claims"]:
            continue
        section = config[claim.name]
        for step in claim.train:
            for cell in claim.cells(step, section):
                params = step_args(claim, step, section, config["seed"], cell)
                work = float(step.work(params)) if step.work else None
                jobs.append(Job(claim, step, cell, work))
    return jobs


def measured_seconds(path: Path) -> float | None:
    """A Snakemake benchmark file's CPU seconds (its wall seconds where it has no CPU time)."""
    if not path.exists():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return None
    row = rows[-1]
    cpu = row.get("cpu_time", "NA")
    return float(cpu) if cpu not in ("", "NA") and float(cpu) > 0 else float(row["s"])


MIN_SECONDS = 10.0


def step_rates(measured_config: dict, run_dir: Path) -> dict[tuple[str, str], float]:
    """CPU seconds per unit of work, per (claim, step), from the run of ``measured_config``."""
    measured: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for job in train_jobs(measured_config):
        seconds = measured_seconds(job.benchmark(run_dir))
        if seconds is not None and job.work:
            measured.setdefault((job.claim.name, job.step.name), []).append((seconds, job.work))
    rates = {}
    for key, jobs in measured.items():
        long = [s / w for s, w in jobs if s >= MIN_SECONDS]
        rates[key] = max(long) if long else sum(s for s, _ in jobs) / sum(w for _, w in jobs)
    return rates


def estimate(measured_config: dict, target_config: dict, run_dir: Path) -> dict[str, dict]:
    """Per claim of ``target_config``: its number of train jobs, every job's estimated CPU
    seconds (None where its step has no measurement or work model) and the largest."""
    rates = step_rates(measured_config, Path(run_dir))
    out: dict[str, dict] = {}
    for job in train_jobs(target_config):
        rate = rates.get((job.claim.name, job.step.name))
        seconds = rate * job.work if rate is not None and job.work is not None else None
        claim = out.setdefault(job.claim.name, {"jobs": 0, "estimates": {}, "unestimated": []})
        claim["jobs"] += 1
        if seconds is None:
            claim["unestimated"].append(job.name)
        else:
            claim["estimates"][job.name] = seconds
    for claim in out.values():
        estimates = claim["estimates"]
        largest = max(estimates, key=estimates.get) if estimates else None
        claim["largest_job"] = largest
        claim["largest_cpu_s"] = estimates[largest] if largest else None
        claim["total_cpu_s"] = sum(estimates.values())
    return out


def table(estimates: dict[str, dict]) -> str:
    """The README's paper-scale table rows (markdown)."""
    lines = [
        "| claim | train jobs | largest job | its est. CPU-h | all jobs, est. CPU-h |",
        "|---|---|---|---|---|",
    ]
    for name, claim in estimates.items():
        largest = claim["largest_cpu_s"]
        lines.append(
            f"| {name} | {claim['jobs']} | {claim['largest_job'] or '—'} | "
            f"{'—' if largest is None else f'{largest / 3600:.2g}'} | "
            f"{claim['total_cpu_s'] / 3600:.2g} |"
        )
    return "\n".join(lines)
