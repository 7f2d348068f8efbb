# Every claim's rules, generated from its registry entry (paperclaims/claims/<name>/claim.py):
# one rule per train step (one job per sweep cell), then measure → verdict → plot.


def train_params(claim, step):
    """A train rule's params for a cell: exactly the fields of the step's params dataclass."""
    return lambda wildcards: step_args(
        claim, step, config[claim.name], config["seed"], dict(wildcards)
    )


def train_memory(claim, step):
    if callable(step.mem_mb):
        return lambda wildcards: step.mem_mb(config[claim.name], dict(wildcards))
    return step.mem_mb


def measure_inputs(claim):
    """Every cell of every train step that the measure step reads, by its named input."""
    inputs = {}
    for step in claim.train:
        if step.measured_as:
            files = claim.outputs(step, config[claim.name])
            inputs[step.measured_as] = files if step.sweep else files[0]
    return inputs


def one_step_args(claim, step):
    return step_args(claim, step, config[claim.name], config["seed"])


for claim in CLAIMS.values():
    for step in claim.train:

        rule:
            name:
                f"{claim.name}_{step.name}"
            input:
                (
                    f"results/{claim.name}/{claim.step(step.after).output}"
                    if step.after
                    else []
                ),
            output:
                f"results/{claim.name}/{step.output}",
            log:
                f"logs/{claim.name}/{step.name}/{step.log}.log",
            benchmark:
                f"benchmarks/{claim.name}/{step.name}/{step.log}.tsv"
            wildcard_constraints:
                **{sweep.name: sweep.pattern for sweep in step.sweep},
            conda:
                CONDA_ENV
            threads: 1
            resources:
                mem_mb=train_memory(claim, step),
                runtime=doubled_on_retry(step.runtime),
            params:
                step=claim.target(step.function),
                code_hash=step_hash(claim.target(step.function)),
                run=run_info(claim.name),
                args=train_params(claim, step),
            script:
                STEP_SCRIPT

    rule:
        name:
            f"{claim.name}_measure"
        input:
            **measure_inputs(claim),
        output:
            f"results/{claim.name}/measured.nc",
        log:
            f"logs/{claim.name}/measure.log",
        localrule: True
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=claim.measure.mem_mb,
            runtime=claim.measure.runtime,
        params:
            step=claim.target(claim.measure.function),
            code_hash=step_hash(claim.target(claim.measure.function)),
            run=run_info(claim.name),
            args=one_step_args(claim, claim.measure),
        script:
            STEP_SCRIPT

    rule:
        name:
            f"{claim.name}_verdict"
        input:
            measured=f"results/{claim.name}/measured.nc",
        output:
            f"results/{claim.name}/verdict.json",
        log:
            f"logs/{claim.name}/verdict.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            step=claim.target(claim.verdict.function),
            code_hash=step_hash(claim.target(claim.verdict.function)),
            run=run_info(claim.name),
            args=one_step_args(claim, claim.verdict),
        script:
            STEP_SCRIPT

    rule:
        name:
            f"{claim.name}_plot"
        input:
            measured=f"results/{claim.name}/measured.nc",
            verdict=f"results/{claim.name}/verdict.json",
        output:
            figures=figure_outputs(claim.name, claim.figures),
            notebook=f"results/{claim.name}/{claim.name}.ipynb",
        log:
            f"logs/{claim.name}/plot.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            step="paperclaims.notebooks:execute",
            code_hash=notebook_hash(claim.name),
            run=run_info(claim.name),
        script:
            STEP_SCRIPT
