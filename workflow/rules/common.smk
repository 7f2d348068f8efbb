# Validation, targets and helpers shared by every claim's rules (no rules here).
from pathlib import Path

import snakemake.io as snakemake_io

from paperclaims.closure import files_hash, notebook_files, step_hash
from paperclaims.config import validate_config
from paperclaims.registry import claims, step_args

# The checkout holding this file (not the working directory, and not the importing Snakefile's
# folder when used as a `module`): workflow files resolve here; config, results and logs live in
# the working directory.
ROOT = Path(workflow.current_basedir).parents[1]
STEP_SCRIPT = "../scripts/step.py"  # relative to workflow/rules/
# For --software-deployment-method conda; the README install provides the same stack as a venv.
CONDA_ENV = "../../envs/paperclaims.yaml"

# Fails before any job runs, naming the key, the value and what is allowed; every step's
# parameters are resolved here too (a key a step lacks, or one no step reads, fails here).
validate_config(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")

# Every registered claim (paperclaims/claims/<name>/claim.py), by name.
CLAIMS = claims()


# Workflow files are tracked by content hashes in params, never as input paths: a path into the
# checkout would tie the cache to where the checkout lies (and to the working directory). A
# step's hash (step_hash) covers the modules its code imports, transitively (paperclaims.closure).


def notebook_hash(claim):
    """Editing a claim's notebook, or a module it imports, reruns its plot step only."""
    notebook = ROOT / "workflow" / "notebooks" / f"{claim}.ipynb"
    return files_hash(notebook_files(notebook, "paperclaims.notebooks:execute"))


def run_info(claim):
    """Run-wide values every step records in its provenance."""
    return {"claim": claim, "seed": config["seed"], "device": config["device"]}


def doubled_on_retry(minutes):
    """A train rule's runtime (minutes, SLURM's time limit), doubled on each retry: a job killed at
    its limit resumes from its checkpoint and gets twice the time to finish."""
    return lambda wildcards, attempt: minutes * 2 ** (attempt - 1)


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


def claim_outputs(claim):
    """Final files of a claim (figures, executed notebook and its HTML rendering)."""
    files = [
        f"figures/{claim.name}/{name}.{ext}"
        for name in claim.figures
        for ext in ("png", "pdf")
    ]
    name = claim.name
    return files + [f"results/{name}/{name}.ipynb", f"results/{name}/{name}.html"]


def verdict_files():
    return [f"results/{claim}/verdict.json" for claim in config["claims"]]


def all_targets(wildcards):
    files = ["figures/claims.md", "results/claims.html", "figures/checks.png"]
    for name in config["claims"]:
        files += claim_outputs(CLAIMS[name])
    return files
