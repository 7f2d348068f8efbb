"""Claim `escape`: the simulators, estimators and bookkeeping on cases with exact answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import killed_then_resumed, snakemake
from paperclaims.claims.escape.analysis import (
    collapse_spread,
    cosine_sde_passage_time,
    extrapolate_excess,
    fit_phi,
    gaussian_chain_passage_steps,
    log_log_slope,
    phi_exact_noise,
    phi_theory,
    sde_passage_time,
    tail_weight_fit,
    tail_weight_sd,
)
from paperclaims.claims.escape.cosine import CosineRegression, simulate_cosine
from paperclaims.claims.escape.train import (
    Regression,
    euler_maruyama_kernel,
    noise_strength,
    simulate_discreteness,
    simulate_first_passage,
    simulate_stationary,
    start_at_minimum,
    train_noise,
)
from paperclaims.nets import EnsembleMLP
from paperclaims.seeds import generator
from paperclaims.sgd import FirstPassage, censored_mean, chunk_length, run_chains
from scipy import stats


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _samples_after(problem, kernel, chains, burn_in, every, n):
    """θ − θ* of every chain at n times spaced ``every`` steps after ``burn_in``."""
    kept = []

    def record(trajectory, first):
        steps = np.arange(first, first + len(trajectory))
        rows = (steps > burn_in) & ((steps - burn_in) % every == 0)
        kept.extend((trajectory[rows] - problem.theta_star).numpy())
        return False

    run_chains(start_at_minimum(problem, chains), burn_in + every * n, *kernel, 256, record)
    return np.array(kept)


@pytest.mark.parametrize("batch", [1, 3])
def test_sgd_stationary_second_moment_is_exact(batch):
    """u = θ − θ* follows u ← a u + b with i.i.d. (a, b); in stationarity E u = 0 and
    E u² = E b² / (1 − E a²), exactly, from the data's moments (minibatches with replacement)."""
    lr = 0.1
    problem = Regression(2000, 1, 1.0, seed=3)
    x = problem.x[:, 0].numpy()
    r = problem.y.numpy() - x * problem.theta_star.item()
    m2, m4 = (x**2).mean(), (x**4).mean()
    e_a2 = 1 - 2 * lr * m2 + (lr / batch) ** 2 * (batch * m4 + batch * (batch - 1) * m2**2)
    e_b2 = lr**2 / batch * (x**2 * r**2).mean()
    exact = e_b2 / (1 - e_a2)
    u = _samples_after(problem, problem.sgd(generator(5), 20000, lr, batch), 20000, 300, 50, 8)
    assert abs(u.mean()) < 0.02 * np.sqrt(exact)
    assert (u**2).mean() == pytest.approx(exact, rel=0.04)


def test_langevin_stationary_law_is_the_exact_gaussian():
    """Constant-noise control: u ← (1 − ηh) u + η s ξ is an AR(1) with a Gaussian stationary law
    of variance η² s² / (1 − (1 − ηh)²), s² = 2 L_ref h / B."""
    lr, batch, ref = 0.1, 1, 0.5
    problem = Regression(2000, 1, 1.0, seed=4)
    h = problem.hessian.item()
    variance = lr**2 * 2 * ref * h / batch / (1 - (1 - lr * h) ** 2)
    kernel = problem.langevin(generator(6), 5000, lr, batch, ref)
    u = _samples_after(problem, kernel, 5000, 300, 50, 4).ravel()
    assert u.var() == pytest.approx(variance, rel=0.04)
    assert stats.kstest(u / np.sqrt(variance), "norm").pvalue > 1e-3


@pytest.mark.parametrize(("phi", "dim"), [(3.0, 1), (11.0, 1), (6.0, 2)])
def test_phi_estimator_recovers_power_law(phi, dim):
    """P ∝ (1 + |u|²)^(−φ) on R^d is a multivariate t: u = Z / √W, W ~ χ²(2φ − d)."""
    rng = np.random.default_rng(0)
    n = 40000
    z = rng.standard_normal((n, dim))
    w = rng.chisquare(2 * phi - dim, n)
    ratio = 1 + (z**2).sum(1) / w
    assert fit_phi(ratio, dim) == pytest.approx(phi, rel=0.03)


def test_exact_noise_prediction_tends_to_theory_shape():
    """Sanity of the quadrature: the exact-noise φ is finite, below the paper's at small η/B."""
    value = phi_exact_noise(0.1, 1)
    assert 1 < value < phi_theory(0.1, 1)


def test_first_passage_of_a_simple_random_walk():
    """±1 walk from 0: the mean exit time from (−a, a) is a² steps."""
    chains, a = 20000, 10
    gen = generator(7)
    passage = FirstPassage(chains, torch.tensor([a - 0.5, a / 2 - 0.5], dtype=torch.float64))

    def next_chunk(k):
        return (torch.randint(0, 2, (k, chains, 1), generator=gen).double() * 2 - 1,)

    run_chains(
        torch.zeros(chains, 1, dtype=torch.float64),
        10_000,
        next_chunk,
        lambda theta, step, *, out: torch.add(theta, step, out=out),
        chunk_length(chains, 2),
        lambda trajectory, first: passage.update(trajectory[..., 0].abs(), first),
    )
    assert (passage.step >= 0).all()
    means = passage.step.double().mean(0).numpy()
    assert means[0] == pytest.approx(a**2, rel=0.02)
    assert means[1] == pytest.approx((a / 2) ** 2, rel=0.02)


def test_censored_mean_recovers_exponential_mean():
    rng = np.random.default_rng(1)
    times = rng.exponential(5.0, size=(40000, 1))
    horizon = 7.0
    censored = np.where(times <= horizon, times, np.nan)
    assert np.isnan(censored).mean() > 0.2
    assert censored_mean(censored, horizon)[0] == pytest.approx(5.0, rel=0.03)
    full = censored_mean(times, 1e9)[0]
    assert full == pytest.approx(times.mean())


def test_sde_passage_time_matches_ornstein_uhlenbeck_limit():
    """At c → 1 the decoupled noise is constant: an OU process dv = −v dt + √(2D) dW,
    D = η/2B, whose mean exit time to |v| = a has the closed form ∫₀ᵃ e^(y²/2D) ∫₀ʸ e^(−z²/2D)/D."""
    from scipy import integrate

    lr, batch, c = 0.1, 1, 1.01
    a, diff = np.sqrt(c - 1), lr / (2 * batch)
    inner = lambda y: integrate.quad(lambda z: np.exp(-z * z / (2 * diff)) / diff, 0, y)[0]  # noqa: E731
    ou = integrate.quad(lambda y: np.exp(y * y / (2 * diff)) * inner(y), 0, a)[0]
    assert sde_passage_time(np.array([c]), lr, batch, 1, "decoupled")[0] == pytest.approx(
        ou, rel=0.01
    )


def test_noise_strength_matches_per_sample_autograd():
    """𝒩 = mean |∇ℓ_μ|² − |∇L|² from the layer trick equals brute-force per-sample gradients."""
    torch.manual_seed(0)
    x = torch.randn(12, 5, dtype=torch.float64)
    y = torch.randn(12, 3, dtype=torch.float64)
    model = EnsembleMLP([5, 7, 6, 3], [1, 2], "relu", dtype=torch.float64)
    noise, loss = noise_strength(model, x, y)
    params = list(model.parameters())
    for member in range(2):
        grads = []
        for mu in range(len(x)):
            ell = ((model(x[mu : mu + 1])[member] - y[mu]) ** 2).sum() / 2
            g = torch.autograd.grad(ell, params)
            grads.append(torch.cat([gi[member].reshape(-1) for gi in g]))
        grads = torch.stack(grads)
        brute = (grads**2).sum(1).mean() - (grads.mean(0) ** 2).sum()
        assert noise[member].item() == pytest.approx(brute.item(), rel=1e-10)
        per_sample = ((model(x)[member] - y) ** 2).sum(-1) / 2
        assert loss[member].item() == pytest.approx(per_sample.mean().item(), rel=1e-12)


def test_collapse_spread():
    x = np.linspace(0, 1, 5)
    assert collapse_spread([x, x], [x**2, x**2]) == pytest.approx(0.0)
    assert collapse_spread([x, x], [x, x + 1]) == pytest.approx(0.5)
    assert np.isnan(collapse_spread([x, x + 2], [x, x]))


def test_euler_maruyama_noise_laws():
    """One EM step from θ: mean θ − ηH(θ − θ*), variance η² Σ(θ)/B, with Σ the decoupled 2LH or the
    data's exact per-sample gradient variance (computed here directly from the samples)."""
    problem = Regression(3000, 1, 1.0, seed=4)
    x, y = problem.x[:, 0], problem.y
    h, lr, batch, chains = float(problem.hessian[0, 0]), 0.2, 2, 200000
    theta = torch.full((chains, 1), float(problem.theta_star[0]) + 0.7, dtype=torch.float64)
    for noise in ("decoupled", "exact"):
        next_chunk, update = problem.euler_maruyama(generator(6), chains, lr, batch, noise)
        new = update(theta, next_chunk(1)[0][0], out=torch.empty_like(theta))
        if noise == "decoupled":
            sigma = 2 * float(problem.loss(theta[:1])[0]) * h
        else:
            sigma = float((x * (x * theta[0, 0] - y)).var(unbiased=False))
        mean = theta[0, 0] - lr * h * 0.7
        assert float(new.mean()) == pytest.approx(
            float(mean), abs=4 * lr * (sigma / batch / chains) ** 0.5
        )
        assert float(new.var()) == pytest.approx(lr**2 * sigma / batch, rel=0.02)
    assert sigma > 2 * float(problem.loss(theta[:1])[0]) * h  # Gaussian inputs: E x⁴ = 3 > 2


def test_extrapolate_excess_recovers_a_line():
    eta_h = np.array([0.1, 0.2, 0.4])
    e0, e1 = extrapolate_excess(eta_h, 0.05 + 2 * eta_h)
    assert (float(e0), float(e1)) == pytest.approx((0.05, 2.0))
    boot = np.stack([0.05 + 2 * eta_h, -0.1 + eta_h, np.array([0.1, np.nan, 0.3])], axis=1)
    e0, _ = extrapolate_excess(eta_h, boot)
    assert e0[:2] == pytest.approx([0.05, -0.1])
    assert np.isnan(e0[2])


def test_discreteness_groups_are_their_data_sets(tmp_path):
    """A discreteness cell runs one data set per group of chains: group g's L* is data set g's,
    the chains pass every threshold, and the same seed gives the same arrays."""
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step
    from paperclaims.seeds import derive_seed

    params = {"process": "sgd", "lr": 0.1, "batch": 1, "c": [1.1, 1.2], "n_datasets": 3}
    params |= {"n_data": 300, "label_noise": 1.0, "chains": 30, "max_steps": 4000}
    params |= {"cell_seed": 5, "data_seed": 9}

    def run(name):
        out = tmp_path / name
        simulate_discreteness(Step("escape", "escape_simulate", [], [str(out)], params, 0))
        return read_dataset(out)

    first, again = run("a.nc"), run("b.nc")
    xr.testing.assert_equal(first.drop_attrs(), again.drop_attrs())
    star = [Regression(300, 1, 1.0, derive_seed(9, g)).loss_star for g in range(3)]
    assert first["dataset_loss_star"].values == pytest.approx(star)
    assert list(first["chain_dataset"].values) == [g for g in range(3) for _ in range(10)]
    assert np.isfinite(first["passage_time"].values).all()


@pytest.mark.parametrize("noise", ["exact", "decoupled"])
def test_gaussian_chain_quadrature_matches_its_simulation(noise):
    """The excess check's reference: the Nyström mean first-passage steps of the discrete
    Gaussian chain equal the simulated chain's (train.euler_maruyama_kernel), passage tested at
    the steps; at η = 0.4 a passage takes a few steps, so 20000 chains are cheap."""
    problem = Regression(2000, 1, 1.0, seed=3)
    moments, lr, chains = problem.moments(), 0.4, 20000
    c = np.array([1.3, 1.6])
    passage = FirstPassage(chains, torch.as_tensor(c * problem.loss_star, dtype=torch.float64))
    gen = generator(8)
    run_chains(
        start_at_minimum(problem, chains),
        400,
        *euler_maruyama_kernel(gen, chains, lr, 1, noise, moments),
        100,
        lambda trajectory, first: passage.update(problem.loss(trajectory), first),
    )
    steps = passage.step.numpy().astype(float)
    assert (steps > 0).all()
    for k, cc in enumerate(c):
        quadrature = gaussian_chain_passage_steps(moments, lr, 1, cc, noise, 400)
        se = steps[:, k].std() / np.sqrt(chains)
        assert steps[:, k].mean() == pytest.approx(quadrature, abs=4 * se)


def test_gaussian_chain_tends_to_its_sde_as_the_step_shrinks():
    """The chain's slope excess over the continuous exact-covariance SDE (quadrature, same c)
    shrinks toward zero with η, while at η = 0.4 it is far off: the reason the excess check's
    reference is the chain at the same step, not the SDE."""
    problem = Regression(10000, 1, 1.0, seed=2)
    moments, c = problem.moments(), np.array([1.2, 1.4, 1.6, 1.8])

    def excess(lr):
        chain = [gaussian_chain_passage_steps(moments, lr, 1, cc, "exact", 200) for cc in c]
        sde = sde_passage_time(c, lr, 1, 1, "exact")
        return log_log_slope(c, np.array(chain)) / log_log_slope(c, sde) - 1

    small, large = excess(0.025), excess(0.4)
    assert abs(small) < 0.05
    assert large < -0.1


def test_cosine_landscape_is_translated_not_scaled():
    """The cosine data set: the minibatch gradient's four per-sample coefficients give ∇L
    exactly; θ* and h* by Newton; σ moves L* (≈ σ²/2) and leaves L − L* nearly unchanged, which
    a scaled landscape would not."""
    low, high = CosineRegression(20000, 0.8, 5), CosineRegression(20000, 1.25, 5)
    for problem in (low, high):
        theta = np.linspace(-3, 3, 7)
        coef = problem.coef.numpy().mean(0)
        grad = (
            np.sin(2 * theta) * coef[0]
            + np.cos(2 * theta) * coef[1]
            + np.sin(theta) * coef[2]
            - np.cos(theta) * coef[3]
        )
        eps = 1e-6
        numeric = (problem.loss_np(theta + eps) - problem.loss_np(theta - eps)) / (2 * eps)
        assert grad == pytest.approx(numeric, abs=1e-7)
        assert problem.grad_np(problem.theta_star) == pytest.approx(0.0, abs=1e-12)
        assert problem.hessian == pytest.approx(1.0, abs=0.05)
        torch_loss = problem.loss(torch.tensor([[problem.theta_star]], dtype=torch.float64))
        assert float(torch_loss[0]) == pytest.approx(problem.loss_star, rel=1e-12)
    assert low.loss_star == pytest.approx(0.8**2 / 2, rel=0.05)
    assert high.loss_star == pytest.approx(1.25**2 / 2, rel=0.05)
    psi = np.linspace(0.1, 2.0, 20)
    shape_low = low.loss_np(low.theta_star + psi) - low.loss_star
    shape_high = high.loss_np(high.theta_star + psi) - high.loss_star
    assert shape_high == pytest.approx(shape_low, rel=0.05)
    assert shape_high == pytest.approx(1 - np.cos(psi), rel=0.05)


def test_cosine_sde_reduces_to_the_quadratic_one_near_the_minimum():
    """For L* → 0 the thresholds c L* sit where 1 − cos ψ ≈ ψ²/2: the cosine landscape's SDE
    passage times equal the linear regression's (h = 1, d = 1) by quadrature; the constant-noise
    version collapses on ΔL whatever L*."""
    c = np.array([1.2, 1.5, 1.8])
    cosine = cosine_sde_passage_time(c, 1e-4, 1.0, 0.1, 1)
    quadratic = sde_passage_time(c, 0.1, 1, 1, "decoupled")
    assert cosine == pytest.approx(quadratic, rel=1e-3)
    delta = 0.2
    one = cosine_sde_passage_time(np.array([1 + delta / 0.3]), 0.3, 1.0, 0.1, 1, noise_loss=0.5)
    two = cosine_sde_passage_time(np.array([1 + delta / 0.8]), 0.8, 1.0, 0.1, 1, noise_loss=0.5)
    assert one == pytest.approx(two, rel=1e-9)


def test_cosine_cells_are_deterministic_and_pass(tmp_path):
    """A cosine cell (SGD, then the Langevin control): the same seed gives the same arrays, the
    chains pass every threshold, and the thresholds are c L* or L* + ΔL of the cell's data set."""
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    base = {"lr": 0.1, "batch": 1, "n_data": 500, "label_noise": 1.0, "chains": 40}
    base |= {"max_steps": 20000, "cell_seed": 3, "data_seed": 4}
    cells = {
        "sgd": {"process": "sgd", "c": [1.2, 1.5]},
        "langevin": {
            "process": "langevin",
            "delta_loss": [0.1, 0.2],
            "langevin_reference_loss": 0.5,
        },
    }
    for name, extra in cells.items():

        def run(tag, extra=extra, name=name):
            out = tmp_path / f"{name}{tag}.nc"
            step = Step("escape", "escape_simulate_cosine", [], [str(out)], base | extra, 0)
            simulate_cosine(step)
            return read_dataset(out)

        first, again = run("a"), run("b")
        xr.testing.assert_equal(first.drop_attrs(), again.drop_attrs())
        assert np.isfinite(first["passage_time"].values).all()
        loss_star = CosineRegression(500, 1.0, 4).loss_star
        assert first.attrs["loss_star"] == pytest.approx(loss_star)
        if name == "sgd":
            assert first["c"].values == pytest.approx([1.2, 1.5])
        else:
            assert first["delta_loss"].values == pytest.approx([0.1, 0.2])
        # a higher threshold takes longer, chain by chain
        times = first["passage_time"].values
        assert (times[:, 1] >= times[:, 0]).all()


def test_tail_weight_fit_tells_a_power_law_from_a_gaussian():
    """ω̂ = 1/ν̂ of t_21 samples (the paper's law at B = 1, η = 0.1) is near 1/21 with an interval
    about as wide as the power calculation says; a Gaussian gives ω̂ = 0."""
    from paperclaims.sgd import bootstrap_weights

    rng = np.random.default_rng(0)
    weights = bootstrap_weights(500, 400, 1)
    v = rng.standard_t(21, (500, 40)) / np.sqrt(21)
    omega, boot = tail_weight_fit(1 + v * v, 4 / 21, weights)
    low, high = np.quantile(boot, [0.025, 0.975])
    assert low < 1 / 21 < high
    half = 1.96 * tail_weight_sd(21, v.size)
    assert (high - low) / 2 == pytest.approx(half, rel=0.35)
    gauss = 0.3 * rng.standard_normal((500, 40))
    omega, boot = tail_weight_fit(1 + gauss**2, 4 / 21, weights)
    assert omega < 0.1 / 21 and np.quantile(boot, 0.975) < 0.5 / 21


def test_same_seed_same_arrays():
    def run():
        problem = Regression(500, 2, 1.0, seed=11)
        passage = FirstPassage(64, torch.tensor([1.5 * problem.loss_star], dtype=torch.float64))
        run_chains(
            start_at_minimum(problem, 64),
            3000,
            *problem.sgd(generator(12), 64, 0.1, 1),
            300,
            lambda trajectory, first: passage.update(problem.loss(trajectory), first),
        )
        return passage.step

    assert torch.equal(run(), run())


@pytest.mark.slow
def test_smoke_config_end_to_end_and_cached(smoke_run):
    """On the shared end-to-end run of every claim (tests/conftest.py)."""
    wd = smoke_run
    args = ["--cores", "2", "--configfile", "config/test.yaml"]
    verdict = json.loads((wd / "results/escape/verdict.json").read_text())
    assert {c["id"].split("[")[0] for c in verdict["checks"]} >= {
        "escape_slope",
        "noise_proportional_to_loss",
    }
    # the φ value is an implementation check (a Gaussian with SGD's variance passes it too)
    implementation = {c["id"] for c in verdict["implementation_checks"]}
    assert "collapse[sgd]" in implementation
    assert {i.split("[")[0] for i in implementation} >= {"phi"}
    assert not {c["id"].split("[")[0] for c in verdict["checks"]} & {"phi"}
    for name in ["phi_vs_batch", "first_passage", "ratio_not_difference", "noise_vs_loss"]:
        assert (wd / f"figures/escape/{name}.png").stat().st_size > 0
    again = snakemake(wd, *args, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_noise_training_resumes_from_checkpoint_with_identical_arrays(
    tmp_path, monkeypatch, caplog, device
):
    """Killed after an epoch's checkpoint and rerun, the noise ∝ loss job ends as an uninterrupted one."""
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    params = {
        "dataset": "digits",
        "n_train": 0,
        "hidden": [8],
        "lr": 0.05,
        "batch": 64,
        "epochs": 4,
        "n_seeds": 2,
        "cell_seed": 11,
    }

    def run(out):
        step = Step(
            "escape", "escape_train_noise", [], [str(out)], dict(params), 0, device_name=device
        )
        train_noise(step)
        step.checkpoint().clear()  # as runner.run_step does after success
        return read_dataset(out)

    # saves after epochs 0, 1, 2: killed after epoch 2
    clean, resumed, _ = killed_then_resumed(run, tmp_path, monkeypatch, caplog, kill_at_save=3)
    assert "resuming from checkpoint" in caplog.text
    xr.testing.assert_equal(clean[["noise", "loss"]], resumed[["noise", "loss"]])


@pytest.mark.parametrize(
    ("simulate", "params"),
    [
        (
            simulate_stationary,
            {"lr": 0.1, "batch": 1, "burn_in": 300, "thin": 100, "n_samples": 25},
        ),
        (
            simulate_first_passage,
            {"process": "sgd", "dim": 1, "lr": 0.1, "batch": 1, "c": [1.5, 3.0]},
        ),
        (
            simulate_first_passage,
            {"process": "sgd", "dim": 2, "lr": 0.1, "batch": 1, "c": [1.5, 3.0], "n_datasets": 2},
        ),
        (
            simulate_first_passage,
            {
                "process": "langevin",
                "dim": 2,
                "lr": 0.1,
                "batch": 1,
                "delta_loss": [0.3, 1.0],
                "langevin_reference_loss": 0.5,
            },
        ),
        (
            simulate_discreteness,
            {
                "process": "sgd",
                "lr": 0.2,
                "batch": 2,
                "c": [1.5, 3.0],
                "n_datasets": 4,
                "data_seed": 3,
            },
        ),
        (
            simulate_discreteness,
            {
                "process": "em_exact",
                "lr": 0.1,
                "batch": 1,
                "c": [1.5, 3.0],
                "n_datasets": 4,
                "data_seed": 3,
            },
        ),
    ],
    ids=[
        "stationary",
        "first_passage_sgd",
        "first_passage_datasets",
        "first_passage_langevin",
        "discreteness_sgd",
        "em",
    ],
)
def test_chain_simulation_resumes_from_checkpoint_with_identical_arrays(
    simulate, params, tmp_path, monkeypatch, caplog, device
):
    """Killed after a chunk's checkpoint and rerun, a chain simulation ends as an uninterrupted one
    (θ, the generator and the observer's arrays are all restored)."""
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    # 2000 chains make chunks of a few hundred steps, so the run spans several checkpoints
    params = {
        "n_data": 500,
        "label_noise": 1.0,
        "chains": 2000,
        "max_steps": 3000,
        "cell_seed": 21,
        **params,
    }

    def run(out):
        step = Step(
            "escape", "escape_simulate", [], [str(out)], dict(params), 0, device_name=device
        )
        simulate(step)
        step.checkpoint().clear()  # as runner.run_step does after success
        return read_dataset(out)

    clean, resumed, last_save = killed_then_resumed(
        run, tmp_path, monkeypatch, caplog, kill_at_save=2
    )
    assert f"at step {last_save}" in caplog.text, "the rerun did not resume from the checkpoint"
    xr.testing.assert_equal(clean.drop_attrs(), resumed.drop_attrs())


def test_fixed_batch_cells_share_the_b_sweep_cells_data_and_thresholds():
    """The excess check joins the B sweep's B = 1 cell (η = 0.1) to the fixed-B cells (η = 0.2,
    0.4): they must draw the same data sets and thresholds, differ in their chains' seeds, and
    run the same horizon in t = η k."""
    import yaml
    from paperclaims.claims.escape.claim import CLAIM
    from paperclaims.config import validate_config
    from paperclaims.registry import step_args

    root = Path(__file__).resolve().parents[1]
    config = validate_config(
        yaml.safe_load((root / "config/config.yaml").read_text()),
        root / "workflow/schemas/config.schema.yaml",
    )["escape"]
    steps = {s.name: s for s in CLAIM.train}
    sweep = step_args(
        CLAIM, steps["simulate_discreteness"], config, 1, {"process": "sgd", "batch": "1"}
    )
    fixed = step_args(
        CLAIM,
        steps["simulate_discreteness_fixed_batch"],
        config,
        1,
        {"process": "sgd", "lr": "0.2"},
    )
    assert sweep["batch"] == fixed["batch"] == config["discreteness"]["fixed_batch"] == 1
    assert sweep["lr"] == pytest.approx(0.1) and fixed["lr"] == pytest.approx(0.2)
    for name in ("data_seed", "c", "chains", "n_datasets", "label_noise", "n_data"):
        assert sweep[name] == fixed[name], name
    assert sweep["cell_seed"] != fixed["cell_seed"]
    assert sweep["max_steps"] * sweep["lr"] == pytest.approx(fixed["max_steps"] * fixed["lr"])


def test_first_passage_data_sets_must_divide_the_chains_before_any_job_starts():
    from paperclaims.config import ConfigError, validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    config = {"claims": ["escape"], "escape": {"first_passage": {"chains": 400, "n_datasets": 7}}}
    with pytest.raises(ConfigError, match=r"'escape\.first_passage\.n_datasets' = 7.*divide"):
        validate_config(config, schema)
    config["escape"]["first_passage"]["n_datasets"] = 8
    validate_config(config, schema)  # 8 divides 400


def test_large_deviation_exit_costs_match_the_gaussian_input_formulas():
    """Gaussian inputs, N = 10⁴: the one-sample SGD cost is c − 1 (the Arrhenius cost of the noise
    frozen at L*), the Gaussian chain's ½ ln(2c − 1); the η → 0 slope excess is then ≈ +94%."""
    from paperclaims.claims.escape import analysis

    c = np.array([1.2, 1.4, 1.6, 1.8])
    costs = analysis.large_deviation_exit_costs(Regression(10000, 1, 1.0, seed=5), c)
    assert costs["sgd"] == pytest.approx(c - 1, rel=0.03)
    assert costs["gaussian_chain"] == pytest.approx(0.5 * np.log(2 * c - 1), rel=0.03)


def test_large_deviation_excess_is_zero_when_the_one_sample_noise_is_gaussian():
    """The control: inputs x = ±1 and Gaussian residuals make each SGD step Gaussian with the
    chain's mean and variance, so the two exit costs, and the excess, must agree."""
    from types import SimpleNamespace

    from paperclaims.claims.escape import analysis

    rng = np.random.default_rng(3)
    x = rng.choice([-1.0, 1.0], 20000)
    y = rng.standard_normal(20000)
    theta_star = (x @ y) / (x @ x)
    problem = SimpleNamespace(
        x=torch.as_tensor(x[:, None]),
        y=torch.as_tensor(y),
        theta_star=torch.tensor([theta_star]),
        hessian=torch.tensor([[1.0]]),
        loss_star=float(((x * theta_star - y) ** 2).mean() / 2),
    )
    c = np.array([1.2, 1.5, 1.8])
    limit = analysis._measure_large_deviation_limit([problem], c)
    assert abs(float(limit["ldp_excess_pooled"])) < 0.03
    gaussian_inputs = analysis._measure_large_deviation_limit([Regression(10000, 1, 1.0, 5)], c)
    assert float(gaussian_inputs["ldp_excess_pooled"]) > 0.5
