"""Claim `escape`: SGD's noise is proportional to the loss, so its stationary law is a power law in
the loss and its escape rate is set by the loss *ratio* L(θˢ)/L(θ*), not the difference.

Mori, Ziyin, Liu, Ueda, "Power-Law Escape Rate of SGD", ICML 2022 (arXiv 2105.09557).
Model of Fig. 3: linear regression f = θᵀx, x ~ N(0, I_d), labels y ~ N(0, σ²) independent of x,
a finite data set of N samples, loss L(θ) = (1/2N) Σ_μ (θᵀx_μ − y_μ)² = L* + ½ (θ−θ*)ᵀH(θ−θ*).
One SGD step on a minibatch of B samples (drawn with replacement) is an affine map
θ ← (I − η/B Σ_b x_b x_bᵀ) θ + η/B Σ_b x_b y_b, so thousands of chains advance as one tensor.
Time is t = η × iterations, as in the paper.

Analysis part: theory, measure, checks and verdict; the simulations are in train.py.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import integrate, optimize, special, stats

from paperclaims.fits import bootstrap, line_fit
from paperclaims.io import read_dataset
from paperclaims.sgd import bootstrap_weights, censored_mean
from paperclaims.verdict import CLAIM_LEVEL, Check, Precondition, Threshold, write_verdict

PAPER = "Mori, Ziyin, Liu, Ueda: Power-Law Escape Rate of SGD (ICML 2022)"
N_BOOT = 1000
# quantiles of the claim checks' bootstrap intervals
_LOW, _HIGH = (1 - CLAIM_LEVEL) / 2, (1 + CLAIM_LEVEL) / 2

# ---------------------------------------------------------------- thresholds
# Every threshold of the claim's checks, with its source, in this one place. The values are those
# of shared/claims/escape.md ("What a replication must show"), committed before the runs; none is
# tuned on results. Relative ones are functions of the theory value of their cell.
_SPEC = "shared/claims/escape.md"
THRESHOLDS = {
    "phi": lambda theory: Threshold.around(
        theory,
        rel=0.10,
        source=f"{_SPEC}: within ~10% of the paper's φ = 1 + B/(ηh*) (Fig. 3a), for η ≤ 0.1",
    ),
    "escape_slope": lambda theory: Threshold.around(
        theory,
        rel=0.20,
        source=f"{_SPEC}: within ~20% of the paper's B/(ηh*) + 1 − d/2 (Fig. 3b)",
    ),
    # the largest rise of the slope between consecutive d: < 0 means strictly falling
    "escape_slope_falls_with_d": Threshold(
        "<", 0.0, f"{_SPEC}: slopes falling with d (the paper's 1 − n/2 term, Fig. 3b)"
    ),
    "noise_proportional_to_loss": Threshold(
        "within", (0.8, 1.2), f"{_SPEC}: slope of ln 𝒩 against ln L in [0.8, 1.2] (Fig. 2: 1)"
    ),
    # The discrete-time excess (claim issue 15), redesigned (class C fix, committed before the
    # rerun). The first design held B/(ηh*) = 10 and raised B = 1, 2, 4 with η: its ηh* → 0 limit
    # is B → 0, and its own cells showed SGD's excess tracking B (the minibatch noise's shape),
    # not the step (the Gaussian Euler–Maruyama at the same η: +3–5% at every η). It tested two
    # things at once. Now one thing, the step: the continuum limit of SGD is η → 0 at FIXED B
    # (noise law per unit time fixed), so B = 1 (the paper's Fig. 3b batch) is held, the
    # thresholds c ∈ [1.2, 1.8] are held, and η = 0.1 (the paper's), 0.2, 0.4 (ηh* spans 4×;
    # smaller η would cost c^(B/η) and cannot be afforded). Each cell's excess is taken over the
    # SDE with SGD's OWN noise covariance (the exact Gaussian-input Σ = (2u² + σ²)/B, quadrature,
    # same η, B and c), so the decoupling approximation's own error (a separate, known effect:
    # the decoupled SDE is +9..+30% steeper than the exact one over this c range) is not in it:
    # e(η) = slope_SGD / slope_SDE,exact − 1. Fitted by ``EXCESS_MODEL`` (first order in the step,
    # as the weak error of a one-step scheme) and e₀ (ηh* → 0) must lie within ±10%: then SGD's
    # escape is its continuous-time theory's and the excess at η = 0.1 is a discrete-time effect;
    # outside, SGD's excess survives the continuum limit (noise shape, not the step). Control
    # through the same code: the Gaussian Euler–Maruyama with the paper's DECOUPLED covariance
    # (process ``em``), whose η → 0 limit is the decoupled SDE: by quadrature its excess over the
    # exact-covariance SDE is +9.2%, +14.5%, +22.5% at η = 0.4, 0.2, 0.1, linear extrapolation
    # +25% (limit ≈ +30%), so it must come out "contradicts". Not headline: the paper headlines a
    # power-law escape rate set by the loss ratio (the escape_slope checks and φ); this check tests
    # the continuous-time modelling step between SGD and that theory. The excess at the paper's
    # own setting (B = 1, η = 0.1, over the decoupled SDE) is reported in its details and notes.
    # Second redesign (class C, fixed before the rerun): the continuous SDE as the reference was
    # biased. A Nyström quadrature of the discrete Gaussian chain with SGD's exact covariance (the
    # em_exact process, first passage tested at the steps as in the simulation) reproduces the
    # em_exact cells (+4.8%, −0.3%, −18% over the continuous SDE at η = 0.1, 0.2, 0.4; measured
    # +4.0, −5.3, −17.9) and goes to zero as η → 0 (+4.0% at 0.05, +2.3% at 0.025): the chain's
    # excess over the SDE is not linear in ηh* (it rises then falls: at η = 0.4 a passage takes
    # 1–5 steps), so the linear model fitted on η = 0.1..0.4 extrapolates to +10% for a process
    # whose true limit is 0. The fit model was misspecified for the discrete-time part (the
    # monitoring at step times is only the small +2..+5%). The reference is now that discrete
    # Gaussian chain itself, by quadrature, at the same (η, B, c) and on the same data sets:
    # e(η) = slope_SGD / slope_Gaussian-chain − 1 removes every effect of the step that a
    # Gaussian chain with SGD's covariance has (scheme and monitoring) and keeps the minibatch
    # noise's shape; the Gaussian chain's continuum limit is the exact-covariance SDE, so e₀ = 0
    # means SGD's escape is that SDE's as η → 0. Same model (linear in ηh*), same band. The
    # em_exact simulation through the same code is the calibration (implementation check: e₀
    # within the band); the control is the decoupled-noise Euler–Maruyama (process em): by the
    # same quadrature its excess over the exact-covariance chain is +23%, +16%, +12% at η = 0.1,
    # 0.2, 0.4, linear extrapolation ≈ +25% (limit ≈ +29%), so it must come out "contradicts".
    "discrete_excess_extrapolated": Threshold(
        "within",
        (-0.10, 0.10),
        "ours (claim issue 15, second redesign fixed before the rerun): at fixed B = 1 and c, "
        "η = 0.1, 0.2, 0.4, the excess of SGD's first-passage slope over the discrete Gaussian "
        "chain with SGD's own (exact) covariance at the same η, B, c (Nyström quadrature, first "
        "passage at the steps), extrapolated linearly in ηh* to ηh* → 0, within ±10% (the "
        "slope's own tolerance is 20%, Fig. 3b; the control, the decoupled-noise Euler–Maruyama, "
        "extrapolates to ≈ +25% by the same quadrature)",
    ),
    # Ratio, not difference, on a landscape where it can fail (claim issue 15, fixed before the
    # run). Model: f(θ, x) = x₁ cos θ + x₂ sin θ (x ~ N(0, I₂), one angle θ), labels
    # y = x₁ + σ ε: L(θ) ≈ σ²/2 + (1 − cos θ), one minimum (L* ≈ σ²/2, curvature h* ≈ 1, the
    # Gauss–Newton part, so the decoupled noise is 2LH*/B there) and a barrier of height ≈ 2 at
    # θ = π. Changing σ moves L* and leaves the shape 1 − cos θ (curvature, barrier height) fixed:
    # the landscape is translated, not scaled, so no identity makes t_p collapse on ln c. The
    # paper's Δlog L law says it collapses on ln c (its decoupled SDE by quadrature on this
    # landscape, σ = 0.8, 1, 1.25, c ∈ [1.2, 1.8]: spread 0.021 at fixed ln c, 1.03 at fixed ΔL,
    # ratio 48); constant-noise Langevin on the same landscape collapses on ΔL (its spread at
    # fixed ln c: 1.09 by quadrature) and is the control of both checks.
    "cosine_collapse": lambda tolerance: Threshold(
        "<=",
        tolerance,
        "ours (claim issue 15, fixed before the run), tolerance config "
        "escape.ratio.collapse_tolerance: on the translated cosine landscape the curves ln t_p "
        "at several L* collapse against ln c (paper: escape set by log L(θˢ)/L(θ*)), std across "
        "L* at fixed ln c at most this",
    ),
    "cosine_separation": Threshold(
        ">=",
        3.0,
        f"{_SPEC} rule (curves separate on the other axis: spread at fixed ΔL ≥ 3× the spread at "
        "fixed ln c), on the translated cosine landscape (claim issue 15, fixed before the run)",
    ),
    # The φ tail test (claim issue 15). In d = 1, P ∝ L^(−φ) is a Student-t law of v = √(L/L* − 1)
    # with ν = 2φ − 1 (v√ν ~ t_ν); a Gaussian with the same variance has no tail (1/ν = 0). The
    # statistic is the tail weight ω = 1/ν̂ of a maximum-likelihood scaled-t fit; the paper's law
    # gives ω = 1/(2φ − 1), a tail-less law 0. Ours: the tail is present when ω ≥ half the paper's.
    "phi_tail": lambda omega_theory: Threshold(
        ">=",
        omega_theory / 2,
        "ours (claim issue 15), fixed before the run: tail weight 1/ν̂ of a maximum-likelihood "
        "Student-t fit at least half the paper's 1/(2φ − 1), φ = 1 + B/(ηh*) (a Gaussian with "
        "SGD's variance: 0)",
    ),
    # implementation checks (true by construction of today's ratio experiment)
    "collapse": lambda tolerance: Threshold(
        "<=",
        tolerance,
        "config escape.ratio.collapse_tolerance (a collapse: std of ln t_p across L* at most this)",
    ),
    "separation": Threshold(
        ">=", 3.0, f"{_SPEC} rule: curves separate on the other axis, spread ≥ 3× the collapsed one"
    ),
}
# Preconditions: when a check's comparison means anything (values fixed with the thresholds).
PRECONDITIONS = {
    # the mean first-passage time is measured, not the exponential law's extrapolation
    "max_censored_fraction": 0.5,
    # the net fits its data: final training loss at most this fraction of the initial one, in
    # every seed (the paper's 𝒩 ∝ L is a late-training statement, near a minimum)
    "noise_final_over_initial_loss": 0.1,
    # the extrapolation's cells span at least this factor in ηh* (else the intercept is a guess)
    "discrete_min_lr_span": 3.0,
    # the tail test is run where the power calculation (Fisher information of the scaled-t fit at
    # the paper's ν, with the cell's number of samples; computed before the run) gives a 95%
    # half-width 1.96·sd(1/ν̂) at most this fraction of the paper's 1/ν: else it cannot decide
    "tail_power_max_half_width": 0.25,
    # the cosine landscape's curves share a range on both axes (ln c and ΔL) of at least this
    # fraction of the narrowest curve's range, so the two spreads compare like with like
    "cosine_min_shared_fraction": 0.25,
}
# The extrapolation model, stated before the run: excess linear in ηh*.
EXCESS_MODEL = "e(ηh*) = e₀ + e₁·ηh* (least squares over the cells, equal weights)"
# The claim check's cells (fixed before the rerun): B = discreteness.fixed_batch (1), η = the
# B/(ηh*) = 10 cell's 0.1 and discreteness.fixed_batch_lr (0.2, 0.4), c = discreteness.c; its
# reference is the exact-covariance SDE at the same (η, B, c); not headline (see the threshold).
EXCESS_REFERENCE = "gaussian_chain"
EXCESS_HEADLINE = False
# Nyström nodes of the discrete Gaussian chain's first-passage quadrature (Gauss–Legendre on the
# interval |θ − θ*| < the threshold's distance); 200, 400 and 800 nodes give the same slopes to
# 1e−9 at η = 0.1 and 0.4.
CHAIN_QUADRATURE_NODES = 400
# Controls of the first-passage slope checks (claim issue 15, fixed before the run): the SDE with
# constant noise frozen at L* (the paper's Langevin contrast, κ ∝ exp(−ΔL/D)), the same d and c
# ranges, mean first-passage times by quadrature, sent through the same slope fit and threshold
# (exact intervals: no sampling). A simulation is not affordable: its passage times grow like
# exp((B/η)(c − 1)), e^35 at d = 8, c = 4.5. Its local slope ≈ (B/ηh*)·c, so it exceeds the
# paper's band at every d and rises with d over these c ranges: both checks must contradict.
SLOPE_CONTROL = "constant"
# The paper's 𝒩 ∝ L check (Fig. 2) has no control here: a net whose noise is not ∝ L late in
# training (one that cannot fit its labels: L → L* > 0, 𝒩 → 𝒩* > 0) fails the check's own
# precondition (the net fits its data) instead of coming out "contradicts", and noise injected
# into the update does not enter 𝒩, which is computed from the per-sample gradients.
COSINE_HEADLINE = True


# ---------------------------------------------------------------- theory
def phi_theory(lr, batch, h: float = 1.0):
    """Paper, stationary law P ∝ L^(−φ): φ = 1 + B/(η h*)."""
    return 1 + np.asarray(batch, dtype=float) / (np.asarray(lr, dtype=float) * h)


def escape_slope_theory(lr: float, batch: int, dim: int, h: float = 1.0) -> float:
    """Paper, t_p ∝ c^(B/(ηh*) + 1 − n/2) with n = d outlier directions."""
    return batch / (lr * h) + 1 - dim / 2


def mean_log_ratio_to_phi(mean_log_ratio, dim: int):
    """Maximum-likelihood φ of P(θ) ∝ L(θ)^(−φ) on R^d from S = mean log(L/L*).

    With u = H^½(θ−θ*)/√(2L*), L/L* = 1 + |u|², the normalizer is π^(d/2) Γ(φ−d/2)/Γ(φ), and
    the score vanishes where ψ(φ) − ψ(φ − d/2) = S (decreasing in φ: one root)."""
    half = dim / 2

    def solve(s):
        if not np.isfinite(s) or s <= 0:
            return np.nan
        f = lambda phi: special.digamma(phi) - special.digamma(phi - half) - s  # noqa: E731
        hi = half + 1.0
        while f(hi) > 0:
            hi *= 2
        return optimize.brentq(f, half + 1e-12, hi, xtol=1e-12, rtol=1e-12)

    return np.vectorize(solve, otypes=[float])(mean_log_ratio)


def fit_phi(loss_ratio: np.ndarray, dim: int) -> float:
    """Maximum-likelihood φ from samples of L/L*."""
    return float(mean_log_ratio_to_phi(np.mean(np.log(loss_ratio)), dim))


def tail_weight_sd(nu: float, n: int) -> float:
    """Power calculation of the tail test: the asymptotic sd of ω̂ = 1/ν̂ of a maximum-likelihood
    scaled-t fit (location 0, scale and ν free) to ``n`` independent t_ν samples, from the
    Fisher information of (scale, ν) (per sample, scale 1)."""
    i_ss = 2 * nu / (nu + 3)
    i_nn = (special.polygamma(1, nu / 2) - special.polygamma(1, (nu + 1) / 2)) / 4 - (nu + 5) / (
        2 * nu * (nu + 1) * (nu + 3)
    )
    i_ns = -2 / ((nu + 1) * (nu + 3))
    var_nu = i_ss / (i_ss * i_nn - i_ns**2) / n
    return float(np.sqrt(var_nu) / nu**2)


def _t_logpdf(v2: np.ndarray, omega: float, scale: np.ndarray) -> np.ndarray:
    """log density of v (v² given) under the scaled t with ν = 1/ω (ω = 0: the Gaussian);
    broadcast over trailing ``scale``."""
    z2 = v2[..., None] / scale**2
    if omega == 0:
        return -0.5 * np.log(2 * np.pi) - np.log(scale) - z2 / 2
    nu = 1 / omega
    const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return const - np.log(scale) - (nu + 1) / 2 * np.log1p(z2 / nu)


def tail_weight_fit(loss_ratio: np.ndarray, omega_max: float, weights: np.ndarray):
    """Maximum-likelihood tail weight ω = 1/ν of a scaled t for v = √(L/L* − 1) (the sign of v
    does not enter), on a grid: ``omega_max`` × [0, 1] in 161 steps, and for each ω the scale on
    ±6% around its full-data maximum-likelihood value in 25 steps. Per-chain log-likelihood sums
    make every bootstrap replicate (``weights``, (n_boot, chains)) one matrix product.
    Returns (ω̂, replicates)."""
    v2 = np.clip(np.asarray(loss_ratio, dtype=float) - 1, 0, None)  # (chains, samples)
    omegas = np.linspace(0, omega_max, 161)
    per_chain = []
    for omega in omegas:
        scale2 = v2.mean()
        for _ in range(50):  # EM fixed point of the t scale (exact at ω = 0)
            if omega == 0:
                break
            nu = 1 / omega
            scale2 = float(np.mean((nu + 1) * v2 / (nu + v2 / scale2)))
        scales = np.sqrt(scale2) * np.exp(np.linspace(-0.06, 0.06, 25))
        per_chain.append(_t_logpdf(v2, omega, scales).sum(axis=1))  # (chains, scales)
    ll = np.stack(per_chain, axis=1)  # (chains, omegas, scales)
    flat = ll.reshape(ll.shape[0], -1)
    central = omegas[np.argmax(flat.sum(0)) // ll.shape[2]]
    boot = omegas[np.argmax(weights @ flat, axis=1) // ll.shape[2]]
    return float(central), boot


def phi_exact_noise(lr: float, batch: int) -> float:
    """What the same φ fit returns for the exact-noise SDE in d = 1 with Gaussian inputs.

    Exact per-sample gradient variance is (2u² + σ²)/B (E x⁴ = 3), not the decoupled
    2L/B = (u² + σ²)/B; the SDE dθ = −u dt + √(ηΣ) dW then has the stationary law
    p(v) ∝ (1 + 2v²)^(−1 − B/(2η)) in v = u/σ, with L/L* = 1 + v²."""
    power = 1 + batch / (2 * lr)
    dens = lambda v: (1 + 2 * v * v) ** (-power)  # noqa: E731
    norm = integrate.quad(dens, 0, np.inf, limit=400)[0]
    moment = integrate.quad(lambda v: np.log1p(v * v) * dens(v), 0, np.inf, limit=400)[0]
    return float(mean_log_ratio_to_phi(moment / norm, 1))


def sde_passage_time(c: np.ndarray, lr: float, batch: int, dim: int, noise: str) -> np.ndarray:
    """Mean first-passage time (t = η k) of the SDE from the minimum to L = c L*, h = 1, isotropic.

    Radial diffusion of v = |θ−θ*|/σ: drift −v + (d−1) D_tan/v, diffusion D_rad, with
    ``noise="decoupled"`` (the paper's Σ = 2LH/B: D = η(1+v²)/2B), ``"exact"`` (Gaussian
    inputs: D_rad = η(1+2v²)/2B, D_tan = η(1+v²)/2B) or ``"constant"`` (Langevin, the noise frozen
    at L*: D = η/2B). T(a) = ∫₀ᵃ s(y) ∫₀ʸ dz/(D_rad s) dy."""
    k = batch / lr

    def log_scale(v):
        if noise == "decoupled":
            return k * np.log1p(v * v) - (dim - 1) * np.log(v)
        if noise == "constant":
            return k * v * v - (dim - 1) * np.log(v)
        return k / 2 * np.log1p(2 * v * v) - (dim - 1) * (np.log(v) - np.log1p(2 * v * v) / 4)

    def d_rad(v):
        if noise == "constant":
            return np.full_like(v, lr / (2 * batch))
        return lr * (1 + (1 if noise == "decoupled" else 2) * v * v) / (2 * batch)

    out = []
    for target in np.atleast_1d(c):
        v = np.linspace(0, math.sqrt(target - 1), 20001)[1:]
        ls = log_scale(v)
        inner = integrate.cumulative_trapezoid(np.exp(-ls) / d_rad(v), v, initial=0)
        inner += v[0] * np.exp(-ls[0]) / d_rad(v[0]) / dim  # ∫₀^v₀ z^(d−1)… ≈ v₀ f(v₀)/d
        out.append(integrate.trapezoid(np.exp(ls) * inner, v))
    return np.array(out)


def log_log_slope(x: np.ndarray, t: np.ndarray) -> float:
    return line_fit(np.log(x), np.log(t)).slope


def gaussian_chain_variance(moments: dict, noise: str, theta: np.ndarray) -> np.ndarray:
    """Per-step noise variance ×B of the d = 1 Gaussian chain (train.euler_maruyama_kernel's law)."""
    m = moments
    if noise == "decoupled":
        u = theta - m["theta_star"]
        return 2 * (m["loss_star"] + m["h"] * u * u / 2) * m["h"]
    mean = m["h"] * theta - m["mxy"]
    return np.clip(
        m["m4"] * theta * theta - 2 * m["m3y"] * theta + m["m2yy"] - mean * mean, 0, None
    )


def gaussian_chain_passage_steps(
    moments: dict, lr: float, batch: int, c: float, noise: str, nodes: int
) -> float:
    """Mean number of steps of the discrete Gaussian chain θ ← θ − ηh(θ − θ*) + η √(Σ(θ)/B) ξ
    (d = 1, the em / em_exact processes) from θ* until L > c L*, the passage tested at the steps as
    in the simulation: T(θ) = 1 + ∫_inside p(θ'|θ) T(θ') dθ', solved by Nyström on Gauss–Legendre
    nodes of the inside interval. No continuum limit is taken: the step's effects are in it."""
    m = moments
    a = math.sqrt(2 * (c - 1) * m["loss_star"] / m["h"])
    x, w = np.polynomial.legendre.leggauss(nodes)
    theta, w = m["theta_star"] + a * x, w * a

    def row(start):
        mean = start - lr * m["h"] * (start - m["theta_star"])
        sd = lr * np.sqrt(gaussian_chain_variance(m, noise, start) / batch)
        return stats.norm.pdf((theta - mean[:, None]) / sd[:, None]) / sd[:, None] * w

    steps = np.linalg.solve(np.eye(nodes) - row(theta), np.ones(nodes))
    return float(1 + row(np.array([m["theta_star"]]))[0] @ steps)


def cosine_sde_passage_time(
    c: np.ndarray, loss_star: float, h: float, lr: float, batch: int, noise_loss=None
) -> np.ndarray:
    """Mean first-passage time (t = η k) from θ* to L = c L* of the SDE on the cosine landscape
    L = L* + h (1 − cos ψ): the paper's decoupled noise D = η L h / B (``noise_loss=None``) or
    constant noise frozen at ``noise_loss``. T = ∫₀^ψc e^Φ(y) ∫₀^y e^−Φ(z) / D(z) dz dy, Φ' = L'/D
    (reflecting at ψ = 0 by symmetry)."""
    out = []
    for target in np.atleast_1d(c):
        psi = np.linspace(0, math.acos(1 - (target - 1) * loss_star / h), 20001)
        loss = loss_star + h * (1 - np.cos(psi))
        d = lr * (loss if noise_loss is None else np.full_like(psi, noise_loss)) * h / batch
        phi = integrate.cumulative_trapezoid(h * np.sin(psi) / d, psi, initial=0)
        inner = integrate.cumulative_trapezoid(np.exp(-phi) / d, psi, initial=0)
        out.append(integrate.trapezoid(np.exp(phi) * inner, psi))
    return np.array(out)


# ---------------------------------------------------------------- measure
def collapse_spread(xs: list[np.ndarray], ys: list[np.ndarray], points: int = 25) -> float:
    """How far curves y(x) are from one curve: the standard deviation across curves of y,
    interpolated at ``points`` x values of the range all curves cover, averaged over x.
    NaN when the curves share no x range."""
    low = max(np.nanmin(x) for x in xs)
    high = min(np.nanmax(x) for x in xs)
    if not high > low:
        return float("nan")
    grid = np.linspace(low, high, points)
    at_grid = []
    for x, y in zip(xs, ys):
        keep = np.isfinite(x) & np.isfinite(y)
        if not keep.any():  # e.g. a bootstrap replicate whose chains all stayed censored
            return float("nan")
        order = np.argsort(x[keep])
        at_grid.append(np.interp(grid, x[keep][order], y[keep][order]))
    return float(np.std(np.array(at_grid), axis=0).mean())


def dataset_weights(chain_dataset: np.ndarray, n_boot: int, dataset_seed: int, seed: int):
    """Two-stage bootstrap weights (n_boot, chains): data sets resampled with replacement (the
    same draw for every cell built from the same data sets: ``dataset_seed``), times the chains'
    own resampling counts (``seed``)."""
    n_sets = int(chain_dataset.max()) + 1
    sets = bootstrap_weights(n_sets, n_boot, dataset_seed)
    return sets[:, chain_dataset] * bootstrap_weights(len(chain_dataset), n_boot, seed)


def _passage_summary(ds: xr.Dataset, seed: int, weights: np.ndarray | None = None) -> dict:
    """Mean passage time per threshold (censored-exponential where needed), 90% bootstrap band
    over chains (for the figures), and the log–log slope against c with its ``CLAIM_LEVEL``
    bootstrap interval; the bootstrap replicates too (``boot``, ``slope_boot``), for checks that
    combine cells."""
    times = ds["passage_time"].values
    horizon = float(ds.attrs["horizon"])
    if weights is None:
        weights = bootstrap_weights(times.shape[0], N_BOOT, seed)
    mean = censored_mean(times, horizon)
    boot = censored_mean(times, horizon, weights)
    log_c = np.log(ds["c"].values)
    centered = log_c - log_c.mean()
    slope_boot = (np.log(boot) @ centered) / (centered @ centered)
    half = len(log_c) // 2
    return {
        "mean": mean,
        # the slope over the lower and upper halves of the c range: equal for a pure power law
        "slope_lower_c": float(line_fit(log_c[: half + 1], np.log(mean[: half + 1])).slope),
        "slope_upper_c": float(line_fit(log_c[half:], np.log(mean[half:])).slope),
        "low": np.nanquantile(boot, 0.05, axis=0),
        "high": np.nanquantile(boot, 0.95, axis=0),
        "censored": np.mean(~np.isfinite(times), axis=0),
        "slope": float(line_fit(log_c, np.log(mean)).slope),
        "slope_low": float(np.nanquantile(slope_boot, _LOW)),
        "slope_high": float(np.nanquantile(slope_boot, _HIGH)),
        "boot": boot,
        "slope_boot": slope_boot,
    }


def _phi_fit(ratio: np.ndarray, seed: int) -> tuple[float, float, float]:
    """Maximum-likelihood φ of P ∝ L^(−φ) (d = 1) from stationary samples (chains, samples) of
    L/L*, with its percentile interval over chains (each chain's samples kept together)."""
    chains, per_chain = ratio.shape
    log_sum = np.log(ratio).sum(axis=1)
    phi = float(mean_log_ratio_to_phi(log_sum.sum() / ratio.size, 1))
    weights = bootstrap_weights(chains, N_BOOT, seed=seed)
    boot = mean_log_ratio_to_phi(weights @ log_sum / (weights.sum(1) * per_chain), 1)
    return phi, float(np.nanquantile(boot, _LOW)), float(np.nanquantile(boot, _HIGH))


def _measure_stationary(paths: list[str]) -> xr.Dataset:
    excess_grid = np.geomspace(1e-3, 1e2, 81)
    cells = []
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        ratio = ds["loss_ratio"].values
        phi, phi_low, phi_high = _phi_fit(ratio, seed=i)
        lr, batch, h = ds.attrs["lr"], ds.attrs["batch"], ds.attrs["hessian"]
        nu = 2 * phi - 1  # L^(−φ) in d = 1 is a Student t with ν = 2φ − 1 in u √ν
        excess = np.sort((ratio - 1).ravel())
        cell = xr.Dataset(
            {
                "phi": phi,
                "phi_low": phi_low,
                "phi_high": phi_high,
                "phi_theory": float(phi_theory(lr, batch, h)),
                "phi_theory_h1": float(phi_theory(lr, batch)),
                "phi_exact_noise": phi_exact_noise(lr, batch),
                "ccdf": ("excess", 1 - np.searchsorted(excess, excess_grid) / excess.size),
                "ccdf_fit": ("excess", 2 * stats.t.sf(np.sqrt(excess_grid * nu), nu)),
                "ccdf_theory": (
                    "excess",
                    2
                    * stats.t.sf(
                        np.sqrt(excess_grid * (2 * phi_theory(lr, batch, h) - 1)),
                        2 * phi_theory(lr, batch, h) - 1,
                    ),
                ),
            },
            coords={"excess": excess_grid},
        )
        cells.append(cell.expand_dims(lr=[float(lr)], batch=[int(batch)]))
    out = xr.combine_by_coords(cells, combine_attrs="drop")
    out["phi"].attrs["long_name"] = "maximum-likelihood φ of P ∝ L^(−φ)"
    out["excess"].attrs["units"] = "L / L* − 1"
    return out.rename({"excess": "loss_excess"})


def _measure_tails(paths: list[str], langevin_paths: list[str]) -> xr.Dataset:
    """The φ tail test per (η, B): ω̂ = 1/ν̂ of SGD's samples and of the constant-noise Langevin
    control's, with the paper's ω = 1/(2φ − 1) and the power calculation's 95% half-width."""
    control = {}
    for path in langevin_paths:
        ds = read_dataset(path)
        control[(float(ds.attrs["lr"]), int(ds.attrs["batch"]))] = ds["loss_ratio"].values
    cells = []
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        lr, batch, h = float(ds.attrs["lr"]), int(ds.attrs["batch"]), float(ds.attrs["hessian"])
        ratio = ds["loss_ratio"].values
        omega_theory = 1 / (2 * float(phi_theory(lr, batch, h)) - 1)
        grid_max = 4 * omega_theory  # the grid's step is 1/40 of the paper's ω
        weights = bootstrap_weights(ratio.shape[0], N_BOOT, seed=500 + i)
        omega, boot = tail_weight_fit(ratio, grid_max, weights)
        values = {
            "tail_omega": omega,
            "tail_omega_low": np.quantile(boot, _LOW),
            "tail_omega_high": np.quantile(boot, _HIGH),
            "tail_omega_theory": omega_theory,
            "tail_omega_grid_max": grid_max,
            "tail_power_half_width": 1.96
            * tail_weight_sd(1 / omega_theory, ratio.size)
            / omega_theory,
        }
        if (lr, batch) in control:
            other = control[(lr, batch)]
            w = bootstrap_weights(other.shape[0], N_BOOT, seed=600 + i)
            c_omega, c_boot = tail_weight_fit(other, grid_max, w)
            # the φ value check's control: the same φ fit on the tail-less chains
            c_phi, c_phi_low, c_phi_high = _phi_fit(other, seed=700 + i)
            values |= {
                "phi_langevin": c_phi,
                "phi_langevin_low": c_phi_low,
                "phi_langevin_high": c_phi_high,
                "tail_omega_langevin": c_omega,
                "tail_omega_langevin_low": np.quantile(c_boot, _LOW),
                "tail_omega_langevin_high": np.quantile(c_boot, _HIGH),
            }
        cell = xr.Dataset({k: float(v) for k, v in values.items()})
        cells.append(cell.expand_dims(lr=[lr], batch=[batch]))
    return xr.combine_by_coords(cells, combine_attrs="drop")


def _measure_first_passage(paths: list[str], lr: float, batch: int) -> xr.Dataset:
    cells = []
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        dim, c = int(ds.attrs["dim"]), ds["c"].values
        weights, n_datasets = None, 1  # one data set: the chains alone
        if "chain_dataset" in ds.coords:  # each cell's own data sets, resampled with its chains
            weights = dataset_weights(ds["chain_dataset"].values, N_BOOT, 900 + i, seed=i)
            n_datasets = int(ds["chain_dataset"].max()) + 1
        s = _passage_summary(ds, seed=i, weights=weights)
        sde = {n: sde_passage_time(c, lr, batch, dim, n) for n in ("decoupled", "exact")}
        cell = xr.Dataset(
            {
                "fp_c": ("threshold", c),
                "fp_time": ("threshold", s["mean"]),
                "fp_time_low": ("threshold", s["low"]),
                "fp_time_high": ("threshold", s["high"]),
                "fp_censored": ("threshold", s["censored"]),
                "fp_sde_decoupled": ("threshold", sde["decoupled"]),
                "fp_sde_exact": ("threshold", sde["exact"]),
                "fp_slope": s["slope"],
                "fp_slope_low": s["slope_low"],
                "fp_slope_high": s["slope_high"],
                "fp_slope_boot": ("fp_boot", s["slope_boot"]),
                "fp_slope_lower_c": s["slope_lower_c"],
                "fp_slope_upper_c": s["slope_upper_c"],
                "fp_n_datasets": n_datasets,
                "fp_slope_theory": escape_slope_theory(lr, batch, dim),
                "fp_slope_sde_decoupled": log_log_slope(c, sde["decoupled"]),
                "fp_slope_sde_exact": log_log_slope(c, sde["exact"]),
                "fp_slope_sde_constant": log_log_slope(
                    c, sde_passage_time(c, lr, batch, dim, SLOPE_CONTROL)
                ),
            },
            coords={"threshold": np.arange(len(c))},
        )
        cells.append(cell.expand_dims({"dim": [dim]}))
    out = xr.concat(cells, dim="dim", join="outer")
    out["fp_time"].attrs["units"] = "η × iterations"
    return out


def _measure_ratio(paths: list[str], seed_offset: int = 100) -> xr.Dataset:
    """Mean passage times per (process, L*) cell and the collapse spreads, each spread also on
    every bootstrap replicate (``…_boot``: the cells' chains resampled independently)."""
    cells, curves = [], {}
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        s = _passage_summary(ds, seed=seed_offset + i)
        curves.setdefault(ds.attrs["process"], []).append(
            (np.log(ds["c"].values), ds["delta_loss"].values, np.log(s["boot"]))
        )
        cell = xr.Dataset(
            {
                "ratio_c": ("threshold", ds["c"].values),
                "ratio_delta_loss": ("threshold", ds["delta_loss"].values),
                "ratio_time": ("threshold", s["mean"]),
                "ratio_time_low": ("threshold", s["low"]),
                "ratio_time_high": ("threshold", s["high"]),
                "ratio_censored": ("threshold", s["censored"]),
                "ratio_loss_star": float(ds.attrs["loss_star"]),
            },
            coords={"threshold": np.arange(ds.sizes["threshold"])},
        )
        cells.append(
            cell.expand_dims(process=[ds.attrs["process"]], label_noise=[ds.attrs["label_noise"]])
        )
    out = xr.combine_by_coords(cells, combine_attrs="drop", join="outer")
    for process in out["process"].values:
        cell = out.sel(process=process)
        log_t = [np.log(cell["ratio_time"].sel(label_noise=s).values) for s in cell["label_noise"]]
        log_c = [np.log(cell["ratio_c"].sel(label_noise=s).values) for s in cell["label_noise"]]
        delta = [cell["ratio_delta_loss"].sel(label_noise=s).values for s in cell["label_noise"]]
        out[f"spread_log_c_{process}"] = collapse_spread(log_c, log_t)
        out[f"spread_delta_loss_{process}"] = collapse_spread(delta, log_t)
        log_c, delta, log_boot = zip(*curves[process])
        for key, xs in (("log_c", log_c), ("delta_loss", delta)):
            out[f"spread_{key}_{process}_boot"] = (
                "ratio_boot",
                [collapse_spread(xs, [t[b] for t in log_boot]) for b in range(N_BOOT)],
            )
    return out


def _measure_cosine(paths: list[str]) -> xr.Dataset:
    """The ratio test on the translated cosine landscape: ``_measure_ratio``'s variables with the
    prefix ``cos_`` (own dims), the cells' censoring, and the paper's prediction (its decoupled SDE
    on the ideal landscape L* + h*(1 − cos ψ) with each SGD cell's L* and h*, by quadrature) with
    its spreads."""
    if not paths:
        return xr.Dataset()
    out = _measure_ratio(paths, seed_offset=800)
    names = {"process": "cos_process", "label_noise": "cos_label_noise"}
    names |= {"threshold": "cos_threshold", "ratio_boot": "cos_boot"}
    for v in out.data_vars:
        names[v] = "cos_" + (v[len("ratio_") :] if v.startswith("ratio_") else v)
    out = out.rename(names)
    theory, xs_c, xs_d = [], [], []
    hessian, lr, batch = {}, None, None
    for path in paths:
        ds = read_dataset(path)
        hessian[(ds.attrs["process"], float(ds.attrs["label_noise"]))] = float(ds.attrs["hessian"])
        lr, batch = float(ds.attrs["lr"]), int(ds.attrs["batch"])
    sgd = out.sel(cos_process="sgd") if "sgd" in out["cos_process"].values else None
    if sgd is not None:
        for sigma in sgd["cos_label_noise"].values:
            cell = sgd.sel(cos_label_noise=sigma)
            c = cell["cos_c"].values
            keep = np.isfinite(c)
            t = np.full(len(c), np.nan)
            t[keep] = cosine_sde_passage_time(
                c[keep], float(cell["cos_loss_star"]), hessian[("sgd", float(sigma))], lr, batch
            )
            theory.append(t)
            xs_c.append(np.log(c))
            xs_d.append(cell["cos_delta_loss"].values)
        log_t = [np.log(t) for t in theory]
        out["cos_theory_time"] = (("cos_label_noise", "cos_threshold"), np.array(theory))
        out["cos_theory_spread_log_c"] = collapse_spread(xs_c, log_t)
        out["cos_theory_spread_delta_loss"] = collapse_spread(xs_d, log_t)
    return out


def shared_range_fraction(xs: list[np.ndarray]) -> float:
    """The range all curves cover, as a fraction of the narrowest curve's range (0: none)."""
    xs = [np.asarray(x)[np.isfinite(x)] for x in xs]
    low, high = max(x.min() for x in xs), min(x.max() for x in xs)
    narrowest = min(x.max() - x.min() for x in xs)
    return float(max(high - low, 0.0) / narrowest) if narrowest > 0 else 0.0


def extrapolate_excess(eta_h: np.ndarray, excess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model stated before the run (``EXCESS_MODEL``): least squares e = e₀ + e₁·ηh* over the
    cells; ``excess`` (cells, …) may carry bootstrap replicates on its trailing axis. Returns
    (e₀, e₁), NaN where any cell is not finite."""
    design = np.stack([np.ones_like(eta_h), eta_h], axis=1)
    excess = np.asarray(excess, dtype=float)
    flat = excess.reshape(len(eta_h), -1)
    coef = np.linalg.pinv(design) @ np.where(np.isfinite(flat), flat, 0.0)
    bad = ~np.isfinite(flat).all(axis=0)
    coef[:, bad] = np.nan
    shape = excess.shape[1:]
    return coef[0].reshape(shape), coef[1].reshape(shape)


def _measure_discreteness(paths: list[str]) -> xr.Dataset:
    """Per (process, B) cell: slope of ln t_p against ln c, the SDE (decoupled noise) slope at the
    same c and the excess e = slope / slope_SDE − 1 with its bootstrap replicates; per process the
    extrapolation e₀ (ηh* → 0) of ``EXCESS_MODEL``, on every joint replicate (two-stage bootstrap:
    the shared data sets resampled alike in every cell, each cell's chains independently)."""
    cells = []
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        lr, batch, h = float(ds.attrs["lr"]), int(ds.attrs["batch"]), float(ds.attrs["hessian"])
        c = ds["c"].values
        # the cells share their data sets: replicate b resamples the same data sets in each
        weights = dataset_weights(ds["chain_dataset"].values, N_BOOT, 200, seed=300 + i)
        s = _passage_summary(ds, seed=300 + i, weights=weights)
        sde_time = sde_passage_time(c, lr, batch, 1, "decoupled")
        sde_slope = log_log_slope(c, sde_time)
        cell = xr.Dataset(
            {
                "disc_c": ("disc_threshold", c),
                "disc_time": ("disc_threshold", s["mean"]),
                "disc_time_low": ("disc_threshold", s["low"]),
                "disc_time_high": ("disc_threshold", s["high"]),
                "disc_time_sde": ("disc_threshold", sde_time),
                "disc_censored": float(np.max(s["censored"])),
                "disc_lr": lr,
                "disc_eta_h": lr * h,
                "disc_slope": s["slope"],
                "disc_slope_sde": sde_slope,
                "disc_excess": s["slope"] / sde_slope - 1,
                "disc_excess_boot": ("disc_boot", s["slope_boot"] / sde_slope - 1),
            },
            coords={"disc_threshold": np.arange(len(c))},
        )
        cells.append(cell.expand_dims(disc_process=[ds.attrs["process"]], disc_batch=[batch]))
    out = xr.combine_by_coords(cells, combine_attrs="drop", join="outer")
    intercept, gradient, boot = [], [], []
    for process in out["disc_process"].values:
        cell = out.sel(disc_process=process)
        eta_h = cell["disc_eta_h"].values
        e0, e1 = extrapolate_excess(eta_h, cell["disc_excess"].values)
        b0, _ = extrapolate_excess(
            eta_h, cell["disc_excess_boot"].transpose("disc_batch", ...).values
        )
        intercept.append(float(e0))
        gradient.append(float(e1))
        boot.append(b0)
    out["disc_intercept"] = ("disc_process", intercept)
    out["disc_gradient"] = ("disc_process", gradient)
    out["disc_intercept_boot"] = (("disc_process", "disc_boot"), np.array(boot))
    out["disc_excess"].attrs["long_name"] = "slope / slope of the decoupled-noise SDE (same c) − 1"
    return out


def _chain_reference(ds: xr.Dataset, datasets: list[dict], lr: float, batch: int):
    """The excess check's reference at step η: mean first-passage times of the discrete Gaussian
    chain with SGD's exact covariance (``gaussian_chain_passage_steps``), on the cell's data sets
    (``datasets``: each one's moments; the mean over them, as the cells hold equal chains per data
    set), and the log–log slope, also on every replicate of the data-set resampling that
    ``dataset_weights`` uses (the same draw, seed 200). Returns (times, slope, slope replicates)."""
    stored = ds["dataset_loss_star"].values
    rebuilt = np.array([m["loss_star"] for m in datasets])
    if len(rebuilt) != len(stored) or not np.allclose(rebuilt, stored, rtol=1e-10):
        raise ValueError("excess reference: the rebuilt data sets are not the cells' data sets")
    c = ds["c"].values
    steps = np.array(
        [
            [
                gaussian_chain_passage_steps(m, lr, batch, cc, "exact", CHAIN_QUADRATURE_NODES)
                for cc in c
            ]
            for m in datasets
        ]
    )
    times = steps * lr  # (data sets, thresholds)
    sets = bootstrap_weights(len(datasets), N_BOOT, 200)
    boot = sets @ times / sets.sum(1, keepdims=True)
    log_c = np.log(c)
    centered = log_c - log_c.mean()
    slope_boot = (np.log(boot) @ centered) / (centered @ centered)
    mean = times.mean(0)
    return mean, log_log_slope(c, mean), slope_boot


def _measure_fixed_batch(paths: list[str], fixed_batch: int, datasets: list[dict]) -> xr.Dataset:
    """The claim check's cells, B = ``fixed_batch`` held, η varied (``paths``: every discreteness
    cell; those of another B are skipped). Per (process, η): the slope, the SDE slopes at the same
    (η, B, c) with the exact and the decoupled covariance, the excess over the reference
    (``EXCESS_REFERENCE``) and over the decoupled SDE, each with its replicates; per process the
    extrapolation e₀ of ``EXCESS_MODEL``. Two-stage bootstrap as in ``_measure_discreteness``: the
    data sets (shared by every cell) resampled alike, each cell's chains independently; so SGD's
    and a Gaussian EM's replicates at the same η pair up (their ratio: the noise shape at η)."""
    cells, boots, chain_ref = [], {}, {}
    for i, path in enumerate(paths):
        ds = read_dataset(path)
        if int(ds.attrs["batch"]) != fixed_batch:
            continue
        lr, h = float(ds.attrs["lr"]), float(ds.attrs["hessian"])
        c = ds["c"].values
        weights = dataset_weights(ds["chain_dataset"].values, N_BOOT, 200, seed=700 + i)
        s = _passage_summary(ds, seed=700 + i, weights=weights)
        sde_time = {n: sde_passage_time(c, lr, fixed_batch, 1, n) for n in ("exact", "decoupled")}
        sde = {n: log_log_slope(c, t) for n, t in sde_time.items()}
        if lr not in chain_ref:
            chain_ref[lr] = _chain_reference(ds, datasets, lr, fixed_batch)
        ref_time, ref_slope, ref_slope_boot = chain_ref[lr]
        sde_time["gaussian_chain"], sde["gaussian_chain"] = ref_time, ref_slope
        ref_boot = ref_slope_boot if EXCESS_REFERENCE == "gaussian_chain" else sde[EXCESS_REFERENCE]
        boots[(ds.attrs["process"], lr)] = s["slope_boot"]
        cell = xr.Dataset(
            {
                "fb_c": ("fb_threshold", c),
                "fb_time": ("fb_threshold", s["mean"]),
                "fb_time_low": ("fb_threshold", s["low"]),
                "fb_time_high": ("fb_threshold", s["high"]),
                "fb_time_sde_exact": ("fb_threshold", sde_time["exact"]),
                "fb_time_sde_decoupled": ("fb_threshold", sde_time["decoupled"]),
                "fb_censored": float(np.max(s["censored"])),
                "fb_eta_h": lr * h,
                "fb_slope": s["slope"],
                "fb_slope_sde_exact": sde["exact"],
                "fb_slope_sde_decoupled": sde["decoupled"],
                "fb_time_chain": ("fb_threshold", ref_time),
                "fb_slope_chain": ref_slope,
                "fb_excess": s["slope"] / sde[EXCESS_REFERENCE] - 1,
                "fb_excess_boot": ("fb_boot", s["slope_boot"] / ref_boot - 1),
                "fb_excess_exact_sde": s["slope"] / sde["exact"] - 1,
                "fb_excess_exact_sde_boot": ("fb_boot", s["slope_boot"] / sde["exact"] - 1),
                "fb_excess_decoupled": s["slope"] / sde["decoupled"] - 1,
                "fb_excess_decoupled_boot": ("fb_boot", s["slope_boot"] / sde["decoupled"] - 1),
            },
            coords={"fb_threshold": np.arange(len(c))},
        )
        cells.append(cell.expand_dims(fb_process=[ds.attrs["process"]], fb_lr=[lr]))
    if not cells:
        return xr.Dataset()
    out = xr.combine_by_coords(cells, combine_attrs="drop", join="outer")
    intercept, gradient, boot = [], [], []
    for process in out["fb_process"].values:
        cell = out.sel(fb_process=process)
        eta_h = cell["fb_eta_h"].values
        e0, e1 = extrapolate_excess(eta_h, cell["fb_excess"].values)
        b0, _ = extrapolate_excess(eta_h, cell["fb_excess_boot"].transpose("fb_lr", ...).values)
        intercept.append(float(e0))
        gradient.append(float(e1))
        boot.append(b0)
    out["fb_intercept"] = ("fb_process", intercept)
    out["fb_gradient"] = ("fb_process", gradient)
    out["fb_intercept_boot"] = (("fb_process", "fb_boot"), np.array(boot))
    if "sgd" in out["fb_process"].values and "em_exact" in out["fb_process"].values:
        # the noise shape at each η: SGD against the Gaussian EM with the same covariance and step
        lrs = out["fb_lr"].values
        ratio = [
            boots.get(("sgd", lr), np.full(N_BOOT, np.nan))
            / boots.get(("em_exact", lr), np.full(N_BOOT, np.nan))
            - 1
            for lr in lrs
        ]
        out["fb_shape_excess"] = (
            "fb_lr",
            out["fb_slope"].sel(fb_process="sgd").values
            / out["fb_slope"].sel(fb_process="em_exact").values
            - 1,
        )
        out["fb_shape_excess_boot"] = (("fb_lr", "fb_boot"), np.array(ratio))
    out["fb_excess"].attrs["long_name"] = (
        "slope / slope of the discrete Gaussian chain with SGD's exact covariance (quadrature, "
        "same η, B, c, data sets) − 1"
    )
    out.attrs = {"fixed_batch": fixed_batch}
    return out


def _measure_noise(path: str, late_fraction: float) -> xr.Dataset:
    ds = read_dataset(path)
    epochs = ds["epoch"].values
    late = epochs >= late_fraction * epochs.max()
    slopes = [
        line_fit(np.log(ds["loss"].values[s, late]), np.log(ds["noise"].values[s, late])).slope
        for s in range(ds.sizes["seed"])
    ]
    out = ds.rename({"noise": "noise_strength", "loss": "noise_loss", "seed": "noise_seed"})
    out["noise_late"] = ("epoch", late)
    out["noise_slope"] = ("noise_seed", np.array(slopes))
    out.attrs = {"noise_dataset": ds.attrs["dataset"], "late_from_epoch": int(epochs[late][0])}
    return out


def discreteness_problems(p: dict) -> list:
    """The discreteness cells' data sets (``train.Regression``, the same seeds)."""
    from paperclaims.claims.escape.train import Regression
    from paperclaims.seeds import derive_seed

    return [
        Regression(p["n_data"], 1, p["label_noise"], derive_seed(p["data_seed"], g))
        for g in range(p["n_datasets"])
    ]


def discreteness_datasets(p: dict) -> list[dict]:
    """The moments of the discreteness cells' data sets."""
    return [q.moments() for q in discreteness_problems(p)]


def _cgf_root(g: np.ndarray) -> float:
    """The positive root q of Λ(q) = ln mean exp(q g) (Λ(0) = 0, Λ'(0) = mean g < 0)."""
    lam = lambda q: special.logsumexp(q * g) - math.log(g.size)  # noqa: E731
    high = 1.0
    while lam(high) <= 0:
        high *= 2
    low = high / 2
    while lam(low) > 0:
        low /= 2
    return optimize.brentq(lam, low, high, xtol=1e-12)


def large_deviation_exit_costs(problem, c: np.ndarray, n_grid: int = 60) -> dict:
    """η → 0 exit costs V(c), η ln E t_p → V, of one-sample SGD from θ* to L = c L* (d = 1) and
    of the Gaussian chain with SGD's exact per-step mean and variance (Freidlin–Wentzell for
    small-jump chains: θ' = θ + η G, V(u) = ∫ q*(u') du' with q* the nonzero root of
    ln E exp(q G) = 0; for the Gaussian chain q* = −2 E G / Var G). The cheaper side of the
    minimum sets each V; for B > 1 both scale by B (Λ_B(q) = B Λ₁(q/B)), so their ratio and the
    slope excess do not depend on B. Computed from the data set, no simulation."""
    x = problem.x[:, 0].double().cpu().numpy()
    r = problem.y.double().cpu().numpy() - x * float(problem.theta_star[0])
    h, loss_star = float(problem.hessian[0, 0]), problem.loss_star
    u = np.linspace(0, math.sqrt(2 * (c.max() - 1) * loss_star / h), n_grid + 1)
    edge = np.sqrt(2 * (c - 1) * loss_star / h)
    costs = {"sgd": np.inf, "gaussian_chain": np.inf}
    for side in (1.0, -1.0):
        q = {"sgd": [0.0], "gaussian_chain": [0.0]}
        for value in u[1:]:
            g = -x * x * value + side * x * r  # the one-sample drift of u = ±(θ − θ*)
            q["sgd"].append(_cgf_root(g))
            q["gaussian_chain"].append(-2 * g.mean() / g.var())
        for name, roots in q.items():
            cost = integrate.cumulative_trapezoid(roots, u, initial=0)
            costs[name] = np.minimum(costs[name], np.interp(edge, u, cost))
    return costs


def _measure_large_deviation_limit(problems: list, c: np.ndarray) -> xr.Dataset:
    """The η → 0 limit of SGD's first-passage slope excess over the Gaussian chain, per data set
    and for the cells' mean passage time over the data sets (dominated, as η → 0, by the
    costliest one: the maximum of the V's)."""
    costs = [large_deviation_exit_costs(q, c) for q in problems]
    log_c = np.log(c) - np.log(c).mean()

    def slope(v):
        return float(v @ log_c / (log_c @ log_c))

    per_set = [slope(v["sgd"]) / slope(v["gaussian_chain"]) - 1 for v in costs]
    pooled = {k: np.max([v[k] for v in costs], axis=0) for k in ("sgd", "gaussian_chain")}
    return xr.Dataset(
        {
            "ldp_excess": ("disc_dataset", per_set),
            "ldp_excess_pooled": slope(pooled["sgd"]) / slope(pooled["gaussian_chain"]) - 1,
        }
    )


def measure(step) -> None:
    p = step.params
    stationary = _measure_stationary(list(step.input.stationary))
    tails = _measure_tails(list(step.input.stationary), list(step.input.stationary_langevin))
    stationary = xr.merge([stationary, tails], combine_attrs="drop_conflicts")
    passage = _measure_first_passage(list(step.input.first_passage), p["lr"], p["batch"])
    ratio = _measure_ratio(list(step.input.ratio))
    noise = _measure_noise(step.input.noise, p["late_fraction"])
    discreteness = _measure_discreteness(list(step.input.discreteness))
    fixed_batch = _measure_fixed_batch(
        list(step.input.discreteness) + list(step.input.discreteness_fixed_batch),
        p["fixed_batch"],
        discreteness_datasets(p),
    )
    c = read_dataset(step.input.discreteness[0])["c"].values
    large_deviations = _measure_large_deviation_limit(discreteness_problems(p), c)
    cosine = _measure_cosine(list(step.input.cosine))
    ratio = ratio.rename(threshold="ratio_threshold")
    out = xr.merge(
        [stationary, passage, ratio, noise, discreteness, fixed_batch, large_deviations, cosine],
        combine_attrs="drop_conflicts",
    )
    out.attrs["late_from_epoch"] = noise.attrs["late_from_epoch"]
    out.attrs["noise_dataset"] = noise.attrs["noise_dataset"]
    step.write(out, step.output[0])


# ---------------------------------------------------------------- verdict
_CHAIN_BOOT = f"{CLAIM_LEVEL:.0%} percentile bootstrap over chains ({N_BOOT} resamples)"
REQUIRED = [
    "phi",
    "phi_tail",
    "escape_slope",
    "escape_slope_falls_with_d",
    "noise_proportional_to_loss",
    "discrete_excess_extrapolated",
    "em_excess_extrapolated",
    "em_exact_chain_calibration",
    "cosine_collapse",
    "cosine_separation",
    "collapse[sgd]",
    "separation[sgd]",
    "collapse[langevin]",
    "separation[langevin]",
]


def _interval(replicates) -> list[float]:
    """Percentile interval at ``CLAIM_LEVEL`` of bootstrap replicates (NaN if none is finite)."""
    replicates = np.asarray(replicates, dtype=float)
    if not np.isfinite(replicates).any():
        return [math.nan, math.nan]
    return [float(v) for v in np.nanquantile(replicates, [_LOW, _HIGH])]


def _phi_checks(m: xr.Dataset, max_lr: float, notes: list[str]) -> list[Check]:
    """The φ value of each cell with η ≤ max_lr, as implementation checks: at these φ (11–81)
    the maximum-likelihood φ is fixed by the chains' second moment E u², which SGD's noise
    covariance at the minimum sets — the constant-noise Langevin chains with the same variance
    land in the same band (audit 2026-12-01), so no control can fail it. The power law itself
    is tested by the φ tail checks."""
    checks = []
    for lr in m["lr"].values:
        for batch in m["batch"].values:
            cell = m.sel(lr=lr, batch=batch)
            phi, theory = float(cell["phi"]), float(cell["phi_theory"])
            if lr > max_lr:
                notes.append(
                    f"η = {lr:g}, B = {batch}: φ = {phi:.3g} vs theory {theory:.3g} "
                    f"({100 * (phi / theory - 1):+.0f}%; exact-noise SDE "
                    f"{float(cell['phi_exact_noise']):.3g}); not checked, the paper reports "
                    "deviations at large η."
                )
                continue
            details = {"exact_noise_sde_prediction": float(cell["phi_exact_noise"])}
            if np.isfinite(float(cell.get("phi_langevin", np.nan))):
                details["langevin_same_variance"] = float(cell["phi_langevin"])
            checks.append(
                Check(
                    id=f"phi[lr={lr:g},B={batch}]",
                    statement="stationary scale (d = 1): maximum-likelihood φ of P ∝ L^(−φ) "
                    "over all chains' samples, at these φ set by the chains' variance (a "
                    "Gaussian with SGD's variance scores the same: this checks our chains' "
                    "stationary variance, not the power-law tail)",
                    expected={"value": theory, "source": "theory φ = 1 + B/(η h*) (Fig. 3a)"},
                    measured=phi,
                    interval=[float(cell["phi_low"]), float(cell["phi_high"])],
                    interval_method=f"{_CHAIN_BOOT}, each chain's samples kept together",
                    threshold=THRESHOLDS["phi"](theory),
                    details=details,
                )
            )
    return checks


def _tail_checks(m: xr.Dataset, notes: list[str]) -> list[Check]:
    """One check per (η, B) cell where the power calculation says the test can decide; the rest
    are reported in the notes. None decidable: one inconclusive check saying so."""
    if "tail_omega" not in m:
        return []  # a required check: its absence fails the verdict step
    limit = PRECONDITIONS["tail_power_max_half_width"]
    checks, undecidable = [], []
    for lr in m["lr"].values:
        for batch in m["batch"].values:
            cell = m.sel(lr=lr, batch=batch)
            theory = float(cell["tail_omega_theory"])
            power = float(cell["tail_power_half_width"])
            if power > limit:
                undecidable.append(f"η = {lr:g}, B = {batch}: ±{100 * power:.0f}%")
                continue
            check = Check(
                id=f"phi_tail[lr={lr:g},B={batch}]",
                statement="stationary law (d = 1) has the power-law tail of L^(−φ): tail weight "
                "ω = 1/ν̂ of a maximum-likelihood Student-t fit to v = √(L/L* − 1) (ω = 0: the "
                "Gaussian with the same variance)",
                expected={"value": theory, "source": "theory ν = 2φ − 1, φ = 1 + B/(ηh*)"},
                measured=float(cell["tail_omega"]),
                interval=[float(cell["tail_omega_low"]), float(cell["tail_omega_high"])],
                interval_method=f"{_CHAIN_BOOT}, each chain's samples kept together",
                threshold=THRESHOLDS["phi_tail"](theory),
                precondition=Precondition(
                    f"power calculation (before the run): 95% half-width of ω̂ at the paper's ν "
                    f"with this cell's samples at most {limit:.0%} of the paper's ω",
                    power <= limit,
                    power,
                ),
                headline=False,
                details={
                    "power_half_width_relative": power,
                    "grid_max": float(cell["tail_omega_grid_max"]),
                    "nu_fitted": 1 / float(cell["tail_omega"])
                    if float(cell["tail_omega"]) > 0
                    else None,
                },
            )
            if "tail_omega_langevin" in cell and np.isfinite(float(cell["tail_omega_langevin"])):
                check.with_control(
                    "langevin",
                    "constant-noise Langevin chains on the same landscape (noise frozen at the "
                    "decoupled SGD noise of L*): a Gaussian stationary law, no tail",
                    float(cell["tail_omega_langevin"]),
                    [
                        float(cell["tail_omega_langevin_low"]),
                        float(cell["tail_omega_langevin_high"]),
                    ],
                )
            checks.append(check)
    if undecidable:
        notes.append(
            "φ tail test: the power calculation (Fisher information of the t fit at the paper's "
            "ν = 2φ − 1, this config's samples per cell) gives 95% half-widths above "
            f"{limit:.0%} of the paper's tail weight, so these cells cannot decide and are not "
            "tested: " + "; ".join(undecidable) + "."
        )
    if not checks:
        checks.append(
            Check(
                id="phi_tail[none decidable]",
                statement="the φ tail test: no (η, B) cell has the power to decide",
                expected={"value": 0.0, "source": "theory ν = 2φ − 1"},
                measured=None,
                interval=None,
                interval_method="none: no cell passes the power calculation",
                threshold=THRESHOLDS["phi_tail"](0.0),
                precondition=Precondition("a cell with the power to decide", False),
            )
        )
    return checks


def _passage_boot(n_datasets: int) -> str:
    if n_datasets == 1:
        return _CHAIN_BOOT + " of one data set"
    return (
        f"{CLAIM_LEVEL:.0%} percentile two-stage bootstrap ({N_BOOT} resamples): the cell's "
        f"{n_datasets} data sets, then each one's chains"
    )


def _slope_checks(m: xr.Dataset) -> list[Check]:
    checks = []
    limit = PRECONDITIONS["max_censored_fraction"]
    for dim in m["dim"].values:
        cell = m.sel(dim=dim)
        slope, theory = float(cell["fp_slope"]), float(cell["fp_slope_theory"])
        sde = float(cell["fp_slope_sde_decoupled"])
        c = cell["fp_c"].values
        c = c[np.isfinite(c)]
        censored = float(np.nanmax(cell["fp_censored"].values))
        checks.append(
            Check(
                id=f"escape_slope[d={dim}]",
                statement=f"log–log slope of the mean first-passage time t_p(c) from θ* to L = c L*, "
                f"c ∈ [{c.min():g}, {c.max():g}]",
                expected={"value": theory, "source": "theory B/(ηh*) + 1 − d/2 (Fig. 3b)"},
                measured=slope,
                interval=[float(cell["fp_slope_low"]), float(cell["fp_slope_high"])],
                interval_method=_passage_boot(int(cell["fp_n_datasets"]))
                + ", slope refitted on each resample",
                threshold=THRESHOLDS["escape_slope"](theory),
                precondition=Precondition(
                    f"at most {limit:.0%} of the chains censored (not passed by the horizon) at "
                    "every c, so the mean passage time is measured, not extrapolated",
                    censored <= limit,
                    censored,
                ),
                headline=True,
                details={
                    "sde_decoupled_slope_same_c": sde,
                    "excess_over_sde_decoupled_same_c": slope / sde - 1,
                    "sde_exact_noise_slope_same_c": float(cell["fp_slope_sde_exact"]),
                    "slope_lower_half_of_c": float(cell["fp_slope_lower_c"]),
                    "slope_upper_half_of_c": float(cell["fp_slope_upper_c"]),
                    "max_censored_fraction": censored,
                },
            )
        )
        if "fp_slope_sde_constant" in cell:
            control = float(cell["fp_slope_sde_constant"])
            checks[-1].with_control(
                "langevin_sde",
                "the SDE with constant noise frozen at L* (the paper's Langevin contrast, "
                "κ ∝ exp(−ΔL/D)), same d and c, mean first-passage times by quadrature through the "
                "same slope fit: its local slope ≈ (B/ηh*)·c is not the paper's exponent",
                control,
                [control, control],
            )
    return checks


def _falls_with_d_check(m: xr.Dataset) -> list[Check]:
    dims = np.sort(m["dim"].values)
    if len(dims) < 2:
        return []  # a required check: its absence fails the verdict step
    by_dim = m.sel(dim=dims)
    slopes = by_dim["fp_slope"].values
    # the cells' chains are independent, so replicate b of every cell is one joint replicate
    rises = np.diff(by_dim["fp_slope_boot"].transpose("dim", "fp_boot").values, axis=0)
    theory = by_dim["fp_slope_theory"].values
    limit = PRECONDITIONS["max_censored_fraction"]
    censored = float(np.nanmax(by_dim["fp_censored"].values))
    checks = [
        Check(
            id="escape_slope_falls_with_d",
            statement=f"measured slopes fall as d grows (d = {list(map(int, dims))}); measured = "
            "the largest rise of the slope between consecutive d",
            expected={
                "trend": "decreasing in d (theory " + ", ".join(f"{t:.3g}" for t in theory) + ")",
                "source": "theory 1 − n/2 term (Fig. 3b)",
            },
            measured=float(np.max(np.diff(slopes))),
            interval=_interval(np.max(rises, axis=0)),
            interval_method=_passage_boot(int(by_dim["fp_n_datasets"].max()))
            + ", every d cell resampled independently",
            threshold=THRESHOLDS["escape_slope_falls_with_d"],
            precondition=Precondition(
                f"every slope is a measured mean first-passage time: at most {limit:.0%} of the "
                "chains censored at every c of every d",
                bool(censored <= limit),
                censored,
            ),
            details={"slopes": {int(d): float(s) for d, s in zip(dims, slopes)}},
        )
    ]
    if "fp_slope_sde_constant" in by_dim:
        constant = by_dim["fp_slope_sde_constant"].values
        rise = float(np.max(np.diff(constant)))
        checks[0].with_control(
            "langevin_sde",
            "the SDE with constant noise frozen at L*, same d and c ranges, by quadrature: its "
            "slopes ≈ (B/ηh*)·c grow with the c range, which grows with d (slopes "
            + ", ".join(f"{v:.3g}" for v in constant)
            + ")",
            rise,
            [rise, rise],
        )
        checks[0].details["langevin_sde_slopes"] = [float(v) for v in constant]
    return checks


def _cosine_checks(m: xr.Dataset, tolerance: float) -> list[Check]:
    """Ratio, not difference, on the translated cosine landscape: SGD's curves collapse on ln c
    (spread ≤ tolerance) and separate on ΔL (spread ratio ≥ 3); Langevin, through the same code,
    is the control of both."""
    if "cos_spread_log_c_sgd" not in m:
        return []  # required checks: their absence fails the verdict step
    limit = PRECONDITIONS["max_censored_fraction"]
    min_shared = PRECONDITIONS["cosine_min_shared_fraction"]

    def cell_values(process):
        cell = m.sel(cos_process=process)
        sigmas = cell["cos_label_noise"].values
        log_c = [np.log(cell["cos_c"].sel(cos_label_noise=s).values) for s in sigmas]
        delta = [cell["cos_delta_loss"].sel(cos_label_noise=s).values for s in sigmas]
        shared = min(shared_range_fraction(log_c), shared_range_fraction(delta))
        censored = float(np.nanmax(cell["cos_censored"].values))
        pre = Precondition(
            f"at most {limit:.0%} of the chains censored at every threshold of every L* cell "
            f"(largest: {censored:.3g}), and the curves share at least {min_shared:.0%} of the "
            "narrowest curve's range on both axes, ln c and ΔL (measured: the smaller fraction)",
            bool(censored <= limit and shared >= min_shared),
            shared,
        )
        tight = float(m[f"cos_spread_log_c_{process}"])
        loose = float(m[f"cos_spread_delta_loss_{process}"])
        tight_boot = m[f"cos_spread_log_c_{process}_boot"].values
        loose_boot = m[f"cos_spread_delta_loss_{process}_boot"].values
        return {
            "pre": pre,
            "tight": tight,
            "tight_interval": _interval(tight_boot),
            "ratio": loose / tight if tight > 0 else float("nan"),
            "ratio_interval": _interval(loose_boot / tight_boot),
            "loose": loose,
            "sigmas": [float(v) for v in sigmas],
            "loss_star": [float(v) for v in cell["cos_loss_star"].values],
        }

    sgd = cell_values("sgd")
    theory_tight = float(m.get("cos_theory_spread_log_c", np.nan))
    theory_loose = float(m.get("cos_theory_spread_delta_loss", np.nan))
    landscape = (
        "f = x₁ cos θ + x₂ sin θ, labels x₁ + σ ε, L ≈ σ²/2 + (1 − cos θ): σ = "
        + ", ".join(f"{v:g}" for v in sgd["sigmas"])
        + " move L* ("
        + ", ".join(f"{v:.3g}" for v in sgd["loss_star"])
        + ") and leave the shape fixed (translated, not scaled)"
    )
    details = {
        "label_noise": sgd["sigmas"],
        "loss_star": sgd["loss_star"],
        "spread_at_fixed_delta_loss": sgd["loose"],
        "paper_sde_spread_at_fixed_log_c": theory_tight,
        "paper_sde_spread_at_fixed_delta_loss": theory_loose,
    }
    collapse = Check(
        id="cosine_collapse",
        statement=f"SGD on the cosine landscape ({landscape}): curves ln t_p(c) at the several L* "
        "collapse against ln c; measured = mean over the shared range of the std across L* of "
        "ln t_p at fixed ln c",
        expected={
            "value": theory_tight,
            "source": "theory: escape set by log L(θˢ)/L(θ*) (the paper's decoupled SDE on this "
            "landscape, quadrature)",
        },
        measured=sgd["tight"],
        interval=sgd["tight_interval"],
        interval_method=f"{_CHAIN_BOOT}, every L* cell resampled independently",
        threshold=THRESHOLDS["cosine_collapse"](tolerance),
        precondition=sgd["pre"],
        details=dict(details),
    )
    separation = Check(
        id="cosine_separation",
        statement=f"SGD on the cosine landscape ({landscape}): the same curves separate against "
        "ΔL = L − L*; measured = spread at fixed ΔL / spread at fixed ln c",
        expected={
            "value": theory_loose / theory_tight if theory_tight > 0 else float("nan"),
            "source": "theory: escape set by the loss ratio, not ΔL (the paper's decoupled SDE "
            "on this landscape, quadrature)",
        },
        measured=sgd["ratio"],
        interval=sgd["ratio_interval"],
        interval_method=f"{_CHAIN_BOOT}, every L* cell resampled independently",
        threshold=THRESHOLDS["cosine_separation"],
        precondition=sgd["pre"],
        headline=COSINE_HEADLINE,
        details=dict(details),
    )
    if "langevin" in m["cos_process"].values:
        lang = cell_values("langevin")
        description = (
            "constant-noise Langevin on the same landscape (noise frozen at a reference loss, "
            "the same for every σ): translation-invariant, it collapses on ΔL, not on ln c"
        )
        collapse.with_control(
            "langevin", description, lang["tight"], lang["tight_interval"], lang["pre"]
        )
        separation.with_control(
            "langevin", description, lang["ratio"], lang["ratio_interval"], lang["pre"]
        )
    return [collapse, separation]


def _noise_check(m: xr.Dataset) -> Check:
    est = bootstrap(m["noise_slope"].values, level=CLAIM_LEVEL, seed=0)
    loss = m["noise_loss"].transpose("noise_seed", "epoch").values
    fit = float(np.max(loss[:, -1] / loss[:, 0]))
    limit = PRECONDITIONS["noise_final_over_initial_loss"]
    return Check.from_estimate(
        est,
        id="noise_proportional_to_loss",
        statement=f"{m.attrs['noise_dataset']} MLP, MSE, SGD: slope of ln 𝒩 against ln L over "
        f"epochs ≥ {m.attrs['late_from_epoch']} (median over seeds)",
        expected={"value": 1.0, "source": "Fig. 2 (slope 1 late in training)"},
        threshold=THRESHOLDS["noise_proportional_to_loss"],
        precondition=Precondition(
            f"the net fits its training data: final training loss ≤ {limit:g} × the initial one "
            "in every seed (measured: the largest ratio), so the window is late training",
            fit <= limit,
            fit,
        ),
        details={"slope_per_seed": [float(v) for v in m["noise_slope"].values]},
    )


def _ratio_checks(m: xr.Dataset, tolerance: float) -> list[Check]:
    """Implementation checks: on today's landscape both hold by construction (scaling the labels
    scales the whole landscape, so SGD collapses on c exactly; constant-noise Langevin on a
    quadratic is translation-invariant, so it collapses on ΔL exactly)."""
    checks = []
    for process, tight_axis, loose_axis in [
        ("sgd", "log_c", "delta_loss"),
        ("langevin", "delta_loss", "log_c"),
    ]:
        if f"spread_{tight_axis}_{process}" not in m:
            continue  # a required check: its absence fails the verdict step
        tight = float(m[f"spread_{tight_axis}_{process}"])
        loose = float(m[f"spread_{loose_axis}_{process}"])
        tight_boot = m[f"spread_{tight_axis}_{process}_boot"].values
        loose_boot = m[f"spread_{loose_axis}_{process}_boot"].values
        construction = (
            "label scaling scales the whole landscape"
            if process == "sgd"
            else "constant noise on a quadratic is translation-invariant"
        )
        checks.append(
            Check(
                id=f"collapse[{process}]",
                statement=f"{process}: curves ln t_p at several label-noise scales (different L*) "
                f"collapse against {tight_axis}; measured = mean over the shared range of the std "
                f"across L* of ln t_p at fixed {tight_axis} (true by construction here: "
                f"{construction})",
                expected={"value": 0.0, "source": "construction of the experiment"},
                measured=tight,
                interval=_interval(tight_boot),
                interval_method=_CHAIN_BOOT,
                threshold=THRESHOLDS["collapse"](tolerance),
            )
        )
        checks.append(
            Check(
                id=f"separation[{process}]",
                statement=f"{process}: the same curves separate against {loose_axis}; measured = "
                f"spread at fixed {loose_axis} / spread at fixed {tight_axis}",
                expected={"trend": "≫ 1", "source": "construction of the experiment"},
                measured=loose / tight if tight > 0 else float("nan"),
                interval=_interval(loose_boot / tight_boot),
                interval_method=_CHAIN_BOOT,
                threshold=THRESHOLDS["separation"],
                details={f"spread_at_fixed_{loose_axis}": loose},
            )
        )
    return checks


_DISC_PROCESSES = {
    "sgd": "minibatch SGD (the paper's process)",
    "em": "Euler–Maruyama SDE with the paper's decoupled noise Σ = 2LH/B",
    "em_exact": "Euler–Maruyama SDE with the exact Gaussian-input noise, whose continuum limit "
    "is not the paper's law",
}


def _extrapolation_precondition(eta_h: np.ndarray, censored: float) -> Precondition:
    span = float(np.nanmax(eta_h) / np.nanmin(eta_h))
    limit, min_span = PRECONDITIONS["max_censored_fraction"], PRECONDITIONS["discrete_min_lr_span"]
    held = censored <= limit and span >= min_span and len(eta_h) >= 3
    return Precondition(
        f"at least 3 cells spanning ≥ {min_span:g}× in ηh* (measured: the span), and at most "
        f"{limit:.0%} of the chains censored at every c of every cell (largest: {censored:.3g})",
        bool(held),
        span,
    )


def _excess_estimate(m: xr.Dataset, process: str, prefix: str):
    """e₀ of ``process`` in the series ``prefix`` ("disc": fixed B/(ηh*); "fb": fixed B), its
    interval and the precondition of the extrapolation."""
    cell = m.sel({f"{prefix}_process": process})
    eta_h = cell[f"{prefix}_eta_h"].values
    pre = _extrapolation_precondition(eta_h, float(np.nanmax(cell[f"{prefix}_censored"].values)))
    interval = _interval(cell[f"{prefix}_intercept_boot"].values)
    return float(cell[f"{prefix}_intercept"]), interval, pre


def _at_paper_setting(m: xr.Dataset) -> dict:
    """The excess of SGD at the paper's own setting (B = fixed_batch, the smallest η of the
    fixed-B series: η = 0.1 by default) over both SDE predictions, with intervals."""
    cell = m.sel(fb_process="sgd").isel(fb_lr=int(np.argmin(m["fb_lr"].values)))
    out = {
        "lr": float(cell["fb_lr"]),
        "batch": int(m.attrs.get("fixed_batch", 1)),
        "over_decoupled_sde": float(cell["fb_excess_decoupled"]),
        "over_decoupled_sde_interval": _interval(cell["fb_excess_decoupled_boot"].values),
        "over_exact_covariance_sde": float(cell["fb_excess_exact_sde"]),
        "over_exact_covariance_sde_interval": _interval(cell["fb_excess_exact_sde_boot"].values),
        "over_gaussian_chain_quadrature": float(cell["fb_excess"]),
        "over_gaussian_chain_quadrature_interval": _interval(cell["fb_excess_boot"].values),
    }
    if "fb_shape_excess" in m:
        out["over_gaussian_em_same_covariance_and_step"] = float(
            m["fb_shape_excess"].sel(fb_lr=cell["fb_lr"])
        )
        out["over_gaussian_em_same_covariance_and_step_interval"] = _interval(
            m["fb_shape_excess_boot"].sel(fb_lr=cell["fb_lr"]).values
        )
    return out


def _discreteness_checks(m: xr.Dataset) -> tuple[list[Check], list[Check]]:
    """The claim check (SGD at fixed B, η varied: its excess over the SDE with its own noise
    covariance extrapolated to ηh* → 0; the decoupled-noise Euler–Maruyama as the control) and
    the implementation check (that Euler–Maruyama against its own SDE at fixed B/(ηh*), which
    converges to it as η → 0 by construction)."""
    claim, implementation = [], []
    if "fb_intercept" in m and "sgd" in m["fb_process"].values:
        value, interval, pre = _excess_estimate(m, "sgd", "fb")
        cell = m.sel(fb_process="sgd")
        batch = int(m.attrs.get("fixed_batch", 1))
        sgd = Check(
            id="discrete_excess_extrapolated",
            statement=f"minibatch SGD, d = 1, B = {batch} and c ∈ [{np.nanmin(cell['fb_c']):g}, "
            f"{np.nanmax(cell['fb_c']):g}] fixed, η = "
            + ", ".join(f"{v:g}" for v in cell["fb_lr"].values)
            + ": excess of the log–log first-passage slope over the discrete Gaussian chain "
            "with SGD's own (exact Gaussian-input) noise covariance at the same η, B, c and data "
            "sets (Nyström quadrature, passage tested at the steps), extrapolated to ηh* → 0 by "
            f"{EXCESS_MODEL} (zero: SGD's escape tends to its continuous-time SDE's)",
            expected={
                "value": 0.0,
                "source": "continuum limit of SGD at fixed B (the SDE of the paper's theory, "
                "t = ηk, with SGD's noise covariance; the Gaussian chain's limit)",
            },
            measured=value,
            interval=interval,
            interval_method=f"{CLAIM_LEVEL:.0%} percentile two-stage bootstrap ({N_BOOT} "
            "resamples) over data sets (shared by the cells) and chains, the fit redone on every "
            "joint replicate",
            threshold=THRESHOLDS["discrete_excess_extrapolated"],
            precondition=pre,
            headline=EXCESS_HEADLINE,
            details={
                "eta_h": [float(v) for v in cell["fb_eta_h"].values],
                "lr": [float(v) for v in cell["fb_lr"].values],
                "excess_over_gaussian_chain": [float(v) for v in cell["fb_excess"].values],
                "excess_over_exact_covariance_sde": [
                    float(v) for v in cell["fb_excess_exact_sde"].values
                ],
                "excess_over_decoupled_sde": [float(v) for v in cell["fb_excess_decoupled"].values],
                "slope": [float(v) for v in cell["fb_slope"].values],
                "gaussian_chain_slope_same_c": [float(v) for v in cell["fb_slope_chain"].values],
                "sde_exact_covariance_slope_same_c": [
                    float(v) for v in cell["fb_slope_sde_exact"].values
                ],
                "sde_decoupled_slope_same_c": [
                    float(v) for v in cell["fb_slope_sde_decoupled"].values
                ],
                "gradient_per_unit_eta_h": float(cell["fb_gradient"]),
                "measured_excess_at_paper_setting": _at_paper_setting(m),
            },
        )
        if "ldp_excess_pooled" in m:
            sgd.details["large_deviation_limit"] = float(m["ldp_excess_pooled"])
            sgd.details["large_deviation_limit_per_dataset"] = [
                float(v) for v in m["ldp_excess"].values
            ]
        if "em_exact" in m["fb_process"].values:
            # the calibration: the simulated Gaussian chain with SGD's covariance against its own
            # quadrature, through the same code (zero at every η if our simulation is right)
            r_value, r_interval, r_pre = _excess_estimate(m, "em_exact", "fb")
            sgd.details["calibration_em_exact_e0"] = r_value
            sgd.details["calibration_em_exact_e0_interval"] = r_interval
            em_exact = m.sel(fb_process="em_exact")
            implementation.append(
                Check(
                    id="em_exact_chain_calibration",
                    statement=f"{_DISC_PROCESSES['em_exact']}, simulated at B = {batch}, η = "
                    + ", ".join(f"{v:g}" for v in em_exact["fb_lr"].values)
                    + ": excess of its log–log first-passage slope over the quadrature of the same "
                    f"chain, extrapolated by {EXCESS_MODEL} (our simulation against our "
                    "quadrature: the excess check's calibration)",
                    expected={"value": 0.0, "source": "construction (the same chain)"},
                    measured=r_value,
                    interval=r_interval,
                    interval_method=f"{CLAIM_LEVEL:.0%} percentile two-stage bootstrap "
                    f"({N_BOOT} resamples) over data sets and chains",
                    threshold=THRESHOLDS["discrete_excess_extrapolated"],
                    precondition=r_pre,
                    details={
                        "excess_per_cell": [float(v) for v in em_exact["fb_excess"].values],
                        "excess_over_continuous_exact_sde_per_cell": [
                            float(v) for v in em_exact["fb_excess_exact_sde"].values
                        ],
                    },
                )
            )
        if "em" in m["fb_process"].values:
            c_value, c_interval, c_pre = _excess_estimate(m, "em", "fb")
            sgd.with_control(
                "em",
                "Gaussian Euler–Maruyama with the paper's decoupled covariance 2L/B instead of "
                "SGD's own: its ηh* → 0 limit is the decoupled SDE, whose slope over this c range "
                "exceeds the exact-covariance one (by the chain quadrature +23%, +16%, +12% at "
                "η = 0.1, 0.2, 0.4; linear extrapolation ≈ +25%, limit ≈ +29%), so its "
                "extrapolated excess is not zero",
                c_value,
                c_interval,
                c_pre,
            )
        claim.append(sgd)
    if "disc_intercept" in m and "em" in m["disc_process"].values:
        value, interval, pre = _excess_estimate(m, "em", "disc")
        cell = m.sel(disc_process="em")
        implementation.append(
            Check(
                id="em_excess_extrapolated",
                statement=f"{_DISC_PROCESSES['em']}, d = 1, B/(ηh*) = "
                f"{float(cell['disc_batch'][0] / cell['disc_lr'][0]):g} fixed: excess of the "
                "log–log first-passage slope over its own SDE at the same c, extrapolated to "
                f"ηh* → 0 by {EXCESS_MODEL} (Euler–Maruyama converges to its SDE: our scheme)",
                expected={"value": 0.0, "source": "construction (Euler–Maruyama's convergence)"},
                measured=value,
                interval=interval,
                interval_method=f"{CLAIM_LEVEL:.0%} percentile two-stage bootstrap ({N_BOOT} "
                "resamples) over data sets (shared by the cells) and chains, the fit redone on "
                "every joint replicate",
                threshold=THRESHOLDS["discrete_excess_extrapolated"],
                precondition=pre,
                details={
                    "eta_h": [float(v) for v in cell["disc_eta_h"].values],
                    "batch": [int(v) for v in cell["disc_batch"].values],
                    "excess": [float(v) for v in cell["disc_excess"].values],
                    "gradient_per_unit_eta_h": float(cell["disc_gradient"]),
                },
            )
        )
    return claim, implementation


def _pct(value, interval) -> str:
    lo, hi = interval
    return f"{100 * value:+.1f}% [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def _excess_notes(m: xr.Dataset) -> list[str]:
    notes = []
    if "fb_excess" in m:
        parts = []
        for process in m["fb_process"].values:
            cell = m.sel(fb_process=process)
            per = ", ".join(
                f"η = {float(lr):g}: {_pct(float(x), _interval(b))}"
                for lr, x, b in zip(
                    cell["fb_lr"].values,
                    cell["fb_excess"].values,
                    cell["fb_excess_boot"].transpose("fb_lr", ...).values,
                )
            )
            e0 = _pct(float(cell["fb_intercept"]), _interval(cell["fb_intercept_boot"].values))
            parts.append(f"{process}: {per}; extrapolated e₀ = {e0}")
        paper = _at_paper_setting(m)
        finding = (
            f"Discrete-time excess, measured finding at the paper's setting (B = {paper['batch']}, "
            f"η = {paper['lr']:g}, d = 1): SGD's first-passage slope exceeds the decoupled-noise "
            "SDE (the paper's theory) at the same c by "
            f"{_pct(paper['over_decoupled_sde'], paper['over_decoupled_sde_interval'])} and the "
            "SDE with SGD's own (exact) covariance by "
            f"{_pct(paper['over_exact_covariance_sde'], paper['over_exact_covariance_sde_interval'])}"
            "; the discrete Gaussian chain with SGD's covariance and step (quadrature) by "
            + _pct(
                paper["over_gaussian_chain_quadrature"],
                paper["over_gaussian_chain_quadrature_interval"],
            )
        )
        if "over_gaussian_em_same_covariance_and_step" in paper:
            finding += (
                "; the Gaussian Euler–Maruyama with the same covariance and step by "
                + _pct(
                    paper["over_gaussian_em_same_covariance_and_step"],
                    paper["over_gaussian_em_same_covariance_and_step_interval"],
                )
                + " (the minibatch noise's shape at this step)"
            )
        notes.append(finding + f" ({CLAIM_LEVEL:.0%} two-stage bootstrap intervals).")
        notes.append(
            f"Fixed B = {paper['batch']}, η varied (the claim check): excess over the "
            "discrete Gaussian chain with SGD's exact covariance at the same η, B, c (Nyström "
            "quadrature on the cells' data sets), per cell: "
            + "; ".join(parts)
            + f". Model: {EXCESS_MODEL}. The control em's limit is the decoupled SDE (e₀ ≠ 0 by "
            "quadrature); em_exact is the reference chain itself, simulated: its e₀ is the "
            "calibration. Why the reference is the discrete chain and not the continuous SDE: "
            "the chain's own excess over the SDE is not linear in ηh* (quadrature, exact "
            "covariance: "
            + ", ".join(
                f"η = {float(lr):g}: {100 * (float(ch) / float(ex) - 1):+.1f}%"
                for lr, ch, ex in zip(
                    m["fb_lr"].values,
                    m["fb_slope_chain"].isel(fb_process=0).values,
                    m["fb_slope_sde_exact"].isel(fb_process=0).values,
                )
            )
            + "; +4.0% at η = 0.05 and +2.3% at 0.025), so the line through η = 0.1..0.4 "
            "extrapolated a zero-excess process to ≈ +10%: a misspecified fit model, not the "
            "monitoring at step times (a few per cent)."
        )
        if "fb_shape_excess" in m:
            notes.append(
                "Noise shape at each step (SGD against the Gaussian Euler–Maruyama with the same "
                "exact covariance, same η and data sets): "
                + ", ".join(
                    f"η = {float(lr):g}: {_pct(float(x), _interval(b))}"
                    for lr, x, b in zip(
                        m["fb_lr"].values,
                        m["fb_shape_excess"].values,
                        m["fb_shape_excess_boot"].values,
                    )
                )
                + "."
            )
    if "disc_excess" in m:
        parts = []
        for process in m["disc_process"].values:
            cell = m.sel(disc_process=process)
            per = ", ".join(
                f"B = {int(b)} (ηh* = {float(e):.3g}): {_pct(float(x), _interval(bt))}"
                for b, e, x, bt in zip(
                    cell["disc_batch"].values,
                    cell["disc_eta_h"].values,
                    cell["disc_excess"].values,
                    cell["disc_excess_boot"].transpose("disc_batch", ...).values,
                )
            )
            parts.append(f"{process}: {per}")
        notes.append(
            "Fixed B/(ηh*) = 10, B = 1, 2, 4 (a measured finding, no longer a claim check: raising "
            "B there changes the minibatch noise's shape with the step, and its ηh* → 0 limit is "
            "B → 0): excess over the decoupled-noise SDE at the same c, per cell: "
            + "; ".join(parts)
            + ". SGD's excess follows B while the Gaussian Euler–Maruyama's stays small."
        )
    return notes


def verdict(step) -> None:
    p = step.params
    m = read_dataset(step.input.measured)
    notes = [
        f"Thresholds are ours ({_SPEC}), fixed before the runs; intervals are {CLAIM_LEVEL:.0%} "
        "percentile bootstraps (over chains for the simulations, over seeds for the MLP).",
        "Fig. 2 substitute: a small MLP on an offline data set (see the check) with the paper's "
        "B = 100, η = 0.1 and MSE, instead of the paper's Fashion-MNIST MLP and CIFAR-10 CNN.",
    ]
    phi_value_checks = _phi_checks(m, p["phi_check_max_lr"], notes)
    checks = _tail_checks(m, notes)
    checks += _slope_checks(m) + _falls_with_d_check(m) + [_noise_check(m)]
    excess_checks, excess_implementation = _discreteness_checks(m)
    checks += excess_checks
    checks += _cosine_checks(m, p["collapse_tolerance"])
    notes += _excess_notes(m)
    notes.append(
        "φ: the audit (2026-12-01) found that a Gaussian law with SGD's variance and no power-law "
        "tail also lands within 10% of 1 + B/(ηh*): the φ check measures E u², not the tail. The "
        "φ_tail checks test the tail itself, with the Langevin chains as control. The φ value "
        "checks are therefore implementation checks (our chains' stationary variance against "
        "the theory's), no longer claim checks: in the default run of issue 15 the Langevin "
        "control landed in the band in every cell (uninformative)."
    )
    if "ldp_excess_pooled" in m:
        per_set = m["ldp_excess"].values
        notes.append(
            "Why SGD's excess over the Gaussian chain does not vanish as ηh* → 0: SGD makes ≈ 1/η "
            "steps of size η per unit time, so η ln t_p tends to a large-deviation exit cost V "
            "whose rate uses the whole law of the one-sample gradient, not only its covariance "
            "(Freidlin–Wentzell for small-jump chains). Computed from the cells' data sets (no "
            "simulation; analysis.large_deviation_exit_costs): the η → 0 slope excess is "
            f"{100 * float(m['ldp_excess_pooled']):+.0f}% for the cells' mean over the data sets "
            f"(per data set {100 * per_set.min():+.0f}% to {100 * per_set.max():+.0f}%); for "
            "Gaussian inputs V_SGD = B(c − 1), the Arrhenius cost of the noise frozen at L*, "
            "against ½B ln(2c − 1) for the Gaussian chain, whatever B. So the check's prediction "
            "(zero, the issue's) is false in theory, and the cells approach the limit from below "
            "(an independent exact solution of the N-atom SGD kernel, review of 2026-12-02: "
            "+44% at η = 0.1, +78% at 0.05, +87% at 0.025). The linear model in ηh* is "
            "misspecified for a rare-event exponent (ln t_p ≈ V/η + O(1)): fitted through η = "
            "0.1–0.4, its intercept and interval understate the limit (class C, known; the outcome, "
            "contradicts, holds either way)."
        )
    notes.append(
        "First-passage slopes against the SDE with the paper's decoupled noise over the same c "
        "(quadrature): "
        + "; ".join(
            f"d = {d}: {slope:.3g} vs {sde:.3g} ({100 * (slope / sde - 1):+.0f}%)"
            for d, slope, sde in zip(
                m["dim"].values, m["fp_slope"].values, m["fp_slope_sde_decoupled"].values
            )
        )
        + ". The paper's asymptotic formula is a continuous-time, large-c statement; agreement "
        "with it where the slopes also exceed the same-c SDE prediction is two deviations "
        "cancelling (a discrete-time excess at ηh* = 0.1, audit 2026-12-01), not a confirmation."
    )
    lower, upper = m["fp_slope_lower_c"].values, m["fp_slope_upper_c"].values
    notes.append(
        "First passage: log–log slope over the lower / upper half of each c range: "
        + "; ".join(
            f"d = {d}: {lo:.3g} / {up:.3g}" for d, lo, up in zip(m["dim"].values, lower, upper)
        )
        + ". Equal halves would mean a pure power law in c."
    )
    notes.append(
        "Ratio, not difference: the label-noise scales share one data set (inputs and y₀, labels "
        "σ y₀), so the landscapes differ only by scale; SGD then collapses on c and constant-noise "
        "Langevin on ΔL by construction. These are implementation checks (our simulation), not "
        "evidence for the paper; the claim checks cosine_collapse and cosine_separation test it "
        "on a landscape that is translated, not scaled, as L* moves."
    )
    notes.append(
        "𝒩 ∝ L has no control: a net whose noise is not ∝ L late in training (one that cannot "
        "fit its labels, L → L* > 0) fails the check's own precondition (the net fits its data) "
        "instead of coming out 'contradicts', and noise injected into the update does not enter "
        "𝒩, which is computed from the per-sample gradients."
    )
    write_verdict(
        step,
        claim="escape",
        paper=PAPER,
        checks=checks,
        implementation_checks=phi_value_checks
        + _ratio_checks(m, p["collapse_tolerance"])
        + excess_implementation,
        required=REQUIRED,
        config=p.get("config", p),
        notes=notes,
    )
