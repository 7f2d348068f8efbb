"""Real data sets available offline: MNIST-1D (generated procedurally by the `mnist1d` package,
never its download path), scikit-learn's bundled digits, and MNIST IDX files a user already has."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Dataset:
    x_train: np.ndarray  # (N, features), float32, standardized with training statistics
    y_train: np.ndarray  # (N,), int64 class labels
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    return ((x_train - mean) / sd).astype(np.float32), ((x_test - mean) / sd).astype(np.float32)


def mnist1d(n_train: int = 4000, n_test: int = 1000, seed: int = 42) -> Dataset:
    """MNIST-1D generated offline (`mnist1d.data.make_dataset`), 40 features, 10 classes."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n_train + n_test
    args.train_split = n_train / (n_train + n_test)
    args.seed = seed
    raw = make_dataset(args)
    x_train, x_test = _standardize(raw["x"], raw["x_test"])
    return Dataset(
        x_train, raw["y"].astype(np.int64), x_test, raw["y_test"].astype(np.int64), 10, "mnist1d"
    )


def digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 images, 64 features, 10 classes)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = _standardize(x[train].astype(np.float64), x[test].astype(np.float64))
    return Dataset(
        x_train, y[train].astype(np.int64), x_test, y[test].astype(np.int64), 10, "digits"
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), optionally gzipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:2] != b"\x00\x00":
            raise ValueError(f"{path} is not an IDX file (bad magic number {magic!r})")
        dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[
            magic[2]
        ]
        shape = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
        data = np.frombuffer(f.read(), dtype=dtype)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape}, file holds {data.size} values")
    return data.reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 IDX file (used by tests to make small MNIST-format files)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def mnist_idx(directory: str | Path) -> Dataset:
    """Real MNIST from the four standard IDX files in ``directory`` (plain or .gz)."""
    directory = Path(directory)

    def load(stem: str) -> np.ndarray:
        for name in (stem, stem + ".gz"):
            if (directory / name).exists():
                return read_idx(directory / name)
        raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {directory}")

    x_train = load("train-images-idx3-ubyte").reshape(-1, 28 * 28).astype(np.float64) / 255
    x_test = load("t10k-images-idx3-ubyte").reshape(-1, 28 * 28).astype(np.float64) / 255
    x_train, x_test = _standardize(x_train, x_test)
    y_train = load("train-labels-idx1-ubyte").astype(np.int64)
    y_test = load("t10k-labels-idx1-ubyte").astype(np.int64)
    return Dataset(x_train, y_train, x_test, y_test, 10, "mnist")


def load(
    name: str, *, seed: int = 42, n_train: int = 4000, n_test: int = 1000, mnist_dir: str = ""
) -> Dataset:
    if name == "mnist1d":
        return mnist1d(n_train, n_test, seed)
    if name == "digits":
        return digits(seed=seed)
    if name == "mnist":
        if not mnist_dir:
            raise ValueError("data set 'mnist' needs the config path to the IDX files (mnist_dir)")
        return mnist_idx(mnist_dir)
    raise ValueError(f"unknown data set {name!r}; allowed: mnist1d, digits, mnist")
