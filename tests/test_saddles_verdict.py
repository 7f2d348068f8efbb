"""Golden tests of the saddles claim's verdict: synthetic measured datasets (the variables, dims
and coords that ``analysis.measure`` writes) on which the claim holds, is contradicted, is
under-powered, or fails a precondition; implementation checks that fail never move the verdict.

The theory is synthetic too (no quadrature): max(Λ+, Λ−) is −0.1 inside a chosen collapse window
of λ cells per (B, σ), +0.1 outside, and −0.01 on the λ cell just right of each window: near the
boundary, so that cell is excluded from the agreement, and the simulated chains do not collapse
there (they disagree with the sign of Λ where it is not resolved)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import outcomes, run_verdict
from paperclaims.claims.saddles import analysis, train
from paperclaims.verdict import CheckCodeError

COLLAPSE, CORRECT, DIVERGENT = (
    analysis.PHASES.index(p) for p in ("collapse", "correct", "divergent")
)
N_LR, N_NOISE = 8, 5
# Collapse windows (λ cell indices) of the synthetic theory per batch size, σ = 0 … 5: they grow with
# σ (by up to two λ cells from one σ to the next) and shrink with B.
WINDOWS = {
    1: [[], [4], [3, 4, 5], [3, 4, 5], [2, 3, 4, 5, 6]],
    4: [[], [], [4], [3, 4, 5], [3, 4, 5]],
    16: [[], [], [], [5], [4, 5, 6]],
}
GROWS = [f"collapse_grows_with_noise[B={b}]" for b in WINDOWS]
CLAIM_CHECKS = [
    "phase_collapse_agreement",
    *GROWS,
    "collapse_shrinks_with_batch",
    "twolayer_collapse_agreement",
]
GRADIENT = [
    f"{name}[{part}]"
    for part in ("phases", "twolayer")
    for name in ("saddle_is_type_two", "control_is_type_one", "control_mean_gradient_vanishes")
]
IMPLEMENTATION = [
    "theorem_sign",
    "theorem_growth_rate",
    "theorem_l2_disagrees",
    "collapse_beyond_l2",
    *GRADIENT,
]
PARAMS = {"config": {"phases": {"init_scale": 1.0, "batch_sizes": list(WINDOWS)}}}
# (C) two-layer net: Λ̂ on a 6 × 4 (λ, σ) grid, negative on a 2 × 2 block
TWOLAYER_TOP = np.full((6, 4), 0.1)
TWOLAYER_TOP[2:4, 2:4] = -0.1


def theory(windows) -> np.ndarray:
    """max(Λ+, Λ−) on the (batch, lr, noise) grid from collapse windows."""
    top = np.full((len(windows), N_LR, N_NOISE), 0.1)
    for k, per_noise in enumerate(windows.values()):
        for j, cells in enumerate(per_noise):
            if cells:
                top[k, cells, j] = -0.1
                if max(cells) + 1 < N_LR:
                    top[k, max(cells) + 1, j] = -0.01
    return top


def chain_phases(top: np.ndarray, chains: int, simulated=None) -> np.ndarray:
    """(batch, lr, noise, chain): every chain collapses where ``simulated`` (default: inside the
    theory's windows) says so, except chain 0 (of ten or more), which does the opposite;
    non-collapsed chains learn correctly, or diverge at the largest λ."""
    collapse = top <= -analysis.BOUNDARY_MARGIN if simulated is None else simulated
    other = np.full(top.shape, CORRECT)
    other[:, -1, :] = DIVERGENT
    phase = np.where(collapse, COLLAPSE, other)[..., None].repeat(chains, axis=-1)
    if chains >= 10:
        phase[..., 0] = np.where(collapse, other, COLLAPSE)
    return phase.astype(np.int8)


def theorem_part(*, steps=1000, fitted_error=0.01, flip_sign=False, l2_stable=False):
    """(A): two cases on a 6-point λ grid; medians at Λ·T and fitted rates (1 + error)·Λ."""
    lyap = np.array([[0.01, -0.02, -0.05, -0.03, 0.2, 1.0], [-0.005, -0.1, -0.5, -1.0, 0.3, 2.0]])
    median = lyap * steps
    if flip_sign:
        median[1, 3] *= -1  # a resolved cell whose chains go the wrong way
    fitted = lyap * (1 + fitted_error)
    second = np.array([[1.5] * 6, [0.9, 0.8, 0.5, 0.4, 1.2, 4.0]])
    if l2_stable:
        second = np.minimum(second, 0.9)
    dims = ("case", "multiplier_lr")
    return xr.Dataset(
        {
            "lyapunov": (dims, lyap, {"units": "nats per step"}),
            "lyapunov_quadrature": (dims, lyap + 1e-12),
            "second_moment": (dims, second),
            "fitted_rate": (dims, fitted, {"units": "nats per step"}),
            "rate_se": (dims, np.full(lyap.shape, 1e-4)),
            "median_log_abs_z": (dims, median),
            "q10_log_abs_z": (dims, median - 50),
            "q90_log_abs_z": (dims, median + 50),
        },
        coords={
            "case": ["mean=-1, sd=10", "mean=1, sd=1"],
            "case_mean": ("case", [-1.0, 1.0]),
            "case_sd": ("case", [10.0, 1.0]),
            "multiplier_lr": (
                "multiplier_lr",
                np.geomspace(0.01, 10, 6),
                {"units": "learning rate λ"},
            ),
        },
        attrs={"theorem_steps": steps},
    )


def twolayer_part(top, chains, simulated=None, control=None, se=1e-3) -> xr.Dataset:
    """(C): every chain collapses where ``simulated`` (default: Λ̂ ≤ −margin) says, but chain 0
    (of ten or more); the control never collapses unless ``control`` says where."""
    predicted = top <= -analysis.BOUNDARY_MARGIN if simulated is None else simulated
    net = predicted[..., None].repeat(chains, axis=-1)
    if chains >= 10:
        net[..., 0] = ~predicted
    ctl = np.zeros_like(net) if control is None else control[..., None].repeat(chains, axis=-1)
    dims = ("twolayer_lr", "twolayer_noise")
    return xr.Dataset(
        {
            "twolayer_lyapunov": (dims, top),
            "twolayer_lyapunov_se": (dims, np.full(top.shape, se)),
            "twolayer_collapsed_chain": (
                ("twolayer_model", *dims, "twolayer_chain"),
                np.stack([net, ctl]),
            ),
        },
        coords={
            "twolayer_model": ["type_two", "type_one_control"],
            "twolayer_lr": train.lr_grid(0.01, 3, top.shape[0]),
            "twolayer_noise": np.linspace(0, 5, top.shape[1]),
            "twolayer_chain": np.arange(chains),
        },
    )


GRADIENT_ATTRS = {
    f"{part}_{k}": v
    for part in ("phases", "twolayer")
    for k, v in {
        "saddle_gradient_max_abs": 0.0,
        "control_gradient_rms": 0.1,
        "control_mean_gradient_pvalue": 0.5,
        "control_mean_gradient_max_t": 1.2,
        "control_mean_gradient_ratio": 0.03,
        "gradient_samples": 1000,
    }.items()
}


def measured(
    windows=None,
    *,
    chains=20,
    phase=None,
    control_phase=None,
    twolayer_top=TWOLAYER_TOP,
    twolayer_simulated=None,
    twolayer_control=None,
    twolayer_se=1e-3,
    gradients=None,
    **theorem,
) -> xr.Dataset:
    """A measured.nc as ``analysis.measure`` writes it. Defaults: the claim holds, and the Type-I
    control never collapses."""
    windows = WINDOWS if windows is None else windows
    batches = list(windows)
    top = theory(windows)
    phase = chain_phases(top, chains) if phase is None else phase
    if control_phase is None:
        control_phase = np.full(phase.shape, CORRECT, dtype=np.int8)
    fraction = np.stack([(phase == k).mean(axis=-1) for k in range(len(analysis.PHASES))], axis=-1)
    lr = train.lr_grid(0.01, 3, N_LR)
    noise = np.linspace(0, 5, N_NOISE)
    cell = ("batch", "lr", "noise")
    grid = {
        "lyapunov_saddle_plus": (cell, top, {"units": "nats per step"}),
        "second_moment_saddle_plus": (cell, np.full(top.shape, 1.2)),
        "lyapunov_saddle_minus": (cell, np.full(top.shape, -0.2), {"units": "nats per step"}),
        "second_moment_saddle_minus": (cell, np.full(top.shape, 0.9)),
        "lyapunov_minimum": (cell, np.full(top.shape, -0.3), {"units": "nats per step"}),
        "second_moment_minimum": (cell, np.where(top > 0, 0.5, 1.5)),
    }
    fine = {f"fine_{k}": (("batch", "fine_lr", "fine_noise"), *v[1:]) for k, v in grid.items()}
    phases = xr.Dataset(
        {
            "phase_fraction": (
                ("batch", *cell[1:], "phase"),
                fraction,
                {"units": "fraction of chains"},
            ),
            "median_abs_uw": (cell, np.where(top < 0, 1e-9, 0.25)),
            "chain_phase": ((*cell, "chain"), phase, {"units": "index into the phase coordinate"}),
            "control_chain_phase": ((*cell, "chain"), control_phase),
            **grid,
            **fine,
        },
        coords={
            "batch": batches,
            "lr": ("lr", lr, {"units": "learning rate λ"}),
            "noise": ("noise", noise, {"units": "label noise sd σ"}),
            "phase": analysis.PHASES,
            "chain": np.arange(phase.shape[-1]),
            "fine_lr": lr,
            "fine_noise": noise,
        },
    )
    twolayer = twolayer_part(
        twolayer_top, chains, twolayer_simulated, twolayer_control, twolayer_se
    )
    out = xr.merge([theorem_part(**theorem), phases, twolayer])
    out.attrs.update(
        {
            "slope": 0.25,
            "collapse_below": 1e-6,
            "diverge_above": 1e6,
            "theorem_steps": 1000,
            "init_scale": 1.0,
            "twolayer_input_dim": 4,
            **GRADIENT_ATTRS,
            **(gradients or {}),
        }
    )
    return out


def verdict_of(ds, tmp_path, params=PARAMS):
    return run_verdict(analysis.verdict, ds, params, tmp_path, "saddles")


def by_id(verdict) -> dict[str, dict]:
    return {c["id"]: c for c in verdict["checks"] + verdict["implementation_checks"]}


def test_claim_holds(tmp_path):
    v = verdict_of(measured(), tmp_path)
    assert [c["id"] for c in v["checks"]] == [
        "phase_collapse_agreement",
        *GROWS,
        "collapse_shrinks_with_batch",
        "twolayer_collapse_agreement",
    ]
    assert [c["id"] for c in v["implementation_checks"]] == IMPLEMENTATION
    assert outcomes(v) == {i: "supports" for i in CLAIM_CHECKS + IMPLEMENTATION}
    assert v["verdict"] == "reproduced"
    checks = by_id(v)
    headline = checks["phase_collapse_agreement"]
    assert headline["headline"] and headline["measured"] == 1.0
    # the near-boundary cells disagree, reported apart
    assert headline["details"]["agreement_near_boundary"] == 0.0
    assert headline["details"]["cells_near_boundary"] == 9
    assert headline["details"]["cells_away_from_boundary"] == 120 - 9
    assert headline["precondition"]["held"]
    assert [c["id"] for c in v["checks"] if c["headline"]] == [
        "phase_collapse_agreement",
        "twolayer_collapse_agreement",
    ]
    # Values are the designed windows: B = 1 gains 5 of 8 λ cells, never loses one, and the
    # collapsed share of the grid falls 12 → 7 → 4 of 40 cells.
    assert checks["collapse_grows_with_noise[B=1]"]["measured"] == pytest.approx(5 / 8)
    assert (
        checks["collapse_grows_with_noise[B=1]"]["details"][
            "largest_drop_between_neighbouring_noise_in_lr_cells"
        ]
        == 0.0
    )
    assert checks["collapse_shrinks_with_batch"]["measured"] == pytest.approx(-3 / 40)
    for c in v["checks"]:
        # the Type-I control never collapses: every check comes out the other way
        assert c["control"]["name"] == "Type-I control"
        assert c["control"]["outcome"] == "contradicts" and not c["uninformative"]
        assert "bootstrap over chains" in c["interval_method"]
        assert c["threshold"] == analysis.THRESHOLDS[c["id"].split("[")[0]].to_dict()
        assert c["threshold"]["source"]
    assert checks["phase_collapse_agreement"]["control"]["measured"] == 0.5  # escapes only
    for c in v["implementation_checks"]:
        assert c["threshold"] == analysis.THRESHOLDS[c["id"].split("[")[0]].to_dict()
    assert checks["theorem_sign"]["details"]["resolved_cells"] == 10  # |Λ|·T > 10
    assert checks["theorem_l2_disagrees"]["measured"] == 3


def test_claim_contradicted(tmp_path):
    # The simulated collapse region shrinks with σ (theory's windows in reverse σ order): it
    # disagrees with Λ on many cells, and falls with σ by two λ cells at a time.
    top = theory(WINDOWS)
    simulated = (top <= -analysis.BOUNDARY_MARGIN)[:, :, ::-1]
    v = verdict_of(measured(phase=chain_phases(top, 20, simulated)), tmp_path)
    got = outcomes(v)
    assert got["phase_collapse_agreement"] == "contradicts"
    assert by_id(v)["phase_collapse_agreement"]["interval"][1] < 0.9
    for b in WINDOWS:
        assert got[f"collapse_grows_with_noise[B={b}]"] == "contradicts"
    # the per-batch totals are unchanged by reversing σ: that trend still holds
    assert got["collapse_shrinks_with_batch"] == "supports"
    assert v["verdict"] == "not reproduced"


def test_under_powered_three_chains(tmp_path):
    # Three chains: in predicted-collapse cells chains 0 and 1 collapse, elsewhere chain 0 only.
    # The majority follows the theory exactly, but resamples that draw chain 0 twice collapse
    # every cell, and those that draw chain 2 twice collapse none.
    top = theory(WINDOWS)
    predicted = top <= -analysis.BOUNDARY_MARGIN
    phase = np.stack([np.ones_like(predicted), predicted, np.zeros_like(predicted)], axis=-1)
    phase = np.where(phase, COLLAPSE, CORRECT).astype(np.int8)
    v = verdict_of(measured(phase=phase), tmp_path)
    got = outcomes(v)
    checks = by_id(v)
    assert checks["phase_collapse_agreement"]["measured"] == 1.0  # the point value would pass
    assert got["phase_collapse_agreement"] == "inconclusive"
    for b in WINDOWS:
        assert checks[f"collapse_grows_with_noise[B={b}]"]["measured"] > 0
        assert got[f"collapse_grows_with_noise[B={b}]"] == "inconclusive"
    assert checks["collapse_shrinks_with_batch"]["measured"] < 0
    assert got["collapse_shrinks_with_batch"] == "inconclusive"
    assert v["verdict"] == "partly reproduced"


def test_one_chain_has_no_interval(tmp_path):
    v = verdict_of(measured(chains=1), tmp_path)
    assert outcomes(v) == {
        **{i: "inconclusive" for i in CLAIM_CHECKS + ["collapse_beyond_l2"]},
        **{i: "supports" for i in ["theorem_sign", "theorem_growth_rate", "theorem_l2_disagrees"]},
        **{i: "supports" for i in GRADIENT},
    }
    assert all(c["reason"] == "no finite interval" for c in v["checks"])
    assert v["verdict"] == "inconclusive"


def test_a_drop_with_noise_is_reported_not_judged(tmp_path):
    # collapse_monotone_in_noise is no longer a claim check (a model that never collapses passes
    # it): a drop of one λ cell from one σ to the next is in grows_with_noise's details.
    windows = {**WINDOWS, 1: [[], [4], [3, 4, 5], [3, 4], [2, 3, 4, 5, 6]]}
    v = verdict_of(measured(windows), tmp_path)
    check = by_id(v)["collapse_grows_with_noise[B=1]"]
    assert check["details"]["largest_drop_between_neighbouring_noise_in_lr_cells"] == 1.0
    assert "collapse_monotone_in_noise[B=1]" not in by_id(v)


def test_a_type_one_control_that_collapses_makes_the_checks_uninformative(tmp_path):
    # If the Type-I model collapsed where the toy does (a bug: its per-sample term not applied),
    # every claim check of the phase diagram would be uninformative: none counts as support.
    top = theory(WINDOWS)
    phase = chain_phases(top, 20)
    v = verdict_of(measured(phase=phase, control_phase=phase), tmp_path)
    checks = by_id(v)
    for i in ["phase_collapse_agreement", *GROWS, "collapse_shrinks_with_batch"]:
        assert checks[i]["outcome"] == "supports"
        assert checks[i]["control"]["outcome"] == "supports" and checks[i]["uninformative"]
    assert not checks["twolayer_collapse_agreement"]["uninformative"]
    assert v["verdict"] == "partly reproduced"


def test_twolayer_disagreeing_with_its_lyapunov_contradicts(tmp_path):
    # SGD collapses on the block next to the predicted one: half the predicted cells missed.
    simulated = np.zeros(TWOLAYER_TOP.shape, dtype=bool)
    simulated[2:4, 1:3] = True
    v = verdict_of(measured(twolayer_simulated=simulated), tmp_path)
    check = by_id(v)["twolayer_collapse_agreement"]
    assert check["outcome"] == "contradicts" and check["headline"]
    assert v["verdict"] == "not reproduced"


def test_twolayer_lyapunov_not_resolved_is_inconclusive(tmp_path):
    # Λ̂'s standard error 0.06: the 95% interval of a cell at |Λ̂| = 0.1 reaches 0
    v = verdict_of(measured(twolayer_se=0.06), tmp_path)
    check = by_id(v)["twolayer_collapse_agreement"]
    assert check["outcome"] == "inconclusive" and not check["precondition"]["held"]


def test_a_saddle_that_is_not_type_two_fails_its_implementation_check(tmp_path):
    v = verdict_of(
        measured(
            gradients={
                "phases_saddle_gradient_max_abs": 0.3,
                "twolayer_control_gradient_rms": 0.0,
                "phases_control_mean_gradient_pvalue": 1e-6,
            }
        ),
        tmp_path,
    )
    got = outcomes(v)
    assert got["saddle_is_type_two[phases]"] == "contradicts"
    assert got["control_is_type_one[twolayer]"] == "contradicts"
    assert got["control_mean_gradient_vanishes[phases]"] == "contradicts"
    assert got["control_mean_gradient_vanishes[twolayer]"] == "supports"
    assert v["verdict"] == "reproduced"  # implementation checks never move the verdict


def test_paper_phase_labels():
    m = measured()
    labels = analysis.paper_phase_labels(m)
    census = analysis.phase_census(m)
    # collapse cells are III; correct cells Ib where the minimum is L2-stable (top > 0 here)
    assert set(np.unique(labels.values)) <= {"Ia", "Ib", "II", "III", "IV", "unsettled"}
    assert census["III"] == int((theory(WINDOWS) <= -analysis.BOUNDARY_MARGIN).sum())
    assert census["IV"] == 3 * N_NOISE  # the largest λ diverges
    assert census["II"] == 0


def test_collapse_region_not_reached_at_one_batch_size(tmp_path):
    # At B = 16 the theory predicts no collapse anywhere on the grid (nor does the simulation):
    # its noise trend cannot be judged.
    windows = {**WINDOWS, 16: [[]] * N_NOISE}
    v = verdict_of(measured(windows), tmp_path)
    got = outcomes(v)
    for i in ["collapse_grows_with_noise[B=16]"]:
        assert got[i] == "inconclusive"
        check = by_id(v)[i]
        assert not check["precondition"]["held"]
        assert check["precondition"]["measured"] == "0 of 8 λ cells"
        assert check["reason"].startswith("precondition failed: theory predicts collapse")
    others = [i for i in CLAIM_CHECKS if "B=16" not in i]
    assert {i: got[i] for i in others} == {i: "supports" for i in others}
    assert v["verdict"] == "partly reproduced"


def test_no_collapse_anywhere_is_inconclusive(tmp_path):
    # A grid on which the theory never predicts collapse: agreement would be trivially 1 (a
    # simulator that never collapses matches it), so every claim check is inconclusive.
    windows = {b: [[]] * N_NOISE for b in WINDOWS}
    v = verdict_of(measured(windows, twolayer_top=np.full((6, 4), 0.1)), tmp_path)
    assert {c["id"]: c["outcome"] for c in v["checks"]} == {i: "inconclusive" for i in CLAIM_CHECKS}
    assert all(not c["precondition"]["held"] for c in v["checks"])
    headline = by_id(v)["phase_collapse_agreement"]
    assert headline["measured"] == 0.5  # balanced: no predicted-collapse cell to hit
    assert headline["precondition"]["measured"].startswith("0 of ")
    assert v["verdict"] == "inconclusive"


def test_failing_implementation_checks_do_not_move_the_verdict(tmp_path):
    v = verdict_of(measured(fitted_error=0.2, flip_sign=True, l2_stable=True), tmp_path)
    got = outcomes(v)
    assert {i: got[i] for i in IMPLEMENTATION[:3]} == {
        "theorem_sign": "contradicts",
        "theorem_growth_rate": "contradicts",
        "theorem_l2_disagrees": "contradicts",
    }
    assert v["verdict"] == "reproduced"
    assert v["counts"] == {"supports": len(CLAIM_CHECKS), "contradicts": 0, "inconclusive": 0}


def test_growth_rate_under_powered_is_inconclusive(tmp_path):
    # 4% off on the slowest resolved cell (|Λ| = 0.01): inside the 5% tolerance, but its interval
    # (±2.1% there) reaches past it.
    v = verdict_of(measured(fitted_error=0.04), tmp_path)
    check = by_id(v)["theorem_growth_rate"]
    assert check["measured"] == pytest.approx(0.04)
    assert check["outcome"] == "inconclusive"


def test_a_single_batch_size_is_a_code_error(tmp_path):
    # collapse_shrinks_with_batch is required: with one batch size it cannot be computed, and the
    # verdict step fails instead of dropping it (config validation should stop this earlier).
    with pytest.raises(CheckCodeError, match="collapse_shrinks_with_batch"):
        verdict_of(measured({1: WINDOWS[1]}), tmp_path)
