"""Science of the periodic claim: Snake, Proposition 1, frequency fits, activation cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_job_step
from paperclaims.claims.periodic import analysis, claim, forecast, train
from paperclaims.nets import EnsembleMLP, activation_fn, snake


def test_snake_definition_and_cosine_form():
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    for a in (0.5, 1.0, 10.0):
        expected = x - torch.cos(2 * a * x) / (2 * a) + 1 / (2 * a)
        torch.testing.assert_close(snake(x, a), expected)


@pytest.mark.parametrize(
    "name, coefficient, power",
    [("tanh", -1 / 3, 3), ("sin", -1 / 6, 3), ("x_plus_sin", -1 / 6, 3), ("snake", 1.0, 2)],
)
def test_first_nonlinear_taylor_term_matches_table_1(name, coefficient, power):
    """Table 1: f(x) − (linear part) ≈ c·x^p for small x (Snake with a = 1: x + sin²x = x + x² − …)."""
    x = torch.tensor([1e-3, 2e-3], dtype=torch.float64)
    f = activation_fn(name)(x, 1.0)
    linear = 2 * x if name == "x_plus_sin" else x
    measured = (f - linear) / x**power
    torch.testing.assert_close(measured, torch.full_like(x, coefficient), rtol=1e-3, atol=0)


def test_relu_has_no_nonlinear_taylor_term_away_from_zero():
    x = torch.tensor([1e-3, 2e-3], dtype=torch.float64)
    torch.testing.assert_close(activation_fn("relu")(x, 1.0), x)


def test_proposition1_formula_matches_quadrature():
    for a in (0.1, 0.5605, 1.0, 3.0):
        assert abs(analysis.snake_variance(a) - analysis.snake_variance_quadrature(a)) < 1e-8


def test_proposition1_formula_matches_monte_carlo():
    x = np.random.default_rng(0).normal(size=2_000_000)
    a = 0.8
    assert abs(np.var(x + np.sin(a * x) ** 2 / a) - analysis.snake_variance(a)) < 5e-3


def test_fit_frequency_recovers_known_sinusoid():
    x = np.linspace(1, 3.5, 600)
    omegas = np.arange(1, 60, 0.05)
    clean = 0.7 * np.sin(14.3 * x + 0.4) + 0.1
    assert abs(analysis.fit_frequency(x, clean, omegas) - 14.3) < 1e-4
    noisy = clean + np.random.default_rng(0).normal(0, 0.05, x.size)
    assert abs(analysis.fit_frequency(x, noisy, omegas) - 14.3) < 0.05


def test_activation_cells_expand_snake_frequencies():
    cells = claim.activation_cells(["relu", "snake"], [5.5, 10])
    assert cells == ["relu", "snake_a5.5", "snake_a10"]
    assert train.parse_activation("snake_a5.5") == ("snake", 5.5)
    assert train.parse_activation("tanh") == ("tanh", 1.0)


def test_training_inputs_are_the_authors_32_per_side():
    x = train.train_inputs(32, seed=3).numpy()
    assert x.shape == (64,)
    assert np.all((np.abs(x) >= 1 / 3) & (np.abs(x) <= 1))
    assert (x < 0).sum() == (x > 0).sum() == 32
    assert not np.allclose(x, train.train_inputs(32, seed=4).numpy())


CELLS = ["relu", "tanh", "sin", "x_plus_sin", "snake_a10", "snake_a5.5"]


def _problem(cells=CELLS, seeds=(1, 2), width=16, n_per_side=8, dtype=torch.float64):
    x = torch.stack([train.train_inputs(n_per_side, s) for s in seeds])
    x = x.repeat(len(cells), 1)[..., None].to(dtype)
    model = train.OneHidden.init(cells, list(seeds), width, "uniform", dtype, "cpu")
    return model, x, train.target("square", x)


def _reference(model):
    """The same nets through the plain forward, as leaf tensors for autograd."""
    params = [p.clone().requires_grad_() for p in model.params()]
    return params, train.OneHidden(*params, model.a, model.groups)


def test_hand_written_gradients_equal_autograd_for_every_activation():
    model, x, y = _problem()
    loss, grads = model.loss_and_gradients(x, y)
    params, ref = _reference(model)
    ref_loss = ((ref(x) - y) ** 2).mean(dim=(1, 2))
    ref_loss.sum().backward()
    torch.testing.assert_close(loss, ref_loss.detach())
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, p.grad)


def test_heavy_ball_is_torch_sgd_with_momentum_one_rate_per_member():
    model, x, y = _problem()
    lr = torch.linspace(1e-3, 2e-2, x.shape[0], dtype=x.dtype).view(-1, 1, 1)
    params, ref = _reference(model)
    _, loss = train.heavy_ball(model, x, y, steps=7, lr=lr, momentum=0.9)
    # torch.optim.SGD per member: one optimizer per member's rate, on the same summed loss
    groups = [[p] for p in params]
    opt = torch.optim.SGD([{"params": g} for g in groups], lr=1.0, momentum=0.9)
    for _ in range(7):
        opt.zero_grad()
        ((ref(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
        for p in params:  # per-member rate: scale the gradient, then SGD at lr 1
            p.grad *= lr.view(-1, *([1] * (p.dim() - 1)))
        opt.step()
    for p, q in zip(model.params(), params):
        torch.testing.assert_close(p, q.detach())
    assert loss.shape == (x.shape[0], len(train.record_steps(7)))


def test_training_criterion_stops_at_the_first_done_block_else_at_the_cap():
    model, x, y = _problem()
    lr = torch.full((x.shape[0], 1, 1), 1e-2, dtype=x.dtype)
    calls = []

    def done_at_third_block(blocks):
        calls.append(len(blocks["end"]))
        return len(blocks["end"]) == 3

    blocks = {}
    when, loss = train.heavy_ball(
        model,
        x,
        y,
        steps=10,
        lr=lr,
        momentum=0.9,
        max_steps=100,
        done=done_at_third_block,
        blocks=blocks,
    )
    assert when[-1] == 30 and loss.shape[1] == len(when) and calls == [1, 2, 3]
    # the block's end loss is the recorded loss at its last step; its best is the minimum within
    torch.testing.assert_close(blocks["end"][-1], loss[:, -1])
    assert (blocks["best"][-1] <= blocks["end"][-1]).all()
    model, x, y = _problem()
    calls.clear()
    when, _ = train.heavy_ball(
        model, x, y, steps=10, lr=lr, momentum=0.9, max_steps=50, done=lambda b: calls.append(1)
    )
    assert when[-1] == 50 and len(calls) == 5  # the block ends 10 … 50


def _blocks(*pairs):
    """{"end": [...], "best": [...]} from (end, best) per block."""
    return {
        "end": [torch.tensor(end) for end, _ in pairs],
        "best": [torch.tensor(best) for _, best in pairs],
    }


def test_fit_status_fitted_stalled_diverged_or_still_falling():
    groups = {"relu": (0, 3), "tanh": (3, 6)}
    var = torch.ones(6)
    fit = [0.05, 0.5, 0.09, 0.01, 0.02, 0.03]
    assert train.fit_status(_blocks((fit, fit)), var, groups) == {
        "relu": "fitted",  # median 0.09
        "tanh": "fitted",
    }
    # a NaN seed makes the median NaN, as in the fit precondition: diverged, not fitted
    nan_seed = [0.01, 0.02, float("nan"), 0.01, 0.02, 0.03]
    assert train.fit_status(_blocks((nan_seed, nan_seed)), var, groups)["relu"] == "diverged"
    # an even number of seeds: the mean of the middle two (numpy), not the lower one
    assert train.fit_status(_blocks(([0.05, 0.3], [0.05, 0.3])), var[:2], {"relu": (0, 2)}) == {
        "relu": train.STILL_FALLING  # median 0.175 > 0.1; nothing to compare with yet
    }
    before = [0.3] * 3 + [0.5] * 3
    # relu's best fell 3.3 % (< STALL_FALL = 5 %): stalled; tanh's fell 20 %: still falling
    now = [0.29] * 3 + [0.4] * 3
    status = train.fit_status(_blocks((before, before), (now, now)), var, groups)
    assert status == {"relu": "stalled", "tanh": train.STILL_FALLING}
    # the stall test reads each block's best, not its end: a spike at the block end is no stall
    spike = [0.6] * 3 + [0.4] * 3
    status = train.fit_status(_blocks((before, before), (spike, now)), var, groups)
    assert status == {"relu": "stalled", "tanh": train.STILL_FALLING}
    status = train.fit_status(_blocks((before, before), ([0.6] * 6, [0.2] * 6)), var, groups)
    assert status == {"relu": train.STILL_FALLING, "tanh": train.STILL_FALLING}


def test_extrapolation_cap_must_be_whole_blocks(workdir):
    from conftest import snakemake

    proc = snakemake(
        workdir,
        "-n",
        "--config",
        'claims=["periodic"]',
        "periodic={'extrapolation': {'steps': 100, 'max_steps': 250}}",
        check=False,
    )
    assert proc.returncode != 0
    assert "periodic.extrapolation.max_steps" in proc.stdout + proc.stderr
    assert "multiple" in proc.stdout + proc.stderr


def test_training_criterion_reads_relu_tanh_and_the_headline_snake_only():
    cells = ["relu", "tanh", "sin", "x_plus_sin", "snake_a5.5", "snake_a10", "snake_a20"]
    assert train.checked_cells(cells, 10.0) == ["relu", "tanh", "snake_a10"]
    assert train.checked_cells(cells, 5.5) == ["relu", "tanh", "snake_a5.5"]


def test_batched_cells_train_exactly_as_each_cell_alone():
    model, x, y = _problem()
    lr = torch.full((x.shape[0], 1, 1), 1e-2, dtype=x.dtype)
    train.heavy_ball(model, x, y, steps=20, lr=lr, momentum=0.9)
    lo, hi = model.groups["snake_a10"]
    alone, xa, ya = _problem(cells=["snake_a10"])
    train.heavy_ball(alone, xa, ya, steps=20, lr=lr[:2], momentum=0.9)
    torch.testing.assert_close(model.w[lo:hi], alone.w)
    torch.testing.assert_close(model.v[lo:hi], alone.v)


def test_gauss_newton_top_eigenvalue_equals_power_iteration_on_autograd():
    model, x, y = _problem(cells=["x_plus_sin", "relu"], seeds=(3,), width=12)
    lam = model.gauss_newton_top(x)
    params, ref = _reference(model)
    for member in range(x.shape[0]):
        f = lambda *p, i=member: train.OneHidden(*p, model.a, model.groups)(x)[i, :, 0]  # noqa: E731
        jac = torch.autograd.functional.jacobian(f, tuple(p.detach() for p in params))
        flat = torch.cat([j.reshape(x.shape[1], -1) for j in jac], dim=1)
        gn = 2.0 / x.shape[1] * flat.T @ flat
        vec = torch.ones(gn.shape[0], dtype=gn.dtype)
        for _ in range(500):
            vec = gn @ vec
            vec /= vec.norm()
        torch.testing.assert_close(lam[member], vec @ gn @ vec, rtol=1e-6, atol=0)


def test_step_size_rule_keeps_the_authors_rate_where_stable_and_halves_the_limit_elsewhere():
    groups = {"relu": (0, 2), "x_plus_sin": (2, 4)}
    lam = torch.tensor([150.0, 190.0, 900.0, 1150.0])
    rates = train.step_sizes(lam, groups, lr=0.01, momentum=0.9)
    assert rates["relu"] == 0.01  # 0.01 × 190 = 1.9 < 3.8
    assert rates["x_plus_sin"] == pytest.approx(train.LR_SAFETY * 3.8 / 1150)
    assert rates["x_plus_sin"] * 1150 < 2 * (1 + 0.9)


def test_authors_rate_diverges_where_the_rule_says_it_is_unstable_and_the_rule_trains():
    """x + sin x at lr 1e-2 (λ_max ≈ 1100 > 3.8/0.01): the audit's divergence; the rule's rate trains."""
    model, x, y = _problem(cells=["x_plus_sin"], seeds=(1,), width=512, n_per_side=32)
    lam = model.gauss_newton_top(x)
    assert float(lam.max()) * 0.01 > 2 * 1.9
    rates = train.step_sizes(lam, model.groups, 0.01, 0.9)
    fast, _, _ = _problem(cells=["x_plus_sin"], seeds=(1,), width=512, n_per_side=32)
    _, diverging = train.heavy_ball(fast, x, y, steps=300, lr=0.01, momentum=0.9)
    _, stable = train.heavy_ball(model, x, y, steps=300, lr=rates["x_plus_sin"], momentum=0.9)
    assert not torch.isfinite(diverging[:, -1]).all() or diverging[0, -1] > 1e3
    assert stable[0, -1] < stable[0, 0]


def test_numpy_forward_matches_the_trainer_and_its_slope_the_derivative(tmp_path):
    model, x, y = _problem()
    ds = _as_dataset(model)
    grid = np.linspace(-3, 3, 301)
    f, slope = train.forward_numpy(ds, grid)
    with torch.no_grad():
        ref = model(torch.as_tensor(grid).view(1, -1, 1).expand(x.shape[0], -1, -1))[..., 0]
    np.testing.assert_allclose(f.reshape(ref.shape), ref.numpy(), rtol=1e-10, atol=1e-12)
    eps = 1e-6
    numeric = (train.forward_numpy(ds, grid + eps)[0] - train.forward_numpy(ds, grid - eps)[0]) / (
        2 * eps
    )
    np.testing.assert_allclose(numeric, slope, rtol=1e-5, atol=1e-6)


def _as_dataset(model, cells=CELLS, n_seeds=2):
    import xarray as xr

    def arr(t, *tail):
        return t.detach().numpy().reshape(len(cells), n_seeds, *tail)

    h = model.w.shape[-1]
    return xr.Dataset(
        {
            "w": (("activation", "seed", "unit"), arr(model.w, h)),
            "b": (("activation", "seed", "unit"), arr(model.b, h)),
            "v": (("activation", "seed", "unit"), arr(model.v, h)),
            "c": (("activation", "seed"), arr(model.c)),
            "snake_a": (("activation", "seed"), arr(model.a)),
        },
        coords={"activation": cells, "x": np.linspace(-3.5, 3.5, 281)},
    )


def test_far_field_rules_separate_the_theorems_from_a_periodic_far_field():
    """ReLU beyond its last kink: affine to rounding; inside its kinks it is not. tanh beyond its
    saturation point: flat. Snake at either rule's range: neither affine nor flat."""
    model, _, _ = _problem(width=64)
    ds = _as_dataset(model)
    relu, tanh, snake = (CELLS.index(k) for k in ("relu", "tanh", "snake_a10"))
    residual, _ = analysis.far_field(ds, analysis.kink_range(ds), 101)
    _, slope = analysis.far_field(ds, analysis.saturation_range(ds), 101)
    assert residual[relu].max() < 1e-9
    assert slope[tanh].max() < 1e-2
    assert residual[snake].min() > 1e-2 and slope[snake].min() > 0.1
    inner = np.full(residual.shape, 0.2)  # inside the kinks: [0.2, 0.4] is not affine
    near, _ = analysis.far_field(ds, inner, 101)
    assert near[relu].min() > 1e-3


def test_ensemble_members_train_independently():
    """A batched member gets exactly the gradient it would get alone."""
    x = torch.linspace(-1, 1, 32, dtype=torch.float64)[:, None]
    y = torch.sin(3 * x)
    pair = EnsembleMLP([1, 8, 1], [11, 12], "snake", snake_a=2.0, dtype=torch.float64)
    alone = EnsembleMLP([1, 8, 1], [12], "snake", snake_a=2.0, dtype=torch.float64)
    for model in (pair, alone):
        ((model(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
    torch.testing.assert_close(pair.weights[0].grad[1], alone.weights[0].grad[0])


def test_co2_series_ships_offline():
    years, ppm = forecast.co2_monthly()
    assert len(ppm) > 500 and np.isfinite(ppm).all()
    assert 1958 <= years[0] < 1959 and ppm[-1] > ppm[0] + 40


def test_elnino_series_ships_offline_and_its_last_9_years_split_into_the_authors_6_plus_3():
    years, sst = forecast.elnino_monthly()
    assert len(sst) == 61 * 12 and np.isfinite(sst).all() and years[0] == 1950
    x, y, n_train, t = forecast.split_series("elnino", 2 / 3, 9)
    assert len(y) == 108 and t[0] == 2002 and t[-1] > 2010.9
    assert n_train == 72 and abs(y[:n_train].mean()) < 1e-12 and np.isclose(y[:n_train].std(), 1)
    assert np.isclose(np.diff(x)[0], 1 / 12)  # time in years


def test_detrended_co2_has_no_trend_left_on_its_training_part():
    x, y, n_train, _ = forecast.split_series("co2", 2 / 3, 9)
    assert abs(np.polyfit(x[:n_train], y[:n_train], 1)[0]) < 1e-6


def test_batched_forecast_members_equal_one_at_a_time():
    """Seed 12 inside a batch of two gets the same output and gradients as alone."""
    x = torch.linspace(-20, 20, 24, dtype=torch.float64)[None, :, None]
    pair = forecast.init_params("snake", [11, 12], 8, 50.0, torch.float64, "cpu")
    alone = forecast.init_params("snake", [12], 8, 50.0, torch.float64, "cpu")
    outs = []
    for params in (pair, alone):
        out = forecast.forward("snake", params, x.expand(len(params["w0"]), -1, 1))
        (out**2).mean(dim=(1, 2)).sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[0][1], outs[1][0])
    torch.testing.assert_close(pair["a0"].grad[1], alone["a0"].grad[0])
    assert (alone["a0"] >= 0).all() and alone["a0"].mean() > 10  # |N(0, 50²)|


def _forecast_run(tmp_path, model: str, name: str, **override):
    """One train_forecast job at toy size, as Snakemake runs it; returns its dataset."""
    args = dict(
        series="elnino", model=model, cell_seed=3, width=8, epochs=2, max_epochs=6,
        batch_size=32, lr=3e-4, momentum=0.99, weight_decay=3e-3, a_scale=50.0, n_seeds=2,
        window_years=9, train_fraction=2 / 3,
    )  # fmt: skip
    return run_job_step(tmp_path, "periodic.forecast:train_forecast", {**args, **override}, name)[1]


def test_forecast_training_criterion_blocks_cap_and_control(tmp_path, monkeypatch):
    """A compared net trains in blocks of ``epochs`` until its median training MSE / variance
    ≤ FIT_LEVEL, or to ``max_epochs``; the shuffled control trains exactly ``epochs``; a run that
    goes on is the stopped run continued (the criterion draws nothing); and the stop falls at the
    first block end whose median fit is at the level (epochs = 100: the production record
    schedule, every 2nd epoch, where a block end is not a record step by itself)."""
    blocks = dict(epochs=100, max_epochs=250)
    monkeypatch.setattr(forecast, "FIT_LEVEL", -1.0)  # nothing fits
    capped = _forecast_run(tmp_path, "tanh", "capped", **blocks)
    control = _forecast_run(tmp_path, forecast.SHUFFLED, "control", **blocks)
    assert capped.attrs["epochs_trained"] == 250 and int(capped["epoch"][-1]) == 250
    assert {100, 200, 250} <= set(capped["epoch"].values.tolist())
    assert control.attrs["epochs_trained"] == 100
    # the level between the median fits at the first and the second block end: stop at 200
    fit = capped["train_loss"].median("seed") / np.var(
        capped["observed"].values[: capped.attrs["n_train"]]
    )
    first, second = float(fit.sel(epoch=100)), float(fit.sel(epoch=200))
    assert second < first
    monkeypatch.setattr(forecast, "FIT_LEVEL", (first + second) / 2)
    two_blocks = _forecast_run(tmp_path, "tanh", "two_blocks", **blocks)
    assert two_blocks.attrs["epochs_trained"] == 200
    monkeypatch.setattr(forecast, "FIT_LEVEL", np.inf)  # everything fits
    stopped = _forecast_run(tmp_path, "tanh", "stopped", **blocks)
    assert stopped.attrs["epochs_trained"] == 100 and int(stopped["epoch"][-1]) == 100
    first_block = capped["train_loss"].sel(epoch=stopped["epoch"].values)
    np.testing.assert_array_equal(first_block.values, stopped["train_loss"].values)
    np.testing.assert_array_equal(
        two_blocks["train_loss"].values, capped["train_loss"].sel(epoch=two_blocks["epoch"]).values
    )


def test_forecast_training_stops_early_when_every_member_diverges(tmp_path, monkeypatch):
    """Once every member's loss is NaN the rest would be NaN arithmetic: training stops before
    the cap, even at a level any finite fit meets, and the epochs trained say so."""
    monkeypatch.setattr(forecast, "FIT_LEVEL", 1e30)
    run = _forecast_run(tmp_path, "relu", "diverged", lr=1e3, epochs=3, max_epochs=300)
    assert np.isnan(run["train_loss"].values[:, -1]).all()
    assert run.attrs["epochs_trained"] < 300


def test_training_stops_when_every_member_diverges():
    from paperclaims.nets import train_full_batch

    x = torch.linspace(-1, 1, 16)[:, None]
    model = EnsembleMLP([1, 8, 1], [1, 2], "relu")
    when, loss = train_full_batch(model, x, 1e3 * x, steps=500, lr=10.0)
    assert loss.shape == (2, len(when))
    assert torch.isnan(loss[:, -1]).all()


def test_extrapolation_cell_resumes_from_checkpoint_with_identical_arrays(
    tmp_path, monkeypatch, caplog, device
):
    """Killed after a checkpoint and rerun, a train job (on ``device``) ends as an uninterrupted one."""
    import xarray as xr
    from conftest import killed_then_resumed
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    params = {
        "target": "sin",
        "cells": ["relu", "snake_a10"],
        "width": 16,
        "n_per_side": 16,
        "steps": 20,
        "max_steps": 40,
        "snake_a_headline": 10,
        "lr": 0.01,
        "momentum": 0.9,
        "init": "normal",
        "n_seeds": 2,
        "x_max": 3.5,
        "n_grid": 61,
        "cell_seed": 5,
    }

    def run(out):
        step = Step("periodic", "train", [], [str(out)], dict(params), 0, device_name=device)
        train.train_extrapolation(step)
        step.checkpoint().clear()  # as runner.run_step does after success
        return read_dataset(out)

    # a save after every step from step 1: the 25th is step 25
    clean, resumed, _ = killed_then_resumed(run, tmp_path, monkeypatch, caplog, kill_at_save=25)
    assert "at step 25" in caplog.text, "the rerun did not resume from the checkpoint"
    xr.testing.assert_equal(clean.drop_attrs(), resumed.drop_attrs())
    # the criterion's reason per checked cell (both cells are checked: relu, the headline Snake)
    assert set(clean["fit_status"].values) <= {"fitted", "stalled", "diverged", train.STILL_FALLING}

    # a checkpoint left by a killed job of another version (here: another lr) is not resumed
    from paperclaims.checkpoint import Checkpoint

    killed = tmp_path / "other.nc"
    save = Checkpoint.save
    monkeypatch.setattr(
        Checkpoint, "save", lambda self, it, state: (save(self, it, state), _interrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        run(killed)
    monkeypatch.setattr(Checkpoint, "save", save)
    params["lr"] = 0.02
    caplog.clear()
    with caplog.at_level("INFO", logger="paperclaims"):
        rerun = run(killed)
    assert "another version of this job wrote it" in caplog.text
    assert "resuming" not in caplog.text
    xr.testing.assert_equal(rerun.drop_attrs(), run(tmp_path / "fresh.nc").drop_attrs())


def _interrupt():
    raise KeyboardInterrupt  # stands in for SIGKILL right after a checkpoint
