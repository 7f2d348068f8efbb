# Claim `saddles` (Ziyin, Li, Galanti, Ueda): SGD near a Type-II saddle is a product of random
# multipliers; it is attracted to the saddle iff the Lyapunov exponents are negative, even where L2
# stability says it cannot be. (A) random-multiplier check: one job per (mean, sd) case, all learning
# rates × chains batched. (B) phase diagram of f = u·w·x: one job per batch size, all λ × σ × chains
# batched. → measure → verdict → papermill figures.

SADDLES = config["saddles"]
SADDLES_THEOREM = SADDLES["theorem"]
SADDLES_PHASES = SADDLES["phases"]
SADDLES_CODE = claim_code_hash("saddles", "fits.py")
SADDLES_CASES = [f"mean{mean:g}_sd{sd:g}" for mean, sd in SADDLES_THEOREM["cases"]]
SADDLES_FIGURES = ["multiplier_theorem", "phase_diagram", "collapse_trends"]

CLAIM_TARGETS["saddles"] = expand(
    "figures/saddles/{name}.{ext}", name=SADDLES_FIGURES, ext=["png", "pdf"]
) + ["results/saddles/saddles.ipynb"]


def saddles_theorem_args(wildcards):
    """Only this case's values: adding a case leaves the other cases cached."""
    mean, sd = SADDLES_THEOREM["cases"][SADDLES_CASES.index(wildcards.case)]
    keys = ["lr_min", "lr_max", "lr_points", "chains", "steps", "checkpoints"]
    return {
        "mean": mean,
        "sd": sd,
        "cell_seed": cell_seed("saddles", "theorem", wildcards.case),
        **{k: SADDLES_THEOREM[k] for k in keys},
    }


def saddles_phase_args(wildcards):
    """One batch size; the (λ, σ) grid is one tensor inside the job."""
    keys = ["slope", "lr_min", "lr_max", "lr_points", "noise_max", "noise_points"]
    keys += ["chains", "steps", "init_scale", "window"]
    return {
        "batch": int(wildcards.batch),
        "cell_seed": cell_seed("saddles", "phases", int(wildcards.batch)),
        **{k: SADDLES_PHASES[k] for k in keys},
    }


rule saddles_simulate_multiplier:
    output:
        "results/saddles/runs/theorem/{case}.nc",
    params:
        step="paperclaims.claims.saddles:simulate_multiplier",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=saddles_theorem_args,
    log:
        "logs/saddles/simulate_multiplier/{case}.log",
    benchmark:
        "benchmarks/saddles/simulate_multiplier/{case}.tsv"
    wildcard_constraints:
        case="mean[-0-9.e+]+_sd[0-9.e+]+",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        STEP_SCRIPT


rule saddles_simulate_phases:
    output:
        "results/saddles/runs/phases/batch{batch}.nc",
    params:
        step="paperclaims.claims.saddles:simulate_phases",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=saddles_phase_args,
    log:
        "logs/saddles/simulate_phases/batch{batch}.log",
    benchmark:
        "benchmarks/saddles/simulate_phases/batch{batch}.tsv"
    wildcard_constraints:
        batch="[0-9]+",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        STEP_SCRIPT


rule saddles_measure:
    input:
        theorem=expand("results/saddles/runs/theorem/{case}.nc", case=SADDLES_CASES),
        phases=expand(
            "results/saddles/runs/phases/batch{batch}.nc", batch=SADDLES_PHASES["batch_sizes"]
        ),
    output:
        "results/saddles/measured.nc",
    params:
        step="paperclaims.claims.saddles:measure",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args=SADDLES["measure"],
    log:
        "logs/saddles/measure.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        STEP_SCRIPT


rule saddles_verdict:
    input:
        measured="results/saddles/measured.nc",
    output:
        "results/saddles/verdict.json",
    params:
        step="paperclaims.claims.saddles:verdict",
        code_hash=SADDLES_CODE,
        run=run_info("saddles"),
        args={"config": SADDLES},
    log:
        "logs/saddles/verdict.log",
    localrule: True
    script:
        STEP_SCRIPT


rule saddles_plot:
    input:
        notebook="workflow/notebooks/saddles.ipynb",
        measured="results/saddles/measured.nc",
        verdict="results/saddles/verdict.json",
    output:
        figures=expand(
            "figures/saddles/{name}.{ext}", name=SADDLES_FIGURES, ext=["png", "pdf"]
        ),
        notebook="results/saddles/saddles.ipynb",
    log:
        "logs/saddles/plot.log",
    localrule: True
    shell:
        "papermill {input.notebook} {output.notebook} -k python3"
        " -p measured {input.measured} -p verdict {input.verdict} -p figdir figures/saddles"
        " > {log} 2>&1"
