"""Golden tests of the periodic claim's verdict: synthetic measured datasets (the variables, dims
and coords that ``analysis.measure`` writes) on which the claim holds, is contradicted, is
under-powered, fails a precondition, or has a control that passes too."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import ROOT, outcomes, run_verdict
from paperclaims.claims.periodic import analysis
from paperclaims.verdict import CheckCodeError

PARAMS = {"snake_a_headline": 10, "far_range": [5.0, 10.0], "config": {"extrapolation": {}}}
SNAKE = "snake_a10"
CLAIM_CHECKS = ["snake_vs_relu_mse[sin]", "snake_frequency[sin]"]
CO2_CHECKS = ["co2_snake_beats_relu", "co2_snake_beats_tanh"]
IMPLEMENTATION = [
    "relu_affine_far[sin]",
    "tanh_flat_far[sin]",
    "prop1_variance_formula",
    "prop1_argmax",
]


def _per_seed(values, n_seeds):
    values = np.asarray(values, dtype=float)
    return np.broadcast_to(values, (n_seeds,)).copy() if values.ndim == 0 else values


def measured(
    *,
    n_seeds=5,
    targets=("sin",),
    activations=("relu", "tanh", SNAKE),
    forecast_models=(SNAKE, "relu", "tanh"),
    extrapolation_mse=None,
    fitted_frequency=None,
    final_train_mse=None,
    forecast_mse=None,
    forecast_train_mse=None,
) -> xr.Dataset:
    """A measured.nc as ``analysis.measure`` writes it; per-activation (per-model) values are one
    number (every seed alike, plus a small spread) or one per seed. Defaults: the claim holds."""
    rng = np.random.default_rng(0)
    spread = lambda n: 1 + 0.005 * rng.standard_normal(n)  # noqa: E731
    extrapolation_mse = {"relu": 5.0, "tanh": 0.6, SNAKE: 0.005, **(extrapolation_mse or {})}
    fitted_frequency = {"relu": 3.0, "tanh": 2.0, SNAKE: 15.02, **(fitted_frequency or {})}
    final_train_mse = {"relu": 0.002, "tanh": 0.02, SNAKE: 0.001, **(final_train_mse or {})}
    forecast_mse = {SNAKE: 0.02, "relu": 0.08, "tanh": 0.2, **(forecast_mse or {})}
    forecast_train_mse = {SNAKE: 0.01, "relu": 0.02, "tanh": 0.03, **(forecast_train_mse or {})}

    x = np.linspace(-3.5, 3.5, 281)
    seed = np.arange(n_seeds)
    shape = (len(targets), len(activations), n_seeds)

    def per_seed(table, names, default):
        """One row per name (a name without a value gets ``default``); a single number gets a
        0.5% spread over seeds."""
        values = [table.get(k, default) for k in names]
        return np.stack(
            [_per_seed(v, n_seeds) * (spread(n_seeds) if np.ndim(v) == 0 else 1) for v in values]
        )

    def per_cell(table, default=1.0):
        return np.broadcast_to(per_seed(table, activations, default)[None], shape).copy()

    curve = np.sin(analysis.FREQUENCY * x)
    far_r2 = np.where(np.array(activations) == "relu", 0.9999, 0.5)[:, None]
    slope_ratio = np.where(np.array(activations) == "tanh", 0.001, 0.8)[:, None]
    mse = per_cell(extrapolation_mse)
    train = per_cell(final_train_mse)
    cells = xr.Dataset(
        {
            "extrapolation_mse": (("target", "activation", "seed"), mse),
            "fitted_frequency": (("target", "activation", "seed"), per_cell(fitted_frequency)),
            "far_linear_r2": (("target", "activation", "seed"), np.broadcast_to(far_r2, shape)),
            "far_slope_ratio": (
                ("target", "activation", "seed"),
                np.broadcast_to(slope_ratio, shape),
            ),
            "diverged": (("target", "activation", "seed"), ~np.isfinite(train)),
            "final_train_mse": (("target", "activation", "seed"), train),
            "median": (("target", "activation", "x"), np.zeros((*shape[:2], x.size))),
            "q05": (("target", "activation", "x"), np.full((*shape[:2], x.size), -0.1)),
            "q95": (("target", "activation", "x"), np.full((*shape[:2], x.size), 0.1)),
            "target_curve": (
                ("target", "activation", "x"),
                np.broadcast_to(curve, (*shape[:2], x.size)),
            ),
            # as measure() computes them from the target curve
            "zero_predictor_mse": (
                "target",
                np.full(len(targets), np.mean(curve[np.abs(x) > 1] ** 2)),
            ),
            "train_target_var": (
                "target",
                np.full(len(targets), np.var(curve[(np.abs(x) >= 1 / 3) & (np.abs(x) <= 1)])),
            ),
        },
        coords={"target": list(targets), "activation": list(activations), "seed": seed, "x": x},
    )
    years = 1958 + np.arange(120) / 12
    n_train = 72
    ppm = np.linspace(315, 370, years.size) + 3 * np.sin(2 * np.pi * years)
    observed = (ppm - ppm[:n_train].mean()) / ppm[:n_train].std()  # as _split_series scales it
    a_grid = np.linspace(0.05, 3.0, 8)
    variance = analysis.snake_variance(a_grid)
    return (
        cells.assign(
            forecast_mse=(("forecast_model", "seed"), per_seed(forecast_mse, forecast_models, 0.1)),
            forecast_train_mse=(
                ("forecast_model", "seed"),
                per_seed(forecast_train_mse, forecast_models, 0.01),
            ),
            forecast_median=(
                ("forecast_model", "time"),
                np.zeros((len(forecast_models), years.size)),
            ),
            observed=("time", observed),
            baseline_mse=("baseline", [0.2, 0.03]),
            baseline_forecast=(("baseline", "time"), np.zeros((2, years.size))),
            variance_formula=("a", variance),
            variance_quadrature=("a", variance + 1e-12),
        )
        .assign_coords(
            forecast_model=list(forecast_models),
            time=years,
            baseline=["seasonal_naive", "sarima"],
            a=a_grid,
        )
        .assign_attrs(n_train_months=n_train, far_range=[5.0, 10.0])
    )


def verdict_of(tmp_path, ds, params=PARAMS) -> dict:
    return run_verdict(analysis.verdict, ds, params, tmp_path, "periodic")


def by_id(verdict: dict) -> dict[str, dict]:
    return {c["id"]: c for c in verdict["checks"] + verdict["implementation_checks"]}


def two_targets(sin: xr.Dataset, square: xr.Dataset) -> xr.Dataset:
    """``sin``'s dataset with a second target whose per-target numbers come from ``square``."""
    square = square.assign_coords(target=["square"])
    return xr.concat(
        [sin, square], dim="target", data_vars="minimal", coords="minimal", compat="override"
    )


def test_claim_holds_every_check_supports(tmp_path):
    v = verdict_of(tmp_path, two_targets(measured(), measured()))
    got = outcomes(v)
    square = [i.replace("[sin]", "[square]") for i in CLAIM_CHECKS + IMPLEMENTATION if "[" in i]
    assert {c["id"] for c in v["checks"]} == {*CLAIM_CHECKS, *CO2_CHECKS, *square[:2]}
    assert {c["id"] for c in v["implementation_checks"]} == {*IMPLEMENTATION, *square[2:]}
    assert got == {i: "supports" for i in got}
    assert v["verdict"] == "reproduced"
    assert v["counts"] == {"supports": 6, "contradicts": 0, "inconclusive": 0}
    checks = by_id(v)
    ratio = checks["snake_vs_relu_mse[sin]"]
    assert ratio["headline"] and checks["snake_frequency[sin]"]["headline"]
    assert not checks["co2_snake_beats_relu"]["headline"]
    # ReLU's MSE 5 is only 10× the zero predictor's 0.5: the control contradicts, so informative
    assert ratio["control"]["name"] == "zero predictor"
    assert ratio["control"]["outcome"] == "contradicts" and ratio["uninformative"] is False
    assert ratio["measured"] == pytest.approx(1000, rel=0.05)
    assert ratio["control"]["measured"] == pytest.approx(10, rel=0.05)
    assert ratio["threshold"]["value"] == 100 and ratio["threshold"]["comparison"] == ">="
    assert ratio["precondition"]["held"] is True
    lo, hi = ratio["interval"]
    assert lo <= ratio["measured"] <= hi and "95%" in ratio["interval_method"]
    # ReLU (fitted frequency 3) through the frequency check: contradicts, so that check is informative
    frequency = checks["snake_frequency[sin]"]
    assert (
        frequency["control"]["name"] == "relu" and frequency["control"]["outcome"] == "contradicts"
    )
    assert not frequency["uninformative"]
    # every other check has no control yet
    assert all(
        c["control"] is None
        for c in v["checks"]
        if not c["id"].startswith(("snake_vs", "snake_freq"))
    )
    # the documented schema; every threshold is THRESHOLDS' own
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "verdict.schema.yaml").read_text())
    jsonschema.validate(json.loads(json.dumps(v)), schema)
    for c in v["checks"] + v["implementation_checks"]:
        key = c["id"].split("[")[0]
        key = "co2_snake_beats" if key.startswith("co2_snake_beats") else key
        assert c["threshold"] == analysis.THRESHOLDS[key].to_dict()


def test_claim_contradicted(tmp_path):
    """Snake extrapolates no better than ReLU and finds another frequency; it forecasts worse."""
    ds = measured(
        extrapolation_mse={SNAKE: 4.0},
        fitted_frequency={SNAKE: 6.3},
        forecast_mse={SNAKE: 0.4},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    assert {k: got[k] for k in [*CLAIM_CHECKS, *CO2_CHECKS]} == {
        "snake_vs_relu_mse[sin]": "contradicts",
        "snake_frequency[sin]": "contradicts",
        "co2_snake_beats_relu": "contradicts",
        "co2_snake_beats_tanh": "contradicts",
    }
    assert by_id(v)["snake_vs_relu_mse[sin]"]["control"]["outcome"] == "contradicts"
    assert v["verdict"] == "not reproduced"
    # implementation checks are unaffected and never enter the verdict
    assert all(got[i] == "supports" for i in IMPLEMENTATION)


def test_under_powered_checks_are_inconclusive(tmp_path):
    """Two seeds that disagree: every interval straddles its threshold."""
    ds = measured(
        n_seeds=2,
        extrapolation_mse={"relu": [5.0, 5.0], SNAKE: [0.001, 1.0]},
        fitted_frequency={SNAKE: [13.0, 17.0]},
        forecast_mse={SNAKE: [0.01, 0.3], "relu": [0.05, 0.1], "tanh": [0.005, 0.4]},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    assert {k: got[k] for k in [*CLAIM_CHECKS, *CO2_CHECKS]} == {
        k: "inconclusive" for k in [*CLAIM_CHECKS, *CO2_CHECKS]
    }
    checks = by_id(v)
    for key in CLAIM_CHECKS + CO2_CHECKS:
        assert checks[key]["precondition"]["held"] is True
        assert "across the edge" in checks[key]["reason"]
    # the point value alone (ratio of medians 5 / 0.5 = 10) would have read as a contradiction
    assert checks["snake_vs_relu_mse[sin]"]["measured"] == pytest.approx(10, rel=1e-3)
    lo, hi = checks["snake_vs_relu_mse[sin]"]["interval"]
    assert lo < 100 < hi
    assert v["verdict"] == "inconclusive"


def test_snake_not_fitting_its_training_data_makes_its_checks_inconclusive(tmp_path):
    """A Snake net at 60% of the training target's variance did not fit: whatever its
    extrapolation numbers, they say nothing about the paper."""
    ds = measured(final_train_mse={SNAKE: 0.3}, extrapolation_mse={SNAKE: 4.0})
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    checks = by_id(v)
    for key in CLAIM_CHECKS:
        assert got[key] == "inconclusive"
        assert checks[key]["precondition"]["held"] is False
        assert checks[key]["reason"].startswith("precondition failed: ")
        assert "fit their training data" in checks[key]["reason"]
        assert SNAKE in checks[key]["precondition"]["measured"]
    assert got["co2_snake_beats_relu"] == got["co2_snake_beats_tanh"] == "supports"
    # ReLU fitted, so the control (ReLU against the zero predictor) is still judged
    assert checks["snake_vs_relu_mse[sin]"]["control"]["outcome"] == "contradicts"
    assert v["verdict"] == "partly reproduced"
    assert any("snake_vs_relu_mse[sin]: inconclusive, precondition failed" in n for n in v["notes"])


def test_a_diverged_seed_or_an_unfitted_forecast_net_fails_the_fit_precondition(tmp_path):
    """One ReLU seed diverged (NaN loss and MSE); the ReLU forecast net did not fit its data."""
    nan = float("nan")
    ds = measured(
        final_train_mse={"relu": [0.002, 0.002, nan, 0.002, 0.002]},
        extrapolation_mse={"relu": [5.0, 5.0, nan, 5.0, 5.0]},
        forecast_train_mse={"relu": 0.5},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    check = by_id(v)["snake_vs_relu_mse[sin]"]
    assert check["outcome"] == "inconclusive" and check["precondition"]["held"] is False
    assert check["control"]["outcome"] == "inconclusive"  # the control shares ReLU's fit
    assert check["uninformative"] is False
    assert got["snake_frequency[sin]"] == "supports"  # Snake itself fitted
    assert got["co2_snake_beats_relu"] == "inconclusive"
    assert by_id(v)["co2_snake_beats_relu"]["precondition"]["held"] is False
    assert got["co2_snake_beats_tanh"] == "supports"
    assert v["verdict"] == "partly reproduced"


def test_zero_predictor_control_passing_makes_the_check_uninformative(tmp_path):
    """The audit's case (sin): ReLU's extrapolation MSE (≈ 132) is ≥ 100× the zero predictor's
    (0.5), so f(x) = 0 passes "Snake ≥ 100× below ReLU" too; the check supports but cannot tell.
    On square, Snake is only 50× better than such a ReLU: the check contradicts, yet its control
    supports, so it is uninformative too, not a contradiction."""
    sin = measured(extrapolation_mse={"relu": 132.0, SNAKE: 0.11})
    v = verdict_of(
        tmp_path, two_targets(sin, measured(extrapolation_mse={"relu": 132.0, SNAKE: 2.64}))
    )
    check = by_id(v)["snake_vs_relu_mse[sin]"]
    zero = check["details"]["zero_predictor_mse"]
    assert zero == pytest.approx(0.5, abs=0.01)
    assert check["outcome"] == "supports"
    assert check["control"]["outcome"] == "supports"
    assert check["control"]["measured"] == pytest.approx(check["details"]["relu_median_mse"] / zero)
    assert check["control"]["precondition"]["held"] is True
    assert check["uninformative"] is True
    square = by_id(v)["snake_vs_relu_mse[square]"]
    assert square["outcome"] == "contradicts" and square["control"]["outcome"] == "supports"
    assert square["uninformative"] is True
    got = outcomes(v)
    others = ["snake_frequency[sin]", "snake_frequency[square]", *CO2_CHECKS]
    assert {k: got[k] for k in others} == {k: "supports" for k in others}
    # uninformative counts as inconclusive (never as a pass, nor as the headline contradicting)
    assert v["verdict"] == "partly reproduced"
    assert v["counts"] == {"supports": 4, "contradicts": 0, "inconclusive": 2}
    assert any("uninformative" in n and "zero predictor" in n for n in v["notes"])


def test_a_missing_required_check_fails_loudly(tmp_path):
    """No ReLU forecast net: co2_snake_beats_relu cannot be computed; no verdict is written."""
    with pytest.raises(CheckCodeError, match=r"required check\(s\) \['co2_snake_beats_relu'\]"):
        verdict_of(tmp_path, measured(forecast_models=(SNAKE, "tanh")))
    assert not (tmp_path / "periodic_verdict.json").exists()


def test_the_headline_a_outside_the_sweep_fails_loudly(tmp_path):
    """snake_a_headline = 10 but only a = 30 was trained: the headline checks would vanish."""
    with pytest.raises(CheckCodeError, match="headline"):
        verdict_of(tmp_path, measured(activations=("relu", "tanh", "snake_a30")))
    assert not (tmp_path / "periodic_verdict.json").exists()


def test_frequency_check_whose_relu_control_also_finds_15_is_uninformative(tmp_path):
    """A bug that fits the target instead of each net's prediction gives every net the target's
    frequency: the ReLU control then supports too, and the check reads uninformative."""
    both = {"relu": 15.01, SNAKE: 15.02}
    v = verdict_of(tmp_path, two_targets(measured(fitted_frequency=both), measured()))
    frequency = by_id(v)["snake_frequency[sin]"]
    assert frequency["outcome"] == "supports" and frequency["control"]["outcome"] == "supports"
    assert frequency["uninformative"] is True
    assert v["verdict"] == "partly reproduced"
