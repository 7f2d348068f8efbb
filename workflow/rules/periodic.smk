# Claim `periodic` (Ziyin, Hartwig, Ueda 2020): ReLU/tanh fail to extrapolate periodic
# functions; Snake x + sin²(ax)/a fixes it. Train (one job per target × activation cell, all
# seeds batched) → measure → verdict → papermill figures.
from paperclaims.cells import activation_cells

PERIODIC = config["periodic"]
PERIODIC_EXTRAP = PERIODIC["extrapolation"]
PERIODIC_CODE = claim_code_hash("periodic", "fits.py")
PERIODIC_CELLS = activation_cells(
    PERIODIC_EXTRAP["activations"], PERIODIC_EXTRAP["snake_a"]
)
PERIODIC_MODELS = [
    f"snake_a{PERIODIC['forecast']['snake_a']:g}" if m == "snake" else m
    for m in PERIODIC["forecast"]["models"]
]
PERIODIC_FIGURES = [
    "extrapolation",
    "extrapolation_summary",
    "co2_forecast",
    "snake_variance",
]

CLAIM_TARGETS["periodic"] = claim_outputs_old("periodic", PERIODIC_FIGURES)


PERIODIC_EXTRAP_SHARED = [
    "width",
    "n_train",
    "steps",
    "lr",
    "momentum",
    "init",
    "n_seeds",
]
PERIODIC_EXTRAP_SHARED += ["x_max", "n_grid", "far_range"]
# the Snake cell carries its a in its name (snake_a10): relu/tanh cells do not depend on it
PERIODIC_FORECAST_SHARED = [
    k for k in PERIODIC["forecast"] if k not in ("models", "snake_a")
]


rule periodic_train_extrapolation:
    output:
        "results/periodic/runs/extrapolation/{target}__{activation}.nc",
    log:
        "logs/periodic/train_extrapolation/{target}__{activation}.log",
    benchmark:
        "benchmarks/periodic/train_extrapolation/{target}__{activation}.tsv"
    wildcard_constraints:
        target="[a-z0-9_]+",
        activation="[a-z0-9_.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.periodic:train_extrapolation",
        code_hash=PERIODIC_CODE,
        run=run_info("periodic"),
        args=lambda wc: cell_args(
            "periodic",
            PERIODIC_EXTRAP,
            PERIODIC_EXTRAP_SHARED,
            target=wc.target,
            activation=wc.activation,
        ),
    script:
        STEP_SCRIPT


rule periodic_train_forecast:
    output:
        "results/periodic/runs/forecast/{model}.nc",
    log:
        "logs/periodic/train_forecast/{model}.log",
    benchmark:
        "benchmarks/periodic/train_forecast/{model}.tsv"
    wildcard_constraints:
        model="[a-z0-9_.]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.periodic:train_forecast",
        code_hash=PERIODIC_CODE,
        run=run_info("periodic"),
        args=lambda wc: cell_args(
            "periodic", PERIODIC["forecast"], PERIODIC_FORECAST_SHARED, model=wc.model
        ),
    script:
        STEP_SCRIPT


rule periodic_forecast_baselines:
    output:
        "results/periodic/runs/forecast_baselines.nc",
    log:
        "logs/periodic/forecast_baselines.log",
    benchmark:
        "benchmarks/periodic/forecast_baselines.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(20),
    params:
        step="paperclaims.claims.periodic:forecast_baselines",
        code_hash=PERIODIC_CODE,
        run=run_info("periodic"),
        args={"train_fraction": PERIODIC["forecast"]["train_fraction"]},
    script:
        STEP_SCRIPT


rule periodic_measure:
    input:
        extrapolation=expand(
            "results/periodic/runs/extrapolation/{target}__{activation}.nc",
            target=PERIODIC_EXTRAP["targets"],
            activation=PERIODIC_CELLS,
        ),
        forecast=expand(
            "results/periodic/runs/forecast/{model}.nc", model=PERIODIC_MODELS
        ),
        baselines="results/periodic/runs/forecast_baselines.nc",
    output:
        "results/periodic/measured.nc",
    log:
        "logs/periodic/measure.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        step="paperclaims.claims.periodic:measure",
        code_hash=PERIODIC_CODE,
        run=run_info("periodic"),
        args={**PERIODIC["measure"], "far_range": PERIODIC_EXTRAP["far_range"]},
    script:
        STEP_SCRIPT


rule periodic_verdict:
    input:
        measured="results/periodic/measured.nc",
    output:
        "results/periodic/verdict.json",
    log:
        "logs/periodic/verdict.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.claims.periodic:verdict",
        code_hash=[PERIODIC_CODE, VERDICT_CODE],
        run=run_info("periodic"),
        args={
            "snake_a_headline": PERIODIC_EXTRAP["snake_a_headline"],
            "far_range": PERIODIC_EXTRAP["far_range"],
            "config": PERIODIC,
        },
    script:
        STEP_SCRIPT


rule periodic_plot:
    input:
        measured="results/periodic/measured.nc",
        verdict="results/periodic/verdict.json",
    output:
        figures=figure_outputs("periodic", PERIODIC_FIGURES),
        notebook="results/periodic/periodic.ipynb",
    log:
        "logs/periodic/plot.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.notebooks:execute",
        code_hash=notebook_hash("periodic"),
        run=run_info("periodic"),
    script:
        STEP_SCRIPT
