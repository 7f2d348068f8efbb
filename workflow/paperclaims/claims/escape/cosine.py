"""Claim `escape`, training part: the ratio-not-difference test on a landscape where it can fail
(claim issue 15). Its own module, so that adding it leaves the hash of train.py (and every other
simulation's cache) alone.

Model: f(θ, x) = x₁ cos θ + x₂ sin θ, one angle θ, x ~ N(0, I₂), labels y = x₁ + σ ε (ε ~ N(0, 1)),
a finite data set of N samples, loss L(θ) = (1/2N) Σ_μ (f(θ, x_μ) − y_μ)² ≈ σ²/2 + (1 − cos θ):
one minimum (L* ≈ σ²/2, curvature ≈ 1) and a barrier of height ≈ 2 at θ = π. The label-noise
scales share the inputs and ε, so changing σ moves L* and leaves the shape 1 − cos θ fixed (up to
O(σ/√N) cross terms): the landscape is translated, not scaled, and t_p collapsing on ln c (the
paper's Δlog L law) is a prediction, not an identity. Constant-noise Langevin on the same landscape
is the control, which collapses on ΔL.

Per-sample gradient: ∂ℓ_μ/∂θ = sin 2θ·(x₂² − x₁²)/2 + cos 2θ·x₁x₂ + sin θ·y x₁ − cos θ·y x₂, so a
minibatch step needs the batch sums of four per-sample numbers; thousands of chains advance as one
tensor. Time is t = η × iterations, as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch

from paperclaims.seeds import derive_seed, generator
from paperclaims.sgd import FirstPassage, chunk_length, run_chains

DTYPE = torch.float64


class CosineRegression:
    """The data set, its loss in closed form (from six moments) and its minimum θ*, L*, h*."""

    def __init__(self, n_data: int, label_noise: float, seed: int, device="cpu"):
        gen = generator(derive_seed(seed, "data"))
        x = torch.randn(n_data, 2, generator=gen, dtype=DTYPE)
        eps = torch.randn(n_data, generator=gen, dtype=DTYPE)
        y = x[:, 0] + label_noise * eps
        x1, x2 = x[:, 0], x[:, 1]
        # per-sample coefficients of sin 2θ, cos 2θ, sin θ, −cos θ in the gradient
        self.coef = torch.stack([(x2 * x2 - x1 * x1) / 2, x1 * x2, y * x1, y * x2], 1).to(device)
        m = {
            "m11": x1 @ x1,
            "m12": x1 @ x2,
            "m22": x2 @ x2,
            "my1": y @ x1,
            "my2": y @ x2,
            "myy": y @ y,
        }
        self.moments = {k: float(v) / n_data for k, v in m.items()}
        grid = np.linspace(-np.pi, np.pi, 20001)
        theta = float(grid[np.argmin(self.loss_np(grid))])
        for _ in range(50):  # Newton on L'(θ) = 0 from the grid's best point
            theta -= self.grad_np(theta) / self.curvature_np(theta)
        self.theta_star = theta
        self.loss_star = float(self.loss_np(theta))
        self.hessian = float(self.curvature_np(theta))
        self.barrier_loss = float(self.loss_np(grid).max())

    def loss_np(self, theta):
        m, c, s = self.moments, np.cos(theta), np.sin(theta)
        return (
            c * c * m["m11"]
            + 2 * c * s * m["m12"]
            + s * s * m["m22"]
            - 2 * c * m["my1"]
            - 2 * s * m["my2"]
            + m["myy"]
        ) / 2

    def grad_np(self, theta):
        m = self.moments
        return (
            np.sin(2 * theta) * (m["m22"] - m["m11"]) / 2
            + np.cos(2 * theta) * m["m12"]
            + np.sin(theta) * m["my1"]
            - np.cos(theta) * m["my2"]
        )

    def curvature_np(self, theta):
        m = self.moments
        return (
            np.cos(2 * theta) * (m["m22"] - m["m11"])
            - 2 * np.sin(2 * theta) * m["m12"]
            + np.cos(theta) * m["my1"]
            + np.sin(theta) * m["my2"]
        )

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(θ) for θ of shape (..., 1), exact."""
        m, c, s = self.moments, torch.cos(theta[..., 0]), torch.sin(theta[..., 0])
        return (
            c * c * m["m11"]
            + 2 * c * s * m["m12"]
            + s * s * m["m22"]
            - 2 * c * m["my1"]
            - 2 * s * m["my2"]
            + m["myy"]
        ) / 2

    def sgd(self, gen, chains: int, lr: float, batch: int):
        """(next_chunk, update) of minibatch SGD (indices drawn with replacement)."""
        n = self.coef.shape[0]

        def next_chunk(k):
            idx = torch.randint(n, (k, chains, batch), generator=gen, device=gen.device)
            return ((lr / batch) * self.coef[idx].sum(2),)  # (k, chains, 4)

        def update(theta, s, *, out):
            t = theta[:, 0]
            step = (
                torch.sin(2 * t) * s[:, 0]
                + torch.cos(2 * t) * s[:, 1]
                + torch.sin(t) * s[:, 2]
                - torch.cos(t) * s[:, 3]
            )
            return torch.sub(theta, step.unsqueeze(1), out=out)

        return next_chunk, update

    def langevin(self, gen, chains: int, lr: float, batch: int, reference_loss: float):
        """Constant-noise control: θ ← θ − η L'(θ) + η √(2 L_ref h*/B) ξ, the decoupled SGD noise
        frozen at the loss level ``reference_loss`` (the same for every label-noise scale)."""
        m = self.moments
        a, p, y1, y2 = (m["m22"] - m["m11"]) / 2, m["m12"], m["my1"], m["my2"]
        scale = lr * float(np.sqrt(2 * reference_loss * self.hessian / batch))

        def next_chunk(k):
            return (
                scale * torch.randn(k, chains, 1, generator=gen, dtype=DTYPE, device=gen.device),
            )

        def update(theta, noise, *, out):
            grad = (
                torch.sin(2 * theta) * a
                + torch.cos(2 * theta) * p
                + torch.sin(theta) * y1
                - torch.cos(theta) * y2
            )
            return torch.add(theta - lr * grad, noise, out=out)

        return next_chunk, update


def simulate_cosine(step) -> None:
    """One (process, σ) cell: iterations until L > threshold, per chain, from θ*. Thresholds are
    ``c`` (L > c L*, SGD) or ``delta_loss`` (L > L* + ΔL, the Langevin control); chains not
    passed after ``max_steps`` are censored (NaN)."""
    p = step.params
    gen = generator(p["cell_seed"], step.device)
    problem = CosineRegression(p["n_data"], p["label_noise"], p["data_seed"], step.device)
    chains = p["chains"]
    if p.get("delta_loss"):
        delta = np.asarray(p["delta_loss"], dtype=float)
        c = 1 + delta / problem.loss_star
    else:
        c = np.asarray(p["c"], dtype=float)
        delta = (c - 1) * problem.loss_star
    passage = FirstPassage(
        chains, torch.as_tensor(c * problem.loss_star, dtype=DTYPE, device=step.device)
    )
    if p["process"] == "sgd":
        kernel, width = problem.sgd(gen, chains, p["lr"], p["batch"]), 4 * p["batch"] + 8
    else:
        kernel = problem.langevin(gen, chains, p["lr"], p["batch"], p["langevin_reference_loss"])
        width = 4
    theta0 = torch.full((chains, 1), problem.theta_star, dtype=DTYPE, device=step.device)
    run_chains(
        theta0,
        p["max_steps"],
        *kernel,
        chunk_length(chains, width),
        lambda trajectory, first: passage.update(problem.loss(trajectory), first),
        checkpoint=step.checkpoint(),
        gen=gen,
        observed={"passage_step": passage.step},
    )
    ds = passage.dataset(
        p["lr"],
        c,
        delta,
        {
            "process": p["process"],
            "dim": 1,
            "label_noise": p["label_noise"],
            "loss_star": problem.loss_star,
            "hessian": problem.hessian,
            "barrier_loss": problem.barrier_loss,
            "horizon": p["max_steps"] * p["lr"],
            "batch": p["batch"],
        },
    )
    step.write(ds, step.output[0])
