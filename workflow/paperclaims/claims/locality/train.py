"""Claim `locality`, training part: depth helps k-local targets and hurts k-global ones; the NTK
misses it. Targets, inputs, the analytic ReLU NTK and the finite networks; each step writes one
sweep cell (``train``: one n_train × depth cell; ``ntk``: one n_train). The analysis (measure,
checks, verdict) is in analysis.py, so editing it never reruns these.

Mori & Ueda, "Is deeper better? It depends on locality of relevant features" (arXiv 2005.12488)
and "Interplay between depth of neural networks and locality of target functions" (arXiv
2201.12082). Only the abstracts were available: the label definitions are a reconstruction
(shared/claims/locality.md), with the family (A or B) a config switch.

Conventions. Inputs x ∈ {−1, +1}^d (or Gaussian), periodic index i + d ≡ i, sgn(0) := +1.
A "target" is a (label type, k) pair named like ``local_k2``. Finite networks are ReLU MLPs in
standard parametrization with W ~ N(0, 2/fan_in) and zero biases (He init), so that at
infinite width their NTK in NTK parametrization is the analytic recursion below (σ_w² = 2,
σ_b² = 0). ``depth`` counts hidden layers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from paperclaims.blocks import block_range
from paperclaims.nets import EnsembleMLP
from paperclaims.progress import Progress
from paperclaims.seeds import derive_seed, generator, member_seeds

# Targets as claim.py names them (target_names), read back here: claim.py imports the registry,
# which training must not hash.
LABEL_TYPES = ("local", "global")


def parse_target(name: str) -> tuple[str, int]:
    """'global_k3' → ('global', 3)."""
    kind, _, k = name.partition("_k")
    if kind not in LABEL_TYPES or not k.isdigit():
        raise ValueError(f"unknown target {name!r}; expected e.g. 'local_k2' or 'global_k3'")
    return kind, int(k)


SIGMA_W2 = 2.0  # ReLU He scaling: keeps Σ^h(x, x) constant through depth
SIGMA_B2 = 0.0  # biases start at zero in the finite nets


# ---------------------------------------------------------------- targets
def _sign(v: torch.Tensor) -> torch.Tensor:
    """sgn with the tie rule sgn(0) = +1, so every label is ±1."""
    return torch.where(v >= 0, 1.0, -1.0).to(v.dtype)


def window_products(x: torch.Tensor, k: int) -> torch.Tensor:
    """∏_{j<k} x_{i+j} for every start i (periodic): (..., d) → (..., d)."""
    prod = torch.ones_like(x)
    for j in range(k):
        prod = prod * torch.roll(x, shifts=-j, dims=-1)
    return prod


def labels(x: torch.Tensor, kind: str, k: int, family: str = "A", i0: int = 0) -> torch.Tensor:
    """±1 labels of inputs ``x`` (..., d). On Gaussian inputs the sign is taken of each product."""
    d = x.shape[-1]
    if not 1 <= k <= d:
        raise ValueError(f"k = {k} must lie in 1 … d = {d}")
    if kind == "local":
        return _sign(window_products(x, k)[..., i0 % d])
    if kind != "global":
        raise ValueError(f"unknown label type {kind!r}; allowed: {LABEL_TYPES}")
    if family == "A":
        return _sign(window_products(x, k).sum(-1))
    if family == "B":
        if d % k:
            raise ValueError(f"family B needs k | d (k = {k}, d = {d})")
        blocks = x.reshape(*x.shape[:-1], k, d // k).sum(-1)
        return _sign(blocks).prod(-1)
    raise ValueError(f"unknown label family {family!r}; allowed: A, B")


def sample_inputs(n: int, d: int, distribution: str, seed: int) -> torch.Tensor:
    """(n, d) float64 inputs, uniform on {−1, +1}^d or standard Gaussian."""
    gen = generator(seed)
    if distribution == "binary":
        return torch.randint(0, 2, (n, d), generator=gen).to(torch.float64) * 2 - 1
    if distribution == "gaussian":
        return torch.randn(n, d, generator=gen, dtype=torch.float64)
    raise ValueError(f"unknown input distribution {distribution!r}; allowed: binary, gaussian")


def seed_indices(p: dict) -> range:
    """The data seeds a job holds: its block (NTK jobs, claim.NTK_SEED_BLOCKS) or all n_seeds."""
    return block_range(p["seed_block"]) if "seed_block" in p else range(p["n_seeds"])


def dataset(p: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Train/test inputs (seed, n, d) and labels (seed, n, target), float64.

    Seed s draws its training set from ``train_seed``'s member s and its test set from
    ``test_seed``'s member s, so every depth, every target and the NTK see the same data. A job
    holds seeds ``seed_indices(p)``.
    """
    index, d = seed_indices(p), p["d"]
    train_seeds = member_seeds(p["train_seed"], index.stop)[index.start :]
    test_seeds = member_seeds(p["test_seed"], index.stop)[index.start :]
    x_train = torch.stack([sample_inputs(p["n_train"], d, p["inputs"], s) for s in train_seeds])
    x_test = torch.stack([sample_inputs(p["n_test"], d, p["inputs"], s) for s in test_seeds])
    targets = list(p["targets"])

    def label_all(x):
        return torch.stack([labels(x, *parse_target(t), family=p["family"]) for t in targets], -1)

    return x_train, label_all(x_train), x_test, label_all(x_test), targets


# ---------------------------------------------------------------- analytic NTK
def relu_ntk_layers(x1: torch.Tensor, x2: torch.Tensor, depth: int):
    """Yield (h, Θ^h(x1, x2)) for h = 1 … depth: the ReLU NTK of a net with h hidden layers.

    Standard recursion (Jacot 2018; Arora et al. 2019) with σ_w² = 2, σ_b² = 0; batched over any
    leading dims of x1 (…, n1, d) and x2 (…, n2, d).
    """
    d = x1.shape[-1]
    sigma = SIGMA_W2 * x1 @ x2.transpose(-1, -2) / d + SIGMA_B2
    q1 = SIGMA_W2 * (x1 * x1).sum(-1) / d + SIGMA_B2  # Σ^h(x, x) on x1
    q2 = SIGMA_W2 * (x2 * x2).sum(-1) / d + SIGMA_B2
    theta = sigma
    for h in range(1, depth + 1):
        norm = torch.sqrt(q1[..., :, None] * q2[..., None, :])
        rho = (sigma / norm).clamp(-1.0, 1.0)
        angle = torch.arccos(rho)
        sigma = SIGMA_W2 * norm * (torch.sqrt(1 - rho**2) + (math.pi - angle) * rho) / (2 * math.pi)
        sigma = sigma + SIGMA_B2
        sigma_dot = SIGMA_W2 * (math.pi - angle) / (2 * math.pi)
        theta = theta * sigma_dot + sigma
        q1 = SIGMA_W2 * q1 / 2 + SIGMA_B2  # the recursion at ρ = 1
        q2 = SIGMA_W2 * q2 / 2 + SIGMA_B2
        yield h, theta


def relu_ntk(x1: torch.Tensor, x2: torch.Tensor, depth: int) -> torch.Tensor:
    """Θ^depth(x1, x2) alone."""
    *_, (_, theta) = relu_ntk_layers(x1, x2, depth)
    return theta


def kernel_predict(
    k_train: torch.Tensor, k_test: torch.Tensor, y: torch.Tensor, ridge: float
) -> torch.Tensor:
    """f = Θ(x, X) (Θ(X, X) + λ·mean diag·I)⁻¹ y, batched; λ only regularizes the solve."""
    n = k_train.shape[-1]
    scale = k_train.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None]
    eye = torch.eye(n, dtype=k_train.dtype, device=k_train.device)
    alpha = torch.linalg.solve(k_train + ridge * scale * eye, y)
    return k_test @ alpha


def he_mlp(d: int, width: int, depth: int, seeds: list[int], dtype, device) -> EnsembleMLP:
    """ReLU ensemble with W ~ N(0, σ_w²/fan_in), zero biases (EnsembleMLP's normal init × √σ_w²)."""
    model = EnsembleMLP(
        [d] + [width] * depth + [1], seeds, "relu", init="normal", dtype=dtype, device=device
    )
    with torch.no_grad():
        for w in model.weights:
            w.mul_(math.sqrt(SIGMA_W2))
    return model


def empirical_ntk(model: EnsembleMLP, x: torch.Tensor) -> torch.Tensor:
    """Empirical NTK (members, n, n) in NTK parametrization: the weight gradients of layer l are
    rescaled by σ_w²/fan_in_l, the Jacobian factor between the two parametrizations (σ_b = 0,
    so biases carry no kernel). For tests: one backward pass per input."""
    rows = []
    for i in range(x.shape[0]):
        out = model(x[i : i + 1])[:, 0, 0].sum()  # members are independent: sum = each member
        grads = torch.autograd.grad(out, list(model.weights))
        rows.append(
            torch.cat([(g * math.sqrt(SIGMA_W2 / g.shape[1])).flatten(1) for g in grads], dim=1)
        )
    jac = torch.stack(rows, dim=1)  # (members, n, params)
    return jac @ jac.transpose(1, 2)


# ---------------------------------------------------------------- finite networks
def _loss(out: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cross_entropy":  # logistic loss on ±1 labels
        return torch.nn.functional.softplus(-y * out)
    if kind == "mse":
        return (out - y) ** 2
    raise ValueError(f"unknown loss {kind!r}; allowed: cross_entropy, mse")


class _Optimizer:
    """Plain SGD or Adam (PyTorch's defaults β = (0.9, 0.999), ε = 1e-8) on a parameter list.

    torch.optim's constructor imports torch._dynamo, seconds per short job; these lines do not.
    """

    def __init__(self, params, kind: str, lr: float, betas=(0.9, 0.999), eps=1e-8):
        if kind not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {kind!r}; allowed: adam, sgd")
        self.params, self.kind, self.lr, self.betas, self.eps = list(params), kind, lr, betas, eps
        self.m = [torch.zeros_like(q) for q in self.params]
        self.v = [torch.zeros_like(q) for q in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for q, m, v in zip(self.params, self.m, self.v):
            # lr: one float, or one per ensemble member (members, ) on the parameters' first dim
            lr = self.lr if not torch.is_tensor(self.lr) else self.lr.view(-1, *[1] * (q.dim() - 1))
            if self.kind == "sgd":
                q.sub_(lr * q.grad)
                continue
            m.mul_(b1).add_(q.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(q.grad, q.grad, value=1 - b2)
            denom = (v / (1 - b2**self.t)).sqrt_().add_(self.eps)
            if torch.is_tensor(lr):
                q.sub_(lr / (1 - b1**self.t) * m / denom)
            else:
                q.addcdiv_(m, denom, value=-lr / (1 - b1**self.t))

    def zero_grad(self) -> None:
        for q in self.params:
            q.grad = None

    def state_dict(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        for mine, saved in zip([*self.m, *self.v], [*state["m"], *state["v"]], strict=True):
            mine.copy_(saved)
        self.t = state["t"]


def fit_to_criterion(model, x, y, x_test, y_test, p, gen, checkpoint=None, required=None):
    """Minibatch training of all members at once, each until it meets the protocol's criterion.

    The protocol (issue 18): every depth is trained to the same **training-loss criterion** — a
    member meets it at the first epoch whose mean training loss is ≤ ``p["loss_target"]`` — and
    its test error is read at that epoch. Training stops when every ``required`` member (default:
    all) has met it, or at ``p["max_epochs"]``; members that never meet it are read at the stop.
    Every ``p["eval_every"]`` epochs (and at the stop) the test error of every member is recorded,
    for the error-against-epochs figure.

    x (members, N, d), y (members, N). Returns a dict of tensors: ``test_error`` and
    ``train_loss`` at the criterion (or the stop), ``criterion_epoch`` (0: never met),
    ``fit_epoch`` (first epoch with zero training error; 0: never), ``stop_epoch``,
    ``train_error`` (members, epochs) and ``test_history`` (members, epochs; NaN where not
    evaluated). With ``checkpoint`` the whole state is saved between epochs and a rerun resumes.
    """
    members, n = y.shape
    required = torch.ones(members, dtype=torch.bool) if required is None else required.cpu()
    opt = _Optimizer(model.parameters(), p["optimizer"], p["lr"])
    cap, every = p["max_epochs"], p["eval_every"]
    state = {
        "criterion_epoch": torch.zeros(members, dtype=torch.int64),
        "fit_epoch": torch.zeros(members, dtype=torch.int64),
        "test_error": torch.full((members,), float("nan"), dtype=torch.float64),
        "train_loss": torch.full((members,), float("nan"), dtype=torch.float64),
        "train_error": torch.full((members, cap), float("nan"), dtype=torch.float64),
        "test_history": torch.full((members, cap), float("nan"), dtype=torch.float64),
    }

    def evaluate(inputs, targets):  # (error, mean loss) per member
        with torch.no_grad():
            out = model(inputs)[..., 0]
            err = (out * targets <= 0).double().mean(1).cpu()
            return err, _loss(out, targets, p["loss"]).double().mean(1).cpu()

    first = 1
    if checkpoint is not None and (saved := checkpoint.load()) is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        state = saved["state"]
        first = saved["step"] + 1
    met = state["criterion_epoch"]
    progress = Progress(
        "fit_to_criterion",
        cap,
        unit="epoch",
        start=first - 1,
        detail=lambda: f"{int((met > 0).sum())}/{members} members fitted",
    )
    stop = first - 1
    for epoch in range(first, cap + 1):
        order = torch.randperm(n, generator=gen).to(x.device)
        for start in range(0, n, p["batch_size"]):
            idx = order[start : start + p["batch_size"]]
            opt.zero_grad()
            loss = _loss(model(x[:, idx])[..., 0], y[:, idx], p["loss"]).mean(1)
            loss.sum().backward()  # independent members: each gets its own gradient
            opt.step()
        stop = epoch
        train_err, train_loss = evaluate(x, y)
        state["train_error"][:, epoch - 1] = train_err
        state["fit_epoch"][(train_err == 0) & (state["fit_epoch"] == 0)] = epoch
        newly = (train_loss <= p["loss_target"]) & (met == 0)
        done = bool(((met > 0) | newly | ~required).all())
        if newly.any() or epoch % every == 0 or done or epoch == cap:
            test_err, _ = evaluate(x_test, y_test)
            state["test_history"][:, epoch - 1] = test_err
            state["test_error"][newly] = test_err[newly]
            state["train_loss"][newly] = train_loss[newly]
            met[newly] = epoch
        progress.update(epoch)
        if done:
            break
        if checkpoint is not None:
            checkpoint.maybe_save(
                epoch,
                lambda: {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "generator": gen.get_state(),
                    "state": state,
                },
            )
    progress.finish()
    never = met == 0
    if never.any():
        test_err, loss_now = evaluate(x_test, y_test)[0], evaluate(x, y)[1]
        state["test_error"][never] = test_err[never]
        state["train_loss"][never] = loss_now[never]
    state["stop_epoch"] = torch.full((members,), stop, dtype=torch.int64)
    return state


def shuffled(y: torch.Tensor, seeds: list[int]) -> torch.Tensor:
    """The shuffled-label control: each row of y (row, n) permuted over its points by its own seed,
    so the labels keep their balance but are independent of the inputs."""
    perms = torch.stack([torch.randperm(y.shape[-1], generator=generator(s)) for s in seeds])
    return torch.gather(y, -1, perms.to(y.device))


def train(step) -> None:
    """One sweep cell (n_train × depth): every target × seed, and each one's shuffled-label control
    on the same inputs, trained as one ensemble under the training-loss protocol."""
    p = step.params
    device, dtype = step.device, torch.float32
    x_train, y_train, x_test, y_test, targets = dataset(p)
    n_seeds, n_targets = p["n_seeds"], len(targets)
    n_real = n_targets * n_seeds
    # member m: labels = block m // n_real (0: true, 1: shuffled), target (m % n_real) // S, seed m % S
    seeds = member_seeds(p["cell_seed"], 2 * n_real)

    def per_member(a):  # (seed, n, target) labels or (seed, n, d) inputs → member-major
        return a.permute(2, 0, 1).reshape(n_real, -1)

    xs = x_train.repeat(2 * n_targets, 1, 1).to(device=device, dtype=dtype)
    xt = x_test.repeat(2 * n_targets, 1, 1).to(device=device, dtype=dtype)
    ys, yt = per_member(y_train), per_member(y_test)
    # the control's permutations depend on the data seeds only: the same at every depth (paired)
    ys_c = shuffled(ys, member_seeds(derive_seed(p["train_seed"], "shuffle"), n_real))
    yt_c = shuffled(yt, member_seeds(derive_seed(p["test_seed"], "shuffle"), n_real))
    ys = torch.cat([ys, ys_c]).to(device=device, dtype=dtype)
    yt = torch.cat([yt, yt_c]).to(device=device, dtype=dtype)
    model = he_mlp(p["d"], p["width"], p["depth"], seeds, dtype, device)
    required = torch.arange(2 * n_real) < n_real  # the controls need not meet the criterion
    if isinstance(p["lr"], list):  # one lr per target (claim.py: chosen per label type and depth)
        per_target = torch.tensor(p["lr"], dtype=dtype, device=device)
        p = {**p, "lr": per_target.repeat_interleave(n_seeds).repeat(2)}  # controls: their target's
    out = fit_to_criterion(
        model,
        xs,
        ys,
        xt,
        yt,
        p,
        generator(p["cell_seed"]),
        checkpoint=step.checkpoint(),
        required=required,
    )
    shape = (2, n_targets, n_seeds)
    dims = ("labels", "target", "seed")
    stop = int(out["stop_epoch"][0])

    def var(name, attrs, epochs=False):
        a = out[name].reshape(*shape, -1)[..., :stop] if epochs else out[name].reshape(shape)
        return (dims + (("epoch",) if epochs else ()), a.numpy(), attrs)

    ds = xr.Dataset(
        {
            "test_error": var(
                "test_error", {"units": "fraction", "long_name": "test error at the criterion"}
            ),
            "train_loss": var("train_loss", {"long_name": "mean training loss at the criterion"}),
            "criterion_epoch": var(
                "criterion_epoch",
                {
                    "units": "epoch",
                    "long_name": "first epoch with training loss ≤ loss_target (0: never)",
                },
            ),
            "fit_epoch": var(
                "fit_epoch",
                {"units": "epoch", "long_name": "first epoch with zero training error (0: never)"},
            ),
            "train_error": var("train_error", {"units": "fraction"}, epochs=True),
            "test_history": var(
                "test_history",
                {"units": "fraction", "long_name": "test error (NaN: epoch not evaluated)"},
                epochs=True,
            ),
        },
        coords={
            "labels": ["true", "shuffled"],
            "target": targets,
            "seed": np.arange(n_seeds),
            "epoch": np.arange(1, stop + 1),
        },
        attrs={
            "n_train": p["n_train"],
            "depth": p["depth"],
            "family": p["family"],
            "loss_target": p["loss_target"],
            "stop_epoch": stop,
        },
    )
    step.write(ds, step.output[0])


# ---------------------------------------------------------------- NTK regression
def ntk_test_errors(x_train, y_train, x_test, y_test, depths, ridge) -> np.ndarray:
    """NTK-regression test error (depth, seed, target) at each of ``depths``, seeds batched."""
    depths = sorted(depths)
    errors = {}
    train_layers = relu_ntk_layers(x_train, x_train, max(depths))
    test_layers = relu_ntk_layers(x_test, x_train, max(depths))
    for (h, k_train), (_, k_test) in zip(train_layers, test_layers):
        if h in depths:
            pred = kernel_predict(k_train, k_test, y_train, ridge)
            errors[h] = (pred * y_test <= 0).double().mean(1).cpu().numpy()  # (seed, target)
    return np.stack([errors[h] for h in depths])


def ntk(step) -> None:
    """One cell (n_train): analytic-NTK regression at every depth, all seeds and targets batched."""
    p = step.params
    device = step.device
    x_train, y_train, x_test, y_test, targets = dataset(p)
    depths = sorted(p["depths"])
    error = ntk_test_errors(
        x_train.to(device),
        y_train.to(device),
        x_test.to(device),
        y_test.to(device),
        depths,
        p["ridge"],
    )  # (depth, seed, target)
    # chance level of each target: the error of always predicting its majority class (family A's
    # k-global label is imbalanced by the tie rule sgn(0) = +1: for k = 2, d = 32, P(y = +1) = 0.64)
    positive = (y_test > 0).double().mean(1).cpu().numpy()  # (seed, target)
    ds = xr.Dataset(
        {
            "ntk_test_error": (("depth", "seed", "target"), error, {"units": "fraction"}),
            "majority_error": (
                ("seed", "target"),
                np.minimum(positive, 1 - positive),
                {"long_name": "test error of the majority-class predictor (chance level)"},
            ),
        },
        coords={"depth": depths, "seed": np.asarray(seed_indices(p)), "target": targets},
        attrs={"n_train": p["n_train"], "family": p["family"], "ridge": p["ridge"]},
    )
    step.write(ds.transpose("target", "depth", "seed"), step.output[0])
