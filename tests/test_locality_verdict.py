"""Golden tests of the locality verdict: synthetic measured datasets (built here, with the
variables, dims and coords that ``measure()`` writes) on which the claim holds, is contradicted,
is under-powered, or fails a precondition; every check's outcome is asserted."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import outcomes, run_verdict
from paperclaims.claims.locality import analysis
from paperclaims.verdict import CheckCodeError

DEPTHS = [1, 2, 4, 6, 8, 10]
TARGETS = ["local_k2", "global_k2"]
# every depth at its own lr (the lr pilot's rule): the depth-trend checks' precondition
PER_DEPTH_LR = {"local": [1e-3] * len(DEPTHS), "global": [1e-3] * len(DEPTHS)}
PARAMS = {
    "config": {
        "labels": ["local", "global"],
        "k": [2],
        "depths": DEPTHS,
        "train": {"lr": PER_DEPTH_LR},
    }
}


def measured(
    net,
    ntk,
    *,
    n_seeds=10,
    noise=0.01,
    n_train=(500,),
    targets=TARGETS,
    criterion_epoch=None,
    seed_effect=None,
    control=None,
    chance=0.5,
) -> xr.Dataset:
    """What ``measure()`` writes, from mean errors ``net(target, n, depth)`` and
    ``ntk(target, n, depth)``, plus per-(target, n, depth, seed) noise of sd ``noise`` and, for
    the nets, ``seed_effect(target, n, depth, seed)``. The shuffled-label control's mean error is
    ``control(target, n, depth)`` (default: chance at every depth)."""
    rng = np.random.default_rng(0)
    control = control or (lambda t, n, d: 0.5)
    shape = (len(n_train), len(DEPTHS), 2, len(targets), n_seeds)

    def grid(f):
        return np.array([[[f(t, n, d) for t in targets] for d in DEPTHS] for n in n_train])

    mean = np.stack([grid(net), grid(control)], 2)[..., None]  # (n, depth, labels, target, 1)
    if seed_effect is not None:
        eff = np.array(
            [
                [
                    [[seed_effect(t, n, d, s) for s in range(n_seeds)] for t in targets]
                    for d in DEPTHS
                ]
                for n in n_train
            ]
        )
        mean = mean + np.stack([eff, np.zeros_like(eff)], 2)
    kmean = np.array([[[ntk(t, n, d) for d in DEPTHS] for t in targets] for n in n_train])
    err = np.clip(mean + noise * rng.standard_normal(shape), 0, 1)
    kerr = np.clip(kmean[..., None] + noise * rng.standard_normal(kmean.shape + (n_seeds,)), 0, 1)
    epochs = (
        np.full(shape, 20, dtype=np.int64) if criterion_epoch is None else criterion_epoch(shape)
    )
    history = np.repeat(err[..., None], 3, -1)
    history[..., 1] = np.nan
    dims = ("n_train", "depth", "labels", "target", "seed")
    out = xr.Dataset(
        {
            "test_error": (dims, err),
            "criterion_epoch": (dims, epochs),
            "fit_epoch": (dims, np.maximum(epochs - 2, 0)),
            "train_loss": (dims, np.full(shape, 0.009)),
            "test_history": (dims + ("epoch",), history),
            "ntk_test_error": (("n_train", "target", "depth", "seed"), kerr),
            "majority_error": (
                ("n_train", "seed", "target"),
                np.full((len(n_train), n_seeds, len(targets)), chance),
            ),
        },
        coords={
            "n_train": list(n_train),
            "depth": DEPTHS,
            "labels": ["true", "shuffled"],
            "target": list(targets),
            "seed": np.arange(n_seeds),
            "epoch": [1, 2, 3],
        },
    )
    out = analysis.summarize(out)
    out.attrs.update(family="A", inputs="binary", d=32, width=128, n_test=2000, loss_target=0.01)
    return out


def depth_helps_local_hurts_global(t, n, d):
    slope = -0.02 if t.startswith("local") else 0.02
    return 0.2 + slope * (d - 5.5)


def flat(t, n, d):
    return 0.25


def run(tmp_path, ds):
    return run_verdict(analysis.verdict, ds, PARAMS, tmp_path, "locality")


def by_id(verdict):
    return {c["id"]: c for c in verdict["checks"]}


HOLDS_500 = {
    "local_deep_beats_shallow[local_k2, N=500]": "supports",
    "local_best_depth[local_k2, N=500]": "supports",
    "global_best_depth[global_k2, N=500]": "supports",
    "global_deep_worse[global_k2, N=500]": "supports",
    "ntk_misses_depth_trend[N=500]": "supports",
}


def test_claim_holds_every_check_supports(tmp_path):
    v = run(tmp_path, measured(depth_helps_local_hurts_global, flat))
    assert outcomes(v) == HOLDS_500
    assert v["verdict"] == "reproduced"
    assert v["implementation_checks"] == []
    checks = by_id(v)
    assert checks["ntk_misses_depth_trend[N=500]"]["details"]["targets_used"] == TARGETS
    for c in checks.values():
        assert c["precondition"]["held"]
        assert c["interval_method"].startswith("95% percentile bootstrap over seeds")
        assert c["threshold"] == analysis.THRESHOLDS[c["id"].split("[")[0]].to_dict()
        assert c["uninformative"] is False
    # every depth-trend check's control (shuffled labels, at chance at every depth) does not support
    for i, c in checks.items():
        control = c["control"]
        if i.startswith("ntk"):  # split-half self-comparison: the same trend, 'misses' is false
            assert control["name"] == "split-half nets"
            assert control["outcome"] == "contradicts"
            assert control["interval"][0] > 1 / 3
        else:
            assert control["name"] == "shuffled labels"
            assert control["outcome"] != "supports", i
    trend = checks["local_deep_beats_shallow[local_k2, N=500]"]["control"]
    assert trend["interval"][0] < 0 < trend["interval"][1]
    details = checks["local_deep_beats_shallow[local_k2, N=500]"]["details"]
    assert details["learned_fraction_by_depth"] == {str(d): 1.0 for d in DEPTHS}
    assert details["shuffled_mean_error_by_depth"]["1"] == pytest.approx(0.5, abs=0.02)
    headlines = {i for i, c in checks.items() if c["headline"]}
    assert headlines == {
        "local_deep_beats_shallow[local_k2, N=500]",
        "global_deep_worse[global_k2, N=500]",
    }


def test_a_trend_in_the_shuffled_control_makes_the_check_uninformative(tmp_path):
    """A depth trend on labels independent of the inputs (leakage, a protocol effect) must not
    let the check count: its control supports too."""
    v = run(
        tmp_path,
        measured(depth_helps_local_hurts_global, flat, control=depth_helps_local_hurts_global),
    )
    checks = by_id(v)
    for i in ["local_deep_beats_shallow[local_k2, N=500]", "global_deep_worse[global_k2, N=500]"]:
        assert checks[i]["outcome"] == "supports"
        assert checks[i]["control"]["outcome"] == "supports"
        assert checks[i]["uninformative"] is True
    assert v["verdict"] == "partly reproduced"  # the NTK check still supports


def test_claim_contradicted_headlines_contradict(tmp_path):
    def reversed_trends(t, n, d):  # deeper hurts local labels and helps global ones
        return depth_helps_local_hurts_global("global" if t.startswith("local") else "local", n, d)

    # the NTK follows the nets' trend exactly: it does not miss the depth dependence
    v = run(tmp_path, measured(reversed_trends, reversed_trends))
    assert outcomes(v) == {i: "contradicts" for i in HOLDS_500}
    assert v["verdict"] == "not reproduced"
    # the paired trend (not the old "above the minimum", ≥ 0 by construction) can come out negative
    assert by_id(v)["global_deep_worse[global_k2, N=500]"]["interval"][1] < 0


def test_one_headline_contradicting_is_enough(tmp_path):
    def local_reversed(t, n, d):
        return depth_helps_local_hurts_global("global", n, d)

    v = run(tmp_path, measured(local_reversed, flat))
    got = outcomes(v)
    assert got["local_deep_beats_shallow[local_k2, N=500]"] == "contradicts"
    assert got["global_deep_worse[global_k2, N=500]"] == "supports"
    assert v["verdict"] == "not reproduced"


def test_under_powered_is_inconclusive(tmp_path):
    # three seeds that disagree (spread 0.15 around a flat mean, the audit's seed-to-seed spread):
    # seed 0 has the paper's trends, seed 1 the reverse, seed 2 is best at depth 4 for both labels
    def disagreeing(t, n, d, s):
        sign = -1 if t.startswith("local") else 1
        return [sign * 0.03 * (d - 5.5), -sign * 0.03 * (d - 5.5), 0.15 * abs(d - 4) / 6][s]

    v = run(tmp_path, measured(lambda t, n, d: 0.3, flat, n_seeds=3, seed_effect=disagreeing))
    assert outcomes(v) == {i: "inconclusive" for i in HOLDS_500}
    assert v["verdict"] == "inconclusive"
    checks = by_id(v)
    for i in HOLDS_500:
        if not i.startswith("ntk"):  # decided by the interval, not by a precondition
            assert checks[i]["precondition"]["held"], i
            assert "across the edge of" in checks[i]["reason"], i
    assert checks["local_best_depth[local_k2, N=500]"]["interval"] == [1.0, 10.0]
    # the NTK check needs a resolved net trend (the audit: it passed on noise)
    ntk = checks["ntk_misses_depth_trend[N=500]"]
    assert not ntk["precondition"]["held"]
    assert ntk["reason"].startswith("precondition failed: at least one target whose finite nets")
    assert ntk["precondition"]["measured"] == "eligible targets: none"


def test_ten_seeds_resolve_a_gap_of_a_tenth_under_the_audits_spread(tmp_path):
    """The audit's seed-to-seed spread (0.15, bimodal: a seed learns or not) with a 0.1 gap
    between depth 1 and the deepest net: 10 paired seeds resolve it."""

    def bimodal(t, n, d, s):
        return 0.15 * (s % 2) - 0.075  # half the seeds 0.075 worse at every depth, half better

    def gap(t, n, d):
        return 0.3 - 0.1 * (d == 10) if t.startswith("local") else 0.3 + 0.1 * (d == 10)

    v = run(tmp_path, measured(gap, flat, seed_effect=bimodal, noise=0.03))
    got = outcomes(v)
    assert got["local_deep_beats_shallow[local_k2, N=500]"] == "supports"
    assert got["global_deep_worse[global_k2, N=500]"] == "supports"


def test_one_cell_at_the_floor_gives_partly_reproduced(tmp_path):
    def floor_at_2000(t, n, d):  # N = 2000: every depth at zero error, no trend to read
        return 0.0 if n == 2000 else depth_helps_local_hurts_global(t, n, d)

    v = run(tmp_path, measured(floor_at_2000, flat, n_train=(500, 2000), noise=0.0))
    floor = {i.replace("N=500", "N=2000"): "inconclusive" for i in HOLDS_500}
    assert outcomes(v) == {**HOLDS_500, **floor}
    assert v["verdict"] == "partly reproduced"
    checks = by_id(v)
    local = checks["local_deep_beats_shallow[local_k2, N=2000]"]
    assert local["interval"] == [0.0, 0.0]  # without the precondition this would contradict
    assert local["reason"].startswith("precondition failed:")
    assert "learnable" in local["precondition"]["what"]
    assert "max 0 (FAILED)" in local["precondition"]["measured"]
    assert "criterion met at depth 1, 10: 1, 1 (held)" in local["precondition"]["measured"]


def test_every_depth_at_chance_fails_the_learnability_precondition(tmp_path):
    def chance_for_global(t, n, d):
        return 0.5 if t.startswith("global") else depth_helps_local_hurts_global(t, n, d)

    v = run(tmp_path, measured(chance_for_global, flat))
    assert outcomes(v) == {
        **HOLDS_500,
        "global_best_depth[global_k2, N=500]": "inconclusive",
        "global_deep_worse[global_k2, N=500]": "inconclusive",
    }
    assert v["verdict"] == "partly reproduced"
    pre = by_id(v)["global_deep_worse[global_k2, N=500]"]["precondition"]
    assert not pre["held"] and "learnable" in pre["what"]
    assert pre["measured"].endswith("(FAILED)")  # the learnability part; the criterion part held
    # the NTK check uses only the learnable target
    ntk = by_id(v)["ntk_misses_depth_trend[N=500]"]["details"]
    assert ntk["targets_used"] == ["local_k2"]


def test_depth_one_at_chance_while_deeper_nets_learn_passes_learnability(tmp_path):
    """The strongest 'depth helps' case must not be thrown out as unlearnable."""

    def only_deep_learns(t, n, d):
        if t.startswith("local"):
            return 0.5 if d == 1 else 0.1
        return depth_helps_local_hurts_global(t, n, d)

    v = run(tmp_path, measured(only_deep_learns, flat))
    local = by_id(v)["local_deep_beats_shallow[local_k2, N=500]"]
    assert local["precondition"]["held"]
    assert local["outcome"] == "supports"
    assert local["details"]["learned_fraction_by_depth"]["1"] == 0.0
    assert local["details"]["learned_fraction_by_depth"]["10"] == 1.0


def test_chance_is_the_majority_class_error_of_the_labels(tmp_path):
    """An imbalanced label (family A's 2-global: P(y = +1) = 0.64) has chance 0.36, not 0.5: a
    best depth at 0.34 is at chance, and its checks are inconclusive."""

    def near_base_rate(t, n, d):
        return 0.34 + 0.01 * d

    v = run(tmp_path, measured(near_base_rate, flat, chance=0.36, control=lambda t, n, d: 0.45))
    assert outcomes(v) == {i: "inconclusive" for i in HOLDS_500}
    pre = by_id(v)["global_deep_worse[global_k2, N=500]"]["precondition"]
    assert not pre["held"] and "chance 0.36" in pre["measured"]
    # the same errors against balanced labels' chance (0.5) pass the precondition
    v = run(tmp_path, measured(near_base_rate, flat))
    assert by_id(v)["global_deep_worse[global_k2, N=500]"]["outcome"] == "supports"


def test_runs_missing_the_criterion_fail_its_precondition(tmp_path):
    def deep_never_meets(shape):  # depth 10 (last), seed 0 never meets the training-loss criterion
        epochs = np.full(shape, 20, dtype=np.int64)
        epochs[:, -1, :, :, 0] = 0
        return epochs

    v = run(
        tmp_path,
        measured(depth_helps_local_hurts_global, flat, criterion_epoch=deep_never_meets),
    )
    assert outcomes(v) == {i: "inconclusive" for i in HOLDS_500}
    assert v["verdict"] == "inconclusive"
    for c in v["checks"]:
        assert c["reason"].startswith("precondition failed:"), c["id"]
    measured_text = by_id(v)["local_deep_beats_shallow[local_k2, N=500]"]["precondition"]
    assert "criterion met at depth 1, 10: 1, 0.9 (FAILED)" in measured_text["measured"]


def test_best_depth_needs_a_grid_on_both_sides_of_its_threshold(tmp_path):
    ds = measured(depth_helps_local_hurts_global, flat).sel(depth=[1, 2])
    two = {"local": [1e-3, 1e-3], "global": [1e-3, 1e-3]}  # one lr per depth of the grid
    params = {"config": {**PARAMS["config"], "depths": [1, 2], "train": {"lr": two}}}
    v = run_verdict(analysis.verdict, ds, params, tmp_path, "locality")
    pre = by_id(v)["local_best_depth[local_k2, N=500]"]["precondition"]
    assert not pre["held"] and "of which [] agree (FAILED)" in pre["measured"]
    assert outcomes(v)["local_best_depth[local_k2, N=500]"] == "inconclusive"


def test_a_missing_required_check_fails_loudly(tmp_path):
    ds = measured(depth_helps_local_hurts_global, flat, targets=["local_k2"])
    with pytest.raises(CheckCodeError, match="global_best_depth"):
        run(tmp_path, ds)


def test_vectorized_bootstrap_is_the_shared_one():
    from paperclaims.fits import bootstrap
    from paperclaims.verdict import CLAIM_LEVEL

    err = np.random.default_rng(3).uniform(0, 0.5, size=(5, 4))
    ours = analysis._bootstrap(err, lambda rows: rows.mean(1)[..., 3] - rows.mean(1)[..., 0])
    shared = bootstrap(err, lambda r: r.mean(0)[3] - r.mean(0)[0], level=CLAIM_LEVEL, seed=0)
    assert ours.interval() == pytest.approx(shared.interval(), abs=1e-12)
    assert (ours.value, ours.level) == (pytest.approx(shared.value), shared.level)


def test_thresholds_are_the_specs():
    t = analysis.THRESHOLDS
    assert (t["local_deep_beats_shallow"].comparison, t["local_deep_beats_shallow"].value) == (
        "<",
        0.0,
    )
    assert (t["local_best_depth"].comparison, t["local_best_depth"].value) == (">=", 4.0)
    assert (t["global_best_depth"].comparison, t["global_best_depth"].value) == ("<=", 2.0)
    assert (t["global_deep_worse"].comparison, t["global_deep_worse"].value) == (">", 0.0)
    assert t["ntk_misses_depth_trend"].value == pytest.approx(1 / 3)
    assert all("shared/claims/locality.md" in th.source for th in t.values())


def test_synthetic_dataset_matches_what_measure_writes(tmp_path):
    """The golden datasets carry measure()'s variables with their dims (tiny run files through
    the real measure step), so these tests break when measure() changes."""
    from conftest import _Files
    from paperclaims.io import read_dataset
    from paperclaims.runner import Step

    rng = np.random.default_rng(0)
    nets, kernels, seeds = [], [], np.arange(3)
    for n in (500, 2000):
        for d in DEPTHS:
            path = tmp_path / f"N{n}__L{d}.nc"
            dims = ("labels", "target", "seed")
            epochs = np.arange(1, 3 + d % 3)  # depths stop at different epochs
            xr.Dataset(
                {
                    "test_error": (dims, rng.uniform(0, 0.5, (2, 2, 3))),
                    "train_loss": (dims, np.full((2, 2, 3), 0.009)),
                    "criterion_epoch": (dims, np.full((2, 2, 3), 7)),
                    "fit_epoch": (dims, np.full((2, 2, 3), 5)),
                    "train_error": (dims + ("epoch",), np.zeros((2, 2, 3, len(epochs)))),
                    "test_history": (dims + ("epoch",), np.zeros((2, 2, 3, len(epochs)))),
                },
                coords={
                    "labels": ["true", "shuffled"],
                    "target": TARGETS,
                    "seed": seeds,
                    "epoch": epochs,
                },
                attrs={"n_train": n, "depth": d, "family": "A"},
            ).to_netcdf(path, engine="h5netcdf")
            nets.append(str(path))
        path = tmp_path / f"N{n}.nc"
        xr.Dataset(
            {
                "ntk_test_error": (("target", "depth", "seed"), rng.uniform(0, 0.5, (2, 6, 3))),
                "majority_error": (("seed", "target"), np.full((3, 2), 0.5)),
            },
            coords={"target": TARGETS, "depth": DEPTHS, "seed": seeds},
            attrs={"n_train": n, "family": "A", "ridge": 1e-8},
        ).to_netcdf(path, engine="h5netcdf")
        kernels.append(str(path))
    out = tmp_path / "measured.nc"
    params = {
        "family": "A",
        "inputs": "binary",
        "d": 32,
        "width": 128,
        "n_test": 2000,
        "loss_target": 0.01,
    }
    inputs = _Files(nets=nets, ntk=kernels)
    analysis.measure(Step("locality", "locality_measure", inputs, [str(out)], params, base_seed=0))
    real = read_dataset(out)
    ours = measured(flat, flat, n_seeds=3, n_train=(500, 2000))
    assert {k: set(v.dims) for k, v in real.data_vars.items()} == {
        k: set(v.dims) for k, v in ours.data_vars.items()
    }
    assert {k: list(real[k].values) for k in real.coords if k != "epoch"} == {
        k: list(ours[k].values) for k in ours.coords if k != "epoch"
    }
    assert list(real["epoch"].values) == [1, 2, 3, 4]  # the union of the depths' epochs
    assert set(params) <= set(real.attrs)


def test_a_target_not_trained_at_an_n_has_no_checks_there(tmp_path):
    """n_train is per target: cells the grid does not run are NaN in measured.nc and give no
    check (and do not count as runs that missed the criterion)."""
    ds = measured(depth_helps_local_hurts_global, flat, n_train=(500, 2000), noise=0.0)
    ds["test_error"] = ds["test_error"].where(
        ~((ds.target == "global_k2") & (ds.n_train == 500))
        & ~((ds.target == "local_k2") & (ds.n_train == 2000))
    )
    ds = analysis.summarize(ds)
    assert ds["criterion_fraction"].sel(target="global_k2", n_train=500).isnull().all()
    v = run(tmp_path, ds)
    got = outcomes(v)
    assert set(got) == {
        "local_deep_beats_shallow[local_k2, N=500]",
        "local_best_depth[local_k2, N=500]",
        "ntk_misses_depth_trend[N=500]",
        "global_best_depth[global_k2, N=2000]",
        "global_deep_worse[global_k2, N=2000]",
        "ntk_misses_depth_trend[N=2000]",
    }
    assert set(got.values()) == {"supports"}
    assert by_id(v)["ntk_misses_depth_trend[N=2000]"]["details"]["targets_used"] == ["global_k2"]
    assert any("local_k2 at N = 500, global_k2 at N = 2000" in note for note in v["notes"])


def test_one_shared_lr_makes_every_depth_check_inconclusive(tmp_path):
    """Issue 18's diagnostic: one Adam lr for every depth decides the depth trend, so with a
    shared train.lr no depth comparison is read, whatever the errors say."""
    shared = {"config": {**PARAMS["config"], "train": {"lr": 1e-3}}}
    ds = measured(depth_helps_local_hurts_global, flat)
    v = run_verdict(analysis.verdict, ds, shared, tmp_path, "locality")
    assert {c["outcome"] for c in v["checks"]} == {"inconclusive"}
    trend = next(c for c in v["checks"] if c["id"].startswith("local_deep_beats_shallow"))
    assert "lr_pilot.py" in trend["precondition"]["what"]
    assert trend["precondition"]["held"] is False
    assert v["verdict"] == "inconclusive"
