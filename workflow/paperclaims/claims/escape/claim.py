"""Registry entry of claim `escape`: its steps, the parameters each reads, and its figures.

SGD's noise ∝ loss gives a power-law stationary law P ∝ L^(−φ) and escape times set by the loss
ratio. Simulate (one job per sweep cell, all chains of a cell as one float64 tensor): the stationary
law per (η, B), the first passage per d, the ratio test per (process, σ_y) on the scaled and on the
translated (cosine) landscape, the discreteness cells, and the noise ∝ loss
MLP (one job). Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paperclaims.config import ConfigError, some_value
from paperclaims.registry import (
    OMIT,
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


def first_passage_c(config: dict) -> dict[str, list[float]]:
    """{'1': [1.2, …], …}: the thresholds c of each first-passage cell, by its d (as in file names)."""
    return {str(cell["dim"]): cell["c"] for cell in config["first_passage"]["cells"]}


# The ratio cells' thresholds, by process: c for SGD, ΔL and the reference loss for Langevin; a
# process's cells do not take the other's keys.
RATIO_THRESHOLDS = {
    "sgd": {"c": "c"},
    "langevin": {
        "delta_loss": "langevin_delta_loss",
        "langevin_reference_loss": "langevin_reference_loss",
    },
}


def _ratio_threshold(name: str):
    def value(config: dict, wildcards: dict):
        keys = RATIO_THRESHOLDS[wildcards["process"]]
        return config["ratio"][keys[name]] if name in keys else OMIT

    return value


def chain_step_cost(p: dict) -> int:
    """One chain step's cost, as train.py sizes its chunks: a minibatch of B samples in d
    dimensions for SGD, 4d numbers for Langevin (a job without ``dim`` runs d = 1)."""
    dim, batch = p.get("dim", 1), p.get("batch", 1)
    return batch * (dim + 2) + 2 * dim if p.get("process", "sgd") == "sgd" else 4 * dim


def censored_chain_steps(p: dict) -> int:
    """A first-passage job's work (paperclaims.scale) if every chain ran to ``max_steps``. Chains
    that escape stop earlier, and escape times do not grow with the cap, so at a larger cap
    than the measured run's the estimate errs high."""
    return p["chains"] * p["max_steps"] * chain_step_cost(p)


def mlp_weights(p: dict) -> int:
    """Weights of the noise-measurement MLP (MNIST-1D's 40 inputs or digits' 64, 10 classes)."""
    sizes = [64 if p["dataset"] == "digits" else 40, *p["hidden"], 10]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class StationaryParams:
    lr: float = wildcard()
    batch: int = wildcard()
    cell_seed: int = seed("stationary", "{lr}", "{batch}")
    n_data: int
    label_noise: float
    chains: int
    burn_in: int
    n_samples: int
    thin: int


@dataclass(frozen=True)
class StationaryLangevinParams:
    """The φ tail test's control: constant-noise Langevin chains (Gaussian stationary law, no
    tail) with the variance scale of the same (η, B) cell, on the same settings."""

    lr: float = wildcard()
    batch: int = wildcard()
    process: str = computed(lambda c, wc: "langevin")
    cell_seed: int = seed("stationary_langevin", "{lr}", "{batch}")
    n_data: int
    label_noise: float
    chains: int
    burn_in: int
    n_samples: int
    thin: int


def _datasets_dividing_chains(section: str):
    """``<section>.n_datasets``, refused before any job starts unless it divides the chains."""

    def value(config: dict, wildcards: dict) -> int:
        n_sets, chains = config[section]["n_datasets"], config[section]["chains"]
        if chains % n_sets:
            raise ConfigError(
                f"config key 'escape.{section}.n_datasets' = {n_sets!r} is invalid: must divide "
                f"'escape.{section}.chains' = {chains} (the chains are split evenly over the "
                "data sets). See config/README.md."
            )
        return n_sets

    return value


@dataclass(frozen=True)
class FirstPassageParams:
    process: str = computed(lambda c, wc: "sgd")
    dim: int = wildcard()
    c: list = computed(lambda c, wc: first_passage_c(c)[wc["dim"]], reads=("first_passage.cells",))
    cell_seed: int = seed("first_passage", "{dim}")
    label_noise: float
    chains: int
    n_datasets: int = computed(
        _datasets_dividing_chains("first_passage"),
        reads=("first_passage.n_datasets", "first_passage.chains"),
    )
    max_steps: int
    # shared with the ratio cells and the measure step
    lr: float
    batch: int
    n_data: int


@dataclass(frozen=True)
class RatioParams:
    process: str = wildcard()
    dim: int
    label_noise: float = computed(lambda c, wc: float(wc["noise"]))
    cell_seed: int = seed("ratio", "{process}", "{noise}")
    # one data set for every ratio cell: labels σ y₀ on the same inputs
    data_seed: int = seed("ratio", "data")
    c: list = computed(_ratio_threshold("c"), reads=("ratio.c",))
    delta_loss: list = computed(
        _ratio_threshold("delta_loss"), reads=("ratio.langevin_delta_loss",)
    )
    langevin_reference_loss: float = computed(
        _ratio_threshold("langevin_reference_loss"), reads=("ratio.langevin_reference_loss",)
    )
    chains: int
    max_steps: int
    # the first-passage settings the ratio cells share with Fig. 3b
    lr: float = key("first_passage.lr")
    batch: int = key("first_passage.batch")
    n_data: int = key("first_passage.n_data")


# The cosine cells' thresholds, by process, as for the ratio cells (claim issue 15).
def _cosine_threshold(name: str):
    def value(config: dict, wildcards: dict):
        keys = RATIO_THRESHOLDS[wildcards["process"]]
        return config["cosine"][keys[name]] if name in keys else OMIT

    return value


@dataclass(frozen=True)
class CosineParams:
    """Ratio, not difference, on the translated cosine landscape (L* moves, the shape 1 − cos θ
    stays): SGD and its constant-noise Langevin control, one cell per (process, σ)."""

    process: str = wildcard()
    label_noise: float = computed(lambda c, wc: float(wc["noise"]))
    cell_seed: int = seed("cosine", "{process}", "{noise}")
    # one data set (inputs and ε) for every cosine cell: labels x₁ + σ ε
    data_seed: int = seed("cosine", "data")
    c: list = computed(_cosine_threshold("c"), reads=("cosine.c",))
    delta_loss: list = computed(
        _cosine_threshold("delta_loss"), reads=("cosine.langevin_delta_loss",)
    )
    langevin_reference_loss: float = computed(
        _cosine_threshold("langevin_reference_loss"), reads=("cosine.langevin_reference_loss",)
    )
    chains: int
    max_steps: int
    n_data: int
    lr: float = key("first_passage.lr")
    batch: int = key("first_passage.batch")


def _discreteness_lr(config: dict, wildcards: dict) -> float:
    """η = B / (B/(ηh*)) at h* = 1: the sweep holds B/(ηh*) fixed and raises ηh* with B."""
    return int(wildcards["batch"]) / config["discreteness"]["batch_over_lr"]


@dataclass(frozen=True)
class DiscretenessParams:
    process: str = wildcard()
    batch: int = wildcard()
    lr: float = computed(_discreteness_lr, reads=("discreteness.batch_over_lr",))
    cell_seed: int = seed("discreteness", "{process}", "{batch}")
    # one data set for every cell: the same landscape at every ηh*
    data_seed: int = seed("discreteness", "data")
    max_steps: int = computed(
        lambda c, wc: math.ceil(c["discreteness"]["horizon"] / _discreteness_lr(c, wc)),
        reads=("discreteness.horizon", "discreteness.batch_over_lr"),
    )
    c: list
    chains: int
    n_datasets: int
    label_noise: float = key("first_passage.label_noise")
    n_data: int = key("first_passage.n_data")


@dataclass(frozen=True)
class DiscretenessFixedBatchParams:
    """The discrete-time excess check's further cells: B held (``fixed_batch``), η varied, the
    same thresholds c, data sets and horizon as the B sweep's cells."""

    process: str = wildcard()
    lr: float = wildcard()
    batch: int = key("discreteness.fixed_batch")
    cell_seed: int = seed("discreteness_fixed_batch", "{process}", "{lr}")
    data_seed: int = seed("discreteness", "data")
    max_steps: int = computed(
        lambda c, wc: math.ceil(c["discreteness"]["horizon"] / float(wc["lr"])),
        reads=("discreteness.horizon",),
    )
    c: list = key("discreteness.c")
    chains: int = key("discreteness.chains")
    n_datasets: int = key("discreteness.n_datasets")
    label_noise: float = key("first_passage.label_noise")
    n_data: int = key("first_passage.n_data")


@dataclass(frozen=True)
class NoiseParams:
    cell_seed: int = seed("noise")
    dataset: str
    n_train: int
    hidden: list
    lr: float
    batch: int
    epochs: int
    n_seeds: int


@dataclass(frozen=True)
class MeasureParams:
    fixed_batch: int = key("discreteness.fixed_batch")
    # the discreteness cells' data sets, rebuilt for the Gaussian chain's quadrature reference
    data_seed: int = seed("discreteness", "data")
    n_datasets: int = key("discreteness.n_datasets")
    label_noise: float = key("first_passage.label_noise")
    lr: float = key("first_passage.lr")
    batch: int = key("first_passage.batch")
    n_data: int = key("first_passage.n_data")
    late_fraction: float = key("noise.late_fraction")


@dataclass(frozen=True)
class VerdictParams:
    phi_check_max_lr: float = key("stationary.phi_check_max_lr")
    collapse_tolerance: float = key("ratio.collapse_tolerance")
    config: dict = whole_config()


# the processes a step runs side by side as one wildcard (SGD beside its controls)
_SGD_LANGEVIN = Sweep("process", "sgd|langevin", lambda c: ["sgd", "langevin"])
_SGD_EM_EXACT = Sweep("process", "sgd|em|em_exact", lambda c: ["sgd", "em", "em_exact"])

CLAIM = Claim(
    name="escape",
    paper="Mori, Ziyin, Liu, Ueda: Power-Law Escape Rate of SGD (ICML 2022)",
    train=(
        TrainStep(
            name="simulate_stationary",
            function="train:simulate_stationary",
            output="runs/stationary/lr{lr}_B{batch}.nc",
            params=StationaryParams,
            work=lambda p: (
                p["chains"] * (p["burn_in"] + p["n_samples"] * p["thin"]) * chain_step_cost(p)
            ),
            section="stationary",
            sweep=(
                Sweep.of("lr", "[0-9.e+-]+", "stationary.lr", lambda v: f"{v:g}"),
                Sweep.of("batch", "[0-9]+", "stationary.batch"),
            ),
            measured_as="stationary",
        ),
        TrainStep(
            name="simulate_stationary_langevin",
            function="train:simulate_stationary",
            output="runs/stationary_langevin/lr{lr}_B{batch}.nc",
            params=StationaryLangevinParams,
            work=lambda p: (
                p["chains"] * (p["burn_in"] + p["n_samples"] * p["thin"]) * chain_step_cost(p)
            ),
            section="stationary",
            sweep=(
                Sweep(
                    "lr",
                    "[0-9.e+-]+",
                    lambda c: [f"{lr:g}" for lr in c["stationary"]["lr"]],
                    reads=("stationary.lr",),
                ),
                Sweep(
                    "batch",
                    "[0-9]+",
                    lambda c: c["stationary"]["batch"],
                    reads=("stationary.batch",),
                ),
            ),
            measured_as="stationary_langevin",
        ),
        TrainStep(
            name="simulate_first_passage",
            function="train:simulate_first_passage",
            output="runs/first_passage/d{dim}.nc",
            params=FirstPassageParams,
            work=censored_chain_steps,
            section="first_passage",
            sweep=(
                Sweep(
                    "dim",
                    "[0-9]+",
                    lambda c: list(first_passage_c(c)),
                    reads=("first_passage.cells",),
                ),
            ),
            measured_as="first_passage",
            runtime=60,
        ),
        TrainStep(
            name="simulate_ratio",
            function="train:simulate_first_passage",
            output="runs/ratio/{process}_noise{noise}.nc",
            params=RatioParams,
            work=censored_chain_steps,
            section="ratio",
            sweep=(
                _SGD_LANGEVIN,
                Sweep.of("noise", "[0-9.e+-]+", "ratio.label_noise", lambda v: f"{v:g}"),
            ),
            measured_as="ratio",
            runtime=60,
        ),
        TrainStep(
            name="simulate_cosine",
            function="cosine:simulate_cosine",
            output="runs/cosine/{process}_noise{noise}.nc",
            params=CosineParams,
            work=censored_chain_steps,
            section="cosine",
            sweep=(
                _SGD_LANGEVIN,
                Sweep(
                    "noise",
                    "[0-9.e+-]+",
                    lambda c: [f"{s:g}" for s in c["cosine"]["label_noise"]],
                    reads=("cosine.label_noise",),
                ),
            ),
            measured_as="cosine",
            runtime=60,
        ),
        TrainStep(
            name="simulate_discreteness",
            function="train:simulate_discreteness",
            output="runs/discreteness/{process}_B{batch}.nc",
            params=DiscretenessParams,
            work=censored_chain_steps,
            section="discreteness",
            sweep=(
                _SGD_EM_EXACT,
                Sweep(
                    "batch",
                    "[0-9]+",
                    lambda c: c["discreteness"]["batch"],
                    reads=("discreteness.batch",),
                ),
            ),
            measured_as="discreteness",
            runtime=60,
        ),
        TrainStep(
            name="simulate_discreteness_fixed_batch",
            function="train:simulate_discreteness",
            output="runs/discreteness_fixed_batch/{process}_lr{lr}.nc",
            params=DiscretenessFixedBatchParams,
            work=censored_chain_steps,
            section="discreteness",
            sweep=(
                _SGD_EM_EXACT,
                Sweep(
                    "lr",
                    "[0-9.e+-]+",
                    lambda c: [f"{lr:g}" for lr in c["discreteness"]["fixed_batch_lr"]],
                    reads=("discreteness.fixed_batch_lr",),
                ),
            ),
            measured_as="discreteness_fixed_batch",
            runtime=60,
        ),
        TrainStep(
            name="train_noise",
            function="train:train_noise",
            output="runs/noise.nc",
            params=NoiseParams,
            work=lambda p: p["n_seeds"] * p["epochs"] * p["n_train"] * mlp_weights(p),
            section="noise",
            measured_as="noise",
            mem_mb=2000,
            runtime=60,
        ),
    ),
    measure=Step("analysis:measure", MeasureParams),
    verdict=Step("analysis:verdict", VerdictParams),
    figures=(
        "phi_vs_batch",
        "stationary_tails",
        "first_passage",
        "ratio_not_difference",
        "cosine_ratio_not_difference",
        "discrete_excess",
        "noise_vs_loss",
    ),
    required_cells=(
        # the φ check reads the stationary cells with η ≤ phi_check_max_lr
        (
            "escape.stationary.lr",
            some_value(
                "≤ escape.stationary.phi_check_max_lr",
                lambda lr, c: lr <= c["escape"]["stationary"]["phi_check_max_lr"],
            ),
        ),
    ),
)
