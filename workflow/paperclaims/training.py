"""Batched-ensemble minibatch SGD for classifiers, and per-minibatch gradient tools.

Every member of an ``EnsembleMLP`` has its own labels, its own sample weights (a member may train
on a subset) and its own minibatch draws, but all members advance as one tensor: the loss summed
over members has each member's loss as an independent term, so one backward pass gives every
member exactly the gradient it would get alone. Per-minibatch gradients use ``torch.func``
(``vmap`` of ``grad`` over minibatches), never a Python loop over models.

Shapes: ``x`` (N, features) shared by all members; ``labels`` and ``weights`` (members, N).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from paperclaims.checkpoint import Checkpoint
from paperclaims.nets import EnsembleMLP
from paperclaims.progress import Progress


# ---------------------------------------------------------------- losses and evaluation
def per_sample_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (members, n, classes) logits against (members, n) labels → (members, n)."""
    members, n, classes = logits.shape
    return F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none").view(
        members, n
    )


@torch.no_grad()
def evaluate(
    model: EnsembleMLP, x: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample loss and correctness, both (members, N), for every member at once."""
    logits = model(x)
    return per_sample_loss(logits, labels), (logits.argmax(-1) == labels)


def gather_batch(
    x: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Member-wise minibatches: idx (members, B) → inputs (members, B, features), labels (members, B)."""
    return x[idx], torch.gather(labels, 1, idx)


class MinibatchSampler:
    """i.i.d. minibatches, each member drawing uniformly (with replacement) from its own samples.

    ``keep`` (members, N) bool marks each member's training samples. Drawing with replacement keeps
    every member's draw one vectorized gather, whatever its number of samples. Each member draws
    from its own generator (``gens``, one per member), ``CHUNK`` steps at a time: a member's
    minibatches depend on its generator alone, never on which members share the ensemble, so a
    claim's cells give the same runs however they are cut into jobs (issue 19).
    """

    CHUNK = 64  # steps drawn per refill: one generator call per member every CHUNK steps

    def __init__(self, keep: torch.Tensor, batch_size: int, gens: list[torch.Generator]):
        if len(gens) != keep.shape[0]:
            raise ValueError(f"{len(gens)} generators for {keep.shape[0]} members")
        self.count = keep.sum(dim=1, keepdim=True)  # (members, 1)
        # each member's sample indices first, in order: a padded (members, N) lookup table
        self.table = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
        self.batch_size = batch_size
        self.gens = gens
        self.buffer = torch.empty(0)
        self.position = self.CHUNK

    def __call__(self) -> torch.Tensor:
        if self.position == self.CHUNK:
            device = self.count.device
            draws = [
                torch.rand(self.CHUNK, self.batch_size, generator=g, device=device)
                for g in self.gens  # random draws per member, not a loop over models
            ]
            self.buffer, self.position = torch.stack(draws, dim=1), 0  # (CHUNK, members, B)
        u = self.buffer[self.position]
        self.position += 1
        position = (u * self.count).long().clamp(max=self.table.shape[1] - 1)
        return torch.gather(self.table, 1, position)

    def state(self) -> dict:
        return {
            "generators": [g.get_state() for g in self.gens],
            "buffer": self.buffer,
            "position": self.position,
        }

    def set_state(self, state: dict) -> None:
        for g, saved in zip(self.gens, state["generators"]):
            g.set_state(saved)
        self.buffer, self.position = state["buffer"].to(self.count.device), state["position"]


# ---------------------------------------------------------------- training
def train_sgd(
    model: EnsembleMLP,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    gens: list[torch.Generator],
    record: list[int] | None = None,
    on_record=None,
    keep: torch.Tensor | None = None,
    checkpoint: Checkpoint | None = None,
    recorded: dict | None = None,
) -> None:
    """Plain minibatch SGD (no momentum, no weight decay) on cross-entropy, every member at once;
    minibatches of ``batch_size`` i.i.d. draws from each member's samples, from that member's
    generator in ``gens`` (``MinibatchSampler``).

    ``keep`` (members, N) bool restricts each member to its own training subset. At each step in
    ``record`` (1-based; 0 means before the first step) ``on_record(step)`` is called.
    With ``checkpoint``, the weights, the minibatch generators and ``recorded`` (the caller's
    dict of recorded curves, filled by ``on_record``) are saved at intervals, and a rerun resumes
    from them with identical results.
    """
    params = list(model.parameters())
    keep = torch.ones_like(labels, dtype=torch.bool) if keep is None else keep
    sample = MinibatchSampler(keep, batch_size, gens)
    record = set(record or [])
    recorded = {} if recorded is None else recorded
    start = 1
    if checkpoint is not None and (state := checkpoint.load()) is not None:
        model.load_state_dict(state["model"])
        sample.set_state(state["sampler"])
        for key, values in state["recorded"].items():
            recorded[key][:] = values
        start = state["step"] + 1
    elif 0 in record and on_record is not None:
        on_record(0)
    progress = Progress("train_sgd", steps, start=start - 1)
    for it in range(start, steps + 1):
        xb, yb = gather_batch(x, labels, sample())
        loss = per_sample_loss(model(xb), yb).mean(dim=1).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
        if it in record and on_record is not None:
            on_record(it)
        progress.update(it)
        if checkpoint is not None:
            checkpoint.maybe_save(
                it,
                lambda: {
                    "model": model.state_dict(),
                    "sampler": sample.state(),
                    "recorded": recorded,
                },
            )
    progress.finish()


# ---------------------------------------------------------------- gradients
ROW_ALIGN = 16  # elements: every flattened gradient row starts 64-byte aligned (float32 and 64)


def aligned_rows(g: torch.Tensor) -> torch.Tensor:
    """``g`` (…, P) zero-padded to a multiple of ROW_ALIGN along P. A vectorized sum along a row
    splits it by the row's memory alignment, so without this a member's norms and dot products
    would round differently with its row index, i.e. with which members share its job (issue
    19). Zeros change no sum, norm or cosine."""
    return F.pad(g, (0, -g.shape[-1] % ROW_ALIGN))


def _flatten(grads: dict[str, torch.Tensor], lead_dims: int) -> torch.Tensor:
    """Concatenate every parameter's gradient into (*lead, P): lead = (members,) or (M, members);
    rows aligned (``aligned_rows``)."""
    return aligned_rows(torch.cat([g.flatten(start_dim=lead_dims) for g in grads.values()], -1))


def subset_gradients(
    model: EnsembleMLP, x: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor
) -> torch.Tensor:
    """Gradient of each member's mean loss over each subset: masks (K, members, N) → (K, members, P).

    An empty subset of a member gives a zero gradient.
    """
    params = dict(model.named_parameters())
    losses = per_sample_loss(model(x), labels)
    out = []
    for mask in masks.to(x.dtype):  # loop over the K subsets only
        mean_loss = (losses * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        grads = torch.autograd.grad(mean_loss.sum(), list(params.values()), retain_graph=True)
        out.append(_flatten(dict(zip(params, grads)), lead_dims=1))
    return torch.stack(out)


def minibatch_gradients(
    model: EnsembleMLP, x: torch.Tensor, labels: torch.Tensor, partition: torch.Tensor
) -> torch.Tensor:
    """Per-minibatch gradients g_μ at fixed weights: partition (members, M, B) → (M, members, P).

    The minibatch axis is folded into the members axis: one ensemble of M × members copies of
    the nets, one backward pass, each copy's batched matmul its own. (``vmap`` over minibatches
    rounds a member's float32 gradient differently with the number of members, so R and A would
    depend on which members share a job: issue 19.)"""
    members, m, batch = partition.shape
    names = [k for k, _ in model.named_parameters()]
    copies = {
        k: v.detach().repeat(m, *[1] * (v.dim() - 1)).requires_grad_()
        for k, v in model.named_parameters()
    }
    buffers = {k: v.repeat(m, *[1] * (v.dim() - 1)) for k, v in model.named_buffers()}
    xb = x[partition].transpose(0, 1).reshape(m * members, batch, -1)  # (M·members, B, features)
    yb = torch.gather(labels, 1, partition.flatten(1)).view(partition.shape).transpose(0, 1)
    logits = functional_call(model, (copies, buffers), (xb,))
    loss = per_sample_loss(logits, yb.reshape(m * members, batch)).mean(dim=1).sum()
    grads = torch.autograd.grad(loss, [copies[k] for k in names])
    return _flatten(
        {k: g.view(m, members, *g.shape[1:]) for k, g in zip(names, grads)}, lead_dims=2
    )


def alignment_and_amplitude(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Order parameters of minibatch gradients g (M, members, P) → R, A (members,).

    R = mean pairwise cosine = (|Σ_μ ĝ_μ|² − M) / (M(M−1));  A = |ḡ|² / mean_μ |g_μ|².
    """
    m = g.shape[0]
    unit = g / g.norm(dim=-1, keepdim=True).clamp(min=torch.finfo(g.dtype).tiny)
    r = ((unit.sum(0) ** 2).sum(-1) - m) / (m * (m - 1))
    a = (g.mean(0) ** 2).sum(-1) / (g**2).mean(0).sum(-1)
    return r, a


def minibatch_order_parameters(
    model: EnsembleMLP,
    x: torch.Tensor,
    labels: torch.Tensor,
    partition: torch.Tensor,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """R and A (members,) of the minibatch gradients of ``partition`` (members, M, B), computed
    ``chunk`` minibatches at a time (float64 sums), so memory stays O(chunk · members · P)."""
    m = partition.shape[1]
    sum_unit = sum_grad = sum_sq = 0.0
    for start in range(0, m, chunk):  # loop over chunks of minibatches, never over members
        g = minibatch_gradients(model, x, labels, partition[:, start : start + chunk]).double()
        sum_unit = sum_unit + (g / g.norm(dim=-1, keepdim=True).clamp(min=1e-300)).sum(0)
        sum_grad = sum_grad + g.sum(0)
        sum_sq = sum_sq + (g**2).sum(0).sum(-1)  # over minibatches first: one order for any members
    r = ((sum_unit**2).sum(-1) - m) / (m * (m - 1))
    a = ((sum_grad / m) ** 2).sum(-1) / (sum_sq / m)
    return r, a


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine between the last-axis vectors of a and b (NaN where either is zero)."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
