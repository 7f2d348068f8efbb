"""The audit: every figure's chain back to its cached runs, with provenance, and every fault found.

For each claim in the config the audit follows figure → executed notebook → verdict.json →
measured.nc → runs/**/*.nc, then the claims table (figures/claims.md), prints each file's
provenance (``provenance_*`` attrs written by ``paperclaims.io``; a verdict's or the table's
``computed_from`` record) and checks that every cached intermediate still matches the current
config and code:

- **stale**: the params stored in provenance differ from the params the current config gives the
  job, or Snakemake's own metadata says the rule's params (incl. the code hash), code or set of
  inputs changed, or the file is older than its inputs; a verdict or the table whose recorded
  ``computed_from`` (sha256 of each input file, the rule's code hash; see
  ``paperclaims.verdict.computed_from``) no longer matches its inputs' bytes or the current code
  hash, or that records nothing it was computed from;
- **hand-edited**: the data no longer match the checksum recorded when written
  (``provenance_data_sha256``, see ``data_checksum``), or — when no checksum is recorded — the file
  was modified after Snakemake recorded its job as finished;
- **truncated**: ``paperclaims.io.read_dataset`` cannot read it (a verdict: not valid JSON);
- **foreign**: a .nc whose provenance claim/rule does not match the rule that produces its path,
  that has no provenance at all, or that no rule of the current DAG produces;
- **missing**: a file of the DAG that does not exist.

Each fault comes with the command that rebuilds (or removes) the file. The DAG, each job's
params and Snakemake's metadata verdicts come from Snakemake itself (its Python API, run in a
subprocess in the workflow directory with the same config files).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import xarray as xr
import yaml

from paperclaims.io import data_checksum, raw_data_checksum

CHECKSUM_ATTR = "provenance_data_sha256"
FAULT_KINDS = ("stale", "hand-edited", "truncated", "foreign", "missing")
VERSION_KEYS = ("python", "torch", "numpy", "xarray", "paperclaims")
# A file written more than this many seconds after Snakemake recorded its job's end was edited.
MTIME_SLACK_S = 2.0
CLAIMS_TABLE = "figures/claims.md"
# The last line of figures/claims.md (paperclaims.verdict.claims_table).
TABLE_RECORD = re.compile(r"^<!-- computed_from: (\{.*\}) -->\s*$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Config, merged the way Snakemake merges it


def deep_update(base: dict, new: dict) -> dict:
    """Snakemake's ``update_config``: nested dicts merge, everything else is replaced."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def parse_config_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs as given to ``snakemake --config`` (values parsed as YAML)."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--config expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def load_config(directory: Path, configfiles: list[str], overrides: dict) -> dict:
    """The Snakefile's ``configfile: config/config.yaml``, then each --configfile, then --config."""
    from paperclaims.config import validate_config

    config: dict = {}
    default = directory / "config" / "config.yaml"
    for path in [default, *(directory / f for f in configfiles)]:
        if path == default and not path.exists():
            continue
        deep_update(config, yaml.safe_load(path.read_text()) or {})
    deep_update(config, json.loads(json.dumps(overrides)))
    return validate_config(config, directory / "workflow" / "schemas" / "config.schema.yaml")


# ---------------------------------------------------------------------------------------------
# The DAG, from Snakemake (runs in a subprocess: Snakemake's API keeps global state)


def dump_dag(directory: str, configfiles: list[str], overrides: dict) -> list[dict]:
    """Every job of the default target's DAG with its evaluated params and metadata verdicts."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        ResourceSettings,
    )

    with SnakemakeApi(OutputSettings(dryrun=True, quiet={"all"})) as api:
        wf_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(
                configfiles=[Path(directory, f) for f in configfiles], config=overrides
            ),
            snakefile=Path(directory, "Snakefile"),
            workdir=Path(directory),
        )
        dag_api = wf_api.dag(DAGSettings())
        workflow = dag_api.workflow_api._workflow
        workflow.dag_settings = dag_api.dag_settings
        workflow._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        dag, persistence = workflow.dag, workflow.persistence
        jobs = []
        for job in dag.jobs:
            reason = dag.reason(job)
            outputs = []
            for f in job.output:
                meta = persistence.metadata(f)
                outputs.append(
                    {
                        "path": str(f),
                        "exists": os.path.exists(str(f)),
                        "params_changed": bool(persistence.params_changed(job, file=f)),
                        "code_changed": bool(persistence.code_changed(job, file=f)),
                        "input_changed": bool(persistence.input_changed(job, file=f)),
                        "endtime": getattr(meta, "endtime", None) if meta else None,
                    }
                )
            jobs.append(
                {
                    "rule": job.rule.name,
                    "output": outputs,
                    "input": [str(f) for f in job.input],
                    "params": json.loads(json.dumps(dict(job.params.items()), default=str)),
                    "pending": bool(reason),
                    "reason": str(reason) if reason else "",
                    "updated_input": sorted(map(str, reason.updated_input)),
                    "updated_input_run": sorted(map(str, reason.updated_input_run)),
                }
            )
    return jobs


def snakemake_dag(directory: Path, configfiles: list[str], overrides: dict) -> list[dict]:
    env = dict(os.environ)
    package = directory / "workflow"
    if (package / "paperclaims").is_dir():  # the workflow's own library, as its jobs see it
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), env.get("PYTHONPATH")]))
    code = (
        "import json, sys; from paperclaims.audit import dump_dag; "
        "a = json.loads(sys.argv[1]); "
        "print('@@DAG@@' + json.dumps(dump_dag(a['d'], a['c'], a['o'])))"
    )
    arg = json.dumps({"d": str(directory), "c": configfiles, "o": overrides})
    proc = subprocess.run(
        [sys.executable, "-c", code, arg],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@DAG@@")]
    if proc.returncode != 0 or not marker:
        raise RuntimeError(
            f"Snakemake could not build the DAG in {directory}:\n{proc.stderr[-3000:]}"
        )
    return json.loads(marker[-1][len("@@DAG@@") :])


def expected_params(job_params: dict) -> dict:
    """What ``paperclaims.runner.run_step`` stores as ``provenance_params`` for these job params."""
    params = dict(job_params)
    params.pop("step", None)
    params.pop("code_hash", None)
    params.update(params.pop("args", {}) or {})
    params.pop("run", None)
    return json.loads(json.dumps(params, default=str))


# ---------------------------------------------------------------------------------------------
# The audit


@dataclass
class Fault:
    kind: str
    path: str
    reason: str
    command: str


@dataclass
class Entry:
    path: str
    role: str  # figure | notebook | verdict | measured | run | other | table
    rule: str | None = None
    provenance: dict = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    directory: str
    configfiles: list[str]
    claims: dict[str, list[Entry]] = field(default_factory=dict)
    tables: list[Entry] = field(default_factory=list)
    other: list[Entry] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        return [e for es in self.claims.values() for e in es] + self.tables + self.other

    @property
    def faults(self) -> list[Fault]:
        return [f for e in self.entries for f in e.faults]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(FAULT_KINDS, 0)
        for f in self.faults:
            counts[f.kind] += 1
        return counts

    def to_json(self) -> dict:
        return {
            "directory": self.directory,
            "configfiles": self.configfiles,
            "claims": {c: [asdict(e) for e in es] for c, es in self.claims.items()},
            "tables": [asdict(e) for e in self.tables],
            "other": [asdict(e) for e in self.other],
            "faults": [asdict(f) for f in self.faults],
            "counts": self.counts(),
            "ok": not self.faults,
        }


def _not_in_dag(path: str) -> Fault:
    """A file no rule of the current DAG produces: left over from another config or claim."""
    return Fault(
        "foreign", path, "no rule of the current DAG produces this file", shlex.join(["rm", path])
    )


class Auditor:
    def __init__(
        self,
        directory: str | Path = ".",
        configfiles: list[str] | None = None,
        config_overrides: list[str] | None = None,
        cores: int = 2,
    ):
        self.directory = Path(directory).resolve()
        self.configfiles = list(configfiles or [])
        self.config_args = list(config_overrides or [])
        self.overrides = parse_config_overrides(self.config_args)
        self.cores = cores
        self.config = load_config(self.directory, self.configfiles, self.overrides)
        self.jobs = snakemake_dag(self.directory, self.configfiles, self.overrides)
        self.producer: dict[str, dict] = {}
        for job in self.jobs:
            for out in job["output"]:
                self.producer[out["path"]] = job
        self.report = Report(str(self.directory), self.configfiles)

    # commands -----------------------------------------------------------------------------
    def snakemake_command(self, *args: str) -> str:
        words = ["snakemake", "--cores", str(self.cores)]
        if self.configfiles:
            words += ["--configfile", *self.configfiles]
        if self.config_args:
            words += ["--config", *self.config_args]
        return shlex.join([*words, *args])

    def rebuild(self, path: str) -> str:
        """Rebuild ``path`` and everything downstream of it in the default target."""
        return self.snakemake_command("--forcerun", path)

    # per-file checks ----------------------------------------------------------------------
    def _snakemake_faults(self, entry: Entry, job: dict, out: dict) -> None:
        path = entry.path
        if not out["exists"]:
            entry.faults.append(Fault("missing", path, "not built yet", self.rebuild(path)))
            return
        if out["code_changed"]:
            entry.faults.append(
                Fault(
                    "stale",
                    path,
                    "the rule's code changed (Snakemake metadata)",
                    self.rebuild(path),
                )
            )
        if out["input_changed"]:
            entry.faults.append(
                Fault("stale", path, "the rule's set of input files changed", self.rebuild(path))
            )
        if job["updated_input"]:
            newer = ", ".join(job["updated_input"])
            entry.faults.append(
                Fault("stale", path, f"older than its input(s) {newer}", self.rebuild(path))
            )
        elif job["updated_input_run"]:
            entry.notes.append(
                "will be rebuilt after its input(s) " + ", ".join(job["updated_input_run"])
            )

    def _params_faults(self, entry: Entry, job: dict, out: dict, stored: dict | None) -> None:
        path = entry.path
        now = expected_params(job["params"])
        if stored is not None and stored != now:
            keys = sorted(k for k in set(stored) | set(now) if stored.get(k) != now.get(k))
            diff = "; ".join(
                f"{k}: stored {stored.get(k)!r}, config now gives {now.get(k)!r}" for k in keys
            )
            entry.faults.append(Fault("stale", path, f"params differ — {diff}", self.rebuild(path)))
        elif out["params_changed"]:
            what = "the rule's params changed since it was built (Snakemake metadata)"
            if stored is not None and "code_hash" in job["params"]:
                what = (
                    "the claim's code hash (or run info such as device) changed since it was "
                    "built: Snakemake's recorded params differ, the stored provenance params match"
                )
            entry.faults.append(Fault("stale", path, what, self.rebuild(path)))
        run = job["params"].get("run") or {}
        base_seed = entry.provenance.get("base_seed")
        if base_seed is not None and "seed" in run and int(base_seed) != int(run["seed"]):
            entry.faults.append(
                Fault(
                    "stale",
                    path,
                    f"base seed {base_seed}, config now gives {run['seed']}",
                    self.rebuild(path),
                )
            )

    def check_netcdf(self, path: str, role: str, claim: str | None) -> Entry:
        from paperclaims.io import CorruptCacheError, read_dataset, read_provenance

        job = self.producer.get(path)
        entry = Entry(path, role, rule=job["rule"] if job else None)
        out = next((o for o in job["output"] if o["path"] == path), None) if job else None
        if not (self.directory / path).exists():
            entry.faults.append(Fault("missing", path, "not built yet", self.rebuild(path)))
            return entry
        try:
            ds = read_dataset(self.directory / path)
        except CorruptCacheError as err:
            cause = str(err).split(" is unreadable ", 1)[-1].split(". Delete it", 1)[0]
            command = self.rebuild(path) if job else shlex.join(["rm", path])
            orphan = "" if job else "; no rule of the current DAG produces it"
            entry.faults.append(Fault("truncated", path, f"unreadable {cause}{orphan}", command))
            return entry
        prov = read_provenance(ds)
        entry.provenance = prov
        if job is None:
            entry.faults.append(_not_in_dag(path))
            return entry
        if not prov:
            entry.faults.append(
                Fault("foreign", path, "no provenance attrs at all", self.rebuild(path))
            )
            return entry
        want_claim = (job["params"].get("run") or {}).get("claim", claim)
        if prov.get("claim") != want_claim or prov.get("rule") != job["rule"]:
            entry.faults.append(
                Fault(
                    "foreign",
                    path,
                    f"provenance says claim {prov.get('claim')!r}, rule {prov.get('rule')!r}; "
                    f"this path is made by claim {want_claim!r}, rule {job['rule']!r}",
                    self.rebuild(path),
                )
            )
            return entry
        self._check_checksum(entry, ds, out)
        self._params_faults(entry, job, out, prov.get("params"))
        self._snakemake_faults(entry, job, out)
        return entry

    def _check_checksum(self, entry: Entry, ds: xr.Dataset, out: dict) -> None:
        recorded = ds.attrs.get(CHECKSUM_ATTR)
        if recorded is not None:
            actual = data_checksum(ds)
            if actual != recorded and raw_data_checksum(ds) == recorded:
                entry.notes.append(
                    "checksum recorded over raw NaN bytes (written before NaNs were canonicalised)"
                )
            elif actual != recorded:
                entry.faults.append(
                    Fault(
                        "hand-edited",
                        entry.path,
                        f"data checksum {actual[:12]}… differs from the recorded {str(recorded)[:12]}…",
                        self.rebuild(entry.path),
                    )
                )
            return
        entry.notes.append("no checksum recorded")
        ended = out.get("endtime") if out else None
        mtime = (self.directory / entry.path).stat().st_mtime
        if ended is not None and mtime > ended + MTIME_SLACK_S:
            entry.faults.append(
                Fault(
                    "hand-edited",
                    entry.path,
                    f"modified {time.ctime(mtime)}, after its job ended {time.ctime(ended)} "
                    "(Snakemake metadata)",
                    self.rebuild(entry.path),
                )
            )

    def check_other(self, path: str, role: str) -> Entry:
        job = self.producer.get(path)
        entry = Entry(path, role, rule=job["rule"] if job else None)
        if job is None:
            entry.faults.append(_not_in_dag(path))
            return entry
        out = next(o for o in job["output"] if o["path"] == path)
        if out["params_changed"]:
            entry.faults.append(
                Fault(
                    "stale",
                    path,
                    "the rule's params changed (Snakemake metadata)",
                    self.rebuild(path),
                )
            )
        self._snakemake_faults(entry, job, out)
        if role == "notebook" and out["exists"]:
            entry.provenance = notebook_provenance(self.directory / path)
        return entry

    def check_computed(self, path: str, role: str) -> Entry:
        """A verdict.json or the claims table: Snakemake's checks, then its ``computed_from``
        record against its inputs' bytes now and the rule's code hash now."""
        entry = self.check_other(path, role)
        job, file = self.producer.get(path), self.directory / path
        if job is None or not file.exists():
            return entry
        try:
            record = read_computed_from(file)
        except (OSError, ValueError) as err:
            entry.faults.append(
                Fault(
                    "truncated",
                    path,
                    f"unreadable ({type(err).__name__}: {err})",
                    self.rebuild(path),
                )
            )
            return entry
        if not isinstance(record, dict) or not isinstance(record.get("inputs"), dict):
            entry.faults.append(
                Fault(
                    "stale",
                    path,
                    "records nothing it was computed from (no computed_from: inputs' checksums and "
                    "code hash)",
                    self.rebuild(path),
                )
            )
            return entry
        entry.provenance = {"computed_from": record}
        for name, recorded in sorted(record["inputs"].items()):
            source = self.directory / name
            if not source.is_file():
                why = f"its input {name} no longer exists"
            else:
                now = file_sha256(source)
                if now == recorded:
                    continue
                why = (
                    f"its input {name} changed after it was computed (sha256 now {now[:12]}…, "
                    f"recorded {str(recorded)[:12]}…)"
                )
            entry.faults.append(Fault("stale", path, why, self.rebuild(path)))
        wanted = sorted(job["input"])
        if sorted(record["inputs"]) != wanted:
            entry.faults.append(
                Fault(
                    "stale",
                    path,
                    f"computed from {sorted(record['inputs'])}; the rule now takes {wanted}",
                    self.rebuild(path),
                )
            )
        code = job["params"].get("code_hash")
        if code is not None:
            code = json.dumps(code) if isinstance(code, list) else str(code)  # as run_step does
            if record.get("code") != code:
                entry.faults.append(
                    Fault(
                        "stale",
                        path,
                        f"computed by code hash {record.get('code')!r}; the code now hashes {code!r}",
                        self.rebuild(path),
                    )
                )
        return entry

    # walking ------------------------------------------------------------------------------
    def run(self) -> Report:
        claims = list(self.config.get("claims", []))
        seen: set[str] = set()
        for claim in claims:
            entries: list[Entry] = []
            figures = sorted(
                {
                    str(p.relative_to(self.directory))
                    for p in (self.directory / "figures" / claim).glob("**/*")
                    if p.is_file()
                }
                | {p for p in self.producer if p.startswith(f"figures/{claim}/")}
            )
            for fig in figures:
                entries.append(self.check_other(fig, "figure"))
            notebook = f"results/{claim}/{claim}.ipynb"
            chain = (
                [notebook]
                if notebook in self.producer or (self.directory / notebook).exists()
                else []
            )
            for nb in chain:
                entries.append(self.check_other(nb, "notebook"))
            verdict = f"results/{claim}/verdict.json"
            if verdict in self.producer or (self.directory / verdict).exists():
                entries.append(self.check_computed(verdict, "verdict"))
            measured = f"results/{claim}/measured.nc"
            if measured in self.producer or (self.directory / measured).exists():
                entries.append(self.check_netcdf(measured, "measured", claim))
            runs = {
                str(p.relative_to(self.directory))
                for p in (self.directory / "results" / claim / "runs").glob("**/*.nc")
            }
            runs |= {
                p
                for p in self.producer
                if p.startswith(f"results/{claim}/runs/") and p.endswith(".nc")
            }
            others = {
                str(p.relative_to(self.directory))
                for p in (self.directory / "results" / claim).glob("**/*.nc")
            }
            others -= runs | {measured}
            for run in sorted(runs):
                entries.append(self.check_netcdf(run, "run", claim))
            for other in sorted(others):
                entries.append(self.check_netcdf(other, "other", claim))
            seen |= {e.path for e in entries}
            self.report.claims[claim] = entries
        if CLAIMS_TABLE in self.producer or (self.directory / CLAIMS_TABLE).exists():
            self.report.tables.append(self.check_computed(CLAIMS_TABLE, "table"))
        from paperclaims.registry import names

        known = set(names())
        for p in sorted((self.directory / "results").glob("**/*.nc")):
            rel = str(p.relative_to(self.directory))
            if rel in seen:
                continue
            parts = p.relative_to(self.directory / "results").parts
            if len(parts) > 1 and parts[0] in known and parts[0] not in claims:
                continue  # a claim not selected in this config: not audited
            self.report.other.append(self.check_netcdf(rel, "other", None))
        return self.report


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_computed_from(path: Path) -> dict | None:
    """The ``computed_from`` record of a verdict.json (top-level key) or of the claims table (its
    last ``<!-- computed_from: {…} -->`` line); None when it records none. ValueError when a
    verdict is not JSON."""
    text = path.read_text()
    if path.suffix == ".json":
        verdict = json.loads(text)
        return verdict.get("computed_from") if isinstance(verdict, dict) else None
    found = TABLE_RECORD.findall(text)
    return json.loads(found[-1]) if found else None


def notebook_provenance(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, ValueError):
        return {}
    return {
        k: meta.get(k)
        for k in ("input_path", "output_path", "parameters", "start_time", "end_time", "version")
        if k in meta
    }


# ---------------------------------------------------------------------------------------------
# Text output


def _short_params(params, limit: int = 160) -> str:
    text = json.dumps(params, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(entry: Entry) -> list[str]:
    prov = entry.provenance
    lines = []
    if entry.role in ("verdict", "table") and prov:
        record = prov["computed_from"]
        inputs = ", ".join(f"{k} ({str(v)[:12]}…)" for k, v in sorted(record["inputs"].items()))
        lines.append(f"computed from {inputs or 'no inputs'}; code {record.get('code')}")
    elif entry.role == "notebook" and prov:
        lines.append(
            f"papermill {prov.get('input_path')} → {prov.get('output_path')}, "
            f"parameters {json.dumps(prov.get('parameters', {}), sort_keys=True)}, "
            f"ran {prov.get('start_time')} .. {prov.get('end_time')}"
        )
    elif prov:
        commit = str(prov.get("git_commit", "?"))[:12]
        dirty = " (dirty)" if int(prov.get("git_dirty", 0) or 0) else ""
        versions = " ".join(
            f"{k}={prov[f'{k}_version']}" for k in VERSION_KEYS if f"{k}_version" in prov
        )
        lines.append(
            f"claim={prov.get('claim')} rule={prov.get('rule')} commit={commit}{dirty} "
            f"base_seed={prov.get('base_seed')} device={prov.get('device')} dtype={prov.get('dtype') or '-'}"
        )
        lines.append(f"params={_short_params(prov.get('params'))}")
        lines.append(f"versions: {versions}")
        if CHECKSUM_ATTR in prov or "data_sha256" in prov:
            lines.append(f"data_sha256={str(prov.get('data_sha256'))[:16]}…")
    return lines


def format_text(report: Report) -> str:
    out = [f"paperclaims audit of {report.directory}"]
    if report.configfiles:
        out.append(f"config files: config/config.yaml + {' '.join(report.configfiles)}")
    arrows = {
        "figure": "",
        "notebook": "← ",
        "verdict": "  ← ",
        "measured": "  ← ",
        "run": "    ← ",
        "other": "    ? ",
    }
    for claim, entries in report.claims.items():
        out.append("")
        out.append(f"claim {claim}")
        for e in entries:
            status = (
                "OK" if not e.faults else "FAULT " + ",".join(sorted({f.kind for f in e.faults}))
            )
            rule = f" [rule {e.rule}]" if e.rule else ""
            pad = "  " + arrows.get(e.role, "")
            out.append(f"{pad}{e.role} {e.path}{rule}: {status}")
            for line in describe(e):
                out.append(f"{' ' * len(pad)}    {line}")
            for note in e.notes:
                out.append(f"{' ' * len(pad)}    note: {note}")
            for f in e.faults:
                out.append(f"{' ' * len(pad)}    {f.kind.upper()}: {f.reason}")
                out.append(f"{' ' * len(pad)}      fix: {f.command}")
    for e in report.tables:
        out.append("")
        status = "OK" if not e.faults else "FAULT " + ",".join(sorted({f.kind for f in e.faults}))
        rule = f" [rule {e.rule}]" if e.rule else ""
        out.append(f"claims table {e.path}{rule}: {status}")
        for line in describe(e):
            out.append(f"    {line}")
        for f in e.faults:
            out.append(f"    {f.kind.upper()}: {f.reason}")
            out.append(f"      fix: {f.command}")
    if report.other:
        out.append("")
        out.append("outside the selected claims' chains")
        for e in report.other:
            status = (
                "OK" if not e.faults else "FAULT " + ",".join(sorted({f.kind for f in e.faults}))
            )
            out.append(f"  {e.path}: {status}")
            for f in e.faults:
                out.append(f"    {f.kind.upper()}: {f.reason}")
                out.append(f"      fix: {f.command}")
    faults = report.faults
    if faults:
        out.append("")
        out.append("faults and the commands that fix them:")
        for f in faults:
            out.append(f"  {f.kind}: {f.path}")
            out.append(f"    {f.command}")
        rebuild = sorted({f.path for f in faults if "--forcerun" in f.command})
        if rebuild:
            first = next(f.command for f in faults if "--forcerun" in f.command)
            words = shlex.split(first)
            words = words[: words.index("--forcerun") + 1] + rebuild
            out.append("all at once:")
            out.append(f"  {shlex.join(words)}")
        removals = sorted(f.path for f in faults if f.command.startswith("rm "))
        if removals:
            out.append(f"  {shlex.join(['rm', *removals])}")
    counts = report.counts()
    files = len(report.entries)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    verdict = "FAILED" if faults else "PASSED"
    out.append("")
    out.append(f"audit {verdict}: {files} files checked, {len(faults)} faults ({summary})")
    return "\n".join(out)
