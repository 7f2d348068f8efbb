# Claim `locality` (Mori & Ueda 2020/2022): depth helps k-local targets and hurts k-global
# ones; the NTK misses it. Train (one job per n_train × depth cell, every target × seed in one
# ensemble) and NTK regression (one job per n_train, every depth) → measure → verdict → figures.
from paperclaims.cells import target_names

LOCALITY = config["locality"]
LOCALITY_CODE = claim_code_hash("locality", "fits.py")
LOCALITY_TARGETS = target_names(LOCALITY["labels"], LOCALITY["k"])
LOCALITY_FIGURES = ["error_vs_depth", "fit_epochs"]
# What defines the data and the targets: shared by every train and NTK job.
LOCALITY_DATA = {
    "targets": LOCALITY_TARGETS,
    "family": LOCALITY["family"],
    "inputs": LOCALITY["inputs"],
    "d": LOCALITY["d"],
    "n_test": LOCALITY["n_test"],
    "n_seeds": LOCALITY["n_seeds"],
    "test_seed": cell_seed("locality", "test_data"),
}

# NTK jobs hold a few float64 (seed, n, n)-sized Gram arrays, train and test
LOCALITY_NTK_MEM_MB = {
    n: 1000 + 48 * LOCALITY["n_seeds"] * n * (n + LOCALITY["n_test"]) // 2**20
    for n in LOCALITY["n_train"]
}

CLAIM_TARGETS["locality"] = claim_outputs_old("locality", LOCALITY_FIGURES)


rule locality_train:
    output:
        "results/locality/runs/net/N{n_train}__L{depth}.nc",
    log:
        "logs/locality/train/N{n_train}__L{depth}.log",
    benchmark:
        "benchmarks/locality/train/N{n_train}__L{depth}.tsv"
    wildcard_constraints:
        n_train="[0-9]+",
        depth="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(60),
    params:
        step="paperclaims.claims.locality:train",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        # only this cell's values (plus the shared data and training keys): another depth or
        # N leaves this job cached
        args=lambda wc: {
            **LOCALITY_DATA,
            "train_seed": cell_seed("locality", "train_data", int(wc.n_train)),
            **cell_args(
                "locality",
                LOCALITY["train"],
                list(LOCALITY["train"]),
                n_train=int(wc.n_train),
                depth=int(wc.depth),
            ),
        },
    script:
        STEP_SCRIPT


rule locality_ntk:
    output:
        "results/locality/runs/ntk/N{n_train}.nc",
    log:
        "logs/locality/ntk/N{n_train}.log",
    benchmark:
        "benchmarks/locality/ntk/N{n_train}.tsv"
    wildcard_constraints:
        n_train="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=lambda wc: LOCALITY_NTK_MEM_MB[int(wc.n_train)],
        runtime=doubled_on_retry(30),
    params:
        step="paperclaims.claims.locality:ntk",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        args=lambda wc: {
            **LOCALITY_DATA,
            "n_train": int(wc.n_train),
            "train_seed": cell_seed("locality", "train_data", int(wc.n_train)),
            "depths": LOCALITY["depths"],
            **LOCALITY["ntk"],
        },
    script:
        STEP_SCRIPT


rule locality_measure:
    input:
        nets=expand(
            "results/locality/runs/net/N{n_train}__L{depth}.nc",
            n_train=LOCALITY["n_train"],
            depth=LOCALITY["depths"],
        ),
        ntk=expand(
            "results/locality/runs/ntk/N{n_train}.nc", n_train=LOCALITY["n_train"]
        ),
    output:
        "results/locality/measured.nc",
    log:
        "logs/locality/measure.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step="paperclaims.claims.locality:measure",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        args={
            "family": LOCALITY["family"],
            "inputs": LOCALITY["inputs"],
            "d": LOCALITY["d"],
            "width": LOCALITY["train"]["width"],
            "n_test": LOCALITY["n_test"],
        },
    script:
        STEP_SCRIPT


rule locality_verdict:
    input:
        measured="results/locality/measured.nc",
    output:
        "results/locality/verdict.json",
    log:
        "logs/locality/verdict.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.claims.locality:verdict",
        code_hash=[LOCALITY_CODE, VERDICT_CODE],
        run=run_info("locality"),
        args={"config": LOCALITY},
    script:
        STEP_SCRIPT


rule locality_plot:
    input:
        measured="results/locality/measured.nc",
        verdict="results/locality/verdict.json",
    output:
        figures=figure_outputs("locality", LOCALITY_FIGURES),
        notebook="results/locality/locality.ipynb",
    log:
        "logs/locality/plot.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.notebooks:execute",
        code_hash=notebook_hash("locality"),
        run=run_info("locality"),
    script:
        STEP_SCRIPT
