"""Claim `locality`: labels, analytic ReLU NTK, Walsh-degree symmetry, batched training, smoke run."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from paperclaims.claims.locality import analysis, claim, lr_pilot, pilot, train
from paperclaims.config import ConfigError, validate_config
from paperclaims.seeds import generator


def _x(*rows):
    return torch.tensor(rows, dtype=torch.float64)


# ---------------------------------------------------------------- labels
def test_local_label_is_product_of_adjacent_coordinates():
    x = _x([1, -1, -1, 1, 1], [-1, 1, 1, 1, 1])
    assert train.labels(x, "local", 2).tolist() == [-1, -1]  # x0·x1
    assert train.labels(x, "local", 3).tolist() == [1, -1]  # x0·x1·x2
    assert train.labels(x, "local", 2, i0=4).tolist() == [1, -1]  # periodic: x4·x0


def test_global_family_a_hand_computed():
    # x = (1, 1, 1, −1, 1), k = 2: windows x0x1, x1x2, x2x3, x3x4, x4x0 = 1, 1, −1, −1, 1 → Σ = 1
    x = _x([1, 1, 1, -1, 1], [1, -1, 1, -1, 1])
    # second row: −1, −1, −1, −1, 1 → Σ = −3
    assert train.window_products(x, 2)[0].tolist() == [1, 1, -1, -1, 1]
    assert train.labels(x, "global", 2, family="A").tolist() == [1, -1]
    # k = 3 on row 1: 1·1·1, 1·1·−1, 1·−1·1, −1·1·1, 1·1·1 = 1, −1, −1, −1, 1 → Σ = −1
    assert train.labels(x[:1], "global", 3, family="A").tolist() == [-1]


def test_global_family_b_and_tie_rule():
    # d = 6, k = 2: blocks (x0, x1, x2), (x3, x4, x5)
    x = _x([1, 1, -1, -1, -1, 1], [1, 1, 1, 1, 1, -1], [-1, -1, -1, -1, -1, 1])
    assert train.labels(x, "global", 2, family="B").tolist() == [-1, 1, 1]
    # a tie (Σ = 0, d = 4, k = 2: windows −1, 1, −1, 1) is labelled +1
    assert train.labels(_x([1, -1, -1, 1]), "global", 2, family="A").tolist() == [1]
    with pytest.raises(ValueError, match="k | d"):
        train.labels(_x([1, 1, 1, 1, 1]), "global", 2, family="B")


def test_gaussian_labels_are_signs_of_the_binary_rule():
    x = train.sample_inputs(200, 8, "gaussian", seed=3)
    for kind, family in [("local", "A"), ("global", "B")]:
        y = train.labels(x, kind, 2, family=family)
        assert set(y.unique().tolist()) <= {-1.0, 1.0}
    np.testing.assert_array_equal(
        train.labels(x, "local", 2), torch.sign(x[:, 0]) * torch.sign(x[:, 1])
    )
    np.testing.assert_array_equal(
        train.labels(x, "global", 2, family="B"),
        torch.sign(x[:, :4].sum(1)) * torch.sign(x[:, 4:].sum(1)),
    )


def test_target_names_round_trip():
    names = claim.target_names(["local", "global"], [2, 3])
    assert names == ["local_k2", "local_k3", "global_k2", "global_k3"]
    assert [train.parse_target(n) for n in names][-1] == ("global", 3)


# ---------------------------------------------------------------- analytic NTK
def test_ntk_diagonal_on_the_cube_is_2_times_depth_plus_one():
    # On ±1 inputs Σ^h(x, x) = 2 at every h and Σ̇^h(x, x) = 1, so Θ^L(x, x) = 2 (L + 1).
    x = train.sample_inputs(5, 10, "binary", seed=1)
    for depth in (1, 3, 7):
        theta = train.relu_ntk(x, x, depth)
        np.testing.assert_allclose(theta.diagonal().numpy(), 2 * (depth + 1), rtol=1e-12)


def test_ntk_depth_one_closed_form():
    # One hidden layer written out, θ = arccos ρ: Θ¹ = Σ⁰ (π − θ)/π + ‖·‖ (√(1 − ρ²) + (π − θ) ρ)/π
    x = train.sample_inputs(4, 6, "gaussian", seed=2)
    n = x.norm(dim=1)
    rho = (x @ x.T / (n[:, None] * n[None, :])).clamp(-1, 1)
    angle = torch.arccos(rho)
    sigma0 = 2 * x @ x.T / 6
    norm = 2 * n[:, None] * n[None, :] / 6
    expected = (
        sigma0 * (math.pi - angle) / math.pi
        + norm * (torch.sqrt(1 - rho**2) + (math.pi - angle) * rho) / math.pi
    )
    np.testing.assert_allclose(
        train.relu_ntk(x, x, 1).numpy(), expected.numpy(), rtol=1e-7
    )  # arccos near ρ = 1


@pytest.mark.parametrize("depth", [1, 3])
def test_analytic_ntk_matches_empirical_ntk_of_wide_net(depth):
    """The member-averaged empirical NTK of 8 nets of width 1024 lies within 10% of the analytic
    kernel's largest entry (finite-width fluctuations shrink as 1/√(width·members); measured
    gaps on these inputs: 4.2% at depth 1, 2.5% at depth 3)."""
    x = train.sample_inputs(6, 8, "binary", seed=4)
    model = train.he_mlp(8, 1024, depth, list(range(8)), torch.float32, "cpu")
    empirical = train.empirical_ntk(model, x.float()).double().mean(0)
    analytic = train.relu_ntk(x, x, depth)
    gap = (empirical - analytic).abs().max() / analytic.abs().max()
    assert gap < 0.10, f"relative gap {gap:.3f}"


def test_kernel_regression_interpolates_training_labels():
    x = train.sample_inputs(40, 16, "binary", seed=5)
    y = train.labels(x, "local", 2)[:, None]
    k = train.relu_ntk(x, x, 2)
    pred = train.kernel_predict(k, k, y, ridge=1e-12)
    np.testing.assert_allclose(pred.numpy(), y.numpy(), atol=1e-6)


# ---------------------------------------------------------------- Walsh-degree symmetry
def _walsh(d):
    cube = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=d)), dtype=torch.float64)
    subsets = [s for r in range(d + 1) for s in itertools.combinations(range(d), r)]
    chi = torch.stack([cube[:, list(s)].prod(1) for s in subsets], 1)  # (2^d, 2^d)
    return cube, subsets, chi


@pytest.mark.parametrize("depth", [1, 4])
def test_dot_product_kernel_is_diagonal_in_walsh_basis_with_degree_eigenvalues(depth):
    """On the full cube {±1}^6 the NTK Gram matrix is diagonalized by the Walsh monomials χ_S,
    with an eigenvalue that depends only on |S|: the kernel sees a target only through its
    Walsh weight per degree."""
    d = 6
    cube, subsets, chi = _walsh(d)
    gram = train.relu_ntk(cube, cube, depth)
    spectrum = chi.T @ gram @ chi / len(cube) ** 2
    eig = spectrum.diagonal()
    off = spectrum - torch.diag(eig)
    assert off.abs().max() < 1e-10 * eig.abs().max()
    degree = torch.tensor([len(s) for s in subsets])
    for r in range(d + 1):
        per_degree = eig[degree == r]
        assert per_degree.max() - per_degree.min() < 1e-10 * eig.abs().max()
    assert (eig > -1e-12).all()  # PSD (odd degrees ≥ 3 vanish for the bias-free ReLU NTK)


def test_ntk_regression_cannot_tell_adjacent_from_spread_parities():
    """Permuting the coordinates leaves every dot product, hence the whole regression, unchanged:
    the adjacent parity x0·x1 on X and the spread parity x0·x5 on the permuted X give identical
    predictions, at any depth."""
    x_train = train.sample_inputs(300, 12, "binary", seed=6)
    x_test = train.sample_inputs(200, 12, "binary", seed=7)
    perm = torch.arange(12)
    perm[[1, 5]] = perm[[5, 1]]  # swap coordinates 1 and 5

    def predict(xtr, xte, cols, depth):
        y = xtr[:, cols].prod(1, keepdim=True)
        k = train.relu_ntk(xtr, xtr, depth)
        return train.kernel_predict(k, train.relu_ntk(xte, xtr, depth), y, 1e-8)

    for depth in (1, 5):
        adjacent = predict(x_train, x_test, [0, 1], depth)
        spread = predict(x_train[:, perm], x_test[:, perm], [0, 5], depth)
        np.testing.assert_allclose(adjacent.numpy(), spread.numpy(), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- batched training
def test_custom_adam_matches_torch_adam():
    torch.manual_seed(0)
    w_ours = torch.randn(5, 3, requires_grad=True)
    w_ref = w_ours.detach().clone().requires_grad_(True)
    target = torch.randn(5, 3)
    ours = train._Optimizer([w_ours], "adam", lr=0.01)
    ref = torch.optim.Adam([w_ref], lr=0.01)
    for _ in range(20):
        for w, opt in [(w_ours, ours), (w_ref, ref)]:
            opt.zero_grad()
            ((w - target) ** 2 * torch.arange(1.0, 4.0)).sum().backward()
            opt.step()
    np.testing.assert_allclose(
        w_ours.detach().numpy(), w_ref.detach().numpy(), rtol=1e-6, atol=1e-7
    )


P_FIT = {
    "optimizer": "adam",
    "lr": 1e-2,
    "batch_size": 16,
    "max_epochs": 40,
    "loss": "cross_entropy",
    "loss_target": 0.02,
    "eval_every": 3,
}


def test_ensemble_member_trains_as_if_alone():
    """Member 1 of a 3-member ensemble meets the criterion at the same epoch, with the same test
    error and history, alone."""
    xs = torch.stack([train.sample_inputs(48, 8, "binary", seed=s) for s in range(3)])
    xt = torch.stack([train.sample_inputs(64, 8, "binary", seed=10 + s) for s in range(3)])
    ys, yt = train.labels(xs, "local", 2), train.labels(xt, "local", 2)
    seeds = [11, 12, 13]
    together = train.fit_to_criterion(
        train.he_mlp(8, 32, 2, seeds, torch.float64, "cpu"), xs, ys, xt, yt, P_FIT, generator(0)
    )
    alone = train.fit_to_criterion(
        train.he_mlp(8, 32, 2, seeds[1:2], torch.float64, "cpu"),
        xs[1:2],
        ys[1:2],
        xt[1:2],
        yt[1:2],
        P_FIT,
        generator(0),
    )
    e = int(alone["criterion_epoch"][0])
    assert int(together["criterion_epoch"][1]) == e > 0
    assert together["test_error"][1] == alone["test_error"][0]
    assert float(together["train_loss"][1]) == pytest.approx(
        float(alone["train_loss"][0]), rel=1e-9
    )
    assert float(alone["train_loss"][0]) <= P_FIT["loss_target"]
    np.testing.assert_allclose(together["train_error"][1, :e], alone["train_error"][0, :e])
    assert together["test_history"][1, e - 1] == alone["test_error"][0]  # recorded at the criterion


def test_a_per_member_lr_trains_each_member_as_alone_at_its_own_lr():
    """lr as a (members,) tensor: member i of the ensemble follows the run alone at lr[i]."""
    xs = torch.stack([train.sample_inputs(48, 8, "binary", seed=s) for s in range(2)])
    ys = train.labels(xs, "local", 2)
    lrs = [3e-3, 3e-2]
    p = {**P_FIT, "max_epochs": 6, "loss_target": 1e-9}  # a fixed number of epochs
    both = train.he_mlp(8, 16, 2, [1, 2], torch.float64, "cpu")
    train.fit_to_criterion(
        both, xs, ys, xs, ys, {**p, "lr": torch.tensor(lrs, dtype=torch.float64)}, generator(0)
    )
    for i, lr in enumerate(lrs):
        alone = train.he_mlp(8, 16, 2, [1 + i], torch.float64, "cpu")
        train.fit_to_criterion(
            alone,
            xs[i : i + 1],
            ys[i : i + 1],
            xs[i : i + 1],
            ys[i : i + 1],
            {**p, "lr": lr},
            generator(0),
        )
        for w_both, w_alone in zip(both.weights, alone.weights):
            np.testing.assert_allclose(
                w_both[i].detach().numpy(), w_alone[0].detach().numpy(), rtol=1e-9, atol=1e-12
            )
    assert not np.allclose(both.weights[0][0].detach(), both.weights[0][1].detach())


def test_lr_per_label_type_and_depth_reaches_each_cells_targets():
    config = validate_config({}, SCHEMA)["locality"]
    config = {**config, "depths": [1, 10], "n_train": {"local": [500], "global": [500]}}
    assert claim._lr(config, {"n_train": "500", "depth": "10"}) == config["train"]["lr"]
    config["train"] = {**config["train"], "lr": {"local": [1e-3, 1e-2], "global": [3e-3, 3e-4]}}
    assert claim._lr(config, {"n_train": "500", "depth": "10"}) == [1e-2, 3e-4]
    assert claim._lr(config, {"n_train": "500", "depth": "1"}) == [1e-3, 3e-3]
    validate_config(
        {"locality": {"depths": [1, 10], "train": {"lr": config["train"]["lr"]}}}, SCHEMA
    )
    with pytest.raises(ValueError, match="locality.train.lr"):
        claim._lr({**config, "depths": [1, 4, 10]}, {"n_train": "500", "depth": "1"})


def test_lr_pilot_rule_picks_lowest_validation_error_among_runs_meeting_the_criterion():
    runs = [
        {"lr": 3e-4, "validation_error": [0.01, 0.01], "criterion_epoch": [0, 40]},  # missed
        {"lr": 1e-3, "validation_error": [0.20, 0.22], "criterion_epoch": [9, 8]},
        {"lr": 1e-2, "validation_error": [0.05, 0.07], "criterion_epoch": [12, 15]},
        {"lr": 3e-2, "validation_error": [0.06, 0.06], "criterion_epoch": [12, 15]},  # tie
    ]
    assert lr_pilot.choose_lr(runs, 1e-3) == 1e-2
    assert lr_pilot.choose_lr(runs[:1], 1e-3) == 1e-3  # none eligible: the config's lr


def test_lr_pilot_merge_orders_cells_by_label_and_configured_depth(tmp_path):
    def part(cells, seconds):
        return {"depths": [1, 4, 10], "cells": cells, "chosen": {}, "seconds": seconds}

    def cell(label, depth, lr):
        return {"label": label, "depth": depth, "lr": lr}

    a = part([cell("local", 1, 0.03), cell("local", 4, 0.01), cell("local", 10, 0.003)], 5)
    b = part([cell("global", 10, 0.001), cell("global", 4, 0.1)], 2)  # split, out of order
    c = part([cell("global", 1, 0.3)], 1)
    paths = []
    for i, x in enumerate([a, b, c]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(x))
    out = lr_pilot.merge([str(q) for q in paths])
    assert out["chosen"] == {"local": [0.03, 0.01, 0.003], "global": [0.3, 0.1, 0.001]}
    assert [(c["label"], c["depth"]) for c in out["cells"]][3:] == [
        ("global", 1),
        ("global", 4),
        ("global", 10),
    ]
    assert out["seconds"] == 8
    partial = lr_pilot.merge([str(paths[0]), str(paths[2])])  # global depths 4, 10 not run
    assert partial["chosen"]["global"] == [0.3, None, None]


def test_verdict_note_states_the_lr_of_every_label_type_and_depth():
    per_depth = {"train": {"lr": {"local": [0.03, 0.01], "global": [0.003, 0.001]}}}
    text = analysis._lr_text(per_depth, [1, 4])
    assert "local depth 1: 0.03, depth 4: 0.01; global depth 1: 0.003, depth 4: 0.001" in text
    assert "lr_pilot" in text
    assert analysis._lr_text({"train": {"lr": 0.001}}, [1, 4]).startswith("lr 0.001 for every")


def test_protocol_reads_every_member_at_the_same_criterion_and_controls_need_not_meet_it():
    """Members meet the loss criterion at different epochs; each is read at its own epoch, and
    training stops once every required member met it (a shuffled-label member may not)."""
    x = torch.stack([train.sample_inputs(64, 8, "binary", seed=s) for s in range(2)])
    y = train.labels(x, "local", 2)
    y = torch.cat([y, train.shuffled(y, [3, 4])])
    x = torch.cat([x, x])
    model = train.he_mlp(8, 32, 2, [1, 2, 3, 4], torch.float64, "cpu")
    required = torch.tensor([True, True, False, False])
    out = train.fit_to_criterion(model, x, y, x, y, P_FIT, generator(0), required=required)
    met = out["criterion_epoch"]
    assert (met[:2] > 0).all()
    stop = int(out["stop_epoch"][0])
    assert stop == int(met[:2].max()) or stop == P_FIT["max_epochs"]
    assert (out["train_loss"][:2] <= P_FIT["loss_target"]).all()
    for i in range(2):  # the test error is the one recorded at the member's criterion epoch
        assert out["test_history"][i, int(met[i]) - 1] == out["test_error"][i]
    # the control's labels: a permutation of the true ones (same balance), not the true ones
    assert torch.equal(y[2].sort().values, y[0].sort().values)
    assert not torch.equal(y[2], y[0])


def test_shuffled_labels_are_a_fixed_permutation_per_seed():
    y = torch.arange(10.0)[None].repeat(2, 1)
    a, b = train.shuffled(y, [1, 2]), train.shuffled(y, [1, 2])
    assert torch.equal(a, b)
    assert torch.equal(a[0].sort().values, y[0]) and not torch.equal(a[0], a[1])


def test_paired_difference():
    mean, se = analysis.paired_difference(np.array([0.3, 0.2, 0.4]), np.array([0.1, 0.1, 0.1]))
    assert mean == pytest.approx(0.2)
    assert se == pytest.approx(0.1 / math.sqrt(3))


# ---------------------------------------------------------------- config
SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def test_config_defaults_and_bad_values_name_the_key():
    config = validate_config({}, SCHEMA)
    assert config["locality"]["family"] == "A"
    assert config["locality"]["train"]["max_epochs"] == 300
    assert config["locality"]["n_seeds"] == 10
    assert config["locality"]["train"]["loss_target"] == 0.01
    for bad, key in [
        ({"family": "C"}, "locality.family"),
        ({"depths": [1]}, "locality.depths"),
        ({"train": {"width": 0}}, "locality.train.width"),
    ]:
        with pytest.raises(ConfigError, match=key):
            validate_config({"locality": bad}, SCHEMA)


# ---------------------------------------------------------------- per-target grid, pilot rule
def test_n_train_is_per_label_type_and_each_cell_trains_only_its_targets():
    config = validate_config({}, SCHEMA)["locality"]
    config = {**config, "k": [2], "n_train": {"local": [500], "global": [500, 2000]}}
    step = claim.CLAIM.step("train")
    cells = claim.CLAIM.cells(step, config)
    assert sorted({c["n_train"] for c in cells}) == ["2000", "500"]
    assert len(cells) == 2 * len(config["depths"])
    assert claim._targets(config, {"n_train": "500"}) == ["local_k2", "global_k2"]
    assert claim._targets(config, {"n_train": "2000"}) == ["global_k2"]
    with pytest.raises(ConfigError, match="locality.n_train"):
        validate_config({"locality": {"n_train": [250, 500]}}, SCHEMA)


def test_pilot_chance_is_the_minority_rate_of_the_labels():
    y = torch.tensor([[1.0] * 64 + [-1.0] * 36, [1.0] * 50 + [-1.0] * 50])
    assert pilot.chance_level(y) == pytest.approx((0.36 + 0.5) / 2)
    # family A's 2-global label on the cube: the tie rule sgn(0) = +1 makes it imbalanced
    errs, chance = pilot.ntk_errors(32, 2, 64, "A", depths=(1,), n_seeds=2)
    assert chance["global"] == pytest.approx(0.36, abs=0.03)
    assert chance["local"] == pytest.approx(0.5, abs=0.03)
    assert set(errs) == {"local", "global"}


def test_pilot_rule_uses_each_labels_real_chance_and_chooses_n_per_target():
    """The same NTK errors; a balanced global label gets the smaller N, an imbalanced one (chance
    0.36, as family A's tie rule gives) the larger N, while the local target's N is unchanged."""
    ntk = {250: {"local": 0.30, "global": 0.30}, 1000: {"local": 0.10, "global": 0.20}}

    def cells(global_labels):
        chance = {"local": 0.5, "global": pilot.chance_level(global_labels)}
        out = []
        for n, errs in ntk.items():
            errors = {kind: [e] * len(pilot.DEPTHS) for kind, e in errs.items()}
            ok = {kind: pilot.eligible(errors[kind], chance[kind]) for kind in errors}
            out.append({"d": 32, "k": 2, "n_train": n, "eligible": ok})
        return out

    balanced = torch.tensor([1.0, -1.0] * 50)[None]
    imbalanced = torch.tensor([1.0] * 64 + [-1.0] * 36)[None]
    assert pilot.choose_grid(cells(balanced))["n_train"] == {"global": [250], "local": [250]}
    assert pilot.choose_grid(cells(imbalanced))["n_train"] == {"global": [1000], "local": [250]}
    # a k at which one label type has no eligible N is dropped
    k3 = [{"d": 32, "k": 3, "n_train": 250, "eligible": {"local": False, "global": True}}]
    assert pilot.choose_grid(cells(balanced) + k3)["k"] == [2]


def test_committed_grid_is_the_pilots_choice():
    """config.yaml's k and n_train are what pilot.json chose (rule 4: per target)."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    chosen = json.loads((root / "workflow/paperclaims/claims/locality/pilot.json").read_text())
    config = yaml.safe_load((root / "config/config.yaml").read_text())["locality"]
    assert config["k"] == chosen["chosen"]["k"]
    assert config["n_train"] == chosen["chosen"]["n_train"]


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_smoke_config_runs_locality_end_to_end(smoke_run):
    """On the shared end-to-end run of every claim (tests/conftest.py)."""
    wd = smoke_run
    verdict = json.loads((wd / "results/locality/verdict.json").read_text())
    ids = [c["id"] for c in verdict["checks"]]
    assert "local_deep_beats_shallow[local_k2, N=64]" in ids
    assert "ntk_misses_depth_trend[N=64]" in ids
    assert verdict["reconstruction"]
    for name in ("error_vs_depth", "error_vs_epochs"):
        assert (wd / f"figures/locality/{name}.png").stat().st_size > 0


def test_training_resumes_from_checkpoint_with_identical_results(tmp_path, caplog):
    """Interrupted after an epoch's checkpoint and rerun, training ends as an uninterrupted run."""
    from paperclaims.checkpoint import Checkpoint
    from paperclaims.seeds import generator

    class KilledAfter(Checkpoint):
        def maybe_save(self, step, state):
            super().maybe_save(step, state)
            if step == 2:
                raise KeyboardInterrupt  # stands in for SIGKILL

    p = {**P_FIT, "lr": 1e-3, "max_epochs": 5, "loss": "mse"}
    x = torch.randn(2, 64, 6, generator=generator(0))
    y = torch.sign(torch.randn(2, 64, generator=generator(1)))

    def run(checkpoint=None):
        model = train.he_mlp(6, 16, 2, [5, 6], torch.float32, "cpu")
        out = train.fit_to_criterion(model, x, y, x, y, p, generator(3), checkpoint=checkpoint)
        return model, out

    clean_model, clean = run()
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        run(KilledAfter(path, every_seconds=0.0))
    with caplog.at_level("INFO", logger="paperclaims"):
        resumed_model, resumed = run(Checkpoint(path, every_seconds=0.0))
    assert "resuming from checkpoint" in caplog.text and "at step 2" in caplog.text
    for a, b in zip(clean_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert clean.keys() == resumed.keys()
    for name in clean:
        assert torch.allclose(clean[name], resumed[name], equal_nan=True, rtol=0, atol=0), name


def test_ntk_cell_gives_the_same_arrays_however_its_seeds_are_cut(tmp_path):
    """Issue 19: an NTK cell's seeds in one job, or in two blocks merged as the measure step does
    (blocks.merge_blocks): identical arrays (seed s's data derive from (N, s) alone)."""
    import xarray as xr
    from conftest import ROOT
    from paperclaims import scale
    from paperclaims.blocks import merge_blocks
    from paperclaims.io import read_dataset
    from paperclaims.registry import claims, step_args
    from paperclaims.runner import Step

    config = scale.load_config(ROOT / "config" / "test.yaml")
    claim = claims()["locality"]
    step = claim.step("ntk")
    cell = claim.cells(step, config["locality"])[0]
    n_seeds = config["locality"]["n_seeds"]
    assert n_seeds >= 2

    def run(block):
        params = step_args(claim, step, config["locality"], config["seed"], cell)
        params["seed_block"] = block
        out = tmp_path / f"ntk_{block}.nc"
        train.ntk(Step("locality", "ntk", [], [str(out)], params, config["seed"]))
        return read_dataset(out)

    whole = run(f"0-{n_seeds - 1}").drop_attrs()
    parts = [run("0-0"), run(f"1-{n_seeds - 1}")]
    xr.testing.assert_identical(merge_blocks(parts, ["seed"]).drop_attrs(), whole)
