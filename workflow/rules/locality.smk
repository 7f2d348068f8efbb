# Claim `locality` (Mori & Ueda 2020/2022): depth helps k-local targets and hurts k-global
# ones; the NTK misses it. Train (one job per n_train × depth cell, every target × seed in one
# ensemble) and NTK regression (one job per n_train, every depth) → measure → verdict → figures.
from paperclaims.claims.locality import target_names

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

CLAIM_TARGETS["locality"] = expand(
    "figures/locality/{name}.{ext}", name=LOCALITY_FIGURES, ext=["png", "pdf"]
) + ["results/locality/locality.ipynb"]


def locality_data_args(n_train):
    n_train = int(n_train)
    return {
        **LOCALITY_DATA,
        "n_train": n_train,
        "train_seed": cell_seed("locality", "train_data", n_train),
    }


def locality_train_args(wildcards):
    """Only this cell's values: another depth or N leaves this job cached."""
    return {
        **locality_data_args(wildcards.n_train),
        "depth": int(wildcards.depth),
        "cell_seed": cell_seed("locality", "net", wildcards.n_train, wildcards.depth),
        **LOCALITY["train"],
    }


def locality_ntk_mem_mb(wildcards):
    """A few float64 (seed, n, n) Gram-sized arrays, train and test, plus the interpreter."""
    n = int(wildcards.n_train)
    grams = LOCALITY["n_seeds"] * n * (n + LOCALITY["n_test"])
    return 1000 + 6 * 8 * grams // 2**20


def locality_ntk_args(wildcards):
    return {
        **locality_data_args(wildcards.n_train),
        "depths": LOCALITY["depths"],
        **LOCALITY["ntk"],
    }


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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        step="paperclaims.claims.locality:train",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        args=locality_train_args,
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
    threads: 1
    resources:
        mem_mb=locality_ntk_mem_mb,
        runtime=30,
    params:
        step="paperclaims.claims.locality:ntk",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        args=locality_ntk_args,
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
    params:
        step="paperclaims.claims.locality:verdict",
        code_hash=LOCALITY_CODE,
        run=run_info("locality"),
        args={"config": LOCALITY},
    script:
        STEP_SCRIPT


rule locality_plot:
    input:
        notebook="workflow/notebooks/locality.ipynb",
        measured="results/locality/measured.nc",
        verdict="results/locality/verdict.json",
    output:
        figures=expand(
            "figures/locality/{name}.{ext}", name=LOCALITY_FIGURES, ext=["png", "pdf"]
        ),
        notebook="results/locality/locality.ipynb",
    log:
        "logs/locality/plot.log",
    localrule: True
    shell:
        "papermill {input.notebook} {output.notebook} -k python3"
        " -p measured {input.measured} -p verdict {input.verdict} -p figdir figures/locality"
        " > {log} 2>&1"
