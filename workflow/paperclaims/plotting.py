"""One seaborn theme and one way to save figures (PNG for the README, PDF for papers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

PALETTE = "colorblind"


def set_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def save_figure(fig: plt.Figure, figdir: str | Path, name: str) -> list[Path]:
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    paths = [figdir / f"{name}.png", figdir / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    return paths
