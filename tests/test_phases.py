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
    minibatch_gradients,
    minibatch_order_parameters,
    per_sample_loss,
    subset_gradients,
    train_sgd,
)

torch.set_num_threads(1)
RULE = {"clean_accuracy": 0.95, "rise": 0.05, "memorized": 0.95}


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
    assert g.shape == (4, 2, sum(p[0].numel() for p in model.parameters()))
    params = list(model.parameters())
    for mu in range(4):
        idx = partition[:, mu]
        loss = per_sample_loss(model(x[idx]), torch.gather(labels, 1, idx)).mean(1).sum()
        ref = torch.cat([gr.flatten(1) for gr in torch.autograd.grad(loss, params)], dim=-1)
        torch.testing.assert_close(g[mu], ref)
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
        train_sgd(model, x, labels, steps=5, lr=0.1, batch_size=4, gen=generator(3), keep=keep)
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
    sample = MinibatchSampler(keep, 6000, generator(0))
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
def test_phase_detector_on_synthetic_curves():
    acc_c = np.array([0.1, 0.5, 0.9, 0.96, 0.97, 0.98, 0.99, 1.0, 1.0, 1.0])
    acc_w = np.array([0.1, 0.05, 0.02, 0.01, 0.02, 0.03, 0.07, 0.5, 0.96, 1.0])
    bounds = train.detect_phases(acc_c, acc_w, **RULE)
    assert bounds == (3, 6, 8)  # 0.96 ≥ 0.95; 0.07 ≥ 0.01 + 0.05; 0.96 ≥ 0.95
    np.testing.assert_array_equal(
        train.phase_of_records(bounds, 10), [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    )


def test_phase_detector_without_noise_and_without_memorization():
    acc_c = np.array([0.2, 0.8, 0.95, 1.0])
    assert train.detect_phases(acc_c, np.full(4, np.nan), **RULE) == (2, -1, -1)
    np.testing.assert_array_equal(train.phase_of_records((2, -1, -1), 4), [1, 1, 2, 2])
    acc_w = np.array([0.1, 0.05, 0.1, 0.5])  # rises, never memorized
    assert train.detect_phases(acc_c, acc_w, **RULE) == (2, 3, -1)
    assert train.detect_phases(np.array([0.1, 0.5]), np.array([0.1, 0.9]), **RULE) == (-1, -1, -1)


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
    "n_seeds": 2,
    "width": 8,
    "depth": 1,
    "lr": 0.1,
    "batch_size": 12,
    "steps": 20,
    "n_records": 4,
}


def _train_tiny(tmp_path, name):
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    step = Step(
        claim="phases",
        rule="test",
        input=[],
        output=[str(tmp_path / name)],
        params=dict(TINY),
        base_seed=0,
    )
    train.train(step)
    return read_dataset(tmp_path / name)


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

        kwargs = dict(steps=40, lr=0.1, batch_size=8, gen=generator(2), record=[0, 10, 20, 30, 40])
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
