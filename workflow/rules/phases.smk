# Claim `phases` (Feng & Tu 2021): four phases of SGD learning with mislabeled data. One train job
# per data set (every noise level × seed batched in one ensemble) → cleaning + retraining →
# measure (subset curves, order parameters, AUROC, detected phases) → verdict → papermill figures.
PHASES = config["phases"]
PHASES_CODE = claim_code_hash("phases", "training.py", "data.py", "fits.py")
PHASES_FIGURES = ["test_error", "order_parameters", "auroc", "cleaning", "clean_data"]

CLAIM_TARGETS["phases"] = claim_outputs_old("phases", PHASES_FIGURES)

# Keys every data set's job shares; mnist_dir reaches only the 'mnist' job, so setting it leaves
# the other data sets cached.
PHASES_SHARED = ["noise", "n_seeds", "n_train", "n_test", "width", "depth", "lr"]
PHASES_SHARED += ["batch_size", "steps", "n_records"]
PHASES_CELL = lambda wc: {
    **cell_args("phases", PHASES, PHASES_SHARED, dataset=wc.dataset),
    "mnist_dir": PHASES["mnist_dir"] if wc.dataset == "mnist" else "",
}


rule phases_train:
    output:
        "results/phases/runs/{dataset}.nc",
    log:
        "logs/phases/train/{dataset}.log",
    benchmark:
        "benchmarks/phases/train/{dataset}.tsv"
    wildcard_constraints:
        dataset="[a-z0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.phases:train",
        code_hash=PHASES_CODE,
        run=run_info("phases"),
        args=PHASES_CELL,
    script:
        STEP_SCRIPT


rule phases_clean:
    input:
        "results/phases/runs/{dataset}.nc",
    output:
        "results/phases/runs/cleaned/{dataset}.nc",
    log:
        "logs/phases/clean/{dataset}.log",
    benchmark:
        "benchmarks/phases/clean/{dataset}.tsv"
    wildcard_constraints:
        dataset="[a-z0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.phases:clean_and_retrain",
        code_hash=PHASES_CODE,
        run=run_info("phases"),
        args=lambda wc: {**PHASES_CELL(wc), **PHASES["phase_rule"]},
    script:
        STEP_SCRIPT


rule phases_measure:
    input:
        runs=expand("results/phases/runs/{dataset}.nc", dataset=PHASES["datasets"]),
        cleaned=expand(
            "results/phases/runs/cleaned/{dataset}.nc", dataset=PHASES["datasets"]
        ),
    output:
        "results/phases/measured.nc",
    log:
        "logs/phases/measure.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        step="paperclaims.claims.phases:measure",
        code_hash=PHASES_CODE,
        run=run_info("phases"),
        args=PHASES["phase_rule"],
    script:
        STEP_SCRIPT


rule phases_verdict:
    input:
        measured="results/phases/measured.nc",
    output:
        "results/phases/verdict.json",
    log:
        "logs/phases/verdict.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.claims.phases:verdict",
        code_hash=[PHASES_CODE, VERDICT_CODE],
        run=run_info("phases"),
        args={"config": PHASES},
    script:
        STEP_SCRIPT


rule phases_plot:
    input:
        measured="results/phases/measured.nc",
        verdict="results/phases/verdict.json",
    output:
        figures=figure_outputs("phases", PHASES_FIGURES),
        notebook="results/phases/phases.ipynb",
    log:
        "logs/phases/plot.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.notebooks:execute",
        code_hash=notebook_hash("phases"),
        run=run_info("phases"),
    script:
        STEP_SCRIPT
