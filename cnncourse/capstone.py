"""The capstone's building blocks, and the script that assembles them for one process or under torchrun.

notebooks/12_capstone.ipynb assembles the recipe in its own cells from the pieces here:
:func:`load_data`, :func:`build_model` (the small ResNet, or the LeNet-style baseline of its
ablation), :func:`parameter_groups` (weight decay on conv/linear weights only),
:func:`augmentation`, :class:`ShardedLoader`, :func:`warmup_steps` with
``cnncourse.schedules.make_scheduler("warmup_cosine", ...)``, and ``cnncourse.train.fit``.
:func:`train` assembles the same pieces the same way for this module's command line, which
also runs data-parallel under ``torchrun``::

    python -m cnncourse.capstone --help
    python -m cnncourse.capstone --dataset mnist-offline --epochs 8
    torchrun --nproc_per_node=2 -m cnncourse.capstone --backend gloo --epochs 8

The recipe, and the chapter that teaches each part (whether a part helped is what that
chapter's claims ledger records, in ``<course home>/outputs/claims``):

* BatchNorm in every block (chapter 05);
* per-sample augmentation on the device, per-channel standardisation (chapter 06);
* cross-entropy with label smoothing 0.1 (chapter 07);
* SGD with Nesterov momentum 0.9 (chapter 08), weight decay 5e-4 on conv/linear weights only
  (chapter 10; decay on BatchNorm's scale and shift only fights the normalisation);
* linear warm-up (one epoch, at most a fifth of the run) then cosine decay, stepped every batch (chapter 09);
* early stopping on the validation accuracy with the best weights restored (chapter 11);
* on CUDA: bf16 (or fp16 + loss scaling) autocast and channels_last, as planned by
  :func:`cnncourse.train.precision_plan`.

Data-parallel training (``torchrun``): every rank holds the whole (small) tensor data set,
draws the same seeded permutation every epoch (as ``DistributedSampler`` does), forms the same
*global* batch, augments it with the same seeded generator and keeps its share (positions
rank, rank + world, ...). DDP averages the gradients, so a step sees exactly the images of the
one-process run with the same ``--batch-size`` (the global batch). What still differs:
BatchNorm's batch statistics come from each rank's half batch (SyncBatchNorm fixes that, but
only on CUDA) and float sums run in another order. Rank 0 prints, evaluates and saves.

Taught in notebooks/12_capstone.ipynb.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from . import data, runtime
from .augment import AugmentStrength, BatchAugment
from .models import LeNet5, ResNetConfig, SmallResNet
from .schedules import make_scheduler
from .train import (CheckpointError, EarlyStopping, History, check_checkpoint_path, evaluate, fit, precision_plan,
                    save_checkpoint)

__all__ = [
    "CapstoneConfig",
    "Standardize",
    "RandomFlip",
    "augmentation",
    "ShardedLoader",
    "CapstoneResult",
    "load_data",
    "ARCHITECTURES",
    "build_model",
    "parameter_groups",
    "make_optimizer",
    "warmup_steps",
    "train",
    "build_parser",
    "parse_args",
    "main",
]


@dataclass(frozen=True)
class CapstoneConfig:
    """Everything a capstone run depends on. ``batch_size`` is the *global* batch (all ranks together)."""

    dataset: str = "auto"               # "auto" (CIFAR-10 if it can be loaded, else offline digits), "cifar10", "mnist-offline"
    epochs: int = 15
    batch_size: int = 128
    train_size: int | None = None       # None: all
    test_size: int | None = None
    widths: tuple[int, ...] = (16, 32, 64)
    blocks_per_stage: int = 2
    lr: float = 0.1                     # peak learning rate, reached after the warm-up
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    augment: bool = True
    patience: int = 5                   # early stopping on val_acc; 0 switches it off
    seed: int = 0

    def __post_init__(self):
        if self.dataset not in ("auto", "cifar10", "mnist-offline"):
            raise ValueError(f"CapstoneConfig: dataset must be 'auto', 'cifar10' or 'mnist-offline'; got {self.dataset!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"CapstoneConfig: epochs and batch_size must be >= 1; got {self.epochs}, {self.batch_size}")
        if not self.widths or min(self.widths) < 1 or self.blocks_per_stage < 1:
            raise ValueError(f"CapstoneConfig: widths and blocks_per_stage must be >= 1; got {self.widths}, {self.blocks_per_stage}")
        if self.patience < 0:
            raise ValueError(f"CapstoneConfig: patience must be >= 0 (0 switches early stopping off); got {self.patience}")


class Standardize(nn.Module):
    """(x − mean) / std per channel, as the model's first layer, so the model takes images in [0, 1].

    The statistics are buffers: they travel with the checkpoint, and ``predict`` on raw images just works.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) in [0, 1] -> standardised (N, C, H, W)."""
        return (x - self.mean) / self.std


class RandomFlip:
    """Flip each image of a batch (N, C, H, W) left-right with probability 1/2 (for photos, not digits)."""

    def __init__(self, seed: int = 0):
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        flip = (torch.rand(images.shape[0], generator=self.generator) < 0.5).to(images.device)
        return torch.where(flip[:, None, None, None], images.flip(-1), images)


def augmentation(dataset_name: str, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-sample augmentation of chapter 06 for a data set: digits are never flipped, photos are."""
    if dataset_name == "cifar10":  # 4-pixel shifts of a 32x32 image (He et al. 2016) and flips
        shift = BatchAugment(AugmentStrength(rotation=0.0, scale=0.0, translate=4 / 32), seed=seed)
        flip = RandomFlip(seed + 1)
        return lambda x: flip(shift(x))
    return BatchAugment(AugmentStrength(rotation=10.0, scale=0.1, translate=0.1), seed=seed)


class ShardedLoader:
    """Batches of one rank's share of the global batches, like ``DistributedSampler`` for tensor data.

    Every epoch, all ranks draw the same permutation from ``seed`` and the epoch number, pad it
    (by repeating its start) to a multiple of ``world_size``, and cut it into global batches of
    ``batch_size``. ``transform`` is applied to the *global* batch (the same random draw on every
    rank), then rank r keeps positions r, r + world_size, ... of it. With ``world_size=1`` this is
    an ordinary shuffling loader. Yields (images (B / world, C, H, W), labels (B / world,)).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, rank: int = 0,
                 world_size: int = 1, seed: int = 0, transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"ShardedLoader: {images.shape[0]} images but {labels.shape[0]} labels")
        if not 0 <= rank < world_size:
            raise ValueError(f"ShardedLoader: rank must be in [0, {world_size}); got {rank}")
        if batch_size % world_size:
            raise ValueError(f"ShardedLoader: the global batch {batch_size} does not split over {world_size} ranks")
        self.images, self.labels = images, labels
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.seed, self.transform, self.epoch = seed, transform, 0

    @property
    def device(self) -> torch.device:
        return self.images.device

    def _padded_size(self) -> int:
        n = self.images.shape[0]
        return -(-n // self.world_size) * self.world_size

    def __len__(self) -> int:
        return -(-self._padded_size() // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Images per epoch over all ranks (the data set, padded to a multiple of the world size)."""
        return self._padded_size()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.images.shape[0]
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)  # same on every rank
        order = torch.randperm(n, generator=gen)
        order = torch.cat([order, order[: self._padded_size() - n]])
        self.epoch += 1
        for start in range(0, order.numel(), self.batch_size):
            idx = order[start:start + self.batch_size].to(self.device)  # the global batch
            x, y = self.images[idx], self.labels[idx]
            if self.transform is not None:
                x = self.transform(x)
            yield x[self.rank::self.world_size], y[self.rank::self.world_size]


@dataclass
class CapstoneResult:
    """What a run produced: the trained model (on its device), its history, test numbers and where it ran."""

    model: nn.Module
    history: History
    test_loss: float
    test_acc: float
    seconds: float
    images_per_second: float
    dataset: str
    device: str
    precision: str
    world_size: int = 1
    config: CapstoneConfig = field(default_factory=CapstoneConfig)

    def summary(self) -> str:
        return (f"test accuracy {self.test_acc:.4f} on {self.dataset} after {len(self.history)} epoch(s) "
                f"in {self.seconds:.1f} s ({self.images_per_second:,.0f} training images/s), "
                f"on {self.device}, {self.precision}, {self.world_size} process(es)")


def load_data(config: CapstoneConfig, download: bool = True) -> data.Splits:
    """Train / validation / test splits for the config's data set.

    "auto" and "cifar10" load CIFAR-10 (downloading it if ``download``); when it cannot be
    loaded, ``cnncourse.data`` says so in one sentence and the offline MNIST digits are used.
    """
    kwargs = dict(seed=config.seed, train_size=config.train_size, test_size=config.test_size)
    if config.dataset == "mnist-offline":
        return data.load_splits("mnist-offline", **kwargs)
    if not download and data.available_datasets().get("cifar10") != "downloaded":
        return data.load_splits("mnist-offline", **kwargs)  # what rank 0 fell back to, without a second try
    return data.load_splits("cifar10", download=True, fallback=True, **kwargs)


ARCHITECTURES = ("resnet", "lenet")


def build_model(config: CapstoneConfig, splits: data.Splits, architecture: str = "resnet") -> nn.Sequential:
    """Standardize (statistics of the training images) -> the network, sized for the data.

    ``architecture="resnet"``: the capstone's :class:`~cnncourse.models.SmallResNet` (``config.widths``,
    ``config.blocks_per_stage``); ``"lenet"``: the LeNet-style baseline of the chapter's ablation,
    :class:`~cnncourse.models.LeNet5` (ReLU, max pooling, no normalisation, three fully connected layers).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"build_model: architecture must be one of {ARCHITECTURES}; got {architecture!r}")
    mean, std = data.channel_stats(splits.train.images)
    channels, size = splits.train.shape[0], splits.train.shape[1]
    classes = len(splits.train.classes)
    if architecture == "lenet":
        net: nn.Module = LeNet5(in_channels=channels, num_classes=classes, image_size=size)
    else:
        net = SmallResNet(ResNetConfig(in_channels=channels, num_classes=classes,
                                       widths=tuple(config.widths), blocks_per_stage=config.blocks_per_stage))
    return nn.Sequential(Standardize(mean, std.clamp_min(1e-3)), net)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The optimizer's two parameter groups: ``weight_decay`` on conv and linear weights (ndim > 1),
    none on BatchNorm's scale and shift and on biases (ndim <= 1)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: CapstoneConfig) -> torch.optim.Optimizer:
    """SGD + Nesterov momentum over :func:`parameter_groups` (decay on weights, none on norms and biases)."""
    return torch.optim.SGD(parameter_groups(model, config.weight_decay), lr=config.lr,
                           momentum=config.momentum, nesterov=True)


def warmup_steps(config: CapstoneConfig, steps_per_epoch: int) -> int:
    """Batches of linear warm-up: ``warmup_epochs``, but at most a fifth of a short run (so the
    cosine part always happens) and fewer than the whole run."""
    total = config.epochs * steps_per_epoch
    return min(max(1, round(min(config.warmup_epochs, config.epochs / 5) * steps_per_epoch)), total - 1)


def _world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _broadcast_val_metrics(dev: torch.device):
    """An ``on_epoch_end`` hook: every rank adopts rank 0's validation numbers, so early stopping agrees."""
    def hook(_epoch: int, history: History) -> None:
        numbers = torch.tensor([history.val_loss[-1], history.val_acc[-1]], dtype=torch.float64, device=dev)
        torch.distributed.broadcast(numbers, src=0)
        history.val_loss[-1], history.val_acc[-1] = numbers.tolist()
    return hook


def train(config: CapstoneConfig, splits: data.Splits | None = None, *, device: torch.device | str | None = None,
          progress: bool = True, live_plot: bool | str = "auto", checkpoint: str | Path | None = None) -> CapstoneResult:
    """Train the capstone model with the recipe; one process, or one rank of a ``torchrun`` job.

    The script's assembly of the building blocks (the chapter assembles the same ones in its
    cells): :func:`build_model`, :func:`make_optimizer` (:func:`parameter_groups`),
    :class:`ShardedLoader` with :func:`augmentation`, warm-up + cosine with :func:`warmup_steps`,
    label-smoothed cross-entropy, early stopping on val_acc, ``cnncourse.train.fit``. Under an initialised process group the model is wrapped in ``DistributedDataParallel``,
    every rank trains on its share of each global batch, and only rank 0 shows progress,
    plots and writes the checkpoint. Returns a :class:`CapstoneResult` (on every rank).
    """
    rank, world = _world()
    if checkpoint is not None and rank == 0:
        checkpoint = check_checkpoint_path(checkpoint)  # a bad path fails now, not after the training
    dev = torch.device(device) if device is not None else runtime.device()
    if splits is None:
        if world > 1 and rank > 0:
            torch.distributed.barrier()  # rank 0 downloads first, the others read its files
        splits = load_data(config, download=rank == 0)
        if world > 1 and rank == 0:
            torch.distributed.barrier()
    runtime.seed_everything(config.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    model = build_model(config, splits).to(dev)
    if world > 1 and dev.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # batch statistics over the global batch
    transform = augmentation(splits.train.name, config.seed) if config.augment else None
    train_loader = ShardedLoader(splits.train.images.to(dev), splits.train.labels.to(dev), config.batch_size,
                                 rank=rank, world_size=world, seed=config.seed, transform=transform)
    val_loader = data.TensorLoader(splits.val, batch_size=512, device=dev)
    optimizer = make_optimizer(model, config)
    # chapter 09's warm-up + cosine (LinearLR then CosineAnnealingLR to 0), stepped every batch
    scheduler = make_scheduler("warmup_cosine", optimizer, config.epochs * len(train_loader),
                               warmup_steps=warmup_steps(config, len(train_loader)))
    plan = precision_plan(dev)
    if plan.channels_last:  # before DDP builds its gradient buckets, so their strides match
        model = model.to(memory_format=torch.channels_last)
    trained = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index or 0] if dev.type == "cuda" else None)
    start = time.perf_counter()
    history = fit(trained, train_loader, val_loader, epochs=config.epochs, optimizer=optimizer,
                  loss_fn=nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
                  scheduler=scheduler, scheduler_step="batch",
                  early_stopping=EarlyStopping(config.patience, metric="val_acc") if config.patience > 0 else None,
                  device=dev, progress=progress and rank == 0, live_plot=live_plot if rank == 0 else False,
                  on_epoch_end=_broadcast_val_metrics(dev) if world > 1 else None)
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, data.TensorLoader(splits.test, batch_size=512, device=dev))
    images = len(history) * train_loader.num_samples  # all ranks together
    result = CapstoneResult(model, history, test_loss, test_acc, seconds, images / seconds, splits.train.name,
                            runtime.device_words(dev), str(plan), world, config)
    if checkpoint is not None and rank == 0:
        cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
        save_checkpoint(checkpoint, model, optimizer, history, config=cfg, dataset=splits.train.name,
                        test_acc=test_acc, world_size=world)
    return result


def _number(kind: type, low: float, what: str, open_low: bool = False, high: float | None = None):
    """An argparse type: ``kind`` (int or float) >= ``low`` (> with ``open_low``, < ``high``), else a one-line error."""
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or (value <= low if open_low else value < low) or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; use {what}")
        return value
    convert.__name__ = what  # argparse names the type in some messages
    return convert


def _device(text: str) -> torch.device:
    try:
        return runtime.device(text)
    except (ValueError, RuntimeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def build_parser() -> argparse.ArgumentParser:
    d = CapstoneConfig()
    positive = _number(int, 1, "a whole number >= 1")
    p = argparse.ArgumentParser(
        prog="python -m cnncourse.capstone",
        description="Train the cnncourse capstone ResNet (one process, or data-parallel under torchrun).",
        epilog="Data-parallel: torchrun --nproc_per_node=2 -m cnncourse.capstone --backend gloo ... "
               "(nccl on CUDA, gloo on CPU). --batch-size is the global batch, split over the processes.")
    p.add_argument("--dataset", choices=("auto", "cifar10", "mnist-offline"), default=d.dataset)
    p.add_argument("--epochs", type=positive, default=d.epochs)
    p.add_argument("--batch-size", type=positive, default=d.batch_size, help="global batch size (all processes)")
    p.add_argument("--train-size", type=positive, default=None, help="cap on training images (default: all)")
    p.add_argument("--test-size", type=positive, default=None, help="cap on test images (default: all)")
    p.add_argument("--widths", type=positive, nargs="+", default=list(d.widths), help="channels per stage")
    p.add_argument("--blocks", type=positive, default=d.blocks_per_stage, help="basic blocks per stage")
    p.add_argument("--lr", type=_number(float, 0, "a number > 0, e.g. 0.1", open_low=True), default=d.lr,
                   help="peak learning rate")
    p.add_argument("--weight-decay", type=_number(float, 0, "a number >= 0, e.g. 5e-4"), default=d.weight_decay)
    p.add_argument("--label-smoothing", type=_number(float, 0, "a number in [0, 1), e.g. 0.1", high=1),
                   default=d.label_smoothing)
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    p.add_argument("--patience", type=_number(int, 0, "a whole number >= 0 (0 switches early stopping off)"),
                   default=d.patience, help="early-stopping patience (0: off)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--backend", choices=("auto", "nccl", "gloo"), default="auto",
                   help="process-group backend under torchrun (auto: nccl on CUDA, gloo on CPU)")
    p.add_argument("--device", type=_device, default=None, help="cpu, cuda, cuda:N or mps (default: the fastest available)")
    p.add_argument("--checkpoint", type=Path, default=None, help="where rank 0 saves the model (checked before training)")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The script's arguments, with what argparse cannot check alone (the checkpoint path, the
    batch split over ``$WORLD_SIZE`` processes) checked too: every mistake stops here, in one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.checkpoint is not None:
        try:
            args.checkpoint = check_checkpoint_path(args.checkpoint)
        except CheckpointError as err:
            parser.error(f"argument --checkpoint: {err}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size % world:
        parser.error(f"argument --batch-size: the global batch {args.batch_size} does not split over {world} "
                     f"processes; use a multiple of {world}")
    return args


def main(argv: list[str] | None = None) -> CapstoneResult:
    args = parse_args(argv)
    config = CapstoneConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                            train_size=args.train_size, test_size=args.test_size, widths=tuple(args.widths),
                            blocks_per_stage=args.blocks, lr=args.lr, weight_decay=args.weight_decay,
                            label_smoothing=args.label_smoothing, augment=not args.no_augment,
                            patience=args.patience, seed=args.seed)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    dev = args.device if args.device is not None else runtime.device()
    if distributed:
        backend = args.backend if args.backend != "auto" else ("nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group(backend)
    try:
        rank, world = _world()
        if rank == 0:
            print(f"capstone: {world} process(es) on {runtime.device_words(dev)}, precision {precision_plan(dev)}, "
                  f"global batch {config.batch_size}", flush=True)
        result = train(config, device=dev, progress=False, live_plot=False, checkpoint=args.checkpoint)
        if rank == 0:
            print(result.history.table())
            print(f"capstone: {result.summary()}", flush=True)
        return result
    finally:
        if distributed:
            torch.distributed.destroy_process_group()


if __name__ == "__main__":  # pragma: no cover - exercised by tests/test_capstone.py through subprocesses
    main(sys.argv[1:])
