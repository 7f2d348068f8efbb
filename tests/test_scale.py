"""Paper-scale job estimates (issue 19, paperclaims.scale): known answers from fake benchmark
files with a known rate per unit of work."""

from __future__ import annotations

import pytest
from conftest import ROOT
from paperclaims import scale

RATE = 2e-9  # CPU seconds per unit of work in the fake measured run


def _fake_run(tmp_path, config, skip=()):
    for job in scale.train_jobs(config):
        if job.step.name in skip:
            continue
        path = job.benchmark(tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\tcpu_time\n{RATE * job.work * 3:.9g}\t{RATE * job.work:.9g}\n")
    return tmp_path


@pytest.fixture(scope="module")
def configs():
    default = scale.load_config()
    paper = scale.load_config(ROOT / "config" / "paper.yaml")
    return default, paper


def test_estimate_is_the_measured_rate_times_each_paper_jobs_work(tmp_path, configs):
    default, paper = configs
    run = _fake_run(tmp_path, default, skip=("simulate_twolayer",))
    out = scale.estimate(default, paper, run)
    paper_jobs = scale.train_jobs(paper)
    assert set(out) == set(paper["claims"])
    for name, claim in out.items():
        jobs = [j for j in paper_jobs if j.claim.name == name]
        assert claim["jobs"] == len(jobs)
        estimated = [j for j in jobs if j.step.name != "simulate_twolayer"]
        for job in estimated:  # cpu_time, not the wall seconds beside it
            assert claim["estimates"][job.name] == pytest.approx(RATE * job.work, rel=1e-6)
        biggest = max(estimated, key=lambda j: j.work)
        assert claim["largest_job"] == biggest.name
    # a step without a measurement is listed, never estimated as zero
    twolayer = [j.name for j in paper_jobs if j.step.name == "simulate_twolayer"]
    assert len(twolayer) > 1 and out["saddles"]["unestimated"] == twolayer


def test_paper_config_cuts_the_big_claims_into_more_jobs(configs):
    """config/paper.yaml cuts phases (data set × ρ × seed block), saddles (batch × λ block; the
    two-layer grid by λ block) and locality's NTK (N × seed block)."""
    default, paper = configs
    count = lambda config, step: sum(  # noqa: E731
        1 for j in scale.train_jobs(config) if f"{j.claim.name}_{j.step.name}" == step
    )
    assert count(paper, "phases_train") > 2 * count(default, "phases_train")
    assert count(paper, "saddles_simulate_phases") > 2 * count(default, "saddles_simulate_phases")
    assert count(paper, "saddles_simulate_twolayer") > count(default, "saddles_simulate_twolayer")
    assert count(paper, "locality_ntk") > count(default, "locality_ntk")


def test_rate_is_the_costliest_long_job_per_unit_of_work(tmp_path, configs):
    """Jobs of ≥ MIN_SECONDS: the largest seconds / work (a job that stopped early costs less
    per unit of its capped work); all shorter: summed seconds over summed work."""
    default, _ = configs
    jobs = {
        (j.claim.name, j.step.name): [] for j in scale.train_jobs(default)
    }  # every step of the default run
    for j in scale.train_jobs(default):
        jobs[(j.claim.name, j.step.name)].append(j)
    extrap = jobs[("periodic", "train_extrapolation")]  # sin and square, equal work
    ntk = jobs[("locality", "ntk")]
    seconds = {extrap[0].name: 300.0, extrap[1].name: 1000.0, ntk[0].name: 2.0, ntk[1].name: 6.0}
    for job in extrap + ntk:
        path = job.benchmark(tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\tcpu_time\n{seconds[job.name]}\t{seconds[job.name]}\n")
    rates = scale.step_rates(default, tmp_path)
    assert rates[("periodic", "train_extrapolation")] == pytest.approx(1000.0 / extrap[1].work)
    assert rates[("locality", "ntk")] == pytest.approx(8.0 / (ntk[0].work + ntk[1].work))
    assert ("phases", "train") not in rates  # nothing measured: no rate


def test_measured_seconds_prefers_cpu_time_and_falls_back_to_wall(tmp_path):
    cpu = tmp_path / "a.tsv"
    cpu.write_text("s\th:m:s\tcpu_time\n10.5\t0:00:10\t7.25\n")
    wall = tmp_path / "b.tsv"
    wall.write_text("s\th:m:s\tcpu_time\n10.5\t0:00:10\tNA\n")
    assert scale.measured_seconds(cpu) == 7.25
    assert scale.measured_seconds(wall) == 10.5
    assert scale.measured_seconds(tmp_path / "missing.tsv") is None
