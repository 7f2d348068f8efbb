"""Claim `periodic`: ReLU/tanh fail to extrapolate periodic functions; Snake x + sin²(ax)/a fixes it.

Ziyin, Hartwig, Ueda, "Neural Networks Fail to Learn Periodic Functions and How to Fix It",
NeurIPS 2020. Units follow the authors' notebook: training inputs are drawn from
U(5, 15) ∪ U(−15, −5) and divided by 15, so the training region is 1/3 ≤ |x| ≤ 1, the target
sin(x_raw) is sin(15 x), and the extrapolation region is 1 < |x| ≤ 3.5.

This module measures the trained runs (train.py) and writes the verdict; editing it never reruns
training.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import integrate, optimize

from paperclaims.claims.periodic.train import FREQUENCY
from paperclaims.fits import Estimate, bootstrap, line_fit
from paperclaims.io import read_dataset
from paperclaims.verdict import (
    CLAIM_LEVEL,
    EXACT,
    SUPPORTS,
    Check,
    Precondition,
    Threshold,
    write_verdict,
)

PAPER = "Ziyin, Hartwig, Ueda: Neural Networks Fail to Learn Periodic Functions and How to Fix It (NeurIPS 2020)"
TRAIN_EDGE = 1.0  # |x| ≤ 1 is the training range (inner edge 1/3)
PROP1_ARGMAX = 0.5605  # paper, Proposition 1

# ---------------------------------------------------------------- thresholds (all of them)
# Every threshold and decision rule the verdict uses, with its source. Issue 16's rules were
# committed on branch periodic16 before any run that computes them.
_SPEC = "shared/claims/periodic.md (ours, fixed before the runs)"
_OURS16 = "ours (issue 16, committed before the runs that compute it)"
# "Far below the trivial predictor": the trivial predictor is the constant training mean of y (for
# these zero-mean targets, ≈ the zero predictor). A predictor uncorrelated with the target beyond
# the data (an affine or constant tail, a sinusoid at another frequency) has an extrapolation MSE
# ≥ the trivial predictor's; beating it at all needs the target's period in phase, and beating it
# by 2× means explaining at least half of the target's variance there (extrapolation R² ≥ 1/2).
EXTRAPOLATES_FACTOR = 2.0
# Theorem 1 far range: beyond every hidden unit's kink x = −b_i/w_i a ReLU net is exactly affine;
# the window is [F, 2F] on each side with F = KINK_FACTOR × max_i |b_i/w_i| (and F ≥ 2, past the
# extrapolation grid).
KINK_FACTOR = 2.0
# Theorem 2 far range: every tanh unit saturated, |w_i x + b_i| ≥ SATURATION (sech²(5) = 1.8e-4 of
# its peak slope), i.e. F = max_i (SATURATION + |b_i|)/|w_i|; window [F, 2F] on each side.
SATURATION = 5.0
# Step-size rule (train.py applies it; stated here with the checks it protects): heavy-ball SGD on a
# quadratic of curvature λ is stable iff lr·λ < 2(1 + β). Each cell trains at the authors' 1e-2 unless
# its largest Gauss–Newton eigenvalue at initialisation (over its seeds) makes that unstable; then at
# LR_SAFETY × 2(1 + β)/λ_max.
LR_SAFETY = 0.5
THRESHOLDS = {
    # claim checks
    "snake_extrapolates": Threshold(
        ">=",
        EXTRAPOLATES_FACTOR,
        f"{_OURS16}: Fig. 1/4/13 show Snake tracking the target beyond the data; 'far below the "
        "trivial predictor' = the training-mean predictor's extrapolation MSE over the net's "
        f"median at least {EXTRAPOLATES_FACTOR:g} (extrapolation R² ≥ 1/2; any predictor "
        "uncorrelated with the target beyond the data scores ≤ 1)",
    ),
    "fails_to_extrapolate": Threshold(
        "<",
        EXTRAPOLATES_FACTOR,
        f"{_OURS16}: Theorems 1–2 and Fig. 1/4 (ReLU, tanh extrapolate affinely / to a constant): "
        "the trivial predictor's extrapolation MSE over the net's median below "
        f"{EXTRAPOLATES_FACTOR:g}, the complement of snake_extrapolates",
    ),
    "snake_frequency": Threshold.around(
        FREQUENCY,
        rel=0.03,
        source=f"{_SPEC}: fitted frequency within ±3% of the target's (sin(15x), Fig. 1)",
    ),
    "co2_snake_beats": Threshold(
        ">",
        1.0,
        f"Fig. 6 and Table 2 (Snake's test error below ReLU's and tanh's); {_SPEC}: the other "
        "net's mean test MSE over Snake's above 1",
    ),
    # implementation checks
    "relu_affine_far": Threshold(
        "<=",
        1e-3,
        f"Theorem 1 (ReLU nets tend to affine maps); {_OURS16}: on [F, 2F], F = {KINK_FACTOR:g} × "
        "the largest kink |b_i/w_i|, the RMS residual of an affine fit (worse side, worst seed) "
        "over the net's standard deviation on the training band ≤ 1e-3 (exactly affine there: "
        "float rounding only; a periodic far field leaves a residual of order 1)",
    ),
    "tanh_flat_far": Threshold(
        "<",
        0.01,
        f"Theorem 2 (tanh nets tend to constants); {_SPEC}: max |f'| on [F, 2F], F = the point "
        f"where every unit is saturated (|w_i x + b_i| ≥ {SATURATION:g}), below 1% of the "
        "in-range max |f'| (worst seed)",
    ),
    "prop1_variance_formula": Threshold(
        "<=", 1e-4, f"Proposition 1 (closed form); {_SPEC}: matches quadrature within 1e-4"
    ),
    "prop1_argmax": Threshold(
        "within",
        (PROP1_ARGMAX - 1e-3, PROP1_ARGMAX + 1e-3),
        f"Proposition 1 (maximal at a ≈ 0.5605); {_SPEC}: ± 0.001",
    ),
    # preconditions
    "fits_training_data": Threshold(
        "<=",
        0.1,
        "ours (set with the verdict layer, before any run computed it; issue 16 asks each claim "
        "check for 'the net fits its training data' at a stated level): median final training "
        "MSE at most 10% of the training target's variance (R² ≥ 0.9)",
    ),
}
# Checks the verdict must produce (an id, or the prefix before "[" of per-target ids); the cells
# they read are in CLAIM.required_cells (claim.py), so a config that drops one fails validation.
REQUIRED = [
    "snake_extrapolates",
    "relu_fails_to_extrapolate",
    "snake_frequency",
    "co2_snake_beats_relu",
    "relu_affine_far",
    "prop1_variance_formula",
    "prop1_argmax",
]


def snake_variance(a: float | np.ndarray) -> float | np.ndarray:
    """Proposition 1: Var[Snake_a(x)] for x ~ N(0, 1)."""
    a = np.asarray(a, dtype=float)
    return 1 + (1 + np.exp(-8 * a**2) - 2 * np.exp(-4 * a**2)) / (8 * a**2)


def snake_variance_quadrature(a: float) -> float:
    """The same variance by numerical integration against the Gaussian density."""

    def moment(k):
        f = lambda x: (x + math.sin(a * x) ** 2 / a) ** k * math.exp(-x * x / 2)
        return integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-13, limit=400)[0]

    norm = math.sqrt(2 * math.pi)
    return moment(2) / norm - (moment(1) / norm) ** 2


# ---------------------------------------------------------------- measurements on curves
def fit_frequency(x: np.ndarray, y: np.ndarray, omegas: np.ndarray) -> float:
    """Angular frequency of the best least-squares fit A sin(ωx) + B cos(ωx) + C (grid, then refine)."""

    def residual(omega):
        design = np.stack([np.sin(omega * x), np.cos(omega * x), np.ones_like(x)], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        r = y - design @ coef
        return float(r @ r)

    coarse = np.array([residual(w) for w in omegas])
    best = omegas[int(np.argmin(coarse))]
    step = omegas[1] - omegas[0]
    res = optimize.minimize_scalar(residual, bounds=(best - step, best + step), method="bounded")
    return float(res.x)


def sides(x: np.ndarray, low: float, high: float) -> list[np.ndarray]:
    """Masks of the two regions low ≤ |x| ≤ high (negative side, positive side)."""
    return [(x <= -low) & (x >= -high), (x >= low) & (x <= high)]


# ---------------------------------------------------------------- measure
def _derivative(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.gradient(f, x, axis=-1)


def measure(step) -> None:
    """Per cell and seed: extrapolation MSE, fitted frequency, far-field linearity/flatness; bands."""
    p = step.params
    runs = [read_dataset(path) for path in step.input.extrapolation]
    omegas = np.arange(p["omega_min"], p["omega_max"], 0.05)
    per_cell = []
    for ds in runs:
        x, pred, truth = ds["x"].values, ds["prediction"].values, ds["target"].values
        outside = np.abs(x) > TRAIN_EDGE
        inside = (np.abs(x) >= 1 / 3) & (np.abs(x) <= TRAIN_EDGE)
        mse = ((pred[:, outside] - truth[outside]) ** 2).mean(axis=1)
        freq = np.array(
            [
                np.mean(
                    [fit_frequency(x[m], row[m], omegas) for m in sides(x, TRAIN_EDGE, x.max())]
                )
                for row in pred
            ]
        )
        x_far, far = ds["x_far"].values, ds["prediction_far"].values
        far_sides = sides(x_far, *p["far_range"])
        r2 = np.array([min(line_fit(x_far[m], row[m]).r2 for m in far_sides) for row in far])
        slope_in = np.abs(_derivative(x, pred))[:, inside].max(axis=1)
        slope_far = np.array(
            [max(np.abs(_derivative(x_far[m], row[m])).max() for m in far_sides) for row in far]
        )
        cell = xr.Dataset(
            {
                "extrapolation_mse": ("seed", mse),
                "fitted_frequency": ("seed", freq),
                "far_linear_r2": ("seed", r2),
                "far_slope_ratio": ("seed", slope_far / slope_in),
                "diverged": ("seed", ~np.isfinite(ds["train_loss"].values[:, -1])),
                "final_train_mse": ("seed", ds["train_loss"].values[:, -1]),
                "median": ("x", np.median(pred, axis=0)),
                "q05": ("x", np.quantile(pred, 0.05, axis=0)),
                "q95": ("x", np.quantile(pred, 0.95, axis=0)),
                "target_curve": ("x", truth),
            },
            coords={"seed": ds["seed"].values, "x": x},
        )
        per_cell.append(
            cell.expand_dims(target=[ds.attrs["target"]], activation=[ds.attrs["cell"]])
        )
    cells = xr.combine_by_coords(per_cell, combine_attrs="drop")
    cells["extrapolation_mse"].attrs["units"] = "MSE on 1 < |x| ≤ x_max"
    cells["fitted_frequency"].attrs["units"] = "rad per unit x (true 15)"
    cells["final_train_mse"].attrs["units"] = "training MSE at the last training step"
    # Functions of the target only (every activation's cell holds the same target curve): the
    # trivial predictor f(x) = 0's extrapolation MSE (the control of snake_vs_relu_mse) and the
    # target's variance over the training band (the scale of "the net fits its training data").
    curve, grid = cells["target_curve"].isel(activation=0, drop=True), np.abs(cells["x"])
    cells["zero_predictor_mse"] = (curve.where(grid > TRAIN_EDGE) ** 2).mean("x")
    cells["zero_predictor_mse"].attrs["units"] = "MSE of f(x) = 0 on 1 < |x| ≤ x_max"
    cells["train_target_var"] = curve.where((grid >= 1 / 3) & (grid <= TRAIN_EDGE)).var("x")
    cells["train_target_var"].attrs["units"] = "variance of the target on 1/3 ≤ |x| ≤ 1 (grid)"

    forecast_runs = [read_dataset(path) for path in step.input.forecast]
    forecasts = xr.concat(forecast_runs, dim="model", combine_attrs="override")
    forecasts = forecasts.assign_coords(model=[run.attrs["model"] for run in forecast_runs])
    n_train = int(forecasts.attrs["n_train"])
    squared = (forecasts["forecast"] - forecasts["observed"]) ** 2
    err = squared.isel(time=slice(n_train, None)).mean("time")
    fit_err = squared.isel(time=slice(None, n_train)).mean("time")  # did the net fit the seasons?
    baselines = read_dataset(step.input.baselines)
    base_err = (baselines["forecast"] - baselines["observed"]).isel(time=slice(n_train, None)) ** 2
    a_grid = np.linspace(0.05, 3.0, p["prop1_points"])
    out = cells.assign(
        forecast_mse=err.rename(model="forecast_model"),
        forecast_train_mse=fit_err.rename(model="forecast_model"),
        forecast_median=forecasts["forecast"].median("seed").rename(model="forecast_model"),
        observed=forecasts["observed"].isel(model=0, drop=True),
        baseline_mse=base_err.mean("time").rename(model="baseline"),
        baseline_forecast=baselines["forecast"].rename(model="baseline"),
        variance_formula=("a", snake_variance(a_grid)),
        variance_quadrature=("a", np.array([snake_variance_quadrature(a) for a in a_grid])),
    ).assign_coords(a=a_grid)
    out.attrs["n_train_months"] = n_train
    out.attrs["far_range"] = list(p["far_range"])
    step.write(out, step.output[0])


# ---------------------------------------------------------------- verdict
def _ratio_of_medians(pairs: np.ndarray) -> float:
    """Median of column 0 over median of column 1 (rows: seeds)."""
    top, bottom = np.median(pairs, axis=0)
    return float(top / bottom)


def _ratio_of_means(pairs: np.ndarray) -> float:
    top, bottom = np.mean(pairs, axis=0)
    return float(top / bottom)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, statistic) -> Estimate:
    """``statistic`` of (numerator, denominator) pairs with a percentile bootstrap over seeds.

    The two columns come from cells trained from independent seeds, so resampling seed indices
    jointly resamples two independent samples; a denominator without sampling error (the trivial
    predictor) is a constant column.
    """
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.broadcast_to(np.asarray(denominator, dtype=float), numerator.shape)
    return bootstrap(
        np.column_stack([numerator, denominator]), statistic, level=CLAIM_LEVEL, seed=0
    )


RATIO_METHOD = (
    f"{CLAIM_LEVEL:.0%} percentile bootstrap over seeds of the ratio (seed indices resampled "
    "jointly for the two nets; a predictor without sampling error is a constant column)"
)


def _estimate_pair(est: Estimate) -> tuple[float, list[float]]:
    return est.value, est.interval()


def _seed_bootstrap(samples: np.ndarray) -> Estimate:
    return bootstrap(np.asarray(samples, dtype=float), level=CLAIM_LEVEL, seed=0)


def _fit_precondition(relative: dict[str, float]) -> Precondition:
    """The nets in ``relative`` (name → median final training MSE / training target variance)
    fit their training data, by the one level in THRESHOLDS."""
    level = THRESHOLDS["fits_training_data"]
    names = " and ".join(relative)
    return Precondition(
        what=f"{names} fit their training data: median final training MSE / variance of the "
        f"training target {level.text()}",
        held=all(level.agrees(v) for v in relative.values()),
        measured=", ".join(f"{k} {v:.3g}" for k, v in relative.items()),
    )


def _extrapolation_fit(cell: xr.Dataset, act: str) -> float:
    """Median over seeds of the final training MSE relative to the training target's variance
    (NaN when a seed diverged: a diverged net did not fit)."""
    mse = cell["final_train_mse"].sel(activation=act).values
    return float(np.median(mse) / float(cell["train_target_var"]))


def verdict(step) -> None:
    """Claim checks (per target): Snake's extrapolation MSE ≥ 100× below ReLU's (headline; its
    control is the zero predictor in Snake's place) and Snake's fitted frequency (headline); Snake's
    CO2 forecast against each other net. Each needs its nets to fit their training data.
    Implementation checks: Theorems 1–2 far out, Proposition 1. Thresholds: ``THRESHOLDS``."""
    p = step.params
    m = read_dataset(step.input.measured)
    checks: list[Check] = []
    implementation: list[Check] = []
    lo, hi = p["far_range"]
    x_max = float(m["x"].values.max())
    headline_cell = f"snake_a{p['snake_a_headline']:g}"
    for tgt in m["target"].values:
        cell = m.sel(target=tgt)
        acts = list(cell["activation"].values)
        if "relu" in acts:
            implementation.append(
                Check.from_estimate(
                    _seed_bootstrap(cell["far_linear_r2"].sel(activation="relu").values),
                    id=f"relu_affine_far[{tgt}]",
                    statement=f"ReLU net is affine far outside the data ({lo} ≤ |x| ≤ {hi}): "
                    "median over seeds of the worse side's linear-fit R² (every finite ReLU "
                    "net is affine beyond its last kink: this checks our evaluation)",
                    expected={"value": 1.0, "source": "Theorem 1 (ReLU nets tend to affine maps)"},
                    threshold=THRESHOLDS["relu_affine_far"],
                )
            )
        if "tanh" in acts:
            implementation.append(
                Check.from_estimate(
                    _seed_bootstrap(cell["far_slope_ratio"].sel(activation="tanh").values),
                    id=f"tanh_flat_far[{tgt}]",
                    statement=f"tanh net is flat far outside ({lo} ≤ |x| ≤ {hi}): max |f'| there "
                    "over max |f'| in the training range, median over seeds (every finite tanh "
                    "net is flat far enough out: this checks our evaluation and far range)",
                    expected={"value": 0.0, "source": "Theorem 2 (tanh nets tend to constants)"},
                    threshold=THRESHOLDS["tanh_flat_far"],
                )
            )
        if headline_cell in acts and "relu" in acts:
            snake_mse = cell["extrapolation_mse"].sel(activation=headline_cell).values
            relu_mse = cell["extrapolation_mse"].sel(activation="relu").values
            zero_mse = float(cell["zero_predictor_mse"])
            fit = {a: _extrapolation_fit(cell, a) for a in (headline_cell, "relu")}
            check = Check.from_estimate(
                _ratio(relu_mse, snake_mse, _ratio_of_medians),
                id=f"snake_vs_relu_mse[{tgt}]",
                statement=f"{headline_cell}: median extrapolation MSE (1 < |x| ≤ {x_max:g}) is "
                "far below ReLU's; measured = ReLU's median MSE / Snake's",
                expected={"trend": "Snake extrapolates, ReLU does not", "source": "Fig. 1, 4, 13"},
                threshold=THRESHOLDS["snake_vs_relu_mse"],
                interval_method=RATIO_METHOD,
                precondition=_fit_precondition(fit),
                headline=True,
                details={
                    "snake_median_mse": float(np.median(snake_mse)),
                    "relu_median_mse": float(np.median(relu_mse)),
                    "zero_predictor_mse": zero_mse,
                },
            )
            control = _ratio(relu_mse, zero_mse, _ratio_of_medians)
            checks.append(
                check.with_control(
                    "zero predictor",
                    "the trivial predictor f(x) = 0, which extrapolates nothing, in Snake's place: "
                    f"ReLU's median extrapolation MSE over its MSE on the same region "
                    f"(= mean target² there, {zero_mse:.3g}), same bootstrap and threshold",
                    control.value,
                    control.interval(),
                    precondition=_fit_precondition({"relu": fit["relu"]}),
                )
            )
            checks.append(
                Check.from_estimate(
                    _seed_bootstrap(cell["fitted_frequency"].sel(activation=headline_cell).values),
                    id=f"snake_frequency[{tgt}]",
                    statement=f"{headline_cell} recovers the target's angular frequency in the "
                    "extrapolation region (sinusoid fit, median over seeds)",
                    expected={"value": FREQUENCY, "source": "target sin(15x); Fig. 1"},
                    threshold=THRESHOLDS["snake_frequency"],
                    precondition=_fit_precondition({headline_cell: fit[headline_cell]}),
                    headline=True,
                ).with_control(
                    "relu",
                    "the ReLU net, affine far out (Theorem 1), through the same sinusoid fit of its "
                    "prediction in the extrapolation region, bootstrap and threshold. A fit of the "
                    "target, or of the training range, would find 15 here too. No fit "
                    "precondition: an affine extrapolation has no frequency either way",
                    *_estimate_pair(
                        _seed_bootstrap(cell["fitted_frequency"].sel(activation="relu").values)
                    ),
                )
            )
    gap = float(np.abs(m["variance_formula"] - m["variance_quadrature"]).max())
    implementation.append(
        Check(
            id="prop1_variance_formula",
            statement="Var[Snake_a(x)], x~N(0,1): closed form vs quadrature, max gap over a grid of a",
            expected={"value": 0.0, "source": "Proposition 1"},
            measured=gap,
            threshold=THRESHOLDS["prop1_variance_formula"],
            interval_method=EXACT,
        )
    )
    argmax = optimize.minimize_scalar(
        lambda a: -snake_variance_quadrature(a),
        bounds=(0.2, 1.5),
        method="bounded",
        options={"xatol": 1e-7},
    ).x
    implementation.append(
        Check(
            id="prop1_argmax",
            statement="a maximizing Var[Snake_a(x)] (by quadrature)",
            expected={"value": PROP1_ARGMAX, "source": "Proposition 1"},
            measured=float(argmax),
            threshold=THRESHOLDS["prop1_argmax"],
            interval_method=EXACT,
        )
    )
    mse = m["forecast_mse"]
    models = [str(s) for s in mse["forecast_model"].values]
    snake_models = [s for s in models if s.startswith("snake")]
    n_train = int(m.attrs["n_train_months"])
    train_var = float(m["observed"].isel(time=slice(None, n_train)).var())
    train_fit = m["forecast_train_mse"].median("seed") / train_var
    if snake_models:
        snake = snake_models[0]
        snake_err = mse.sel(forecast_model=snake).values
        for other in (s for s in models if not s.startswith("snake")):
            other_err = mse.sel(forecast_model=other).values
            fit = {k: float(train_fit.sel(forecast_model=k)) for k in (snake, other)}
            checks.append(
                Check.from_estimate(
                    _ratio(other_err, snake_err, _ratio_of_means),
                    id=f"co2_snake_beats_{other}",
                    statement=f"Mauna Loa CO2 forecast: Snake (learnable a) mean test MSE below "
                    f"{other}'s; measured = {other}'s mean test MSE / Snake's (standardized units)",
                    expected={
                        "trend": "Snake < ReLU, tanh",
                        "source": "Fig. 6 (temperature), Table 2",
                    },
                    threshold=THRESHOLDS["co2_snake_beats"],
                    interval_method=RATIO_METHOD,
                    precondition=_fit_precondition(fit),
                    details={
                        "snake_mean_mse": float(snake_err.mean()),
                        f"{other}_mean_mse": float(other_err.mean()),
                        "train_mse": _train_mse(m),
                    },
                )
            )
    write_verdict(
        step,
        claim="periodic",
        paper=PAPER,
        checks=checks,
        implementation_checks=implementation,
        required=REQUIRED,
        config=p.get("config", p),
        notes=_notes(checks, implementation, m),
    )


def _train_mse(m: xr.Dataset) -> dict[str, float]:
    train = m["forecast_train_mse"].mean("seed")
    return {str(k): float(train.sel(forecast_model=k)) for k in train["forecast_model"].values}


def _notes(checks: list[Check], implementation: list[Check], m: xr.Dataset) -> list[str]:
    """Why checks did not support, in terms of the data; and the published counter-evidence."""
    notes = [
        "Thresholds are ours (shared/claims/periodic.md), fixed before the runs; all of them are "
        "in paperclaims.claims.periodic.analysis.THRESHOLDS with their sources.",
        "Theorems 1–2 (ReLU affine / tanh flat far out) and Proposition 1 are implementation "
        "checks: every finite ReLU net is affine and every tanh net flat far enough out, and the "
        "variance formula is an identity, so they test our evaluation, not the paper's experiment.",
    ]
    diverged = m["diverged"].mean("seed")
    for tgt in m["target"].values:
        for act in m["activation"].values:
            share = float(diverged.sel(target=tgt, activation=act))
            if share > 0:
                notes.append(
                    f"{act} / {tgt}: training diverged (non-finite loss) for {share:.0%} of seeds at "
                    "the shared learning rate; its curves and numbers are NaN, not tuned away."
                )
    for c in checks:
        if c.precondition is not None and not c.precondition.held:
            notes.append(f"{c.id}: inconclusive, {c.reason} ({c.precondition.measured}).")
        if c.uninformative:
            notes.append(
                f"{c.id}: uninformative — its control ({c.control.name}) also passes "
                f"({c.control.measured:.4g} against {c.threshold.text()}): a predictor that "
                "extrapolates nothing beats ReLU by this margin too, so the check cannot show "
                "that Snake extrapolates."
            )
    failed = {c.id.split("[")[0] for c in [*checks, *implementation] if c.outcome != SUPPORTS}
    if "tanh_flat_far" in failed:
        notes.append(
            "Theorem 2 is asymptotic (|x| → ∞): within the stated far range, tanh units with small "
            "input weights are not yet saturated, so the tanh net still has a slope there."
        )
    if any(f.startswith("co2_") for f in failed):
        train = ", ".join(f"{k} {v:.3g}" for k, v in _train_mse(m).items())
        notes.append(
            f"CO2: mean training MSE per net (standardized units): {train}. A smooth trend without "
            "the seasonal cycle scores about 0.05 on the training part; a net near that level did not "
            "fit the seasons at this step budget (config/paper.yaml trains longer)."
        )
    if "baseline_mse" in m:
        base = {str(b): float(m["baseline_mse"].sel(baseline=b)) for b in m["baseline"].values}
        snake = [k for k in m["forecast_model"].values if str(k).startswith("snake")]
        ours = (
            float(m["forecast_mse"].sel(forecast_model=snake[0]).mean()) if snake else float("nan")
        )
        notes.append(
            "CO2 baselines (shown, not a check): test MSE seasonal naive with drift "
            f"{base.get('seasonal_naive', float('nan')):.3g}, SARIMA(1,1,1)(0,1,1)12 "
            f"{base.get('sarima', float('nan')):.3g}, Snake {ours:.3g}. The paper's Table 2 (Wilshire 5000, "
            "another series) has Snake 0.0089 below ARIMA 0.0215."
        )
    notes.append(
        "Counter-evidence: Belcak & Wattenhofer (arXiv 2209.10280) report Snake failing with a "
        "initialized in U(0.01, 1.99), far below the 5–50 the paper recommends for periodic tasks."
    )
    return notes
