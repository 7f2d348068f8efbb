"""The checks at a glance: every claim check of every claim as a row — our value and interval
against its threshold, on one normalised axis, coloured by outcome, its control beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from paperclaims.verdict import Threshold

OUTCOME_COLOURS = {
    "supports": "#1b9e77",
    "contradicts": "#d95f02",
    "inconclusive": "#9e9e9e",
    "uninformative": "#e6ab02",
}


def _threshold(check: dict) -> Threshold:
    t = check["threshold"]
    return Threshold(t["comparison"], t["value"], t["source"])


def margins(check: dict, which: str = "check") -> tuple[float, float, float]:
    """(value, low, high) of a check (or its control) as ``Threshold.margin``: 0 is the threshold's
    edge, > 0 agrees with the paper. For a band the interval's best point is its point nearest the
    band's centre."""
    source = check if which == "check" else check["control"]
    threshold = _threshold(check)
    value = source.get("measured")
    interval = source.get("interval") or [value, value]
    if value is None or any(v is None for v in interval):
        return (np.nan, np.nan, np.nan)
    ends = [threshold.margin(v) for v in interval]
    low, high = min(ends), max(ends)
    if threshold.comparison == "within":
        centre = sum(threshold.value) / 2
        high = threshold.margin(float(np.clip(centre, *sorted(interval))))
    return (threshold.margin(float(value)), low, high)


def draw(verdict_paths: list[str | Path], figdir: str | Path, name: str = "checks") -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from paperclaims.plotting import save_figure, set_theme

    set_theme()
    verdicts = [json.loads(Path(p).read_text()) for p in verdict_paths]
    rows = [(v, c) for v in verdicts for c in v["checks"]]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(rows) + 1.5))
    labels = []
    for i, (verdict, check) in enumerate(rows):
        outcome = "uninformative" if check.get("uninformative") else check["outcome"]
        colour = OUTCOME_COLOURS[outcome]
        value, low, high = margins(check)
        if np.isfinite(low):
            ax.plot([low, high], [i, i], color=colour, lw=2.5, solid_capstyle="butt")
        if np.isfinite(value):
            ax.plot(value, i, "o", color=colour, ms=6, mec="black", mew=0.5)
        else:
            ax.text(0, i, "no value", fontsize=6, va="center", ha="center", color=colour)
        if check.get("control"):
            c_value, c_low, c_high = margins(check, "control")
            c_colour = OUTCOME_COLOURS[check["control"]["outcome"]]
            if np.isfinite(c_low):
                ax.plot([c_low, c_high], [i + 0.3, i + 0.3], color=c_colour, lw=1.2)
            if np.isfinite(c_value):
                ax.plot(c_value, i + 0.3, "D", color=c_colour, ms=4, mec="black", mew=0.4)
        star = " ★" if check.get("headline") else ""
        labels.append(f"{verdict['claim']}: {check['id']}{star}")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yticks(range(len(rows)), labels, fontsize=6)
    ax.set_ylim(len(rows) - 0.5, -0.7)
    ax.set_xlabel(
        "distance from the threshold's edge, in units of the threshold (> 0 agrees with the paper)"
    )
    words = ", ".join(f"{v['claim']}: {v['verdict']}" for v in verdicts)
    ax.set_title(f"Every claim check at a glance ({words})", fontsize=8)
    handles = [
        Line2D([], [], color=c, marker="o", lw=2.5, label=o) for o, c in OUTCOME_COLOURS.items()
    ]
    handles.append(Line2D([], [], color="grey", marker="D", lw=1.2, ls="", label="its control"))
    ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    save_figure(fig, figdir, name)
    plt.close(fig)


def draw_step(step) -> None:
    """Step of the ``checks_at_a_glance`` rule."""
    png = Path(step.output.png)
    draw(list(step.input.verdicts), png.parent, png.stem)
