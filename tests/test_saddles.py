"""Claim `saddles`: Lyapunov exponents and SGD kernels on exactly solvable cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr
from paperclaims.claims.saddles import analysis, claim, train
from paperclaims.runner import Step

EULER_LOG_ABS_NORMAL = -(np.euler_gamma + math.log(2)) / 2  # E log|Z|, Z ~ N(0, 1)


def test_log_abs_gaussian_exact_values():
    # μ = 0 is closed form; large μ follows log μ − 1/(2μ²) − …
    assert analysis.log_abs_gaussian(0.0) == pytest.approx(EULER_LOG_ABS_NORMAL, abs=1e-12)
    assert analysis.log_abs_gaussian_series(np.array([0.0]))[0] == pytest.approx(
        EULER_LOG_ABS_NORMAL, abs=1e-12
    )
    for mu in [0.3, 1.0, 3.0, 12.0, 29.9, 30.1, 100.0]:
        quad = analysis._gaussian_log_quadrature(mu, 1.0)
        assert analysis.log_abs_gaussian(mu) == pytest.approx(quad, abs=1e-9)
        assert analysis.log_abs_gaussian(-mu) == pytest.approx(quad, abs=1e-9)  # even in μ


@pytest.mark.parametrize("mean, sd", [(-1.0, 4.0), (1.0, 1.0), (0.5, 0.0)])
def test_lyapunov_series_matches_quadrature(mean, sd):
    for lr in [0.01, 0.3, 1.7, 9.0]:
        assert analysis.lyapunov_gaussian(lr, mean, sd) == pytest.approx(
            analysis.lyapunov_gaussian_quadrature(lr, mean, sd), abs=1e-9
        )


def test_lyapunov_solvable_cases():
    # sd = 0: deterministic multiplier; λ·mean = 1: 1 − λh = −λ·sd·Z, so Λ = log(λ·sd) + E log|Z|.
    assert analysis.lyapunov_gaussian(0.5, 1.0, 0.0) == pytest.approx(math.log(0.5))
    assert analysis.lyapunov_gaussian(2.0, 0.5, 3.0) == pytest.approx(
        math.log(2.0 * 3.0) + EULER_LOG_ABS_NORMAL, abs=1e-6
    )
    # Small λ: Λ = −λμ − λ²E[h²]/2 + O(λ³)
    lr, mean, sd = 1e-3, -1.0, 2.0
    assert analysis.lyapunov_gaussian(lr, mean, sd) == pytest.approx(
        -lr * mean - lr**2 * (mean**2 + sd**2) / 2, rel=1e-5
    )
    # A saddle direction (μ < 0) is never L2 stable but is probabilistically stable in a window.
    lrs = train.lr_grid(0.01, 1, 50)
    assert np.all(analysis.second_moment_gaussian(lrs, -1.0, 10.0) > 1)
    assert np.any(analysis.lyapunov_gaussian(lrs, -1.0, 10.0) < 0)


@pytest.mark.parametrize("batch", [1, 4, 64, 1024])
@pytest.mark.parametrize("alpha, beta", [(-0.7, 0.0), (0.7, 0.0), (-2.0, 0.5), (0.3, 1.5)])
def test_chi2_gaussian_exponent_matches_adaptive_quadrature(batch, alpha, beta):
    # Independent check: adaptive quadrature against the Gamma density of S, split at 1 + αS = 0
    # (β = 0 makes that point a log singularity, the hardest case for the fixed rule).
    from scipy import integrate, stats

    density = stats.gamma(batch / 2, scale=2 / batch).pdf
    inner = lambda s: float(
        analysis.log_abs_affine_gaussian(1 + alpha * s, beta * math.sqrt(s / batch))
    )  # noqa: E731
    edges = [0.0, *([-1 / alpha] if alpha < 0 else [1.0]), np.inf]
    quad = sum(
        integrate.quad(lambda s: inner(s) * density(s), lo, hi, limit=400, epsabs=1e-11)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )
    assert float(analysis.lyapunov_chi2_gaussian(alpha, beta, batch)) == pytest.approx(
        quad, abs=1e-6
    )


def test_chi2_gaussian_second_moment():
    # E(1 + λm)² = 1 + 2λa + λ²(a² + (2a² + σ²)/B) for the saddle's z+ direction.
    lr, a, sigma, batch = 0.8, 0.25, 3.0, 4
    al, be = analysis.saddle_multipliers(lr, sigma, batch, a)["saddle_plus"]
    _, m2 = analysis.slope_moments(a, sigma, batch)
    assert float(analysis.second_moment_chi2_gaussian(al, be, batch)) == pytest.approx(
        1 + 2 * lr * a + lr**2 * m2
    )
    # β = 0, B → ∞ : S → 1, so E(1 + αS)² → (1 + α)².
    assert float(analysis.second_moment_chi2_gaussian(0.5, 0.0, 10**9)) == pytest.approx(2.25)


def test_chi2_gaussian_exponent_matches_monte_carlo():
    rng = np.random.default_rng(0)
    lr, a, sigma, batch, n = 1.0, 0.25, 3.0, 4, 400_000
    x = rng.standard_normal((n, batch))
    eps = rng.standard_normal((n, batch))
    m = (x * (a * x + sigma * eps)).mean(axis=1)
    mult = analysis.saddle_multipliers(lr, sigma, batch, a)
    for name, samples in [("saddle_plus", 1 + lr * m), ("saddle_minus", 1 - lr * m)]:
        mc = np.log(np.abs(samples))
        theory = float(analysis.lyapunov_chi2_gaussian(*mult[name], batch))
        assert theory == pytest.approx(mc.mean(), abs=5 * mc.std() / math.sqrt(n))


def test_sgd_step_linearizes_to_random_multipliers():
    # Near the origin, z± = (u ± w)/√2 is multiplied by exactly 1 ± λ·S_xy (up to O(|z|³)).
    u, w = torch.tensor(1e-6, dtype=torch.float64), torch.tensor(-3e-7, dtype=torch.float64)
    lr, s_xx, s_xy = (
        0.4,
        torch.tensor(1.3, dtype=torch.float64),
        torch.tensor(-0.8, dtype=torch.float64),
    )
    u1, w1 = train.sgd_step(u, w, lr, s_xx, s_xy)
    for sign in (1, -1):
        before, after = (u + sign * w) / math.sqrt(2), (u1 + sign * w1) / math.sqrt(2)
        assert float(after / before) == pytest.approx(1 + sign * lr * float(s_xy), rel=1e-9)
    # The origin is a fixed point for every minibatch (Type-II saddle: per-sample gradients vanish).
    zero = torch.tensor(0.0, dtype=torch.float64)
    assert train.sgd_step(zero, zero, lr, s_xx, s_xy) == (zero, zero)


def test_classify_each_phase():
    uw = np.array([1e-9, 0.26, -0.2, np.inf, np.nan, 3e6, 0.9])
    window_mean = np.array([0.0, 0.24, -0.2, 0.0, 0.0, 0.0, 0.9])
    window_negative = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    phase = analysis.classify(
        uw, window_mean, window_negative, slope=0.25, collapse_below=1e-6, diverge_above=1e6
    )
    names = [analysis.PHASES[k] for k in phase]
    assert names == [
        "collapse",
        "correct",
        "incorrect",
        "divergent",
        "divergent",
        "divergent",
        "other",
    ]


def _step(tmp_path, params, name):
    return Step(
        claim="saddles",
        rule="test",
        input=[],
        output=[str(tmp_path / name)],
        params=params,
        base_seed=0,
    )


def test_simulate_multiplier_deterministic_product(tmp_path):
    # sd = 0: log|z_T| = T·log|1 − λμ| exactly; same seed → identical arrays.
    params = dict(
        case=claim.case_name(0.5, 0.0),
        lr_min=0.1,
        lr_max=3.0,
        lr_points=5,
        lr_block="0-4",
        chains=3,
        steps=200,
        checkpoints=10,
        cell_seed=7,
    )
    train.simulate_multiplier(_step(tmp_path, params, "a.nc"))
    ds = xr.open_dataset(tmp_path / "a.nc").load()
    expected = 200 * np.log(np.abs(1 - ds["lr"].values * 0.5))
    np.testing.assert_allclose(
        ds["log_abs_z"].values, np.repeat(expected[:, None], 3, axis=1), rtol=1e-12
    )
    params.update(case=claim.case_name(0.5, 1.0))
    train.simulate_multiplier(_step(tmp_path, params, "b.nc"))
    train.simulate_multiplier(_step(tmp_path, params, "c.nc"))
    xr.testing.assert_identical(
        xr.open_dataset(tmp_path / "b.nc")[["log_abs_z"]].load(),
        xr.open_dataset(tmp_path / "c.nc")[["log_abs_z"]].load(),
    )


def test_simulate_phases_noiseless_learns_slope(tmp_path):
    # σ = 0 and a small learning rate: SGD escapes the saddle and learns u·w = a.
    params = dict(
        batch=4,
        slope=0.5,
        lr_min=0.05,
        lr_max=0.2,
        lr_points=2,
        lr_block="0-1",
        noise_max=1e-9,
        noise_points=2,
        chains=8,
        steps=2000,
        init_scale=0.01,
        window=0.1,
        cell_seed=3,
        type_one_noise=0.1,
        gradient_samples=20,
    )
    train.simulate_phases(_step(tmp_path, params, "p.nc"))
    ds = xr.open_dataset(tmp_path / "p.nc").load()
    np.testing.assert_allclose(ds["uw"].sel(model="type_two").values, 0.5, rtol=1e-6)
    assert {k: ds.sizes[k] for k in ("model", "lr", "noise", "chain")} == {
        "model": 2,
        "lr": 2,
        "noise": 2,
        "chain": 8,
    }
    assert np.abs(ds["saddle_gradient"].sel(model="type_two")).max() == 0  # Type II
    assert np.abs(ds["saddle_gradient"].sel(model="type_one_control")).max() > 0  # Type I


def test_simulate_phases_collapses_where_theory_says(tmp_path):
    # B = 1, a = 0.25, σ = 5, λ = 0.15: Λ+ and Λ− are both clearly negative → most chains collapse.
    lr, sigma = 0.15, 5.0
    top = max(
        float(
            analysis.lyapunov_chi2_gaussian(*analysis.saddle_multipliers(lr, sigma, 1, 0.25)[k], 1)
        )
        for k in ("saddle_plus", "saddle_minus")
    )
    assert top < -0.05
    params = dict(
        batch=1,
        slope=0.25,
        lr_min=lr,
        lr_max=lr,
        lr_points=1,
        lr_block="0-0",
        noise_max=sigma,
        noise_points=2,
        chains=64,
        steps=3000,
        init_scale=0.01,
        window=0.1,
        cell_seed=5,
        type_one_noise=0.1,
        gradient_samples=20,
    )
    train.simulate_phases(_step(tmp_path, params, "c.nc"))
    uw = xr.open_dataset(tmp_path / "c.nc")["uw"].sel(noise=sigma)
    assert np.mean(np.abs(uw.sel(model="type_two").values) < 1e-6) > 0.8
    # the Type-I control, same starts and draws, never reaches the saddle
    assert np.mean(np.abs(uw.sel(model="type_one_control").values) < 1e-6) == 0


def test_phase_chains_resume_from_checkpoint_identically(tmp_path, caplog, device):
    from paperclaims.checkpoint import Checkpoint
    from paperclaims.seeds import generator

    class KilledAfter(Checkpoint):
        def maybe_save(self, step, state):
            super().maybe_save(step, state)
            if step == 30:
                raise KeyboardInterrupt  # stands in for SIGKILL

    lrs = torch.tensor([0.1, 1.0], dtype=torch.float64, device=device)
    noise = torch.tensor([0.0, 2.0], dtype=torch.float64, device=device)
    kwargs = dict(batch=2, slope=0.25, chains=8, steps=60, init_scale=0.01, window=0.2)
    clean = train.run_phase_chains(lrs, noise, gen=generator(4, device), **kwargs)
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        train.run_phase_chains(
            lrs, noise, gen=generator(4, device), checkpoint=KilledAfter(path, 0.0), **kwargs
        )
    with caplog.at_level("INFO", logger="paperclaims"):
        resumed = train.run_phase_chains(
            lrs, noise, gen=generator(4, device), checkpoint=Checkpoint(path, 0.0), **kwargs
        )
    assert "resuming from checkpoint" in caplog.text and "at step 30" in caplog.text
    for key in ("uw", "window_mean_uw", "window_negative_fraction"):
        torch.testing.assert_close(clean[key], resumed[key], rtol=0, atol=0, equal_nan=True)


def test_mean_gradient_test_calibrated_and_powered():
    """control_mean_gradient_vanishes: under a zero mean the Bonferroni p-value falls below 1e-3
    rarely, whatever k (it is not the ≈ 0.07 max|mean|/rms of chance at n = 1000, k = 8); a mean
    of 0.2 sd per coordinate is caught."""
    rng = np.random.default_rng(0)
    key = "x_control_mean_gradient_pvalue"
    for k in (2, 8):
        null = [
            analysis.mean_gradient_test(0.1 * rng.standard_normal((1000, k)), "x")[key]
            for _ in range(300)
        ]
        assert np.mean(np.array(null) < analysis.MEAN_GRADIENT_ALPHA) <= 0.01
        assert np.mean(np.array(null) < 0.05) == pytest.approx(0.05, abs=0.04)
        biased = 0.1 * (rng.standard_normal((1000, k)) + 0.2)
        assert analysis.mean_gradient_test(biased, "x")[key] < analysis.MEAN_GRADIENT_ALPHA
