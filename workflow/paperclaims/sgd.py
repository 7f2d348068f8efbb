"""Batched SGD-chain helpers: thousands of chains advance as one tensor, a Python loop runs over
steps only. Generic pieces: a chunked chain runner (random inputs drawn a chunk at a time),
first-passage bookkeeping over a (chains,) tensor, and the censored mean of passage times."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import numpy as np
import torch
import xarray as xr

from paperclaims.checkpoint import Checkpoint
from paperclaims.progress import Progress

log = logging.getLogger("paperclaims")


def chunk_length(chains: int, floats_per_chain_step: int, budget: int = 1 << 22) -> int:
    """Steps per chunk so that a chunk's random inputs hold about ``budget`` floats."""
    return int(max(1, min(4096, budget // max(1, chains * floats_per_chain_step))))


def run_chains(
    theta: torch.Tensor,
    steps: int,
    next_chunk: Callable[[int], tuple[torch.Tensor, ...]],
    update: Callable[..., torch.Tensor],
    chunk: int,
    on_chunk: Callable[[torch.Tensor, int], bool],
    *,
    checkpoint: Checkpoint | None = None,
    gen: torch.Generator | None = None,
    observed: dict[str, np.ndarray | torch.Tensor] | None = None,
) -> torch.Tensor:
    """Advance chains θ (chains, d) for ``steps`` steps, all chains as one tensor.

    ``next_chunk(k)`` returns the random inputs of the next ``k`` steps, each with leading dim k;
    ``update(theta, *inputs_of_one_step, out=...)`` writes the next θ into ``out``.
    ``on_chunk(trajectory (k, chains, d), first_step)`` sees θ after each step (first_step counts
    from 1) and returns True to stop early. Returns the final θ.

    With ``checkpoint``, θ, the state of ``gen`` (the generator ``next_chunk`` draws from) and the
    arrays ``on_chunk`` fills in place (``observed``, name → array) are saved between chunks at
    intervals; a rerun resumes from them with identical results, since chunk boundaries and
    draws depend only on the arguments.
    """
    observed = observed or {}
    done = 0
    if checkpoint is not None:
        if gen is None:
            raise ValueError("run_chains: a checkpoint needs the generator `gen` to resume draws")
        state = checkpoint.load()
        if state is not None and "generator" not in state:
            # written by the escape claim's fused CPU kernel (its own counter-based draws): a
            # torch run cannot continue those streams, so it starts over
            log.warning("run_chains: ignoring a checkpoint written by another kernel")
            state = None
        if state is not None:
            theta, done = state["theta"].to(theta.device), state["step"]  # saved on the CPU
            gen.set_state(state["generator"])
            for name, value in state["observed"].items():
                observed[name][...] = value
    progress = Progress("run_chains", steps, start=done)
    while done < steps:
        k = min(chunk, steps - done)
        inputs = next_chunk(k)
        trajectory = torch.empty((k, *theta.shape), dtype=theta.dtype, device=theta.device)
        for i in range(k):  # the one Python loop: over steps, never over chains
            theta = update(theta, *(x[i] for x in inputs), out=trajectory[i])
        stop = on_chunk(trajectory, done + 1)
        done += k
        progress.update(done)
        if stop:
            break
        if checkpoint is not None:
            checkpoint.maybe_save(
                done,
                lambda theta=theta: {
                    "theta": theta.clone(),
                    "generator": gen.get_state(),
                    "observed": {name: copy.deepcopy(v) for name, v in observed.items()},
                },
            )
    progress.finish()
    return theta


def affine_update(theta, a, b, *, out):
    """θ ← a θ + b with a scalar a per chain (shape (chains, 1)): one fused multiply-add."""
    return torch.addcmul(b, a, theta, out=out)


def least_squares_update(lr: float):
    """One minibatch SGD step on ½(xᵀθ − y)² averaged over the batch: x (chains, B, d), y (chains, B)."""

    def update(theta, x, y, *, out):
        residual = torch.linalg.vecdot(x, theta.unsqueeze(1)) - y  # (chains, B)
        grad = torch.linalg.vecdot(x.transpose(1, 2), residual.unsqueeze(1))  # (chains, d)
        return torch.add(theta, grad, alpha=-lr / x.shape[1], out=out)

    return update


class FirstPassage:
    """First step at which each chain's observable exceeds each threshold.

    ``step`` is (chains, thresholds), −1 while a chain has not passed; update with the observable
    of a whole chunk of steps at once (vectorized over steps, chains and thresholds).
    """

    def __init__(self, chains: int, thresholds: torch.Tensor):
        self.thresholds = thresholds
        self.step = torch.full(
            (chains, len(thresholds)), -1, dtype=torch.int64, device=thresholds.device
        )

    def update(self, values: torch.Tensor, first_step: int) -> bool:
        """``values``: (k, chains) at steps first_step … first_step + k − 1; True when all passed."""
        above = values.unsqueeze(-1) > self.thresholds  # (k, chains, thresholds)
        hit = above.any(dim=0)
        first = above.to(torch.int8).argmax(dim=0) + first_step
        new = hit & (self.step < 0)
        self.step[new] = first.to(self.step.device)[new]  # in place: checkpoints hold this array
        return bool((self.step >= 0).all())

    def dataset(self, lr: float, c: np.ndarray, delta_loss: np.ndarray, attrs: dict) -> xr.Dataset:
        """The passage times (η × steps, NaN: not passed) against thresholds c = L / L*."""
        steps = self.step.cpu().numpy().astype(float)
        return xr.Dataset(
            {
                "passage_time": (
                    ("chain", "threshold"),
                    np.where(steps > 0, steps * lr, np.nan),
                    {"units": "η × iterations (NaN: not passed by the horizon)"},
                )
            },
            coords={
                "chain": np.arange(steps.shape[0]),
                "threshold": np.arange(len(c)),
                "c": ("threshold", c, {"units": "L / L*"}),
                "delta_loss": ("threshold", delta_loss, {"units": "L − L*"}),
            },
            attrs={**attrs, "lr": lr},
        )


def censored_mean(
    times: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """Mean passage time per threshold from ``times`` (chains, thresholds), NaN = not passed by
    ``horizon``. All passed: the sample mean. Some censored: the exponential-law maximum-likelihood
    mean (time at risk / events), exact for the memoryless escape from a metastable well.
    ``weights`` (n_boot, chains) gives one estimate per row (bootstrap over chains)."""
    passed = np.isfinite(times)
    at_risk = np.where(passed, times, horizon)
    if weights is None:
        weights = np.ones((1, times.shape[0]))
        squeeze = True
    else:
        squeeze = False
    est = (weights @ at_risk) / np.maximum(weights @ passed.astype(float), 1e-300)
    est = np.where(weights @ passed.astype(float) > 0, est, np.nan)
    return est[0] if squeeze else est


def bootstrap_weights(n_chains: int, n_boot: int, seed: int) -> np.ndarray:
    """Multinomial resampling counts of chains, (n_boot, n_chains)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_chains, np.full(n_chains, 1 / n_chains), size=n_boot).astype(float)
