"""Claim `periodic`, training part 1: the 1-D extrapolation nets (one job per target: every
activation × Snake a × seed net trained together as one tensor program). The real-series
forecasts are in forecast.py (so editing them never reruns these); the analysis (measure, checks,
verdict) is in analysis.py.

Units and protocol follow the authors' extrapolation notebook: 1–512–1 nets, 32 training inputs
per side from U(5, 15) and U(−15, −5), divided by 15 (training band 1/3 ≤ |x| ≤ 1, target
sin(x_raw) = sin(15 x)), full-batch heavy-ball SGD (lr 1e-2, momentum 0.9), MSE, 15 000 steps.
Ours: the training criterion (FIT_LEVEL: further 15 000-step blocks up to ``max_steps``) and the
step-size rule (``step_sizes``) for a cell that is unstable at lr 1e-2.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.nets import EnsembleMLP, record_steps
from paperclaims.progress import Progress
from paperclaims.seeds import derive_seed, generator, member_seeds


# The cell names of claim.py's sweep, read back (claim.py writes them; it imports the registry,
# which training must not hash).
def parse_activation(cell: str) -> tuple[str, float]:
    """'snake_a10' → ('snake', 10.0); 'relu' → ('relu', 1.0)."""
    if cell.startswith("snake_a"):
        return "snake", float(cell[len("snake_a") :])
    return cell, 1.0


FREQUENCY = 15.0  # angular frequency of every target in the scaled input x = x_raw / 15
# Step-size rule (ours, issue 16; committed before the runs). Heavy-ball SGD on a quadratic of
# curvature λ is stable iff lr·λ < 2(1 + β). A cell trains at the authors' rate unless its largest
# Gauss–Newton eigenvalue at initialisation over its seeds, λ_max, makes that unstable; then at
# LR_SAFETY × 2(1 + β)/λ_max (a margin for the curvature growing early in training).
LR_SAFETY = 0.5
# Training criterion (ours, issue 16; committed before the runs that compute the checks): the
# authors' 15 000 steps left the square-wave nets and tanh on sin above the checks' fit level
# (64 points, 512 units: every net can interpolate). So training runs in blocks of the authors'
# ``steps``; at each block end every checked cell (relu, tanh, the headline Snake: the cells whose
# fit the checks' preconditions read) is *fitted* (median over seeds of training MSE / variance of
# its training target ≤ FIT_LEVEL, the precondition's level and median, analysis.THRESHOLDS
# ["fits_training_data"]), *diverged* (that median not finite), *stalled* (the median of each
# seed's best ratio within the block fell by less than STALL_FALL, relative, from the previous
# block's: the best within a block, so that a momentum spike at a block end does not read as a
# stall), or still falling. Training stops after the first block at whose end no checked cell is
# still falling, else at ``max_steps`` (a multiple of ``steps``: claim.py). Training data only.
# The stall rule and the cap were added in a second step (issue 16, before the run that computes
# the checks with them), after a review run (scripts/review_periodic_square_fit.py, training loss
# and extrapolation) had shown on the square wave: Snake a = 10 stalled at 0.135–0.144 from 15 000
# steps on, ReLU reaching 0.1 near 45 000, tanh 0.16 → 0.146 from 45 000 to 90 000 steps. A stalled
# cell still fails its precondition (its checks stay inconclusive): the rule decides when training
# stops and why a fit failed, never a check's outcome. STALL_FALL = 5 %: another authors'-length
# block improving the fit by less than 1/20 is not training the net towards the level. The cap
# (``max_steps``, schema default 90 000 = 6 blocks, the review run's length) is a cost cap. Before
# the final run an independent review made the stall test read each block's best loss and the
# precondition's median; the square wave stopped at 75 000 steps under both versions.
FIT_LEVEL = 0.1
STALL_FALL = 0.05
STILL_FALLING = "still falling"


def checked_cells(cells: list[str], snake_a_headline: float) -> list[str]:
    """The cells whose training fit the checks' preconditions read."""
    return [c for c in cells if c in ("relu", "tanh") or c == f"snake_a{snake_a_headline:g}"]


def fit_status(blocks: dict[str, list[torch.Tensor]], var: torch.Tensor, groups) -> dict[str, str]:
    """Per cell of ``groups`` after the last block (``blocks``: heavy_ball's per-member training
    loss at each block end, "end", and best loss within each block, "best"): 'fitted',
    'diverged', 'stalled' or STILL_FALLING (the rule above). Medians over seeds as the fit
    precondition takes them (numpy, float64: a NaN seed makes the median NaN)."""

    def median(losses: torch.Tensor, lo: int, hi: int) -> float:
        return float(np.median((losses / var)[lo:hi].double().cpu().numpy()))

    status = {}
    for cell, (lo, hi) in groups.items():
        now = median(blocks["end"][-1], lo, hi)
        best = [median(b, lo, hi) for b in blocks["best"][-2:]]
        if now <= FIT_LEVEL:
            status[cell] = "fitted"
        elif not np.isfinite(now):
            status[cell] = "diverged"
        elif len(best) == 2 and not best[1] < (1 - STALL_FALL) * best[0]:
            status[cell] = "stalled"
        else:
            status[cell] = STILL_FALLING
    return status


# ---------------------------------------------------------------- targets and activations
def target(name: str, x: torch.Tensor | np.ndarray):
    """The 1-D targets of the paper's Fig. 1/4/13, in scaled units."""
    lib = torch if isinstance(x, torch.Tensor) else np
    if name == "sin":
        return lib.sin(FREQUENCY * x)
    if name == "square":
        return lib.sign(lib.sin(FREQUENCY * x))
    if name == "sin_plus_sin4":
        return lib.sin(FREQUENCY * x) + lib.sin(4 * FREQUENCY * x) / 4
    raise ValueError(f"unknown target {name!r}")


def activation_and_slope(name: str, h, a, lib=torch):
    """(σ(h), σ'(h)) for the 1-hidden-layer nets; ``a`` is Snake's frequency (broadcasts with h).
    ``lib`` is torch or numpy (the analysis evaluates the far field in float64 numpy)."""
    if name == "relu":
        return lib.maximum(h, 0 * h), (h > 0) * 1.0
    if name == "tanh":
        t = lib.tanh(h)
        return t, 1 - t * t
    if name == "sin":
        return lib.sin(h), lib.cos(h)
    if name == "x_plus_sin":
        return h + lib.sin(h), 1 + lib.cos(h)
    if name == "snake":  # x + sin²(ax)/a = x + (1 − cos 2ax)/(2a); slope 1 + sin 2ax
        z = 2 * a * h
        return h + (1 - lib.cos(z)) / (2 * a), 1 + lib.sin(z)
    raise ValueError(f"unknown activation {name!r}")


# ---------------------------------------------------------------- the batched 1–H–1 trainer
# σ(h) = α h + β + κ φ(s h), σ'(h) = α' + μ ψ(s h): the coefficients of each activation (``a`` is
# Snake's frequency, one per member) and (φ, ψ) computed in place by _phi_psi.
DECOMPOSITION_KEYS = ("s", "alpha", "beta", "kappa", "alpha_slope", "mu")


def _k(a, s=1.0, alpha=0.0, beta=0.0, kappa=1.0, alpha_slope=0.0, mu=1.0):
    one = torch.ones_like(a)
    values = (s, alpha, beta, kappa, alpha_slope, mu)
    return {key: value * one for key, value in zip(DECOMPOSITION_KEYS, values)}


DECOMPOSITION = {
    "relu": lambda a: _k(a),  # φ = relu, ψ = step
    "tanh": lambda a: _k(a, alpha_slope=1.0, mu=-1.0),  # φ = tanh, ψ = tanh²: σ' = 1 − tanh²
    "sin": lambda a: _k(a),  # φ = sin, ψ = cos
    "x_plus_sin": lambda a: _k(a, alpha=1.0, alpha_slope=1.0),  # h + sin h; 1 + cos h
    # Snake: h + 1/(2a) − cos(2ah)/(2a); slope 1 + sin(2ah)
    "snake": lambda a: _k(
        a, s=2 * a, alpha=1.0, beta=1 / (2 * a), kappa=-1 / (2 * a), alpha_slope=1.0
    ),
}


def _phi_psi(name: str, z: torch.Tensor, phi: torch.Tensor) -> None:
    """φ(z) into ``phi``, ψ(z) into ``z`` (in place: two passes over the group's slice)."""
    if name == "relu":
        torch.clamp_min(z, 0, out=phi)
        torch.sign(phi, out=z)
    elif name == "tanh":
        torch.tanh(z, out=phi)
        torch.mul(phi, phi, out=z)
    elif name in ("sin", "x_plus_sin"):
        torch.sin(z, out=phi)
        z.cos_()
    elif name == "snake":
        torch.cos(z, out=phi)
        z.sin_()
    else:
        raise ValueError(f"unknown activation {name!r}")


class OneHidden:
    """M independent 1–H–1 nets f(x) = Σ_j v_j σ_j(w_j x + b_j) + c as four tensors: w, b (M, 1, H),
    v (M, H, 1), c (M, 1, 1). Members are grouped by activation (contiguous slices ``groups``:
    name → (start, stop)); ``a`` (M, 1, 1) is each member's Snake frequency. Forward and backward
    are written out (no autograd): the first layer is an outer product, the rest is one bmm each."""

    def __init__(self, w, b, v, c, a, groups: dict[str, tuple[int, int]]):
        self.w, self.b, self.v, self.c, self.a, self.groups = w, b, v, c, a, groups

    @classmethod
    def init(cls, cells: list[str], seeds: list[int], width: int, init: str, dtype, device):
        """Member (cell k, seed i) has seed i's initial weights (EnsembleMLP's draw), so every
        activation starts from the same weights: the comparison between activations is paired."""
        base = EnsembleMLP([1, width, 1], seeds, "relu", init=init, dtype=torch.float64)
        k = len(cells)
        w, b = base.weights[0].detach(), base.biases[0].detach()  # (S, 1, H)
        v, c = base.weights[1].detach(), base.biases[1].detach()  # (S, H, 1), (S, 1, 1)
        tile = lambda t: t.repeat(k, 1, 1).to(device=device, dtype=dtype).contiguous()  # noqa: E731
        parsed = [parse_activation(cell) for cell in cells]
        a = torch.tensor([p[1] for p in parsed for _ in seeds], dtype=dtype, device=device)
        groups, n = {}, len(seeds)
        for j, cell in enumerate(cells):
            groups[cell] = (j * n, (j + 1) * n)
        return cls(tile(w), tile(b), tile(v), tile(c), a.view(-1, 1, 1), groups)

    def _hidden(self, x):
        """Pre-activations h (M, N, H), σ(h), σ'(h), group by group into shared buffers."""
        h = torch.addcmul(self.b, x, self.w)
        act, slope = torch.empty_like(h), torch.empty_like(h)
        for cell, (lo, hi) in self.groups.items():
            name = parse_activation(cell)[0]
            act[lo:hi], slope[lo:hi] = activation_and_slope(name, h[lo:hi], self.a[lo:hi])
        return act, slope

    def __call__(self, x):
        act, _ = self._hidden(x)
        return torch.baddbmm(self.c, act, self.v)

    def loss_and_gradients(self, x, y):
        """Per-member MSE (M,) and its gradients (dw, db, dv, dc), same shapes as the weights.

        Each activation is written σ(h) = α h + β + κ φ(z) and σ'(h) = α' + μ ψ(z), z = s h, with
        per-member scalars (``DECOMPOSITION``): the linear and constant parts go through sums
        over units and points (O(M(N + H))), so per step only z, φ(z) and ψ(z) are computed at
        size M × N × H (ψ overwrites z) and read by three bmm: f = φ(κv), dv = φᵀr and
        [dw, db] = v ⊙ ψᵀ[r x, r]. ``__call__`` is the plain forward; the tests check these
        gradients against autograd through it."""
        k = self._coefficients()
        v, w, b, c = self.v, self.w, self.b, self.c
        n = x.shape[1]
        z = torch.addcmul(b * k["s"], x, w * k["s"])  # (M, N, H)
        phi = torch.empty_like(z)
        for cell, (lo, hi) in self.groups.items():
            _phi_psi(parse_activation(cell)[0], z[lo:hi], phi[lo:hi])  # ψ written into z
        psi = z
        vt = v.transpose(1, 2)  # (M, 1, H)
        vw, vb, vsum = (
            (vt * w).sum(-1, keepdim=True),
            (vt * b).sum(-1, keepdim=True),
            v.sum(1, keepdim=True),
        )
        f = torch.bmm(phi, v * k["kappa"]) + k["alpha"] * (x * vw + vb) + k["beta"] * vsum + c
        r = f.sub_(y)  # residual (M, N, 1)
        loss = (r * r).mean(dim=(1, 2))
        r.mul_(2.0 / n)  # dL/df
        r_sum, rx_sum = r.sum(1, keepdim=True), (r * x).sum(1, keepdim=True)  # (M, 1, 1)
        dv = k["kappa"] * torch.bmm(phi.transpose(1, 2), r)
        dv += (
            k["alpha"] * (w.transpose(1, 2) * rx_sum + b.transpose(1, 2) * r_sum)
            + k["beta"] * r_sum
        )
        both = torch.bmm(psi.transpose(1, 2), torch.cat([r * x, r], dim=2))  # (M, H, 2)
        dw = vt * (k["mu"] * both[..., 0].unsqueeze(1) + k["alpha_slope"] * rx_sum)
        db = vt * (k["mu"] * both[..., 1].unsqueeze(1) + k["alpha_slope"] * r_sum)
        return loss, (dw, db, dv, r_sum)

    def _coefficients(self) -> dict[str, torch.Tensor]:
        """Per-member (M, 1, 1) scalars of DECOMPOSITION, for this model's groups and a."""
        if getattr(self, "_k", None) is None:
            rows = {name: torch.empty_like(self.a) for name in DECOMPOSITION_KEYS}
            for cell, (lo, hi) in self.groups.items():
                name = parse_activation(cell)[0]
                for key, value in DECOMPOSITION[name](self.a[lo:hi]).items():
                    rows[key][lo:hi] = value
            self._k = rows
        return self._k

    def params(self):
        return [self.w, self.b, self.v, self.c]

    def gauss_newton_top(self, x):
        """Largest eigenvalue of each member's Gauss–Newton matrix (2/N) JᵀJ of the MSE at the
        current weights: the nonzero spectrum of JᵀJ is that of the N × N Gram matrix
        K = JJᵀ = σσᵀ + (σ'v)(σ'v)ᵀ ⊙ (xxᵀ + 1) + 1, so it is exact, batched and cheap."""
        act, slope = self._hidden(x)
        d = slope * self.v.transpose(1, 2)
        gram = torch.bmm(act, act.transpose(1, 2))
        gram += torch.bmm(d, d.transpose(1, 2)) * (torch.bmm(x, x.transpose(1, 2)) + 1) + 1
        top = torch.linalg.eigvalsh(gram.double())[:, -1]
        return 2.0 * top / x.shape[1]


def step_sizes(lam: torch.Tensor, groups, lr: float, momentum: float) -> dict[str, float]:
    """The step-size rule (LR_SAFETY): per cell, the authors' ``lr`` if lr·λ_max < 2(1 + β) for
    every seed, else LR_SAFETY × 2(1 + β)/λ_max (λ_max the largest over the cell's seeds)."""
    limit = 2 * (1 + momentum)
    out = {}
    for cell, (lo, hi) in groups.items():
        top = float(lam[lo:hi].max())
        out[cell] = lr if lr * top < limit else LR_SAFETY * limit / top
    return out


def heavy_ball(
    model: OneHidden,
    x,
    y,
    *,
    steps: int,
    lr,
    momentum: float,
    checkpoint=None,
    max_steps: int | None = None,
    done=None,
    blocks: dict | None = None,
):
    """Full-batch heavy-ball SGD as torch.optim.SGD does it (buf ← β·buf + g; p ← p − lr·buf;
    buf = g at the first step), ``lr`` one rate per member (M, 1, 1). Returns (record steps,
    per-member loss (M, records), the loss before each recorded update).

    The training criterion (``done``, a function of ``blocks`` → bool): after ``steps`` steps and
    after every further ``steps``, training stops once ``done`` holds or ``max_steps`` is reached
    (without ``done``: exactly ``steps`` steps). ``blocks`` (the caller's dict, filled here and
    kept in the checkpoint): per block, the per-member loss at its end ("end") and the best loss
    within it ("best")."""
    total = steps if done is None else max(steps, max_steps or steps)
    blocks = {} if blocks is None else blocks
    blocks.update(end=[], best=[])
    when = record_steps(total)
    record = set(when)
    history: list[torch.Tensor] = []
    best = None  # per-member best loss within the current block
    bufs = [torch.zeros_like(p) for p in model.params()]
    start = 1
    if checkpoint is not None and (state := checkpoint.load()) is not None:
        device = model.w.device
        for p, saved in zip(model.params(), state["params"]):
            p.copy_(saved.to(device))
        for buf, saved in zip(bufs, state["bufs"]):
            buf.copy_(saved.to(device))
        history = [h.to(device) for h in state["history"]]
        for key in ("end", "best"):
            blocks[key][:] = [h.to(device) for h in state["blocks"][key]]
        best = None if state["block_best"] is None else state["block_best"].to(device)
        start = state["step"] + 1
    progress = Progress("train_full_batch", total, start=start - 1)
    for it in range(start, total + 1):
        loss, grads = model.loss_and_gradients(x, y)
        for p, buf, g in zip(model.params(), bufs, grads):
            if it == 1:
                buf.copy_(g)
            else:
                buf.mul_(momentum).add_(g)
            p.sub_(buf * lr)
        progress.update(it)
        best = loss.clone() if best is None else torch.fmin(best, loss)
        stop = False
        if done is not None and it % steps == 0:
            blocks["end"].append(loss.clone())
            blocks["best"].append(best)
            best = None
            stop = bool(done(blocks)) and it < total
        if it in record or stop:
            history.append(loss.clone())
        if stop:
            when = [s for s in when if s < it] + [it]
            break
        if not torch.isfinite(loss).any():  # all diverged: the rest is NaN arithmetic
            history.extend([torch.full_like(loss, float("nan"))] * (len(when) - len(history)))
            break
        if checkpoint is not None:
            checkpoint.maybe_save(
                it,
                lambda best=best: {
                    "params": [p.cpu() for p in model.params()],
                    "bufs": [b.cpu() for b in bufs],
                    "history": [h.cpu() for h in history],
                    "blocks": {k: [h.cpu() for h in v] for k, v in blocks.items()},
                    "block_best": None if best is None else best.cpu(),
                },
            )
    progress.finish()
    return when, torch.stack(history, dim=1)


# ---------------------------------------------------------------- train
def train_inputs(n_per_side: int, seed: int) -> torch.Tensor:
    """The authors' inputs: n_per_side from U(5, 15) and as many from U(−15, −5), over 15."""
    gen = generator(derive_seed(seed, "x_train"))
    magnitude = torch.rand(2, n_per_side, generator=gen, dtype=torch.float64) * 10 + 5
    return torch.cat([-magnitude[0], magnitude[1]]) / 15


def train_extrapolation(step) -> None:
    """One target: every activation cell × seed trained as one batched program, full batch."""
    p = step.params
    cells, n = list(p["cells"]), p["n_seeds"]
    dtype, device = torch.float32, step.device
    seeds = member_seeds(p["cell_seed"], n)
    x_seed = torch.stack([train_inputs(p["n_per_side"], s) for s in seeds])  # (S, N)
    x = x_seed.repeat(len(cells), 1)[..., None].to(device=device, dtype=dtype)  # (M, N, 1)
    y = target(p["target"], x)
    model = OneHidden.init(cells, seeds, p["width"], p["init"], dtype, device)
    lam = model.gauss_newton_top(x)
    rates = step_sizes(lam, model.groups, p["lr"], p["momentum"])
    lr = torch.tensor([rates[c] for c in cells for _ in seeds], dtype=dtype, device=device)
    var = y.var(dim=1, unbiased=False).view(-1)
    checked = {c: model.groups[c] for c in checked_cells(cells, p["snake_a_headline"])}
    blocks: dict[str, list[torch.Tensor]] = {}  # heavy_ball fills it (and restores it on resume)
    when, loss = heavy_ball(
        model,
        x,
        y,
        steps=p["steps"],
        lr=lr.view(-1, 1, 1),
        momentum=p["momentum"],
        checkpoint=step.checkpoint(),
        max_steps=p["max_steps"],
        done=lambda b: STILL_FALLING not in fit_status(b, var, checked).values(),
        blocks=blocks,
    )
    # the criterion's reason per checked cell where training stopped
    status = fit_status(blocks, var, checked) if blocks["end"] else {}
    if not torch.isfinite(loss[:, -1]).any():  # stopped because every member diverged
        status = dict.fromkeys(checked, "diverged")
    x_grid = np.linspace(-p["x_max"], p["x_max"], p["n_grid"])
    grid = torch.as_tensor(x_grid, dtype=dtype, device=device).view(1, -1, 1)
    with torch.no_grad():
        pred = model(grid.expand(x.shape[0], -1, -1))[..., 0]
    shape = (len(cells), n)

    def cellwise(t, *tail):
        return t.detach().cpu().double().numpy().reshape(*shape, *tail)

    width = p["width"]
    dims = ("activation", "seed")
    ds = xr.Dataset(
        {
            "prediction": ((*dims, "x"), cellwise(pred, -1)),
            "train_loss": ((*dims, "step"), cellwise(loss, -1), {"units": "MSE"}),
            "w": ((*dims, "unit"), cellwise(model.w, width), {"long_name": "input weight"}),
            "b": ((*dims, "unit"), cellwise(model.b, width), {"long_name": "hidden bias"}),
            "v": ((*dims, "unit"), cellwise(model.v, width), {"long_name": "output weight"}),
            "c": (dims, cellwise(model.c), {"long_name": "output bias"}),
            "snake_a": (dims, cellwise(model.a)),
            "gn_top_eigenvalue": (dims, lam.cpu().numpy().reshape(shape)),
            "lr": ("activation", np.array([rates[c] for c in cells])),
            "fit_status": ("activation", [status.get(c, "not checked") for c in cells]),
            "x_train": (("seed", "point"), x_seed.numpy()),
        },
        coords={
            "activation": cells,
            "seed": np.arange(n),
            "member_seed": ("seed", np.array(seeds, dtype=np.int64)),
            "x": ("x", x_grid, {"units": "x_raw / 15", "long_name": "input"}),
            "step": ("step", np.array(when)),
        },
        attrs={
            "target": p["target"],
            "authors_lr": p["lr"],
            "momentum": p["momentum"],
            "steps_trained": int(when[-1]),
            "max_steps": p["max_steps"],
            "fit_criterion_cells": list(checked),
        },
    )
    ds["gn_top_eigenvalue"].attrs["long_name"] = "top Gauss–Newton eigenvalue at initialisation"
    ds["lr"].attrs["rule"] = "authors' lr if lr·λ_max < 2(1+β), else LR_SAFETY·2(1+β)/λ_max"
    ds["target"] = ("x", target(p["target"], x_grid))
    ds["y_train"] = (("seed", "point"), target(p["target"], x_seed.numpy()))
    step.write(ds, step.output[0])


def forward_numpy(ds: xr.Dataset, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), f'(x)) in float64 from a trained dataset's weights, for every (activation, seed):
    arrays (activation, seed, len(x)). The far field is evaluated here, from the learned weights."""
    out, slope = [], []
    for cell in ds["activation"].values:
        name, _ = parse_activation(str(cell))
        w, b, v = (ds[k].sel(activation=cell).values[:, None, :] for k in ("w", "b", "v"))
        a = ds["snake_a"].sel(activation=cell).values[:, None, None]
        c = ds["c"].sel(activation=cell).values[:, None]
        f, d = [], []
        for chunk in np.array_split(x, max(1, x.size // 256)):
            act, s = activation_and_slope(name, chunk[None, :, None] * w + b, a, lib=np)
            f.append((act * v).sum(-1) + c)
            d.append((s * w * v).sum(-1))
        out.append(np.concatenate(f, axis=1))
        slope.append(np.concatenate(d, axis=1))
    return np.stack(out), np.stack(slope)
