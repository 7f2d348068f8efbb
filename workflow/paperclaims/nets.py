"""Batched ensembles of MLPs: every member's weights live in one (members, fan_in, fan_out) tensor,
so a whole ensemble trains with batched matmuls and one optimizer, never a Python loop over models."""

from __future__ import annotations

import math

import torch
from torch import nn

from paperclaims.checkpoint import Checkpoint
from paperclaims.progress import Progress
from paperclaims.seeds import generator

ACTIVATIONS = ("relu", "tanh", "sin", "x_plus_sin", "snake")


def snake(x: torch.Tensor, a: torch.Tensor | float) -> torch.Tensor:
    """Snake_a(x) = x + sin²(a x)/a (Ziyin et al. 2020, eq. 3)."""
    return x + torch.sin(a * x) ** 2 / a


def activation_fn(name: str):
    if name == "relu":
        return lambda x, a: torch.relu(x)
    if name == "tanh":
        return lambda x, a: torch.tanh(x)
    if name == "sin":
        return lambda x, a: torch.sin(x)
    if name == "x_plus_sin":
        return lambda x, a: x + torch.sin(x)
    if name == "snake":
        return snake
    raise ValueError(f"unknown activation {name!r}; allowed: {ACTIVATIONS}")


class EnsembleMLP(nn.Module):
    """``n_members`` independent MLPs with layer sizes ``sizes`` (input, hidden..., output).

    ``init="uniform"`` is PyTorch's nn.Linear default, U(±1/√fan_in) for weights and biases;
    ``init="normal"`` is the Snake paper's Var W = 1/fan_in with zero biases. Member i is drawn
    from its own seed, so it is the same network whatever the ensemble size.
    """

    def __init__(
        self,
        sizes: list[int],
        member_seeds: list[int],
        activation: str,
        *,
        snake_a: float = 1.0,
        learnable_a: bool = False,
        init: str = "uniform",
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        self.activation = activation
        self._act = activation_fn(activation)
        n = len(member_seeds)
        weights, biases = [[] for _ in sizes[1:]], [[] for _ in sizes[1:]]
        for seed in member_seeds:  # initialization only: training is batched
            gen = generator(seed)
            for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                bound = 1 / math.sqrt(fan_in)
                if init == "uniform":
                    w = (
                        torch.rand(fan_in, fan_out, generator=gen, dtype=torch.float64) * 2 - 1
                    ) * bound
                    b = (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
                elif init == "normal":
                    w = torch.randn(fan_in, fan_out, generator=gen, dtype=torch.float64) * bound
                    b = torch.zeros(fan_out, dtype=torch.float64)
                else:
                    raise ValueError(f"unknown init {init!r}; allowed: uniform, normal")
                weights[layer].append(w)
                biases[layer].append(b)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack(w).to(device=device, dtype=dtype)) for w in weights
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack(b).unsqueeze(1).to(device=device, dtype=dtype)) for b in biases
        )
        a_shape = [(n, 1, width) for width in sizes[1:-1]]
        a_values = [torch.full(s, float(snake_a), dtype=dtype, device=device) for s in a_shape]
        if learnable_a:
            self.a = nn.ParameterList(nn.Parameter(v) for v in a_values)
        else:
            for i, v in enumerate(a_values):
                self.register_buffer(f"_a{i}", v)
            self.a = [getattr(self, f"_a{i}") for i in range(len(a_values))]

    @property
    def n_members(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (members, N, in) or shared (N, in) → (members, N, out)."""
        h = x if x.dim() == 3 else x.expand(self.n_members, *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self._act(h, self.a[i])
        return h


def record_steps(steps: int, n_records: int = 40) -> list[int]:
    """Log-spaced step indices (1 … steps) at which training curves are recorded."""
    points = torch.logspace(0, math.log10(max(steps, 1)), n_records, dtype=torch.float64)
    return sorted({int(round(float(p))) for p in points} | {steps})


def train_full_batch(
    model: EnsembleMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    optimizer: str = "sgd",
    lr: float = 1e-2,
    momentum: float = 0.0,
    checkpoint: Checkpoint | None = None,
) -> tuple[list[int], torch.Tensor]:
    """Full-batch MSE training of every member at once; returns (record steps, loss (members, records)).

    The summed loss has the per-member losses as independent terms, so each member gets exactly
    the gradient it would get alone.
    """
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: sgd, adam")
    when = record_steps(steps)
    record = set(when)
    history: list[torch.Tensor] = []
    start = 1
    if checkpoint is not None and (state := checkpoint.load()) is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        device = model.weights[0].device  # checkpoints are read onto the CPU
        history = [h.to(device) for h in state["history"]]
        torch.set_rng_state(state["torch_rng"])
        start = state["step"] + 1
    progress = Progress("train_full_batch", steps, start=start - 1)
    for it in range(start, steps + 1):
        opt.zero_grad(set_to_none=True)
        per_member = ((model(x) - y) ** 2).mean(dim=(1, 2))
        per_member.sum().backward()
        opt.step()
        progress.update(it)
        if it in record:
            history.append(per_member.detach().clone())
        if not torch.isfinite(per_member).any():  # all diverged: the rest is NaN arithmetic
            missing = len(when) - len(history)
            history.extend([torch.full_like(per_member, float("nan"))] * missing)
            break
        if checkpoint is not None:
            checkpoint.maybe_save(
                it,
                lambda: {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "history": history,
                },
            )
    progress.finish()
    return when, torch.stack(history, dim=1)
