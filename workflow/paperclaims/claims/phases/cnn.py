"""A small 1-D CNN ensemble for MNIST-1D, batched across members (seeds) as batched matmuls.

The MNIST-1D authors (Greydanus 2020, github.com/greydanus/mnist1d) report ≈ 94 % test accuracy
for a small CNN at 4000 training samples against ≈ 68 % for an MLP; the phases claim needs a net
that generalises, so MNIST-1D uses this CNN (digits keeps the MLP).

Layout: every member's parameters have a leading members axis and each conv is an unfold and one
batched matmul over members, so all members advance in one kernel call — no Python loop
over models. ``forward`` has EnsembleMLP's interface: x (N, L) shared or (members, N, L) →
(members, N, classes), so the shared SGD and gradient tools (paperclaims.training) apply as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paperclaims.seeds import generator
from paperclaims.training import aligned_rows


class EnsembleCNN(nn.Module):
    """``n_members`` independent 1-D CNNs: ``depth`` conv layers of ``channels`` channels (kernel
    ``kernel``, stride 2, ReLU), then a linear read-out of the flattened features.

    Initialization is PyTorch's default U(±1/√fan_in) for every weight and bias, drawn per member
    from its own seed (float64, then cast), so a member is the same net whatever the ensemble size.
    """

    def __init__(
        self,
        length: int,
        n_classes: int,
        member_seeds: list[int],
        *,
        channels: int = 32,
        depth: int = 3,
        kernel: int = 5,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        self.kernel, self.channels = kernel, channels
        self.pad = kernel // 2
        lengths = [length]
        for _ in range(depth):
            lengths.append((lengths[-1] + 2 * self.pad - kernel) // 2 + 1)
        shapes = []  # (fan_in, weight shape, bias shape) per layer, one member
        c_in = 1
        for _ in range(depth):
            shapes.append((c_in * kernel, (channels, c_in, kernel), (channels,)))
            c_in = channels
        shapes.append((channels * lengths[-1], (channels * lengths[-1], n_classes), (n_classes,)))
        self.flat = channels * lengths[-1]
        weights, biases = [[] for _ in shapes], [[] for _ in shapes]
        for seed in member_seeds:  # initialization only: training is batched
            gen = generator(seed)
            for layer, (fan_in, w_shape, b_shape) in enumerate(shapes):
                bound = 1 / math.sqrt(fan_in)
                w = (torch.rand(w_shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
                b = (torch.rand(b_shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
                weights[layer].append(w)
                biases[layer].append(b)
        n = len(member_seeds)
        # every parameter has a leading members axis (the shared gradient tools flatten per member):
        # conv weights (members, out, in, k), viewed as (members·out, in, k) for the grouped conv1d
        self.conv_w = nn.ParameterList(
            nn.Parameter(torch.stack(w).to(device=device, dtype=dtype)) for w in weights[:-1]
        )
        self.conv_b = nn.ParameterList(
            nn.Parameter(torch.stack(b).to(device=device, dtype=dtype)) for b in biases[:-1]
        )
        self.out_w = nn.Parameter(torch.stack(weights[-1]).to(device=device, dtype=dtype))
        self.out_b = nn.Parameter(
            torch.stack(biases[-1]).unsqueeze(1).to(device=device, dtype=dtype)
        )
        self._n = n

    @property
    def n_members(self) -> int:
        return self._n

    def tensors(self) -> list[torch.Tensor]:
        """The parameters in ``forward_with``'s order: conv weights, conv biases, read-out."""
        return [*self.conv_w, *self.conv_b, self.out_w, self.out_b]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (members, N, L) or shared (N, L) → logits (members, N, classes)."""
        return self.forward_with(self.tensors(), x)

    def forward_with(self, tensors: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The forward pass with explicit parameters (``tensors()``'s order) of any number of
        members (their leading axis): x (members, N, L) or shared (N, L).

        Each conv is an unfold and one batched matmul over members, not a grouped conv1d: oneDNN's
        grouped conv rounds a member's float32 result differently with the number of groups, so
        a member's run would depend on which members share its job; a batched matmul computes
        each member alike whatever the batch (issue 19: identical runs however cells are cut)."""
        depth = len(self.conv_w)
        conv_w, conv_b = tensors[:depth], tensors[depth : 2 * depth]
        out_w, out_b = tensors[2 * depth :]
        m = out_w.shape[0]
        if x.dim() == 2:
            n, length = x.shape
            h = x.expand(m, n, length).unsqueeze(2)  # (members, N, channels 1, L)
        else:
            _, n, length = x.shape
            h = x.unsqueeze(2)
        for w, b in zip(conv_w, conv_b):  # w (members, out, in, k)
            cols = F.pad(h, (self.pad, self.pad)).unfold(-1, self.kernel, 2)  # (m, N, in, L', k)
            steps = cols.shape[3]
            cols = cols.permute(0, 1, 3, 2, 4).reshape(m, n * steps, -1)  # (m, N·L', in·k)
            h = F.relu(torch.baddbmm(b.unsqueeze(1), cols, w.flatten(2).transpose(1, 2)))
            h = h.view(m, n, steps, -1).transpose(2, 3)  # (members, N, out, L')
        return torch.baddbmm(out_b, h.reshape(m, n, self.flat), out_w)


def minibatch_order_parameters(
    model: EnsembleCNN,
    x: torch.Tensor,
    labels: torch.Tensor,
    partition: torch.Tensor,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """R and A (members,) of the minibatch gradients of ``partition`` (members, M, B), as
    paperclaims.training.minibatch_order_parameters computes them, but with the minibatch axis
    folded into the members axis instead of vmap (grouped conv1d has no fast vmap rule): each
    chunk of minibatches is one ensemble of chunk × members copies of the nets, one backward pass.
    """
    m = partition.shape[1]
    members = model.n_members
    base = [p.detach() for p in model.tensors()]
    sum_unit = sum_grad = sum_sq = 0.0
    for start in range(0, m, chunk):  # loop over chunks of minibatches, never over members
        part = partition[:, start : start + chunk]  # (members, c, B)
        c = part.shape[1]
        copies = [p.repeat(c, *[1] * (p.dim() - 1)).requires_grad_() for p in base]
        xb = x[part].transpose(0, 1).reshape(c * members, part.shape[2], -1)  # (c·members, B, L)
        yb = torch.gather(labels, 1, part.flatten(1)).view(part.shape).transpose(0, 1)
        logits = model.forward_with(copies, xb)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
        )
        loss = loss.view(c * members, -1).mean(1).sum()
        grads = torch.autograd.grad(loss, copies)
        g = torch.cat([gr.reshape(c, members, -1) for gr in grads], -1).double()  # (c, members, P)
        g = aligned_rows(g)
        sum_unit = sum_unit + (g / g.norm(dim=-1, keepdim=True).clamp(min=1e-300)).sum(0)
        sum_grad = sum_grad + g.sum(0)
        sum_sq = sum_sq + (g**2).sum(0).sum(-1)  # over minibatches first: one order for any members
    r = ((sum_unit**2).sum(-1) - m) / (m * (m - 1))
    a = ((sum_grad / m) ** 2).sum(-1) / (sum_sq / m)
    return r, a


def order_parameters_and_subset_sums(
    model: EnsembleCNN,
    x: torch.Tensor,
    labels: torch.Tensor,
    partition: torch.Tensor,
    subset: torch.Tensor,
    n_subsets: int,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``minibatch_order_parameters`` and, from the same forward pass, the summed loss gradients
    of disjoint subsets: ``subset`` (members, N) gives each sample's subset (0 … n_subsets − 1).

    The partition (members, M, B) must cover every sample once. A sample's loss gradient is the
    same in every weighted sum, so one backward pass per subset, restricted to that subset's
    samples of each minibatch, gives both g_μ (the subsets' parts summed, / B) and each subset's
    gradient sum over all minibatches; no separate full-data forward and backward is needed.
    Returns R, A (members,) and the subset sums (n_subsets, members, P), all float64.
    """
    members, m, b = partition.shape
    if m * b != x.shape[0]:
        raise ValueError("the partition must cover every training sample exactly once")
    base = [p.detach() for p in model.tensors()]
    sum_unit = sum_grad = sum_sq = sums = 0.0
    for start in range(0, m, chunk):  # loop over chunks of minibatches, never over members
        part = partition[:, start : start + chunk]  # (members, c, B)
        c = part.shape[1]
        copies = [p.repeat(c, *[1] * (p.dim() - 1)).requires_grad_() for p in base]
        xb = x[part].transpose(0, 1).reshape(c * members, b, -1)  # (c·members, B, L)
        yb = torch.gather(labels, 1, part.flatten(1)).view(part.shape).transpose(0, 1)
        sb = torch.gather(subset, 1, part.flatten(1)).view(part.shape).transpose(0, 1)
        logits = model.forward_with(copies, xb)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
        ).view(c, members, b)
        parts = []
        for k in range(n_subsets):  # one backward per subset, on the same graph
            grads = torch.autograd.grad(
                (loss * (sb == k)).sum(), copies, retain_graph=k < n_subsets - 1
            )
            parts.append(
                aligned_rows(torch.cat([gr.reshape(c, members, -1) for gr in grads], -1).double())
            )
        parts = torch.stack(parts)  # (subsets, c, members, P): summed, not averaged
        g = parts.sum(0) / b  # (c, members, P): the minibatch mean-loss gradients
        sum_unit = sum_unit + (g / g.norm(dim=-1, keepdim=True).clamp(min=1e-300)).sum(0)
        sum_grad = sum_grad + g.sum(0)
        sum_sq = sum_sq + (g**2).sum(0).sum(-1)  # over minibatches first: one order for any members
        sums = sums + parts.sum(1)
    r = ((sum_unit**2).sum(-1) - m) / (m * (m - 1))
    a = ((sum_grad / m) ** 2).sum(-1) / (sum_sq / m)
    return r, a, sums
