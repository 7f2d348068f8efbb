"""Claim `phases`: order parameters on hand-made gradients, the phase detector on synthetic curves,
label corruption, AUROC, the MNIST IDX loader, batched SGD, and the smoke run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import snakemake
from paperclaims import data
from paperclaims.claims.phases import train
from paperclaims.nets import EnsembleMLP
from paperclaims.seeds import generator
from paperclaims.training import (
    MinibatchSampler,
    alignment_and_amplitude,
    cosine,
    evaluate,
    minibatch_gradients,
    minibatch_order_parameters,
    per_sample_loss,
    subset_gradients,
    train_sgd,
)

torch.set_num_threads(1)


# ---------------------------------------------------------------- order parameters
def test_identical_minibatch_gradients_are_fully_aligned():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64).expand(6, 1, 3)  # (M, members, P)
    r, a = alignment_and_amplitude(g)
    assert r.item() == pytest.approx(1.0, abs=1e-12)
    assert a.item() == pytest.approx(1.0, abs=1e-12)


def test_orthogonal_minibatch_gradients():
    m = 5
    g = (3.0 * torch.eye(m, dtype=torch.float64))[:, None, :]  # M orthogonal vectors of equal norm
    r, a = alignment_and_amplitude(g)
    assert r.item() == pytest.approx(0.0, abs=1e-12)
    assert a.item() == pytest.approx(1 / m, abs=1e-12)  # |ḡ|² = 9/M, mean |g_μ|² = 9


def test_opposite_minibatch_gradients_and_two_members():
    v = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)  # two members
    g = torch.stack([v, -v, v, -v])  # M = 4, pairs cancel
    r, a = alignment_and_amplitude(g)
    # pairwise cosines: 2 pairs of +1, 4 pairs of −1 → mean (2 − 4)/6
    np.testing.assert_allclose(r.numpy(), [-1 / 3, -1 / 3], atol=1e-12)
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0], atol=1e-12)


def test_cosine_and_relative_strength():
    g_c = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    g_w = torch.tensor([[-6.0, 0.0], [1.0, -1.0]], dtype=torch.float64)
    np.testing.assert_allclose(cosine(g_c, g_w).numpy(), [-1.0, 0.0], atol=1e-12)
    rho = torch.tensor([0.25, 0.5], dtype=torch.float64)
    # r = ρ|g_w| / ((1−ρ)|g_c|): 0.25·6/(0.75·2) = 1; 0.5·√2/(0.5·√2) = 1
    np.testing.assert_allclose(
        train.relative_strength(rho, g_c, g_w).numpy(), [1.0, 1.0], atol=1e-12
    )


def _tiny_model(members=2, dtype=torch.float64):
    return EnsembleMLP([3, 4, 3], list(range(members)), "relu", dtype=dtype)


def test_minibatch_and_subset_gradients_match_autograd_one_by_one():
    model = _tiny_model()
    gen = generator(0)
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 8), generator=gen)
    partition = torch.stack(
        [torch.arange(8).view(4, 2), torch.arange(8).flip(0).view(4, 2)]
    )  # (members, M, B)
    g = minibatch_gradients(model, x, labels, partition)
    n_params = sum(p[0].numel() for p in model.parameters())  # 31: rows padded to 32 with zeros
    assert g.shape == (4, 2, 32) and torch.count_nonzero(g[..., n_params:]) == 0
    params = list(model.parameters())
    for mu in range(4):
        idx = partition[:, mu]
        loss = per_sample_loss(model(x[idx]), torch.gather(labels, 1, idx)).mean(1).sum()
        ref = torch.cat([gr.flatten(1) for gr in torch.autograd.grad(loss, params)], dim=-1)
        torch.testing.assert_close(g[mu, :, :n_params], ref)
    # chunked order parameters equal those of the whole stack of minibatch gradients
    r_ref, a_ref = alignment_and_amplitude(g)
    r_chunked, a_chunked = minibatch_order_parameters(model, x, labels, partition, chunk=3)
    torch.testing.assert_close(r_chunked, r_ref)
    torch.testing.assert_close(a_chunked, a_ref)
    # the mean of the minibatch gradients of a partition is the full-batch gradient
    full = subset_gradients(model, x, labels, torch.ones(1, 2, 8, dtype=torch.bool))[0]
    torch.testing.assert_close(g.mean(0), full)
    # an empty subset gives a zero gradient
    empty = subset_gradients(model, x, labels, torch.zeros(1, 2, 8, dtype=torch.bool))[0]
    assert torch.count_nonzero(empty) == 0


def test_batched_sgd_is_deterministic_and_respects_keep():
    def run(keep=None):
        model = _tiny_model()
        x = torch.randn(10, 3, generator=generator(1), dtype=torch.float64)
        labels = torch.randint(0, 3, (2, 10), generator=generator(2))
        gens = [generator(3), generator(4)]
        train_sgd(model, x, labels, steps=5, lr=0.1, batch_size=4, gens=gens, keep=keep)
        return [p.detach().clone() for p in model.parameters()]

    for a, b in zip(run(), run()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # restricting a member to a subset changes its trajectory
    keep = torch.zeros(2, 10, dtype=torch.bool)
    keep[0, [1, 7]] = True
    keep[1] = True
    assert not all(torch.equal(a, b) for a, b in zip(run(keep), run()))


def test_minibatch_sampler_draws_uniformly_from_each_members_samples():
    keep = torch.zeros(3, 12, dtype=torch.bool)
    keep[0, [2, 5, 11]] = True
    keep[1] = True
    keep[2, :1] = True
    sample = MinibatchSampler(keep, 6000, [generator(k) for k in range(3)])
    idx = sample()
    assert idx.shape == (3, 6000)
    assert set(idx[0].tolist()) == {2, 5, 11} and set(idx[2].tolist()) == {0}
    counts = torch.bincount(idx[0], minlength=12)[[2, 5, 11]].double() / 6000
    np.testing.assert_allclose(counts.numpy(), 1 / 3, atol=0.03)
    np.testing.assert_allclose(
        torch.bincount(idx[1], minlength=12).double().numpy() / 6000, 1 / 12, atol=0.015
    )


# ---------------------------------------------------------------- label corruption
@pytest.mark.parametrize("rho", [0.0, 0.2, 0.4])
def test_label_corruption_records_the_exact_mislabeled_set(rho):
    labels = np.random.default_rng(0).integers(0, 10, size=1001)
    noisy, mislabeled = train.corrupt_labels(labels, rho, 10, seed=7)
    assert mislabeled.sum() == round(rho * len(labels))
    np.testing.assert_array_equal(mislabeled, noisy != labels)  # every chosen label really changed
    assert noisy.min() >= 0 and noisy.max() <= 9
    again, mask_again = train.corrupt_labels(labels, rho, 10, seed=7)
    np.testing.assert_array_equal(noisy, again)
    np.testing.assert_array_equal(mislabeled, mask_again)


def test_wrong_classes_are_uniform():
    labels = np.zeros(20000, dtype=np.int64)
    noisy, _ = train.corrupt_labels(labels, 1.0, 5, seed=1)
    counts = np.bincount(noisy, minlength=5)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / len(labels), 0.25, atol=0.015)


# ---------------------------------------------------------------- phase detection and AUROC
K = 10  # classes


def _curves(n_rec=40, t1=10, t2=25, clean_plateau=0.85, wrong_low=0.02, seed=0, n=400):
    """Synthetic four-phase training curves with known boundaries: the clean accuracy rises from
    0.1 to ``clean_plateau`` (a logistic step centred before t1) and to 1 after t2; the mislabeled
    accuracy falls from 0.1 to ``wrong_low`` in phase I and rises to 1 after t2; binomial noise
    of an accuracy over ``n`` samples on both."""
    rng = np.random.default_rng(seed)
    k = np.arange(n_rec)
    sig = lambda centre, width: 1 / (1 + np.exp(-(k - centre) / width))  # noqa: E731
    acc_c = 0.1 + (clean_plateau - 0.1) * sig(t1 - 4, 1.0) + (1 - clean_plateau) * sig(t2 + 4, 1.0)
    acc_w = 0.1 - (0.1 - wrong_low) * sig(t1 - 4, 1.0) + (1 - wrong_low) * sig(t2 + 4, 1.0)
    acc_w = np.clip(acc_w, 0, 1)
    return rng.binomial(n, acc_c) / n, rng.binomial(n, acc_w) / n


def test_phase_detector_finds_known_boundaries_on_synthetic_curves():
    """I→II where the clean accuracy has covered 90 % of its rise to its plateau (logistic step
    centred at t1 − 4: 90 % at t1 − 4 + ln 9 ≈ t1 − 1.8); II→III where the mislabeled accuracy
    leaves its low level by 3 SEs; III→IV at 90 % of the way to 1 — in every noisy seed."""
    for seed in range(5):
        acc_c, acc_w = _curves(seed=seed)
        i1, i2, i3 = train.detect_phases(acc_c, acc_w, n_wrong=400, n_classes=K)
        assert 7 <= i1 <= 9, (seed, i1)
        assert 26 <= i2 <= 28, (seed, i2)  # the rise centred at 29 leaves the floor ~27
        assert 30 <= i3 <= 33, (seed, i3)
        assert i1 < i2 < i3
    phase = train.phase_of_records((8, 27, 31), 40)
    assert (phase[:8] == 1).all() and (phase[8:27] == 2).all() and (phase[27:31] == 3).all()
    assert (phase[31:] == 4).all()


def test_phase_detector_is_relative_to_the_curves_not_an_absolute_level():
    """A clean plateau of 0.80 (never 0.95) still has its I→II at its plateau onset; the same
    curves shifted by a constant give the same boundaries."""
    acc_c, acc_w = _curves(clean_plateau=0.80, seed=1)
    low = train.detect_phases(acc_c, acc_w, n_wrong=400, n_classes=K)
    high = train.detect_phases(np.clip(acc_c + 0.05, 0, 1), acc_w, n_wrong=400, n_classes=K)
    assert 7 <= low[0] <= 9 and all(b >= 0 for b in low)
    assert low == high  # a constant offset of the clean curve moves no boundary


def test_phase_detector_margin_is_three_binomial_standard_errors():
    acc_c = np.array([0.1, 0.5, 0.9, 0.95, 0.95, 0.95, 0.95, 1.0])
    se = np.sqrt(0.1 * 0.9 / 100)
    below = 0.02 + 3 * se - 0.005
    above = 0.02 + 3 * se + 0.005
    acc_w = np.array([0.1, 0.05, 0.02, 0.02, below, above, 0.95, 1.0])
    assert train.detect_phases(acc_c, acc_w, n_wrong=100, n_classes=K) == (2, 5, 6)
    # the same jump is noise for a subset of 20 samples (3 SEs ≈ 0.20): no phase III
    assert train.detect_phases(acc_c[:6], acc_w[:6], n_wrong=20, n_classes=K) == (2, -1, -1)


def test_phase_detector_without_noise_and_without_a_fit():
    acc_c = np.array([0.2, 0.8, 0.95, 1.0])
    assert train.detect_phases(acc_c, np.full(4, np.nan), n_wrong=0, n_classes=K) == (2, -1, -1)
    np.testing.assert_array_equal(train.phase_of_records((2, -1, -1), 4), [1, 1, 2, 2])
    # the clean samples never fit (plateau below halfway from chance to 1): no phase at all
    flat = np.array([0.1, 0.2, 0.3, 0.4])
    assert train.detect_phases(flat, np.full(4, np.nan), n_wrong=0, n_classes=K) == (-1, -1, -1)


def test_correct_subset_control_shows_no_phase_III_or_IV():
    """A random subset of correctly labeled samples rises with the clean accuracy: its accuracy
    leaves its low level during phase I, so no non-empty phase II precedes it — no III/IV."""
    for seed in range(5):
        acc_c, _ = _curves(seed=seed)
        ctrl, _ = _curves(seed=100 + seed, n=400)  # same process as the clean subset
        assert train.detect_phases(acc_c, ctrl, n_wrong=400, n_classes=K)[1:] == (-1, -1)


def test_phase_detector_ignores_test_error():
    import inspect

    assert "test" not in inspect.signature(train.detect_phases).parameters


# ---------------------------------------------------------------- cleaning rule
def test_otsu_split_of_two_well_separated_groups():
    values = np.concatenate([np.zeros(70), np.full(30, 5.0)]) + np.linspace(0, 0.1, 100)
    eta, n_above = train.otsu(values)
    assert n_above == 30 and eta > 0.95
    unimodal = np.random.default_rng(0).normal(size=2000)
    eta_uni, _ = train.otsu(unimodal)
    assert 0.55 < eta_uni < 0.7  # 2/π for a Gaussian: a single mode separates poorly


def test_cleaning_rule_never_reads_the_mask_and_picks_the_most_separable_record():
    """Losses (noise, seed, step, N): record 2 separates 30 high-loss samples best; the choice
    depends on the losses alone (same losses, any mask → same drop)."""
    rng = np.random.default_rng(0)
    n = 200
    loss = np.full((1, 1, 4, n), 2.3) * np.exp(0.05 * rng.standard_normal((1, 1, 4, n)))
    hi = rng.choice(n, 30, replace=False)
    loss[0, 0, 2] = np.exp(rng.normal(-3, 0.3, n))
    loss[0, 0, 2, hi] = np.exp(rng.normal(1.5, 0.3, 30))
    loss[0, 0, 3] = np.exp(rng.normal(-5, 0.3, n))  # everything fit: unimodal
    peak, drop, eta = train.cleaning_choice(loss)
    assert peak[0, 0] == 2
    assert set(np.flatnonzero(drop[0, 0])) == set(hi)
    import inspect

    assert list(inspect.signature(train.cleaning_choice).parameters) == ["sample_loss"]


def test_random_removal_drops_the_count_asked_and_is_seeded():
    a = train.random_removal(np.array([5, 7]), 50, [1, 2])
    b = train.random_removal(np.array([5, 7]), 50, [1, 2])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a.sum(1), [5, 7])


def test_control_subset_is_correctly_labeled_and_as_large_as_the_mislabeled_one():
    wrong = np.zeros(100, dtype=bool)
    wrong[:30] = True
    ctrl = train.control_subset(wrong, 0)
    assert ctrl.sum() == 30 and not (ctrl & wrong).any()
    assert train.control_subset(np.zeros(10, dtype=bool), 0).sum() == 0


# ---------------------------------------------------------------- floor-relative drops
def test_floor_relative_ratio_is_never_negative_and_measured_from_the_floor():
    from paperclaims.claims.phases import analysis

    m = 20
    floor_r = analysis.order_parameter_floor("R", m)
    assert floor_r == pytest.approx(-1 / 19)
    assert analysis.order_parameter_floor("A", m) == 0.0
    # the audit's case: R crosses zero (0.5 → −0.011): a plain ratio is −0.022, ours ≥ 0
    ratio = analysis.floor_relative_ratio([0.5], [-0.011], floor_r)
    assert ratio[0] == pytest.approx((-0.011 + 1 / 19) / (0.5 + 1 / 19))
    assert ratio[0] > 0.05  # not a "drop by ≥ 10×": it fails the 0.1 threshold
    # R at its floor after (all minibatch gradients cancel): ratio 0
    assert analysis.floor_relative_ratio([0.5], [floor_r], floor_r)[0] == pytest.approx(0.0)
    # A from 0: a plain ratio
    assert analysis.floor_relative_ratio([0.4], [0.02], 0.0)[0] == pytest.approx(0.05)
    # before not above its floor: no ratio
    assert np.isnan(analysis.floor_relative_ratio([floor_r], [0.1], floor_r)[0])
    # any values respecting the floors give a ratio ≥ 0
    rng = np.random.default_rng(0)
    before = floor_r + rng.random(1000) + 1e-6
    after = floor_r + rng.random(1000)
    assert (analysis.floor_relative_ratio(before, after, floor_r) >= 0).all()


def test_R_floor_is_the_identity_of_the_alignment():
    """R = −1/(M−1) exactly when the M unit gradients sum to zero."""
    g = torch.tensor([[[1.0, 0.0]], [[-0.5, 3**0.5 / 2]], [[-0.5, -(3**0.5) / 2]]]).double()
    r, _ = alignment_and_amplitude(g)
    assert float(r) == pytest.approx(-1 / 2)


def test_auroc_known_values():
    positive = np.array([False, False, True, True])
    np.testing.assert_allclose(train.auroc(np.array([0.1, 0.2, 0.8, 0.9]), positive), 1.0)
    np.testing.assert_allclose(train.auroc(np.array([0.9, 0.8, 0.2, 0.1]), positive), 0.0)
    np.testing.assert_allclose(train.auroc(np.ones(4), positive), 0.5)
    assert np.isnan(train.auroc(np.ones(4), np.zeros(4, dtype=bool)))
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=(3, 200)), rng.random((3, 200)) < 0.3
    expected = [roc_auc_score(lab, sc) for lab, sc in zip(labels, scores)]
    np.testing.assert_allclose(train.auroc(scores, labels), expected, atol=1e-12)


# ---------------------------------------------------------------- MNIST IDX loader
def test_mnist_idx_files_through_the_config_path(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 12)):
        data.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        data.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    params = {
        "dataset": "mnist",
        "cell_seed": 0,
        "n_train": 20,
        "n_test": 12,
        "mnist_dir": str(tmp_path),
    }
    ds = train.load_data(params)
    assert ds.x_train.shape == (20, 784) and ds.x_test.shape == (12, 784)
    np.testing.assert_array_equal(ds.y_train, np.arange(20) % 10)
    np.testing.assert_array_equal(
        data.read_idx(tmp_path / "t10k-labels-idx1-ubyte"), np.arange(12) % 10
    )
    with pytest.raises(FileNotFoundError):
        train.load_data({**params, "mnist_dir": str(tmp_path / "missing")})


# ---------------------------------------------------------------- train step
TINY = {
    "dataset": "digits",
    "cell_seed": 11,
    "n_train": 120,
    "n_test": 60,
    "mnist_dir": "",
    "noise": [0.0, 0.25],
    "seed_block": "0-1",
    "width": 8,
    "depth": 1,
    "lr": 0.1,
    "batch_size": 12,
    "steps": 20,
    "n_records": 4,
}


def _train_tiny(tmp_path, name, **block):
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    step = Step(
        claim="phases",
        rule="test",
        input=[],
        output=[str(tmp_path / name)],
        params={**TINY, **block},
        base_seed=0,
    )
    train.train(step)
    return read_dataset(tmp_path / name)


def _clean_tiny(tmp_path, run_name, name, **net):
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    params = {k: v for k, v in {**TINY, **net}.items() if k not in ("noise", "seed_block")}
    step = Step("phases", "test", [str(tmp_path / run_name)], [str(tmp_path / name)], params, 0)
    train.clean_and_retrain(step)
    return read_dataset(tmp_path / name)


@pytest.mark.parametrize("dataset", ["digits", "mnist1d"])  # the MLP and the CNN
def test_train_and_clean_give_the_same_members_however_the_cell_is_cut(tmp_path, dataset):
    """Issue 19: one job for 2 noise levels × 2 seeds, or four jobs of one member each, merged
    by the measure step's blocks.merge_blocks — identical arrays (each member's labels, init and
    minibatches derive from (data set, ρ, seed index) alone, and its arithmetic is the same
    whatever else its job trains)."""
    import xarray as xr
    from paperclaims.blocks import merge_blocks

    net = {"dataset": dataset, "channels": 4} if dataset == "mnist1d" else {}
    whole = _train_tiny(tmp_path, "whole.nc", **net).drop_attrs()
    whole_clean = _clean_tiny(tmp_path, "whole.nc", "whole_clean.nc", **net).drop_attrs()
    parts, cleaned = [], []
    for rho in TINY["noise"]:
        for s in ("0-0", "1-1"):
            name = f"rho{rho}_seed{s}.nc"
            parts.append(_train_tiny(tmp_path, name, noise=[rho], seed_block=s, **net))
            clean = _clean_tiny(tmp_path, name, f"clean_{name}", **net)
            if clean.sizes["noise"]:  # a block of ρ = 0 alone cleans nothing
                cleaned.append(clean)
    assert len(cleaned) == 2
    xr.testing.assert_identical(merge_blocks(parts, ["noise", "seed"]).drop_attrs(), whole)
    xr.testing.assert_identical(merge_blocks(cleaned, ["noise", "seed"]).drop_attrs(), whole_clean)


def test_train_step_is_deterministic_and_records_the_mislabeled_set(tmp_path):
    import xarray as xr

    first, second = _train_tiny(tmp_path, "a.nc"), _train_tiny(tmp_path, "b.nc")
    xr.testing.assert_equal(first.drop_attrs(), second.drop_attrs())
    assert dict(first.sizes) == {"noise": 2, "seed": 2, "step": 5, "sample": 120}
    np.testing.assert_array_equal(first["mislabeled"].sum("sample"), [[0, 0], [30, 30]])
    np.testing.assert_array_equal(first["mislabeled"], first["label"] != first["true_label"])
    assert (
        np.isnan(first["cos_cw"].sel(noise=0.0)).all()
        and np.isfinite(first["cos_cw"].sel(noise=0.25)).all()
    )


# ---------------------------------------------------------------- workflow
def test_bad_phases_config_fails_before_any_job(workdir):
    proc = snakemake(
        workdir, "-n", "--config", 'claims=["phases"]', "phases={'noise': [0, 1.5]}", check=False
    )
    assert proc.returncode != 0
    assert "phases.noise" in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


@pytest.mark.slow
def test_smoke_config_runs_the_claim_end_to_end(smoke_run):
    """On the shared end-to-end run of every claim (tests/conftest.py)."""
    workdir = smoke_run
    verdict = json.loads((workdir / "results/phases/verdict.json").read_text())
    assert verdict["claim"] == "phases" and verdict["reconstruction"]
    assert {c["id"].split("[")[0] for c in verdict["checks"]} >= {
        "four_phases",
        "min_test_error_in_phase_II",
        "test_error_rise",
        "cos_cw_phase_II",
        "auroc_peak_in_phase_II",
        "auroc_peak_value",
        "cleaning_helps",
        "rho0_R_drop",
        "rho0_A_drop",
    }
    for name in ("test_error", "order_parameters", "auroc", "cleaning", "clean_data"):
        assert (workdir / f"figures/phases/{name}.png").stat().st_size > 0


def test_train_sgd_resumes_from_checkpoint_with_identical_weights(tmp_path, caplog):
    """A run interrupted after a checkpoint and rerun ends exactly where an uninterrupted one does."""
    from paperclaims.checkpoint import Checkpoint
    from paperclaims.nets import EnsembleMLP
    from paperclaims.seeds import generator
    from paperclaims.training import train_sgd

    x = torch.randn(64, 5, generator=generator(0))
    labels = torch.randint(0, 3, (2, 64), generator=generator(1))

    def run(checkpoint=None, stop_at=None):
        model = EnsembleMLP([5, 8, 3], [3, 4], "relu")
        recorded = {"loss": []}

        def on_record(it):
            recorded["loss"].append(float(it))
            if it == stop_at:
                raise KeyboardInterrupt  # stands in for SIGKILL, after the step's checkpoint

        gens = [generator(2), generator(5)]
        kwargs = dict(steps=40, lr=0.1, batch_size=8, gens=gens, record=[0, 10, 20, 30, 40])
        train_sgd(
            model,
            x,
            labels,
            on_record=on_record,
            checkpoint=checkpoint,
            recorded=recorded,
            **kwargs,
        )
        return model, recorded

    clean, clean_rec = run()
    ckpt = Checkpoint(tmp_path / "ckpt.pt", every_seconds=0.0)
    with pytest.raises(KeyboardInterrupt):
        run(ckpt, stop_at=20)
    assert ckpt.path.exists()
    with caplog.at_level("INFO", logger="paperclaims"):
        resumed, resumed_rec = run(Checkpoint(tmp_path / "ckpt.pt", every_seconds=0.0))
    assert "resuming from checkpoint" in caplog.text and "at step 19" in caplog.text
    for a, b in zip(clean.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed_rec == clean_rec


# ---------------------------------------------------------------- MNIST-1D CNN
def test_cnn_members_are_independent_and_match_one_member_ensembles():
    from paperclaims.claims.phases.cnn import EnsembleCNN

    x = torch.randn(7, 40, generator=generator(0))
    both = EnsembleCNN(40, 10, [3, 4], channels=5, depth=2)
    for k, seed in enumerate([3, 4]):
        alone = EnsembleCNN(40, 10, [seed], channels=5, depth=2)
        torch.testing.assert_close(both(x)[k], alone(x)[0])
    # a member's gradient is its own: changing member 1's labels leaves member 0's gradient alone
    labels = torch.randint(0, 10, (2, 7), generator=generator(1))
    other = labels.clone()
    other[1] = (other[1] + 1) % 10
    g0 = torch.autograd.grad(per_sample_loss(both(x), labels).mean(1).sum(), both.conv_w[0])[0]
    g1 = torch.autograd.grad(per_sample_loss(both(x), other).mean(1).sum(), both.conv_w[0])[0]
    torch.testing.assert_close(g0[0], g1[0])
    assert not torch.allclose(g0[1], g1[1])


def test_cnn_folded_order_parameters_match_the_shared_vmap_ones():
    """The CNN's order parameters (minibatches folded into the members axis) equal the shared
    vmap implementation's on the same net and partition."""
    from paperclaims.claims.phases import cnn

    model = cnn.EnsembleCNN(24, 4, [1, 2, 3], channels=3, depth=2, dtype=torch.float64)
    x = torch.randn(40, 24, generator=generator(0), dtype=torch.float64)
    labels = torch.randint(0, 4, (3, 40), generator=generator(1))
    partition = torch.stack([torch.randperm(40, generator=generator(s)) for s in range(3)])
    partition = partition[:, :40].reshape(3, 5, 8)
    r, a = cnn.minibatch_order_parameters(model, x, labels, partition, chunk=2)
    r_ref, a_ref = minibatch_order_parameters(model, x, labels, partition)
    torch.testing.assert_close(r, r_ref)
    torch.testing.assert_close(a, a_ref)


def test_cnn_fused_record_gradients_match_the_separate_passes():
    """One folded pass (cnn.order_parameters_and_subset_sums) gives the same R, A and subset
    gradients (their norms and cosines, all the record keeps) as the separate passes."""
    from paperclaims.claims.phases import cnn

    model = cnn.EnsembleCNN(24, 4, [1, 2, 3], channels=3, depth=2, dtype=torch.float64)
    x = torch.randn(40, 24, generator=generator(0), dtype=torch.float64)
    labels = torch.randint(0, 4, (3, 40), generator=generator(1))
    partition = torch.stack([torch.randperm(40, generator=generator(s)) for s in range(3)])
    partition = partition.reshape(3, 5, 8)
    wrong = torch.rand(3, 40, generator=generator(2)) < 0.3
    wrong[0] = False  # a member without mislabeled samples: zero gradient, NaN cosine
    control = ~wrong & (torch.rand(3, 40, generator=generator(3)) < 0.3)
    subset = torch.where(wrong, 2, torch.where(control, 1, 0))
    r, a, g_c, g_w, g_rest, g_ctrl = train._cnn_record_gradients(
        model, x, labels, partition, subset
    )
    r_ref, a_ref = cnn.minibatch_order_parameters(model, x, labels, partition, chunk=2)
    masks = torch.stack([~wrong, wrong, ~wrong & ~control, control])
    ref = subset_gradients(model, x, labels, masks)
    torch.testing.assert_close(r, r_ref)
    torch.testing.assert_close(a, a_ref)
    for g, g_ref in zip((g_c, g_w, g_rest, g_ctrl), ref):
        torch.testing.assert_close(g.norm(dim=-1), g_ref.norm(dim=-1))
    assert (g_w[0] == 0).all()
    torch.testing.assert_close(cosine(g_c, g_w)[1:], cosine(ref[0], ref[1])[1:])
    torch.testing.assert_close(cosine(g_rest, g_ctrl), cosine(ref[2], ref[3]))
    # and the mislabeled samples' gradient is not the correct ones': the subsets are kept apart
    assert not torch.allclose(g_c.norm(dim=-1)[1:], g_w.norm(dim=-1)[1:])


def test_chunked_evaluation_is_bitwise_the_one_pass_evaluation():
    from paperclaims.claims.phases import cnn

    model = cnn.EnsembleCNN(40, 10, [1, 2], channels=4, depth=2)
    x = torch.randn(1234, 40, generator=generator(0))
    labels = torch.randint(0, 10, (2, 1234), generator=generator(1))
    loss, correct = train.evaluate_in_chunks(model, x, labels)
    loss_ref, correct_ref = evaluate(model, x, labels)
    assert torch.equal(loss, loss_ref) and torch.equal(correct, correct_ref)
