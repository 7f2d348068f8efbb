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

PARAMS = {"snake_a_headline": 10, "config": {"extrapolation": {}}}
SNAKE = "snake_a10"
EXTRAPOLATION_CHECKS = [
    "snake_extrapolates[sin]",
    "relu_fails_to_extrapolate[sin]",
    "tanh_fails_to_extrapolate[sin]",
    "snake_frequency[sin]",
]
FORECAST_CHECKS = ["elnino_snake_beats_relu", "elnino_snake_beats_tanh"]
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
    forecast_models=("snake", "relu", "tanh", "snake_shuffled"),
    improvement=None,
    fitted_frequency=None,
    fit_ratio=None,
    far_affine_residual=None,
    far_slope_ratio=None,
    forecast_mse=None,
    forecast_train_mse=None,
    forecast_n_seeds=None,
    fit_status=None,
) -> xr.Dataset:
    """A measured.nc as ``analysis.measure`` writes it; per-activation (per-model) values are one
    number (every seed alike, plus a small spread) or one per seed. Defaults: the claim holds
    (ReLU/tanh extrapolate worse than the trivial predictor, Snake 20× better than it)."""
    rng = np.random.default_rng(0)
    spread = lambda n: 1 + 0.005 * rng.standard_normal(n)  # noqa: E731
    improvement = {"relu": 0.01, "tanh": 0.05, SNAKE: 20.0, **(improvement or {})}
    fitted_frequency = {"relu": 3.0, "tanh": 2.0, SNAKE: 15.02, **(fitted_frequency or {})}
    fit_ratio = {"relu": 0.004, "tanh": 0.04, SNAKE: 0.002, **(fit_ratio or {})}
    far_affine_residual = {"relu": 1e-13, "tanh": 1e-3, SNAKE: 0.3, **(far_affine_residual or {})}
    far_slope_ratio = {"relu": 0.5, "tanh": 1e-6, SNAKE: 0.4, **(far_slope_ratio or {})}
    forecast_mse = {
        "snake": 0.02,
        "relu": 0.08,
        "tanh": 0.2,
        "snake_shuffled": 1.0,
        **(forecast_mse or {}),
    }
    forecast_train_mse = {
        "snake": 0.01,
        "relu": 0.02,
        "tanh": 0.03,
        "snake_shuffled": 0.9,
        **(forecast_train_mse or {}),
    }

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

    dims = ("target", "activation", "seed")
    fit = per_cell(fit_ratio)
    trivial = np.full((len(targets), n_seeds), 0.5)
    gain = per_cell(improvement)
    cells = xr.Dataset(
        {
            "improvement": (dims, gain),
            "extrapolation_mse": (dims, trivial[:, None, :] / gain),
            "trivial_mse": (("target", "seed"), trivial),
            "fitted_frequency": (dims, per_cell(fitted_frequency)),
            "fit_ratio": (dims, fit),
            "fit_ratio_halfway": (dims, fit * 1.5),
            "halfway_step": ("target", np.full(len(targets), 7500)),
            "final_train_mse": (dims, fit * 0.5),
            "diverged": (dims, ~np.isfinite(fit)),
            "far_affine_residual": (dims, per_cell(far_affine_residual)),
            "far_slope_ratio": (dims, per_cell(far_slope_ratio)),
            "kink_range": (dims, np.full(shape, 40.0)),
            "saturation_range": (dims, np.full(shape, 300.0)),
            "gn_top_eigenvalue": (dims, np.full(shape, 200.0)),
            "lr": (("target", "activation"), np.full(shape[:2], 0.01)),
            "fit_status": (
                ("target", "activation"),
                np.array([[(fit_status or {}).get(a, "fitted") for a in activations]] * shape[0]),
            ),
        },
        coords={"target": list(targets), "activation": list(activations), "seed": seed, "x": x},
    )
    years = 1950 + np.arange(120) / 12
    n_train = 80
    sst = 3 * np.sin(2 * np.pi * years) + np.sin(0.3 * years)
    observed = (sst - sst[:n_train].mean()) / sst[:n_train].std()
    sign = np.where(np.arange(years.size) % 2, 1.0, -1.0)  # squared error = the wanted MSE

    fseed = np.arange(forecast_n_seeds or n_seeds)

    def run(model, test_mse, train_mse):
        test_mse, train_mse = _per_seed(test_mse, fseed.size), _per_seed(train_mse, fseed.size)
        scale = np.where(np.arange(years.size) < n_train, 1.0, 0.0)
        err = np.sqrt(train_mse)[:, None] * scale + np.sqrt(test_mse)[:, None] * (1 - scale)
        return xr.Dataset(
            {"forecast": (("seed", "time"), observed + sign * err)},
            coords={"seed": fseed, "time": years},
            attrs={"model": model, "series": "elnino", "n_train": n_train, "epochs_trained": 2500},
        ).assign(observed=("time", observed))

    runs = [
        run(k, forecast_mse.get(k, 0.1), forecast_train_mse.get(k, 0.01)) for k in forecast_models
    ]
    base = xr.Dataset(
        {"forecast": (("model", "time"), np.stack([observed + 0.4 * sign, observed + 0.2 * sign]))},
        coords={"model": ["seasonal_naive", "sarima"], "time": years},
        attrs={"n_train": n_train, "series": "elnino"},
    ).assign(observed=("time", observed))
    a_grid = np.linspace(0.05, 3.0, 8)
    variance = analysis.snake_variance(a_grid)
    return (
        xr.merge(
            [cells, analysis.forecast_measures(runs), analysis.baseline_measures([base])],
            combine_attrs="override",
        )
        .assign(variance_formula=("a", variance), variance_quadrature=("a", variance + 1e-12))
        .assign_coords(a=a_grid)
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
    square = [i.replace("[sin]", "[square]") for i in EXTRAPOLATION_CHECKS]
    square_impl = [i.replace("[sin]", "[square]") for i in IMPLEMENTATION if "[" in i]
    assert {c["id"] for c in v["checks"]} == {*EXTRAPOLATION_CHECKS, *FORECAST_CHECKS, *square}
    assert {c["id"] for c in v["implementation_checks"]} == {*IMPLEMENTATION, *square_impl}
    assert got == {i: "supports" for i in got}
    assert v["verdict"] == "reproduced"
    assert v["counts"] == {"supports": 10, "contradicts": 0, "inconclusive": 0}
    checks = by_id(v)
    snake = checks["snake_extrapolates[sin]"]
    assert snake["headline"] and checks["snake_frequency[sin]"]["headline"]
    assert not checks["relu_fails_to_extrapolate[sin]"]["headline"]
    assert snake["measured"] == pytest.approx(20, rel=0.02)
    # the control is the better-extrapolating of ReLU (0.01) and tanh (0.05): tanh
    assert snake["control"]["name"] == "tanh" and snake["control"]["outcome"] == "contradicts"
    for net in ("relu", "tanh"):
        fails = checks[f"{net}_fails_to_extrapolate[sin]"]
        assert fails["control"]["name"] == SNAKE
        assert fails["control"]["outcome"] == "contradicts" and not fails["uninformative"]
        assert fails["precondition"]["held"] is True
    frequency = checks["snake_frequency[sin]"]
    assert frequency["control"]["name"] == "relu"
    assert frequency["control"]["outcome"] == "contradicts"
    # Theorems 1–2 are implementation checks, each with Snake's periodic far field as control
    for cid in ("relu_affine_far[sin]", "tanh_flat_far[sin]"):
        assert checks[cid]["control"]["name"] == SNAKE
        assert checks[cid]["control"]["outcome"] == "contradicts"
    lo, hi = snake["interval"]
    assert lo <= snake["measured"] <= hi and "95%" in snake["interval_method"]
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "verdict.schema.yaml").read_text())
    jsonschema.validate(json.loads(json.dumps(v)), schema)
    for c in v["checks"] + v["implementation_checks"]:
        key = c["id"].split("[")[0]
        key = "forecast_snake_beats" if "_snake_beats_" in key else key
        key = "fails_to_extrapolate" if key.endswith("_fails_to_extrapolate") else key
        assert c["threshold"] == analysis.THRESHOLDS[key].to_dict()
    assert any("step sizes by the rule" in n for n in v["notes"])


def test_snake_no_better_than_the_trivial_predictor_contradicts_the_headline(tmp_path):
    """Snake extrapolates no better than a constant and finds another frequency; it forecasts
    worse. "ReLU fails" still holds, but its control (Snake) now fails too: uninformative."""
    ds = measured(
        improvement={SNAKE: 0.8},
        fitted_frequency={SNAKE: 6.3},
        forecast_mse={"snake": 0.4},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    assert got["snake_extrapolates[sin]"] == "contradicts"
    assert got["snake_frequency[sin]"] == "contradicts"
    assert got["elnino_snake_beats_relu"] == got["elnino_snake_beats_tanh"] == "contradicts"
    relu = by_id(v)["relu_fails_to_extrapolate[sin]"]
    assert relu["outcome"] == "supports" and relu["control"]["outcome"] == "supports"
    assert relu["uninformative"] is True
    assert v["verdict"] == "not reproduced"
    assert all(got[i] == "supports" for i in IMPLEMENTATION)


def test_relu_extrapolating_contradicts_its_check_and_voids_snakes_control(tmp_path):
    """A ReLU net 5× better than the trivial predictor (as if the target were not periodic)."""
    v = verdict_of(tmp_path, measured(improvement={"relu": 5.0}))
    checks = by_id(v)
    assert checks["relu_fails_to_extrapolate[sin]"]["outcome"] == "contradicts"
    snake = checks["snake_extrapolates[sin]"]
    assert snake["control"]["name"] == "relu" and snake["control"]["outcome"] == "supports"
    assert snake["uninformative"] is True
    assert checks["tanh_fails_to_extrapolate[sin]"]["outcome"] == "supports"
    assert v["verdict"] == "partly reproduced"


def test_under_powered_checks_are_inconclusive(tmp_path):
    """Two seeds that disagree: every interval straddles its threshold."""
    ds = measured(
        n_seeds=2,
        improvement={"relu": [0.5, 4.0], "tanh": [1.0, 3.0], SNAKE: [1.0, 30.0]},
        fitted_frequency={SNAKE: [13.0, 17.0]},
        forecast_mse={"snake": [0.01, 0.3], "relu": [0.05, 0.1], "tanh": [0.005, 0.4]},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    every = [*EXTRAPOLATION_CHECKS, *FORECAST_CHECKS]
    assert {k: got[k] for k in every} == {k: "inconclusive" for k in every}
    checks = by_id(v)
    for key in every:
        assert checks[key]["precondition"]["held"] is True
        assert "across the edge" in checks[key]["reason"]
    assert v["verdict"] == "inconclusive"


def test_snake_not_fitting_its_training_data_makes_its_checks_inconclusive(tmp_path):
    """A Snake net at 60% of the training target's variance did not fit: whatever its
    extrapolation numbers, they say nothing about the paper."""
    ds = measured(
        fit_ratio={SNAKE: [0.6] * 5}, improvement={SNAKE: 0.9}, fit_status={SNAKE: "stalled"}
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    checks = by_id(v)
    for key in ("snake_extrapolates[sin]", "snake_frequency[sin]"):
        assert got[key] == "inconclusive"
        assert checks[key]["precondition"]["held"] is False
        assert checks[key]["reason"].startswith("precondition failed: ")
        # the final fit, the fit at half the training and the training criterion's reason
        measured_text = checks[key]["precondition"]["measured"]
        assert measured_text == f"{SNAKE} 0.6 (0.9 at step 7500; stalled)"
    # "ReLU fails" still supports; its control (Snake) did not fit, so it is inconclusive
    relu = checks["relu_fails_to_extrapolate[sin]"]
    assert relu["outcome"] == "supports" and relu["control"]["outcome"] == "inconclusive"
    assert relu["uninformative"] is False
    assert any(
        "snake_extrapolates[sin]: inconclusive, precondition failed" in n for n in v["notes"]
    )


def test_a_diverged_seed_or_an_unfitted_forecast_net_fails_the_fit_precondition(tmp_path):
    """One ReLU seed diverged (NaN fit and improvement); the ReLU forecast net did not fit."""
    nan = float("nan")
    ds = measured(
        fit_ratio={"relu": [0.002, 0.002, nan, 0.002, 0.002]},
        improvement={"relu": [0.01, 0.01, nan, 0.01, 0.01]},
        forecast_train_mse={"relu": 0.7},
    )
    v = verdict_of(tmp_path, ds)
    got = outcomes(v)
    relu = by_id(v)["relu_fails_to_extrapolate[sin]"]
    assert relu["outcome"] == "inconclusive" and relu["precondition"]["held"] is False
    assert got["snake_extrapolates[sin]"] == "supports"  # its control is tanh, which fitted
    assert got["elnino_snake_beats_relu"] == "inconclusive"
    assert got["elnino_snake_beats_tanh"] == "supports"
    assert v["verdict"] == "partly reproduced"


def test_a_missing_required_check_fails_loudly(tmp_path):
    """No ReLU forecast net: elnino_snake_beats_relu cannot be computed; no verdict is written."""
    with pytest.raises(CheckCodeError, match=r"required check\(s\) \['elnino_snake_beats_relu'\]"):
        verdict_of(tmp_path, measured(forecast_models=("snake", "tanh", "snake_shuffled")))
    assert not (tmp_path / "periodic_verdict.json").exists()


def test_the_headline_a_outside_the_sweep_fails_loudly(tmp_path):
    """snake_a_headline = 10 but only a = 30 was trained: the headline checks would vanish."""
    with pytest.raises(CheckCodeError, match="headline"):
        verdict_of(tmp_path, measured(activations=("relu", "tanh", "snake_a30")))
    assert not (tmp_path / "periodic_verdict.json").exists()


def test_frequency_check_whose_relu_control_also_finds_15_is_uninformative(tmp_path):
    """A bug that fits the target instead of each net's prediction gives every net the target's
    frequency: the ReLU control then supports too, and the check reads uninformative."""
    v = verdict_of(tmp_path, measured(fitted_frequency={"relu": 15.01, SNAKE: 15.02}))
    frequency = by_id(v)["snake_frequency[sin]"]
    assert frequency["outcome"] == "supports" and frequency["control"]["outcome"] == "supports"
    assert frequency["uninformative"] is True
    assert v["verdict"] == "partly reproduced"


def test_theorem_checks_fail_on_a_non_affine_relu_and_flag_a_blind_far_field(tmp_path):
    """An evaluation bug: ReLU's far field not affine (residual 0.1) contradicts Theorem 1's
    check; a far-field measure that makes Snake look flat lets the tanh check's control pass.
    Neither enters the claim verdict."""
    ds = measured(far_affine_residual={"relu": 0.1}, far_slope_ratio={SNAKE: 1e-4})
    v = verdict_of(tmp_path, ds)
    checks = by_id(v)
    assert checks["relu_affine_far[sin]"]["outcome"] == "contradicts"
    tanh = checks["tanh_flat_far[sin]"]
    assert tanh["outcome"] == "supports" and tanh["control"]["outcome"] == "supports"
    assert any(n.startswith("tanh_flat_far[sin]: its control") for n in v["notes"])
    assert v["verdict"] == "reproduced"


def test_a_diverged_relu_seed_fails_the_affine_identity_check(tmp_path):
    residual = [1e-13, 1e-13, float("nan"), 1e-13, 1e-13]
    v = verdict_of(tmp_path, measured(far_affine_residual={"relu": residual}))
    assert by_id(v)["relu_affine_far[sin]"]["outcome"] == "inconclusive"


def test_forecast_control_snake_on_a_time_shuffled_series_contradicts(tmp_path):
    """Default: Snake on the real series beats the time-shuffled Snake, so the control
    ("the shuffled Snake beats Snake") contradicts; a bug that scores the training part (the
    shuffled Snake as good as Snake) makes the control agree and the check uninformative."""
    checks = by_id(verdict_of(tmp_path, measured()))
    for cid in FORECAST_CHECKS:
        assert checks[cid]["outcome"] == "supports"
        assert checks[cid]["control"]["name"] == "snake_shuffled"
        assert checks[cid]["control"]["outcome"] == "contradicts"
        assert checks[cid]["details"]["baseline_mse"]["sarima"] == pytest.approx(0.04)
    leaky = by_id(verdict_of(tmp_path, measured(forecast_mse={"snake_shuffled": 0.005})))
    for cid in FORECAST_CHECKS:
        assert leaky[cid]["control"]["outcome"] == "supports"
        assert leaky[cid]["uninformative"] is True


def test_more_forecast_seeds_than_extrapolation_seeds_leave_every_check_as_it_was(tmp_path):
    """10 forecast seeds against 5 extrapolation seeds (the default config): no seed of either
    part is padded with NaN (which would fail every fit precondition)."""
    got = outcomes(verdict_of(tmp_path, measured(forecast_n_seeds=10)))
    assert all(got[k] == "supports" for k in [*EXTRAPOLATION_CHECKS, *FORECAST_CHECKS])
