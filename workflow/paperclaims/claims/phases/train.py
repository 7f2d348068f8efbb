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
from paperclaims.blocks import block_range
from paperclaims.claims.phases.cnn import EnsembleCNN, order_parameters_and_subset_sums
from paperclaims.claims.phases.cnn import minibatch_order_parameters as cnn_order_parameters
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
    "cos_ctrl": "control: cosine between the mean-loss gradients of the correctly labeled samples "
    "outside the control subset and of the control subset",
    "r_ctrl": "control: r with the control subset in place of the mislabeled one",
    "auroc": "AUROC of the per-sample training loss as a detector of mislabeled samples",
}
# The phase rule (ours, fixed before any run; shared/claims/phases.md asks for a stated rule). It reads
# the recorded TRAINING curves only — never test error, so "minimum test error inside phase II" is
# not true by construction — and is relative to each curve's own levels and noise:
PLATEAU = 0.9  # a curve's plateau onset: the first record that has covered 90 % of its rise
# (the conventional 10–90 % rise time of a step response)
MARGIN_SE = 3.0  # "leaving a level": more than 3 binomial standard errors of a subset accuracy at
# chance (1/K) over the subset's n samples, sqrt((1/K)(1 − 1/K)/n): the largest record-to-record
# noise an accuracy at or below chance shows
PHASE_RULE = (
    "From the recorded training curves only (never test error). m_w = the mislabeled-subset "
    "training accuracy's lowest level (its phase-II level, first record k* where it is reached); "
    "II→III: first record after k* with mislabeled-subset accuracy > m_w + "
    f"{MARGIN_SE:g} binomial SEs at chance over its n_w samples. P = the clean-subset accuracy's "
    "plateau, the maximum of its 3-record running median over the records before II→III (all "
    "records when none); phase I must "
    "fit the clean samples: P ≥ (1 + 1/K)/2, halfway from chance to 1, else no phase is found. "
    f"I→II: the clean-subset accuracy's plateau onset, first record covering {PLATEAU:.0%} of "
    "its rise from step 0 to P. Phase II must be non-empty (I→II before II→III), else II→III and "
    "III→IV are not found. III→IV: first record after II→III where the mislabeled-subset "
    f"accuracy has covered {PLATEAU:.0%} of the way from m_w to 1 (the mislabeled samples fit). "
    "ρ = 0: the single fast-learning → exploration transition is the I→II rule on the whole "
    "training set."
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


def _member_seeds(cell_seed: int, noise: list[float], seeds: range) -> list[int]:
    """Members ordered (noise, seed); a member's seed depends only on (data set, its ρ, its seed
    index), never on the other members of its job (issue 19: any cut gives the same runs)."""
    return [
        s
        for rho in noise
        for s in member_seeds(derive_seed(cell_seed, f"noise{rho:g}"), seeds.stop)[seeds.start :]
    ]


def minibatch_generators(seeds: list[int], stream: str, device) -> list:
    """One minibatch generator per member, from its own seed (training.MinibatchSampler)."""
    return [generator(derive_seed(s, stream), device) for s in seeds]


CNN_DATASETS = ("mnist1d",)  # MNIST-1D needs a CNN to generalise; digits and MNIST keep the MLP


def make_model(p: dict, n_features: int, n_classes: int, seeds: list[int], device):
    """The data set's ensemble: EnsembleCNN (``channels``, ``depth`` conv layers) for MNIST-1D,
    else EnsembleMLP (``depth`` hidden layers of ``width``)."""
    if p["dataset"] in CNN_DATASETS:
        return EnsembleCNN(
            n_features, n_classes, seeds, channels=p["channels"], depth=p["depth"], device=device
        )
    sizes = [n_features] + [p["width"]] * p["depth"] + [n_classes]
    return EnsembleMLP(sizes, seeds, "relu", init="uniform", dtype=torch.float32, device=device)


def control_subset(mislabeled: np.ndarray, seed: int) -> np.ndarray:
    """The negative control's subset: as many samples as are mislabeled, drawn at random from the
    CORRECTLY labeled ones (a subset for which the paper's statements are false)."""
    correct = np.flatnonzero(~mislabeled)
    k = min(int(mislabeled.sum()), len(correct))
    out = np.zeros_like(mislabeled)
    out[np.random.default_rng(seed).choice(correct, size=k, replace=False)] = True
    return out


def _to_grid(values: np.ndarray, n_noise: int, n_seeds: int) -> np.ndarray:
    """(members, …) → (noise, seed, …)."""
    return values.reshape(n_noise, n_seeds, *values.shape[1:])


# ---------------------------------------------------------------- train
EVAL_CHUNK = 500  # samples per forward pass at a record: the same logits, bit for bit, as one
# pass over all samples (tests/test_phases.py; checked on the digits MLP too), at a cache-friendly
# size (MNIST-1D CNN, 4000 samples: ≈ 1.7× faster)


def evaluate_in_chunks(model, x: torch.Tensor, labels: torch.Tensor):
    """``evaluate`` over the samples in chunks of EVAL_CHUNK: per-sample loss and correctness."""
    parts = [
        evaluate(model, x[i : i + EVAL_CHUNK], labels[:, i : i + EVAL_CHUNK])
        for i in range(0, x.shape[0], EVAL_CHUNK)
    ]
    return torch.cat([q[0] for q in parts], 1), torch.cat([q[1] for q in parts], 1)


def _cnn_record_gradients(model, x, labels, partition, subset):
    """R, A and the mean-loss gradients of the correct, mislabeled, rest-of-correct and control
    subsets (float64), as the shared tools compute them, from one folded pass (cnn.py)."""
    r_align, amp, sums = order_parameters_and_subset_sums(
        model, x, labels, partition, subset, 3, chunk=4
    )
    counts = torch.stack([(subset == k).sum(1) for k in range(3)]).double()[..., None]
    g_rest, g_ctrl, g_w = sums / counts.clamp(min=1)  # an empty subset: a zero gradient
    g_c = (sums[0] + sums[1]) / (counts[0] + counts[1]).clamp(min=1)
    return r_align, amp, g_c, g_w, g_rest, g_ctrl


def train(step) -> None:
    """One data set × block of noise levels × block of seeds (claim.py's block wildcards): every
    member trained as one ensemble by plain minibatch SGD."""
    p = step.params
    device = step.device
    ds = load_data(p)
    noise, seed_index = p["noise"], block_range(p["seed_block"])
    n_seeds = len(seed_index)
    seeds = _member_seeds(p["cell_seed"], noise, seed_index)
    rhos = np.repeat(noise, n_seeds)
    corrupted = [
        corrupt_labels(ds.y_train, rho, ds.n_classes, derive_seed(s, "labels"))
        for rho, s in zip(rhos, seeds)
    ]
    labels_np = np.stack([c[0] for c in corrupted])
    wrong_np = np.stack([c[1] for c in corrupted])
    control_np = np.stack(
        [control_subset(w, derive_seed(s, "control")) for w, s in zip(wrong_np, seeds)]
    )
    x = torch.as_tensor(ds.x_train, device=device)
    labels = torch.as_tensor(labels_np, device=device)
    wrong = torch.as_tensor(wrong_np, device=device)
    x_test = torch.as_tensor(ds.x_test, device=device)
    y_test = torch.as_tensor(ds.y_test, device=device).expand(len(seeds), -1)
    model = make_model(p, x.shape[1], ds.n_classes, seeds, device)
    gens = minibatch_generators(seeds, "minibatches", device)
    # Fixed partition of the training set into M minibatches per member, for the order parameters.
    n_mb = len(ds.y_train) // p["batch_size"]
    order = torch.argsort(
        torch.stack([torch.rand(len(ds.y_train), generator=g, device=device) for g in gens]),
        dim=1,
    )
    partition = order[:, : n_mb * p["batch_size"]].reshape(len(seeds), n_mb, p["batch_size"])
    rho_measured = wrong.double().mean(1)
    control = torch.as_tensor(control_np, device=device)
    # subsets: correct, mislabeled; and for the control: correct outside the control, control
    masks = torch.stack([~wrong, wrong, ~wrong & ~control, control])
    rho_control = control.double().mean(1) / (~wrong).double().mean(1)

    when = [0] + record_steps(p["steps"], p["n_records"])
    rec: dict[str, list] = {
        k: []
        for k in ("loss", "correct", "test_err", "R", "A", "cos_cw", "r", "cos_ctrl", "r_ctrl")
    }

    # the CNN's gradients at a record come from one folded pass over the partition (cnn.py):
    # each sample's subset — 0 correct outside the control, 1 control, 2 mislabeled
    subset = torch.where(wrong, 2, torch.where(control, 1, 0))
    fused = isinstance(model, EnsembleCNN) and n_mb * p["batch_size"] == len(ds.y_train)

    def on_record(_step):
        loss, correct = evaluate_in_chunks(model, x, labels)
        _, test_correct = evaluate(model, x_test, y_test)
        if fused:
            r_align, amp, g_c, g_w, g_rest, g_ctrl = _cnn_record_gradients(
                model, x, labels, partition, subset
            )
        else:
            order_parameters = (
                cnn_order_parameters
                if isinstance(model, EnsembleCNN)
                else minibatch_order_parameters
            )
            r_align, amp = order_parameters(model, x, labels, partition)
            g_c, g_w, g_rest, g_ctrl = subset_gradients(model, x, labels, masks).double()
        rec["loss"].append(loss.cpu().numpy())
        rec["correct"].append(correct.cpu().numpy())
        rec["test_err"].append(1 - test_correct.double().mean(1).cpu().numpy())
        rec["R"].append(r_align.cpu().numpy())
        rec["A"].append(amp.cpu().numpy())
        rec["cos_cw"].append(cosine(g_c, g_w).cpu().numpy())
        rec["r"].append(relative_strength(rho_measured, g_c, g_w).cpu().numpy())
        rec["cos_ctrl"].append(cosine(g_rest, g_ctrl).cpu().numpy())
        rec["r_ctrl"].append(relative_strength(rho_control, g_rest, g_ctrl).cpu().numpy())

    train_sgd(
        model,
        x,
        labels,
        steps=p["steps"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        gens=gens,
        record=when,
        on_record=on_record,
        checkpoint=step.checkpoint(),
        recorded=rec,
    )
    out = _run_dataset(p, rec, when, labels_np, wrong_np, control_np, ds, seeds, seed_index)
    out.attrs["n_minibatches"] = n_mb
    out.attrs["model"] = type(model).__name__
    step.write(out, step.output[0])


def _run_dataset(
    p, rec, when, labels_np, wrong_np, control_np, ds, seeds, seed_index
) -> xr.Dataset:
    n_noise, n_seeds = len(p["noise"]), len(seed_index)

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
            "control": (
                ("noise", "seed", "sample"),
                _to_grid(control_np, n_noise, n_seeds),
                {"long_name": "random subset of correctly labeled samples (negative control)"},
            ),
            "cos_ctrl": (dims, grid("cos_ctrl"), {"long_name": DEFINITIONS["cos_ctrl"]}),
            "r_ctrl": (dims, grid("r_ctrl"), {"long_name": DEFINITIONS["r_ctrl"]}),
            "true_label": ("sample", ds.y_train),
        },
        coords={
            "noise": (
                "noise",
                np.asarray(p["noise"], dtype=float),
                {"long_name": "mislabeled fraction ρ"},
            ),
            "seed": np.asarray(seed_index),
            "member_seed": (
                ("noise", "seed"),
                np.asarray(seeds, dtype=np.int64).reshape(n_noise, n_seeds),
            ),
            "step": ("step", np.asarray(when), {"units": "SGD steps"}),
            "sample": np.arange(len(ds.y_train)),
        },
        attrs={
            "dataset": p["dataset"],
            "n_classes": ds.n_classes,
            **{f"definition_{k}": v for k, v in DEFINITIONS.items()},
        },
    )
    return out


# ---------------------------------------------------------------- phase detection and AUROC
def running_median3(values: np.ndarray) -> np.ndarray:
    """Median of each record and its two neighbours (the ends: of the two available), so that one
    noisy record does not set a curve's plateau."""
    v = np.asarray(values, dtype=float)
    if len(v) < 3:
        return v.copy()
    padded = np.concatenate([v[:1], v, v[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def detect_phases(
    acc_clean: np.ndarray, acc_wrong: np.ndarray, *, n_wrong: int, n_classes: int
) -> tuple[int, int, int]:
    """Record indices of the I→II, II→III and III→IV transitions of one run (−1 where not found),
    by PHASE_RULE, from the training accuracies on the correct / mislabeled subsets at each record
    (acc_wrong all NaN, or n_wrong = 0, when ρ = 0: then only I→II is looked for)."""

    def first(condition, start):
        hits = np.flatnonzero(np.asarray(condition)[start:])
        return int(start + hits[0]) if len(hits) else -1

    acc_clean = np.asarray(acc_clean, dtype=float)
    acc_wrong = np.asarray(acc_wrong, dtype=float)
    noisy = n_wrong > 0 and np.isfinite(acc_wrong).all()
    i2 = -1
    if noisy:
        k_low = int(np.argmin(acc_wrong))
        m_w = acc_wrong[k_low]
        chance = 1 / n_classes
        margin = MARGIN_SE * np.sqrt(chance * (1 - chance) / n_wrong)
        i2 = first(acc_wrong > m_w + margin, k_low + 1)
    plateau = running_median3(acc_clean)[: i2 if i2 > 0 else None].max()
    if plateau < (1 + 1 / n_classes) / 2:  # phase I did not fit the clean samples
        return -1, -1, -1
    start = acc_clean[0]
    i1 = first(acc_clean >= start + PLATEAU * (plateau - start) - 1e-12, 0)
    if i2 < 0 or i1 >= i2:  # no II→III, or phase II empty
        return i1, -1, -1
    i3 = first(acc_wrong >= m_w + PLATEAU * (1 - m_w) - 1e-12, i2 + 1)
    return i1, i2, i3


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


def subset_curves(run: xr.Dataset, subset: str = "mislabeled") -> xr.Dataset:
    """Train accuracy / loss on the correct and the tracked subset, and the AUROC of the per-sample
    loss as a detector of the tracked subset, per record. ``subset`` = "mislabeled" (the paper's
    curves) or "control" (a random subset of correctly labeled samples tracked exactly alike, the
    negative control): for the control the mislabeled samples are left out, so the control subset
    is scored against the other correctly labeled samples."""
    wrong = run[subset]
    present = ~run["mislabeled"] if subset == "control" else xr.ones_like(wrong, dtype=bool)
    rest = present & ~wrong
    correct = run["sample_correct"].astype(float)
    loss = run["sample_loss"].astype(float)
    scores = np.where(present.values[:, :, None, :], run["sample_loss"].values, np.nan)
    positive = np.broadcast_to(wrong.values[:, :, None, :], scores.shape)
    return xr.Dataset(
        {
            "acc_all": correct.mean("sample"),
            "acc_correct": correct.where(rest).mean("sample"),
            "acc_mislabeled": correct.where(wrong).mean("sample"),
            "loss_correct": loss.where(rest).mean("sample"),
            "loss_mislabeled": loss.where(wrong).mean("sample"),
            "auroc": (("noise", "seed", "step"), auroc_present(scores, positive)),
            "n_tracked": wrong.sum("sample"),
        }
    )


def auroc_present(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC over the samples whose score is finite (NaN scores: samples left out)."""
    if np.isfinite(scores).all():
        return auroc(scores, positive)
    out = np.full(scores.shape[:-1], np.nan)
    keep = np.isfinite(scores[..., 0, :])  # (noise, seed, N): the same samples at every record
    for idx in np.ndindex(keep.shape[:-1]):  # members of the recorded grid, an analysis loop
        k = keep[idx]
        out[idx] = auroc(scores[idx][:, k], positive[idx][:, k])
    return out


def phases_of_run(curves: xr.Dataset, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Transition record indices (noise, seed, 3) and the phase of each record (noise, seed, step)."""
    acc_c, acc_w = curves["acc_correct"].values, curves["acc_mislabeled"].values
    n_w = curves["n_tracked"].values
    n_noise, n_seeds, n_rec = acc_c.shape
    bounds = np.full((n_noise, n_seeds, 3), -1, dtype=np.int64)
    phase = np.zeros((n_noise, n_seeds, n_rec), dtype=np.int64)
    for i in range(n_noise):  # analysis of recorded curves, not training
        for j in range(n_seeds):
            bounds[i, j] = detect_phases(
                acc_c[i, j], acc_w[i, j], n_wrong=int(n_w[i, j]), n_classes=n_classes
            )
            phase[i, j] = phase_of_records(tuple(bounds[i, j]), n_rec)
    return bounds, phase


# ---------------------------------------------------------------- cleaning experiment
CLEANING_RULE = (
    "Practitioner's rule (ours; the mislabel mask is never read, it only scores the result): at "
    "every record after step 0, Otsu's split of the log per-sample training losses (the cut that "
    "maximises the between-class variance); the cleaning record is the one whose split separates "
    "the losses best (largest between-class / total variance, Otsu's separability η), and the "
    "samples above its cut are dropped. Control: the same number of samples, drawn at random, "
    "dropped instead; both retrained from the same initialization with the same SGD settings."
)


def otsu(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Otsu's split of each row of ``values`` (…, N): (separability η ∈ [0, 1], the number of
    samples above the cut). η = max over splits of w0 w1 (μ0 − μ1)² / σ²; the samples above the
    cut are the N − i* largest, i* the best split of the sorted row."""
    v = np.sort(np.asarray(values, dtype=float), axis=-1)
    n = v.shape[-1]
    i = np.arange(1, n)
    c = np.cumsum(v, axis=-1)[..., :-1]
    total = v.sum(-1, keepdims=True)
    mu0 = c / i
    mu1 = (total - c) / (n - i)
    between = (i / n) * (1 - i / n) * (mu0 - mu1) ** 2
    var = v.var(-1)
    best = between.argmax(-1)
    eta = np.where(var > 0, np.take_along_axis(between, best[..., None], -1)[..., 0] / var, 0.0)
    return eta, n - (best + 1)


def cleaning_choice(sample_loss: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CLEANING_RULE from the per-sample training losses (noise, seed, step, N) alone: the cleaning
    record (noise, seed), the samples to drop (noise, seed, N) and the separability η per record."""
    logloss = np.log(np.maximum(sample_loss.astype(float), 1e-12))
    eta, n_above = otsu(logloss)
    eta[..., 0] = -1.0  # step 0: before any update
    peak = eta.argmax(-1)
    loss = np.take_along_axis(logloss, peak[..., None, None], axis=2)[:, :, 0]
    n_drop = np.take_along_axis(n_above, peak[..., None], -1)[..., 0]
    rank = np.argsort(np.argsort(-loss, axis=-1, kind="stable"), axis=-1)
    return peak, rank < n_drop[..., None], eta


def random_removal(n_drop: np.ndarray, n: int, seeds: list[int]) -> np.ndarray:
    """Control of the cleaning: per member, ``n_drop`` samples drawn at random (member-seeded)."""
    out = np.zeros((len(seeds), n), dtype=bool)
    for i, (k, s) in enumerate(zip(n_drop.ravel(), seeds)):  # index draws, not models
        out[i, np.random.default_rng(derive_seed(s, "random-removal")).choice(n, k, False)] = True
    return out


def clean_and_retrain(step) -> None:
    """Drop each noisy member's samples chosen by CLEANING_RULE and retrain it from the same
    initialization with the same SGD settings; the random-removal control members (the same
    number of random samples dropped) train in the same ensemble."""
    p = step.params
    device = step.device
    run = read_dataset(step.input[0])
    noisy = run.sel(noise=run["noise"] > 0)
    if not noisy.sizes["noise"]:  # a block of ρ = 0 alone: nothing to clean (measure skips it)
        empty = xr.Dataset(
            coords={"noise": np.array([], dtype=float), "seed": run["seed"].values},
            attrs={"dataset": run.attrs["dataset"], "rule": CLEANING_RULE},
        )
        step.write(empty, step.output[0])
        return
    peak, drop, eta = cleaning_choice(noisy["sample_loss"].values)
    n_noise, n_seeds = noisy.sizes["noise"], noisy.sizes["seed"]
    n_members = n_noise * n_seeds
    ds = load_data(p)
    seeds = [int(s) for s in noisy["member_seed"].values.ravel()]
    drop_random = random_removal(drop.sum(-1), len(ds.y_train), seeds).reshape(drop.shape)
    x = torch.as_tensor(ds.x_train, device=device)
    labels = torch.as_tensor(noisy["label"].values.reshape(n_members, -1), device=device)
    labels = torch.cat([labels, labels])
    keep = np.concatenate([~drop.reshape(n_members, -1), ~drop_random.reshape(n_members, -1)])
    keep = torch.as_tensor(keep, device=device)
    x_test = torch.as_tensor(ds.x_test, device=device)
    y_test = torch.as_tensor(ds.y_test, device=device).expand(2 * n_members, -1)
    model = make_model(p, x.shape[1], ds.n_classes, seeds + seeds, device)
    gens = minibatch_generators(seeds, "clean-minibatches", device)
    gens += minibatch_generators(seeds, "random-removal-minibatches", device)
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
        gens=gens,
        record=when,
        on_record=on_record,
        keep=keep,
        checkpoint=step.checkpoint(),
        recorded={"test_err": test_err},
    )
    err = np.stack(test_err, 1)  # (2·members, step)
    mislabeled = noisy["mislabeled"].values
    n_wrong = np.maximum(mislabeled.sum(-1), 1)
    dims = ("noise", "seed")
    out = xr.Dataset(
        {
            "clean_test_error": (
                dims + ("step",),
                _to_grid(err[:n_members], n_noise, n_seeds),
                {"units": "fraction", "long_name": "test error after loss-ranked cleaning"},
            ),
            "random_test_error": (
                dims + ("step",),
                _to_grid(err[n_members:], n_noise, n_seeds),
                {"units": "fraction", "long_name": "test error after random removal (control)"},
            ),
            "clean_step": (dims, noisy["step"].values[peak], {"units": "SGD steps"}),
            "separability": (dims + ("step",), eta, {"long_name": "Otsu separability η"}),
            "dropped": (dims + ("sample",), drop),
            "n_dropped": (dims, drop.sum(-1)),
            "drop_precision": (
                dims,
                (drop & mislabeled).sum(-1) / np.maximum(drop.sum(-1), 1),
                {"long_name": "fraction of dropped samples that were mislabeled (scored by mask)"},
            ),
            "drop_recall": (
                dims,
                (drop & mislabeled).sum(-1) / n_wrong,
                {"long_name": "fraction of mislabeled samples dropped (scored by mask)"},
            ),
        },
        coords={
            "noise": noisy["noise"].values,
            "seed": noisy["seed"].values,
            "step": run["step"].values,
            "sample": run["sample"].values,
        },
        attrs={"dataset": run.attrs["dataset"], "rule": CLEANING_RULE},
    )
    step.write(out, step.output[0])
