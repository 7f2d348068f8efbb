"""`paperclaims audit`: one real (tiny) periodic run, then one broken copy of it per fault kind;
stale verdicts and claims table on a copy of the shared smoke run of every claim.

Every copy is audited as the pipeline wrote it (nothing re-stamped). The audit of the clean smoke
run itself is in the fast tier: tests/test_audit_clean.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import copy_workflow, snakemake
from paperclaims.audit import CHECKSUM_ATTR, Auditor, data_checksum, format_text
from paperclaims.cli import main
from paperclaims.io import read_dataset, read_provenance, write_dataset

pytestmark = pytest.mark.slow

CLAIMS = 'claims=["periodic"]'
RUN = "results/periodic/runs/forecast/elnino_relu.nc"


def _prov(ds: xr.Dataset) -> dict:
    """The provenance dict write_dataset takes, from a dataset read back (checksum included)."""
    prov = read_provenance(ds)
    prov["params"] = json.dumps(prov["params"], sort_keys=True)
    return prov


def keeping_mtime(path: Path, edit) -> None:
    """``edit(path)``, then the file's old mtime back: Snakemake's view of the DAG is unchanged,
    so only a content check can tell."""
    stat = path.stat()
    edit(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("audit") / "wf")
    snakemake(wd, "--cores", "2", "--configfile", "config/test.yaml", "--config", CLAIMS)
    return wd


@pytest.fixture
def wd(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built workflow (mtimes and .snakemake metadata kept)."""
    return Path(shutil.copytree(built, tmp_path / "wf", symlinks=True))


def audit(wd: Path, *configfiles: str) -> tuple[int, str, dict]:
    """Exit status, text and JSON of one audit (one DAG build)."""
    result = Auditor(wd, ["config/test.yaml", *configfiles], [CLAIMS]).run()
    return (1 if result.faults else 0), format_text(result), result.to_json()


def faults_of(report: dict, kind: str) -> dict[str, dict]:
    return {f["path"]: f for f in report["faults"] if f["kind"] == kind}


def rebuild_cmd(path: str, *configfiles: str) -> str:
    files = " ".join(["config/test.yaml", *configfiles])
    return f"snakemake --cores 2 --configfile {files} --config 'claims=[\"periodic\"]' --forcerun {path}"


def test_clean_run_passes_and_shows_the_chain(wd, capsys):
    files = ["--configfile", "config/test.yaml"]
    rc = main(["audit", "--directory", str(wd), *files, "--config", CLAIMS])
    text = capsys.readouterr().out
    assert rc == 0, text
    for needle in (
        "figure figures/periodic/extrapolation.png [rule periodic_plot]: OK",
        "notebook results/periodic/periodic.ipynb",
        "verdict results/periodic/verdict.json [rule periodic_verdict]: OK",
        "computed from results/periodic/measured.nc (",
        "measured results/periodic/measured.nc [rule periodic_measure]: OK",
        f"run {RUN} [rule periodic_train_forecast]: OK",
        "base_seed=",
        "versions: python=",
        "data_sha256=",
        "claims table figures/claims.md [rule claims_table]: OK",
        "audit PASSED: 21 files checked, 0 faults",
    ):
        assert needle in text, needle


def test_module_entry_point_json(wd):
    proc = subprocess.run(
        [sys.executable, "-m", "paperclaims", "audit", "--configfile", "config/test.yaml"]
        + ["--config", CLAIMS, "--json"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["counts"] == dict.fromkeys(report["counts"], 0)
    entries = report["claims"]["periodic"]
    assert {e["role"] for e in entries} == {"figure", "notebook", "verdict", "measured", "run"}
    assert [e["path"] for e in report["tables"]] == ["figures/claims.md"]
    runs = [e for e in entries if e["role"] == "run"]
    assert len(runs) == 7 and all(e["provenance"]["claim"] == "periodic" for e in runs)
    assert all("data_sha256" in e["provenance"] for e in runs)


def test_stale_after_config_change(wd):
    (wd / "config" / "stale.yaml").write_text("periodic:\n  forecast:\n    epochs: 3\n")
    rc, text, report = audit(wd, "config/stale.yaml")
    assert rc == 1
    stale = faults_of(report, "stale")
    for model in ("relu", "snake", "snake_shuffled"):
        path = f"results/periodic/runs/forecast/elnino_{model}.nc"
        assert path in stale and "epochs: stored 2, config now gives 3" in stale[path]["reason"]
        assert stale[path]["command"] == rebuild_cmd(path, "config/stale.yaml")
        assert rebuild_cmd(path, "config/stale.yaml") in text
    assert "results/periodic/runs/forecast_baselines/elnino.nc" not in stale
    # the verdict's params carry the whole periodic config: Snakemake would rerun it too
    verdict = "results/periodic/verdict.json"
    assert "the rule's params changed" in stale[verdict]["reason"]
    assert stale[verdict]["command"] == rebuild_cmd(verdict, "config/stale.yaml")
    assert report["counts"]["stale"] == 4 and "audit FAILED" in text


def test_hand_edited(wd):
    path = wd / RUN
    ds = read_dataset(path)
    ds["train_loss"].values[(0,) * ds["train_loss"].ndim] += 1.0
    ds.to_netcdf(path, engine="h5netcdf")  # by hand: old provenance and checksum kept
    assert read_dataset(path).attrs[CHECKSUM_ATTR] != data_checksum(read_dataset(path))
    rc, text, report = audit(wd)
    assert rc == 1
    edited = faults_of(report, "hand-edited")
    assert set(edited) == {RUN}
    assert edited[RUN]["command"] == rebuild_cmd(RUN)
    assert f"hand-edited: {RUN}" in text and rebuild_cmd(RUN) in text
    # the edit also made measured.nc older than its input
    assert "results/periodic/measured.nc" in faults_of(report, "stale")


def test_hand_edit_without_checksum_is_caught_by_mtime(wd):
    path = wd / RUN
    ds = read_dataset(path)
    ds.attrs.pop(CHECKSUM_ATTR)
    ds["train_loss"].values[...] = 0.0
    ds.to_netcdf(path, engine="h5netcdf")
    rc, text, report = audit(wd)
    assert rc == 1
    edited = faults_of(report, "hand-edited")
    assert set(edited) == {RUN} and "after its job ended" in edited[RUN]["reason"]
    assert "no checksum recorded" in text


def test_truncated(wd):
    path = wd / RUN
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    rc, text, report = audit(wd)
    assert rc == 1
    truncated = faults_of(report, "truncated")
    assert set(truncated) == {RUN} and truncated[RUN]["command"] == rebuild_cmd(RUN)
    assert f"truncated: {RUN}" in text and rebuild_cmd(RUN) in text


def test_foreign(wd):
    # a file copied from another rule's place, and a dataset no rule makes and without provenance
    baseline = "results/periodic/runs/forecast_baselines/elnino.nc"
    shutil.copy2(wd / RUN, wd / baseline)
    stray = "results/periodic/runs/forecast/stray.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(wd / stray, engine="h5netcdf")
    no_prov = "results/periodic/runs/forecast/elnino_snake.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(wd / no_prov, engine="h5netcdf")
    rc, text, report = audit(wd)
    assert rc == 1
    foreign = faults_of(report, "foreign")
    assert set(foreign) == {baseline, stray, no_prov}
    assert "rule 'periodic_train_forecast'" in foreign[baseline]["reason"]
    assert foreign[baseline]["command"] == rebuild_cmd(baseline)
    assert foreign[stray]["command"] == f"rm {stray}"
    assert "no provenance" in foreign[no_prov]["reason"]
    assert foreign[no_prov]["command"] == rebuild_cmd(no_prov)
    assert "3 foreign" in text and f"rm {stray}" in text


# ------------------------------------------------------------ stale verdicts and claims table
# On a copy of the shared smoke run of every claim, audited with the config it was run with.


@pytest.fixture
def smoke(smoke_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(smoke_run, tmp_path / "smoke", symlinks=True))


def audit_smoke(wd: Path) -> tuple[str, dict]:
    result = Auditor(wd, ["config/test.yaml"], []).run()
    return format_text(result), result.to_json()


def smoke_rebuild_cmd(path: str) -> str:
    return f"snakemake --cores 2 --configfile config/test.yaml --forcerun {path}"


def test_verdict_is_stale_after_its_measured_data_changed(smoke):
    measured, verdict = "results/periodic/measured.nc", "results/periodic/verdict.json"

    def touch_one_value(path: Path) -> None:  # a rebuilt measured.nc: new data, new checksum
        ds = read_dataset(path)
        name = next(n for n in sorted(ds.data_vars) if ds[n].dtype.kind == "f")
        ds[name].values.flat[0] += 1.0
        write_dataset(ds, path, _prov(ds))

    keeping_mtime(smoke / measured, touch_one_value)
    text, report = audit_smoke(smoke)
    stale = faults_of(report, "stale")
    assert set(stale) == {verdict}, text
    assert f"its input {measured} changed after it was computed" in stale[verdict]["reason"]
    assert stale[verdict]["command"] == smoke_rebuild_cmd(verdict)
    assert smoke_rebuild_cmd(verdict) in text and "audit FAILED" in text
    assert not faults_of(report, "hand-edited")  # written by write_dataset: checksum recorded


def test_claims_table_is_stale_after_a_verdict_changed(smoke):
    table, verdict = "figures/claims.md", "results/locality/verdict.json"

    def drop_record(path: Path) -> None:
        data = json.loads(path.read_text())
        del data["computed_from"]
        path.write_text(json.dumps(data, indent=2) + "\n")

    keeping_mtime(smoke / verdict, drop_record)
    text, report = audit_smoke(smoke)
    stale = {}
    for f in report["faults"]:
        assert f["kind"] == "stale", f
        stale.setdefault(f["path"], []).append(f)
    assert set(stale) == {verdict, table}, text
    (verdict_fault,) = stale[verdict]
    assert verdict_fault["reason"].startswith("records nothing it was computed from")
    (table_fault,) = stale[table]
    assert f"its input {verdict} changed after it was computed" in table_fault["reason"]
    assert table_fault["command"] == smoke_rebuild_cmd(table)
    assert smoke_rebuild_cmd(table) in text
