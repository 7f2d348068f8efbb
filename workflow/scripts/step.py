# Run one claim step inside a Snakemake job; the science lives in the paperclaims package.
import sys
from pathlib import Path

# The checkout's own package comes first, installed or not (conda envs, SLURM nodes, test copies).
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (injected by Snakemake)

from paperclaims.runner import run_step

run_step(snakemake)  # noqa: F821
