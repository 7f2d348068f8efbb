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


INPUTS = {"digits": 64, "mnist1d": 40, "mnist": 784}  # features per sample; 10 classes each
CNN_KERNEL = 5  # cnn.EnsembleCNN's default kernel, stride 2


def sample_macs(p: dict) -> int:
    """Multiply-adds of one forward pass of one member on one sample: the CNN on MNIST-1D
    (train.CNN_DATASETS), else the MLP (``depth`` hidden layers of ``width``)."""
    n_in = INPUTS[p["dataset"]]
    if p["dataset"] == "mnist1d":
        macs, length, c_in = 0, n_in, 1
        for _ in range(p["depth"]):
            length = (length - 1) // 2 + 1  # padding kernel // 2, stride 2
            macs += length * p["channels"] * c_in * CNN_KERNEL
            c_in = p["channels"]
        return macs + length * p["channels"] * 10
    sizes = [n_in, *[p["width"]] * p["depth"], 10]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def train_work(p: dict) -> int:
    """Per member: SGD steps (forward + backward ≈ 3 passes of a minibatch) and, at each record,
    the training set's evaluation, minibatch gradients and subset gradients (≈ 5 passes)."""
    members = len(p["noise"]) * len(block_range(p["seed_block"]))
    passes = 3 * p["steps"] * p["batch_size"] + 5 * p["n_records"] * p["n_train"]
    return members * passes * sample_macs(p)


def clean_work(p: dict) -> int:
    """Two retrained members (cleaned, random removal) per noisy member; the test set at each
    record."""
    members = 2 * sum(rho > 0 for rho in p["noise"]) * len(block_range(p["seed_block"]))
    passes = 3 * p["steps"] * p["batch_size"] + p["n_records"] * p["n_test"]
    return members * passes * sample_macs(p)


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
            work=train_work,
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
            work=clean_work,
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
