"""``paperclaims new-claim NAME``: write every file a new claim needs, and nothing else.

The claim's steps are stubs that raise NotImplementedError; docs/adding-a-claim.md walks through
filling them in. The registry finds the new package by itself, so no other file (Snakefile, rules,
top schema, claims table, tests' claim lists, benchmarks) needs an edit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

NAME = re.compile(r"[a-z][a-z0-9]*\Z")

CLAIM_PY = '''"""Registry entry of claim `$name`: its steps, the parameters each reads, and its figures.

TODO: one paragraph on the paper's claim and how the steps test it. Torch-free: the Snakefile
imports this file on every call.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperclaims.registry import Claim, RecordedConfig, Step, Sweep, TrainStep, seed, wildcard


@dataclass(frozen=True)
class SimulateParams:
    """What one `simulate` job reads: its sweep cell, its seed, and keys of `$name.simulate`."""

    size: int = wildcard()
    cell_seed: int = seed()
    n_seeds: int


@dataclass(frozen=True)
class MeasureParams:
    """Keys of `$name.measure` the measure step reads."""

    level: float


CLAIM = Claim(
    name="$name",
    paper="TODO: authors, title (arXiv id)",
    train=(
        TrainStep(
            name="simulate",
            function="train:simulate",
            output="runs/size{size}.nc",
            params=SimulateParams,
            section="simulate",
            sweep=(
                Sweep.of("size", "[0-9]+", "simulate.sizes"),
            ),
            measured_as="runs",
        ),
    ),
    measure=Step("analysis:measure", MeasureParams, section="measure"),
    verdict=Step("analysis:verdict", RecordedConfig),
    figures=("main",),
)
'''

INIT_PY = '"""Claim `$name`: see claim.py (registry entry), train.py and analysis.py."""\n'

TRAIN_PY = '''"""Claim `$name`, training part: one sweep cell per job, every seed batched in one tensor.

Editing analysis.py never reruns these steps (their code hash covers only what they import).
"""

from __future__ import annotations


def simulate(step) -> None:
    """One cell (``step.params``: the fields of claim.SimulateParams) → ``step.output[0]``."""
    raise NotImplementedError(
        "claim $name: write the simulation in paperclaims/claims/$name/train.py "
        "(see docs/adding-a-claim.md)"
    )
'''

ANALYSIS_PY = '''"""Claim `$name`, analysis part: measure (every cell → measured.nc), checks and verdict."""

from __future__ import annotations

from paperclaims.verdict import Threshold  # noqa: F401 (THRESHOLDS below hold Thresholds)

PAPER = "TODO: authors, title (arXiv id)"
# Every threshold of the claim with its source (the paper's theory or numbers), committed before
# the first run that computes it.
THRESHOLDS: dict = {}
REQUIRED: list[str] = []  # check ids the verdict must contain


def measure(step) -> None:
    """``step.input.runs`` (every cell) → ``step.output[0]`` (measured.nc)."""
    raise NotImplementedError(
        "claim $name: write measure in paperclaims/claims/$name/analysis.py "
        "(see docs/adding-a-claim.md)"
    )


def verdict(step) -> None:
    """measured.nc → verdict.json through paperclaims.verdict.write_verdict."""
    raise NotImplementedError(
        "claim $name: write the checks and the verdict in paperclaims/claims/$name/analysis.py "
        "(see docs/adding-a-claim.md)"
    )
'''

SCHEMA = """description: Claim `$name`. Every key is documented in config/README.md.
type: object
additionalProperties: false
properties:
  simulate:
    description: One job per size; every seed batched.
    type: object
    additionalProperties: false
    default: {}
    properties:
      sizes:
        description: Sweep values, one job each.
        type: array
        items: {type: integer, minimum: 1}
        minItems: 2
        uniqueItems: true
        default: [10, 100, 1000, 10000]
      n_seeds: {type: integer, minimum: 2, default: 400}
  measure:
    type: object
    additionalProperties: false
    default: {}
    properties:
      level: {type: number, exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.95}
"""

CAPTION = """**Claim $name** (TODO: authors, year): TODO: the claim in one sentence.

- *main*: TODO: what the figure shows.

Verdict: ``results/$name/verdict.json``. Config: ``{{ snakemake.config["$name"] }}``, base seed
{{ snakemake.config["seed"] }}.
"""

CONFIG_ENTRY = """
# Claim `$name` (written by `paperclaims new-claim`; add it to `claims:` once its steps exist)
$name:
  simulate:
    sizes: [10, 100, 1000, 10000]
    n_seeds: 400
"""

TEST_CONFIG_ENTRY = """
$name:
  simulate:
    sizes: [10, 100]
    n_seeds: 4
"""

README_SECTION = """
## `$name` (TODO: authors, year)

| key | meaning | unit / allowed |
|---|---|---|
| `simulate.sizes` | *sweep* values, one job each | integers ≥ 1, at least two |
| `simulate.n_seeds` | seeds per cell, batched in one tensor | integer ≥ 2 |
| `measure.level` | level of the checks' intervals | (0, 1) |
"""

TEST_PY = '''"""Claim `$name`: its registry entry resolves, its rules plan, and its verdict is golden-tested."""

from __future__ import annotations

import pytest
import xarray as xr
from conftest import ROOT, run_verdict, snakemake

from paperclaims.claims.$name import analysis
from paperclaims.config import validate_config
from paperclaims.registry import claims

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_registered_and_every_step_parameter_resolves():
    config = validate_config({"claims": ["$name"]}, SCHEMA)  # resolves every step's params
    assert "$name" in claims()
    assert config["$name"]["simulate"]["sizes"]


def test_dry_run_plans_one_job_per_cell(workdir):
    proc = snakemake(workdir, "-n", "--config", 'claims=["$name"]')
    assert "${name}_simulate" in proc.stdout


# Replace with the verdict on a synthetic measured dataset whose answer you know (and one for the
# negative control); strict: it fails once analysis.verdict exists, until it is rewritten.
@pytest.mark.xfail(raises=NotImplementedError, strict=True, reason="verdict not written yet")
def test_verdict_on_a_known_answer(tmp_path):
    measured = xr.Dataset()
    verdict = run_verdict(analysis.verdict, measured, {"config": {}}, tmp_path, "$name")
    assert verdict["verdict"] == "reproduced"
'''


def _notebook(name: str) -> dict:
    def cell(kind: str, source: str, **meta) -> dict:
        c = {"cell_type": kind, "metadata": meta, "source": source.splitlines(keepends=True)}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    return {
        "cells": [
            cell(
                "markdown",
                f"# Claim `{name}`\n\nExecuted by papermill from `results/{name}/measured.nc`; "
                f"every number comes from the library (`paperclaims.claims.{name}.analysis`), "
                "this notebook only draws them.\n",
            ),
            cell(
                "code",
                f'measured = "results/{name}/measured.nc"\nverdict = "results/{name}/verdict.json"\n'
                f'figdir = "figures/{name}"\n',
                tags=["parameters"],
            ),
            cell(
                "code",
                "import json\n\nimport matplotlib.pyplot as plt\n\n"
                "from paperclaims.io import read_dataset\n"
                "from paperclaims.plotting import save_figure, set_theme\n\n"
                "set_theme()\nm = read_dataset(measured)\nresult = json.load(open(verdict))\n",
            ),
            cell("markdown", "## main\n\nTODO: what the figure shows.\n"),
            cell(
                "code",
                "fig, ax = plt.subplots()\n# TODO: draw from m (measured.nc) and result (the verdict)\n"
                'save_figure(fig, figdir, "main")\n',
            ),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def planned_files(root: Path, name: str) -> dict[Path, str]:
    """Every file ``new-claim`` writes (created) or extends (appended to), relative to ``root``."""
    package = Path("workflow/paperclaims/claims") / name
    return {
        package / "__init__.py": "create",
        package / "claim.py": "create",
        package / "train.py": "create",
        package / "analysis.py": "create",
        Path(f"workflow/schemas/{name}.schema.yaml"): "create",
        Path(f"workflow/notebooks/{name}.ipynb"): "create",
        Path(f"workflow/report/{name}.rst"): "create",
        Path(f"tests/test_{name}.py"): "create",
        Path("config/config.yaml"): "append",
        Path("config/test.yaml"): "append",
        Path("config/README.md"): "append",
    }


def new_claim(name: str, root: str | Path = ".") -> list[Path]:
    """Write claim ``name``'s files under the checkout ``root``; refuse to overwrite anything."""
    root = Path(root)
    if not NAME.match(name):
        raise ValueError(
            f"claim name {name!r}: use lower-case letters and digits, starting with a letter"
        )
    if not (root / "workflow" / "paperclaims" / "registry.py").is_file():
        raise ValueError(
            f"{root.resolve()} is not a paperclaims checkout (no workflow/paperclaims)"
        )
    plan = planned_files(root, name)
    exists = [p for p, how in plan.items() if how == "create" and (root / p).exists()]
    if exists:
        raise ValueError(f"claim {name!r} exists already: {', '.join(map(str, exists))}")
    sub = {"name": name}
    package = Path("workflow/paperclaims/claims") / name
    contents = {
        package / "__init__.py": INIT_PY,
        package / "claim.py": CLAIM_PY,
        package / "train.py": TRAIN_PY,
        package / "analysis.py": ANALYSIS_PY,
        Path(f"workflow/schemas/{name}.schema.yaml"): SCHEMA,
        Path(f"workflow/report/{name}.rst"): CAPTION,
        Path(f"tests/test_{name}.py"): TEST_PY,
        Path("config/config.yaml"): CONFIG_ENTRY,
        Path("config/test.yaml"): TEST_CONFIG_ENTRY,
        Path("config/README.md"): README_SECTION,
    }
    for path, text in contents.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        text = Template(text).substitute(sub)
        if plan[path] == "append":
            with target.open("a") as f:
                f.write(text)
        else:
            target.write_text(text)
    notebook = root / f"workflow/notebooks/{name}.ipynb"
    notebook.write_text(json.dumps(_notebook(name), indent=1, ensure_ascii=False) + "\n")
    return list(plan)
