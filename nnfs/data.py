"""Data sets for the lessons, all available offline.

* scikit-learn's 8x8 digits ship inside the scikit-learn package.
* MNIST cannot be downloaded here, so :func:`load_mnist` reads it from a local file in either of the two
  common formats: the four IDX files from the original distribution (optionally gzipped), or a single
  ``mnist.npz`` with ``x_train, y_train, x_test, y_test`` arrays.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


def train_test_split(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle with a seed and split.

    X: (N, ...) inputs; y: (N,) labels
    returns: X_train (N - M, ...), y_train (N - M,), X_test (M, ...), y_test (M,) with M = round(test_fraction N)
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    num_test = int(round(test_fraction * len(X)))
    test, train = order[:num_test], order[num_test:]
    return X[train], y[train], X[test], y[test]


def load_digits(test_fraction: float = 0.2, seed: int = 0, flatten: bool = True):
    """scikit-learn's handwritten digits, pixels scaled to [0, 1], split into train and test sets.

    returns: X_train (N_train, 64) or (N_train, 8, 8), y_train (N_train,) ints 0-9, X_test, y_test likewise
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = digits.images.astype(np.float64) / 16.0
    X = images.reshape(len(images), -1) if flatten else images
    return train_test_split(X, digits.target.astype(np.int64), test_fraction, seed)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the format MNIST is distributed in), gzipped or not.

    returns: the array with the shape stored in the file's header
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, num_dims = np.dtype(IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * num_dims
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(num_dims))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: header promises {expected} bytes of data for shape {shape}, "
                         f"file has {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: str | Path) -> Path:
    """Write an array as an IDX file (gzipped when the name ends in .gz); the inverse of :func:`read_idx`."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(dtype).newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    big_endian = array.astype(np.dtype(IDX_DTYPES[code]).newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(header + big_endian.tobytes())
    return path


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem} (or {stem}.gz)")


def load_mnist(path: str | Path, flatten: bool = True):
    """MNIST from a local copy: a folder with the four IDX files, or an ``.npz`` file.

    path: the folder or the .npz file
    returns: X_train (60000, 784) or (60000, 28, 28) floats in [0, 1], y_train (60000,) ints,
        X_test (10000, ...), y_test (10000,) -- or whatever sizes the local files hold
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No MNIST at {path}: download it once elsewhere (the four IDX files or "
                                "mnist.npz) and pass its location")
    if path.is_dir():
        arrays = {key: read_idx(_find_idx(path, stem)) for key, stem in MNIST_IDX_FILES.items()}
    else:
        with np.load(path) as archive:
            missing = set(MNIST_IDX_FILES) - set(archive.files)
            if missing:
                raise ValueError(f"{path} lacks {sorted(missing)}; it holds {sorted(archive.files)}")
            arrays = {key: archive[key] for key in MNIST_IDX_FILES}
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(f"{path}: {split} images have shape {images.shape} and labels {labels.shape}; "
                             "expected (N, H, W) and (N,)")
    result = []
    for split in ("train", "test"):
        images = arrays[f"x_{split}"].astype(np.float64) / 255.0
        result += [images.reshape(len(images), -1) if flatten else images, arrays[f"y_{split}"].astype(np.int64)]
    return tuple(result)


def text_corpus(name: str = "tiny_corpus.txt") -> str:
    """A text file shipped with the course (in nnfs/texts/), for the sequence and language-model lessons."""
    path = Path(__file__).with_name("texts") / name
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.txt")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"No text {name!r}; available: {available}")
    return path.read_text(encoding="utf-8")
