"""The plot step: execute a claim's papermill notebook, which only loads results and draws."""

from __future__ import annotations

from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_path(claim: str) -> Path:
    """The template notebook of a claim, in the checkout this package belongs to (not the working
    directory, so the workflow runs from anywhere)."""
    return NOTEBOOK_DIR / f"{claim}.ipynb"


def execute(step) -> None:
    """Step function of every ``<claim>_plot`` rule: papermill with the measured dataset, the verdict
    and the figure folder as parameters; the executed copy is the rule's ``notebook`` output."""
    import papermill

    papermill.execute_notebook(
        str(notebook_path(step.claim)),
        str(step.output.notebook),
        parameters={
            "measured": str(step.input.measured),
            "verdict": str(step.input.verdict),
            "figdir": str(Path(step.output.figures[0]).parent),
        },
        kernel_name="python3",
        progress_bar=False,
    )
