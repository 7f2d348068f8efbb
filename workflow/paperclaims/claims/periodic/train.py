"""Claim `periodic`, training part: the 1-D extrapolation nets (one sweep cell per target ×
activation, all seeds batched), the CO2 forecast nets and the classical CO2 baselines. Each step
writes one file; the analysis (measure, checks, verdict) is in analysis.py, so editing it never
reruns these.

Units follow the authors' notebook: training inputs are drawn from U(5, 15) ∪ U(−15, −5) and
divided by 15, so the training region is 1/3 ≤ |x| ≤ 1 and the target sin(x_raw) is sin(15 x).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.nets import EnsembleMLP, train_full_batch
from paperclaims.seeds import generator, member_seeds


# The cell names of claim.py's sweep, read back (claim.py writes them; it imports the registry,
# which training must not hash).
def parse_activation(cell: str) -> tuple[str, float]:
    """'snake_a10' → ('snake', 10.0); 'relu' → ('relu', 1.0)."""
    if cell.startswith("snake_a"):
        return "snake", float(cell[len("snake_a") :])
    return cell, 1.0


FREQUENCY = 15.0  # angular frequency of every target in the scaled input x = x_raw / 15


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


# ---------------------------------------------------------------- train
def _train_inputs(n: int, seed: int) -> torch.Tensor:
    gen = generator(seed)
    magnitude = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 10 + 5
    sign = torch.where(torch.rand(n, 1, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
    return magnitude * sign / 15


def train_extrapolation(step) -> None:
    """One sweep cell (target × activation): all seeds trained as one ensemble, full batch."""
    p = step.params
    activation, a = parse_activation(p["activation"])
    dtype = torch.float32
    device = step.device
    seeds = member_seeds(p["cell_seed"], p["n_seeds"])
    x_train = _train_inputs(p["n_train"], p["cell_seed"]).to(device=device, dtype=dtype)
    y_train = target(p["target"], x_train)
    model = EnsembleMLP(
        [1, p["width"], 1], seeds, activation, snake_a=a, init=p["init"], dtype=dtype, device=device
    )
    when, loss = train_full_batch(
        model,
        x_train,
        y_train,
        steps=p["steps"],
        lr=p["lr"],
        momentum=p["momentum"],
        checkpoint=step.checkpoint(),
    )
    x_grid = np.linspace(-p["x_max"], p["x_max"], p["n_grid"])
    x_far = np.concatenate(
        [-np.linspace(*p["far_range"][::-1], 201), np.linspace(*p["far_range"], 201)]
    )
    with torch.no_grad():
        pred = model(torch.as_tensor(x_grid, dtype=dtype, device=device)[:, None])[..., 0]
        pred_far = model(torch.as_tensor(x_far, dtype=dtype, device=device)[:, None])[..., 0]
    ds = xr.Dataset(
        {
            "prediction": (("seed", "x"), pred.cpu().double().numpy()),
            "prediction_far": (("seed", "x_far"), pred_far.cpu().double().numpy()),
            "train_loss": (("seed", "step"), loss.cpu().double().numpy(), {"units": "MSE"}),
        },
        coords={
            "seed": np.arange(len(seeds)),
            "member_seed": ("seed", np.array(seeds, dtype=np.int64)),
            "x": ("x", x_grid, {"units": "x_raw / 15", "long_name": "input"}),
            "x_far": ("x_far", x_far, {"units": "x_raw / 15"}),
            "step": ("step", np.array(when)),
        },
        attrs={
            "target": p["target"],
            "activation": activation,
            "snake_a": a,
            "cell": p["activation"],
        },
    )
    ds["target"] = ("x", target(p["target"], x_grid))
    step.write(ds, step.output[0])


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
