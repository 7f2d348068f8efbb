"""Device and thread selection; the only place that knows about CUDA."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto``; asking for CUDA without one is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"config key 'device' = {name!r}, but torch {torch.__version__} sees no CUDA device "
            "on this machine. Use device: cpu (or auto), or run on a GPU node."
        )
    return torch.device(name)


def set_threads(threads: int) -> None:
    """Honour the rule's ``threads:`` so parallel jobs do not oversubscribe the cores."""
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
