"""Claim `saddles`: SGD near Type-II saddles is a product of random multipliers; its phases are set
by the sign of Lyapunov exponents (probabilistic stability), not by moment (L2) stability.

Ziyin, Li, Galanti, Ueda, "Type-II Saddles and Probabilistic Stability of Stochastic Gradient
Descent" (arXiv 2303.13093). No public code; the toy model of the phase diagram is our
reconstruction from the paper's abstract and reviews (shared/claims/saddles.md):

(A) Theorem 1: z_{t+1} = (1 − λ h_t) z_t with h_t ~ N(μ, s²) i.i.d.; z → 0 in probability iff
    Λ = E log|1 − λh| < 0, while E z_t² → 0 iff E(1 − λh)² < 1.
(B) f(x) = u·w·x, ℓ = (f − y)²/2, x ~ N(0, 1), y = a·x + σ·ε. The origin is a Type-II saddle: every
    per-sample gradient vanishes there. Along z± = (u ± w)/√2 the linearized multipliers are
    1 ± λm, m = (1/B) Σ x_i y_i, so the saddle attracts SGD iff Λ+ < 0 and Λ− < 0.

Every Lyapunov exponent here has the form E log|1 + αS + β√(S/B)·Z| with B·S ~ χ²_B and Z ~ N(0, 1)
independent (S = mean of x², and Σ x_i ε_i given x is N(0, Σ x_i²)). We compute it exactly in Z
(the log-moment of a Gaussian, a Poisson mixture of digammas) and by Gauss–Laguerre quadrature in S.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import xarray as xr
from scipy import integrate, interpolate, special, stats

from paperclaims.cells import case_name, parse_case  # noqa: F401 (re-exported)
from paperclaims.checkpoint import Checkpoint
from paperclaims.fits import line_fit
from paperclaims.io import read_dataset
from paperclaims.progress import Progress
from paperclaims.seeds import generator
from paperclaims.verdict import Check, write_verdict

PAPER = "Ziyin, Li, Galanti, Ueda: Type-II Saddles and Probabilistic Stability of SGD (arXiv 2303.13093)"
RECONSTRUCTION = (
    "The phase-diagram model f = u·w·x with y = a·x + σ·ε (x, ε ~ N(0, 1)) is our reconstruction from "
    "the paper's abstract and reviews; the paper's own toy model and figure were not available."
)
PHASES = ["collapse", "correct", "incorrect", "divergent", "other"]
# Verdict definitions, fixed before any run (shared/claims/saddles.md; thresholds are ours).
SIGN_MARGIN = 10.0  # theorem check: sign agreement required where |Λ|·T > 10
RATE_TOLERANCE = 0.05  # fitted growth rate within 5% of Λ ...
RATE_RESOLUTION = 4.0  # ... on cells where 5%·|Λ| exceeds 4 standard errors of the rate estimate
BOUNDARY_MARGIN = 0.05  # phase diagram: "away from the boundary" means |Λ_top| ≥ 0.05 per step
AGREEMENT_TOLERANCE = 0.9
ASYMPTOTIC_FROM = 30.0  # |μ| beyond which E log|μ + Z| uses its asymptotic series


# ---------------------------------------------------------------- Lyapunov exponents (theory)
def log_abs_gaussian_series(mu: np.ndarray, terms: int = 2000) -> np.ndarray:
    """E log|μ + Z|, Z ~ N(0, 1), exactly: (μ + Z)² is noncentral χ²₁(μ²), a Poisson(μ²/2) mixture
    of χ²_{1+2j}, and E log χ²_k = log 2 + ψ(k/2)."""
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    j = np.arange(terms)
    weights = stats.poisson.pmf(j[None, :], (mu**2 / 2)[:, None])
    return 0.5 * (math.log(2) + weights @ special.digamma(0.5 + j))


@lru_cache(maxsize=1)
def _log_abs_gaussian_spline():
    grid = np.linspace(0.0, ASYMPTOTIC_FROM, 3001)
    return interpolate.CubicSpline(grid, log_abs_gaussian_series(grid))


def log_abs_gaussian(mu: np.ndarray) -> np.ndarray:
    """E log|μ + Z| for any array μ: spline of the exact series, asymptotic series for |μ| > 30."""
    mu = np.abs(np.asarray(mu, dtype=float))
    far = mu > ASYMPTOTIC_FROM
    safe = np.where(far, mu, 1.0)
    asymptotic = np.log(safe) - 1 / (2 * safe**2) - 3 / (4 * safe**4) - 5 / (2 * safe**6)
    return np.where(far, asymptotic, _log_abs_gaussian_spline()(np.minimum(mu, ASYMPTOTIC_FROM)))


def log_abs_affine_gaussian(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """E log|c + d·Z|, Z ~ N(0, 1), elementwise (d = 0 gives log|c|)."""
    c, d = np.broadcast_arrays(np.asarray(c, dtype=float), np.abs(np.asarray(d, dtype=float)))
    noisy = d > 0
    safe_d = np.where(noisy, d, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(noisy, np.log(safe_d) + log_abs_gaussian(c / safe_d), np.log(np.abs(c)))


def lyapunov_gaussian(lr, mean, sd) -> np.ndarray:
    """Theorem check (A): Λ = E log|1 − λh|, h ~ N(mean, sd²)."""
    lr = np.asarray(lr, dtype=float)
    return log_abs_affine_gaussian(1 - lr * mean, lr * sd)


def _gaussian_log_quadrature(c: float, d: float, power: int = 1) -> float:
    """E[log^power |c + d·Z|], Z ~ N(0, 1), by adaptive quadrature split at the singular point."""
    if d == 0:
        return math.log(abs(c)) ** power
    root = -c / d
    f = lambda z: math.log(abs(c + d * z)) ** power * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    edges = [-40.0, *([root] if abs(root) < 40 else []), 40.0]
    return sum(
        integrate.quad(f, lo, hi, limit=400, epsabs=1e-13, epsrel=1e-12)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )


def lyapunov_gaussian_quadrature(lr: float, mean: float, sd: float) -> float:
    """The same exponent by adaptive quadrature (independent of the series)."""
    return _gaussian_log_quadrature(1 - lr * mean, lr * sd)


def second_moment_gaussian(lr, mean, sd) -> np.ndarray:
    """E(1 − λh)²: below 1 is the L2 (mean-square) stability of Theorem check (A)."""
    lr = np.asarray(lr, dtype=float)
    return (1 - lr * mean) ** 2 + (lr * sd) ** 2


def _double_exponential_nodes(step: float = 1 / 8, span: float = 3.5):
    """Nodes τ and the maps of tanh-sinh / exp-sinh quadrature (robust to endpoint log singularities)."""
    tau = np.arange(-span, span + step / 2, step)
    u = np.pi / 2 * np.sinh(tau)
    du = np.pi / 2 * np.cosh(tau) * step
    return tau, u, du


def lyapunov_chi2_gaussian(alpha, beta, batch: int) -> np.ndarray:
    """E log|1 + α·S + β·√(S/B)·Z| with B·S ~ χ²_B, Z ~ N(0, 1): exact in Z, double-exponential
    quadrature in S.

    The S-integrand is (nearly, for small β) log-singular where 1 + α·S = 0; for α < 0 we split there
    (S* = −1/α): tanh-sinh on [0, S*], exp-sinh on [S*, ∞), with nodes placed by their offsets from
    the split so 1 + α·S is computed without cancellation. For α ≥ 0 one exp-sinh panel covers [0, ∞).
    """
    alpha, beta = np.broadcast_arrays(np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float))
    alpha, beta = alpha[..., None], beta[..., None]
    # The density narrows as √(2/B): shrink the step with it (1/8 suffices up to B = 16).
    _, u, du = _double_exponential_nodes(step=min(1 / 8, 1 / (2 * math.sqrt(batch))))
    k = batch / 2
    split = np.where(alpha < 0, -1 / np.where(alpha < 0, alpha, -1.0), 0.0)  # S*; 0 = no split

    def log_density(s):
        return (k - 1) * np.log(s) - s * k + k * math.log(k) - special.gammaln(k)

    def integrand(s, offset):
        c = np.where(alpha < 0, alpha * offset, 1 + alpha * s)  # 1 + αS = α(S − S*)
        return log_abs_affine_gaussian(c, beta * np.sqrt(s / batch))

    # Right panel [split, ∞), exp-sinh: offset = e^u.
    offset = np.exp(u)
    s = split + offset
    total = (integrand(s, offset) * np.exp(log_density(s)) * offset * du).sum(axis=-1)
    # Left panel [0, S*] (α < 0 only), tanh-sinh; distances to both ends without rounding.
    width = np.where(alpha < 0, split, 1.0)
    from_left = width / (1 + np.exp(-2 * u))
    from_right = width / (1 + np.exp(2 * u))
    s = np.where(u < 0, from_left, width - from_right)
    offset = np.where(u < 0, from_left - width, -from_right)
    jacobian = width / 2 * du / np.cosh(u) ** 2
    left = (integrand(s, offset) * np.exp(log_density(s)) * jacobian).sum(axis=-1)
    return total + np.where(alpha[..., 0] < 0, left, 0.0)


def second_moment_chi2_gaussian(alpha, beta, batch: int) -> np.ndarray:
    """E(1 + α·S + β·√(S/B)·Z)² with E S = 1, E S² = 1 + 2/B."""
    alpha, beta = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    return 1 + 2 * alpha + alpha**2 * (1 + 2 / batch) + beta**2 / batch


def saddle_multipliers(lr, noise, batch: int, slope: float) -> dict[str, tuple]:
    """(α, β) of the linearized multipliers of model (B), as 1 + α·S + β·√(S/B)·Z.

    saddle_plus:  z+ = (u + w)/√2 at the origin, multiplier 1 + λm (escape direction, E h = −a < 0)
    saddle_minus: z− = (u − w)/√2 at the origin, multiplier 1 − λm (curved direction, E h = +a)
    minimum:      (1, 1) direction at the balanced minimum u = w = √a, multiplier 1 − λ(2a·S − σ x·ε)
    with m = a·S + σ·√(S/B)·Z.
    """
    lr, noise = np.broadcast_arrays(np.asarray(lr, dtype=float), np.asarray(noise, dtype=float))
    return {
        "saddle_plus": (lr * slope, lr * noise),
        "saddle_minus": (-lr * slope, lr * noise),
        "minimum": (-2 * lr * slope, lr * noise),
    }


def slope_moments(slope: float, noise, batch: int) -> tuple[float, np.ndarray]:
    """E m and E m² of the minibatch slope m = (1/B) Σ x_i y_i."""
    noise = np.asarray(noise, dtype=float)
    return slope, slope**2 + (2 * slope**2 + noise**2) / batch


def theory_grid(lr: np.ndarray, noise: np.ndarray, batches: list[int], slope: float) -> xr.Dataset:
    """Lyapunov exponents and second moments of the three directions on a (batch, lr, noise) grid."""
    out = {}
    lr_grid, noise_grid = np.meshgrid(lr, noise, indexing="ij")
    for name in ["saddle_plus", "saddle_minus", "minimum"]:
        lyap, moment = [], []
        for batch in batches:
            alpha, beta = saddle_multipliers(lr_grid, noise_grid, batch, slope)[name]
            lyap.append(lyapunov_chi2_gaussian(alpha, beta, batch))
            moment.append(second_moment_chi2_gaussian(alpha, beta, batch))
        out[f"lyapunov_{name}"] = (
            ("batch", "lr", "noise"),
            np.array(lyap),
            {"units": "nats per step"},
        )
        out[f"second_moment_{name}"] = (("batch", "lr", "noise"), np.array(moment))
    return xr.Dataset(out, coords={"batch": batches, "lr": lr, "noise": noise})


def lr_grid(lr_min: float, lr_max: float, points: int) -> np.ndarray:
    return np.geomspace(lr_min, lr_max, points)


# ---------------------------------------------------------------- (A) random-multiplier simulation
def simulate_multiplier(step) -> None:
    """One (mean, sd) cell: every learning rate × chain advanced together; log|z| tracked exactly.

    The chains of all learning rates share the draws h_t (common random numbers): each learning rate
    is still an exact simulation of its own product, and the λ-dependence is smoother.
    """
    p = step.params
    mean, sd = parse_case(p["case"])
    dtype, device = torch.float64, step.device
    lrs = torch.as_tensor(
        lr_grid(p["lr_min"], p["lr_max"], p["lr_points"]), dtype=dtype, device=device
    )
    gen = generator(p["cell_seed"], device)
    log_abs_z = torch.zeros(len(lrs), p["chains"], dtype=dtype, device=device)  # z_0 = 1
    every = max(p["steps"] // p["checkpoints"], 1)
    when, mean_log = [], []
    progress = Progress("simulate_multiplier", p["steps"])
    for t in range(1, p["steps"] + 1):
        h = mean + sd * torch.randn(p["chains"], generator=gen, dtype=dtype, device=device)
        log_abs_z += torch.log(torch.abs(1 - lrs[:, None] * h))
        if t % every == 0 or t == p["steps"]:
            when.append(t)
            mean_log.append(log_abs_z.mean(dim=1))
        progress.update(t)
    progress.finish()
    ds = xr.Dataset(
        {
            "log_abs_z": (("lr", "chain"), log_abs_z.cpu().numpy(), {"units": "log|z_T|, z_0 = 1"}),
            "mean_log_abs_z": (("step", "lr"), torch.stack(mean_log).cpu().numpy()),
        },
        coords={
            "lr": ("lr", lrs.cpu().numpy(), {"units": "learning rate λ"}),
            "chain": np.arange(p["chains"]),
            "step": np.array(when),
        },
        attrs={"mean": mean, "sd": sd, "steps": p["steps"]},
    )
    step.write(ds, step.output[0])


# ---------------------------------------------------------------- (B) SGD on f = u·w·x
def sgd_step(u, w, lr, s_xx, s_xy):
    """One minibatch SGD step of ℓ = (u·w·x − y)²/2 given the batch moments S_xx, S_xy."""
    residual = u * w * s_xx - s_xy
    return u - lr * w * residual, w - lr * u * residual


def run_phase_chains(
    lrs: torch.Tensor,
    noise: torch.Tensor,
    *,
    batch: int,
    slope: float,
    chains: int,
    steps: int,
    init_scale: float,
    window: float,
    gen: torch.Generator,
    checkpoint: Checkpoint | None = None,
) -> dict:
    """Advance every (λ, σ) cell × chain as one (lr, noise, chain) tensor; u·w at the end and its
    mean / sign over the last ``window`` fraction of steps.

    Minibatch moments are drawn exactly from their sufficient statistics (B·S_xx from B normals;
    Σ x_i ε_i | x ~ N(0, B·S_xx)); all cells share the draws (common random numbers).
    With ``checkpoint`` the chains' state is saved at intervals and a rerun resumes from it.
    """
    dtype, device = lrs.dtype, lrs.device
    shape = (len(lrs), len(noise), chains)
    u = init_scale * torch.randn(chains, generator=gen, dtype=dtype, device=device).expand(shape)
    w = init_scale * torch.randn(chains, generator=gen, dtype=dtype, device=device).expand(shape)
    lr = lrs[:, None, None]
    window_start = steps - max(int(window * steps), 1)
    window_sum = torch.zeros(shape, dtype=dtype, device=device)
    window_negative = torch.zeros(shape, dtype=dtype, device=device)
    first = 0
    if checkpoint is not None and (state := checkpoint.load()) is not None:
        # checkpoints are read onto the CPU
        u, w = state["u"].to(device), state["w"].to(device)
        window_sum = state["window_sum"].to(device)
        window_negative = state["window_negative"].to(device)
        gen.set_state(state["generator"])
        first = state["step"] + 1
    progress = Progress("run_phase_chains", steps, start=first)
    flush = torch.set_flush_denormal(True)  # collapsing chains underflow: keep them fast
    try:
        for t in range(first, steps):
            x = torch.randn(chains, batch, generator=gen, dtype=dtype, device=device)
            s_xx = (x * x).mean(dim=1)
            z = torch.randn(chains, generator=gen, dtype=dtype, device=device)
            s_xy = slope * s_xx + noise[:, None] * torch.sqrt(s_xx / batch) * z  # (noise, chain)
            u, w = sgd_step(u, w, lr, s_xx, s_xy)
            if t >= window_start:
                uw = u * w
                window_sum += uw
                window_negative += uw < 0
            progress.update(t + 1)
            if checkpoint is not None:
                checkpoint.maybe_save(
                    t,
                    lambda u=u, w=w, total=window_sum, negative=window_negative: {
                        "u": u,
                        "w": w,
                        "window_sum": total,
                        "window_negative": negative,
                        "generator": gen.get_state(),
                    },
                )
    finally:
        if flush:
            torch.set_flush_denormal(False)
    progress.finish()
    n_window = steps - window_start
    return {
        "uw": u * w,
        "window_mean_uw": window_sum / n_window,
        "window_negative_fraction": window_negative / n_window,
        "window_steps": n_window,
    }


def simulate_phases(step) -> None:
    """One batch size: every (λ, σ) cell and chain advanced as one tensor (see run_phase_chains)."""
    p = step.params
    dtype, device = torch.float64, step.device
    lrs = torch.as_tensor(
        lr_grid(p["lr_min"], p["lr_max"], p["lr_points"]), dtype=dtype, device=device
    )
    noise = torch.linspace(0, p["noise_max"], p["noise_points"], dtype=dtype, device=device)
    out = run_phase_chains(
        lrs,
        noise,
        batch=p["batch"],
        slope=p["slope"],
        chains=p["chains"],
        steps=p["steps"],
        init_scale=p["init_scale"],
        window=p["window"],
        gen=generator(p["cell_seed"], device),
        checkpoint=step.checkpoint(),
    )
    dims = ("lr", "noise", "chain")
    ds = xr.Dataset(
        {
            "uw": (dims, out["uw"].cpu().numpy(), {"units": "u·w at the last step (target a)"}),
            "window_mean_uw": (dims, out["window_mean_uw"].cpu().numpy()),
            "window_negative_fraction": (dims, out["window_negative_fraction"].cpu().numpy()),
        },
        coords={
            "lr": ("lr", lrs.cpu().numpy(), {"units": "learning rate λ"}),
            "noise": ("noise", noise.cpu().numpy(), {"units": "label noise sd σ"}),
            "chain": np.arange(p["chains"]),
        },
        attrs={
            "batch": p["batch"],
            "slope": p["slope"],
            "steps": p["steps"],
            "window_steps": out["window_steps"],
        },
    )
    step.write(ds, step.output[0])


def classify(
    uw, window_mean, window_negative, *, slope, collapse_below, diverge_above
) -> np.ndarray:
    """Final state of each chain → index into PHASES."""
    uw = np.asarray(uw)
    divergent = ~np.isfinite(uw) | (np.abs(np.nan_to_num(uw, nan=np.inf)) > diverge_above)
    collapse = ~divergent & (np.abs(uw) < collapse_below)
    settled = ~divergent & ~collapse
    incorrect = settled & (np.asarray(window_negative) >= 0.9)
    correct = settled & ~incorrect & (np.abs(np.asarray(window_mean) - slope) <= 0.5 * slope)
    phase = np.full(uw.shape, PHASES.index("other"))
    for name, mask in [
        ("collapse", collapse),
        ("correct", correct),
        ("incorrect", incorrect),
        ("divergent", divergent),
    ]:
        phase[mask] = PHASES.index(name)
    return phase


# ---------------------------------------------------------------- measure
def _theorem_part(paths: list[str]) -> xr.Dataset:
    cells = []
    for path in paths:
        ds = read_dataset(path)
        mean, sd, steps = ds.attrs["mean"], ds.attrs["sd"], int(ds.attrs["steps"])
        lr = ds["lr"].values
        lyap = lyapunov_gaussian(lr, mean, sd)
        rate = np.array(
            [
                line_fit(ds["step"].values, ds["mean_log_abs_z"].values[:, i]).slope
                for i in range(len(lr))
            ]
        )
        # Standard error of the rate from the exact variance of log|1 − λh| (by quadrature).
        log_sq = np.array([_log_abs_second_moment(x, mean, sd) for x in lr])
        rate_se = np.sqrt(np.maximum(log_sq - lyap**2, 0) / (steps * ds.sizes["chain"]))
        cell = xr.Dataset(
            {
                "lyapunov": ("lr", lyap, {"units": "nats per step"}),
                "lyapunov_quadrature": (
                    "lr",
                    [lyapunov_gaussian_quadrature(x, mean, sd) for x in lr],
                ),
                "second_moment": ("lr", second_moment_gaussian(lr, mean, sd)),
                "fitted_rate": ("lr", rate, {"units": "nats per step"}),
                "rate_se": ("lr", rate_se),
                "median_log_abs_z": ("lr", np.median(ds["log_abs_z"].values, axis=1)),
                "q10_log_abs_z": ("lr", np.quantile(ds["log_abs_z"].values, 0.1, axis=1)),
                "q90_log_abs_z": ("lr", np.quantile(ds["log_abs_z"].values, 0.9, axis=1)),
            },
            coords={"lr": lr},
        )
        cells.append(
            cell.expand_dims(case=[f"mean={mean:g}, sd={sd:g}"]).assign_coords(
                case_mean=("case", [mean]), case_sd=("case", [sd])
            )
        )
    out = xr.concat(cells, dim="case").rename(
        lr="multiplier_lr"
    )  # its own grid, not the phase λ grid
    out["multiplier_lr"].attrs["units"] = "learning rate λ"
    out.attrs["theorem_steps"] = steps
    return out


def _log_abs_second_moment(lr: float, mean: float, sd: float) -> float:
    """E[log²|1 − λh|], h ~ N(mean, sd²), by quadrature (for the rate's standard error)."""
    return _gaussian_log_quadrature(1 - lr * mean, lr * sd, power=2)


def measure(step) -> None:
    """Theorem check statistics; per-cell phase fractions of the phase diagram; theory on the grid
    and on a finer grid for the boundary contours."""
    p = step.params
    theorem = _theorem_part(list(step.input.theorem))
    runs = sorted(
        (read_dataset(path) for path in step.input.phases), key=lambda d: d.attrs["batch"]
    )
    batches = [int(run.attrs["batch"]) for run in runs]
    slope = float(runs[0].attrs["slope"])
    fractions = []
    for run in runs:
        phase = classify(
            run["uw"].values,
            run["window_mean_uw"].values,
            run["window_negative_fraction"].values,
            slope=slope,
            collapse_below=p["collapse_below"],
            diverge_above=p["diverge_above"],
        )
        fractions.append(
            np.stack([(phase == k).mean(axis=-1) for k in range(len(PHASES))], axis=-1)
        )
    lr, noise = runs[0]["lr"].values, runs[0]["noise"].values
    phases = xr.Dataset(
        {
            "phase_fraction": (
                ("batch", "lr", "noise", "phase"),
                np.array(fractions),
                {"units": "fraction of chains"},
            ),
            "median_abs_uw": (
                ("batch", "lr", "noise"),
                np.array([np.nanmedian(np.abs(r["uw"].values), axis=-1) for r in runs]),
            ),
        },
        coords={"batch": batches, "lr": lr, "noise": noise, "phase": PHASES},
    )
    phases = phases.merge(theory_grid(lr, noise, batches, slope))
    fine_lr = lr_grid(lr.min(), lr.max(), p["contour_points"])
    fine_noise = np.linspace(noise.min(), noise.max(), p["contour_points"] // 2)
    fine = theory_grid(fine_lr, fine_noise, batches, slope)
    fine = fine.rename({name: f"fine_{name}" for name in fine.data_vars}).rename(
        lr="fine_lr", noise="fine_noise"
    )
    out = xr.merge([theorem, phases, fine])
    out["lr"].attrs["units"] = "learning rate λ"
    out["noise"].attrs["units"] = "label noise sd σ"
    out.attrs.update(
        {"slope": slope, "collapse_below": p["collapse_below"], "diverge_above": p["diverge_above"]}
    )
    step.write(out, step.output[0])


# ---------------------------------------------------------------- verdict
def collapsed_cells(m: xr.Dataset) -> xr.DataArray:
    """A cell collapses when most of its chains end at the saddle."""
    return m["phase_fraction"].sel(phase="collapse") > 0.5


def dominant_phase(m: xr.Dataset) -> xr.DataArray:
    return m["phase_fraction"].idxmax("phase")


def phase_census(m: xr.Dataset) -> dict[str, int]:
    """How many (batch, λ, σ) cells each phase dominates; correct cells split by the minimum's L2
    stability (E(1 − λh)² < 1 along its (1, 1) direction)."""
    dom = dominant_phase(m)
    l2_stable = m["second_moment_minimum"] < 1
    census = {name: int((dom == name).sum()) for name in PHASES}
    census["correct_l2_stable"] = int(((dom == "correct") & l2_stable).sum())
    census["correct_probabilistic_only"] = int(((dom == "correct") & ~l2_stable).sum())
    return census


def _true_range(mask: xr.DataArray, dim: str) -> list[float]:
    values = mask[dim].values[mask.values]
    return [float(values.min()), float(values.max())]


def verdict(step) -> None:
    p = step.params
    m = read_dataset(step.input.measured)
    checks: list[Check] = []
    steps = int(m.attrs["theorem_steps"])

    # (A) Theorem 1 on the random multiplier.
    lyap, median = m["lyapunov"], m["median_log_abs_z"]
    resolved = np.abs(lyap) * steps > SIGN_MARGIN
    agree = (np.sign(median) == np.sign(lyap)) & resolved
    n_resolved = int(resolved.sum())
    checks.append(
        Check(
            id="theorem_sign",
            statement=f"Random multiplier z ← (1 − λh)z, h ~ N(μ, s²): sign of the median of log|z_T| over "
            f"chains equals sign(Λ), Λ = E log|1 − λh|, on every (μ, s, λ) cell with |Λ|·T > {SIGN_MARGIN:g}",
            expected={"value": 1.0, "source": "Theorem 1 (probabilistic stability ⇔ Λ < 0)"},
            measured=float(agree.sum() / max(n_resolved, 1)),
            tolerance="all resolved cells agree (fraction = 1)",
            passed=bool(n_resolved > 0 and int(agree.sum()) == n_resolved),
            details={"resolved_cells": n_resolved, "agreeing_cells": int(agree.sum())},
        )
    )
    rate_ok = RATE_TOLERANCE * np.abs(lyap) >= RATE_RESOLUTION * m["rate_se"]
    rel_err = (np.abs(m["fitted_rate"] - lyap) / np.abs(lyap)).where(rate_ok)
    worst = float(rel_err.max()) if int(rate_ok.sum()) else float("nan")
    checks.append(
        Check(
            id="theorem_growth_rate",
            statement="Fitted growth rate of the chain-mean log|z_t| vs Λ by quadrature: worst relative error "
            f"over cells where 5%·|Λ| ≥ {RATE_RESOLUTION:g} standard errors of the rate",
            expected={"value": 0.0, "source": "Theorem 1 (log|z_t|/t → Λ)"},
            measured=worst,
            tolerance=f"≤ {RATE_TOLERANCE:.0%} relative",
            passed=bool(int(rate_ok.sum()) > 0 and worst <= RATE_TOLERANCE),
            details={
                "cells": int(rate_ok.sum()),
                "max_quadrature_vs_series_gap": float(
                    np.abs(lyap - m["lyapunov_quadrature"]).max()
                ),
            },
        )
    )
    stable = (lyap * steps < -SIGN_MARGIN) & (median < 0)
    l2_wrong = stable & (m["second_moment"] > 1)
    checks.append(
        Check(
            id="theorem_l2_disagrees",
            statement="Cells where the chains converge (Λ·T < −10 and median log|z_T| < 0) although "
            "E(1 − λh)² > 1, i.e. L2 theory predicts divergence",
            expected={
                "trend": "such a region exists",
                "source": "Theorem 1 vs L_p stability (abstract)",
            },
            measured=int(l2_wrong.sum()),
            tolerance="≥ 1 cell",
            passed=bool(int(l2_wrong.sum()) >= 1),
            details={
                "converging_cells": int(stable.sum()),
                "lr_ranges": {
                    str(c): _true_range(l2_wrong.sel(case=c), "multiplier_lr")
                    for c in m["case"].values
                    if bool(l2_wrong.sel(case=c).any())
                },
            },
        )
    )

    # (B) Phase diagram of f = u·w·x.
    top = np.maximum(m["lyapunov_saddle_plus"], m["lyapunov_saddle_minus"])
    away = np.abs(top) >= BOUNDARY_MARGIN
    collapsed = collapsed_cells(m)
    match = (collapsed == (top < 0)) & away
    agreement = float(match.sum() / away.sum())
    checks.append(
        Check(
            id="phase_collapse_agreement",
            statement="Phase diagram of f = u·w·x: a cell collapses to the saddle (most chains end with "
            f"|uw| < {m.attrs['collapse_below']:g}) iff max(Λ+, Λ−) < 0; fraction of agreeing "
            f"(batch, λ, σ) cells with |max(Λ+, Λ−)| ≥ {BOUNDARY_MARGIN:g}",
            expected={"value": 1.0, "source": "Theorem 1 applied to the Type-II saddle"},
            measured=agreement,
            tolerance=f"≥ {AGREEMENT_TOLERANCE:.0%}",
            passed=agreement >= AGREEMENT_TOLERANCE,
            details={
                "cells_away_from_boundary": int(away.sum()),
                "cells_total": int(away.size),
                "agreement_all_cells": float((collapsed == (top < 0)).mean()),
                "theory_collapse_cells": int(((top < 0) & away).sum()),
                "simulated_collapse_cells": int((collapsed & away).sum()),
            },
        )
    )
    area = collapsed.mean("lr")  # fraction of the λ range that collapses, per (batch, σ)
    step_lr = 1 / m.sizes["lr"]
    for batch in m["batch"].values:
        a = area.sel(batch=batch).values
        grows = bool(np.all(np.diff(a) >= -step_lr - 1e-12) and a[-1] > a[0])
        checks.append(
            Check(
                id=f"collapse_grows_with_noise[B={batch}]",
                statement=f"B = {batch}: fraction of the λ grid where SGD collapses to the saddle, as σ grows "
                "(measured: at the largest σ; details: every σ)",
                expected={
                    "trend": "non-decreasing in σ",
                    "source": "paper: collapse needs gradient noise (SNR)",
                },
                measured=float(a[-1]),
                tolerance=f"never drops by more than one λ cell ({step_lr:.3g}) and largest σ > smallest σ",
                passed=grows,
                details={"noise": m["noise"].values.tolist(), "collapsed_fraction": a.tolist()},
            )
        )
    total = collapsed.mean(["lr", "noise"]).values
    checks.append(
        Check(
            id="collapse_shrinks_with_batch",
            statement="Fraction of the (λ, σ) grid where SGD collapses, per batch size (measured: largest B "
            "over smallest B)",
            expected={
                "trend": "strictly decreasing in B",
                "source": "paper: larger batches make collapse harder",
            },
            measured=float(total[-1] / total[0]) if total[0] > 0 else float("nan"),
            tolerance="strictly decreasing across the batch sizes",
            passed=bool(len(total) > 1 and np.all(np.diff(total) < 0)),
            details={"batch": m["batch"].values.tolist(), "collapsed_fraction": total.tolist()},
        )
    )
    l2_forbids = collapsed & (m["second_moment_saddle_plus"] > 1)
    checks.append(
        Check(
            id="collapse_beyond_l2",
            statement="Cells where SGD collapses to the saddle although E(1 + λm)² > 1 along z+ "
            "(L2 theory: the saddle can never attract)",
            expected={
                "trend": "collapse happens where L2 stability forbids it",
                "source": "paper abstract",
            },
            measured=int(l2_forbids.sum()),
            tolerance="≥ 1 cell",
            passed=bool(int(l2_forbids.sum()) >= 1),
            details={"collapsed_cells": int(collapsed.sum())},
        )
    )

    census = phase_census(m)
    paper_phases = {
        "correct learning, L2-stable minimum": census["correct_l2_stable"],
        "correct learning, probabilistically stable only": census["correct_probabilistic_only"],
        "incorrect learning (persistent uw < 0)": census["incorrect"],
        "collapse to the saddle": census["collapse"],
        "complete instability (divergent)": census["divergent"],
    }
    present = [k for k, v in paper_phases.items() if v > 0]
    absent = [k for k, v in paper_phases.items() if v == 0]
    write_verdict(
        step.output[0],
        claim="saddles",
        paper=PAPER,
        checks=checks,
        config=p.get("config", p),
        reconstruction=RECONSTRUCTION,
        notes=[
            "Thresholds are ours (shared/claims/saddles.md), fixed before the runs.",
            "Phases found (cells dominated, over all batch × λ × σ): "
            + "; ".join(f"{k}: {v}" for k, v in paper_phases.items())
            + f"; unclassified (other: not settled within the run, mostly slow escapes where Λ+ is barely "
            f"positive): {census['other']}.",
            "Absent in this toy: "
            + (", ".join(absent) if absent else "none")
            + "."
            + (
                " A phase absent here may need the paper's own model; it is not forced."
                if absent
                else ""
            ),
            "Present: " + ", ".join(present) + ".",
            "L2 boundaries: the saddle's escape direction z+ is never L2-stable (E(1 + λm)² > 1 for a > 0), "
            "so every collapse contradicts L2 theory; the plotted L2 line is the minimum's (1, 1) direction.",
        ],
    )
