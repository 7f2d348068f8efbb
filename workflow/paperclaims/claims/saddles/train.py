"""Claim `saddles`, training part: the random-multiplier chains of Theorem 1 (A) and SGD on
f = u·w·x near its Type-II saddle (B). Each step writes one sweep cell; the analysis (Lyapunov
exponents, phases, checks, verdict) is in analysis.py, so editing it never reruns these.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.checkpoint import Checkpoint
from paperclaims.progress import Progress
from paperclaims.seeds import generator


# The cell names of claim.py's sweep, read back (claim.py writes them; it imports the registry,
# which training must not hash).
def parse_case(name: str) -> tuple[float, float]:
    mean, sd = name.removeprefix("mean").split("_sd")
    return float(mean), float(sd)


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
