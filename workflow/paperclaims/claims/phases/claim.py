"""Registry entry of claim `phases`: its steps, the parameters each reads, and its figures.

Four phases of SGD learning with mislabeled data (Feng & Tu 2021). One train job per data set
(every noise level × seed batched in one ensemble) → cleaning + retraining → measure (subset
curves, order parameters, AUROC, detected phases) → verdict → papermill figures. Torch-free: the
Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperclaims.blocks import block_range
from paperclaims.config import some_value, value
from paperclaims.registry import (
    Claim,
    RecordedConfig,
    Step,
    Sweep,
    TrainStep,
    block_of,
    computed,
    seed,
    wildcard,
)


def mnist_dir_of(config: dict, wildcards: dict) -> str:
    """mnist_dir reaches only the 'mnist' job, so setting it leaves the other data sets cached."""
    return config["mnist_dir"] if wildcards["dataset"] == "mnist" else ""


def model_width(p: dict) -> int:
    """The width a step's cost grows with: the CNN's channels on MNIST-1D, else the MLP's."""
    return p["channels"] if p["dataset"] == "mnist1d" else p["width"]


@dataclass(frozen=True)
class TrainParams:
    dataset: str = wildcard()
    # the job's block of noise levels and of seed indices ('first-last'; NOISE_BLOCKS,
    # SEED_BLOCKS): a member's randomness derives from (data set, ρ, seed index) alone
    noise_block: str = wildcard()
    seed_block: str = wildcard()
    cell_seed: int = seed("{dataset}")
    noise: list = block_of("noise", "noise_block")
    n_train: int
    n_test: int
    width: int
    channels: int
    depth: int
    lr: float
    batch_size: int
    steps: int
    n_records: int
    mnist_dir: str = computed(mnist_dir_of, reads=("mnist_dir",))


@dataclass(frozen=True)
class CleanParams(TrainParams):
    """The train job's parameters: the cleaning rule (train.CLEANING_RULE) is code, not config,
    and reads only the per-sample training losses."""


@dataclass(frozen=True)
class MeasureParams:
    """The phase rule and every threshold are code (train.PHASE_RULE, analysis.THRESHOLDS)."""


DATASETS = Sweep.of("dataset", "[a-z0-9]+", "datasets")
# Issue 19: a data set's noise levels × seeds cut into jobs (paper scale: ≈ 8 CPU-hours per data
# set); every member's randomness derives from (base seed, claim, data set, ρ, seed index), so any
# cut gives the same runs and the measure step merges the blocks.
NOISE_BLOCKS = Sweep.blocks("noise_block", "noise", "noise_per_job")
SEED_BLOCKS = Sweep.blocks("seed_block", "n_seeds", "seeds_per_job")

CLAIM = Claim(
    name="phases",
    paper="Feng & Tu: Phases of learning dynamics in artificial neural networks in the absence or "
    "presence of mislabeled data (Mach. Learn.: Sci. Technol. 2021)",
    train=(
        TrainStep(
            name="train",
            function="train:train",
            output="runs/{dataset}_rho{noise_block}_seed{seed_block}.nc",
            params=TrainParams,
            work=lambda p: (
                p["steps"]
                * len(p["noise"])
                * len(block_range(p["seed_block"]))
                * p["batch_size"]
                * model_width(p) ** 2
            ),
            sweep=(DATASETS, NOISE_BLOCKS, SEED_BLOCKS),
            measured_as="runs",
            mem_mb=3000,
            runtime=60,
        ),
        TrainStep(
            name="clean",
            function="train:clean_and_retrain",
            output="runs/cleaned/{dataset}_rho{noise_block}_seed{seed_block}.nc",
            params=CleanParams,
            work=lambda p: (
                2
                * p["steps"]
                * sum(r > 0 for r in p["noise"])
                * len(block_range(p["seed_block"]))
                * p["batch_size"]
                * model_width(p) ** 2
            ),
            sweep=(DATASETS, NOISE_BLOCKS, SEED_BLOCKS),
            measured_as="cleaned",
            after="train",
            mem_mb=3000,
            runtime=60,
        ),
    ),
    measure=Step("analysis:measure", MeasureParams, mem_mb=3000),
    verdict=Step("analysis:verdict", RecordedConfig),
    figures=("test_error", "order_parameters", "auroc", "cleaning", "clean_data"),
    # ρ = 0 for the clean-data checks; a ρ ≥ 0.2 for the four-phase (headline) checks
    required_cells=(
        ("phases.noise", value(0)),
        ("phases.noise", some_value("≥ 0.2", lambda rho, _: rho >= 0.2)),
    ),
)
