"""Claim `saddles`, training part: the random-multiplier chains of Theorem 1 (A) and SGD on
f = u·w·x near its Type-II saddle (B). Each step writes one sweep cell; the analysis (Lyapunov
exponents, phases, checks, verdict) is in analysis.py, so editing it never reruns these.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.blocks import block_range
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
def sgd_step(u, w, lr, s_xx, s_xy, g_u=0.0, g_w=0.0):
    """One minibatch SGD step of ℓ = (u·w·x − y)²/2 given the batch moments S_xx, S_xy; ``g_u``,
    ``g_w`` add the batch mean of the Type-I control's per-sample term c·(ζ·u + ζ'·w)."""
    residual = u * w * s_xx - s_xy
    return u - lr * (w * residual + g_u), w - lr * (u * residual + g_w)


def toy_loss(u, w, x, y, zeta_u=None, zeta_w=None, c: float = 0.0):
    """Per-sample loss of the toy, (u·w·x − y)²/2, plus the Type-I control's c·(ζ·u + ζ'·w)
    (mean zero over samples: the mean loss, its saddle and Hessian are the toy's)."""
    loss = (u * w * x - y) ** 2 / 2
    if c:
        loss = loss + c * (zeta_u * u + zeta_w * w)
    return loss


def per_sample_gradients_at_origin(loss_fn, n_params: int, samples: int) -> torch.Tensor:
    """(samples, n_params) gradients of each sample's loss at θ = 0, by autograd: ``loss_fn``
    maps a (samples, n_params) parameter tensor (one copy per sample) to per-sample losses."""
    theta = torch.zeros(samples, n_params, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss_fn(theta).sum(), theta)
    return grad.detach()


def saddle_gradients(slope: float, noise: float, c: float, samples: int, gen) -> dict:
    """Per-sample gradients at the origin of the toy (Type-II) and of its Type-I control."""
    x = torch.randn(samples, generator=gen, dtype=torch.float64)
    y = slope * x + noise * torch.randn(samples, generator=gen, dtype=torch.float64)
    zeta = torch.randn(samples, 2, generator=gen, dtype=torch.float64)
    toy = per_sample_gradients_at_origin(lambda t: toy_loss(t[:, 0], t[:, 1], x, y), 2, samples)
    control = per_sample_gradients_at_origin(
        lambda t: toy_loss(t[:, 0], t[:, 1], x, y, zeta[:, 0], zeta[:, 1], c), 2, samples
    )
    return {"toy": toy, "control": control}


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
    type_one_noise: float | None = None,
) -> dict:
    """Advance every (λ, σ) cell × chain as one (lr, noise, chain) tensor; u·w at the end and its
    mean / sign over the last ``window`` fraction of steps.

    Minibatch moments are drawn exactly from their sufficient statistics (B·S_xx from B normals;
    Σ x_i ε_i | x ~ N(0, B·S_xx)); all cells share the draws (common random numbers).
    With ``checkpoint`` the chains' state is saved at intervals and a rerun resumes from it.
    With ``type_one_noise`` = c every array gains a leading ``model`` axis: [the toy, its Type-I
    control] (the control adds the batch mean of c·(ζ·u + ζ'·w), ζ, ζ' ~ N(0, 1) per sample, to the
    loss), both from the same starts and draws.
    """
    dtype, device = lrs.dtype, lrs.device
    shape = (len(lrs), len(noise), chains)
    if type_one_noise is not None:
        shape = (2, *shape)
        scale = torch.tensor([0.0, type_one_noise], dtype=dtype, device=device)[:, None, None, None]
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
            if type_one_noise is None:
                u, w = sgd_step(u, w, lr, s_xx, s_xy)
            else:
                zeta = torch.randn(2, chains, generator=gen, dtype=dtype, device=device)
                zeta = zeta / batch**0.5  # the batch mean of B i.i.d. N(0, 1)
                u, w = sgd_step(u, w, lr, s_xx, s_xy, scale * zeta[0], scale * zeta[1])
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
    """One batch size × block of the λ grid: every (λ, σ) cell and chain of it advanced as one
    tensor (see run_phase_chains)."""
    p = step.params
    dtype, device = torch.float64, step.device
    # this job's block of the λ grid (registry.block_range): the chains' draws do not depend on λ
    block = list(block_range(p["lr_block"]))
    grid = lr_grid(p["lr_min"], p["lr_max"], p["lr_points"])[block]
    lrs = torch.as_tensor(grid, dtype=dtype, device=device)
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
        type_one_noise=p["type_one_noise"],
    )
    grads = saddle_gradients(
        p["slope"],
        p["noise_max"],
        p["type_one_noise"],
        p["gradient_samples"],
        generator(p["cell_seed"] + 1),
    )
    dims = ("model", "lr", "noise", "chain")
    ds = xr.Dataset(
        {
            "uw": (dims, out["uw"].cpu().numpy(), {"units": "u·w at the last step (target a)"}),
            "window_mean_uw": (dims, out["window_mean_uw"].cpu().numpy()),
            "window_negative_fraction": (dims, out["window_negative_fraction"].cpu().numpy()),
            "saddle_gradient": (
                ("model", "sample", "param"),
                torch.stack([grads["toy"], grads["control"]]).numpy(),
                {
                    "units": "per-sample gradient at the origin (u, w), by autograd, at σ = noise_max"
                },
            ),
        },
        coords={
            "model": ["type_two", "type_one_control"],
            "param": ["u", "w"],
            "lr": ("lr", lrs.cpu().numpy(), {"units": "learning rate λ"}),
            "noise": ("noise", noise.cpu().numpy(), {"units": "label noise sd σ"}),
            "chain": np.arange(p["chains"]),
        },
        attrs={
            "batch": p["batch"],
            "slope": p["slope"],
            "steps": p["steps"],
            "window_steps": out["window_steps"],
            "init_scale": p["init_scale"],
            "type_one_noise": p["type_one_noise"],
        },
    )
    step.write(ds, step.output[0])


# ---------------------------------------------------------------- (C) two-layer net, input dim > 1
def twolayer_forward(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Diagonal two-layer linear net f(x) = Σ_i u_i·w_i·x_i; θ (..., 2, d) holds (u, w) and x is
    (..., B, d). The origin is a symmetric (Type-II) saddle: ∇f = 0 there, whatever x."""
    return (x * (theta[..., 0, :] * theta[..., 1, :])[..., None, :]).sum(-1)


def twolayer_loss(theta, x, y) -> torch.Tensor:
    """Minibatch loss (f − y)²/2, averaged over the batch, summed over every leading cell/chain
    (the chains are independent, so its gradient is every chain's own gradient)."""
    return ((twolayer_forward(theta, x) - y) ** 2 / 2).mean(-1).sum()


def twolayer_data(chains, batch, dim, slope, noise, gen, dtype, device):
    """x ~ N(0, I_d) (chain, B, d); y = slope·(β·x) + σ·ε with β = (1, …, 1)/√d: (noise, chain, B)."""
    x = torch.randn(chains, batch, dim, generator=gen, dtype=dtype, device=device)
    eps = torch.randn(chains, batch, generator=gen, dtype=dtype, device=device)
    signal = slope * x.sum(-1) / dim**0.5
    return x, signal + noise[:, None, None] * eps


def twolayer_lyapunov(lrs, noise, *, dim, batch, slope, chains, steps, gen) -> dict:
    """Top Lyapunov exponent of θ ← (I − λĤ_t)θ at the origin, Ĥ_t the minibatch Hessian of the
    loss there (Hessian-vector products by autograd: forward-over-reverse), by the renormalised
    vector iteration; every (λ, σ) cell and chain batched. Returns the per-chain rate."""
    dtype, device = lrs.dtype, lrs.device
    shape = (len(lrs), len(noise), chains, 2, dim)
    origin = torch.zeros(shape, dtype=dtype, device=device)
    q = torch.randn(chains, 2, dim, generator=gen, dtype=dtype, device=device).expand(shape)
    q = q / q.flatten(-2).norm(dim=-1)[..., None, None]
    lr = lrs[:, None, None, None, None]
    total = torch.zeros(shape[:3], dtype=dtype, device=device)
    for _ in range(steps):
        x, y = twolayer_data(chains, batch, dim, slope, noise, gen, dtype, device)
        grad = torch.func.grad(lambda th, x=x, y=y: twolayer_loss(th, x, y))
        _, hvp = torch.func.jvp(grad, (origin,), (q,))
        q = q - lr * hvp
        norm = q.flatten(-2).norm(dim=-1)
        total += torch.log(norm)
        q = q / norm[..., None, None]
    return {"rate": total / steps}


def twolayer_sgd(lrs, noise, *, dim, batch, slope, chains, steps, type_one_noise, gen) -> dict:
    """SGD from a standard initialisation (u_i, w_i ~ N(0, 1), fan-in 1) for the net and for its
    Type-I control (+ the batch mean of c·ζ·θ, ζ ~ N(0, I) per sample), same starts and draws:
    arrays (model, λ, σ, chain); the largest |u_i·w_i| at the end."""
    dtype, device = lrs.dtype, lrs.device
    shape = (2, len(lrs), len(noise), chains, 2, dim)
    theta = torch.randn(chains, 2, dim, generator=gen, dtype=dtype, device=device).expand(shape)
    theta = theta.clone()
    scale = torch.tensor([0.0, type_one_noise], dtype=dtype, device=device)
    scale = scale[:, None, None, None, None, None]
    lr = lrs[None, :, None, None, None, None]
    flush = torch.set_flush_denormal(True)
    try:
        for _ in range(steps):
            x, y = twolayer_data(chains, batch, dim, slope, noise, gen, dtype, device)
            zeta = torch.randn(chains, 2, dim, generator=gen, dtype=dtype, device=device)
            residual = twolayer_forward(theta, x) - y  # (model, λ, σ, chain, B)
            back = (residual[..., None] * x).mean(-2)  # (…, d): mean of r·x_i
            grad = torch.stack([back * theta[..., 1, :], back * theta[..., 0, :]], dim=-2)
            theta = theta - lr * (grad + scale * zeta / batch**0.5)
            theta = torch.nan_to_num(theta, nan=torch.inf)
    finally:
        if flush:
            torch.set_flush_denormal(False)
    product = (theta[..., 0, :] * theta[..., 1, :]).abs()
    return {"max_abs_product": product.amax(-1)}


def simulate_twolayer(step) -> None:
    """(C) Λ̂ from minibatch Hessians at the origin and SGD's fate, on one block of the (λ, σ)
    grid (the chains' draws do not depend on λ: any cut of the grid gives the same arrays)."""
    p = step.params
    dtype, device = torch.float64, step.device
    grid = lr_grid(p["lr_min"], p["lr_max"], p["lr_points"])[list(block_range(p["lr_block"]))]
    lrs = torch.as_tensor(grid, dtype=dtype, device=device)
    noise = torch.linspace(0, p["noise_max"], p["noise_points"], dtype=dtype, device=device)
    kwargs = dict(dim=p["input_dim"], batch=p["batch"], slope=p["slope"], chains=p["chains"])
    lyap = twolayer_lyapunov(
        lrs, noise, steps=p["lyapunov_steps"], gen=generator(p["cell_seed"], device), **kwargs
    )
    sgd = twolayer_sgd(
        lrs,
        noise,
        steps=p["steps"],
        type_one_noise=p["type_one_noise"],
        gen=generator(p["cell_seed"] + 1, device),
        **kwargs,
    )
    # per-sample gradients at the origin (Type-II check), by autograd, at the largest σ
    gen = generator(p["cell_seed"] + 2)
    n, d = p["gradient_samples"], p["input_dim"]
    x, y = twolayer_data(
        n, 1, d, p["slope"], torch.tensor([p["noise_max"]], dtype=dtype), gen, dtype, "cpu"
    )
    zeta = torch.randn(n, 2 * d, generator=gen, dtype=dtype)

    def per_sample(c):
        def loss(t):
            theta = t.reshape(n, 2, d)
            own = ((twolayer_forward(theta, x) - y[0]) ** 2 / 2)[..., 0]
            return own + c * (zeta * t).sum(-1)

        return per_sample_gradients_at_origin(loss, 2 * d, n)

    ds = xr.Dataset(
        {
            "lyapunov_rate": (
                ("lr", "noise", "lyapunov_chain"),
                lyap["rate"].cpu().numpy(),
                {"units": "nats per step (top exponent, one estimate per chain)"},
            ),
            "max_abs_product": (
                ("model", "lr", "noise", "chain"),
                sgd["max_abs_product"].cpu().numpy(),
                {"units": "max_i |u_i·w_i| at the last step"},
            ),
            "saddle_gradient": (
                ("model", "sample", "param"),
                torch.stack([per_sample(0.0), per_sample(p["type_one_noise"])]).numpy(),
                {"units": "per-sample gradient at the origin, by autograd, at σ = noise_max"},
            ),
        },
        coords={
            "model": ["type_two", "type_one_control"],
            "lr": ("lr", lrs.cpu().numpy(), {"units": "learning rate λ"}),
            "noise": ("noise", noise.cpu().numpy(), {"units": "label noise sd σ"}),
            "chain": np.arange(p["chains"]),
            "lyapunov_chain": np.arange(p["chains"]),
        },
        attrs={
            "input_dim": p["input_dim"],
            "batch": p["batch"],
            "slope": p["slope"],
            "steps": p["steps"],
            "lyapunov_steps": p["lyapunov_steps"],
            "type_one_noise": p["type_one_noise"],
        },
    )
    step.write(ds, step.output[0])
