"""Claim `periodic`, training part 2: the real-series forecast nets and their classical
baselines (separate from train.py, so editing one never reruns the other's jobs).

Protocol after the authors' temperature notebook (issue 16): a 1–h–h–1 net, Snake with a
learnable a per neuron initialised |N(0, 50²)|, time in years, SGD with momentum 0.99 and weight
decay, minibatches, a configurable epoch count; trained on the first part of the series, tested
on the rest. Every seed is one member of one batched program (bmm), no Python loop over models.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from paperclaims.seeds import member_seeds

SERIES = ("elnino", "co2")
SHUFFLED = "snake_shuffled"  # the control: Snake on its training series permuted in time
# Training criterion (ours, issue 16; the extrapolation's criterion, train.FIT_LEVEL, applied to
# the forecasts): a compared net trains in blocks of the authors' ``epochs`` and stops after the
# first block at whose end its median training MSE / variance of the training series is
# ≤ FIT_LEVEL (the precondition's level, analysis.THRESHOLDS["forecast_fits_training"]), or at
# ``max_epochs``. It reads the training part only. At the authors' 2500 epochs tanh stayed at
# 0.66 (El Niño) and 0.82 (CO2), so the Snake-vs-tanh checks were inconclusive for lack of
# training; hand runs (4 seeds, training loss only) reached the level at ≈ 5000 and ≈ 7500 epochs,
# hence the cap of 4 blocks (``max_epochs`` 10 000, a cost cap). The control (SHUFFLED: a series
# no net can fit) trains exactly the authors' ``epochs``, as Snake does when it fits in one block.
FIT_LEVEL = 0.5


# ---------------------------------------------------------------- real series
def elnino_monthly() -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' El Niño sea-surface temperatures (°C, monthly 1950–2010); time in years."""
    from statsmodels.datasets import elnino

    data = elnino.load_pandas().data
    sst = data.iloc[:, 1:].to_numpy(dtype=float).ravel()
    years = np.repeat(data["YEAR"].to_numpy(dtype=float), 12) + np.tile(
        np.arange(12) / 12, len(data)
    )
    return years, sst


def co2_monthly() -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' weekly Mauna Loa CO2 (1958–2001), as monthly means; time in decimal years."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    years = monthly.index.year + (monthly.index.month - 1) / 12
    return np.asarray(years, dtype=float), monthly.to_numpy(dtype=float)


def split_series(series: str, train_fraction: float, window_years: int):
    """(x: years from the centre of the training part, y: standardized on the training part, n_train, years).

    The task is the series' last ``window_years`` (ours, issue 16): its first ``train_fraction``
    trains, the rest tests. With 9 years and 2/3 the net trains on the authors' 6 years (their
    temperature notebook); on the whole series (40 training years, 40 seasonal cycles) no net fits
    its training part under the authors' optimiser, while the same Snake fits 6 cycles of a sine.
    CO2 is detrended first by a quadratic fitted to its training part (ours), so that both series
    are seasonal around a level and the forecast tests the seasonal cycle, not the trend."""
    years, raw = elnino_monthly() if series == "elnino" else co2_monthly()
    years, raw = years[-12 * window_years :], raw[-12 * window_years :]
    n_train = int(round(train_fraction * len(raw)))
    x = years - years[:n_train].mean()  # years from the training part's centre (ours)
    if series == "co2":
        raw = raw - np.polyval(np.polyfit(x[:n_train], raw[:n_train], 2), x)
    mean, sd = raw[:n_train].mean(), raw[:n_train].std()
    return x, (raw - mean) / sd, n_train, years


# ---------------------------------------------------------------- batched 1–h–h–1 nets
def _activation(name: str, z: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "sin":
        return torch.sin(z)
    if name == "x_plus_sin":
        return z + torch.sin(z)
    # snake, a per neuron: sin²(az)/a = a z² sinc²(az/π), finite where a learnable a crosses 0
    return z + a * z**2 * torch.sinc(a * z / math.pi) ** 2


def init_params(activation: str, seeds: list[int], width: int, a_scale: float, dtype, device):
    """PyTorch-default (uniform ±1/√fan_in) weights per seed; Snake's a ~ |N(0, a_scale²)|."""
    sizes = [1, width, width, 1]
    params = {k: [] for k in ("w0", "b0", "w1", "b1", "w2", "b2", "a0", "a1")}
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = 1 / math.sqrt(fan_in)
            params[f"w{i}"].append((torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound)
            params[f"b{i}"].append((torch.rand(1, fan_out, generator=g) * 2 - 1) * bound)
        for i in range(2):
            params[f"a{i}"].append((torch.randn(1, width, generator=g) * a_scale).abs())
    out = {k: torch.stack(v).to(dtype=dtype, device=device) for k, v in params.items()}
    if activation != "snake":
        del out["a0"], out["a1"]
    return {k: v.requires_grad_(True) for k, v in out.items()}


def forward(activation: str, params: dict, x: torch.Tensor) -> torch.Tensor:
    """x: (members, n, 1) → (members, n, 1)."""
    h = x
    for i in range(2):
        z = torch.baddbmm(params[f"b{i}"], h, params[f"w{i}"])
        h = _activation(activation, z, params.get(f"a{i}"))
    return torch.baddbmm(params["b2"], h, params["w2"])


def train_forecast(step) -> None:
    """Fit every seed's net to the training part of one series (minibatch SGD, one batched
    program), forecast the whole series; ``snake_shuffled`` trains Snake on the training values
    permuted in time (the control)."""
    p = step.params
    torch.set_num_threads(1)
    model = p["model"]
    activation = "snake" if model == SHUFFLED else model
    x, y, n_train, years = split_series(p["series"], p["train_fraction"], p["window_years"])
    rng = np.random.default_rng(p["cell_seed"])
    y_fit = y[:n_train].copy()
    if model == SHUFFLED:
        y_fit = y_fit[rng.permutation(n_train)]
    dtype, device = torch.float32, step.device
    members = member_seeds(p["cell_seed"], p["n_seeds"])
    params = init_params(activation, members, p["width"], p["a_scale"], dtype, device)
    opt = torch.optim.SGD(
        list(params.values()), lr=p["lr"], momentum=p["momentum"], weight_decay=p["weight_decay"]
    )
    n_members = len(members)
    xt = torch.as_tensor(x, dtype=dtype, device=device)[None, :, None].expand(n_members, -1, 1)
    xf, yf = xt[:, :n_train], torch.as_tensor(y_fit, dtype=dtype, device=device)[None, :, None]
    gen = torch.Generator().manual_seed(int(p["cell_seed"]))
    batch, block = p["batch_size"], p["epochs"]
    total = block if model == SHUFFLED else max(block, p["max_epochs"])
    var = float(np.var(y_fit))
    record = max(1, block // 50)
    when, losses = [], []
    for epoch in range(total):
        order = torch.randperm(n_train, generator=gen)
        for start in range(0, n_train, batch):
            idx = order[start : start + batch]
            err = forward(activation, params, xf[:, idx]) - yf[:, idx]
            # sum over members of each member's mean: every member gets its own mean-loss gradient
            loss = (err**2).mean(dim=(1, 2)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        block_end = (epoch + 1) % block == 0
        if epoch % record == 0 or block_end or epoch == total - 1:
            with torch.no_grad():
                full = ((forward(activation, params, xf) - yf) ** 2).mean(dim=(1, 2))
            when.append(epoch + 1)
            losses.append(full.cpu().double().numpy())
            # a NaN (diverged) member counts as not fitted
            fit = np.nan_to_num(losses[-1] / var, nan=np.inf)
            if block_end and np.median(fit) <= FIT_LEVEL:
                break
            if not np.isfinite(losses[-1]).any():  # all diverged: the rest is NaN arithmetic
                break
    with torch.no_grad():
        pred = forward(activation, params, xt)[..., 0].cpu().double().numpy()
    pred = np.where(np.isfinite(pred), pred, np.nan)
    ds = xr.Dataset(
        {
            "forecast": (("seed", "time"), pred, {"units": "standardized"}),
            # the loss on the data the net was trained on (the permuted values for the control)
            "train_loss": (("seed", "epoch"), np.stack(losses, axis=1)),
        },
        coords={"seed": np.arange(p["n_seeds"]), "time": years, "epoch": np.array(when)},
        attrs={
            "model": model,
            "series": p["series"],
            "n_train": n_train,
            "epochs_trained": int(when[-1]),
            "max_epochs": total,
        },
    )
    ds["observed"] = ("time", y)
    step.write(ds, step.output[0])


def forecast_baselines(step) -> None:
    """Classical baselines on the same split: seasonal naive (the last training year repeated)
    and SARIMA(1,0,1)(0,1,1)12 (ours: seasonal differencing, both series have no trend left)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    p = step.params
    x, y, n_train, years = split_series(p["series"], p["train_fraction"], p["window_years"])
    horizon = len(y) - n_train
    last_year = y[n_train - 12 : n_train]
    k = np.arange(horizon)
    naive = np.concatenate([y[:n_train], last_year[k % 12]])
    fit = SARIMAX(y[:n_train], order=(1, 0, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    sarima = np.concatenate([y[:n_train], fit.forecast(horizon)])
    ds = xr.Dataset(
        {"forecast": (("model", "time"), np.stack([naive, sarima]))},
        coords={"model": ["seasonal_naive", "sarima"], "time": years},
        attrs={"n_train": n_train, "series": p["series"]},
    )
    ds["observed"] = ("time", y)
    step.write(ds, step.output[0])
