# The claims table: every claim's checks, regenerated from the verdict files.


rule claims_table:
    input:
        verdicts=verdict_files(),
    output:
        "figures/claims.md",
    log:
        "logs/claims_table.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.verdict:write_claims_table",
        code_hash=step_hash("paperclaims.verdict:write_claims_table"),
    script:
        STEP_SCRIPT


rule claims_table_html:
    input:
        "figures/claims.md",
    output:
        report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="Verdicts",
            labels={"table": "all claims"},
        ),
    log:
        "logs/claims_table_html.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.verdict:render_claims_html",
    script:
        STEP_SCRIPT


rule notebook_html:
    input:
        "results/{claim}/{claim}.ipynb",
    output:
        report(
            "results/{claim}/{claim}.html",
            caption="../report/notebook.rst",
            category="{claim}",
            labels={"claim": "{claim}", "figure": "executed notebook"},
        ),
    log:
        "logs/{claim}/notebook_html.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "jupyter nbconvert --to html --output-dir results/{wildcards.claim} {input} > {log} 2>&1"


rule checks_at_a_glance:
    input:
        verdicts=verdict_files(),
    output:
        png=report(
            "figures/checks.png",
            caption="../report/checks.rst",
            category="Verdicts",
            labels={"figure": "every check at a glance"},
        ),
        pdf="figures/checks.pdf",
    log:
        "logs/checks_at_a_glance.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        step="paperclaims.checks_figure:draw_step",
        code_hash=step_hash("paperclaims.checks_figure:draw_step"),
    script:
        STEP_SCRIPT
