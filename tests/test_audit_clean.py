"""`paperclaims audit` on exactly what the pipeline wrote (fast tier): the shared smoke run of
every claim must pass as it is, and the rules that name a verdict or the claims table stale.

The fault-injection tests, each on a broken copy of a run, are in tests/test_audit.py (slow).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import BIN
from paperclaims.audit import Auditor, Report, format_text
from paperclaims.verdict import claims_table, computed_from


def test_audit_passes_right_after_the_smoke_run(smoke_run):
    """The command a user types after `snakemake --cores 2 --configfile config/test.yaml`."""
    env = dict(os.environ, PYTHONPATH=str(smoke_run / "workflow"))
    proc = subprocess.run(
        [str(BIN / "paperclaims"), "audit", "--configfile", "config/test.yaml"],
        cwd=smoke_run,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "audit PASSED" in text
    claims = sorted(p.parent.name for p in (smoke_run / "results").glob("*/verdict.json"))
    assert claims, "the smoke run wrote no verdicts"
    for claim in claims:
        assert f"verdict results/{claim}/verdict.json [rule {claim}_verdict]: OK" in text
        assert f"measured results/{claim}/measured.nc [rule {claim}_measure]: OK" in text
    assert "claims table figures/claims.md [rule claims_table]: OK" in text


# ------------------------------------------------------------------- staleness, on made-up files
# An Auditor over a hand-written DAG of two jobs (no Snakemake): a verdict computed from
# measured.nc and the table computed from the verdict, both up to date with Snakemake.


def _job(rule: str, inputs: list[str], output: str, code) -> dict:
    out = {"path": output, "exists": True, "endtime": None}
    out |= dict.fromkeys(("params_changed", "code_changed", "input_changed"), False)
    return {
        "rule": rule,
        "output": [out],
        "input": inputs,
        "params": {"code_hash": code},
        "updated_input": [],
        "updated_input_run": [],
    }


@pytest.fixture
def made_up(tmp_path: Path, monkeypatch) -> Auditor:
    monkeypatch.chdir(tmp_path)  # computed_from records paths relative to the working directory
    measured, verdict, table = (
        "results/c/measured.nc",
        "results/c/verdict.json",
        "figures/claims.md",
    )
    Path("results/c").mkdir(parents=True)
    Path("figures").mkdir()
    Path(measured).write_bytes(b"measured data")
    code = ["claimhash", "verdicthash"]
    record = computed_from([measured], json.dumps(code))  # as run_step passes a list hash
    verdict_json = {"claim": "c", "paper": "p", "verdict": "reproduced", "checks": []}
    Path(verdict).write_text(json.dumps({**verdict_json, "computed_from": record}))
    Path(table).write_text(claims_table([verdict], "verdicthash"))
    auditor = Auditor.__new__(Auditor)
    auditor.directory, auditor.cores = tmp_path, 2
    auditor.configfiles, auditor.config_args = ["config/test.yaml"], []
    auditor.report = Report(str(tmp_path), auditor.configfiles)
    auditor.producer = {
        verdict: _job("c_verdict", [measured], verdict, code),
        table: _job("claims_table", [verdict], table, "verdicthash"),
    }
    return auditor


def _stale(auditor: Auditor, path: str, role: str) -> list[str]:
    entry = auditor.check_computed(path, role)
    assert {f.kind for f in entry.faults} <= {"stale"}, entry.faults
    for f in entry.faults:
        assert f.command == (f"snakemake --cores 2 --configfile config/test.yaml --forcerun {path}")
    return [f.reason for f in entry.faults]


def test_up_to_date_verdict_and_table_pass(made_up):
    assert _stale(made_up, "results/c/verdict.json", "verdict") == []
    assert _stale(made_up, "figures/claims.md", "table") == []
    entry = made_up.check_computed("figures/claims.md", "table")
    report = Report("wd", [], tables=[entry])
    assert "claims table figures/claims.md [rule claims_table]: OK" in format_text(report)
    assert "computed from results/c/verdict.json (" in format_text(report)


def test_verdict_is_stale_when_its_input_changed(made_up):
    Path("results/c/measured.nc").write_bytes(b"measured data, rebuilt")
    (reason,) = _stale(made_up, "results/c/verdict.json", "verdict")
    assert "its input results/c/measured.nc changed after it was computed" in reason
    assert _stale(made_up, "figures/claims.md", "table") == []  # the verdict itself did not change


def test_table_is_stale_when_a_verdict_changed(made_up):
    path = Path("results/c/verdict.json")
    path.write_text(path.read_text() + "\n")
    (reason,) = _stale(made_up, "figures/claims.md", "table")
    assert "its input results/c/verdict.json changed after it was computed" in reason


def test_recorded_checksum_edited(made_up):
    path = Path("results/c/verdict.json")
    verdict = json.loads(path.read_text())
    verdict["computed_from"]["inputs"]["results/c/measured.nc"] = "0" * 64
    path.write_text(json.dumps(verdict))
    (reason,) = _stale(made_up, "results/c/verdict.json", "verdict")
    assert "recorded 000000000000…" in reason


def test_verdict_and_table_that_record_nothing_are_stale(made_up):
    path = Path("results/c/verdict.json")
    verdict = json.loads(path.read_text())
    del verdict["computed_from"]
    path.write_text(json.dumps(verdict))
    (reason,) = _stale(made_up, "results/c/verdict.json", "verdict")
    assert reason.startswith("records nothing it was computed from")
    table = Path("figures/claims.md")
    table.write_text(table.read_text().split("<!-- computed_from")[0])
    (reason,) = _stale(made_up, "figures/claims.md", "table")
    assert reason.startswith("records nothing it was computed from")


def test_code_hash_and_inputs_of_the_rule_now(made_up):
    made_up.producer["results/c/verdict.json"]["params"]["code_hash"] = [
        "claimhash2",
        "verdicthash",
    ]
    made_up.producer["figures/claims.md"]["input"].append("results/d/verdict.json")
    (reason,) = _stale(made_up, "results/c/verdict.json", "verdict")
    assert "computed by code hash" in reason and "claimhash2" in reason
    (reason,) = _stale(made_up, "figures/claims.md", "table")
    assert "the rule now takes ['results/c/verdict.json', 'results/d/verdict.json']" in reason


def test_unreadable_verdict_is_truncated(made_up):
    Path("results/c/verdict.json").write_text('{"claim": "c", "verd')
    entry = made_up.check_computed("results/c/verdict.json", "verdict")
    assert [f.kind for f in entry.faults] == ["truncated"]
