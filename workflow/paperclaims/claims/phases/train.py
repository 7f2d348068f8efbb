"""Claim `phases`, training part: four phases of SGD with mislabeled data (Feng & Tu 2021).

Y. Feng, Y. Tu, "Phases of learning dynamics in artificial neural networks in the absence or
presence of mislabeled data", Mach. Learn.: Sci. Technol. 2, 043001 (2021); arXiv 2101.06509.
Only the abstract could be read: the order parameters below are OUR reconstruction of it
(../shared/claims/phases.md), not the paper's own formulas.

At fixed weights, with the training set split into M minibatches of size B, g_μ = ∇L_μ:
alignment R = mean pairwise cosine of the g_μ; amplitude A = |ḡ|² / mean |g_μ|²; with the correctly
labeled subset S_c and the mislabeled subset S_w, cos_cw = cos(∇L_{S_c}, ∇L_{S_w}) and the relative
strength r = ρ|∇L_{S_w}| / ((1−ρ)|∇L_{S_c}|).

The train steps (one ensemble per data set, then cleaning + retraining) and what they need: the
cleaning step picks its samples by the phase rule, so phase detection and the AUROC live here too.
The measure, checks and verdict are in analysis.py, so editing them never reruns these.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from paperclaims import data
from paperclaims.io import read_dataset
from paperclaims.nets import EnsembleMLP, record_steps
from paperclaims.seeds import derive_seed, generator, member_seeds
from paperclaims.training import (
    cosine,
    evaluate,
    minibatch_order_parameters,
    subset_gradients,
    train_sgd,
)

DEFINITIONS = {
    "R": "mean pairwise cosine of the M minibatch gradients = (|Σ ĝ_μ|² − M)/(M(M−1))",
    "A": "|ḡ|² / mean_μ |g_μ|²",
    "cos_cw": "cosine between the mean-loss gradients of the correct and the mislabeled subsets",
    "r": "ρ|g_w| / ((1−ρ)|g_c|), ρ the measured mislabeled fraction",
    "auroc": "AUROC of the per-sample training loss as a detector of mislabeled samples",
}
PHASE_RULE = (
    "I→II: first record with clean-subset train accuracy ≥ {clean_accuracy}; II→III: first later record "
    "with mislabeled-subset accuracy ≥ its value at I→II + {rise}; III→IV: first later record with "
    "mislabeled-subset accuracy ≥ {memorized}. ρ = 0: the single fast-learning → exploration transition "
    "is the I→II rule on the whole training set."
)


# ---------------------------------------------------------------- data and label noise
def load_data(p: dict) -> data.Dataset:
    """The cell's data set, truncated to n_train / n_test samples (digits has 1348 / 449).

    The MNIST-1D generator / digits split seed derives from the cell seed (numpy wants < 2**32)."""
    ds = data.load(
        p["dataset"],
        seed=derive_seed(p["cell_seed"], "data") % 2**31,
        n_train=p["n_train"],
        n_test=p["n_test"],
        mnist_dir=p["mnist_dir"],
    )
    return data.Dataset(
        ds.x_train[: p["n_train"]],
        ds.y_train[: p["n_train"]],
        ds.x_test[: p["n_test"]],
        ds.y_test[: p["n_test"]],
        ds.n_classes,
        ds.name,
    )


def corrupt_labels(
    labels: np.ndarray, rho: float, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the labels of exactly round(ρN) samples, chosen at random, by a uniformly drawn wrong
    class. Returns (noisy labels, mislabeled mask); the mask is exactly the set whose label changed."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    chosen = rng.choice(n, size=int(round(rho * n)), replace=False)
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    mislabeled = np.zeros(n, dtype=bool)
    mislabeled[chosen] = True
    return noisy, mislabeled


def relative_strength(rho: torch.Tensor, g_c: torch.Tensor, g_w: torch.Tensor) -> torch.Tensor:
    """r = ρ|g_w| / ((1−ρ)|g_c|): the mislabeled subset's pull on the full gradient relative to the
    correct subset's, since ∇L = (1−ρ) g_c + ρ g_w."""
    return rho * g_w.norm(dim=-1) / ((1 - rho) * g_c.norm(dim=-1))


def _member_seeds(cell_seed: int, noise: list[float], n_seeds: int) -> list[int]:
    """Members ordered (noise, seed); a member's seed depends only on its own ρ and seed index."""
    return [
        s for rho in noise for s in member_seeds(derive_seed(cell_seed, f"noise{rho:g}"), n_seeds)
    ]


def _mlp(p: dict, n_features: int, n_classes: int, seeds: list[int], device) -> EnsembleMLP:
    sizes = [n_features] + [p["width"]] * p["depth"] + [n_classes]
    return EnsembleMLP(sizes, seeds, "relu", init="uniform", dtype=torch.float32, device=device)


def _to_grid(values: np.ndarray, n_noise: int, n_seeds: int) -> np.ndarray:
    """(members, …) → (noise, seed, …)."""
    return values.reshape(n_noise, n_seeds, *values.shape[1:])


# ---------------------------------------------------------------- train
def train(step) -> None:
    """One data set: every noise level × seed trained as one ensemble by plain minibatch SGD."""
    p = step.params
    device = step.device
    ds = load_data(p)
    noise, n_seeds = p["noise"], p["n_seeds"]
    seeds = _member_seeds(p["cell_seed"], noise, n_seeds)
    rhos = np.repeat(noise, n_seeds)
    corrupted = [
        corrupt_labels(ds.y_train, rho, ds.n_classes, derive_seed(s, "labels"))
        for rho, s in zip(rhos, seeds)
    ]
    labels_np = np.stack([c[0] for c in corrupted])
    wrong_np = np.stack([c[1] for c in corrupted])
    x = torch.as_tensor(ds.x_train, device=device)
    labels = torch.as_tensor(labels_np, device=device)
    wrong = torch.as_tensor(wrong_np, device=device)
    x_test = torch.as_tensor(ds.x_test, device=device)
    y_test = torch.as_tensor(ds.y_test, device=device).expand(len(seeds), -1)
    model = _mlp(p, x.shape[1], ds.n_classes, seeds, device)
    gen = generator(derive_seed(p["cell_seed"], "minibatches"), device)
    # Fixed partition of the training set into M minibatches per member, for the order parameters.
    n_mb = len(ds.y_train) // p["batch_size"]
    order = torch.argsort(
        torch.rand(len(seeds), len(ds.y_train), generator=gen, device=device), dim=1
    )
    partition = order[:, : n_mb * p["batch_size"]].reshape(len(seeds), n_mb, p["batch_size"])
    rho_measured = wrong.double().mean(1)
    masks = torch.stack([~wrong, wrong])

    when = [0] + record_steps(p["steps"], p["n_records"])
    rec: dict[str, list] = {k: [] for k in ("loss", "correct", "test_err", "R", "A", "cos_cw", "r")}

    def on_record(_step):
        loss, correct = evaluate(model, x, labels)
        _, test_correct = evaluate(model, x_test, y_test)
        r_align, amp = minibatch_order_parameters(model, x, labels, partition)
        g_c, g_w = subset_gradients(model, x, labels, masks).double()
        rec["loss"].append(loss.cpu().numpy())
        rec["correct"].append(correct.cpu().numpy())
        rec["test_err"].append(1 - test_correct.double().mean(1).cpu().numpy())
        rec["R"].append(r_align.cpu().numpy())
        rec["A"].append(amp.cpu().numpy())
        rec["cos_cw"].append(cosine(g_c, g_w).cpu().numpy())
        rec["r"].append(relative_strength(rho_measured, g_c, g_w).cpu().numpy())

    train_sgd(
        model,
        x,
        labels,
        steps=p["steps"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        gen=gen,
        record=when,
        on_record=on_record,
        checkpoint=step.checkpoint(),
        recorded=rec,
    )
    step.write(_run_dataset(p, rec, when, labels_np, wrong_np, ds, seeds), step.output[0])


def _run_dataset(p, rec, when, labels_np, wrong_np, ds, seeds) -> xr.Dataset:
    n_noise, n_seeds = len(p["noise"]), p["n_seeds"]

    def grid(name):  # (step, members, …) → (noise, seed, step, …)
        return _to_grid(np.moveaxis(np.asarray(rec[name]), 0, 1), n_noise, n_seeds)

    dims = ("noise", "seed", "step")
    out = xr.Dataset(
        {
            "sample_loss": (
                dims + ("sample",),
                grid("loss").astype(np.float32),
                {"units": "nats (cross-entropy)"},
            ),
            "sample_correct": (
                dims + ("sample",),
                grid("correct"),
                {"long_name": "prediction equals training label"},
            ),
            "test_error": (dims, grid("test_err"), {"units": "fraction"}),
            "R": (dims, grid("R"), {"long_name": DEFINITIONS["R"]}),
            "A": (dims, grid("A"), {"long_name": DEFINITIONS["A"]}),
            "cos_cw": (dims, grid("cos_cw"), {"long_name": DEFINITIONS["cos_cw"]}),
            "r": (dims, grid("r"), {"long_name": DEFINITIONS["r"]}),
            "label": (("noise", "seed", "sample"), _to_grid(labels_np, n_noise, n_seeds)),
            "mislabeled": (("noise", "seed", "sample"), _to_grid(wrong_np, n_noise, n_seeds)),
            "true_label": ("sample", ds.y_train),
        },
        coords={
            "noise": (
                "noise",
                np.asarray(p["noise"], dtype=float),
                {"long_name": "mislabeled fraction ρ"},
            ),
            "seed": np.arange(n_seeds),
            "member_seed": (
                ("noise", "seed"),
                np.asarray(seeds, dtype=np.int64).reshape(n_noise, n_seeds),
            ),
            "step": ("step", np.asarray(when), {"units": "SGD steps"}),
            "sample": np.arange(len(ds.y_train)),
        },
        attrs={"dataset": p["dataset"], **{f"definition_{k}": v for k, v in DEFINITIONS.items()}},
    )
    return out


# ---------------------------------------------------------------- phase detection and AUROC
def detect_phases(
    acc_clean: np.ndarray,
    acc_wrong: np.ndarray,
    *,
    clean_accuracy: float,
    rise: float,
    memorized: float,
) -> tuple[int, int, int]:
    """Record indices of the I→II, II→III and III→IV transitions of one run (−1 where not found).

    acc_clean / acc_wrong: train accuracy on the correct / mislabeled subsets at each record
    (acc_wrong all NaN when ρ = 0: then only I→II is looked for). The rule is PHASE_RULE.
    """

    def first(condition, start):
        hits = np.flatnonzero(condition[start:])
        return int(start + hits[0]) if len(hits) else -1

    i1 = first(np.asarray(acc_clean) >= clean_accuracy, 0)
    acc_wrong = np.asarray(acc_wrong)
    if i1 < 0 or np.isnan(acc_wrong).all():
        return i1, -1, -1
    i2 = first(acc_wrong >= acc_wrong[i1] + rise, i1 + 1)
    if i2 < 0:
        return i1, -1, -1
    return i1, i2, first(acc_wrong >= memorized, i2 + 1)


def phase_of_records(boundaries: tuple[int, int, int], n_records: int) -> np.ndarray:
    """Phase number (1–4) of every record from the transition indices; after a missing transition
    the run stays in the phase it was in (ρ = 0 has phases 1 and 2 only)."""
    phase = np.ones(n_records, dtype=np.int64)
    for k, start in enumerate(boundaries):
        if start < 0:
            break
        phase[start:] = k + 2
    return phase


def auroc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` (…, N) for the boolean labels ``positive`` (…, N), ties counted half
    (Mann–Whitney U); NaN where a class is empty."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=-1)
    n_pos = positive.sum(-1)
    n_neg = positive.shape[-1] - n_pos
    u = (ranks * positive).sum(-1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def _rule(p: dict) -> dict:
    return {k: p[k] for k in ("clean_accuracy", "rise", "memorized")}


def subset_curves(run: xr.Dataset) -> xr.Dataset:
    """Train accuracy / loss on the correct and mislabeled subsets, and the AUROC, per record."""
    wrong = run["mislabeled"]
    correct = run["sample_correct"].astype(float)
    loss = run["sample_loss"].astype(float)
    scores = run["sample_loss"].values
    positive = np.broadcast_to(wrong.values[:, :, None, :], scores.shape)
    return xr.Dataset(
        {
            "acc_correct": correct.where(~wrong).mean("sample"),
            "acc_mislabeled": correct.where(wrong).mean("sample"),
            "loss_correct": loss.where(~wrong).mean("sample"),
            "loss_mislabeled": loss.where(wrong).mean("sample"),
            "auroc": (("noise", "seed", "step"), auroc(scores, positive)),
        }
    )


def phases_of_run(curves: xr.Dataset, rule: dict) -> tuple[np.ndarray, np.ndarray]:
    """Transition record indices (noise, seed, 3) and the phase of each record (noise, seed, step)."""
    acc_c, acc_w = curves["acc_correct"].values, curves["acc_mislabeled"].values
    n_noise, n_seeds, n_rec = acc_c.shape
    bounds = np.full((n_noise, n_seeds, 3), -1, dtype=np.int64)
    phase = np.zeros((n_noise, n_seeds, n_rec), dtype=np.int64)
    for i in range(n_noise):  # analysis of recorded curves, not training
        for j in range(n_seeds):
            bounds[i, j] = detect_phases(acc_c[i, j], acc_w[i, j], **rule)
            phase[i, j] = phase_of_records(tuple(bounds[i, j]), n_rec)
    return bounds, phase


# ---------------------------------------------------------------- cleaning experiment
def cleaning_choice(run: xr.Dataset, rule: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per member with ρ > 0: the record of the phase-II AUROC peak (the global AUROC peak when no
    phase II was detected) and the samples to drop, the round(ρN) of highest loss there."""
    curves = subset_curves(run)
    _, phase = phases_of_run(curves, rule)
    score = np.where(phase == 2, curves["auroc"].values, -np.inf)
    score = np.where(
        np.isinf(score).all(-1, keepdims=True), np.nan_to_num(curves["auroc"].values, nan=-1), score
    )
    peak = score.argmax(-1)  # (noise, seed)
    loss = np.take_along_axis(run["sample_loss"].values, peak[:, :, None, None], axis=2)[:, :, 0]
    n_drop = run["mislabeled"].values.sum(-1)  # exactly round(ρN) per member
    rank = np.argsort(np.argsort(-loss, axis=-1, kind="stable"), axis=-1)
    return peak, rank < n_drop[..., None]


def clean_and_retrain(step) -> None:
    """Drop each noisy member's top-loss samples at its phase-II peak and retrain it from the same
    initialization with the same SGD settings; all noisy members of the data set form one ensemble."""
    p = step.params
    device = step.device
    run = read_dataset(step.input[0])
    noisy = run.sel(noise=run["noise"] > 0)
    peak, drop = cleaning_choice(noisy, _rule(p))
    n_noise, n_seeds = noisy.sizes["noise"], noisy.sizes["seed"]
    ds = load_data(p)
    x = torch.as_tensor(ds.x_train, device=device)
    labels = torch.as_tensor(noisy["label"].values.reshape(n_noise * n_seeds, -1), device=device)
    keep = torch.as_tensor(~drop.reshape(n_noise * n_seeds, -1), device=device)
    x_test = torch.as_tensor(ds.x_test, device=device)
    y_test = torch.as_tensor(ds.y_test, device=device).expand(n_noise * n_seeds, -1)
    seeds = [int(s) for s in noisy["member_seed"].values.ravel()]
    model = _mlp(p, x.shape[1], ds.n_classes, seeds, device)
    gen = generator(derive_seed(p["cell_seed"], "clean-minibatches"), device)
    when = [int(s) for s in run["step"].values]
    test_err = []

    def on_record(_step):
        _, test_correct = evaluate(model, x_test, y_test)
        test_err.append(1 - test_correct.double().mean(1).cpu().numpy())

    train_sgd(
        model,
        x,
        labels,
        steps=p["steps"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        gen=gen,
        record=when,
        on_record=on_record,
        keep=keep,
        checkpoint=step.checkpoint(),
        recorded={"test_err": test_err},
    )
    mislabeled = noisy["mislabeled"].values
    precision = (drop & mislabeled).sum(-1) / np.maximum(drop.sum(-1), 1)
    out = xr.Dataset(
        {
            "clean_test_error": (
                ("noise", "seed", "step"),
                _to_grid(np.stack(test_err, 1), n_noise, n_seeds),
                {"units": "fraction"},
            ),
            "clean_step": (("noise", "seed"), noisy["step"].values[peak], {"units": "SGD steps"}),
            "dropped": (("noise", "seed", "sample"), drop),
            "drop_precision": (
                ("noise", "seed"),
                precision,
                {"long_name": "fraction of dropped samples that were mislabeled"},
            ),
        },
        coords={
            "noise": noisy["noise"].values,
            "seed": noisy["seed"].values,
            "step": run["step"].values,
            "sample": run["sample"].values,
        },
        attrs={"dataset": run.attrs["dataset"], "rule": PHASE_RULE.format(**_rule(p))},
    )
    step.write(out, step.output[0])
