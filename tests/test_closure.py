"""Code hashes follow the imports: each step's hash covers exactly the package modules its code
imports (transitively) and the runner's; editing a module reruns the steps that import it and
nothing else, as Snakemake itself sees it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, snakemake
from paperclaims import closure
from paperclaims.registry import claims

PACKAGE = ROOT / "workflow" / "paperclaims"
NOTEBOOK_STEP = "paperclaims.notebooks:execute"
# The shared rules (report.smk): rule → the step it runs.
SHARED_RULES = {
    "claims_table": "paperclaims.verdict:write_claims_table",
    "checks_at_a_glance": "paperclaims.checks_figure:draw_step",
}


def rule_files() -> dict[str, set[Path]]:
    """Every hashed rule of the default DAG → the files its code hash covers."""
    files = {rule: set(closure.step_files(target)) for rule, target in SHARED_RULES.items()}
    for claim in claims().values():
        for step in claim.train:
            files[f"{claim.name}_{step.name}"] = set(
                closure.step_files(claim.target(step.function))
            )
        for label, step in (("measure", claim.measure), ("verdict", claim.verdict)):
            files[f"{claim.name}_{label}"] = set(closure.step_files(claim.target(step.function)))
        notebook = ROOT / "workflow" / "notebooks" / f"{claim.name}.ipynb"
        files[f"{claim.name}_plot"] = set(closure.notebook_files(notebook, NOTEBOOK_STEP))
    return files


def rules_importing(module: Path) -> set[str]:
    return {rule for rule, files in rule_files().items() if module in files}


def test_closure_follows_imports_transitively_and_parents():
    files = set(closure.closure("paperclaims.runner"))
    for name in ("runner.py", "io.py", "checkpoint.py", "device.py", "__init__.py"):
        assert PACKAGE / name in files
    assert PACKAGE / "verdict.py" not in files
    # a claim module: its own package's __init__, and what it imports from the library
    some = next(iter(claims().values()))
    files = set(closure.closure(some.target("analysis:verdict").partition(":")[0]))
    assert PACKAGE / "claims" / some.name / "__init__.py" in files
    assert PACKAGE / "claims" / "__init__.py" in files
    assert PACKAGE / "verdict.py" in files and PACKAGE / "fits.py" in files


def test_relative_and_lazy_imports_are_found():
    source = "import os\nfrom . import io\ndef f():\n    from paperclaims.fits import line_fit\n"
    found = closure.imported_modules(source, "paperclaims.verdict")
    assert found == {"paperclaims", "paperclaims.io", "paperclaims.fits"}


@pytest.mark.parametrize("name", sorted(claims()))
def test_training_never_hashes_the_analysis(name):
    """Editing a check, a threshold, a note string or the registry must not retrain a claim."""
    claim = claims()[name]
    for step in claim.train:
        files = set(closure.step_files(claim.target(step.function)))
        assert PACKAGE / "claims" / name / "analysis.py" not in files, step.name
        assert PACKAGE / "verdict.py" not in files, step.name
        # the registry entry and the config validation decide what runs, not how it computes
        for name_ in ("registry.py", "config.py", f"claims/{name}/claim.py"):
            assert PACKAGE / name_ not in files, (step.name, name_)


def test_every_step_hashes_the_modules_that_run_it():
    for rule, files in rule_files().items():
        for name in ("runner.py", "io.py", "checkpoint.py", "device.py"):
            assert PACKAGE / name in files, (rule, name)


# Imports each target in a fresh process forked from one that already holds the heavy third-party
# libraries, and prints the package files it really loaded.
_REAL_IMPORTS = r"""
import json, os, sys, importlib
import numpy, scipy, torch, xarray, matplotlib, pandas  # noqa: F401 (shared by every child)
out = {}
for target in json.loads(sys.argv[1]):
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        importlib.import_module("paperclaims.runner")
        importlib.import_module(target.partition(":")[0])
        files = sorted({m.__file__ for n, m in list(sys.modules.items())
                        if n.split(".")[0] == "paperclaims" and getattr(m, "__file__", None)})
        os.write(write, json.dumps(files).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out[target] = json.loads(f.read())
    os.wait()
print(json.dumps(out))
"""


def test_static_closure_covers_every_module_a_step_really_imports():
    """The hash is read from the source; a module imported some other way (importlib, a name the
    AST walk misses) would escape it. Compare with what importing each step really loads."""
    targets = list(SHARED_RULES.values()) + [NOTEBOOK_STEP]
    for claim in claims().values():
        targets += [claim.target(s.function) for s in claim.train]
        targets += [claim.target(claim.measure.function), claim.target(claim.verdict.function)]
    proc = subprocess.run(
        [sys.executable, "-c", _REAL_IMPORTS, json.dumps(targets)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "workflow"), "PATH": ""},
        check=True,
    )
    for target, loaded in json.loads(proc.stdout).items():
        missing = {Path(f).resolve() for f in loaded} - set(closure.step_files(target))
        assert not missing, f"{target} imports {sorted(map(str, missing))} outside its hash"


def changed_params_rules(proc) -> set[str]:
    """Rules with an output whose params (the code hash among them) differ from the recorded ones,
    from ``snakemake --summary``: each file's own status, whatever reruns upstream of it."""
    rules = set()
    for line in proc.stdout.splitlines():
        cells = line.split("\t")
        if len(cells) >= 5 and cells[4] == "params changed":
            rules.add(cells[2])
    return rules


SHARED_MODULES = sorted(p.relative_to(PACKAGE) for p in PACKAGE.glob("*.py"))
CLAIM_MODULES = sorted(
    p.relative_to(PACKAGE)
    for p in (PACKAGE / "claims").glob("*/*.py")
    if p.name in ("train.py", "analysis.py")
)


@pytest.fixture(scope="module")
def finished_copy(smoke_run, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("closure") / "wf"
    shutil.copytree(smoke_run, copy, symlinks=True)
    proc = snakemake(copy, "--summary", "--configfile", "config/test.yaml")
    assert "params changed" not in proc.stdout and "update pending" not in proc.stdout, proc.stdout
    return copy


@pytest.mark.parametrize("module", SHARED_MODULES + CLAIM_MODULES, ids=str)
def test_editing_a_module_reruns_exactly_the_steps_that_import_it(finished_copy, module):
    path = finished_copy / "workflow" / "paperclaims" / module
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        proc = snakemake(finished_copy, "--summary", "--configfile", "config/test.yaml")
    finally:
        path.write_text(original)
    assert changed_params_rules(proc) == rules_importing(PACKAGE / module)


def test_what_an_edit_reruns_in_words():
    """The closures say what the issue asks, independently of how they are computed."""
    rules = rule_files()
    train = {
        r for r in rules if any(r == f"{c}_{s.name}" for c in claims() for s in claims()[c].train)
    }
    assert train and rules_importing(PACKAGE / "io.py") >= train  # io writes every dataset
    assert not rules_importing(PACKAGE / "fits.py") & train  # fits is analysis only
    assert not rules_importing(PACKAGE / "verdict.py") & train
    assert "claims_table" in rules_importing(PACKAGE / "verdict.py")
    for name in claims():
        own = rules_importing(PACKAGE / "claims" / name / "analysis.py")
        assert f"{name}_verdict" in own
        assert own <= {f"{name}_measure", f"{name}_verdict", f"{name}_plot"}, own
