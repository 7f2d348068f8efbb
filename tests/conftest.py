"""Shared test helpers: a throw-away copy of the workflow, and Snakemake run in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: snakemake, papermill, python


def copy_workflow(dest: Path) -> Path:
    """Copy what a run needs (not results, caches or the venv) so tests never touch the repo."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Snakefile", dest / "Snakefile")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in ("workflow", "config", "envs"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run snakemake in ``workdir`` with the copy's own library first on the path."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(workdir / "workflow")
    proc = subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def planned_jobs(proc) -> dict[str, int]:
    """Job counts per rule from the 'Job stats' table of a dry run (``-n``)."""
    counts: dict[str, int] = {}
    lines = (proc.stdout + proc.stderr).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("job ")) + 2
    except StopIteration:
        return counts
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")


@pytest.fixture
def device() -> str:
    """Where the device-aware tests run: ``cpu`` (CI), or ``PAPERCLAIMS_TEST_DEVICE=cuda`` on a GPU
    machine to run the same checks (e.g. checkpoint resume) there."""
    name = os.environ.get("PAPERCLAIMS_TEST_DEVICE", "cpu")
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            pytest.skip(f"PAPERCLAIMS_TEST_DEVICE={name} but torch sees no CUDA device")
    return name


def killed_then_resumed(run, tmp_path: Path, monkeypatch, caplog, kill_at_save: int):
    """Run a job step ``run(out) → dataset`` three times: uninterrupted; killed right after its
    ``kill_at_save``-th checkpoint (a KeyboardInterrupt stands in for SIGKILL; checkpoints every
    step); rerun on the killed job's output. Returns (clean, resumed, step of the last save);
    the rerun's log is in ``caplog.text``."""
    from paperclaims.checkpoint import Checkpoint

    monkeypatch.setenv("PAPERCLAIMS_CHECKPOINT_SECONDS", "0")
    clean = run(tmp_path / "clean.nc")
    save, saved = Checkpoint.save, []

    def save_then_maybe_die(self, step, state):
        save(self, step, state)
        saved.append(step)
        if len(saved) == kill_at_save:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_maybe_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed.nc")
    monkeypatch.setattr(Checkpoint, "save", save)
    with caplog.at_level("INFO", logger="paperclaims"):
        resumed = run(tmp_path / "killed.nc")
    return clean, resumed, saved[-1]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """One end-to-end run of every claim on the tiny config, shared by the workflow tests."""
    wd = copy_workflow(tmp_path_factory.mktemp("smoke") / "wf")
    snakemake(wd, "--cores", "2", "--configfile", "config/test.yaml")
    return wd


def run_verdict(verdict_step, measured, params: dict, tmp_path: Path, claim: str) -> dict:
    """Golden verdict tests: run a claim's ``verdict`` step on a synthetic measured dataset built
    in the test (with ``params`` as the rule passes them) and return the verdict.json it wrote."""
    import json

    from paperclaims.runner import Step

    path = tmp_path / f"{claim}_measured.nc"
    measured.to_netcdf(path, engine="h5netcdf")
    out = tmp_path / f"{claim}_verdict.json"
    step = Step(
        claim=claim,
        rule=f"{claim}_verdict",
        input=_Files(measured=str(path)),
        output=[str(out)],
        params=params,
        base_seed=0,
        extra={"code_hash": "test"},
    )
    verdict_step(step)
    return json.loads(out.read_text())


class _Files(list):
    """Snakemake's named input list: iterable of paths with attribute access."""

    def __init__(self, **named):
        super().__init__(named.values())
        self.__dict__.update(named)


def outcomes(verdict: dict) -> dict[str, str]:
    """Check id → outcome, claim checks and implementation checks alike."""
    return {c["id"]: c["outcome"] for c in verdict["checks"] + verdict["implementation_checks"]}


def run_job_step(tmp_path: Path, step: str, args: dict, name: str, device: str = "cpu"):
    """One train job step (``step`` = "module:function" under paperclaims.claims) through
    ``runner.run_step`` with a Snakemake-like object, as the rule runs it; returns its log text and
    its output dataset."""
    import logging
    from types import SimpleNamespace

    from paperclaims.io import read_dataset
    from paperclaims.runner import run_step

    claim = step.split(".")[0]
    out, log_file = tmp_path / f"{name}.nc", tmp_path / "logs" / f"{name}.log"
    smk = SimpleNamespace(
        params={
            "step": f"paperclaims.claims.{step}",
            "args": dict(args),
            "run": {"claim": claim, "seed": 0, "device": device},
        },
        input=[],
        output=[str(out)],
        log=[str(log_file)],
        rule=f"{claim}_{step.split(':')[1]}",
        threads=1,
    )
    root_level = logging.getLogger().level
    try:
        run_step(smk)
    finally:
        logging.getLogger().setLevel(root_level)  # run_step raises it to INFO for the job
    return log_file.read_text(), read_dataset(out)
