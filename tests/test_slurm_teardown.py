"""After the SLURM tests the machine is as they found it: no daemon of theirs alive, nothing of theirs left
configured or installed — so a later `snakemake` call costs what it did before (≈ 9 s more otherwise).

This module runs after tests/test_slurm.py (pytest orders the files by name), once that module's fixture
has been torn down; it checks what the teardown recorded. Run on its own, it does one bring-up and
teardown itself with the same helpers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import test_slurm as ts

pytestmark = pytest.mark.slow


def _record(tmp_path) -> dict:
    if ts.TEARDOWN:  # test_slurm.py's fixture ran (and was torn down) in this session
        return ts.TEARDOWN
    if os.geteuid() != 0:
        pytest.skip("SLURM teardown test needs root to start munge/slurmctld/slurmd")
    if shutil.which("slurmctld") and subprocess.run(["sinfo"], capture_output=True).returncode == 0:
        pytest.skip(
            "a SLURM is already up on this machine: the fixture would use it and start nothing"
        )
    before = ts.import_seconds()
    up = ts.slurm_up(tmp_path / "slurm")
    record = ts.slurm_down(tmp_path / "slurm")
    if up.returncode != 0:
        pytest.skip(f"could not start a one-node SLURM here: {up.stderr[-1500:]}")
    return dict(record, import_before=before, import_after=ts.import_seconds())


def test_slurm_teardown_stops_its_daemons_and_removes_what_it_added(tmp_path):
    record = _record(tmp_path)
    if record.get("existing"):
        pytest.skip("the SLURM tests used a SLURM that was already up: they started nothing")
    changes = record["changes"]
    print(
        f"\nimport snakemake_executor_plugin_slurm: {record['import_before']:.2f} s before the SLURM "
        f"tests, {record['import_after']:.2f} s after their teardown"
    )
    print(
        f"daemons started and stopped: {record['pids']}; packages purged: {record['packages_added']}"
    )
    assert record["down_rc"] == 0, record["down_log"]
    # every daemon it started had a pid file, and none of those pids is alive
    started = {name for name in ts.DAEMONS if f"{name.upper()}_STARTED" in changes}
    assert started <= set(record["pids"]), (started, record["pids"])
    assert not record["alive"], f"still running after teardown: {record['alive']}"
    assert not record["job_steps"], f"slurmstepd left running: {record['job_steps']}"
    # the cause of the slow probe is gone: no slurm.conf of ours naming a dead controller …
    assert not record["conf_left"], "teardown left the slurm.conf it created"
    if "CONF_BACKUP" in changes:
        assert ts.SLURM_CONF.read_bytes() == Path(changes["CONF_BACKUP"]).read_bytes()
    # … and, where the fixture installed the packages, no SLURM client for the plugin to find
    if "PKGS_INSTALLED" in changes:
        assert record["packages_added"], "installed packages but recorded none"
        assert record["sinfo_on_path"] is None, "SLURM's client is still installed"
        listed = subprocess.run(
            [
                "dpkg-query",
                "-W",
                "-f",
                "${Package} ${db:Status-Abbrev}\n",
                *record["packages_added"],
            ],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        assert not [line for line in listed if line.endswith("ii ")], listed
