"""Glue between a Snakemake job and a claim's step function.

Every rule that runs science calls ``workflow/scripts/step.py``, which hands the ``snakemake``
object here. The step function named by ``params.step`` ("module:function") receives a ``Step``:
inputs, outputs, plain-value params, and a ``write`` that stamps provenance on every dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from paperclaims.checkpoint import Checkpoint
from paperclaims.device import resolve_device, set_threads
from paperclaims.io import provenance, write_dataset

log = logging.getLogger("paperclaims")


@dataclass
class Step:
    claim: str
    rule: str
    input: Any
    output: Any
    params: dict
    base_seed: int
    threads: int = 1
    device_name: str = "cpu"
    dtype: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def device(self):
        return resolve_device(self.device_name)

    def checkpoint(self) -> Checkpoint:
        """Resumable state of this job, beside its first output; removed when the job succeeds.
        Keyed by the job's rule, params, seed, device and code hash: a checkpoint left by a
        killed job of another version (a config or code edit since) is not resumed."""
        out = Path(self.output[0])
        identity = [self.rule, self.params, self.base_seed, self.device_name, self.dtype]
        identity.append(self.extra.get("code_hash", ""))
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
        return Checkpoint(out.with_name(f".{out.name}.checkpoint.pt"), key=key.hexdigest())

    def write(self, ds: xr.Dataset, path: str | Path) -> Path:
        prov = provenance(
            claim=self.claim,
            rule=self.rule,
            params=self.params,
            base_seed=self.base_seed,
            device=str(self.device),
            dtype=self.dtype,
        )
        return write_dataset(ds, path, prov)


def _resolve(target: str):
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def run_step(smk) -> None:
    """Entry point used by step.py with the Snakemake ``snakemake`` object."""
    params = dict(smk.params.items())
    target = params.pop("step")
    # the code hash makes Snakemake rerun on code changes; verdicts record it (computed_from)
    code_hash = params.pop("code_hash", "")
    params.update(params.pop("args", {}))  # a rule's per-cell parameters, passed as one dict
    params = json.loads(
        json.dumps(params, default=str)
    )  # plain types (wildcards are str subclasses)
    run = params.pop("run", {})
    step = Step(
        claim=run.get("claim", target.split(".")[-1].split(":")[0]),
        rule=smk.rule,
        input=smk.input,
        output=smk.output,
        params=params,
        base_seed=int(run.get("seed", 0)),
        threads=int(smk.threads),
        device_name=run.get("device", "cpu"),
        dtype=run.get("dtype", ""),
        extra={"code_hash": json.dumps(code_hash) if isinstance(code_hash, list) else code_hash},
    )
    log_path = smk.log[0] if len(smk.log) else None
    with _logging_to(log_path):
        set_threads(step.threads)
        t0 = time.perf_counter()
        log.info("rule %s: %s with params %s", smk.rule, target, params)
        _resolve(target)(step)
        step.checkpoint().clear()
        log.info("rule %s finished in %.1f s", smk.rule, time.perf_counter() - t0)


@contextlib.contextmanager
def _logging_to(path):
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.INFO)
    try:
        yield
    except Exception:
        log.exception("step failed")
        raise
    finally:
        for h in handlers:
            root.removeHandler(h)
            h.close()
