"""Claim `periodic`, training part 2: the real-series forecast nets and their classical
baselines (separate from train.py, so editing one never reruns the other's jobs)."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.claims.periodic.train import parse_activation
from paperclaims.nets import EnsembleMLP, train_full_batch
from paperclaims.seeds import member_seeds


# ---------------------------------------------------------------- real series: Mauna Loa CO2
def co2_monthly() -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' weekly Mauna Loa CO2 (1958–2001), as monthly means; time in decimal years."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    years = monthly.index.year + (monthly.index.month - 1) / 12
    return np.asarray(years, dtype=float), monthly.to_numpy(dtype=float)


def _split_series(train_fraction: float):
    years, ppm = co2_monthly()
    n_train = int(round(train_fraction * len(ppm)))
    mean, sd = ppm[:n_train].mean(), ppm[:n_train].std()
    x = (years - years[0]) / 10  # decades since the first month: O(1) inputs
    return x, (ppm - mean) / sd, n_train, years


def train_forecast(step) -> None:
    """Fit a 1–h–h–1 net to the early part of the CO2 series (all seeds batched), forecast the rest."""
    p = step.params
    activation, a = parse_activation(p["model"])
    x, y, n_train, years = _split_series(p["train_fraction"])
    dtype, device = torch.float32, step.device
    xt = torch.as_tensor(x, dtype=dtype, device=device)[:, None]
    yt = torch.as_tensor(y, dtype=dtype, device=device)[:, None]
    model = EnsembleMLP(
        [1, p["width"], p["width"], 1],
        member_seeds(p["cell_seed"], p["n_seeds"]),
        activation,
        snake_a=a,
        learnable_a=activation == "snake",
        init=p["init"],
        dtype=dtype,
        device=device,
    )
    when, loss = train_full_batch(
        model,
        xt[:n_train],
        yt[:n_train],
        steps=p["steps"],
        optimizer="adam",
        lr=p["lr"],
        checkpoint=step.checkpoint(),
    )
    with torch.no_grad():
        pred = model(xt)[..., 0].cpu().double().numpy()
    ds = xr.Dataset(
        {
            "forecast": (("seed", "time"), pred, {"units": "standardized ppm"}),
            "train_loss": (("seed", "step"), loss.cpu().double().numpy()),
        },
        coords={"seed": np.arange(p["n_seeds"]), "time": years, "step": np.array(when)},
        attrs={"model": p["model"], "n_train": n_train},
    )
    ds["observed"] = ("time", y)
    step.write(ds, step.output[0])


def forecast_baselines(step) -> None:
    """Classical baselines on the same split: seasonal naive with drift, and SARIMA(1,1,1)(0,1,1)12."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    p = step.params
    x, y, n_train, years = _split_series(p["train_fraction"])
    horizon = len(y) - n_train
    last_year = y[n_train - 12 : n_train]
    drift = (y[n_train - 1] - y[0]) / (n_train - 1)
    k = np.arange(1, horizon + 1)
    naive = np.concatenate(
        [y[:n_train], last_year[(k - 1) % 12] + drift * 12 * ((k - 1) // 12 + 1)]
    )
    fit = SARIMAX(y[:n_train], order=(1, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    sarima = np.concatenate([y[:n_train], fit.forecast(horizon)])
    ds = xr.Dataset(
        {"forecast": (("model", "time"), np.stack([naive, sarima]))},
        coords={"model": ["seasonal_naive", "sarima"], "time": years},
        attrs={"n_train": n_train},
    )
    ds["observed"] = ("time", y)
    step.write(ds, step.output[0])
