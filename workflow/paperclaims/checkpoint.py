"""Checkpoints for long train jobs: a job killed midway (SIGKILL, a SLURM time limit) and rerun resumes
from its last checkpoint and ends with the same arrays as an uninterrupted run.

The interval is wall time, not steps, so it is an operational setting (environment variable
PAPERCLAIMS_CHECKPOINT_SECONDS, default 120), not a science parameter that would invalidate caches.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger("paperclaims")
ENV_SECONDS = "PAPERCLAIMS_CHECKPOINT_SECONDS"


class Checkpoint:
    def __init__(self, path: str | Path, every_seconds: float | None = None, key: str = ""):
        self.path = Path(path)
        self.key = key  # what wrote it (runner.Step.checkpoint): another key's state is not resumed
        if every_seconds is None:
            every_seconds = float(os.environ.get(ENV_SECONDS, "120"))
        self.every_seconds = every_seconds
        self._last = time.monotonic()

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as err:  # a checkpoint torn by the kill itself: start over, loudly
            log.warning(
                "ignoring unreadable checkpoint %s (%s); starting from scratch", self.path, err
            )
            return None
        if state.get("key", "") != self.key:
            log.warning(
                "ignoring checkpoint %s: another version of this job wrote it (its params or "
                "code differ); starting from scratch",
                self.path,
            )
            return None
        log.info("resuming from checkpoint %s at step %d", self.path, state["step"])
        return state

    def maybe_save(self, step: int, state: Callable[[], dict]) -> None:
        if time.monotonic() - self._last < self.every_seconds:
            return
        self.save(step, state())

    def save(self, step: int, state: dict) -> None:
        t0 = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        torch.save(
            {**state, "step": step, "key": self.key, "torch_rng": torch.get_rng_state()}, tmp
        )
        os.replace(tmp, self.path)  # atomic: a kill never leaves a half-written checkpoint
        self._last = time.monotonic()
        log.info("checkpoint saved: step %d, %s (%.2f s)", step, self.path, self._last - t0)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
