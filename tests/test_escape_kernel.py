"""The escape claim's fused CPU chain kernel (escape/fused.py): its generator, its exact
stationary moments, its statistical equivalence with the torch kernels (escape times and
stationary variance), determinism across threads, chunking and chain counts, and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import killed_then_resumed
from paperclaims.claims.escape import fused, train
from paperclaims.claims.escape.train import (
    Regression,
    simulate_discreteness,
    simulate_first_passage,
    simulate_stationary,
    start_at_minimum,
)
from scipy import stats


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _step(params, out, device="cpu"):
    from paperclaims.runner import Step

    return Step("escape", "escape_simulate", [], [str(out)], dict(params), 0, device_name=device)


def _run(simulate, params, out, *, kernel="fused", monkeypatch=None):
    """One simulate step on the CPU with the fused or the torch kernel; its dataset."""
    from paperclaims.io import read_dataset

    if kernel == "torch":
        monkeypatch.setattr(train, "fused_kernel", lambda step: False)
    step = _step(params, out)
    simulate(step)
    step.checkpoint().clear()
    if monkeypatch is not None:
        monkeypatch.undo()
    return read_dataset(out)


# ---------------------------------------------------------------- the generator
def test_philox_matches_the_random123_known_answers():
    m = 0xFFFFFFFF
    cases = [
        ((0, 0, 0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((m, m, m, m, m, m), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ]
    for args, expected in cases:
        assert tuple(int(v) for v in fused.philox4x32(*args)) == expected


def test_streams_are_uniform_indices_and_standard_normals():
    key = fused.chain_keys(3, 1)[0]
    idx = fused.indices(key, 0, 100000, 10)
    assert idx.min() == 0 and idx.max() == 9
    assert stats.chisquare(np.bincount(idx, minlength=10)).pvalue > 1e-3
    z = fused.normals(key, 0, 100000)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.015  # the two normals of a pair too
    # any window of a stream is the same numbers: draws depend on their position only
    assert np.array_equal(fused.normals(key, 12345, 7), z[12345:12352])
    assert np.array_equal(fused.indices(key, 999, 5, 10), idx[999:1004])
    other = fused.chain_keys(3, 2)
    assert np.array_equal(other[0], key) and not np.array_equal(other[1], key)
    assert not np.array_equal(fused.chain_keys(4, 1)[0], key)


# ---------------------------------------------------------------- exact moments
def _stationary_u2(chains_obj, problem, chains, burn_in, every, n):
    """(θ − θ*)² of every chain at n times spaced ``every`` after ``burn_in``, from L / L*."""
    sample_steps = burn_in + every * np.arange(1, n + 1)
    samples = np.full((chains, n), np.nan)
    fused.run(
        chains_obj,
        start_at_minimum(problem, chains).numpy(),
        int(sample_steps[-1]),
        97,
        fused.chain_keys(5, chains),
        sample_steps=sample_steps,
        samples=samples,
    )
    return (samples - 1) * 2 * problem.loss_star / problem.hessian.item()


@pytest.mark.parametrize("batch", [1, 3])
def test_fused_sgd_stationary_second_moment_is_exact(batch):
    """As tests/test_escape.py's torch test: E u² = E b² / (1 − E a²) from the data's moments."""
    lr = 0.1
    problem = Regression(2000, 1, 1.0, seed=3)
    x = problem.x[:, 0].numpy()
    r = problem.y.numpy() - x * problem.theta_star.item()
    m2, m4 = (x**2).mean(), (x**4).mean()
    e_a2 = 1 - 2 * lr * m2 + (lr / batch) ** 2 * (batch * m4 + batch * (batch - 1) * m2**2)
    e_b2 = lr**2 / batch * (x**2 * r**2).mean()
    exact = e_b2 / (1 - e_a2)
    kernel = fused.regression_sgd(problem, 20000, lr, batch)
    u2 = _stationary_u2(kernel, problem, 20000, 300, 50, 8)
    assert np.isfinite(u2).all()
    assert u2.mean() == pytest.approx(exact, rel=0.04)


def test_fused_langevin_stationary_law_is_the_exact_gaussian():
    lr, batch, ref = 0.1, 1, 0.5
    problem = Regression(2000, 1, 1.0, seed=4)
    h = problem.hessian.item()
    variance = lr**2 * 2 * ref * h / batch / (1 - (1 - lr * h) ** 2)
    kernel = fused.regression_langevin(problem, 5000, lr, batch, ref)
    u2 = _stationary_u2(kernel, problem, 5000, 300, 50, 4).ravel()
    assert u2.mean() == pytest.approx(variance, rel=0.04)
    assert stats.kstest(u2 / variance, stats.chi2(1).cdf).pvalue > 1e-3


@pytest.mark.parametrize("noise", ["decoupled", "exact"])
def test_fused_euler_maruyama_step_law(noise):
    """One EM step from θ* + 0.7: mean θ − ηH(θ − θ*), variance η² Σ(θ)/B (as the torch test)."""
    problem = Regression(3000, 1, 1.0, seed=4)
    x, y = problem.x[:, 0].numpy(), problem.y.numpy()
    h, lr, batch, chains = problem.hessian.item(), 0.2, 2, 100000
    theta0 = problem.theta_star.item() + 0.7
    kernel = fused.regression_euler_maruyama(problem, chains, lr, batch, noise)
    new = fused.run(
        kernel,
        np.full((chains, 1), theta0),
        1,
        1,
        fused.chain_keys(6, chains),
        thresholds=np.array([1e9]),
        passage=np.full((chains, 1), -1, dtype=np.int64),
    )[:, 0]
    if noise == "decoupled":
        sigma = 2 * float(problem.loss(torch.tensor([[theta0]], dtype=torch.float64))[0]) * h
    else:
        sigma = float((x * (x * theta0 - y)).var())
    assert new.mean() == pytest.approx(
        theta0 - lr * h * 0.7, abs=4 * lr * (sigma / batch / chains) ** 0.5
    )
    assert new.var() == pytest.approx(lr**2 * sigma / batch, rel=0.02)


# ---------------------------------------------------------------- equivalence with torch
BASE = {"n_data": 500, "label_noise": 1.0, "cell_seed": 31}
FIRST_PASSAGE_CASES = {
    "sgd_d1": (
        simulate_first_passage,
        {"process": "sgd", "dim": 1, "lr": 0.1, "batch": 1, "c": [1.2, 1.4]},
    ),
    "sgd_d2_B2": (
        simulate_first_passage,
        {"process": "sgd", "dim": 2, "lr": 0.2, "batch": 2, "c": [1.2, 1.35]},
    ),
    "langevin_d1": (
        simulate_first_passage,
        {
            "process": "langevin",
            "dim": 1,
            "lr": 0.1,
            "batch": 1,
            "delta_loss": [0.08, 0.15],
            "langevin_reference_loss": 0.5,
        },
    ),
    "em_groups": (
        simulate_discreteness,
        {"process": "em", "lr": 0.1, "batch": 1, "c": [1.2, 1.4], "n_datasets": 2, "data_seed": 3},
    ),
    "sgd_d2_datasets": (
        simulate_first_passage,
        {"process": "sgd", "dim": 2, "lr": 0.2, "batch": 2, "c": [1.2, 1.35], "n_datasets": 3},
    ),
    "sgd_groups_B2": (
        simulate_discreteness,
        {"process": "sgd", "lr": 0.2, "batch": 2, "c": [1.2, 1.4], "n_datasets": 2, "data_seed": 3},
    ),
}


def _same_law(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest p-value of Welch's t-test on the mean log passage time and the two-sample KS."""
    la, lb = np.log(a), np.log(b)
    return min(stats.ttest_ind(la, lb, equal_var=False).pvalue, stats.ks_2samp(la, lb).pvalue)


@pytest.mark.parametrize("case", list(FIRST_PASSAGE_CASES))
def test_fused_and_torch_escape_times_have_the_same_law(case, tmp_path, monkeypatch):
    """Per threshold, the two kernels' passage times agree within sampling error (Welch t on
    mean log t_p and KS, both p > 10⁻³, 1200 chains each), with the same dataset layout."""
    simulate, params = FIRST_PASSAGE_CASES[case]
    params = {**BASE, "chains": 1200, "max_steps": 20000, **params}
    a = _run(simulate, params, tmp_path / "fused.nc")
    b = _run(simulate, params, tmp_path / "torch.nc", kernel="torch", monkeypatch=monkeypatch)
    assert set(a.variables) == set(b.variables) and a.sizes == b.sizes
    assert a.attrs.keys() == b.attrs.keys()
    for name in set(a.variables) - {"passage_time"}:
        xr.testing.assert_allclose(a[name], b[name])  # the thresholds, data sets, groups
    ta, tb = a["passage_time"].values, b["passage_time"].values
    assert np.isfinite(ta).all() and np.isfinite(tb).all(), "raise max_steps: censored chains"
    assert not np.array_equal(ta, tb)  # different generators: not a copy
    for j in range(ta.shape[1]):
        assert _same_law(ta[:, j], tb[:, j]) > 1e-3, (case, j)


def test_the_equivalence_test_detects_a_five_percent_larger_step(tmp_path, monkeypatch):
    """Power of the test above: the torch kernel at η = 0.105 against the fused at η = 0.1
    (t_p ∝ c^(B/η): about 10% shorter at c = 1.4) is rejected."""
    simulate, params = FIRST_PASSAGE_CASES["sgd_d1"]
    params = {**BASE, "chains": 1200, "max_steps": 20000, **params}
    a = _run(simulate, params, tmp_path / "fused.nc")
    b = _run(
        simulate, {**params, "lr": 0.105}, tmp_path / "torch.nc", kernel="torch",
        monkeypatch=monkeypatch,
    )  # fmt: skip
    # in iterations, as the lr differs
    ta, tb = a["passage_time"].values / 0.1, b["passage_time"].values / 0.105
    assert _same_law(ta[:, 1], tb[:, 1]) < 1e-3


@pytest.mark.parametrize("process", ["sgd", "langevin"])
def test_fused_and_torch_stationary_laws_agree(process, tmp_path, monkeypatch):
    """The stationary L / L* − 1 (∝ u²): the same mean (the stationary variance) per chain
    average by Welch's t-test, and the same law by KS, p > 10⁻³."""
    params = {**BASE, "chains": 3000, "lr": 0.1, "batch": 1, "burn_in": 300, "thin": 50}
    params |= {"n_samples": 6} | ({"process": "langevin"} if process == "langevin" else {})
    a = _run(simulate_stationary, params, tmp_path / "fused.nc")
    b = _run(simulate_stationary, params, tmp_path / "torch.nc", kernel="torch", monkeypatch=monkeypatch)  # fmt: skip
    xr.testing.assert_equal(a["sample"], b["sample"])
    ua, ub = a["loss_ratio"].values - 1, b["loss_ratio"].values - 1
    assert (ua >= 0).all() and (ub >= 0).all()
    assert stats.ttest_ind(ua.mean(1), ub.mean(1), equal_var=False).pvalue > 1e-3
    assert stats.ks_2samp(ua.ravel(), ub.ravel()).pvalue > 1e-3
    assert ua.mean() == pytest.approx(ub.mean(), rel=0.1)


# ---------------------------------------------------------------- determinism and resume
def _passage(threads, chunk, chains=300, steps=3000, seed=8):
    problem = Regression(400, 1, 1.0, seed=2)
    passage = np.full((chains, 2), -1, dtype=np.int64)
    theta = fused.run(
        fused.regression_sgd(problem, chains, 0.1, 1),
        start_at_minimum(problem, chains).numpy(),
        steps,
        chunk,
        fused.chain_keys(seed, chains),
        thresholds=np.array([1.3, 1.6]) * problem.loss_star,
        passage=passage,
        threads=threads,
    )
    return passage, theta


def test_same_seed_same_arrays_whatever_the_threads_chunks_and_chain_count():
    reference, theta = _passage(1, 250)
    assert (reference > 0).mean() > 0.5  # most chains pass: the comparison has content
    again, theta_again = _passage(1, 250)
    assert np.array_equal(reference, again) and np.array_equal(theta, theta_again)
    assert np.array_equal(reference, _passage(2, 250)[0])  # parallel over chains
    assert np.array_equal(reference, _passage(1, 37)[0])  # other chunk boundaries
    assert np.array_equal(reference[:100], _passage(1, 250, chains=100)[0])  # chain i's stream
    assert not np.array_equal(reference, _passage(1, 250, seed=9)[0])


@pytest.mark.parametrize(
    ("simulate", "params"),
    [
        (
            simulate_stationary,
            {"process": "langevin", "lr": 0.1, "batch": 2, "burn_in": 300, "thin": 100},
        ),
        (
            simulate_first_passage,
            {"process": "sgd", "dim": 8, "lr": 0.1, "batch": 1, "c": [1.5, 2.5]},
        ),
        (
            simulate_first_passage,
            {"process": "sgd", "dim": 2, "lr": 0.1, "batch": 1, "c": [1.5, 2.5], "n_datasets": 4},
        ),
        (
            simulate_discreteness,
            {
                "process": "em",
                "lr": 0.1,
                "batch": 1,
                "c": [1.5, 3.0],
                "n_datasets": 4,
                "data_seed": 3,
            },
        ),
    ],
    ids=[
        "stationary_langevin",
        "first_passage_sgd_d8",
        "first_passage_datasets",
        "discreteness_em",
    ],
)
def test_fused_chains_resume_from_checkpoint_with_identical_arrays(
    simulate, params, tmp_path, monkeypatch, caplog
):
    """Killed after a chunk's checkpoint and rerun, the fused kernel ends as an uninterrupted run
    (tests/test_escape.py covers the other processes, with either kernel by device)."""
    from paperclaims.io import read_dataset

    params = {**BASE, "chains": 2000, "max_steps": 3000, "n_samples": 25, **params}

    def run(out):
        step = _step(params, out)
        simulate(step)
        step.checkpoint().clear()
        return read_dataset(out)

    clean, resumed, last_save = killed_then_resumed(
        run, tmp_path, monkeypatch, caplog, kill_at_save=2
    )
    assert f"at step {last_save}" in caplog.text, "the rerun did not resume from the checkpoint"
    xr.testing.assert_equal(clean.drop_attrs(), resumed.drop_attrs())


def test_a_checkpoint_of_the_torch_kernel_is_not_resumed(tmp_path, caplog):
    """A checkpoint without the fused kernel's tag (the torch kernel's, from another device) is
    ignored, loudly, and the run starts over with the arrays of a clean run."""
    from paperclaims.checkpoint import Checkpoint

    ck = Checkpoint(tmp_path / "ck.pt", every_seconds=1e9)
    ck.save(1500, {"theta": torch.zeros(300, 1), "generator": None, "observed": {}})
    problem = Regression(400, 1, 1.0, seed=2)
    passage = np.full((300, 2), -1, dtype=np.int64)
    with caplog.at_level("WARNING", logger="paperclaims"):
        fused.run(
            fused.regression_sgd(problem, 300, 0.1, 1),
            start_at_minimum(problem, 300).numpy(),
            3000,
            250,
            fused.chain_keys(8, 300),
            thresholds=np.array([1.3, 1.6]) * problem.loss_star,
            passage=passage,
            checkpoint=ck,
        )
    assert "not the fused kernel's" in caplog.text
    assert np.array_equal(passage, _passage(1, 250)[0])


def test_cpu_runs_use_the_fused_kernel_and_other_devices_torch(monkeypatch, tmp_path):
    from paperclaims.runner import Step

    assert train.fused_kernel(_step({}, tmp_path / "a.nc"))
    monkeypatch.setattr(Step, "device", property(lambda self: torch.device("cuda")))
    assert not train.fused_kernel(_step({}, tmp_path / "a.nc", device="cuda"))


# ---------------------------------------------------------------- Fig. 3b on several data sets
def test_first_passage_on_several_data_sets_splits_the_chains_and_names_each_data_set(tmp_path):
    from paperclaims.seeds import derive_seed

    params = {**BASE, "chains": 300, "max_steps": 5000, "n_datasets": 3}
    params |= {"process": "sgd", "dim": 1, "lr": 0.1, "batch": 1, "c": [1.2, 1.4]}
    sets = _run(simulate_first_passage, params, tmp_path / "sets.nc")
    assert np.bincount(sets["chain_dataset"].values).tolist() == [100, 100, 100]
    loss_star = sets["dataset_loss_star"].values
    assert len(set(loss_star)) == 3  # three different landscapes
    for g in range(3):  # data set g is rebuilt from (cell seed, "dataset", g)
        rebuilt = Regression(500, 1, 1.0, derive_seed(31, "dataset", g))
        assert loss_star[g] == rebuilt.loss_star
    assert sets.attrs["loss_star"] == pytest.approx(loss_star.mean())
    one = _run(simulate_first_passage, {**params, "n_datasets": 1}, tmp_path / "one.nc")
    assert "chain_dataset" not in one.coords and one.sizes["chain"] == 300
    with pytest.raises(ValueError, match="multiple"):
        _run(simulate_first_passage, {**params, "n_datasets": 7}, tmp_path / "bad.nc")


def test_first_passage_slope_interval_resamples_the_data_sets(tmp_path):
    """Two data sets whose chains give slopes 10 and 14 with little chain noise: the chains-only
    bootstrap would pin the pooled slope; the two-stage interval spans the data sets' spread."""
    from paperclaims.claims.escape import analysis

    rng = np.random.default_rng(0)
    c = np.array([1.2, 1.4, 1.6])
    chains = 400
    group = np.arange(chains) // 200
    slope = np.where(group == 0, 10.0, 14.0)[:, None]
    times = np.exp(slope * np.log(c)) * rng.exponential(1.0, (chains, 1)) ** 0.05
    ds = xr.Dataset(
        {"passage_time": (("chain", "threshold"), times)},
        coords={"chain": np.arange(chains), "threshold": np.arange(3), "c": ("threshold", c)},
        attrs={"dim": 1, "horizon": 1e9},
    )
    ds.assign_coords(chain_dataset=("chain", group)).to_netcdf(tmp_path / "sets.nc")
    ds.to_netcdf(tmp_path / "pooled.nc")
    sets = analysis._measure_first_passage([str(tmp_path / "sets.nc")], 0.1, 1).isel(dim=0)
    pooled = analysis._measure_first_passage([str(tmp_path / "pooled.nc")], 0.1, 1).isel(dim=0)
    assert int(sets["fp_n_datasets"]) == 2 and int(pooled["fp_n_datasets"]) == 1
    low, high = float(sets["fp_slope_low"]), float(sets["fp_slope_high"])
    assert low < 10.5 and high > 13.5
    assert float(pooled["fp_slope_high"]) - float(pooled["fp_slope_low"]) < 0.5
