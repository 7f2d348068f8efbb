# Claim `saddles` (Ziyin, Li, Galanti, Ueda): SGD near a Type-II saddle is a product of random
# multipliers; it is attracted to the saddle iff the Lyapunov exponents are negative, even where L2
# stability says it cannot be. (A) random-multiplier check: one job per (mean, sd) case, all learning
# rates × chains batched. (B) phase diagram of f = u·w·x: one job per batch size, all λ × σ × chains
# batched. → measure → verdict → papermill figures.

from paperclaims.cells import case_name

SADDLES = config["saddles"]
SADDLES_THEOREM = SADDLES["theorem"]
SADDLES_PHASES = SADDLES["phases"]
SADDLES_CODE = claim_code_hash("saddles", "fits.py")
SADDLES_CASES = [case_name(mean, sd) for mean, sd in SADDLES_THEOREM["cases"]]
SADDLES_FIGURES = ["multiplier_theorem", "phase_diagram", "collapse_trends"]

CLAIM_TARGETS["saddles"] = claim_outputs("saddles", SADDLES_FIGURES)

# A cell's params hold only its own wildcard and these keys: adding a case or a batch size leaves
# the other cells cached; the (λ, σ) grid is one tensor inside each phase job.
SADDLES_THEOREM_SHARED = [
    "lr_min",
    "lr_max",
    "lr_points",
    "chains",
    "steps",
    "checkpoints",
]
SADDLES_PHASES_SHARED = [k for k in SADDLES_PHASES if k not in ("batch_sizes",)]


rule saddles_simulate_multiplier:
    output:
        "results/saddles/runs/theorem/{case}.nc",
    log:
        "logs/saddles/simulate_multiplier/{case}.log",
    benchmark:
        "benchmarks/saddles/simulate_multiplier/{case}.tsv"
    wildcard_constraints:
        case="mean[-0-9.e+]+_sd[0-9.e+]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=doubled_on_retry(10),
    params:
        step="paperclaims.claims.saddles:simulate_multiplier",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=lambda wc: cell_args(
            "saddles", SADDLES_THEOREM, SADDLES_THEOREM_SHARED, case=wc.case
        ),
    script:
        STEP_SCRIPT


rule saddles_simulate_phases:
    output:
        "results/saddles/runs/phases/batch{batch}.nc",
    log:
        "logs/saddles/simulate_phases/batch{batch}.log",
    benchmark:
        "benchmarks/saddles/simulate_phases/batch{batch}.tsv"
    wildcard_constraints:
        batch="[0-9]+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=doubled_on_retry(30),
    params:
        step="paperclaims.claims.saddles:simulate_phases",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=lambda wc: cell_args(
            "saddles", SADDLES_PHASES, SADDLES_PHASES_SHARED, batch=int(wc.batch)
        ),
    script:
        STEP_SCRIPT


rule saddles_measure:
    input:
        theorem=expand("results/saddles/runs/theorem/{case}.nc", case=SADDLES_CASES),
        phases=expand(
            "results/saddles/runs/phases/batch{batch}.nc",
            batch=SADDLES_PHASES["batch_sizes"],
        ),
    output:
        "results/saddles/measured.nc",
    log:
        "logs/saddles/measure.log",
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        step="paperclaims.claims.saddles:measure",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=SADDLES["measure"],
    script:
        STEP_SCRIPT


rule saddles_verdict:
    input:
        measured="results/saddles/measured.nc",
    output:
        "results/saddles/verdict.json",
    log:
        "logs/saddles/verdict.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.claims.saddles:verdict",
        code_hash=[SADDLES_CODE, VERDICT_CODE],
        run=run_info("saddles"),
        args={"config": SADDLES},
    script:
        STEP_SCRIPT


rule saddles_plot:
    input:
        measured="results/saddles/measured.nc",
        verdict="results/saddles/verdict.json",
    output:
        figures=figure_outputs("saddles", SADDLES_FIGURES),
        notebook="results/saddles/saddles.ipynb",
    log:
        "logs/saddles/plot.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.notebooks:execute",
        code_hash=notebook_hash("saddles"),
        run=run_info("saddles"),
    script:
        STEP_SCRIPT
