"""Claim `escape`, training part: SGD chains on a finite linear regression (the stationary law of
Fig. 3a, the first passages of Fig. 3b and the ratio test, with its constant-noise Langevin control)
and the MLP of Fig. 2 whose noise strength is tracked against the loss. Each step writes one sweep
cell; the analysis (theory, measure, checks, verdict) is in analysis.py, so editing it never reruns
these.

Mori, Ziyin, Liu, Ueda, "Power-Law Escape Rate of SGD", ICML 2022 (arXiv 2105.09557).
Model of Fig. 3: linear regression f = θᵀx, x ~ N(0, I_d), labels y ~ N(0, σ²) independent of x,
a finite data set of N samples, loss L(θ) = (1/2N) Σ_μ (θᵀx_μ − y_μ)² = L* + ½ (θ−θ*)ᵀH(θ−θ*).
One SGD step on a minibatch of B samples (drawn with replacement) is an affine map
θ ← (I − η/B Σ_b x_b x_bᵀ) θ + η/B Σ_b x_b y_b, so thousands of chains advance as one tensor.
Time is t = η × iterations, as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims.nets import EnsembleMLP
from paperclaims.progress import Progress
from paperclaims.seeds import derive_seed, generator, member_seeds
from paperclaims.sgd import (
    FirstPassage,
    affine_update,
    chunk_length,
    least_squares_update,
    run_chains,
)

DTYPE = torch.float64
# Euler–Maruyama processes of the discreteness sweep, by name: the noise law each simulates
EULER_MARUYAMA = {"em": "decoupled", "em_exact": "exact"}


# ---------------------------------------------------------------- the landscape
class Regression:
    """A finite linear-regression data set and its exact minimum θ*, L* and Hessian H.

    Labels are ``label_noise`` × y₀ with y₀ drawn after the inputs from the same seed, so one
    seed at several label scales gives the same landscape shape with L* ∝ σ². The data are
    drawn on the CPU and then moved to ``device``: every device sees the same landscape."""

    def __init__(
        self,
        n_data: int,
        dim: int,
        label_noise: float,
        seed: int,
        device: str | torch.device = "cpu",
    ):
        gen = generator(derive_seed(seed, "data"))
        self.x = torch.randn(n_data, dim, generator=gen, dtype=DTYPE).to(device)
        self.y = (torch.randn(n_data, generator=gen, dtype=DTYPE) * label_noise).to(device)
        self.hessian = self.x.T @ self.x / n_data
        self.theta_star = torch.linalg.solve(self.x.T @ self.x, self.x.T @ self.y)
        residual = self.x @ self.theta_star - self.y
        self.loss_star = float((residual**2).mean() / 2)
        self.dim = dim

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(θ) for θ of shape (..., d): exact, since L is quadratic."""
        u = theta - self.theta_star
        return self.loss_star + ((u @ self.hessian) * u).sum(-1) / 2

    def sgd(self, gen, chains: int, lr: float, batch: int):
        """(next_chunk, update) of minibatch SGD (indices drawn with replacement) for every chain.

        d = 1: the step is the affine map θ ← (1 − η/B Σ x²) θ + η/B Σ x y, one multiply-add;
        d > 1: the residual form θ ← θ − η/B Σ x (xᵀθ − y) (no d×d matrices per chain)."""
        n, d = self.x.shape
        if d == 1:
            x2, xy = self.x[:, 0] ** 2, self.x[:, 0] * self.y

            def next_chunk(k):
                idx = torch.randint(n, (k, chains, batch), generator=gen, device=gen.device)
                return (
                    1 - (lr / batch) * x2[idx].sum(-1, keepdim=True),
                    (lr / batch) * xy[idx].sum(-1, keepdim=True),
                )

            return next_chunk, affine_update

        def next_chunk(k):
            idx = torch.randint(n, (k, chains, batch), generator=gen, device=gen.device)
            return self.x[idx], self.y[idx]

        return next_chunk, least_squares_update(lr)

    def langevin(self, gen, chains: int, lr: float, batch: int, reference_loss: float):
        """Constant-noise control on the same landscape: θ ← θ − η H(θ − θ*) + η ξ with
        Cov ξ = 2 L_ref H / B, the decoupled SGD noise frozen at the loss level ``reference_loss``."""
        d = self.dim
        a = torch.eye(d, dtype=DTYPE, device=self.x.device) - lr * self.hessian
        chol = torch.linalg.cholesky(2 * reference_loss * self.hessian / batch)
        drift = lr * self.hessian @ self.theta_star

        def next_chunk(k):
            noise = (
                torch.randn(k, chains, d, generator=gen, dtype=DTYPE, device=gen.device) @ chol.T
            )
            b = drift + lr * noise
            if d == 1:
                return a.reshape(1, 1, 1).expand(k, chains, 1), b
            return (b,)

        if d == 1:
            return next_chunk, affine_update
        a_t = a.T.contiguous()
        return next_chunk, lambda theta, b, *, out: torch.addmm(b, theta, a_t, out=out)

    def euler_maruyama(self, gen, chains: int, lr: float, batch: int, noise: str):
        """The SDE dθ = −∇L dt + √(η Σ(θ)) dW of the paper, Euler–Maruyama with step dt = η (d = 1):
        θ ← θ − η H (θ − θ*) + η √(Σ(θ)) ξ, ξ ~ N(0, 1), Gaussian noise at every step.

        ``noise="decoupled"``: the paper's Σ = 2 L(θ) H / B; ``"exact"``: the data's exact
        per-sample gradient variance Var_μ[x_μ(x_μ θ − y_μ)] / B (from the data's moments), the
        noise shape of minibatch SGD on Gaussian inputs, whose continuum limit is not the paper's."""
        if self.dim != 1:
            raise ValueError("euler_maruyama: d = 1 only")
        return euler_maruyama_kernel(gen, chains, lr, batch, noise, self.moments())

    def moments(self) -> dict[str, float]:
        """d = 1: the data's moments that fix L(θ) and the per-sample gradient variance."""
        x, y = self.x[:, 0], self.y
        return {
            "h": float(self.hessian[0, 0]),
            "theta_star": float(self.theta_star[0]),
            "loss_star": self.loss_star,
            "m4": float((x**4).mean()),
            "m3y": float((x**3 * y).mean()),
            "m2yy": float((x * x * y * y).mean()),
            "mxy": float((x * y).mean()),
        }


def euler_maruyama_kernel(gen, chains: int, lr: float, batch: int, noise: str, moments: dict):
    """(next_chunk, update) of Euler–Maruyama in d = 1 (see ``Regression.euler_maruyama``); the
    moments are numbers or per-chain (chains, 1) tensors (one data set per group of chains)."""
    h, theta_star, loss_star = moments["h"], moments["theta_star"], moments["loss_star"]
    m4, m3y, m2yy, mxy = moments["m4"], moments["m3y"], moments["m2yy"], moments["mxy"]

    def variance(theta):
        if noise == "decoupled":
            u = theta - theta_star
            return 2 * (loss_star + h * u * u / 2) * h
        mean = h * theta - mxy
        return (m4 * theta * theta - 2 * m3y * theta + m2yy - mean * mean).clamp_min(0)

    def next_chunk(k):
        return (torch.randn(k, chains, 1, generator=gen, dtype=DTYPE, device=gen.device),)

    def update(theta, xi, *, out):
        step = lr * (variance(theta) / batch).sqrt() * xi - lr * h * (theta - theta_star)
        return torch.add(theta, step, out=out)

    return next_chunk, update


def fused_kernel(step) -> bool:
    """CPU runs advance the chains with the fused numba kernel (fused.py, its own counter-based
    draws from the cell seed); other devices keep the torch kernels and ``run_chains``."""
    return step.device.type == "cpu"


def start_at_minimum(problem: Regression, chains: int) -> torch.Tensor:
    return problem.theta_star.expand(chains, problem.dim).clone()


# ---------------------------------------------------------------- simulate: stationary law
def simulate_stationary(step) -> None:
    """One (η, B) cell of Fig. 3a: chains from θ*, burn-in, then L/L* every ``thin`` steps."""
    p = step.params
    gen = generator(p["cell_seed"], step.device)
    problem = Regression(p["n_data"], 1, p["label_noise"], p["cell_seed"], step.device)
    chains = p["chains"]
    samples = np.empty((chains, p["n_samples"]))
    sample_steps = p["burn_in"] + p["thin"] * np.arange(1, p["n_samples"] + 1)

    def record(trajectory, first_step):
        steps_here = np.arange(first_step, first_step + len(trajectory))
        rows = np.isin(steps_here, sample_steps)
        if rows.any():
            cols = np.searchsorted(sample_steps, steps_here[rows])
            samples[:, cols] = (problem.loss(trajectory[rows]) / problem.loss_star).T.cpu().numpy()
        return False

    sgd = p.get("process", "sgd") == "sgd"
    chunk = chunk_length(chains, p["batch"] * 2 + 4)
    if fused_kernel(step):
        from paperclaims.claims.escape import fused

        if sgd:
            fused_chains = fused.regression_sgd(problem, chains, p["lr"], p["batch"])
        else:
            fused_chains = fused.regression_langevin(
                problem, chains, p["lr"], p["batch"], problem.loss_star
            )
        fused.run(
            fused_chains,
            start_at_minimum(problem, chains).numpy(),
            int(sample_steps[-1]),
            chunk,
            fused.chain_keys(p["cell_seed"], chains),
            sample_steps=sample_steps,
            samples=samples,
            checkpoint=step.checkpoint(),
            threads=torch.get_num_threads(),
        )
    else:
        if sgd:
            kernel = problem.sgd(gen, chains, p["lr"], p["batch"])
        else:  # the tail test's control: noise frozen at the decoupled SGD noise of L*
            kernel = problem.langevin(gen, chains, p["lr"], p["batch"], problem.loss_star)
        run_chains(
            start_at_minimum(problem, chains),
            int(sample_steps[-1]),
            *kernel,
            chunk,
            record,
            checkpoint=step.checkpoint(),
            gen=gen,
            observed={"samples": samples},
        )
    ds = xr.Dataset(
        {"loss_ratio": (("chain", "sample"), samples, {"units": "L / L*"})},
        coords={
            "chain": np.arange(chains),
            "sample": ("sample", sample_steps, {"units": "iteration"}),
        },
        attrs={
            "lr": p["lr"],
            "batch": p["batch"],
            "loss_star": problem.loss_star,
            "hessian": float(problem.hessian[0, 0]),
            "process": p.get("process", "sgd"),
        },
    )
    step.write(ds, step.output[0])


# ---------------------------------------------------------------- simulate: first passage
def simulate_first_passage(step) -> None:
    """One cell of Fig. 3b / the ratio test: iterations until L > threshold, per chain.

    Thresholds are ``c`` (L > c L*) or, for the constant-noise control, ``delta_loss``
    (L > L* + ΔL). Chains not passed after ``max_steps`` are censored (NaN). With
    ``n_datasets`` > 1 (the Fig. 3b cells, SGD) the chains are split evenly over that many data
    sets, data set g drawn from ``derive_seed(cell_seed, "dataset", g)``, each chain against its
    own data set's c L*: the measure resamples data sets as well as chains, since the escape
    rate depends on the data set's rare large inputs (a spread one data set's chains do not show)."""
    p = step.params
    gen = generator(p["cell_seed"], step.device)
    chains, n_sets = p["chains"], p.get("n_datasets", 1)
    if n_sets == 1:
        # the ratio cells share one data set (``data_seed``): labels σ y₀ on the same inputs
        problems = [
            Regression(
                p["n_data"],
                p["dim"],
                p["label_noise"],
                p.get("data_seed", p["cell_seed"]),
                step.device,
            )
        ]
    elif p["process"] != "sgd" or chains % n_sets:
        raise ValueError(
            f"first passage: n_datasets {n_sets} needs process sgd (got {p['process']}) and "
            f"chains ({chains}) a multiple of it"
        )
    else:
        problems = [
            Regression(
                p["n_data"],
                p["dim"],
                p["label_noise"],
                derive_seed(p["cell_seed"], "dataset", g),
                step.device,
            )
            for g in range(n_sets)
        ]
    group = torch.arange(chains, device=step.device) // (chains // n_sets)
    loss_star = torch.tensor([q.loss_star for q in problems], dtype=DTYPE, device=step.device)
    mean_loss_star = float(loss_star.mean())
    if p.get("delta_loss"):
        delta = np.asarray(p["delta_loss"], dtype=float)
        c = 1 + delta / mean_loss_star  # one data set here
    else:
        c = np.asarray(p["c"], dtype=float)
        delta = (c - 1) * mean_loss_star
    c_t = torch.as_tensor(c, dtype=DTYPE, device=step.device)
    passage = FirstPassage(chains, c_t * mean_loss_star)
    if n_sets > 1:
        passage.thresholds = loss_star[group].unsqueeze(1) * c_t  # (chains, thresholds)
    if p["process"] == "sgd":
        width = p["batch"] * (p["dim"] + 2) + 2 * p["dim"]
    else:
        width = 4 * p["dim"]
    theta0 = torch.stack([q.theta_star for q in problems])[group]
    if fused_kernel(step):
        from paperclaims.claims.escape import fused

        if p["process"] == "sgd":
            fused_chains = fused.regression_sgd(
                problems, chains, p["lr"], p["batch"], group.cpu().numpy()
            )
        else:
            fused_chains = fused.regression_langevin(
                problems[0], chains, p["lr"], p["batch"], p["langevin_reference_loss"]
            )
        fused.run(
            fused_chains,
            theta0.cpu().numpy(),
            p["max_steps"],
            chunk_length(chains, width),
            fused.chain_keys(p["cell_seed"], chains),
            thresholds=passage.thresholds.numpy(),
            passage=passage.step.numpy(),  # shares the tensor's memory: filled in place
            checkpoint=step.checkpoint(),
            threads=torch.get_num_threads(),
        )
    else:
        if n_sets > 1:
            kernel, loss = _sgd_on_datasets(gen, problems, group, p["lr"], p["batch"])
        elif p["process"] == "sgd":
            kernel, loss = problems[0].sgd(gen, chains, p["lr"], p["batch"]), problems[0].loss
        else:
            kernel = problems[0].langevin(
                gen, chains, p["lr"], p["batch"], p["langevin_reference_loss"]
            )
            loss = problems[0].loss
        run_chains(
            theta0,
            p["max_steps"],
            *kernel,
            chunk_length(chains, width),
            lambda trajectory, first: passage.update(loss(trajectory), first),
            checkpoint=step.checkpoint(),
            gen=gen,
            observed={"passage_step": passage.step},
        )
    hessian = [float(q.hessian[0, 0]) if p["dim"] == 1 else float("nan") for q in problems]
    ds = passage.dataset(
        p["lr"],
        c,
        delta,
        {
            "process": p["process"],
            "dim": p["dim"],
            "label_noise": p["label_noise"],
            "loss_star": mean_loss_star,
            "horizon": p["max_steps"] * p["lr"],
            "batch": p["batch"],
            "hessian": float(np.mean(hessian)),
        },
    )
    if n_sets > 1:
        ds = ds.assign_coords(
            chain_dataset=("chain", group.cpu().numpy()), dataset=np.arange(n_sets)
        )
        ds["dataset_loss_star"] = ("dataset", loss_star.cpu().numpy())
        ds["dataset_hessian"] = ("dataset", np.array(hessian))
    step.write(ds, step.output[0])


def _sgd_on_datasets(gen, problems: list[Regression], group: torch.Tensor, lr: float, batch: int):
    """Torch kernel of minibatch SGD with chain i on data set ``group[i]`` (indices with
    replacement, the residual form for every d), and the per-chain loss for the passage test."""
    n, d = problems[0].x.shape
    x = torch.cat([q.x for q in problems])  # (sets × n, d)
    y = torch.cat([q.y for q in problems])
    offset = (group * n).view(1, -1, 1)
    chains = len(group)
    theta_star = torch.stack([q.theta_star for q in problems])[group]  # (chains, d)
    hessian = torch.stack([q.hessian for q in problems])[group]  # (chains, d, d)
    loss_star = torch.tensor([q.loss_star for q in problems], dtype=DTYPE, device=x.device)[group]

    def next_chunk(k):
        idx = torch.randint(n, (k, chains, batch), generator=gen, device=gen.device) + offset
        return x[idx], y[idx]

    def loss(theta):  # (k, chains, d) → (k, chains)
        u = theta - theta_star
        return loss_star + torch.einsum("kci,cij,kcj->kc", u, hessian, u) / 2

    return (next_chunk, least_squares_update(lr)), loss


# ---------------------------------------------------------------- simulate: discreteness
def simulate_discreteness(step) -> None:
    """One (process, B) cell of the discrete-time excess (d = 1): first passages L > c L* of SGD
    or of an Euler–Maruyama SDE, on ``n_datasets`` data sets at once (a group of chains each), so
    the measure can resample data sets: the escape rate at B = 1 depends on the data set's rare
    large inputs, a spread the chains of one data set do not show. Every cell draws the same data
    sets (``data_seed``); data set g is ``Regression(..., derive_seed(data_seed, g))``."""
    p = step.params
    groups, chains = p["n_datasets"], p["chains"]
    if chains % groups:
        raise ValueError(f"discreteness: chains {chains} not a multiple of n_datasets {groups}")
    gen = generator(p["cell_seed"], step.device)
    problems = [
        Regression(p["n_data"], 1, p["label_noise"], derive_seed(p["data_seed"], g), step.device)
        for g in range(groups)  # the data sets are built once; the chains run as one tensor
    ]
    group = torch.arange(chains, device=step.device) // (chains // groups)
    moments = {
        k: torch.tensor([q.moments()[k] for q in problems], dtype=DTYPE, device=step.device)[
            group
        ].unsqueeze(1)
        for k in problems[0].moments()
    }
    lr, batch, n = p["lr"], p["batch"], p["n_data"]
    c = np.asarray(p["c"], dtype=float)
    thresholds = moments["loss_star"] * torch.as_tensor(c, dtype=DTYPE, device=step.device)
    passage = FirstPassage(chains, thresholds[0])
    passage.thresholds = thresholds  # (chains, thresholds): each chain against its data set's L*

    def loss(theta):
        u = theta - moments["theta_star"]
        return (moments["loss_star"] + moments["h"] * u * u / 2)[..., 0]

    if fused_kernel(step):
        from paperclaims.claims.escape import fused

        if p["process"] == "sgd":
            fused_chains = fused.regression_sgd(problems, chains, lr, batch, group.numpy())
        else:
            fused_chains = fused.regression_euler_maruyama(
                problems, chains, lr, batch, EULER_MARUYAMA[p["process"]], group.numpy()
            )
        width = 3 * batch + 4 if p["process"] == "sgd" else 6
        fused.run(
            fused_chains,
            moments["theta_star"].numpy(),
            p["max_steps"],
            chunk_length(chains, width),
            fused.chain_keys(p["cell_seed"], chains),
            thresholds=thresholds.numpy(),
            passage=passage.step.numpy(),  # shares the tensor's memory: filled in place
            checkpoint=step.checkpoint(),
            threads=torch.get_num_threads(),
        )
    else:  # the torch kernels
        if p["process"] == "sgd":
            x = torch.stack([q.x[:, 0] for q in problems])
            y = torch.stack([q.y for q in problems])
            x2, xy = (x * x).reshape(-1), (x * y).reshape(-1)
            offset = (group * n).view(1, chains, 1)

            def next_chunk(k):
                idx = (
                    torch.randint(n, (k, chains, batch), generator=gen, device=gen.device) + offset
                )
                return (
                    1 - (lr / batch) * x2[idx].sum(-1, keepdim=True),
                    (lr / batch) * xy[idx].sum(-1, keepdim=True),
                )

            kernel, width = (next_chunk, affine_update), 3 * batch + 4
        else:
            noise = EULER_MARUYAMA[p["process"]]
            kernel, width = euler_maruyama_kernel(gen, chains, lr, batch, noise, moments), 6
        run_chains(
            moments["theta_star"].clone(),
            p["max_steps"],
            *kernel,
            chunk_length(chains, width),
            lambda trajectory, first: passage.update(loss(trajectory), first),
            checkpoint=step.checkpoint(),
            gen=gen,
            observed={"passage_step": passage.step},
        )
    steps = passage.step.cpu().numpy().astype(float)
    loss_star = np.array([q.loss_star for q in problems])
    hessian = np.array([float(q.hessian[0, 0]) for q in problems])
    ds = xr.Dataset(
        {
            "passage_time": (
                ("chain", "threshold"),
                np.where(steps > 0, steps * lr, np.nan),
                {"units": "η × iterations (NaN: not passed by the horizon)"},
            ),
            "dataset_loss_star": ("dataset", loss_star),
            "dataset_hessian": ("dataset", hessian),
        },
        coords={
            "chain": np.arange(chains),
            "chain_dataset": ("chain", group.cpu().numpy()),
            "dataset": np.arange(groups),
            "threshold": np.arange(len(c)),
            "c": ("threshold", c, {"units": "L / L*"}),
            "delta_loss": ("threshold", (c - 1) * loss_star.mean(), {"units": "L − L* (mean L*)"}),
        },
        attrs={
            "process": p["process"],
            "dim": 1,
            "label_noise": p["label_noise"],
            "loss_star": float(loss_star.mean()),
            "horizon": p["max_steps"] * lr,
            "lr": lr,
            "batch": batch,
            "hessian": float(hessian.mean()),
        },
    )
    step.write(ds, step.output[0])


# ---------------------------------------------------------------- train: noise ∝ loss
def train_noise(step) -> None:
    """Fig. 2: MLP, MSE, minibatch SGD on a real data set; every epoch the exact noise strength
    𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² and the loss L. All seeds train as one batched ensemble."""
    from paperclaims.data import load

    p = step.params
    data = load(
        p["dataset"], seed=p["cell_seed"] % 2**32, n_train=p["n_train"]
    )  # from the base seed
    x = torch.as_tensor(data.x_train, dtype=DTYPE, device=step.device)
    y = torch.nn.functional.one_hot(torch.as_tensor(data.y_train), data.n_classes)
    y = y.to(device=step.device, dtype=DTYPE)
    n = len(x)
    seeds = member_seeds(p["cell_seed"], p["n_seeds"])
    model = EnsembleMLP(
        [x.shape[1], *p["hidden"], data.n_classes],
        seeds,
        "relu",
        init="uniform",
        dtype=DTYPE,
        device=step.device,
    )
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"])
    gen = generator(derive_seed(p["cell_seed"], "batches"))
    members = len(seeds)
    noise, loss = [], []
    checkpoint, first = step.checkpoint(), 0
    if (state := checkpoint.load()) is not None:  # a killed job resumes where it was
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        noise = [t.to(x.device) for t in state["noise"]]  # checkpoints are read onto the CPU
        loss = [t.to(x.device) for t in state["loss"]]
        first = state["step"] + 1
    progress = Progress("train_noise", p["epochs"], unit="epoch", start=first)
    for epoch in range(first, p["epochs"] + 1):
        n_e, l_e = noise_strength(model, x, y)
        noise.append(n_e)
        loss.append(l_e)
        if epoch == p["epochs"]:
            break
        # minibatch order drawn on the CPU: the same epochs on every device
        order = torch.argsort(torch.rand(members, n, generator=gen), dim=1).to(x.device)
        for start in range(0, n - p["batch"] + 1, p["batch"]):
            idx = order[:, start : start + p["batch"]]
            opt.zero_grad(set_to_none=True)
            per_member = ((model(x[idx]) - y[idx]) ** 2).sum(-1).mean(-1) / 2
            per_member.sum().backward()
            opt.step()
        progress.update(epoch + 1)  # the loop's epoch e measures, then trains epoch e + 1
        checkpoint.maybe_save(
            epoch,
            lambda: {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "generator": gen.get_state(),
                "noise": noise,
                "loss": loss,
            },
        )
    progress.finish()
    ds = xr.Dataset(
        {
            "noise": (("seed", "epoch"), torch.stack(noise, 1).cpu().numpy(), {"long_name": "𝒩"}),
            "loss": (("seed", "epoch"), torch.stack(loss, 1).cpu().numpy(), {"units": "MSE/2"}),
        },
        coords={"seed": np.arange(members), "epoch": np.arange(p["epochs"] + 1)},
        attrs={"dataset": data.name, "n_train": n},
    )
    step.write(ds, step.output[0])


def noise_strength(model: EnsembleMLP, x: torch.Tensor, y: torch.Tensor):
    """Exact 𝒩 and L per member, from per-sample gradients of every layer.

    In an MLP, sample μ's gradient for layer l is δ_l,μ a_(l−1),μᵀ (weights) and δ_l,μ (bias),
    so |∇ℓ_μ|² = Σ_l |δ_l,μ|² (|a_(l−1),μ|² + 1) exactly; δ comes from one backward pass
    of the summed loss (each pre-activation of sample μ only feeds ℓ_μ)."""
    h = x.expand(model.n_members, *x.shape)
    inputs, pre = [], []
    last = len(model.weights) - 1
    for i, (w, b) in enumerate(zip(model.weights, model.biases)):
        inputs.append(h.detach())
        z = torch.baddbmm(b, h, w)
        z.retain_grad()
        pre.append(z)
        h = torch.relu(z) if i < last else z
    per_sample = ((h - y) ** 2).sum(-1) / 2  # ℓ_μ, (members, N)
    model.zero_grad(set_to_none=True)
    per_sample.sum().backward()
    n = x.shape[0]
    sample_sq = torch.zeros_like(per_sample)
    full_sq = torch.zeros(model.n_members, dtype=x.dtype, device=x.device)
    for a, z in zip(inputs, pre):
        delta = z.grad  # (members, N, out): ∂ℓ_μ/∂z_μ
        sample_sq += (delta**2).sum(-1) * ((a**2).sum(-1) + 1)
        full_sq += (torch.bmm(a.transpose(1, 2), delta) ** 2).sum((1, 2)) / n**2
        full_sq += (delta.sum(1) ** 2).sum(-1) / n**2
    model.zero_grad(set_to_none=True)
    return (sample_sq.mean(1) - full_sq).detach(), per_sample.mean(1).detach()
