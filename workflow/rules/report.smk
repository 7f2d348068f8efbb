# The claims table: every claim's checks, regenerated from the verdict files.


rule claims_table:
    input:
        verdict_files(),
    output:
        "figures/claims.md",
    params:
        step="paperclaims.verdict:write_claims_table",
    log:
        "logs/claims_table.log",
    localrule: True
    script:
        STEP_SCRIPT
