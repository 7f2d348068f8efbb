"""The data checksum `paperclaims audit` checks: the same before writing and after reading back.

Regression tests for issue 12, point 8: `results/phases/measured.nc` read as hand-edited right
after a clean run. The file's `clean_step` was an int64 variable in the cleaned-runs file; the
measure step joined it onto all noise levels (NaN where ρ = 0, so float64) and its inherited int64
encoding wrote every NaN as -2**63. NaNs themselves keep their bytes through h5netcdf, but a
numeric fill value turns a sign-bit NaN (0xfff8…, what 0/0 and inf - inf give) into 0x7ff8…, so
the checksum canonicalises NaNs too.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from paperclaims.io import (
    PROVENANCE_KEYS,
    data_checksum,
    raw_data_checksum,
    read_dataset,
    write_dataset,
)

CHECKSUM_ATTR = "provenance_data_sha256"
PROV = {k: "" for k in PROVENANCE_KEYS} | {"params": json.dumps({}), "base_seed": 0}


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint64 if values.dtype.itemsize == 8 else np.uint32)


def _special(dtype) -> np.ndarray:
    """1.5, NaN with the sign bit from -nan and from inf - inf, canonical NaN, ±inf, ∓0."""
    with np.errstate(invalid="ignore"):
        arithmetic_nan = (np.array([np.inf]) - np.inf)[0]
    values = np.array(
        [1.5, -np.nan, arithmetic_nan, np.nan, np.inf, -np.inf, -0.0, 0.0], dtype=dtype
    )
    sign = np.signbit(values)
    assert sign[1] and sign[2] and not sign[3], "the sign-bit NaNs this test is about"
    return values


def _dataset(dtype) -> xr.Dataset:
    values = _special(dtype)
    return xr.Dataset(
        {
            "x": ("i", values),
            "grid": (("i", "j"), np.outer(values, np.ones(3, dtype=dtype))),
            "label": ("j", np.array(["a", "b", "c"], dtype=object)),
        },
        coords={"i": np.arange(len(values)), "j": np.array([0.5, np.nan, 2.0], dtype=dtype)},
    )


def _round_trip(ds: xr.Dataset, tmp_path, name="x.nc") -> xr.Dataset:
    return read_dataset(write_dataset(ds, tmp_path / name, PROV))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sign_bit_nan_and_infinities_hash_the_same_after_the_round_trip(dtype, tmp_path):
    ds = _dataset(dtype)
    back = _round_trip(ds, tmp_path)
    assert back["x"].dtype == dtype
    assert data_checksum(back) == data_checksum(ds) == back.attrs[CHECKSUM_ATTR]
    x = back["x"].values
    assert np.isnan(x[1:4]).all()
    assert x[4] == np.inf and x[5] == -np.inf
    assert np.signbit(x[6]) and not np.signbit(x[7])  # the round trip keeps -0.0: hashed as is


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_nan_sign_and_payload_do_not_change_the_checksum(dtype):
    base = np.array([1.0, np.nan, np.inf, -np.inf], dtype=dtype)
    other = base.copy()
    part = other.view(np.float64 if dtype == np.complex128 else dtype)
    k = 2 if dtype == np.complex128 else 1  # the NaN's (real) part
    _bits(part)[k] |= 1 << (part.dtype.itemsize * 8 - 1)  # sign bit
    _bits(part)[k] |= 1  # payload
    assert np.isnan(other[1]) and other.tobytes() != base.tobytes()
    a = xr.Dataset({"x": ("i", base)})
    b = xr.Dataset({"x": ("i", other)})
    assert data_checksum(a) == data_checksum(b)
    assert raw_data_checksum(a) != raw_data_checksum(b)


def test_byte_order_does_not_change_the_checksum():
    values = _special(np.float64)
    native = xr.Dataset({"x": ("i", values)})
    swapped = xr.Dataset({"x": ("i", values.astype(values.dtype.newbyteorder()))})
    assert data_checksum(native) == data_checksum(swapped)


def test_nan_free_data_keep_the_checksum_they_were_recorded_with():
    """Caches written before NaNs were canonicalised still match (the audit also accepts the raw
    checksum of a file with NaNs: raw_data_checksum)."""
    ds = xr.Dataset({"x": ("i", np.array([1.0, np.inf, -0.0])), "n": ("i", np.arange(3))})
    assert data_checksum(ds) == raw_data_checksum(ds)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_real_edit_still_changes_the_checksum(dtype, tmp_path):
    back = _round_trip(_dataset(dtype), tmp_path)
    recorded = back.attrs[CHECKSUM_ATTR]

    def edited(index, value):
        ds = back.copy(deep=True)
        ds["x"].values[index] = value
        return data_checksum(ds)

    assert edited(0, np.nextafter(dtype(1.5), dtype(2))) != recorded  # one ulp
    assert edited(1, 0.0) != recorded  # a NaN filled in
    assert edited(0, np.nan) != recorded  # a number dropped
    assert edited(4, -np.inf) != recorded  # +inf → -inf
    ds = back.copy(deep=True)
    ds["j"] = ds["j"].copy(data=ds["j"].values[::-1].copy())  # a coordinate
    assert data_checksum(ds) != recorded
    ds = back.copy()
    ds["x"] = ds["x"].astype(np.float64 if dtype == np.float32 else np.float32)
    assert data_checksum(ds) != recorded  # same numbers, other dtype


def test_inherited_numeric_fill_value_keeps_sign_bit_nans(tmp_path):
    """A _FillValue carried in the encoding would write NaN as -999 and read it back as 0x7ff8…."""
    ds = xr.Dataset({"x": ("i", _special(np.float64))})
    ds["x"].encoding["_FillValue"] = -999.0
    back = _round_trip(ds, tmp_path)
    assert data_checksum(back) == data_checksum(ds) == back.attrs[CHECKSUM_ATTR]
    assert ds["x"].encoding == {"_FillValue": -999.0}  # the caller's dataset is left alone


def test_a_variable_read_as_int_then_given_nans_is_written_as_float(tmp_path):
    """What phases' measure step does with `clean_step`: read as int64, joined onto a larger
    coordinate (NaN where it has no value), written. It used to be cast back to the int64
    encoding it was read with, every NaN stored as -2**63."""
    ints = xr.Dataset({"clean_step": ("noise", np.array([60, 80]))}, coords={"noise": [0.1, 0.2]})
    cleaned = _round_trip(ints, tmp_path, "cleaned.nc")
    assert cleaned["clean_step"].encoding.get("dtype") == np.dtype("int64")
    measured = xr.Dataset(coords={"noise": [0.0, 0.1, 0.2]}).assign(
        clean_step=cleaned["clean_step"]
    )
    assert measured["clean_step"].dtype == np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "invalid value encountered in cast"
        back = _round_trip(measured, tmp_path, "measured.nc")
    np.testing.assert_array_equal(back["clean_step"].values, [np.nan, 60.0, 80.0])
    assert data_checksum(back) == data_checksum(measured) == back.attrs[CHECKSUM_ATTR]
