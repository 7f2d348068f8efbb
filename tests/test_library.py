"""Shared library: seeds, netCDF I/O with provenance, fits, verdicts, config validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT
from paperclaims import config as cfg
from paperclaims import io, seeds
from paperclaims.fits import bootstrap, line_fit, slope_across_seeds

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_seeds_are_stable_and_independent_of_other_cells():
    a = seeds.derive_seed(1, "periodic", "sin", "relu")
    assert a == seeds.derive_seed(1, "periodic", "sin", "relu")
    assert a != seeds.derive_seed(2, "periodic", "sin", "relu")
    assert a != seeds.derive_seed(1, "periodic", "sin", "tanh")
    # member i's seed does not depend on how many members the ensemble has
    assert seeds.member_seeds(a, 3) == seeds.member_seeds(a, 5)[:3]


def _prov(**kw):
    return io.provenance(claim="t", rule="r", params={"lr": 0.1}, base_seed=7, **kw)


def test_write_dataset_stamps_provenance(tmp_path):
    ds = xr.Dataset({"loss": (("seed", "step"), np.arange(6.0).reshape(2, 3))})
    path = io.write_dataset(ds, tmp_path / "a.nc", _prov(device="cpu", dtype="float64"))
    back = io.read_dataset(path)
    xr.testing.assert_equal(back["loss"], ds["loss"])
    prov = io.read_provenance(back)
    assert set(io.PROVENANCE_KEYS) <= set(prov)
    assert prov["params"] == {"lr": 0.1}
    assert prov["base_seed"] == 7 and prov["claim"] == "t" and prov["rule"] == "r"
    assert prov["torch_version"].startswith("2.")
    assert prov["data_sha256"] == io.data_checksum(back)  # what `paperclaims audit` re-checks


def test_write_dataset_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.nc"
    good = xr.Dataset({"v": ("x", np.ones(3))})
    io.write_dataset(good, path, _prov())

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    with pytest.raises(OSError):
        io.write_dataset(good * 2, path, _prov())
    # the old file is intact and no temp file is left behind
    xr.testing.assert_equal(io.read_dataset(path)["v"], good["v"])
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def test_missing_provenance_is_refused(tmp_path):
    with pytest.raises(ValueError, match="provenance lacks"):
        io.write_dataset(xr.Dataset(), tmp_path / "a.nc", {"claim": "x"})


def test_corrupt_file_error_names_file_and_rebuild(tmp_path):
    path = tmp_path / "runs" / "cell.nc"
    io.write_dataset(xr.Dataset({"v": ("x", np.ones(100))}), path, _prov())
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(io.CorruptCacheError) as err:
        io.read_dataset(path)
    assert str(path) in str(err.value) and "snakemake" in str(err.value)


def test_line_fit_recovers_known_slope():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 10, 200)
    y = 2.5 * x - 1 + rng.normal(0, 0.1, x.size)
    fit = line_fit(x, y)
    assert abs(fit.slope - 2.5) < 4 * fit.slope_se
    assert fit.slope_se < 0.01 and fit.r2 > 0.999


def test_slope_across_seeds_interval_covers_truth():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 50)
    ys = -3 * x + rng.normal(0, 0.2, (20, x.size))
    est = slope_across_seeds(x, ys)
    assert est.low < -3 < est.high
    assert est.high - est.low < 0.3


def test_bootstrap_median_interval():
    samples = np.random.default_rng(2).normal(5, 1, 400)
    est = bootstrap(samples)
    assert est.low < 5 < est.high and est.low < est.value < est.high


def test_required_sweep_values_apply_only_to_claims_that_run():
    config = {"claims": ["escape"], "periodic": {"extrapolation": {"snake_a": [5.5]}}}
    assert cfg.validate_config(config, SCHEMA)["claims"] == ["escape"]


def test_config_defaults_fill_in():
    config = cfg.validate_config({}, SCHEMA)
    assert config["seed"] >= 0 and config["periodic"]["extrapolation"]["lr"] > 0


@pytest.mark.parametrize(
    "bad, key, allowed",
    [
        ({"seed": "abc"}, "seed", "integer"),
        ({"periodic": {"extrapolation": {"lr": -0.01}}}, "periodic.extrapolation.lr", "> 0"),
        ({"periodic": {"extrapolation": {"activations": ["gelu"]}}}, "activations", "relu"),
        ({"device": "tpu"}, "device", "cpu"),
        ({"periodic": {"typo": 1}}, "periodic.typo", "extrapolation"),
        # sweep values a claim's required checks read (REQUIRED_CELLS)
        (
            {"periodic": {"extrapolation": {"snake_a": [5.5], "snake_a_headline": 10}}},
            "periodic.extrapolation.snake_a",
            "must contain 10",
        ),
        (
            {"periodic": {"extrapolation": {"activations": ["tanh", "snake"]}}},
            "periodic.extrapolation.activations",
            "must contain 'relu'",
        ),
        ({"claims": ["locality"], "locality": {"labels": ["local"]}}, "locality.labels", "global"),
        ({"claims": ["phases"], "phases": {"noise": [0, 0.1]}}, "phases.noise", "≥ 0.2"),
        (
            {"claims": ["escape"], "escape": {"stationary": {"lr": [0.5, 1.0]}}},
            "escape.stationary.lr",
            "phi_check_max_lr",
        ),
        (
            {"claims": ["phases"], "phases": {"verdict": {"min_auroc": 0.5}}},
            "phases.verdict",
            "noise",
        ),
    ],
)
def test_config_errors_name_key_value_and_allowed(bad, key, allowed):
    with pytest.raises(cfg.ConfigError) as err:
        cfg.validate_config(bad, SCHEMA)
    message = str(err.value)
    assert key in message and allowed in message


TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "rate": {"type": "number"},
        "flag": {"type": "boolean"},
        "sizes": {"type": "array", "items": {"type": "integer"}},
        "range": {"type": "array", "items": {"type": "number"}},
        "name": {"type": "string"},
        "inner": {"type": "object", "properties": {"width": {"type": "integer"}}},
    },
}


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("count", "64", 64),
        ("count", "-3", -3),
        ("rate", "1e-3", 1e-3),
        ("rate", "2", 2),
        ("flag", "true", True),
        ("flag", "False", False),
        ("sizes", ["1", "2", "4"], [1, 2, 4]),
        ("range", ["5", "10.5"], [5, 10.5]),
        ("name", "64", "64"),  # a string key keeps its string
    ],
)
def test_command_line_strings_take_the_schema_type(tmp_path, key, text, value):
    """`--config` hands nested values over as strings ('64'): they become the declared type."""
    schema = tmp_path / "t.schema.yaml"
    schema.write_text(json.dumps(TYPED_SCHEMA))
    config = cfg.validate_config({key: text, "inner": {"width": "8"}}, schema)
    assert config[key] == value and type(config[key]) is type(value)
    assert config["inner"]["width"] == 8


@pytest.mark.parametrize(
    "bad, key, allowed",
    [
        ({"inner": {"width": "6.5"}}, "inner.width", "integer"),
        ({"rate": "fast"}, "rate", "number"),
        ({"flag": "maybe"}, "flag", "boolean"),
        ({"sizes": ["1", "two"]}, "sizes.1", "integer"),
    ],
)
def test_strings_that_do_not_coerce_still_fail_naming_key_value_and_type(
    tmp_path, bad, key, allowed
):
    schema = tmp_path / "t.schema.yaml"
    schema.write_text(json.dumps(TYPED_SCHEMA))
    with pytest.raises(cfg.ConfigError) as err:
        cfg.validate_config(bad, schema)
    message = str(err.value)
    assert f"'{key}'" in message and allowed in message
    leaf = bad
    for part in key.split("."):
        leaf = leaf[int(part)] if isinstance(leaf, list) else leaf[part]
    assert repr(leaf) in message


def test_code_hash_changes_with_content(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("x = 1\n")
    before = cfg.code_hash(f)
    f.write_text("x = 2\n")
    assert cfg.code_hash(f) != before


def test_compare_runs_reports_differences_and_flipped_checks(tmp_path):
    """workflow/scripts/compare_runs.py (CPU vs GPU runs): relative differences per file, the
    fraction of flags that differ, and the checks whose pass/fail changed."""
    import subprocess
    import sys

    for run, shift, flag, passed in [("a", 0.0, True, True), ("b", 0.5, False, False)]:
        results = tmp_path / run / "results" / "toy"
        ds = xr.Dataset(
            {
                "loss": ("step", np.array([1.0, 2.0, 4.0]) + shift),
                "diverged": ("step", np.array([False, flag, False])),
            }
        )
        io.write_dataset(ds, results / "runs" / "cell.nc", _prov())
        checks = [{"id": "c1", "measured": 1.0 + shift, "passed": passed}]
        (results / "verdict.json").write_text(json.dumps({"checks": checks}))
    out = tmp_path / "compare.json"
    script = ROOT / "workflow" / "scripts" / "compare_runs.py"
    proc = subprocess.run(
        [sys.executable, str(script), tmp_path / "a", tmp_path / "b", "--json", out],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.read_text())
    cell = report["files"]["results/toy/runs/cell.nc"]
    assert cell["loss"]["max_abs_diff"] == pytest.approx(0.5)
    assert cell["loss"]["max_rel_diff"] == pytest.approx(0.5 / 4.0)
    assert cell["diverged"]["fraction_different"] == pytest.approx(1 / 3)
    assert report["verdicts"]["toy"] == [
        {"id": "c1", "measured_a": 1.0, "measured_b": 1.5, "pass_a": True, "pass_b": False}
    ]
    assert "1 changed pass/fail ['c1']" in proc.stdout
