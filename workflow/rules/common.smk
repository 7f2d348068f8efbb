# Validation, targets and helpers shared by every claim's rules (no rules here).
from pathlib import Path

import snakemake.io as snakemake_io

from paperclaims.config import code_hash, validate_config

# The checkout holding this file (not the working directory, and not the importing Snakefile's
# folder when used as a `module`): workflow files resolve here; config, results and logs live in
# the working directory.
ROOT = Path(workflow.current_basedir).parents[1]
PACKAGE = ROOT / "workflow" / "paperclaims"
STEP_SCRIPT = "../scripts/step.py"  # relative to workflow/rules/
# For --software-deployment-method conda; the README install provides the same stack as a venv.
CONDA_ENV = "../../envs/paperclaims.yaml"

# Fails before any job runs, naming the key, the value and what is allowed.
validate_config(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")

# Workflow files are tracked by content hashes in params, never as input paths: a path into the
# checkout would tie the cache to where the checkout lies (and to the working directory).
VERDICT_CODE = code_hash(PACKAGE / "verdict.py")


def notebook_hash(claim):
    """Editing a claim's notebook or the plot theme reruns its plot step only."""
    notebook = ROOT / "workflow" / "notebooks" / f"{claim}.ipynb"
    return code_hash(notebook, PACKAGE / "plotting.py", PACKAGE / "notebooks.py")


# Library modules whose edits change every claim's numbers (seeding, batched nets).
SHARED_SCIENCE = ["seeds.py", "nets.py", "cells.py"]

# Each claim's .smk registers the final files of its claim here.
CLAIM_TARGETS = {}


def claim_code_hash(claim, *shared):
    """Hash of a claim's module and the shared modules it uses: editing them reruns the claim."""
    files = [PACKAGE / "claims" / f"{claim}.py"]
    files += [PACKAGE / name for name in [*SHARED_SCIENCE, *shared]]
    return code_hash(*files)


def run_info(claim):
    """Run-wide values every step records in its provenance."""
    return {"claim": claim, "seed": config["seed"], "device": config["device"]}


def doubled_on_retry(minutes):
    """A train rule's runtime (minutes, SLURM's time limit), doubled on each retry: a job killed at
    its limit resumes from its checkpoint and gets twice the time to finish."""
    return lambda wildcards, attempt: minutes * 2 ** (attempt - 1)


def cell_seed(claim, *keys):
    from paperclaims.seeds import derive_seed

    return derive_seed(config["seed"], claim, *keys)


def cell_args(claim, section, shared_keys, **cell):
    """A sweep cell's parameters: its own wildcard values, its seed, and the section's shared keys.

    Nothing else goes in, so changing another cell's sweep value leaves this job cached.
    """
    seed = cell_seed(claim, *cell.values())
    return {**cell, "cell_seed": seed, **{key: section[key] for key in shared_keys}}


def figure_outputs(claim, names):
    """Figures of a claim (PNGs flagged for `snakemake --report` with their caption, and PDFs)."""
    pngs = [
        snakemake_io.report(
            f"figures/{claim}/{name}.png",
            caption=f"../report/{claim}.rst",
            category=claim,
            labels={"claim": claim, "figure": name},
        )
        for name in names
    ]
    return pngs + [f"figures/{claim}/{name}.pdf" for name in names]


def claim_outputs(claim, names):
    """Final files of a claim (figures, executed notebook and its HTML rendering)."""
    files = [
        f"figures/{claim}/{name}.{ext}" for name in names for ext in ("png", "pdf")
    ]
    return files + [f"results/{claim}/{claim}.ipynb", f"results/{claim}/{claim}.html"]


def verdict_files():
    return [f"results/{claim}/verdict.json" for claim in config["claims"]]


def all_targets(wildcards):
    files = ["figures/claims.md", "results/claims.html", "figures/checks.png"]
    for claim in config["claims"]:
        files += CLAIM_TARGETS[claim]
    return files
