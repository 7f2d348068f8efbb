"""Registry entry of claim `saddles`: its steps, the parameters each reads, and its figures.

SGD near a Type-II saddle is a product of random multipliers; it is attracted to the saddle iff the
Lyapunov exponents are negative, even where L2 stability says it cannot be. (A) random-multiplier
check: one job per (mean, sd) case, all learning rates × chains batched. (B) phase diagram of
f = u·w·x from u, w ~ N(0, 1), with its Type-I control: one job per batch size, all λ × σ × chains
batched. (C) a diagonal two-layer net (input dim > 1): Λ̂ from minibatch Hessians, SGD. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperclaims.blocks import block_range
from paperclaims.registry import Claim, RecordedConfig, Step, Sweep, TrainStep, seed, wildcard

# The phase diagram's λ grid cut into jobs of ``lr_per_job`` points (issue 19: a paper-scale batch
# size is ≈ 5 CPU-hours). Every (λ, σ) cell's chain i shares its random draws by design (paired
# cells), so a chain's randomness derives from (base seed, claim, batch size, chain index) alone
# and any cut of the λ grid gives the same arrays.
LR_BLOCKS = Sweep.blocks("lr_block", "phases.lr_points", "phases.lr_per_job")
# (C)'s λ grid likewise (paper scale ≈ 4 CPU-hours in one job); its chains' draws do not depend on
# λ either.
TWOLAYER_LR_BLOCKS = Sweep.blocks("lr_block", "twolayer.lr_points", "twolayer.lr_per_job")


def phase_work(p: dict) -> int:
    """Per chain step: the minibatch draw (B samples, shared by every cell) and each (λ, σ) cell's
    update, for the toy and its Type-I control."""
    cells = len(block_range(p["lr_block"])) * p["noise_points"]
    return p["chains"] * p["steps"] * (p["batch"] + 2 * cells)


def case_name(mean: float, sd: float) -> str:
    """(−1, 4) → 'mean-1_sd4': one theorem-check case per (mean, sd) of the random multiplier."""
    return f"mean{mean:g}_sd{sd:g}"


@dataclass(frozen=True)
class MultiplierParams:
    case: str = wildcard()
    cell_seed: int = seed()
    lr_min: float
    lr_max: float
    lr_points: int
    chains: int
    steps: int
    checkpoints: int


@dataclass(frozen=True)
class PhaseParams:
    batch: int = wildcard()
    lr_block: str = wildcard()  # the job's indices into the λ grid, 'first-last'
    cell_seed: int = seed()  # from the batch size alone: a block wildcard is no cell key
    slope: float
    lr_min: float
    lr_max: float
    lr_points: int
    noise_max: float
    noise_points: int
    chains: int
    steps: int
    init_scale: float
    window: float
    type_one_noise: float
    gradient_samples: int


@dataclass(frozen=True)
class TwoLayerParams:
    lr_block: str = wildcard()  # the job's indices into the λ grid, 'first-last'
    cell_seed: int = seed()  # a block wildcard is no cell key: the same seed for every block
    input_dim: int
    slope: float
    batch: int
    lr_min: float
    lr_max: float
    lr_points: int
    noise_max: float
    noise_points: int
    chains: int
    steps: int
    lyapunov_steps: int
    type_one_noise: float
    gradient_samples: int


@dataclass(frozen=True)
class MeasureParams:
    collapse_below: float
    diverge_above: float
    contour_points: int


CLAIM = Claim(
    name="saddles",
    paper="Ziyin, Li, Galanti, Ueda: Type-II Saddles and Probabilistic Stability of SGD "
    "(arXiv 2303.13093)",
    train=(
        TrainStep(
            name="simulate_multiplier",
            function="train:simulate_multiplier",
            output="runs/theorem/{case}.nc",
            params=MultiplierParams,
            work=lambda p: p["chains"] * p["steps"] * p["lr_points"],
            section="theorem",
            sweep=(
                Sweep(
                    "case",
                    "mean[-0-9.e+]+_sd[0-9.e+]+",
                    lambda c: [case_name(mean, sd) for mean, sd in c["theorem"]["cases"]],
                    reads=("theorem.cases",),
                ),
            ),
            measured_as="theorem",
            runtime=10,
        ),
        TrainStep(
            name="simulate_phases",
            function="train:simulate_phases",
            output="runs/phases/batch{batch}_lr{lr_block}.nc",
            params=PhaseParams,
            work=phase_work,
            section="phases",
            sweep=(Sweep.of("batch", "[0-9]+", "phases.batch_sizes"), LR_BLOCKS),
            measured_as="phases",
            mem_mb=2000,
        ),
        TrainStep(
            name="simulate_twolayer",
            function="train:simulate_twolayer",
            output="runs/twolayer/lr{lr_block}.nc",
            params=TwoLayerParams,
            work=lambda p: (
                p["chains"]
                * (p["steps"] + p["lyapunov_steps"])
                * len(block_range(p["lr_block"]))
                * p["noise_points"]
                * p["batch"]
                * p["input_dim"]
            ),
            section="twolayer",
            sweep=(TWOLAYER_LR_BLOCKS,),
            measured_as="twolayer",
            mem_mb=2000,
        ),
    ),
    measure=Step("analysis:measure", MeasureParams, section="measure"),
    verdict=Step("analysis:verdict", RecordedConfig),
    figures=("multiplier_theorem", "phase_diagram", "collapse_trends", "twolayer"),
)
