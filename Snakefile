# paperclaims: one DAG, train → measure → verdict → plot, for each paper's claim.
# Run: snakemake --cores 2   (the default profile is workflow/profiles/default)


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/robustness.smk"


rule all:
    default_target: True
    input:
        all_targets,
