# Run one claim step inside a Snakemake job; the science lives in the paperclaims package.
from paperclaims.runner import run_step

run_step(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
