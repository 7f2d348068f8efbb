"""Registry entry of claim `periodic`: its steps, the parameters each reads, and its figures.

ReLU/tanh fail to extrapolate periodic functions; Snake x + sin²(ax)/a fixes it. Train (one job per
target, every activation cell × seed batched; one job per real series × forecast net; the
classical baselines per series) → measure → verdict → papermill figures. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperclaims.config import ConfigError, value, value_of
from paperclaims.registry import (
    Claim,
    Step,
    Sweep,
    TrainStep,
    computed,
    key,
    seed,
    whole_config,
    wildcard,
)


# one cell per activation; Snake expands to one cell per frequency a
def activation_cells(activations: list[str], snake_a: list[float]) -> list[str]:
    cells = []
    for name in activations:
        cells += [f"snake_a{a:g}" for a in snake_a] if name == "snake" else [name]
    return cells


def forecast_models(models: list[str]) -> list[str]:
    """One forecast cell per net, plus the control snake_shuffled (Snake trained on its training
    series permuted in time) wherever Snake is trained."""
    return [*models, "snake_shuffled"] if "snake" in models else list(models)


def _cells(c: dict, wildcards: dict) -> list[str]:
    return activation_cells(c["extrapolation"]["activations"], c["extrapolation"]["snake_a"])


def _max_steps(c: dict, wildcards: dict) -> int:
    """The training criterion's cap: at least one block, and a whole number of blocks (its stall
    test compares blocks)."""
    steps, cap = c["extrapolation"]["steps"], c["extrapolation"]["max_steps"]
    cap = max(cap, steps)
    if cap % steps:
        raise ConfigError(
            f"config key 'periodic.extrapolation.max_steps' = {cap} is invalid: must be a "
            f"multiple of periodic.extrapolation.steps = {steps} (whole training blocks). "
            "See config/README.md."
        )
    return cap


@dataclass(frozen=True)
class ExtrapolationParams:
    target: str = wildcard()
    cell_seed: int = seed("{target}")
    # every activation cell of the target trains in the one job (one batched program)
    cells: list = computed(_cells, reads=("extrapolation.activations", "extrapolation.snake_a"))
    width: int
    n_per_side: int
    steps: int
    max_steps: int = computed(_max_steps, reads=("extrapolation.max_steps", "extrapolation.steps"))
    snake_a_headline: float  # the training criterion reads the headline Snake cell
    lr: float
    momentum: float
    init: str
    n_seeds: int
    x_max: float
    n_grid: int


@dataclass(frozen=True)
class ForecastParams:
    series: str = wildcard()
    model: str = wildcard()
    # one seed per series: every net of a series starts from the same seeds (a paired comparison)
    cell_seed: int = seed("{series}")
    width: int
    epochs: int
    max_epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    a_scale: float
    n_seeds: int
    window_years: int
    train_fraction: float


@dataclass(frozen=True)
class BaselineParams:
    series: str = wildcard()
    window_years: int
    train_fraction: float


@dataclass(frozen=True)
class MeasureParams:
    omega_min: float
    omega_max: float
    prop1_points: int
    far_points: int


@dataclass(frozen=True)
class VerdictParams:
    snake_a_headline: float = key("extrapolation.snake_a_headline")
    config: dict = whole_config()


CLAIM = Claim(
    name="periodic",
    paper="Ziyin, Hartwig, Ueda: Neural Networks Fail to Learn Periodic Functions and How to Fix "
    "It (NeurIPS 2020)",
    train=(
        TrainStep(
            name="train_extrapolation",
            function="train:train_extrapolation",
            output="runs/extrapolation/{target}.nc",
            params=ExtrapolationParams,
            work=lambda p: (
                p["max_steps"] * len(p["cells"]) * p["n_seeds"] * p["width"] * p["n_per_side"]
            ),
            section="extrapolation",
            sweep=(Sweep.of("target", "[a-z0-9_]+", "extrapolation.targets"),),
            measured_as="extrapolation",
            mem_mb=3000,
            runtime=60,
        ),
        TrainStep(
            name="train_forecast",
            function="forecast:train_forecast",
            output="runs/forecast/{series}_{model}.nc",
            params=ForecastParams,
            work=lambda p: p["max_epochs"] * p["n_seeds"] * p["width"] ** 2,
            section="forecast",
            sweep=(
                Sweep.of("series", "[a-z0-9]+", "forecast.series"),
                Sweep(
                    "model",
                    "[a-z0-9_]+",
                    lambda c: forecast_models(c["forecast"]["models"]),
                    reads=("forecast.models",),
                ),
            ),
            measured_as="forecast",
            mem_mb=2000,
            runtime=60,
        ),
        TrainStep(
            name="forecast_baselines",
            function="forecast:forecast_baselines",
            output="runs/forecast_baselines/{series}.nc",
            params=BaselineParams,
            work=lambda p: 1,
            section="forecast",
            sweep=(Sweep.of("series", "[a-z0-9]+", "forecast.series"),),
            measured_as="baselines",
            mem_mb=2000,
            runtime=20,
        ),
    ),
    measure=Step("analysis:measure", MeasureParams, section="measure"),
    verdict=Step("analysis:verdict", VerdictParams),
    figures=(
        "extrapolation",
        "extrapolation_summary",
        "far_field",
        "forecast",
        "snake_variance",
    ),
    # the cells the verdict's required checks (analysis.REQUIRED) read
    required_cells=(
        ("periodic.extrapolation.snake_a", value_of("periodic.extrapolation.snake_a_headline")),
        ("periodic.extrapolation.activations", value("relu")),
        ("periodic.extrapolation.activations", value("snake")),
        ("periodic.forecast.models", value("relu")),
        ("periodic.forecast.models", value("snake")),
        ("periodic.forecast.series", value("elnino")),
    ),
)
