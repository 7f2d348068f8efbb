"""Names of sweep cells (Snakemake wildcards) and their parsing. Kept free of torch/scipy imports:
the Snakefiles import it, and every `snakemake` call (a no-op rerun included) pays for its imports."""

from __future__ import annotations

import itertools

LABEL_TYPES = ("local", "global")


# periodic: one cell per activation; Snake expands to one cell per frequency a
def activation_cells(activations: list[str], snake_a: list[float]) -> list[str]:
    cells = []
    for name in activations:
        cells += [f"snake_a{a:g}" for a in snake_a] if name == "snake" else [name]
    return cells


def parse_activation(cell: str) -> tuple[str, float]:
    """'snake_a10' → ('snake', 10.0); 'relu' → ('relu', 1.0)."""
    if cell.startswith("snake_a"):
        return "snake", float(cell[len("snake_a") :])
    return cell, 1.0


# locality: one target per (label type, k)
def target_names(label_types: list[str], ks: list[int]) -> list[str]:
    return [f"{kind}_k{k}" for kind, k in itertools.product(label_types, ks)]


def parse_target(name: str) -> tuple[str, int]:
    """'global_k3' → ('global', 3)."""
    kind, _, k = name.partition("_k")
    if kind not in LABEL_TYPES or not k.isdigit():
        raise ValueError(f"unknown target {name!r}; expected e.g. 'local_k2' or 'global_k3'")
    return kind, int(k)
