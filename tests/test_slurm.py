"""The same DAG through a real SLURM (munge + slurmctld + slurmd from Debian's packages).

The fixture brings the daemons up with workflow/scripts/slurm_up.sh; where the machine cannot (not root,
no package registry, daemons refuse to start) every test here is skipped with the reason, never passed.
Its teardown (slurm_down.sh) stops every daemon it started by pid and removes what it configured or
installed; what it saw is kept in TEARDOWN, which tests/test_slurm_teardown.py checks once this module's
fixture is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from conftest import ROOT, copy_workflow, snakemake

pytestmark = pytest.mark.slow

SLURM_ARGS = (
    "--workflow-profile",
    "workflow/profiles/slurm",
    # this test cluster has no slurmdbd: squeue instead of sacct, and a short first wait
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--latency-wait",
    "5",
)
TARGET = "results/periodic/measured.nc"
SMOKE = ("--configfile", "config/test.yaml")
DAEMONS = ("munged", "slurmctld", "slurmd")
SLURM_CONF = Path("/etc/slurm/slurm.conf")

# What the module fixture's teardown saw (filled once it has run); read by tests/test_slurm_teardown.py.
TEARDOWN: dict = {}


def import_seconds() -> float:
    """Wall time of `import snakemake_executor_plugin_slurm` in a fresh interpreter: every `snakemake`
    call pays it (the plugin runs `scontrol show config` at import when `sinfo` is on PATH)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import snakemake_executor_plugin_slurm"], timeout=120)
    return time.perf_counter() - t0


def running(pid: int, name: str) -> bool:
    """``pid`` still runs the daemon ``name`` (a zombie counts as gone: PID 1 here may not reap)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return comm == name and stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes(name: str) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and running(int(p.name), name)
    ]


def slurm_up(state: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "workflow/scripts/slurm_up.sh"), str(state)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def slurm_down(state: Path) -> dict:
    """Tear down what slurm_up.sh did in ``state``; return what the machine looks like afterwards."""
    recorded = state / "teardown.env"
    changes = (
        dict(line.split("=", 1) for line in recorded.read_text().splitlines() if "=" in line)
        if recorded.exists()
        else {}
    )
    pids = {  # read before stopping: munged and slurmctld delete their pid files on exit
        name: int(pidfile.read_text())
        for name in DAEMONS
        if (pidfile := state / f"{name}.pid").exists()
    }
    added = state / "packages.added"
    down = subprocess.run(
        ["bash", str(ROOT / "workflow/scripts/slurm_down.sh"), str(state)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {
        "changes": changes,
        "pids": pids,
        "alive": {name: pid for name, pid in pids.items() if running(pid, name)},
        "job_steps": processes("slurmstepd") if "SLURMD_STARTED" in changes else [],
        "conf_left": "CONF_CREATED" in changes and SLURM_CONF.exists(),
        "packages_added": added.read_text().split() if added.exists() else [],
        "sinfo_on_path": shutil.which("sinfo"),
        "down_rc": down.returncode,
        "down_log": down.stdout + down.stderr,
    }


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("SLURM test needs root to start munge/slurmctld/slurmd")
    if shutil.which("slurmctld") and subprocess.run(["sinfo"], capture_output=True).returncode == 0:
        TEARDOWN["existing"] = (
            True  # a SLURM is already up on this machine: use it, leave it running
        )
        yield
        return
    before = import_seconds()
    state = tmp_path_factory.mktemp("slurm")
    up = slurm_up(state)
    if up.returncode != 0:
        TEARDOWN.update(slurm_down(state), import_before=before, import_after=import_seconds())
        pytest.skip(f"could not start a one-node SLURM here: {up.stderr[-1500:]}")
    yield
    TEARDOWN.update(slurm_down(state), import_before=before, import_after=import_seconds())


def _slurm_jobs() -> dict[str, tuple[str, str]]:
    """job id → (comment, state) of every job slurmctld still remembers (slurm_up.sh sets MinJobAge=3600 s).

    The SLURM executor puts the rule and wildcards into each job's comment."""
    out = subprocess.run(
        ["squeue", "-t", "all", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True, check=True
    ).stdout
    jobs = [line.split("|") for line in out.splitlines() if line.count("|") == 2]
    return {job_id: (comment, state) for job_id, comment, state in jobs}


def test_smoke_claim_runs_through_slurm_and_matches_local(slurm, tmp_path):
    remote = copy_workflow(tmp_path / "slurm")
    local = copy_workflow(tmp_path / "local")
    before = set(_slurm_jobs())  # job ids
    snakemake(remote, TARGET, *SLURM_ARGS, *SMOKE)
    snakemake(local, TARGET, "--cores", "2", *SMOKE)

    new = [job for job_id, job in _slurm_jobs().items() if job_id not in before]
    train_jobs = [
        c for c, state in new if c.startswith("rule_periodic_train") and state == "COMPLETED"
    ]
    # 3 extrapolation cells + 2 forecast models of test.yaml + the snake_shuffled control
    assert len(train_jobs) == 6, new
    logs = list((remote / "logs" / "slurm").rglob("*.log"))
    assert logs, "the SLURM executor wrote no job logs"
    # the aggregation rule is a localrule: it must not have gone through SLURM
    assert not any(c.startswith("rule_periodic_measure") for c, _ in new)

    for path in sorted((local / "results" / "periodic" / "runs").rglob("*.nc")):
        rel = path.relative_to(local)
        with xr.open_dataset(path, engine="h5netcdf") as a:
            with xr.open_dataset(remote / rel, engine="h5netcdf") as b:
                xr.testing.assert_equal(a, b)


def test_failing_job_is_reported_failed_and_retried(slurm, tmp_path):
    remote = copy_workflow(tmp_path / "failing")
    target = "results/periodic/runs/extrapolation/sin.nc"
    before = set(_slurm_jobs())
    # device: cuda on a machine without CUDA passes validation but fails inside the job
    proc = snakemake(
        remote,
        target,
        *SLURM_ARGS,
        "--retries",
        "1",
        "--config",
        "device=cuda",
        *SMOKE,
        check=False,
    )
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "Error in rule periodic_train_extrapolation" in output
    failed = [
        c
        for job_id, (c, state) in _slurm_jobs().items()
        if job_id not in before
        if c.startswith("rule_periodic_train_extrapolation_wildcards_sin") and state == "FAILED"
    ]
    assert len(failed) >= 2, f"expected the job and its retry to fail in SLURM, saw {failed}"
    assert not (remote / target).exists()
    assert "no CUDA device" in "\n".join(p.read_text() for p in (remote / "logs").rglob("*.log"))


def test_job_killed_at_its_time_limit_resumes_on_retry(slurm, tmp_path):
    """A train job longer than its 2-minute SLURM limit is killed (TIMEOUT); Snakemake resubmits it
    and the retry resumes from the checkpoint the killed attempt left (not from step 0)."""
    remote = copy_workflow(tmp_path / "timelimit")
    (remote / "config" / "long.yaml").write_text(
        "periodic:\n  extrapolation:\n    width: 512\n    n_per_side: 32\n    steps: 1000000\n"
    )
    target = "results/periodic/runs/extrapolation/sin.nc"
    before = set(_slurm_jobs())
    os.environ["PAPERCLAIMS_CHECKPOINT_SECONDS"] = "5"  # the SLURM jobs inherit it
    try:
        proc = snakemake(
            remote,
            target,
            *SLURM_ARGS,
            "--retries",
            "1",
            "--set-resources",
            "periodic_train_extrapolation:runtime=2",
            *SMOKE,
            "config/long.yaml",
            check=False,
        )
    finally:
        del os.environ["PAPERCLAIMS_CHECKPOINT_SECONDS"]
    assert proc.returncode != 0  # a million steps never fit: both attempts hit the limit
    states = [
        state
        for job_id, (comment, state) in _slurm_jobs().items()
        if job_id not in before and comment.startswith("rule_periodic_train_extrapolation")
    ]
    assert states.count("TIMEOUT") == 2, states
    log = (remote / "logs/periodic/train_extrapolation/sin.log").read_text()
    assert "resuming from checkpoint" in log, "the retry started from scratch"
