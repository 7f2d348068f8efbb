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
MONOTONE = [f"collapse_monotone_in_noise[B={b}]" for b in WINDOWS]
CLAIM_CHECKS = ["phase_collapse_agreement", *GROWS, *MONOTONE, "collapse_shrinks_with_batch"]
IMPLEMENTATION = [
    "theorem_sign",
    "theorem_growth_rate",
    "theorem_l2_disagrees",
    "collapse_beyond_l2",
]
PARAMS = {"config": {"phases": {"init_scale": 0.01, "batch_sizes": list(WINDOWS)}}}


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


def measured(windows=None, *, chains=20, phase=None, **theorem) -> xr.Dataset:
    """A measured.nc as ``analysis.measure`` writes it. Defaults: the claim holds."""
    windows = WINDOWS if windows is None else windows
    batches = list(windows)
    top = theory(windows)
    phase = chain_phases(top, chains) if phase is None else phase
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
    out = xr.merge([theorem_part(**theorem), phases])
    out.attrs.update(
        {"slope": 0.25, "collapse_below": 1e-6, "diverge_above": 1e6, "theorem_steps": 1000}
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
        *[i for pair in zip(GROWS, MONOTONE) for i in pair],
        "collapse_shrinks_with_batch",
    ]
    assert [c["id"] for c in v["implementation_checks"]] == IMPLEMENTATION
    assert outcomes(v) == {i: "supports" for i in CLAIM_CHECKS + IMPLEMENTATION}
    assert v["verdict"] == "reproduced"
    checks = by_id(v)
    headline = checks["phase_collapse_agreement"]
    assert headline["headline"] and headline["measured"] == 1.0
    assert headline["details"]["agreement_all_cells"] < 1  # the near-boundary cells disagree
    assert headline["details"]["cells_away_from_boundary"] == 120 - 9
    assert headline["precondition"]["held"]
    assert [c["id"] for c in v["checks"] if c["headline"]] == ["phase_collapse_agreement"]
    # Values are the designed windows: B = 1 gains 5 of 8 λ cells, never loses one, and the
    # collapsed share of the grid falls 12 → 7 → 4 of 40 cells.
    assert checks["collapse_grows_with_noise[B=1]"]["measured"] == pytest.approx(5 / 8)
    assert checks["collapse_monotone_in_noise[B=1]"]["measured"] == 0.0
    assert checks["collapse_shrinks_with_batch"]["measured"] == pytest.approx(-3 / 40)
    for c in v["checks"]:
        assert c["control"] is None and not c["uninformative"]  # controls: the per-claim issue
        assert "bootstrap over chains" in c["interval_method"]
        assert c["threshold"] == analysis.THRESHOLDS[c["id"].split("[")[0]].to_dict()
        assert c["threshold"]["source"]
    for c in v["implementation_checks"]:
        assert c["threshold"] == analysis.THRESHOLDS[c["id"]].to_dict()
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
        assert got[f"collapse_monotone_in_noise[B={b}]"] == "contradicts"
        assert by_id(v)[f"collapse_monotone_in_noise[B={b}]"]["measured"] == 2.0
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
        # no resample makes the collapsed region drop with σ: wholly inside ≤ 1 cell
        assert got[f"collapse_monotone_in_noise[B={b}]"] == "supports"
    assert checks["collapse_shrinks_with_batch"]["measured"] < 0
    assert got["collapse_shrinks_with_batch"] == "inconclusive"
    assert v["verdict"] == "partly reproduced"


def test_one_chain_has_no_interval(tmp_path):
    v = verdict_of(measured(chains=1), tmp_path)
    assert outcomes(v) == {
        **{i: "inconclusive" for i in CLAIM_CHECKS + ["collapse_beyond_l2"]},
        "theorem_sign": "supports",
        "theorem_growth_rate": "supports",
        "theorem_l2_disagrees": "supports",
    }
    assert all(c["reason"] == "no finite interval" for c in v["checks"])
    assert v["verdict"] == "inconclusive"


def test_a_drop_of_one_lambda_cell_is_allowed(tmp_path):
    # The threshold allows the collapsed region to lose one λ cell from one σ to the next (the
    # grid's resolution), exactly: counted in cells, not as a rounded fraction times the grid.
    windows = {**WINDOWS, 1: [[], [4], [3, 4, 5], [3, 4], [2, 3, 4, 5, 6]]}
    v = verdict_of(measured(windows), tmp_path)
    check = by_id(v)["collapse_monotone_in_noise[B=1]"]
    assert check["measured"] == 1.0 and check["interval"] == [1.0, 1.0]
    assert check["outcome"] == "supports"


def test_collapse_region_not_reached_at_one_batch_size(tmp_path):
    # At B = 16 the theory predicts no collapse anywhere on the grid (nor does the simulation):
    # its noise trend cannot be judged.
    windows = {**WINDOWS, 16: [[]] * N_NOISE}
    v = verdict_of(measured(windows), tmp_path)
    got = outcomes(v)
    for i in ["collapse_grows_with_noise[B=16]", "collapse_monotone_in_noise[B=16]"]:
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
    v = verdict_of(measured(windows), tmp_path)
    assert {c["id"]: c["outcome"] for c in v["checks"]} == {i: "inconclusive" for i in CLAIM_CHECKS}
    assert all(not c["precondition"]["held"] for c in v["checks"])
    headline = by_id(v)["phase_collapse_agreement"]
    assert headline["measured"] == 1.0
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
