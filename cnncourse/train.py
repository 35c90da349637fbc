"""One training loop for the whole course: :func:`fit`, :func:`evaluate`, checkpoints.

``fit`` is a plain PyTorch loop (forward, loss, backward, step) plus what a learner wants
to see: a progress bar, a per-epoch history, a live loss/accuracy plot in notebooks, and
hooks for schedulers and early stopping. On CUDA it also turns on mixed precision and
channels_last. ``benchmarks/fit_overhead.py`` measures what all this costs against a
hand-written loop.

Taught in notebooks/01_introduction.ipynb; chapters 08-12 pass their own optimisers,
schedulers and early stopping.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from .folders import writable_problem
from .runtime import device as pick_device

__all__ = [
    "History",
    "EarlyStopping",
    "PrecisionPlan",
    "precision_plan",
    "fit",
    "evaluate",
    "predict",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "check_checkpoint_path",
]


@dataclass
class History:
    """Per-epoch metrics of a :func:`fit` run. Accuracies are fractions in [0, 1]."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # the rate of each epoch's last training batch
    seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self, metric: str) -> float:
        values = getattr(self, metric)
        if not values:
            raise ValueError(f"History has no {metric} values (was a validation set given?)")
        return values[-1]

    def best(self, metric: str = "val_acc") -> float:
        """The best value of a metric: the max of accuracies, the min of losses."""
        values = getattr(self, metric)
        if not values:
            raise ValueError(f"History has no {metric} values (was a validation set given?)")
        return max(values) if metric.endswith("acc") else min(values)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The history as a small text table, one row per epoch."""
        rows = ["epoch  train_loss  train_acc  val_loss  val_acc        lr   sec"]
        for i, ep in enumerate(self.epoch):
            vl = f"{self.val_loss[i]:8.4f}" if self.val_loss else "       -"
            va = f"{self.val_acc[i]:7.4f}" if self.val_acc else "      -"
            rows.append(
                f"{ep:5d}  {self.train_loss[i]:10.4f}  {self.train_acc[i]:9.4f}  {vl}  {va}  "
                f"{self.lr[i]:8.2e}  {self.seconds[i]:4.1f}"
            )
        return "\n".join(rows)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model ends with the weights of its best epoch.
    Taught in notebooks/11_evaluation_tuning.ipynb.
    """

    patience: int = 5
    metric: str = "val_loss"
    min_delta: float = 0.0
    restore_best: bool = True

    def improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        if self.metric.endswith("acc"):
            return value > best + self.min_delta
        return value < best - self.min_delta


@dataclass(frozen=True)
class PrecisionPlan:
    """How a device trains fastest: autocast dtype (None = full fp32), loss scaling, memory format."""

    autocast_dtype: torch.dtype | None
    grad_scaler: bool
    channels_last: bool

    def __str__(self) -> str:
        dtype = str(self.autocast_dtype).replace("torch.", "") if self.autocast_dtype else "float32"
        return f"{dtype}{' + loss scaling' if self.grad_scaler else ''}, {'channels_last' if self.channels_last else 'contiguous'}"


def precision_plan(dev: torch.device | str, amp: str | bool = "auto", channels_last: str | bool = "auto") -> PrecisionPlan:
    """Choose mixed precision and memory format for a device.

    ``amp="auto"``: bfloat16 autocast on CUDA GPUs that support it (no loss scaling needed),
    float16 + GradScaler on older CUDA GPUs, full float32 on CPU and MPS (where autocast
    rarely speeds up small CNNs). ``amp`` may also be ``False``, ``"bf16"`` or ``"fp16"``.
    ``channels_last="auto"`` is on for CUDA, where cuDNN's convolutions prefer NHWC.
    """
    dev = torch.device(dev)
    if amp == "auto":
        if dev.type == "cuda":
            amp = "bf16" if _cuda_bf16_supported(dev) else "fp16"
        else:
            amp = False
    if amp not in (False, None, "bf16", "fp16"):
        raise ValueError(f"amp must be 'auto', False, 'bf16' or 'fp16'; got {amp!r}")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp) if amp else None
    if channels_last == "auto":
        channels_last = dev.type == "cuda"
    return PrecisionPlan(dtype, grad_scaler=dtype is torch.float16, channels_last=bool(channels_last))


def _cuda_bf16_supported(dev: torch.device) -> bool:
    try:
        return torch.cuda.is_bf16_supported()
    except (AssertionError, RuntimeError):  # no CUDA driver: the caller only asked for a plan
        return True


def _autocast(dev: torch.device, plan: PrecisionPlan):
    return torch.autocast(device_type=dev.type, dtype=plan.autocast_dtype or torch.float32, enabled=plan.autocast_dtype is not None)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def fit(
    model: nn.Module,
    train: Iterable,
    val: Iterable | None = None,
    *,
    epochs: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    scheduler=None,
    scheduler_step: str = "epoch",
    early_stopping: EarlyStopping | None = None,
    device: torch.device | str | None = None,
    amp: str | bool = "auto",
    channels_last: str | bool = "auto",
    progress: bool = True,
    live_plot: bool | str = "auto",
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``model`` on batches from ``train`` for ``epochs`` epochs; return a :class:`History`.

    ``train`` and ``val`` yield (images (N, C, H, W), labels (N,)) batches, e.g. a
    :class:`cnncourse.data.TensorLoader`. The model is moved to ``device`` (default: the
    loader's device, else :func:`cnncourse.runtime.device`) and trained in place.
    ``optimizer`` defaults to Adam(lr); ``loss_fn`` to cross-entropy. ``scheduler`` is stepped
    once per epoch (``scheduler_step="epoch"``; ReduceLROnPlateau gets the validation loss)
    or once per batch (``"batch"``, e.g. OneCycleLR). ``live_plot="auto"`` redraws the curves
    after every epoch when running in a notebook.
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0; got {epochs}")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch'; got {scheduler_step!r}")
    if early_stopping is not None and early_stopping.metric.startswith("val") and val is None:
        raise ValueError("fit: early stopping on a validation metric needs a validation set (val=...)")
    dev = torch.device(device) if device is not None else getattr(train, "device", None) or pick_device()
    plan = precision_plan(dev, amp, channels_last)
    memory_format = torch.channels_last if plan.channels_last else torch.preserve_format
    model.to(dev, memory_format=memory_format)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler(dev.type, enabled=plan.grad_scaler)
    history = History()
    plot = None
    if live_plot is True or (live_plot == "auto" and _in_notebook()):
        from .viz import LivePlot

        plot = LivePlot()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = epochs * len(train) if hasattr(train, "__len__") else None
        bar = tqdm(total=total, unit="batch", mininterval=0.5, dynamic_ncols=True)
    best_value, best_state, waited = None, None, 0
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            total_loss = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            seen = 0
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{epochs}")
            for x, y in train:
                x = x.to(dev, non_blocking=True, memory_format=memory_format)
                y = y.to(dev, non_blocking=True)
                with _autocast(dev, plan):
                    out = model(x)
                    loss = loss_fn(out, y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                used_lr = optimizer.param_groups[0]["lr"]  # before a per-batch scheduler moves it on
                scaler.step(optimizer)
                scaler.update()
                if scheduler is not None and scheduler_step == "batch":
                    scheduler.step()
                n = y.shape[0]
                total_loss += loss.detach() * n
                if y.ndim == 1:  # class labels: count correct predictions
                    correct += (out.detach().argmax(1) == y).sum()
                seen += n
                if bar is not None:
                    bar.update()
            if seen == 0:
                raise ValueError("fit: the training loader yielded no batches")
            history.epoch.append(epoch)
            history.train_loss.append(total_loss.item() / seen)
            history.train_acc.append(correct.item() / seen)
            history.lr.append(used_lr)  # the rate the epoch's last batch was trained with
            if val is not None:
                val_loss, val_acc = evaluate(model, val, loss_fn=loss_fn, device=dev, amp=amp, channels_last=channels_last)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
            if scheduler is not None and scheduler_step == "epoch":
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(history.val_loss[-1] if val is not None else history.train_loss[-1])
                else:
                    scheduler.step()
            history.seconds.append(time.perf_counter() - start)
            if bar is not None:
                bar.set_postfix_str(_postfix(history), refresh=False)
            if plot is not None:
                plot.update(history)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if early_stopping is not None:
                value = getattr(history, early_stopping.metric)[-1]
                if early_stopping.improved(value, best_value):
                    best_value, waited, history.best_epoch = value, 0, epoch
                    if early_stopping.restore_best:
                        best_state = copy.deepcopy(model.state_dict())
                else:
                    waited += 1
                    if waited >= early_stopping.patience:
                        history.stopped_early = True
                        break
    finally:
        if bar is not None:
            bar.close()
        if plot is not None:
            plot.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _postfix(h: History) -> str:
    text = f"loss {h.train_loss[-1]:.3f} acc {h.train_acc[-1]:.3f}"
    if h.val_acc:
        text += f" val_loss {h.val_loss[-1]:.3f} val_acc {h.val_acc[-1]:.3f}"
    return text


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Iterable,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    amp: str | bool = "auto",
    channels_last: str | bool = "auto",
) -> tuple[float, float]:
    """Mean loss and accuracy (a fraction) of ``model`` on batches from ``data``, in eval mode.

    The model's train/eval mode is restored afterwards.
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    plan = precision_plan(dev, amp, channels_last)
    memory_format = torch.channels_last if plan.channels_last else torch.preserve_format
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    try:
        for x, y in data:
            x = x.to(dev, memory_format=memory_format)
            y = y.to(dev)
            with _autocast(dev, plan):
                out = model(x)
                loss = loss_fn(out, y)
            total_loss += loss.item() * y.shape[0]
            if y.ndim == 1:
                correct += (out.argmax(1) == y).sum().item()
            seen += y.shape[0]
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return total_loss / seen, correct / seen


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512, probabilities: bool = True) -> torch.Tensor:
    """Class probabilities (or logits) for images (N, C, H, W), as a CPU tensor (N, classes).

    Runs in eval mode on the model's device; the model's mode is restored afterwards.
    """
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        outs = [model(images[i:i + batch_size].to(dev)).float().cpu() for i in range(0, images.shape[0], batch_size)]
    finally:
        model.train(was_training)
    logits = torch.cat(outs) if outs else torch.empty(0)
    return logits.softmax(dim=1) if probabilities else logits


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, cannot be written, or does not fit the model."""


def check_checkpoint_path(path: str | Path) -> Path:
    """``path`` as a Path, once it is certain a checkpoint can be written there (tried for real).

    Call it before a long run (the capstone script does, at start-up), so a bad path fails in
    a second rather than after the training. Raises :class:`CheckpointError` in one line.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"cannot save a checkpoint at {path}: it is a folder; give a file name such as {path / 'model.pt'}")
    problem = writable_problem(path.parent)
    if problem is not None:
        raise CheckpointError(f"cannot save a checkpoint at {path}: {problem}")
    return path


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    history: History | None = None, **meta) -> Path:
    """Save model (and optimizer, history, metadata) atomically: write a temp file, then rename.

    A crash mid-save leaves the previous checkpoint intact and no temp file behind. ``meta``
    values are converted to plain Python values (numpy scalars and arrays, paths, dataclasses);
    anything else is refused before writing, and the written file is read back with
    ``weights_only=True`` before it replaces the old one, so every saved file loads with
    :func:`load_checkpoint`. A folder that cannot be written gives one line (:class:`CheckpointError`).
    """
    path = check_checkpoint_path(path)
    state = {
        "format": 1,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "history": _plain(history.to_dict(), "history") if history is not None else None,
        "meta": {key: _plain(value, f"meta {key!r}") for key, value in meta.items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, tmp)
        torch.load(tmp, map_location="cpu", weights_only=True)  # what load_checkpoint will do
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)  # also on Ctrl-C: no *.tmp left behind
        if isinstance(err, pickle.UnpicklingError):  # written, but torch.load(weights_only=True) refuses it
            raise CheckpointError(
                f"save_checkpoint: the model or optimizer state holds something a weights-only checkpoint cannot "
                f"({_unsupported(err)}); {path} was not written"
            ) from err
        if isinstance(err, Exception):
            raise CheckpointError(
                f"could not save {path} ({type(err).__name__}: {_first_line(err)}); any previous checkpoint there is intact"
            ) from err
        raise
    return path


def _plain(value, where: str):
    """``value`` as what ``torch.load(weights_only=True)`` reads back: numbers, strings, lists, dicts, tensors."""
    import numpy as np

    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        return value.item()  # np.float64(0.9) -> 0.9
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    for plain in (bool, int, float, str):  # subclasses (IntEnum, ...) pickle as their class
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), where)
    if isinstance(value, dict):
        return {(k if type(k) in (str, int) else _plain(k, where)): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if type(value) is tuple else items
    raise TypeError(
        f"save_checkpoint: {where} is a {type(value).__name__}, which a weights-only checkpoint cannot hold; "
        f"pass numbers, strings, lists or dicts (e.g. str(...) or float(...)); nothing was written"
    )


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Reads with ``weights_only=True`` (no arbitrary code runs); returns
    ``{"meta": ..., "history": History or None}``. An optimizer of another class than the
    saved one (SGD state into Adam) is refused in one line, before it breaks ``step()``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train the model and save_checkpoint() it first")
    param = next(model.parameters(), None)
    map_location = param.device if param is not None else "cpu"
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError("not a cnncourse checkpoint")
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CheckpointError(f"{path} is not a readable checkpoint ({_first_line(err)}); delete it and save again") from err
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path} holds weights for a different model ({_first_line(err)}); build the same model as when it was saved"
        ) from err
    if optimizer is not None and state.get("optimizer") is not None:
        _load_optimizer(path, optimizer, state["optimizer"], state.get("optimizer_class"))
    history = History(**state["history"]) if state.get("history") else None
    return {"meta": state.get("meta", {}), "history": history}


def _load_optimizer(path: Path, optimizer: torch.optim.Optimizer, saved: dict, saved_class: str | None) -> None:
    """Load ``saved`` into ``optimizer`` only if it fits: the same class, the same groups, every hyperparameter."""
    ours = type(optimizer).__name__
    if saved_class is not None and saved_class != ours:
        raise CheckpointError(
            f"{path} holds {saved_class} optimizer state, not {ours}; build the same optimizer "
            f"(torch.optim.{saved_class}) as when it was saved, or load without optimizer="
        )
    before = optimizer.state_dict()
    try:
        optimizer.load_state_dict(saved)
        missing = sorted({key for group in optimizer.param_groups for key in optimizer.defaults if key not in group})
        if missing:  # files without a class name: an SGD state lacks Adam's betas, step() would fail
            raise ValueError(f"its parameter groups lack {missing}")
    except (ValueError, KeyError, RuntimeError) as err:
        optimizer.load_state_dict(before)
        raise CheckpointError(
            f"{path} holds optimizer state that does not fit this {ours} ({_first_line(err)}); build the same "
            f"optimizer, with the same parameter groups, as when it was saved, or load without optimizer="
        ) from err


def _unsupported(err: BaseException) -> str:
    """The line of torch's weights-only refusal that names the object (its first line is generic)."""
    lines = [line.strip() for line in str(err).splitlines() if "Unsupported global" in line]
    return lines[0][:200] if lines else _first_line(err)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__
