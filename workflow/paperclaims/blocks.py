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


def merge_by(parts: list, key: str, dims: list[str]) -> dict:
    """Blocks of several cells, each cell told apart by its ``attrs[key]`` (e.g. the batch size):
    {key value: that cell's merged dataset (``merge_blocks``)}, in the order the cells come."""
    cells: dict = {}
    for part in parts:
        cells.setdefault(part.attrs[key], []).append(part)
    return {value: merge_blocks(blocks, dims) for value, blocks in cells.items()}


def merge_blocks(parts: list, dims: list[str]):
    """One cell's blocks (its jobs, cut along ``dims`` by block wildcards: registry.Sweep.blocks)
    as the one dataset an uncut job writes. ``parts`` come in the registry's cell order (the last
    block wildcard varies fastest); each block's coordinate values along ``dims`` tell which it
    is. Variables without a cut dimension must be equal in every block (an error otherwise: the
    blocks were not cut from one cell); attrs that differ (each job's provenance) are dropped."""
    import xarray as xr  # here: the registry (parsed by the Snakefile) imports this module

    if not dims:
        if len(parts) != 1:
            raise ValueError(f"{len(parts)} blocks left to merge along no dimension")
        return parts[0]
    dim, rest = dims[0], dims[1:]
    groups: dict[tuple, list] = {}
    for part in parts:
        groups.setdefault(tuple(part[dim].values.tolist()), []).append(part)
    merged = [merge_blocks(group, rest) for group in groups.values()]
    if len(merged) == 1:
        return merged[0]
    return xr.concat(
        merged,
        dim=dim,
        data_vars="minimal",
        coords="minimal",
        compat="equals",
        join="exact",
        combine_attrs="drop_conflicts",
    )
