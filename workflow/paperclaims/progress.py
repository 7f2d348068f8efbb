"""Progress lines for long train and simulate loops, so that a job watched in ``logs/`` shows it
is alive: a slow job keeps writing, a hung one goes quiet.

A loop makes one ``Progress`` and calls ``update(done)`` after each step (or epoch, or chunk of
steps). Every ``every_seconds`` of wall time it logs, on the ``paperclaims`` logger::

    train_sgd: step 1200/5000 (24.0%), elapsed 1m02s, ETA 3m16s (19.4 steps/s)

The ETA extrapolates the mean rate of this process (a resumed job counts only the steps it ran
itself). The interval is wall time, an operational setting like the checkpoint interval:
environment variable PAPERCLAIMS_PROGRESS_SECONDS, default 30; 0 logs every update.

``update`` reads the clock only (one ``time.monotonic()``, tens of nanoseconds against a torch
step of microseconds or more); it never touches a tensor, so it adds no device sync and cannot
change a computed array.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable

log = logging.getLogger("paperclaims")
ENV_SECONDS = "PAPERCLAIMS_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def duration(seconds: float) -> str:
    """12.3s, 3m16s, 1h02m03s; "?" when unknown."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Wall-clock-throttled progress of a loop of ``total`` units (steps, epochs).

    ``start``: units already done when this process begins (a job resumed from a checkpoint).
    ``detail``: optional callable giving extra text for a line (called only when a line is
    logged, so it may be slower than the loop body, but must not change state).
    """

    def __init__(
        self,
        name: str,
        total: int,
        *,
        unit: str = "step",
        start: int = 0,
        every_seconds: float | None = None,
        detail: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if every_seconds is None:
            every_seconds = float(os.environ.get(ENV_SECONDS, DEFAULT_SECONDS))
        self.name, self.total, self.unit = name, int(total), unit
        self.start = self.done = int(start)
        self.every_seconds = every_seconds
        self.detail = detail
        self._clock = clock
        self._t0 = clock()
        self._due = self._t0 + every_seconds
        resumed = f", resumed after {unit} {self.start}" if self.start else ""
        log.info(
            "%s: %d %ss to run%s; progress every %g s",
            name,
            self.total,
            unit,
            resumed,
            every_seconds,
        )

    def update(self, done: int) -> None:
        """``done`` units are complete (counted from the very start, resumed units included)."""
        self.done = done
        now = self._clock()
        if now >= self._due:
            self._due = now + self.every_seconds
            log.info("%s", self.line(done, now))

    def line(self, done: int, now: float) -> str:
        elapsed = now - self._t0
        ran = done - self.start
        rate = ran / elapsed if elapsed > 0 else math.inf
        eta = (self.total - done) / rate if ran > 0 else math.nan
        fraction = 100 * done / self.total if self.total else 100.0
        text = (
            f"{self.name}: {self.unit} {done}/{self.total} ({fraction:.1f}%), "
            f"elapsed {duration(elapsed)}, ETA {duration(eta)}"
        )
        if math.isfinite(rate):
            text += (
                f" ({rate:.0f} {self.unit}s/s)" if rate >= 100 else f" ({rate:.3g} {self.unit}s/s)"
            )
        if self.detail is not None:
            text += f", {self.detail()}"
        return text

    def finish(self) -> None:
        """Log the end of the loop: all units done, or where it stopped early."""
        elapsed = duration(self._clock() - self._t0)
        if self.done >= self.total:
            text = f"{self.name}: {self.done}/{self.total} {self.unit}s done in {elapsed}"
        else:
            text = f"{self.name}: stopped early at {self.unit} {self.done}/{self.total} after {elapsed}"
        if self.detail is not None:
            text += f", {self.detail()}"
        log.info("%s", text)
