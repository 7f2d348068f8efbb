"""Registry entry of claim `locality`: its steps, the parameters each reads, and its figures.

Depth helps k-local targets and hurts k-global ones; the NTK misses it. Train: one job per
n_train × depth cell, every target × seed (and each one's shuffled-label control) in one
ensemble, trained to a training-loss criterion; NTK regression: one job per n_train,
every depth. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from paperclaims.blocks import block_range
from paperclaims.config import value
from paperclaims.registry import (
    Claim,
    RecordedConfig,
    Step,
    Sweep,
    TrainStep,
    computed,
    key,
    seed,
    wildcard,
)


# one target per (label type, k)
def target_names(label_types: list[str], ks: list[int]) -> list[str]:
    return [f"{kind}_k{k}" for kind, k in itertools.product(label_types, ks)]


# n_train is per label type (the NTK-only pilot chooses N per target: pilot.py, rule 4); the
# sweep runs every N of any label type, and each N cell trains only the targets listed at it.
def n_train_values(config: dict) -> list[int]:
    return sorted({n for kind in config["labels"] for n in config["n_train"][kind]})


def _targets(config: dict, wildcards: dict) -> list[str]:
    n = int(wildcards["n_train"])
    kinds = [kind for kind in config["labels"] if n in config["n_train"][kind]]
    return target_names(kinds, config["k"])


def _lr(config: dict, wildcards: dict) -> float | list[float]:
    """train.lr: one lr for every depth, or per label type a list aligned with ``depths`` (the lr
    pilot's choice, lr_pilot.py); then one lr per target of the cell, in ``_targets``' order."""
    lr = config["train"]["lr"]
    if not isinstance(lr, dict):
        return lr
    depth = int(wildcards["depth"])
    out = []
    for target in _targets(config, wildcards):
        per_depth = lr[target.partition("_k")[0]]
        if len(per_depth) != len(config["depths"]):
            raise ValueError(
                f"locality.train.lr: {len(per_depth)} values for depths {config['depths']}"
            )
        out.append(per_depth[config["depths"].index(depth)])
    return out


def ntk_memory(config: dict, wildcards: dict) -> int:
    """NTK jobs hold a few float64 (seed, n, n)-sized Gram arrays, train and test, per seed of
    their block."""
    n, seeds = int(wildcards["n_train"]), len(block_range(wildcards["seed_block"]))
    return 1000 + 48 * seeds * n * (n + config["n_test"]) // 2**20


# Every train and NTK job reads only its own cell's values plus what defines the data and the
# targets (and, for training, the train section): another depth or N leaves a job cached.
@dataclass(frozen=True)
class TrainParams:
    n_train: int = wildcard()
    depth: int = wildcard()
    cell_seed: int = seed()  # ("n_train", "depth")
    train_seed: int = seed("train_data", "{n_train}")  # shared by every depth and the NTK
    test_seed: int = seed("test_data")
    targets: list = computed(_targets, reads=("labels", "k", "n_train"))
    family: str = key("family")
    inputs: str = key("inputs")
    d: int = key("d")
    n_test: int = key("n_test")
    n_seeds: int = key("n_seeds")
    width: int
    optimizer: str
    lr: object = computed(_lr, reads=("train.lr", "labels", "k", "n_train", "depths"))
    batch_size: int
    max_epochs: int
    loss: str
    loss_target: float  # the protocol's criterion: mean training loss ≤ loss_target
    eval_every: int  # test error recorded every eval_every epochs (error-against-epochs figure)


@dataclass(frozen=True)
class NtkParams:
    n_train: int = wildcard()
    seed_block: str = wildcard()  # the job's data seeds, 'first-last' (NTK_SEED_BLOCKS)
    train_seed: int = seed("train_data", "{n_train}")
    test_seed: int = seed("test_data")
    targets: list = computed(_targets, reads=("labels", "k", "n_train"))
    family: str = key("family")
    inputs: str = key("inputs")
    d: int = key("d")
    n_test: int = key("n_test")
    depths: list = key("depths")
    ridge: float


@dataclass(frozen=True)
class MeasureParams:
    family: str
    inputs: str
    d: int
    n_test: int
    width: int = key("train.width")
    loss_target: float = key("train.loss_target")


N_TRAIN = Sweep(
    "n_train", "[0-9]+", lambda c: [str(n) for n in n_train_values(c)], ("labels", "n_train")
)
# Issue 19: an NTK cell's seeds cut into jobs (paper scale, N = 4000: ≈ 3 CPU-hours in one job).
# Seed s's data derive from (train_seed, test_seed, s) alone and the kernel regression has no
# randomness, so any cut gives the same arrays.
NTK_SEED_BLOCKS = Sweep.blocks("seed_block", "n_seeds", "ntk.seeds_per_job")

CLAIM = Claim(
    name="locality",
    paper="Mori & Ueda: Is deeper better? It depends on locality of relevant features "
    "(arXiv 2005.12488; rev. 2201.12082)",
    train=(
        TrainStep(
            name="train",
            function="train:train",
            output="runs/net/N{n_train}__L{depth}.nc",
            params=TrainParams,
            work=lambda p: (
                p["n_seeds"]
                * len(p["targets"])
                * p["max_epochs"]
                * p["n_train"]
                * p["depth"]
                * p["width"] ** 2
            ),
            section="train",
            sweep=(N_TRAIN, Sweep.of("depth", "[0-9]+", "depths")),
            measured_as="nets",
            mem_mb=2000,
            runtime=60,
        ),
        TrainStep(
            name="ntk",
            function="train:ntk",
            output="runs/ntk/N{n_train}_seed{seed_block}.nc",
            params=NtkParams,
            work=lambda p: (
                len(block_range(p["seed_block"]))
                * len(p["targets"])
                * len(p["depths"])
                * p["n_train"]
                * (p["n_train"] + p["n_test"])
                * (p["n_train"] + p["d"])
            ),
            section="ntk",
            sweep=(N_TRAIN, NTK_SEED_BLOCKS),
            measured_as="ntk",
            mem_mb=ntk_memory,
            runtime=30,
        ),
    ),
    measure=Step("analysis:measure", MeasureParams, mem_mb=2000, runtime=10),
    verdict=Step("analysis:verdict", RecordedConfig),
    figures=("error_vs_depth", "error_vs_epochs"),
    # the verdict reads both label types (local_* and global_* checks)
    required_cells=(("locality.labels", value("local")), ("locality.labels", value("global"))),
)
