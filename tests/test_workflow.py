"""The workflow as a user drives it: dry run, lint, format, bad config, end-to-end smoke run on
config/test.yaml, correct caching, and determinism. Every run happens in a throw-away copy."""

from __future__ import annotations

import json
import shutil
import subprocess

import jsonschema
import nbformat
import pytest
import xarray as xr
import yaml
from conftest import BIN, ROOT, copy_workflow, planned_jobs, snakemake
from paperclaims.registry import claims

TEST_CONFIG = ("--configfile", "config/test.yaml")
# Rule-name prefixes of every claim but periodic (the claim the caching tests edit).
OTHER_CLAIMS = tuple(f"{name}_" for name in claims() if name != "periodic")


def test_dry_run_of_default_config(workdir):
    proc = snakemake(workdir, "-n")
    jobs = planned_jobs(proc)
    assert jobs.get("all") == 1 and jobs.get("claims_table") == 1
    assert jobs.get("periodic_train_extrapolation") == 2  # one batched job per target


def test_lint_is_clean():
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_snakefmt_is_clean():
    files = ["Snakefile", *map(str, sorted((ROOT / "workflow" / "rules").glob("*.smk")))]
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", *files], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_is_clean():
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "workflow", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "override, key",
    [
        ("seed=abc", "'seed'"),
        ('periodic={"extrapolation": {"lr": -0.01}}', "periodic.extrapolation.lr"),
        ('periodic={"extrapolation": {"activations": ["relu", "gelu"]}}', "activations"),
        ('claims=["periodic", "nope"]', "claims"),
    ],
)
def test_bad_config_fails_before_any_job(workdir, override, key):
    proc = snakemake(workdir, "--cores", "1", "--config", override, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert key in output and "is invalid: must be" in output
    for produced in ("results", "figures", "logs"):
        assert not (workdir / produced).exists(), f"{produced}/ was created by a failing config"


def test_smoke_run_produces_figures_verdicts_and_table(smoke_run):
    table = (smoke_run / "figures" / "claims.md").read_text()
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "verdict.schema.yaml").read_text())
    assert (smoke_run / "figures" / "checks.png").stat().st_size > 10_000  # checks at a glance
    for claim in claims():
        verdict = json.loads((smoke_run / "results" / claim / "verdict.json").read_text())
        jsonschema.validate(verdict, schema)  # the documented verdict.json contract
        assert verdict["claim"] == claim and verdict["checks"]
        assert f"## {claim}: {verdict['paper']} — {verdict['verdict']}" in table
        for check in verdict["checks"] + verdict["implementation_checks"]:
            assert check["id"] in table
        assert (smoke_run / "results" / claim / f"{claim}.ipynb").exists()
        pngs = list((smoke_run / "figures" / claim).glob("*.png"))
        assert pngs and all(p.with_suffix(".pdf").exists() for p in pngs)
    executed = nbformat.read(smoke_run / "results" / "periodic" / "periodic.ipynb", as_version=4)
    assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code")


def test_cached_rerun_does_nothing(smoke_run):
    proc = snakemake(smoke_run, "-n", *TEST_CONFIG)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def _clone(smoke_run, tmp_path):
    return shutil.copytree(smoke_run, tmp_path / "clone", symlinks=True)


def test_editing_a_notebook_reruns_only_plots(smoke_run, tmp_path):
    clone = _clone(smoke_run, tmp_path)
    path = clone / "workflow" / "notebooks" / "periodic.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("An edit by the caching test."))
    nbformat.write(nb, path)
    jobs = planned_jobs(snakemake(clone, "-n", *TEST_CONFIG))
    assert "periodic_plot" in jobs
    assert set(jobs) <= {
        "periodic_plot",
        "notebook_html",
        "claims_table",
        "claims_table_html",
        "all",
    }, jobs


def test_changing_one_sweep_value_reruns_only_its_cells(smoke_run, tmp_path):
    """test.yaml forecasts with models snake and relu (one job each); adding tanh trains that one
    job and nothing else (the extrapolation jobs batch every activation of a target)."""
    override = tmp_path / "override.yaml"
    override.write_text("periodic:\n  forecast:\n    models: [snake, relu, tanh]\n")
    jobs = planned_jobs(snakemake(smoke_run, "-n", *TEST_CONFIG, str(override)))
    assert jobs.get("periodic_train_forecast") == 1, jobs
    assert not any(rule.startswith("periodic_train_extrapolation") for rule in jobs)
    assert not any(rule.startswith(OTHER_CLAIMS) for rule in jobs)


def test_editing_claim_code_reruns_that_claim(smoke_run, tmp_path):
    clone = _clone(smoke_run, tmp_path)
    module = clone / "workflow" / "paperclaims" / "claims" / "periodic" / "train.py"
    module.write_text(module.read_text() + "\n# an edit by the caching test\n")
    jobs = planned_jobs(snakemake(clone, "-n", *TEST_CONFIG))
    assert jobs.get("periodic_train_extrapolation") == 3  # every cell of test.yaml
    # the forecasts live in forecast.py, which does not import train.py: they stay cached
    assert not any(
        rule.startswith(("periodic_train_forecast", "periodic_forecast")) for rule in jobs
    )
    assert not any(rule.startswith(OTHER_CLAIMS) for rule in jobs)
    assert jobs.get("periodic_measure") == 1

    forecast = clone / "workflow" / "paperclaims" / "claims" / "periodic" / "forecast.py"
    forecast.write_text(forecast.read_text() + "\n# an edit by the caching test\n")
    jobs = planned_jobs(snakemake(clone, "-n", *TEST_CONFIG))
    assert jobs.get("periodic_train_forecast") == 3  # snake, relu and the shuffled control
    assert jobs.get("periodic_forecast_baselines") == 1


# Issue 19: the same claim cut into more jobs (block wildcards, registry.Sweep.blocks): every
# claim that declares blocks, each block wildcard at one item per job.
CUT_CLAIMS = [
    name for name, c in claims().items() if any(s.block for t in c.train for s in t.sweep)
]


def _cut_override(name: str) -> str:
    tree: dict = {}
    for step in claims()[name].train:
        for sweep in step.sweep:
            if sweep.block:
                *parents, leaf = sweep.reads[1].split(".")  # the per-job key
                node = tree
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = 1
    return yaml.safe_dump({name: tree})


@pytest.mark.parametrize("claim", CUT_CLAIMS)
def test_a_claim_cut_into_more_jobs_measures_identically(smoke_run, tmp_path, claim):
    """Every member's randomness derives from (base seed, claim, its finest cell keys, member
    index), so cutting a claim's cells into more jobs leaves its measured dataset unchanged."""
    other = copy_workflow(tmp_path / "cut")
    override = tmp_path / "cut.yaml"
    override.write_text(_cut_override(claim))
    target = f"results/{claim}/measured.nc"
    planned = planned_jobs(snakemake(other, "-n", target, *TEST_CONFIG, str(override)))
    uncut = planned_jobs(snakemake(other, "-n", target, *TEST_CONFIG))
    train = [rule for rule in uncut if rule.startswith(f"{claim}_") and "measure" not in rule]
    assert sum(planned[r] for r in train) > sum(uncut[r] for r in train), (planned, uncut)
    snakemake(other, target, "--cores", "2", *TEST_CONFIG, str(override))
    with xr.open_dataset(smoke_run / target, engine="h5netcdf") as whole:
        with xr.open_dataset(other / target, engine="h5netcdf") as cut:
            xr.testing.assert_identical(whole.drop_attrs(), cut.drop_attrs())


def test_same_seed_gives_identical_arrays_whatever_cores(smoke_run, tmp_path):
    other = copy_workflow(tmp_path / "again")
    target = "results/periodic/runs/extrapolation/sin.nc"
    snakemake(other, target, "--cores", "1", *TEST_CONFIG)
    first = xr.open_dataset(smoke_run / target, engine="h5netcdf")
    second = xr.open_dataset(other / target, engine="h5netcdf")
    xr.testing.assert_equal(first, second)
    first.close()
    second.close()


def test_other_seed_gives_other_arrays(smoke_run, tmp_path):
    other = copy_workflow(tmp_path / "seed")
    target = "results/periodic/runs/extrapolation/sin.nc"
    snakemake(other, target, "--cores", "1", "--config", "seed=1", *TEST_CONFIG)
    with xr.open_dataset(smoke_run / target, engine="h5netcdf") as a:
        with xr.open_dataset(other / target, engine="h5netcdf") as b:
            assert not a["prediction"].equals(b["prediction"])


def test_moved_checkout_with_its_results_reruns_nothing(smoke_run, tmp_path):
    """No path into the checkout is part of any job's record: moving it keeps the cache."""
    moved = shutil.copytree(smoke_run, tmp_path / "elsewhere" / "moved", symlinks=True)
    proc = snakemake(moved, "-n", *TEST_CONFIG)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def _scratch_with_config(tmp_path):
    """A run folder holding only a copy of config/, as on a cluster's scratch space."""
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT / "config", scratch / "config")
    return scratch


ONE_CLAIM = ("--config", 'claims=["phases"]')  # the cheapest claim at smoke scale


def test_runs_in_another_directory_holding_only_the_config(tmp_path):
    checkout = copy_workflow(tmp_path / "checkout")
    scratch = _scratch_with_config(tmp_path)
    args = ("--directory", str(scratch), "--snakefile", str(checkout / "Snakefile"))
    snakemake(checkout, "--cores", "2", *args, *TEST_CONFIG, *ONE_CLAIM)
    assert (scratch / "results" / "phases" / "verdict.json").exists()
    assert list((scratch / "figures" / "phases").glob("*.png"))
    assert (scratch / "logs" / "phases").is_dir()
    assert not (checkout / "results").exists() and not (checkout / "figures").exists()
    rerun = snakemake(checkout, "-n", *args, *TEST_CONFIG, *ONE_CLAIM)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def test_runs_as_a_snakemake_module_from_another_folder(tmp_path):
    checkout = copy_workflow(tmp_path / "checkout")
    user = _scratch_with_config(tmp_path)
    (user / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n'
        'configfile: "config/test.yaml"\n\n'
        "module paperclaims:\n"
        f'    snakefile: "{checkout / "Snakefile"}"\n'
        "    config: config\n\n"
        "use rule * from paperclaims\n"
    )
    snakemake(user, "--cores", "2", "results/phases/verdict.json", "figures/phases/test_error.png")
    assert json.loads((user / "results" / "phases" / "verdict.json").read_text())["checks"]
    assert (user / "figures" / "phases" / "test_error.png").exists()
    planned = planned_jobs(snakemake(user, "-n", "--cores", "1"))
    assert {"periodic_train_extrapolation", "saddles_plot", "claims_table"} <= set(planned)


def test_nested_numeric_override_from_the_command_line(workdir):
    """`--config` hands nested values to the workflow as strings; they take the schema's type."""
    override = "periodic={extrapolation: {width: 64, lr: 0.02, n_per_side: 16}}"
    proc = snakemake(workdir, "-n", "--config", override)
    assert planned_jobs(proc).get("periodic_train_extrapolation") == 2


def test_report_builds_with_every_figure_and_notebook(smoke_run):
    snakemake(smoke_run, "--report", "report.html", *TEST_CONFIG)
    html = (smoke_run / "report.html").read_text(errors="replace")
    for claim in claims():
        assert f"{claim}.html" in html, f"executed notebook of {claim} missing from the report"
    assert "extrapolation.png" in html and "claims.html" in html
