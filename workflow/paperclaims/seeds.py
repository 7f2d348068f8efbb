"""Every random number in the pipeline derives from the one base ``seed`` of the config.

A cell's seed depends only on (base seed, claim, cell key), never on which other cells exist,
so adding a sweep value leaves the other cells' arrays untouched.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key_words(key: str) -> list[int]:
    """A stable (process-independent, unlike hash()) list of uint32 words for a string key."""
    digest = hashlib.sha256(key.encode()).digest()[:16]
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def seed_sequence(base_seed: int, *keys: object) -> np.random.SeedSequence:
    spawn_key: list[int] = []
    for key in keys:
        spawn_key += _key_words(str(key))
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=tuple(spawn_key))


def derive_seed(base_seed: int, *keys: object) -> int:
    """One 63-bit integer seed for the cell named by ``keys``."""
    state = seed_sequence(base_seed, *keys).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def member_seeds(cell_seed: int, n: int) -> list[int]:
    """Seeds of the ``n`` ensemble members of a cell; member i's seed does not depend on ``n``."""
    return [derive_seed(cell_seed, "member", i) for i in range(n)]


def generator(seed: int, device="cpu"):
    """A torch.Generator seeded with ``seed`` (torch imported here: Snakefiles import this module)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def numpy_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(int(seed))
