# The claims table: every claim's checks, regenerated from the verdict files.


rule claims_table:
    input:
        verdict_files(),
    output:
        "figures/claims.md",
    log:
        "logs/claims_table.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.verdict:write_claims_table",
    script:
        STEP_SCRIPT
