"""netCDF I/O with provenance, written atomically; clear errors for corrupt cache files."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

import paperclaims

PROVENANCE_KEYS = (
    "claim",
    "rule",
    "params",
    "base_seed",
    "git_commit",
    "git_dirty",
    "python_version",
    "torch_version",
    "numpy_version",
    "xarray_version",
    "paperclaims_version",
    "device",
    "dtype",
)


class CorruptCacheError(RuntimeError):
    """A cached intermediate cannot be read; the message says how to rebuild it."""


@lru_cache(maxsize=1)
def git_state() -> tuple[str, bool]:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", True


def provenance(
    *, claim: str, rule: str, params: dict, base_seed: int, device: str = "cpu", dtype: str = ""
) -> dict[str, str | int]:
    import torch

    commit, dirty = git_state()
    return {
        "claim": claim,
        "rule": rule,
        "params": json.dumps(params, sort_keys=True, default=str),
        "base_seed": int(base_seed),
        "git_commit": commit,
        "git_dirty": int(dirty),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "paperclaims_version": paperclaims.__version__,
        "device": str(device),
        "dtype": str(dtype),
    }


def data_checksum(ds: xr.Dataset) -> str:
    """sha256 over every variable (data variables and coordinates) of ``ds``, in sorted order.

    Each variable contributes its name, dims, dtype, shape and values. Numbers are hashed as their
    bytes in native byte order with every NaN made the canonical quiet NaN (see
    ``_canonical_numbers``), strings/objects as JSON, so a dataset hashes the same before it is
    written to netCDF and after it is read back; attrs (provenance included) are not part of the
    checksum. ±inf and -0.0 are hashed as they are: the round trip keeps them.
    """
    return _checksum(ds, canonical_nan=True)


def raw_data_checksum(ds: xr.Dataset) -> str:
    """The checksum files written before NaNs were canonicalised recorded (NaN bytes as they
    were); ``paperclaims audit`` accepts it so older caches do not read as hand-edited."""
    return _checksum(ds, canonical_nan=False)


def _checksum(ds: xr.Dataset, canonical_nan: bool) -> str:
    digest = hashlib.sha256()
    for name in sorted(map(str, ds.variables)):
        var = ds.variables[name]
        values = np.asarray(var.values)
        text = values.dtype.kind in "OUS"
        if not text and canonical_nan:
            values = _canonical_numbers(values)
        digest.update(name.encode() + b"\0")
        digest.update(json.dumps(list(map(str, var.dims))).encode() + b"\0")
        digest.update(("str" if text else values.dtype.str).encode() + b"\0")
        digest.update(json.dumps(list(values.shape)).encode() + b"\0")
        if text:
            flat = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]
            digest.update(json.dumps(flat).encode())
        else:
            digest.update(np.ascontiguousarray(values).tobytes())
        digest.update(b"\1")
    return digest.hexdigest()


def _canonical_numbers(values: np.ndarray) -> np.ndarray:
    """``values`` in native byte order, every NaN (any sign or payload) as the dtype's canonical
    quiet NaN. NaNs computed by arithmetic carry the sign bit (0xfff8… from 0/0 or inf - inf on
    x86); a fill value round trip (a numeric ``_FillValue`` written, then decoded to NaN) gives
    0x7ff8…: the same data either way."""
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    if values.dtype.kind == "c":
        out = np.empty_like(values)
        out.real, out.imag = _canonical_numbers(values.real), _canonical_numbers(values.imag)
        return out
    if values.dtype.kind != "f":
        return values
    nan = np.isnan(values)
    return np.where(nan, values.dtype.type(np.nan), values) if nan.any() else values


def write_dataset(ds: xr.Dataset, path: str | Path, prov: dict) -> Path:
    """Write ``ds`` with provenance attrs to ``path`` atomically (temp file + rename)."""
    missing = [k for k in PROVENANCE_KEYS if k not in prov]
    if missing:
        raise ValueError(f"provenance lacks {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    for var in ds.variables.values():
        # Encodings come along from the files a step read (dtype, _FillValue, chunks…). Written
        # as they are they can change the data: a variable read as int64 that a step turned into
        # float with NaNs (an outer join, a reindex) would be cast back to int64 with every NaN
        # as -2**63. Each dataset is written as it is in memory, so what is read back is what
        # the step computed and what the recorded checksum describes.
        var.encoding = {}
    ds.attrs.update({f"provenance_{k}": v for k, v in prov.items()})
    ds.attrs["provenance_data_sha256"] = data_checksum(ds)  # `paperclaims audit` detects hand edits
    for var in [ds, *ds.variables.values()]:  # h5netcdf cannot store numpy/str-subclass attrs
        var.attrs = {k: _plain(v) for k, v in var.attrs.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _plain(value):
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_dataset(path: str | Path) -> xr.Dataset:
    """Load a cached dataset fully into memory, or say which file is bad and how to rebuild it."""
    path = Path(path)
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except FileNotFoundError:
        raise
    except Exception as err:  # h5py/xarray raise many types for a damaged file
        raise CorruptCacheError(
            f"cached file {path} is unreadable ({type(err).__name__}: {err}). "
            f"Delete it and rebuild with: snakemake --cores 2 --force {path}"
        ) from err


def read_provenance(ds: xr.Dataset) -> dict:
    prov = {k[len("provenance_") :]: v for k, v in ds.attrs.items() if k.startswith("provenance_")}
    if "params" in prov:
        prov["params"] = json.loads(prov["params"])
    return prov


def write_json(obj, path: str | Path) -> Path:
    """Atomic JSON write (verdicts, tables)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
