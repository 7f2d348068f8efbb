"""Fits and summary statistics with intervals across seeds (percentile bootstrap)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    level: float = 0.9

    def interval(self) -> list[float]:
        return [self.low, self.high]


def bootstrap(
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.median,
    *,
    n_boot: int = 2000,
    level: float = 0.9,
    seed: int = 0,
) -> Estimate:
    """Statistic of ``samples`` (resampled along axis 0, e.g. seeds) with a percentile interval."""
    samples = np.asarray(samples)
    value = float(statistic(samples))
    if len(samples) < 2:
        return Estimate(value, value, value, level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(samples), size=(n_boot, len(samples)))
    stats = np.array([statistic(samples[i]) for i in idx], dtype=float)
    lo, hi = np.nanquantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(value, float(lo), float(hi), level)


def bootstrap_batched(
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_boot: int = 2000,
    level: float = 0.9,
    seed: int = 0,
) -> Estimate:
    """:func:`bootstrap` (same resamples, same percentiles) with ``statistic`` evaluated on all
    resamples at once: it maps a (resample, sample, …) array to one value per resample."""
    samples = np.asarray(samples, dtype=float)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples: no value
        value = float(statistic(samples[None])[0])
        if len(samples) < 2:
            return Estimate(value, value, value, level)
        idx = np.random.default_rng(seed).integers(0, len(samples), size=(n_boot, len(samples)))
        stats = np.asarray(statistic(samples[idx]), dtype=float)
        lo, hi = np.nanquantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(value, float(lo), float(hi), level)


@dataclass(frozen=True)
class LineFit:
    slope: float
    intercept: float
    r2: float
    slope_se: float


def line_fit(x: np.ndarray, y: np.ndarray) -> LineFit:
    """Ordinary least squares y = slope·x + intercept, with R² and the slope's standard error."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    design = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    dof = max(len(x) - 2, 1)
    sxx = float(((x - x.mean()) ** 2).sum())
    slope_se = np.sqrt(ss_res / dof / sxx) if sxx > 0 else np.inf
    return LineFit(float(coef[0]), float(coef[1]), float(r2), float(slope_se))


def slope_across_seeds(
    x: np.ndarray, y_by_seed: np.ndarray, *, level: float = 0.9, seed: int = 0
) -> Estimate:
    """Slope of the seed-mean curve, with a bootstrap interval over seeds (rows of ``y_by_seed``)."""
    x = np.asarray(x, dtype=float)
    y_by_seed = np.atleast_2d(np.asarray(y_by_seed, dtype=float))
    return bootstrap(
        y_by_seed, lambda rows: line_fit(x, rows.mean(axis=0)).slope, level=level, seed=seed
    )
