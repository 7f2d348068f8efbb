"""One seaborn theme and one way to save figures (PNG for the README, PDF for papers).

Figures are byte-stable for the same inputs: :func:`save_figure` writes no timestamps, and
:func:`seeded_jitter` fixes the random jitter of seaborn's strip plots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"

# Per-format savefig metadata: PDFs drop their CreationDate (matplotlib writes no ModDate); PNGs
# keep only matplotlib's fixed "Software" entry. Nothing that changes from one drawing to the next.
METADATA = {"png": None, "pdf": {"CreationDate": None}}


def set_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "svg.hashsalt": "paperclaims",  # fixed element ids, should a figure ever be saved as SVG
        }
    )


@contextmanager
def seeded_jitter(seed: int = 0) -> Iterator[None]:
    """Seed the jitter of seaborn's strip plots for the block, then restore numpy's global state.

    ``sns.stripplot`` has no seed argument: it draws its jitter from numpy's global generator.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def save_figure(fig: plt.Figure, figdir: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``figdir/name.png`` and ``figdir/name.pdf``, without timestamps."""
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    paths = [figdir / f"{name}.{ext}" for ext in METADATA]
    for path in paths:
        fig.savefig(path, metadata=METADATA[path.suffix[1:]])
    return paths
