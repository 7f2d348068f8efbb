"""Block wildcards (registry.Sweep.blocks): a cell's work cut into jobs of consecutive items.
Kept apart from the registry so that a train step reading its block does not hash the registry."""

from __future__ import annotations


def block_names(count: int, per_job: int) -> list[str]:
    """range(count) as consecutive inclusive blocks 'first-last' of ``per_job`` (0: one block)."""
    size = per_job or count
    return [f"{lo}-{min(lo + size, count) - 1}" for lo in range(0, count, size)]


def block_range(name: str) -> range:
    """'3-5' → range(3, 6)."""
    first, last = map(int, name.split("-"))
    return range(first, last + 1)
