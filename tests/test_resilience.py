"""A train job killed with SIGKILL midway resumes from its checkpoint on rerun and ends with arrays
identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import xarray as xr
from conftest import BIN, copy_workflow, snakemake

TARGET = "results/periodic/runs/extrapolation/sin.nc"
LONG = "periodic:\n  extrapolation:\n    steps: 60000\n"  # long enough (≈ 10 s) to be killed midway


def _config(workdir):
    path = workdir / "config" / "long.yaml"
    path.write_text(LONG)
    return ("--configfile", "config/test.yaml", "config/long.yaml")


@pytest.mark.slow
def test_killed_job_resumes_from_checkpoint_with_identical_arrays(tmp_path):
    killed = copy_workflow(tmp_path / "killed")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(killed / "workflow"),
        "PAPERCLAIMS_CHECKPOINT_SECONDS": "1",
    }
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), TARGET, "--cores", "1", *_config(killed)],
        cwd=killed,
        env=env,
        start_new_session=True,  # its own process group: the kill reaches the job too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = killed / "results/periodic/runs/extrapolation/.sin.nc.checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "no checkpoint appeared before the job ended"
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / TARGET).exists()

    # the killed snakemake left its lock behind, as after any hard kill
    snakemake(killed, TARGET, "--unlock", *_config(killed))
    os.environ["PAPERCLAIMS_CHECKPOINT_SECONDS"] = "1"
    try:
        snakemake(killed, TARGET, "--cores", "1", "--rerun-incomplete", *_config(killed))
    finally:
        del os.environ["PAPERCLAIMS_CHECKPOINT_SECONDS"]
    log = (killed / "logs/periodic/train_extrapolation/sin.log").read_text()
    assert "resuming from checkpoint" in log
    assert not checkpoint.exists(), "the checkpoint outlived the finished job"

    clean = copy_workflow(tmp_path / "clean")
    snakemake(clean, TARGET, "--cores", "1", *_config(clean))
    with xr.open_dataset(killed / TARGET, engine="h5netcdf") as a:
        with xr.open_dataset(clean / TARGET, engine="h5netcdf") as b:
            xr.testing.assert_equal(a, b)
