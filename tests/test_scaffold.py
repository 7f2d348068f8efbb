"""`paperclaims new-claim`: a new claim touches only the files the scaffold writes, its rules plan
without any other edit, and the worked example of docs/adding-a-claim.md runs end to end."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, ROOT, copy_workflow, planned_jobs, snakemake

GUIDE = ROOT / "docs" / "adding-a-claim.md"


def checkout_copy(dest: Path) -> Path:
    wd = copy_workflow(dest)
    shutil.copytree(ROOT / "tests", wd / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    return wd


def file_hashes(root: Path) -> dict[Path, str]:
    return {
        p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".snakemake" not in p.parts
    }


def new_claim(wd: Path, name: str, check: bool = True):
    proc = subprocess.run(
        [sys.executable, "-m", "paperclaims", "new-claim", name, "--root", str(wd)],
        env=dict(os.environ, PYTHONPATH=str(wd / "workflow")),
        capture_output=True,
        text=True,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_new_claim_touches_only_what_it_writes_and_its_rules_plan(tmp_path):
    from paperclaims.scaffold import planned_files

    wd = checkout_copy(tmp_path / "wf")
    before = file_hashes(wd)
    new_claim(wd, "toy")
    after = file_hashes(wd)
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == set(planned_files(wd, "toy")), changed ^ set(planned_files(wd, "toy"))
    assert set(before) <= set(after)  # nothing removed

    jobs = planned_jobs(snakemake(wd, "-n", "--config", 'claims=["toy"]'))
    assert jobs["toy_simulate"] == 4  # the default sweep: one job per size
    for rule in ("toy_measure", "toy_verdict", "toy_plot", "claims_table", "checks_at_a_glance"):
        assert jobs[rule] == 1, jobs
    # the other claims' rules and config are untouched: the default dry run still plans them
    assert planned_jobs(snakemake(wd, "-n"))


def test_new_claim_refuses_bad_names_and_existing_claims(tmp_path):
    wd = checkout_copy(tmp_path / "wf")
    proc = new_claim(wd, "Bad-Name", check=False)
    assert proc.returncode == 2 and "lower-case letters and digits" in proc.stderr
    existing = next(iter(sorted((wd / "workflow/paperclaims/claims").glob("*/claim.py")))).parent
    before = file_hashes(wd)
    proc = new_claim(wd, existing.name, check=False)
    assert proc.returncode == 2 and "exists already" in proc.stderr
    assert file_hashes(wd) == before  # nothing written


def guide_blocks(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The guide's whole-file blocks (path → text) and notebook cells (figure name → source)."""
    pattern = r"<!-- (file|notebook cell): (\S+) -->\n```\w*\n(.*?)```"
    files, cells = {}, {}
    for kind, where, body in re.findall(pattern, text, flags=re.S):
        (files if kind == "file" else cells)[where] = body
    return files, cells


@pytest.mark.slow
def test_worked_example_of_the_guide_runs_end_to_end(tmp_path):
    wd = checkout_copy(tmp_path / "wf")
    new_claim(wd, "coins")
    files, cells = guide_blocks(GUIDE.read_text())
    assert {"workflow/paperclaims/claims/coins/train.py", "tests/test_coins.py"} <= set(files)
    for path, body in files.items():
        (wd / path).write_text(body)
    notebook = wd / "workflow/notebooks/coins.ipynb"
    nb = json.loads(notebook.read_text())
    for figure, body in cells.items():
        cell = next(c for c in nb["cells"] if f'"{figure}")' in "".join(c["source"]))
        cell["source"] = body.splitlines(keepends=True)
    notebook.write_text(json.dumps(nb, indent=1))

    tests = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests/test_coins.py"],
        cwd=wd,
        env=dict(os.environ, PYTHONPATH=str(wd / "workflow")),
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    snakemake(wd, "--cores", "2", "--config", 'claims=["coins"]')
    verdict = json.loads((wd / "results/coins/verdict.json").read_text())
    check = verdict["checks"][0]
    assert (check["outcome"], check["control"]["outcome"]) == ("supports", "contradicts")
    assert verdict["verdict"] == "reproduced"
    assert (wd / "figures/coins/main.png").stat().st_size > 0
    assert "coins" in (wd / "figures/claims.md").read_text()
