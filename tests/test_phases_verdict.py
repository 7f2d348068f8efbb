"""Golden tests of the `phases` verdict: synthetic measured datasets, built here with the variables,
dims and coords that `phases.measure` writes, on which the claim holds, is contradicted, is
under-powered, or a check's precondition fails; each check's outcome is asserted."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, outcomes, run_verdict
from paperclaims.claims.phases import analysis, train
from paperclaims.verdict import CheckCodeError

N_WRONG = 400  # samples in the mislabeled (and control) subset: the rule's 3-SE margin 0.045
M = 20  # minibatches of the order parameters: R's floor −1/19
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
PARAMS = {  # what rule phases_verdict passes
    "config": {"datasets": ["digits"], "noise": [0, 0.4]},
}
STEPS = np.array([0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
# Records 0–2 phase I, 3–6 phase II, 7–8 phase III, 9–11 phase IV (by the rule, on these curves).
ACC_CLEAN = np.array([0.1, 0.5, 0.8, 0.97, 0.98, 0.99, 0.99, 0.99, 1.0, 1.0, 1.0, 1.0])
ACC_WRONG = np.array([0.1, 0.05, 0.04, 0.04, 0.04, 0.05, 0.05, 0.3, 0.7, 0.97, 1.0, 1.0])
ACC_WRONG_NEVER = np.full(len(STEPS), 0.05)  # the mislabeled samples are never learned
# memorised together with the clean ones (no phase II): the control subset's curve, too
ACC_WRONG_EARLY = np.array([0.1, 0.4, 0.7, 0.9, 0.95, 0.97, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0])
FALL = np.array([0.9, 0.6, 0.3, 0.1, 0.07, 0.05])  # test error down to its minimum at record 5
PHASE_II = slice(3, 7)
PEAK = 5  # the AUROC peak and the test-error minimum: a phase-II record

NOISY = {  # per-seed parameters of a ρ = 0.4 run where the claim holds
    "memorize": True,
    "rise": 20.0,  # final minus minimum test error, points
    "cos": -0.8,  # cos_cw in phase II
    "auroc": 0.99,  # AUROC peak
    "gain": 15.0,  # original minus cleaned final test error, points
}
CONTROL = {  # the correct-subset control's values, where the statements are false
    "cos": 0.3,  # cos(g_rest, g_control) in phase II: both pull the same way
    "auroc": 0.55,  # control subset vs the other correct samples: chance
    "random_gain": -1.0,  # random removal of as many samples: no help
}
# per-seed parameters at ρ = 0: R from 0.5 to −0.04 (below zero, above its floor −1/19): the
# floor-relative ratio (−0.04 + 1/19)/(0.5 + 1/19) = 0.023
CLEAN = {"R_ratio": -0.08, "A_ratio": 0.03, "rise": 1.0}
FLOOR_R = -1 / (M - 1)
CLAIM_CHECKS = [
    "four_phases[digits, ρ=0.4]",
    "min_test_error_in_phase_II[digits, ρ=0.4]",
    "test_error_rise[digits, ρ=0.4]",
    "cos_cw_phase_II[digits, ρ=0.4]",
    "auroc_peak_in_phase_II[digits, ρ=0.4]",
    "auroc_peak_value[digits, ρ=0.4]",
    "cleaning_helps[digits, ρ=0.4]",
    "rho0_R_drop[digits]",
    "rho0_A_drop[digits]",
    "rho0_no_rise[digits]",
]
FRACTION_CHECKS = CLAIM_CHECKS[0], CLAIM_CHECKS[1], CLAIM_CHECKS[4]


def _per_seed(value, n_seeds, rng, jitter):
    """A scalar gets a small seed-to-seed jitter (relative); a list is taken as given."""
    if isinstance(value, (list, tuple, np.ndarray)):
        assert len(value) == n_seeds
        return np.asarray(value, dtype=float)
    return (
        value * (1 + jitter * rng.standard_normal(n_seeds)) if jitter else np.full(n_seeds, value)
    )


def _noisy_run(rng, n_seeds, p):
    p = {**NOISY, **p}
    memorize = np.broadcast_to(np.asarray(p["memorize"], dtype=object), (n_seeds,))
    rise, cos, auc, gain = (
        _per_seed(p[k], n_seeds, rng, 0.005) for k in ("rise", "cos", "auroc", "gain")
    )
    out = {
        k: np.zeros((n_seeds, len(STEPS))) for k in ("acc_c", "acc_w", "err", "cos", "auc", "clean")
    }
    for s in range(n_seeds):
        out["acc_c"][s] = ACC_CLEAN
        out["acc_w"][s] = {True: ACC_WRONG, False: ACC_WRONG_NEVER, "early": ACC_WRONG_EARLY}[
            memorize[s]
        ]
        final = FALL[-1] + rise[s] / 100
        out["err"][s] = np.concatenate([FALL, np.linspace(FALL[-1] + 0.01, final, 6)])
        out["cos"][s] = -0.1
        out["cos"][s, PHASE_II] = cos[s]
        out["auc"][s] = np.full(len(STEPS), 0.6)
        out["auc"][s, PEAK] = min(auc[s], 1.0)
        out["clean"][s] = np.clip(out["err"][s] - gain[s] / 100, 0.01, 1)  # cleaned retrain
    return out


def _clean_run(rng, n_seeds, p):
    p = {**CLEAN, **p}
    r_ratio, a_ratio, rise = (
        _per_seed(p[k], n_seeds, rng, 0.005) for k in ("R_ratio", "A_ratio", "rise")
    )
    acc = np.tile(np.asarray(p.get("acc", ACC_CLEAN)), (n_seeds, 1))
    err = np.stack(
        [np.concatenate([FALL, np.linspace(FALL[-1], FALL[-1] + r / 100, 6)]) for r in rise]
    )
    after = np.arange(len(STEPS)) >= 3  # phase II of ACC_CLEAN
    big_R = np.where(after, 0.5 * r_ratio[:, None], 0.5)
    big_A = np.where(after, 0.4 * a_ratio[:, None], 0.4)
    big_R[:, 0] = big_A[:, 0] = 0.95  # step 0, before any update: left out of phase I's median
    return acc, err, big_R, big_A


def grid(at_0, at_04):
    """(seed, step) arrays at ρ = 0 and 0.4 → (dataset, noise, seed, step)."""
    return np.stack([at_0, at_04])[None]


def tracked(mis, ctrl):
    """(dataset, noise, seed, …) arrays of the mislabeled subset and the control → with a
    ``tracked`` dim after ``dataset``."""
    return np.stack([mis, ctrl], axis=1)


def measured(n_seeds=20, noisy=None, clean=None, control=None, seed=0) -> xr.Dataset:
    """A measured.nc of one data set (digits) at ρ = 0 and 0.4, for the mislabeled subset and the
    correct-subset control, with the phases detected from the synthetic subset curves by the
    claim's own rule, as `phases.measure` does."""
    rng = np.random.default_rng(seed)
    nz = _noisy_run(rng, n_seeds, noisy or {})
    ct = {**CONTROL, **(control or {})}
    acc0, err0, big_R, big_A = _clean_run(rng, n_seeds, clean or {})
    nan = np.full((n_seeds, len(STEPS)), np.nan)
    ones = np.ones_like(nan)
    early = np.tile(ACC_WRONG_EARLY, (n_seeds, 1))
    n_tracked = np.array([[0] * n_seeds, [N_WRONG] * n_seeds])
    acc_w = {"mislabeled": grid(nan, nz["acc_w"])[0], "control": grid(nan, early)[0]}
    bounds, phase = {}, {}
    for t in ("mislabeled", "control"):
        curves = xr.Dataset(
            {
                "acc_correct": (("noise", "seed", "step"), grid(acc0, nz["acc_c"])[0]),
                "acc_mislabeled": (("noise", "seed", "step"), acc_w[t]),
                "n_tracked": (("noise", "seed"), n_tracked),
            }
        )
        bounds[t], phase[t] = train.phases_of_run(curves, 10)
    steps_of = lambda b: np.where(b >= 0, STEPS[np.clip(b, 0, None)], np.nan)  # noqa: E731
    acc_all = grid(acc0, 0.6 * nz["acc_c"] + 0.4 * nz["acc_w"])
    dims = ("dataset", "tracked", "noise", "seed", "step")
    gain_ctrl = nz["err"] - ct["random_gain"] / 100
    m = xr.Dataset(
        {
            "acc_all": (dims, tracked(acc_all, acc_all)),
            "acc_correct": (dims, tracked(grid(acc0, nz["acc_c"]), grid(acc0, nz["acc_c"]))),
            "acc_mislabeled": (dims, tracked(acc_w["mislabeled"][None], acc_w["control"][None])),
            "loss_correct": (dims, tracked(grid(ones, ones), grid(ones, ones))),
            "loss_mislabeled": (dims, tracked(grid(nan, ones), grid(nan, ones))),
            "auroc": (dims, tracked(grid(nan, nz["auc"]), grid(nan, ct["auroc"] * ones))),
            "n_tracked": (dims[:4], tracked(n_tracked[None], n_tracked[None])),
            "test_error": (dims[:1] + dims[2:], grid(err0, nz["err"]), {"units": "fraction"}),
            "R": (dims[:1] + dims[2:], grid(big_R, 0.3 * ones)),
            "A": (dims[:1] + dims[2:], grid(big_A, 0.2 * ones)),
            "cos_cw": (dims, tracked(grid(nan, nz["cos"]), grid(nan, ct["cos"] * ones))),
            "r": (dims, tracked(grid(nan, ones), grid(nan, ones))),
            "phase": (dims, tracked(phase["mislabeled"][None], phase["control"][None])),
            "transition_step": (
                dims[:4] + ("transition",),
                tracked(steps_of(bounds["mislabeled"])[None], steps_of(bounds["control"])[None]),
            ),
            "clean_test_error": (dims, tracked(grid(nan, nz["clean"]), grid(nan, gain_ctrl))),
            "clean_step": (
                ("dataset", "noise", "seed"),
                np.array([[[np.nan] * n_seeds, [int(STEPS[PEAK])] * n_seeds]]),
            ),
            "separability": (dims[:1] + dims[2:], grid(nan, 0.8 * ones)),
            "n_dropped": (
                ("dataset", "noise", "seed"),
                np.array([[[np.nan] * n_seeds, [N_WRONG] * n_seeds]]),
            ),
            "drop_precision": (
                ("dataset", "noise", "seed"),
                np.array([[[np.nan] * n_seeds, [0.9] * n_seeds]]),
            ),
            "drop_recall": (
                ("dataset", "noise", "seed"),
                np.array([[[np.nan] * n_seeds, [0.9] * n_seeds]]),
            ),
            "n_minibatches": ("dataset", [M]),
        },
        coords={
            "dataset": ["digits"],
            "tracked": ["mislabeled", "control"],
            "noise": [0.0, 0.4],
            "seed": np.arange(n_seeds),
            "step": STEPS,
            "transition": ["I→II", "II→III", "III→IV"],
        },
        attrs={
            "phase_rule": train.PHASE_RULE,
            "cleaning_rule": train.CLEANING_RULE,
            "reconstruction": analysis.RECONSTRUCTION,
        },
    )
    return m


def verdict_of(ds, tmp_path, params=PARAMS):
    return run_verdict(analysis.verdict, ds, params, tmp_path, "phases")


def checks_by_id(verdict):
    return {c["id"]: c for c in verdict["checks"]}


def test_synthetic_runs_have_the_intended_phases():
    m = measured(n_seeds=3, noisy={"memorize": [True, True, False]})
    phase = m["phase"].sel(dataset="digits", tracked="mislabeled")
    np.testing.assert_array_equal(
        phase.sel(noise=0.4, seed=0), [1, 1, 1] + [2] * 4 + [3] * 2 + [4] * 3
    )
    np.testing.assert_array_equal(phase.sel(noise=0.4, seed=2), [1, 1, 1] + [2] * 9)
    np.testing.assert_array_equal(phase.sel(noise=0.0, seed=0), [1, 1, 1] + [2] * 9)
    assert int(np.argmin(m["test_error"].sel(noise=0.4, seed=0).values[0])) == PEAK
    # the correct-subset control rises with the clean subset: no phase found
    control = m["phase"].sel(dataset="digits", tracked="control", noise=0.4)
    assert (control == 1).all()


def test_claim_holds_every_claim_check_supports(tmp_path):
    v = verdict_of(measured(n_seeds=20), tmp_path)
    assert outcomes(v) == {
        **dict.fromkeys(CLAIM_CHECKS, "supports"),
        "values_in_range[digits]": "supports",
    }
    assert v["verdict"] == "reproduced"
    assert [c["id"] for c in v["checks"]] == CLAIM_CHECKS
    assert [c["id"] for c in v["implementation_checks"]] == ["values_in_range[digits]"]
    by_id = checks_by_id(v)
    assert [i for i, c in by_id.items() if c["headline"]] == ["four_phases[digits, ρ=0.4]"]
    for c in v["checks"]:
        assert c["control"] is not None and not c["uninformative"], c["id"]
        assert c["control"]["outcome"] != "supports", c["id"]
        assert c["threshold"]["source"] and c["interval_method"]
        assert c["interval"][0] <= c["measured"] <= c["interval"][1]
    assert by_id["four_phases[digits, ρ=0.4]"]["measured"] == 1.0
    assert by_id["four_phases[digits, ρ=0.4]"]["interval"][0] == pytest.approx(0.025 ** (1 / 20))
    assert by_id["test_error_rise[digits, ρ=0.4]"]["measured"] == pytest.approx(20, rel=0.05)
    assert by_id["rho0_R_drop[digits]"]["precondition"]["held"]
    r_ratio = (0.5 * -0.08 - FLOOR_R) / (0.5 - FLOOR_R)
    assert by_id["rho0_R_drop[digits]"]["measured"] == pytest.approx(r_ratio, rel=0.05)
    controls = {i: c["control"]["outcome"] for i, c in by_id.items()}
    assert controls == {
        "four_phases[digits, ρ=0.4]": "contradicts",  # the control subset shows no phases
        # no bounded phase II in the control: nothing to place in it
        "min_test_error_in_phase_II[digits, ρ=0.4]": "inconclusive",
        "test_error_rise[digits, ρ=0.4]": "contradicts",  # ρ = 0 does not rise
        "cos_cw_phase_II[digits, ρ=0.4]": "contradicts",
        "auroc_peak_in_phase_II[digits, ρ=0.4]": "inconclusive",
        "auroc_peak_value[digits, ρ=0.4]": "contradicts",
        "cleaning_helps[digits, ρ=0.4]": "contradicts",  # random removal does not help
        "rho0_R_drop[digits]": "contradicts",  # no drop inside phase II
        "rho0_A_drop[digits]": "contradicts",
        "rho0_no_rise[digits]": "contradicts",  # ρ = 0.4 rises
    }


def test_a_control_that_also_supports_makes_its_check_uninformative(tmp_path):
    """If the correct-subset control's gradient were as anti-aligned as the mislabeled one's, the
    cos check could not tell them apart: uninformative, and the verdict is not 'reproduced'."""
    v = verdict_of(measured(n_seeds=20, control={"cos": -0.8, "random_gain": 15.0}), tmp_path)
    by_id = checks_by_id(v)
    for i in ("cos_cw_phase_II[digits, ρ=0.4]", "cleaning_helps[digits, ρ=0.4]"):
        assert by_id[i]["outcome"] == "supports" and by_id[i]["uninformative"], i
    assert v["verdict"] == "partly reproduced"


def test_thresholds_come_from_the_one_table(tmp_path):
    v = verdict_of(measured(n_seeds=3), tmp_path)
    for c in v["checks"] + v["implementation_checks"]:
        t = analysis.THRESHOLDS[c["id"].split("[")[0]]
        assert c["threshold"] == t.to_dict()
    assert analysis.THRESHOLDS["four_phases"].text() == "≥ 0.8"
    assert analysis.THRESHOLDS["rho0_no_rise"].text() == "< 5"


def test_claim_contradicted_no_phase_III_headline_contradicts(tmp_path):
    ds = measured(
        n_seeds=20,
        noisy={"memorize": "early", "cos": 0.2, "auroc": 0.7, "gain": -5.0},
        clean={"R_ratio": 0.8, "A_ratio": 0.9, "rise": 10.0},
    )
    v = verdict_of(ds, tmp_path)
    assert outcomes(v) == {
        # the run ends fitted, but the mislabeled samples were learned with the clean ones
        "four_phases[digits, ρ=0.4]": "contradicts",
        # no phase II, so nothing can be placed inside it; no phase III, no rise to judge
        "min_test_error_in_phase_II[digits, ρ=0.4]": "inconclusive",
        "test_error_rise[digits, ρ=0.4]": "inconclusive",
        "cos_cw_phase_II[digits, ρ=0.4]": "inconclusive",
        "auroc_peak_in_phase_II[digits, ρ=0.4]": "inconclusive",
        "auroc_peak_value[digits, ρ=0.4]": "contradicts",
        "cleaning_helps[digits, ρ=0.4]": "inconclusive",  # no phase II to clean in
        "rho0_R_drop[digits]": "contradicts",
        "rho0_A_drop[digits]": "contradicts",
        "rho0_no_rise[digits]": "contradicts",
        "values_in_range[digits]": "supports",
    }
    assert v["verdict"] == "not reproduced"
    by_id = checks_by_id(v)
    assert by_id["four_phases[digits, ρ=0.4]"]["interval"][1] < 0.8
    assert "phase III" in by_id["test_error_rise[digits, ρ=0.4]"]["reason"]
    assert "bounded" in by_id["min_test_error_in_phase_II[digits, ρ=0.4]"]["reason"]


def test_a_run_that_never_memorises_cannot_contradict_the_four_phases(tmp_path):
    """Clean samples fit, mislabeled ones never learned within the run: too short a run for phase
    IV, so the headline is inconclusive (its precondition), not contradicted."""
    v = verdict_of(measured(n_seeds=20, noisy={"memorize": False}), tmp_path)
    c = checks_by_id(v)["four_phases[digits, ρ=0.4]"]
    assert c["outcome"] == "inconclusive" and not c["precondition"]["held"]
    assert "ends fitted" in c["reason"]


def test_signatures_contradicted_with_four_phases_found_is_partly_reproduced(tmp_path):
    """Only the headline contradicting makes 'not reproduced': four phases found, the rest wrong."""
    ds = measured(
        n_seeds=20,
        noisy={"rise": 1.0, "cos": 0.2, "auroc": 0.7, "gain": -5.0},
        clean={"R_ratio": 0.8, "A_ratio": 0.9, "rise": 10.0},
    )
    v = verdict_of(ds, tmp_path)
    expected = dict.fromkeys(CLAIM_CHECKS, "contradicts")
    expected.update(
        dict.fromkeys(FRACTION_CHECKS, "supports"), **{"values_in_range[digits]": "supports"}
    )
    assert outcomes(v) == expected
    assert v["verdict"] == "partly reproduced"


def test_under_powered_two_seeds_wide_spread_is_inconclusive(tmp_path):
    ds = measured(
        n_seeds=2,
        noisy={"rise": [2.0, 12.0], "cos": [-0.9, -0.1], "auroc": [0.99, 0.9], "gain": [5.0, -3.0]},
        clean={"R_ratio": [-0.08, 0.3], "A_ratio": [0.02, 0.3], "rise": [1.0, 8.0]},
    )
    v = verdict_of(ds, tmp_path)
    assert outcomes(v) == {
        **dict.fromkeys(CLAIM_CHECKS, "inconclusive"),
        "values_in_range[digits]": "supports",
    }
    assert v["verdict"] == "inconclusive"
    for c in v["checks"]:  # every interval straddles its threshold; no precondition failed
        assert "across the edge" in c["reason"], c["id"]


def test_two_seeds_that_agree_cannot_support_a_fraction(tmp_path):
    """2 of 2 seeds: a bootstrap would give [1, 1]; the exact binomial interval is [0.16, 1]."""
    v = verdict_of(measured(n_seeds=2), tmp_path)
    by_id = checks_by_id(v)
    for i in FRACTION_CHECKS:
        assert by_id[i]["measured"] == 1.0 and by_id[i]["outcome"] == "inconclusive"
        assert by_id[i]["interval"][0] == pytest.approx(0.025**0.5)


def test_default_scale_five_seeds_fractions_inconclusive_rest_supports(tmp_path):
    """Five seeds all showing the phases: the fraction checks cannot reach 0.8 (17 seeds needed)."""
    v = verdict_of(measured(n_seeds=5), tmp_path)
    expected = dict.fromkeys(CLAIM_CHECKS, "supports")
    expected.update(
        dict.fromkeys(FRACTION_CHECKS, "inconclusive"), **{"values_in_range[digits]": "supports"}
    )
    assert outcomes(v) == expected
    assert v["verdict"] == "partly reproduced"
    assert any("17 seeds" in note for note in v["notes"])


def test_R_drop_is_measured_from_its_floor(tmp_path):
    """The audit's case: R from 0.5 to −0.011 gave a plain ratio of −0.022, which passed '≤ 0.1'.
    From R's floor −1/(M−1) the ratio is ≥ 0: 0.5 → −0.011 is (−0.011 + 1/19)/(0.5 + 1/19) = 0.075;
    0.5 → 0.01 (a plain ratio of 0.02, a '50× drop') is 0.113 from the floor and contradicts."""
    v = verdict_of(measured(n_seeds=20, clean={"R_ratio": -0.022}), tmp_path)
    c = checks_by_id(v)["rho0_R_drop[digits]"]
    assert c["measured"] == pytest.approx((-0.011 - FLOOR_R) / (0.5 - FLOOR_R), rel=0.02)
    assert c["measured"] > 0 and c["precondition"]["held"] and c["outcome"] == "supports"
    v = verdict_of(measured(n_seeds=20, clean={"R_ratio": 0.02}), tmp_path)
    c = checks_by_id(v)["rho0_R_drop[digits]"]
    assert c["measured"] == pytest.approx((0.01 - FLOOR_R) / (0.5 - FLOOR_R), rel=0.02)
    assert c["outcome"] == "contradicts"
    for ratio in (-0.1, -0.05, 0.0, 0.4):  # any R above its floor: never a negative ratio
        d = checks_by_id(verdict_of(measured(n_seeds=5, clean={"R_ratio": ratio}), tmp_path))
        assert d["rho0_R_drop[digits]"]["interval"][0] >= 0


def test_boundaries_never_reached_fail_preconditions(tmp_path):
    """Phase III reached in one seed only; at ρ = 0 the net never fits its training data."""
    never_fit = np.minimum(ACC_CLEAN, 0.5)  # below halfway from chance to 1: no fit
    ds = measured(n_seeds=20, noisy={"memorize": [True] + [False] * 19}, clean={"acc": never_fit})
    v = verdict_of(ds, tmp_path)
    by_id = checks_by_id(v)
    rise = by_id["test_error_rise[digits, ρ=0.4]"]
    assert rise["outcome"] == "inconclusive"
    assert rise["precondition"]["measured"].startswith("1 of 20 seeds")
    assert "at least 2 seeds that reached phase III" in rise["reason"]
    for i in ("rho0_R_drop[digits]", "rho0_A_drop[digits]", "rho0_no_rise[digits]"):
        assert by_id[i]["outcome"] == "inconclusive", i
        assert by_id[i]["precondition"]["measured"].startswith("0 of 20 seeds"), i
    assert "fit their training data" in by_id["rho0_no_rise[digits]"]["reason"]
    # one bounded phase II: its fraction is over that one seed, whose interval is wide
    placed = by_id["min_test_error_in_phase_II[digits, ρ=0.4]"]
    assert placed["precondition"]["held"]
    assert placed["precondition"]["measured"].startswith("1 of 20 seeds")
    assert placed["outcome"] == "inconclusive"
    # only one seed memorised: the four-phase fraction is over that one fitted seed
    four = by_id["four_phases[digits, ρ=0.4]"]
    assert four["outcome"] == "inconclusive"
    assert four["precondition"]["measured"].startswith("1 of 20 seeds")
    assert v["verdict"] == "partly reproduced"


def test_implementation_check_apart_from_the_verdict(tmp_path):
    ds = measured(n_seeds=20)
    ds["A"][0, 0, 0, 5] = 1.5  # A = |ḡ|²/mean|g_μ|² cannot exceed 1: a bug in our code
    v = verdict_of(ds, tmp_path)
    impl = v["implementation_checks"][0]
    assert impl["outcome"] == "contradicts" and impl["details"]["outside_by_variable"]["A"] == 1
    assert v["verdict"] == "reproduced" and v["counts"]["contradicts"] == 0


def test_a_threshold_cannot_be_moved_from_the_config():
    """Thresholds are THRESHOLDS, committed before the runs: the old phases.verdict keys are gone."""
    from paperclaims.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="phases.verdict"):
        validate_config({"phases": {"verdict": {"seed_fraction": 0.5}}}, SCHEMA)


def test_a_missing_required_check_fails_loudly(tmp_path):
    no_clean = measured(n_seeds=3).sel(noise=[0.4])
    with pytest.raises(CheckCodeError, match="rho0_R_drop"):
        verdict_of(no_clean, tmp_path)
    no_noisy = measured(n_seeds=3).sel(noise=[0.0])
    with pytest.raises(CheckCodeError):  # no ρ ≥ 0.2: no headline, no four_phases
        verdict_of(no_noisy, tmp_path)


def test_a_net_that_does_not_generalise_makes_every_check_of_its_data_set_inconclusive(tmp_path):
    """The claim holds on the curves, but at ρ = 0 the test error stays above the data set's level
    (digits: 0.10): without a clean task learned there is no phase II to speak of (MNIST-1D's
    2×128 MLP at 53 %)."""
    ds = measured(n_seeds=20)
    ds["test_error"].loc[{"noise": 0.0}] = np.maximum(ds["test_error"].sel(noise=0.0), 0.11)
    v = verdict_of(ds, tmp_path)
    for check in v["checks"]:
        assert check["outcome"] == "inconclusive", check["id"]
        assert "the net generalises" in check["reason"] and not check["precondition"]["held"]
    assert v["verdict"] == "inconclusive"


def test_cleaning_at_a_record_outside_phase_II_does_not_test_the_claim(tmp_path):
    """The mask-free cleaner picked a phase-I record (Otsu's split of learned / not-yet-learned
    samples): that is not the paper's phase-II cleaning, so the check is inconclusive, whatever
    the gain."""
    ds = measured(n_seeds=20)
    ds["clean_step"].loc[{"noise": 0.4}] = STEPS[1]  # phase I
    c = checks_by_id(verdict_of(ds, tmp_path))["cleaning_helps[digits, ρ=0.4]"]
    assert c["outcome"] == "inconclusive" and "phase-II record" in c["reason"]
    assert c["details"]["seeds_cleaned_at_a_phase_II_record"] == "0 of 20"
