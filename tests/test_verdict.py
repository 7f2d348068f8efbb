"""The verdict layer on known answers: thresholds, the three outcomes, preconditions, controls, the
claim-level rule, loud failures, the claims table and the verdict.json schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import ROOT
from paperclaims.fits import Estimate
from paperclaims.verdict import (
    CONTRADICTS,
    EXACT,
    INCONCLUSIVE,
    SUPPORTS,
    Check,
    CheckCodeError,
    Precondition,
    Threshold,
    claim_verdict,
    claims_table,
    decide,
    verdict_dict,
)

SOURCE = "Theorem 1"
VERDICT_SCHEMA = ROOT / "workflow" / "schemas" / "verdict.schema.yaml"


@pytest.mark.parametrize(
    "comparison, value, interval, outcome",
    [
        (">=", 1.0, (1.0, 2.0), SUPPORTS),  # the edge belongs to the region
        (">=", 1.0, (0.5, 2.0), INCONCLUSIVE),
        (">=", 1.0, (0.1, 0.9), CONTRADICTS),
        (">", 1.0, (1.0, 2.0), INCONCLUSIVE),
        ("<=", 0.01, (0.001, 0.005), SUPPORTS),
        ("<=", 0.01, (0.005, 0.02), INCONCLUSIVE),
        ("<", 0.01, (0.02, 0.5), CONTRADICTS),
        ("within", (14.55, 15.45), (14.9, 15.1), SUPPORTS),
        ("within", (14.55, 15.45), (15.0, 16.0), INCONCLUSIVE),
        ("within", (14.55, 15.45), (10.0, 20.0), INCONCLUSIVE),  # wider than the band
        ("within", (14.55, 15.45), (15.5, 16.0), CONTRADICTS),
        ("within", (14.55, 15.45), (1.0, 2.0), CONTRADICTS),
    ],
)
def test_outcome_is_decided_by_the_whole_interval(comparison, value, interval, outcome):
    assert Threshold(comparison, value, SOURCE).outcome(*interval) == outcome


def test_a_point_value_inside_cannot_support_when_its_interval_straddles():
    """An under-powered check: the median agrees, the interval does not — inconclusive."""
    check = Check.from_estimate(
        Estimate(1.5, 0.4, 2.6, 0.95),
        id="x",
        statement="s",
        expected={"value": 2, "source": SOURCE},
        threshold=Threshold(">=", 1.0, SOURCE),
    )
    assert check.outcome == INCONCLUSIVE and "across the edge" in check.reason
    assert check.interval_method == "95% percentile bootstrap over seeds"


def test_nan_interval_is_inconclusive():
    assert decide(Threshold(">=", 1.0, SOURCE), [float("nan"), 2.0])[0] == INCONCLUSIVE
    assert decide(Threshold(">=", 1.0, SOURCE), None)[0] == INCONCLUSIVE


def test_failed_precondition_makes_a_supporting_interval_inconclusive():
    pre = Precondition(
        "the net fits its training data (train MSE ≤ 1e-2)", held=False, measured=0.3
    )
    outcome, reason = decide(Threshold(">=", 1.0, SOURCE), [2.0, 3.0], pre)
    assert outcome == INCONCLUSIVE and "precondition failed: the net fits" in reason
    assert decide(Threshold(">=", 1.0, SOURCE), [2.0, 3.0], Precondition("p", True))[0] == SUPPORTS


def test_around_is_a_relative_band():
    t = Threshold.around(15.0, rel=0.03, source="Fig. 1")
    assert t.value == pytest.approx((14.55, 15.45)) and t.text() == "within [14.55, 15.45]"


@pytest.mark.parametrize(
    "args",
    [("==", 1.0, SOURCE), ("within", (2.0, 1.0), SOURCE), (">=", 1.0, "")],
)
def test_malformed_thresholds_are_code_errors(args):
    with pytest.raises(CheckCodeError):
        Threshold(*args)


def test_margin_is_positive_inside_and_zero_on_the_edge():
    assert Threshold(">=", 100, SOURCE).margin(200) == pytest.approx(1.0)
    assert Threshold("<=", 0.01, SOURCE).margin(0.02) == pytest.approx(-1.0)
    band = Threshold("within", (14, 16), SOURCE)
    assert band.margin(15) == pytest.approx(1.0) and band.margin(16) == pytest.approx(0.0)
    assert band.margin(17) == pytest.approx(-1.0)


def _check(outcome_interval, *, headline=False, id="c", control=None):
    check = Check(
        id=id,
        statement="s",
        expected={"value": 1.0, "source": SOURCE},
        measured=sum(outcome_interval) / 2,
        interval=list(outcome_interval),
        interval_method="test",
        threshold=Threshold(">=", 1.0, SOURCE),
        headline=headline,
    )
    if control is not None:
        check.with_control("ctrl", "a case where the statement is false", None, list(control))
    return check


YES, NO, MAYBE = (2.0, 3.0), (0.0, 0.5), (0.5, 2.0)


def test_control_that_also_supports_makes_the_check_uninformative():
    check = _check(YES, headline=True, control=YES)
    assert check.outcome == SUPPORTS and check.uninformative
    assert check.effective_outcome == INCONCLUSIVE
    assert check.to_dict()["control"]["outcome"] == SUPPORTS
    good = _check(YES, headline=True, control=NO)
    assert not good.uninformative and good.control.outcome == CONTRADICTS
    assert claim_verdict([check]) == "inconclusive" and claim_verdict([good]) == "reproduced"


@pytest.mark.parametrize(
    "intervals, verdict",
    [
        ([(YES, True), (YES, False)], "reproduced"),
        ([(NO, True), (YES, False)], "not reproduced"),
        ([(YES, True), (NO, False)], "partly reproduced"),
        ([(YES, True), (MAYBE, False)], "partly reproduced"),
        ([(MAYBE, True), (MAYBE, False)], "inconclusive"),
        ([(MAYBE, True), (NO, False)], "inconclusive"),  # no headline contradicts, none supports
    ],
)
def test_claim_verdict_rule(intervals, verdict):
    checks = [_check(iv, headline=h, id=f"c{i}") for i, (iv, h) in enumerate(intervals)]
    assert claim_verdict(checks) == verdict


def _verdict(checks, **kwargs):
    return verdict_dict(claim="x", paper="P", checks=checks, config={}, **kwargs)


def test_a_claim_without_checks_or_headline_fails_loudly():
    with pytest.raises(CheckCodeError, match="no claim checks"):
        _verdict([])
    with pytest.raises(CheckCodeError, match="headline"):
        _verdict([_check(YES)])


def test_a_missing_required_check_fails_loudly():
    checks = [_check(YES, headline=True, id="snake_vs_relu[sin]")]
    assert _verdict(checks, required=["snake_vs_relu"])["verdict"] == "reproduced"
    with pytest.raises(CheckCodeError, match="snake_frequency"):
        _verdict(checks, required=["snake_vs_relu", "snake_frequency"])


def test_a_claim_check_must_state_its_interval_method():
    check = _check(YES, headline=True)
    check.interval_method = ""
    with pytest.raises(CheckCodeError, match="interval method"):
        _verdict([check])


def test_implementation_checks_never_enter_the_verdict():
    broken = Check(
        id="formula_vs_quadrature",
        statement="s",
        expected={"value": 0.0, "source": "Prop. 1"},
        measured=0.5,
        threshold=Threshold("<=", 1e-4, "quadrature tolerance"),
        interval_method=EXACT,
    )
    assert broken.outcome == CONTRADICTS and broken.interval == [0.5, 0.5]
    verdict = _verdict([_check(YES, headline=True)], implementation_checks=[broken])
    assert verdict["verdict"] == "reproduced"
    assert verdict["implementation_checks"][0]["outcome"] == CONTRADICTS


def test_verdict_json_matches_its_documented_schema():
    schema = yaml.safe_load(VERDICT_SCHEMA.read_text())
    checks = [
        _check(YES, headline=True, id="a", control=NO),
        _check(MAYBE, id="b"),
    ]
    checks[1].precondition = Precondition("effect above noise", held=False)
    verdict = _verdict(checks, provenance={"inputs": {"m.nc": "0" * 64}, "code": "abc"})
    jsonschema.validate(json.loads(json.dumps(verdict)), schema)
    del verdict["checks"][0]["outcome"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(verdict, schema)


def test_claims_table_shows_outcomes_controls_and_the_claim_verdict(tmp_path):
    checks = [
        _check(YES, headline=True, id="snake_vs_relu", control=YES),
        _check(NO, id="tanh_flat"),
    ]
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(_verdict(checks, reconstruction="toy")))
    table = claims_table([path], code="h")
    assert "| x | P | **inconclusive** | 1 | 1 | 0 | 1 | 0/0 |" in table
    assert "**snake_vs_relu** (headline)" in table and "ctrl: n/a [2, 3] → supports" in table
    assert "**uninformative**" in table and "≥ 1 (Theorem 1)" in table
    assert "*Reconstruction:* toy" in table
    record = json.loads(table.rsplit("<!-- computed_from: ", 1)[1].split(" -->")[0])
    assert record["code"] == "h" and len(record["inputs"][str(path)]) == 64


def test_an_added_precondition_combines_with_the_check_own():
    check = _check(YES, headline=True)
    check.precondition = Precondition("phase II reached", True, "5 of 5")
    assert check.also_requires(Precondition("net generalises", True, "0.03")).outcome == SUPPORTS
    check.also_requires(Precondition("net generalises at ρ = 0", False, "0.53"))
    assert check.outcome == INCONCLUSIVE
    assert check.reason == "precondition failed: net generalises at ρ = 0"
    assert check.precondition.what.startswith("phase II reached; and")


def test_numpy_scalars_count_as_numbers():
    import numpy as np

    check = Check(
        id="best_depth",
        statement="s",
        expected={"value": 1, "source": SOURCE},
        measured=np.int64(6),
        threshold=Threshold(">=", 4, SOURCE),
        interval_method=EXACT,
    )
    assert check.interval == [6.0, 6.0] and check.outcome == SUPPORTS
    assert decide(Threshold(">=", 1.0, SOURCE), [np.float32(3.0), np.float64(2.0)])[0] == SUPPORTS
