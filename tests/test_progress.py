"""Progress lines of long train / simulate jobs: the helper's messages on a known loop with a fake
clock, and real job steps (run through ``runner.run_step``, as Snakemake runs them) writing
progress and checkpoint-save lines to their log file without changing a computed array."""

from __future__ import annotations

import re

import pytest
import torch
import xarray as xr
from conftest import run_job_step
from paperclaims.progress import ENV_SECONDS, Progress, duration


class FakeClock:
    """Advances ``tick`` seconds per read."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        now, self.now = self.now, self.now + self.tick
        return now


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "paperclaims"]


def test_duration_format():
    assert duration(12.34) == "12.3s"
    assert duration(196) == "3m16s"
    assert duration(3723) == "1h02m03s"
    assert duration(float("nan")) == "?"


def test_every_update_is_logged_with_fraction_elapsed_and_eta(monkeypatch, caplog):
    """Interval 0 (from the environment): one line per update. One second per step, so after k of
    4 steps the elapsed time is k s and the ETA (4 − k) s."""
    monkeypatch.setenv(ENV_SECONDS, "0")
    with caplog.at_level("INFO", logger="paperclaims"):
        progress = Progress("loop", 4, clock=FakeClock(1.0))
        for k in range(1, 5):
            progress.update(k)
        progress.finish()
    start, *lines, end = _messages(caplog)
    assert start == "loop: 4 steps to run; progress every 0 s"
    assert lines == [
        "loop: step 1/4 (25.0%), elapsed 1.0s, ETA 3.0s (1 steps/s)",
        "loop: step 2/4 (50.0%), elapsed 2.0s, ETA 2.0s (1 steps/s)",
        "loop: step 3/4 (75.0%), elapsed 3.0s, ETA 1.0s (1 steps/s)",
        "loop: step 4/4 (100.0%), elapsed 4.0s, ETA 0.0s (1 steps/s)",
    ]
    assert end == "loop: 4/4 steps done in 5.0s"


def test_lines_are_throttled_to_the_interval_and_resume_counts_only_this_run(caplog):
    """A line every 10 s of a loop at 1 s per epoch, resumed after epoch 50 of 150: the rate (and so
    the ETA) counts only the epochs this process ran; an early stop says so."""
    with caplog.at_level("INFO", logger="paperclaims"):
        progress = Progress(
            "fit",
            150,
            unit="epoch",
            start=50,
            every_seconds=10,
            clock=FakeClock(1.0),
            detail=lambda: "3/8 members fitted",
        )
        for epoch in range(51, 81):
            progress.update(epoch)
        progress.finish()
    start, *lines, end = _messages(caplog)
    assert start == "fit: 150 epochs to run, resumed after epoch 50; progress every 10 s"
    assert lines == [
        "fit: epoch 60/150 (40.0%), elapsed 10.0s, ETA 1m30s (1 epochs/s), 3/8 members fitted",
        "fit: epoch 70/150 (46.7%), elapsed 20.0s, ETA 1m20s (1 epochs/s), 3/8 members fitted",
        "fit: epoch 80/150 (53.3%), elapsed 30.0s, ETA 1m10s (1 epochs/s), 3/8 members fitted",
    ]
    assert end == "fit: stopped early at epoch 80/150 after 31.0s, 3/8 members fitted"


def test_default_interval_is_quiet_on_a_fast_loop(monkeypatch, caplog):
    monkeypatch.delenv(ENV_SECONDS, raising=False)
    with caplog.at_level("INFO", logger="paperclaims"):
        progress = Progress("fast", 1000)
        for k in range(1, 1001):
            progress.update(k)
    assert progress.every_seconds == 30
    assert len(_messages(caplog)) == 1  # the start line only


# ---------------------------------------------------------------- real job steps
PERIODIC = {
    "target": "sin",
    "cells": ["relu", "snake_a10"],
    "width": 16,
    "n_per_side": 16,
    "steps": 40,
    "max_steps": 40,
    "snake_a_headline": 10.0,
    "lr": 0.01,
    "momentum": 0.9,
    "init": "normal",
    "n_seeds": 2,
    "x_max": 3.5,
    "n_grid": 61,
    "cell_seed": 5,
}
NOISE = {
    "dataset": "digits",
    "n_train": 0,
    "hidden": [8],
    "lr": 0.05,
    "batch": 64,
    "epochs": 4,
    "n_seeds": 2,
    "cell_seed": 11,
}
STATIONARY = {
    "n_data": 500,
    "label_noise": 1.0,
    "chains": 2000,
    "lr": 0.1,
    "batch": 1,
    "burn_in": 300,
    "thin": 100,
    "n_samples": 25,
    "cell_seed": 21,
}
SADDLE_PHASES = {
    "batch": 2,
    "slope": 0.25,
    "lr_min": 0.1,
    "lr_max": 1.0,
    "lr_points": 2,
    "lr_block": "0-1",
    "noise_max": 2.0,
    "noise_points": 2,
    "chains": 8,
    "steps": 60,
    "init_scale": 0.01,
    "window": 0.2,
    "type_one_noise": 0.1,
    "gradient_samples": 16,
    "cell_seed": 4,
}
MULTIPLIER = {
    "case": "mean0.5_sd1.0",
    "lr_min": 0.1,
    "lr_max": 3.0,
    "lr_points": 5,
    "chains": 3,
    "steps": 200,
    "checkpoints": 10,
    "cell_seed": 7,
}
# (claim, step function, params, loop name, unit, total, checkpointed)
JOBS = [
    ("periodic", "train_extrapolation", PERIODIC, "train_full_batch", "step", 40, True),
    ("escape", "train_noise", NOISE, "train_noise", "epoch", 4, True),
    ("escape", "simulate_stationary", STATIONARY, "run_chains", "step", 2800, True),
    ("saddles", "simulate_phases", SADDLE_PHASES, "run_phase_chains", "step", 60, True),
    ("saddles", "simulate_multiplier", MULTIPLIER, "simulate_multiplier", "step", 200, False),
]


@pytest.mark.parametrize("job", JOBS, ids=[f"{j[0]}-{j[1]}" for j in JOBS])
def test_hand_made_params_are_the_steps_declared_params(job):
    """These jobs' params are written by hand: they must be exactly what the rule passes."""
    import dataclasses

    from paperclaims.registry import claims

    claim, function, params = job[:3]
    step = next(s for s in claims()[claim].train if s.function == f"train:{function}")
    assert set(params) == {f.name for f in dataclasses.fields(step.params)}


def _run_job(tmp_path, claim, function, params, device, name):
    """One job step as Snakemake runs it (conftest.run_job_step): its log text and output."""
    return run_job_step(tmp_path, f"{claim}.train:{function}", params, name, device)


@pytest.mark.parametrize(
    ("claim", "function", "params", "loop", "unit", "total", "checkpointed"),
    JOBS,
    ids=[f"{j[0]}-{j[1]}" for j in JOBS],
)
def test_job_logs_progress_and_checkpoint_saves(
    claim, function, params, loop, unit, total, checkpointed, tmp_path, monkeypatch, device
):
    monkeypatch.setenv(ENV_SECONDS, "0")
    monkeypatch.setenv("PAPERCLAIMS_CHECKPOINT_SECONDS", "0")
    text, _ = _run_job(tmp_path, claim, function, params, device, "job")
    assert f"{loop}: {total} {unit}s to run; progress every 0 s" in text
    lines = re.findall(rf"{loop}: {unit} (\d+)/{total} \(([\d.]+)%\), elapsed \S+, ETA \S+", text)
    assert len(lines) >= 2, text
    done = [int(d) for d, _ in lines]
    assert done == sorted(done) and done[-1] == total
    assert all(abs(float(pct) - 100 * int(d) / total) < 0.06 for d, pct in lines)
    assert f"{loop}: {total}/{total} {unit}s done in" in text
    saves = re.findall(r"checkpoint saved: step \d+, \S+\.checkpoint\.pt \([\d.]+ s\)", text)
    assert (len(saves) >= 2) if checkpointed else not saves, text


@pytest.mark.parametrize(
    ("claim", "function", "params"),
    [JOBS[0][:3], JOBS[2][:3]],
    ids=["periodic-train_extrapolation", "escape-simulate_stationary"],
)
def test_progress_lines_do_not_change_the_arrays(
    claim, function, params, tmp_path, monkeypatch, device
):
    """A line every step and no line at all give identical outputs."""
    monkeypatch.setenv(ENV_SECONDS, "0")
    _, chatty = _run_job(tmp_path, claim, function, params, device, "chatty")
    monkeypatch.setenv(ENV_SECONDS, "1e9")
    _, quiet = _run_job(tmp_path, claim, function, params, device, "quiet")
    xr.testing.assert_equal(chatty.drop_attrs(), quiet.drop_attrs())


def test_library_loops_log_progress(monkeypatch, caplog):
    """The loops job steps of phases and locality run: minibatch SGD and fit-to-criterion."""
    from paperclaims.claims.locality import train as loc
    from paperclaims.nets import EnsembleMLP
    from paperclaims.seeds import generator
    from paperclaims.training import train_sgd

    monkeypatch.setenv(ENV_SECONDS, "0")
    x = torch.randn(64, 5, generator=generator(0))
    labels = torch.randint(0, 3, (2, 64), generator=generator(1))
    with caplog.at_level("INFO", logger="paperclaims"):
        train_sgd(
            EnsembleMLP([5, 8, 3], [3, 4], "relu"),
            x,
            labels,
            steps=20,
            lr=0.1,
            batch_size=8,
            gens=[generator(2), generator(3)],
        )
        p = {"optimizer": "adam", "lr": 1e-3, "max_epochs": 5, "batch_size": 16, "loss": "mse"}
        p.update(loss_target=1e-6, eval_every=1)
        xs = torch.randn(2, 64, 6, generator=generator(0))
        ys = torch.sign(torch.randn(2, 64, generator=generator(1)))
        model = loc.he_mlp(6, 16, 2, [5, 6], torch.float32, "cpu")
        loc.fit_to_criterion(model, xs, ys, xs, ys, p, generator(3))
    text = "\n".join(_messages(caplog))
    assert "train_sgd: step 10/20 (50.0%), elapsed" in text
    assert "train_sgd: 20/20 steps done in" in text
    assert re.search(r"fit_to_criterion: epoch 1/5 \(20\.0%\), .*, \d/2 members fitted", text)
