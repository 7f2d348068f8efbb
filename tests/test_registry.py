"""The claim registry: claims are found by folder, their step parameters are declared and checked at
parse time, and no list of claim names is written anywhere else in the code."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import pytest
from conftest import ROOT, snakemake
from paperclaims.config import ConfigError, validate_config
from paperclaims.registry import (
    OMIT,
    Claim,
    Step,
    Sweep,
    TrainStep,
    check_claim_config,
    claims,
    computed,
    key,
    seed,
    step_args,
    whole_config,
    wildcard,
)
from paperclaims.seeds import derive_seed

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CLAIMS_DIR = ROOT / "workflow" / "paperclaims" / "claims"


def test_every_claim_package_is_registered_under_its_folder_name():
    folders = sorted(p.parent.name for p in CLAIMS_DIR.glob("*/claim.py"))
    assert list(claims()) == folders and len(folders) >= 5


def test_the_schema_claim_list_comes_from_the_registry():
    with pytest.raises(ConfigError) as err:
        validate_config({"claims": ["nope"]}, SCHEMA)
    for name in claims():
        assert name in str(err.value)
    config = validate_config({}, SCHEMA)
    assert set(claims()) <= set(config)  # every claim's section, defaults filled in


# A made-up claim reading a made-up config, to feed known answers to the parameter checks.
@dataclass(frozen=True)
class CellParams:
    size: int = wildcard()
    cell_seed: int = seed()
    data_seed: int = seed("data")
    steps: int
    lr: float = key("shared.lr")
    bonus: float = computed(lambda c, wc: OMIT if wc["size"] == "1" else 2.0, reads=["bonus"])


@dataclass(frozen=True)
class NoParams:
    pass


@dataclass(frozen=True)
class VerdictParams:
    config: dict = whole_config()


def toy_claim(params=CellParams) -> Claim:
    sizes = Sweep("size", "[0-9]+", lambda c: c["run"]["sizes"], reads=("run.sizes",))
    step = TrainStep("simulate", "train:simulate", "runs/{size}.nc", params, "run", (sizes,))
    return Claim(
        name="toy",
        paper="-",
        train=(step,),
        measure=Step("analysis:measure", NoParams),
        verdict=Step("analysis:verdict", VerdictParams),
        figures=("main",),
    )


TOY_CONFIG = {"run": {"sizes": [1, 2], "steps": 5}, "shared": {"lr": 0.1}, "bonus": 2.0}


def test_step_args_are_exactly_the_declared_fields():
    claim = toy_claim()
    step = claim.step("simulate")
    args = step_args(claim, step, TOY_CONFIG, 7, {"size": "2"})
    assert args == {
        "size": 2,
        "cell_seed": derive_seed(7, "toy", "2"),
        "data_seed": derive_seed(7, "toy", "data"),
        "steps": 5,
        "lr": 0.1,
        "bonus": 2.0,
    }
    one = step_args(claim, step, TOY_CONFIG, 7, {"size": "1"})
    assert "bonus" not in one  # OMIT: that cell does not take the field
    check_claim_config(claim, TOY_CONFIG, 7)  # every key read: no error


def test_a_field_without_a_config_key_fails_naming_claim_step_and_key():
    @dataclass(frozen=True)
    class Typo:
        size: int = wildcard()
        stpes: int

    with pytest.raises(
        ConfigError, match=r"claim 'toy', step 'simulate': parameter 'stpes'.*toy\.run\.stpes"
    ):
        check_claim_config(toy_claim(Typo), TOY_CONFIG, 7)


def test_a_config_key_no_step_reads_fails_naming_it():
    config = {**TOY_CONFIG, "run": {**TOY_CONFIG["run"], "forgotten": 3}}
    with pytest.raises(ConfigError, match=r"'toy\.run\.forgotten' is read by no step"):
        check_claim_config(toy_claim(), config, 7)


def test_a_schema_key_no_step_reads_stops_snakemake_before_any_job(workdir):
    """The whole path: a new key in a claim's schema, read by no step, fails the dry run."""
    name = next(iter(claims()))
    schema = workdir / "workflow" / "schemas" / f"{name}.schema.yaml"
    schema.write_text(schema.read_text() + "  orphan: {type: integer, default: 3}\n")
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert f"'{name}.orphan' is read by no step" in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------------------------
# No list of claim names outside the registry

CODE = [
    ROOT / "Snakefile",
    *ROOT.joinpath("workflow", "rules").glob("*.smk"),
    *ROOT.joinpath("workflow", "paperclaims").rglob("*.py"),
    *ROOT.joinpath("workflow", "scripts").glob("*.py"),
    *ROOT.joinpath("tests").glob("*.py"),
]


def claim_name_groups(source: str, names: set[str]) -> list[list[str]]:
    """String literals grouped by the bracket (list, tuple, set, dict, call) they sit in: every
    group holding two or more claim names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # .smk files: Python with rule blocks; look at bracketed text instead
        groups = re.findall(r"[\[({]([^\[\](){}]*)[\])}]", source)
        literals = [re.findall(r"[\"']([a-z0-9_]+)[\"']", group) for group in groups]
    else:
        literals = []
        for node in ast.walk(tree):
            items = None
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = [k for k in node.keys if k is not None]
            if items is not None:
                literals.append(
                    [
                        i.value
                        for i in items
                        if isinstance(i, ast.Constant) and isinstance(i.value, str)
                    ]
                )
    return [found for found in (sorted(set(g) & names) for g in literals) if len(found) >= 2]


def test_the_detector_finds_a_hard_coded_list():
    names = {"alpha", "beta", "gamma"}  # stand-ins for claim names
    assert claim_name_groups('for c in ("alpha", "beta"): pass', names) == [["alpha", "beta"]]
    assert claim_name_groups('x = {"alpha": 1, "gamma": 2}', names) == [["alpha", "gamma"]]
    assert claim_name_groups('rule a:\n    input: expand(x, c=["alpha", "beta"])', names)
    assert claim_name_groups('x = ["alpha"]; y = {"claims": ["beta"]}', names) == []


def test_no_list_of_claim_names_is_hard_coded_outside_the_registry():
    names = set(claims())
    offenders = {
        str(path.relative_to(ROOT)): groups
        for path in CODE
        if (groups := claim_name_groups(path.read_text(), names))
    }
    assert not offenders, offenders


def test_the_registry_and_the_verdict_name_the_same_paper():
    """The claims table heads each claim with its verdict's paper; the registry entry must agree."""
    import importlib

    for name, claim in claims().items():
        assert importlib.import_module(f"{claim.package}.analysis").PAPER == claim.paper, name
