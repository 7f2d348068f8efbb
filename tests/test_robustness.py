"""Seed robustness: outcome counts over replicates, and the `robustness` target end to end."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import snakemake
from paperclaims.checks_figure import margins
from paperclaims.registry import claims
from paperclaims.robustness import outcome_counts, replicate_seed, summary_markdown


def _verdict(claim, outcomes, word):
    checks = [
        {"id": f"c{i}", "outcome": o, "uninformative": o == "uninformative"}
        for i, o in enumerate(outcomes)
    ]
    for check in checks:
        if check["uninformative"]:
            check["outcome"] = "supports"
    return {"claim": claim, "verdict": word, "checks": checks}


def test_outcome_counts_per_check_over_replicates():
    verdicts = [
        _verdict("x", ["supports", "inconclusive"], "partly reproduced"),
        _verdict("x", ["supports", "contradicts"], "partly reproduced"),
        _verdict("x", ["uninformative", "supports"], "partly reproduced"),
    ]
    counts = outcome_counts(verdicts)
    assert counts[("x", "c0")] == {"supports": 2, "uninformative": 1}
    assert counts[("x", "c1")] == {"inconclusive": 1, "contradicts": 1, "supports": 1}
    table = summary_markdown(counts, 3, [1, 2, 3])
    assert "| x | c0 | 2 | 0 | 0 | 1 | partly reproduced ×3 |" in table
    assert "| x | c1 | 1 | 1 | 1 | 0 |" in table


def test_replicate_seeds_derive_from_the_base_seed():
    seeds = [replicate_seed(7, k) for k in range(5)]
    assert len(set(seeds)) == 5 and 7 not in seeds
    assert seeds == [replicate_seed(7, k) for k in range(5)]
    assert seeds != [replicate_seed(8, k) for k in range(5)]


def test_glance_margins_put_the_threshold_edge_at_zero():
    check = {
        "threshold": {"comparison": ">=", "value": 100.0, "source": "s"},
        "measured": 300.0,
        "interval": [50.0, 500.0],
        "control": {"measured": 20.0, "interval": [10.0, 30.0]},
    }
    assert margins(check) == pytest.approx((2.0, -0.5, 4.0))
    assert margins(check, "control") == pytest.approx((-0.8, -0.9, -0.7))
    band = {
        "threshold": {"comparison": "within", "value": [14.0, 16.0], "source": "s"},
        "measured": 15.5,
        "interval": [14.5, 17.0],
    }
    assert margins(band) == pytest.approx((0.5, -1.0, 1.0))


@pytest.mark.slow
def test_robustness_target_at_two_replicates(workdir):
    args = ("--configfile", "config/test.yaml", "--config", "robustness={replicates: 2}")
    snakemake(workdir, "--cores", "2", "robustness", *args, timeout=1800)
    table = (workdir / "figures" / "robustness.md").read_text()
    assert (workdir / "figures" / "robustness.png").exists()
    for k in (0, 1):
        for claim in claims():
            verdict = workdir / "robustness" / f"replicate{k}" / "results" / claim / "verdict.json"
            checks = json.loads(verdict.read_text())["checks"]
            assert all(f"| {claim} | {c['id']} |" in table for c in checks)
    base = yaml.safe_load((workdir / "config" / "config.yaml").read_text())["seed"]
    for k in (0, 1):
        run_config = yaml.safe_load(
            (workdir / f"robustness/replicate{k}/config/config.yaml").read_text()
        )
        assert run_config["seed"] == replicate_seed(base, k)
    rerun = snakemake(workdir, "-n", "robustness", *args)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
