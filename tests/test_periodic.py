"""Science of the periodic claim: Snake, Proposition 1, frequency fits, activation cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paperclaims.claims.periodic import analysis, claim, train
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


def test_training_inputs_lie_in_the_paper_range():
    x = train._train_inputs(1000, seed=3).numpy()
    assert np.all((np.abs(x) >= 1 / 3) & (np.abs(x) <= 1))
    assert 0.4 < np.mean(x > 0) < 0.6


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
    years, ppm = train.co2_monthly()
    assert len(ppm) > 500 and np.isfinite(ppm).all()
    assert 1958 <= years[0] < 1959 and ppm[-1] > ppm[0] + 40


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
        "activation": "snake_a10",
        "width": 16,
        "n_train": 32,
        "steps": 40,
        "lr": 0.01,
        "momentum": 0.9,
        "init": "normal",
        "n_seeds": 2,
        "x_max": 30.0,
        "n_grid": 61,
        "far_range": [10.0, 30.0],
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
