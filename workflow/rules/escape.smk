# Claim `escape` (Mori, Ziyin, Liu, Ueda 2022): SGD's noise ∝ loss gives a power-law stationary
# law P ∝ L^(−φ) and escape times set by the loss ratio. Simulate (one job per sweep cell, all
# chains of a cell as one float64 tensor) → measure → verdict → papermill figures.
ESCAPE = config["escape"]
ESCAPE_STAT = ESCAPE["stationary"]
ESCAPE_FP = ESCAPE["first_passage"]
ESCAPE_RATIO = ESCAPE["ratio"]
ESCAPE_NOISE = ESCAPE["noise"]
ESCAPE_CODE = claim_code_hash("escape", "sgd.py", "fits.py", "data.py")
ESCAPE_FP_C = {str(cell["dim"]): cell["c"] for cell in ESCAPE_FP["cells"]}
ESCAPE_FIGURES = [
    "phi_vs_batch",
    "stationary_tails",
    "first_passage",
    "ratio_not_difference",
    "noise_vs_loss",
]

CLAIM_TARGETS["escape"] = claim_outputs_old("escape", ESCAPE_FIGURES)

# the first-passage settings the ratio cells share with Fig. 3b
ESCAPE_FP_SHARED = {k: ESCAPE_FP[k] for k in ["lr", "batch", "n_data"]}
ESCAPE_STAT_KEYS = ["n_data", "label_noise", "chains", "burn_in", "n_samples", "thin"]
ESCAPE_RATIO_THRESHOLDS = {
    "sgd": {"c": ESCAPE_RATIO["c"]},
    "langevin": {
        "delta_loss": ESCAPE_RATIO["langevin_delta_loss"],
        "langevin_reference_loss": ESCAPE_RATIO["langevin_reference_loss"],
    },
}


rule escape_simulate_stationary:
    output:
        "results/escape/runs/stationary/lr{lr}_B{batch}.nc",
    log:
        "logs/escape/simulate_stationary/lr{lr}_B{batch}.log",
    benchmark:
        "benchmarks/escape/simulate_stationary/lr{lr}_B{batch}.tsv"
    wildcard_constraints:
        lr="[0-9.e+-]+",
        batch="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=doubled_on_retry(30),
    params:
        step="paperclaims.claims.escape:simulate_stationary",
        code_hash=ESCAPE_CODE,
        run=run_info("escape"),
        args=lambda wc: {
            "lr": float(wc.lr),
            "batch": int(wc.batch),
            "cell_seed": cell_seed("escape", "stationary", wc.lr, wc.batch),
            **{k: ESCAPE_STAT[k] for k in ESCAPE_STAT_KEYS},
        },
    script:
        STEP_SCRIPT


rule escape_simulate_first_passage:
    output:
        "results/escape/runs/first_passage/d{dim}.nc",
    log:
        "logs/escape/simulate_first_passage/d{dim}.log",
    benchmark:
        "benchmarks/escape/simulate_first_passage/d{dim}.tsv"
    wildcard_constraints:
        dim="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.escape:simulate_first_passage",
        code_hash=ESCAPE_CODE,
        run=run_info("escape"),
        args=lambda wc: {
            "process": "sgd",
            "dim": int(wc.dim),
            "c": ESCAPE_FP_C[wc.dim],
            "cell_seed": cell_seed("escape", "first_passage", wc.dim),
            **{k: ESCAPE_FP[k] for k in ["label_noise", "chains", "max_steps"]},
            **ESCAPE_FP_SHARED,
        },
    script:
        STEP_SCRIPT


rule escape_simulate_ratio:
    output:
        "results/escape/runs/ratio/{process}_noise{noise}.nc",
    log:
        "logs/escape/simulate_ratio/{process}_noise{noise}.log",
    benchmark:
        "benchmarks/escape/simulate_ratio/{process}_noise{noise}.tsv"
    wildcard_constraints:
        process="sgd|langevin",
        noise="[0-9.e+-]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.escape:simulate_first_passage",
        code_hash=ESCAPE_CODE,
        run=run_info("escape"),
        args=lambda wc: {
            "process": wc.process,
            "dim": ESCAPE_RATIO["dim"],
            "label_noise": float(wc.noise),
            "cell_seed": cell_seed("escape", "ratio", wc.process, wc.noise),
            "data_seed": cell_seed("escape", "ratio", "data"),
            **ESCAPE_RATIO_THRESHOLDS[wc.process],
            **{k: ESCAPE_RATIO[k] for k in ["chains", "max_steps"]},
            **ESCAPE_FP_SHARED,
        },
    script:
        STEP_SCRIPT


rule escape_train_noise:
    output:
        "results/escape/runs/noise.nc",
    log:
        "logs/escape/train_noise.log",
    benchmark:
        "benchmarks/escape/train_noise.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.escape:train_noise",
        code_hash=ESCAPE_CODE,
        run=run_info("escape"),
        args={
            "cell_seed": cell_seed("escape", "noise"),
            **{k: v for k, v in ESCAPE_NOISE.items() if k != "late_fraction"},
        },
    script:
        STEP_SCRIPT


rule escape_measure:
    input:
        stationary=expand(
            "results/escape/runs/stationary/lr{lr}_B{batch}.nc",
            lr=[f"{lr:g}" for lr in ESCAPE_STAT["lr"]],
            batch=ESCAPE_STAT["batch"],
        ),
        first_passage=expand(
            "results/escape/runs/first_passage/d{dim}.nc", dim=list(ESCAPE_FP_C)
        ),
        ratio=expand(
            "results/escape/runs/ratio/{process}_noise{noise}.nc",
            process=["sgd", "langevin"],
            noise=[f"{s:g}" for s in ESCAPE_RATIO["label_noise"]],
        ),
        noise="results/escape/runs/noise.nc",
    output:
        "results/escape/measured.nc",
    log:
        "logs/escape/measure.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        step="paperclaims.claims.escape:measure",
        code_hash=ESCAPE_CODE,
        run=run_info("escape"),
        args={**ESCAPE_FP_SHARED, "late_fraction": ESCAPE_NOISE["late_fraction"]},
    script:
        STEP_SCRIPT


rule escape_verdict:
    input:
        measured="results/escape/measured.nc",
    output:
        "results/escape/verdict.json",
    log:
        "logs/escape/verdict.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.claims.escape:verdict",
        code_hash=[ESCAPE_CODE, VERDICT_CODE],
        run=run_info("escape"),
        args={
            "phi_check_max_lr": ESCAPE_STAT["phi_check_max_lr"],
            "collapse_tolerance": ESCAPE_RATIO["collapse_tolerance"],
            "config": ESCAPE,
        },
    script:
        STEP_SCRIPT


rule escape_plot:
    input:
        measured="results/escape/measured.nc",
        verdict="results/escape/verdict.json",
    output:
        figures=figure_outputs("escape", ESCAPE_FIGURES),
        notebook="results/escape/escape.ipynb",
    log:
        "logs/escape/plot.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.notebooks:execute",
        code_hash=notebook_hash("escape"),
        run=run_info("escape"),
    script:
        STEP_SCRIPT
