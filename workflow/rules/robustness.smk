# Seed robustness (`snakemake --cores N robustness`): every claim rerun under
# robustness.replicates base seeds derived from `seed`, each in its own results tree
# (robustness/replicate<k>/, a nested run of this workflow that caches like any other), then
# per check how often each outcome came up: figures/robustness.md and its figure.
from paperclaims.robustness import replicate_seed

ROBUSTNESS_SEEDS = [
    replicate_seed(config["seed"], k) for k in range(config["robustness"]["replicates"])
]
# What a replicate runs: the resolved config minus the robustness section; its seed is its own.
ROBUSTNESS_CONFIG = {
    key: value for key, value in config.items() if key not in ("seed", "robustness")
}


rule robustness:
    input:
        "figures/robustness.md",
        "figures/robustness.png",


rule robustness_replicate:
    output:
        expand(
            "robustness/replicate{{k}}/results/{claim}/verdict.json",
            claim=config["claims"],
        ),
    log:
        "logs/robustness/replicate{k}.log",
    benchmark:
        "benchmarks/robustness/replicate{k}.tsv"
    wildcard_constraints:
        k="[0-9]+",
    # a nested run of the whole workflow, on the machine snakemake runs on: it takes every core
    # it is given (Snakemake caps threads at --cores)
    localrule: True
    conda:
        CONDA_ENV
    threads: 64
    resources:
        mem_mb=4000,
        runtime=doubled_on_retry(120),
    params:
        step="paperclaims.robustness:run_replicate",
        code_hash=step_hash("paperclaims.robustness:run_replicate"),
        seed=lambda wc: ROBUSTNESS_SEEDS[int(wc.k)],
        config=ROBUSTNESS_CONFIG,
    script:
        STEP_SCRIPT


rule robustness_summary:
    input:
        verdicts=expand(
            "robustness/replicate{k}/results/{claim}/verdict.json",
            k=range(len(ROBUSTNESS_SEEDS)),
            claim=config["claims"],
        ),
    output:
        table="figures/robustness.md",
        png=report(
            "figures/robustness.png",
            caption="../report/robustness.rst",
            category="Verdicts",
            labels={"figure": "seed robustness"},
        ),
        pdf="figures/robustness.pdf",
    log:
        "logs/robustness/summary.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.robustness:summarize",
        code_hash=step_hash("paperclaims.robustness:summarize"),
        seeds=ROBUSTNESS_SEEDS,
    script:
        STEP_SCRIPT
