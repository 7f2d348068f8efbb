"""The claim registry: every claim is a package ``paperclaims/claims/<name>/`` whose ``claim.py``
declares ``CLAIM``, and everything that iterates over claims (the schema's claim list, the rules,
``rule all``, the claims table, tests, benchmarks) finds them here.

A claim package splits its science in two, so that a step's code hash covers what it runs:
``train.py`` (training or simulation: the expensive, cached runs) and ``analysis.py`` (measure,
checks, verdict). ``claim.py`` itself is torch-free: the Snakefile imports it on every call.

Each step declares the parameters it reads as a dataclass. A field's value comes from, in order:
a wildcard of the step's sweep (``wildcard()``), a derived seed (``seed(...)``), a computed value
(``computed(...)``), the whole claim config (``whole_config()``, recorded as provenance), or — by
default — the key of the same name in the step's config section. ``step_args`` resolves every field
for every cell when the Snakefile is parsed: a missing key, or a config key no step reads, is an
error naming the claim, the step and the key before any job runs.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperclaims.blocks import block_names, block_range
from paperclaims.config import ConfigError, at_path
from paperclaims.seeds import derive_seed

PACKAGE = Path(__file__).resolve().parent
CLAIMS_DIR = PACKAGE / "claims"

# ----------------------------------------------------------------------------------------------
# Where a parameter's value comes from (dataclass field metadata)

_SOURCE = "paperclaims.source"


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Seed:
    keys: tuple[str, ...]  # formatted with the cell's wildcards, e.g. ("stationary", "{lr}")


@dataclass(frozen=True)
class _Computed:
    function: Callable[[dict, dict], Any]  # (claim config, wildcards) → value
    reads: tuple[str, ...]  # dotted config keys (within the claim) it reads


@dataclass(frozen=True)
class _Key:
    path: str  # dotted, within the claim's config


@dataclass(frozen=True)
class _WholeConfig:
    pass


def wildcard():
    """The value of the step's wildcard of the same name, converted to the field's type."""
    return dataclasses.field(metadata={_SOURCE: _Wildcard()})


def seed(*keys: str):
    """A seed derived from (base seed, claim, *keys); keys are formatted with the wildcards.
    Without keys: the cell's wildcard values, in the step's sweep order."""
    return dataclasses.field(metadata={_SOURCE: _Seed(tuple(keys))})


# A computed value that a cell does not take (e.g. a threshold of one process only): the field is
# not passed to that cell, so changing it leaves the cell cached.
OMIT = type("Omit", (), {"__repr__": lambda self: "OMIT"})()


def computed(function: Callable[[dict, dict], Any], reads: tuple[str, ...] | list[str] = ()):
    """A value computed from the claim config and the cell's wildcards (strings); ``reads`` names
    the config keys it reads (dotted, within the claim), so they count as read. Return ``OMIT``
    for a cell that does not take the field."""
    return dataclasses.field(metadata={_SOURCE: _Computed(function, tuple(reads))})


def key(path: str):
    """The claim config's key at ``path`` (dotted, within the claim), not in the step's section."""
    return dataclasses.field(metadata={_SOURCE: _Key(path)})


def whole_config():
    """The claim's whole config, recorded in the verdict as provenance (reads no key on its own)."""
    return dataclasses.field(metadata={_SOURCE: _WholeConfig()})


# ----------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class RecordedConfig:
    """The params of a verdict that reads no key of its own: the claim config, recorded in
    verdict.json."""

    config: dict = whole_config()


@dataclass(frozen=True)
class Sweep:
    """One wildcard of a step: its name, its regex, and its values (strings, as in file names)
    from the claim config."""

    name: str
    pattern: str
    values: Callable[[dict], list]
    reads: tuple[str, ...] = ()  # dotted config keys the values come from
    # A block wildcard only cuts a cell's work into jobs (``Sweep.blocks``): it is no cell key, so
    # ``seed()`` leaves it out and the measure step merges the blocks (blocks.merge_blocks).
    block: bool = False

    @classmethod
    def of(cls, name: str, pattern: str, key: str, spell: Callable[[Any], str] = str) -> Sweep:
        """A wildcard whose values are the list at config ``key`` (dotted), each spelled by
        ``spell`` as in file names; the key counts as read."""
        return cls(name, pattern, lambda c: [spell(v) for v in at_path(c, key)], (key,))

    @classmethod
    def blocks(cls, name: str, items: str, per_job: str) -> Sweep:
        """A wildcard that cuts the items at config ``items`` (a list, or an int: the count) into
        consecutive blocks of ``per_job`` items, one job each (0: every item in one job). Values
        are inclusive index ranges, 'first-last' (``block_range``)."""

        def values(c: dict) -> list[str]:
            n = at_path(c, items)
            return block_names(n if isinstance(n, int) else len(n), at_path(c, per_job))

        return cls(name, "[0-9]+-[0-9]+", values, (items, per_job), block=True)


def block_of(items: str, wildcard_name: str):
    """A computed field: the list at config ``items`` restricted to this job's block (the
    wildcard ``wildcard_name``), so that changing one item reruns only its block."""

    def pick(config: dict, wildcards: dict) -> list:
        values = at_path(config, items)
        return [values[i] for i in block_range(wildcards[wildcard_name])]

    return computed(pick, reads=(items,))


@dataclass(frozen=True)
class TrainStep:
    """A training or simulation rule: one job per cell of its sweep (product of its wildcards)."""

    name: str  # the rule is <claim>_<name>
    function: str  # "train:simulate" within the claim package
    output: str  # within results/<claim>/, with the sweep's wildcards
    params: type
    section: str = ""  # dotted config section its plain fields come from ("" = the claim's top)
    sweep: tuple[Sweep, ...] = ()
    measured_as: str = ""  # the measure step's named input holding every cell of this step
    after: str = ""  # a step whose output (same wildcards) is this step's input
    mem_mb: int | Callable[[dict, dict], int] = 1000
    runtime: int = 30  # minutes, doubled on each retry (a killed job resumes from its checkpoint)
    # A job's cost up to a constant, from its params (step_args): the paper-scale estimate is a
    # default run's measured cost of this step × paper work / default work (paperclaims.scale).
    work: Callable[[dict], float] | None = None

    @property
    def label(self) -> str:
        return self.name

    @property
    def log(self) -> str:
        """Log and benchmark file name: the output's stem ("runs/theorem/{case}.nc" → "{case}")."""
        return Path(self.output).stem


@dataclass(frozen=True)
class Step:
    """The measure or verdict step of a claim (one job)."""

    function: str
    params: type
    section: str = ""
    mem_mb: int = 2000
    runtime: int = 20

    @property
    def label(self) -> str:
        """'analysis:verdict' → 'verdict'."""
        return self.function.partition(":")[2]


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str  # authors and what the paper says, one line (the rules file header of old)
    train: tuple[TrainStep, ...]
    measure: Step
    verdict: Step
    figures: tuple[str, ...]
    # Sweep cells the required checks read: (dotted list key, config.Contains). A config without
    # them fails validation before any job runs, instead of a check vanishing from the verdict.
    required_cells: tuple = ()
    # Config keys (dotted, within the claim) that only the notebook or the verdict's recorded
    # config uses: exempt from "read by no step".
    read_elsewhere: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return f"paperclaims.claims.{self.name}"

    def target(self, function: str) -> str:
        """'train:simulate' → 'paperclaims.claims.<name>.train:simulate'."""
        return f"{self.package}.{function}"

    def step(self, name: str) -> TrainStep:
        return next(s for s in self.train if s.name == name)

    def cells(self, step: TrainStep, config: dict) -> list[dict[str, str]]:
        """Every cell (wildcard values) of a train step under ``config`` (the claim's section)."""
        names = [s.name for s in step.sweep]
        values = [[str(v) for v in s.values(config)] for s in step.sweep]
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]

    def outputs(self, step: TrainStep, config: dict) -> list[str]:
        return [
            f"results/{self.name}/{step.output.format(**cell)}" for cell in self.cells(step, config)
        ]


@functools.cache
def claims() -> dict[str, Claim]:
    """Every claim package under paperclaims/claims/, by name (sorted)."""
    found = {}
    for path in sorted(CLAIMS_DIR.glob("*/claim.py")):
        name = path.parent.name
        claim = importlib.import_module(f"paperclaims.claims.{name}.claim").CLAIM
        if claim.name != name:
            raise RuntimeError(f"{path}: CLAIM.name is {claim.name!r}, its folder is {name!r}")
        found[name] = claim
    return found


def names() -> list[str]:
    return list(claims())


# ----------------------------------------------------------------------------------------------
# Step parameters, resolved and checked at parse time


def _has(config: dict, path: str) -> bool:
    try:
        at_path(config, path)
    except (KeyError, TypeError):
        return False
    return True


def _convert(value: str, kind) -> Any:
    kind = {"int": int, "float": float, "str": str}.get(kind, kind)  # string annotations
    return kind(value) if kind in (int, float) else value


def step_args(
    claim: Claim,
    step: TrainStep | Step,
    claim_config: dict,
    base_seed: int,
    wildcards: dict | None = None,
) -> dict:
    """The parameters ``step`` receives for one cell: exactly the fields of ``step.params``."""
    wildcards = dict(wildcards or {})
    where = f"claim '{claim.name}', step '{step.label}'"
    # the cell keys a seed derives from, in sweep order: block wildcards cut jobs, they are no
    # cell key (a step without a declared sweep: its wildcards as given)
    sweeps = getattr(step, "sweep", ())
    sweep_order = [s.name for s in sweeps if not s.block] if sweeps else list(wildcards)
    section = step.section
    args = {}
    for f in dataclasses.fields(step.params):
        source = f.metadata.get(_SOURCE)
        if isinstance(source, _Wildcard):
            if f.name not in wildcards:
                raise ConfigError(f"{where}: parameter '{f.name}' is a wildcard the step lacks")
            args[f.name] = _convert(wildcards[f.name], f.type)
        elif isinstance(source, _Seed):
            keys = [k.format(**wildcards) for k in source.keys]
            if not source.keys:
                keys = [wildcards[n] for n in sweep_order]
            args[f.name] = derive_seed(base_seed, claim.name, *keys)
        elif isinstance(source, _Computed):
            value = source.function(claim_config, wildcards)
            if value is not OMIT:
                args[f.name] = value
        elif isinstance(source, _WholeConfig):
            args[f.name] = claim_config
        else:
            path = source.path if isinstance(source, _Key) else f"{section}.{f.name}".strip(".")
            if not _has(claim_config, path):
                raise ConfigError(
                    f"{where}: parameter '{f.name}' reads config key '{claim.name}.{path}', which "
                    f"does not exist (declare it in workflow/schemas/{claim.name}.schema.yaml, or "
                    f"drop the field from {step.params.__name__})"
                )
            args[f.name] = at_path(claim_config, path)
    return args


def keys_read(claim: Claim) -> set[str]:
    """Dotted config keys (within the claim) that some step, sweep or computed value reads."""
    read = set(claim.read_elsewhere)
    steps = [(s.params, s.section) for s in claim.train]
    steps += [(claim.measure.params, claim.measure.section)]
    steps += [(claim.verdict.params, claim.verdict.section)]
    for params, section in steps:
        for f in dataclasses.fields(params):
            source = f.metadata.get(_SOURCE)
            if isinstance(source, _Computed):
                read.update(source.reads)
            elif isinstance(source, _Key):
                read.add(source.path)
            elif source is None:
                read.add(f"{section}.{f.name}".strip("."))
    for step in claim.train:
        for sweep in step.sweep:
            read.update(sweep.reads)
    return read


def _leaf_keys(config: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in config.items():
        path = f"{prefix}{k}"
        keys += _leaf_keys(v, path + ".") if isinstance(v, dict) and v else [path]
    return keys


def check_claim_config(claim: Claim, claim_config: dict, base_seed: int) -> None:
    """Resolve every step's parameters for every cell, and find config keys no step reads: both
    fail here, at parse time, naming the claim, the step and the key."""
    for step in claim.train:
        for cell in claim.cells(step, claim_config):
            step_args(claim, step, claim_config, base_seed, cell)
    for step in (claim.measure, claim.verdict):
        step_args(claim, step, claim_config, base_seed)
    read = keys_read(claim)
    for path in _leaf_keys(claim_config):
        if not any(path == r or path.startswith(r + ".") for r in read):
            raise ConfigError(
                f"claim '{claim.name}': config key '{claim.name}.{path}' is read by no step; "
                f"declare it in a step's params in paperclaims/claims/{claim.name}/claim.py "
                "(or in read_elsewhere, saying who reads it)"
            )
