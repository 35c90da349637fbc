"""Chapter 11's compute: a small CNN trained quietly, metrics from a confusion matrix, the early-stopping
rule, search candidates, label noise, bootstrap indices and SAMME's vote weight.

Small plumbing and pure compute only: the experiments themselves (the loops over folds, settings,
seeds and ensemble members, the training calls and the ``cnncourse.stats`` decisions) are written
in the notebook's cells. Every function takes tensors, :class:`cnncourse.data.ImageSet` s or numbers
and returns numbers, tensors or a new ImageSet; nothing here changes its inputs. Search spaces come
from scikit-learn (``ParameterGrid``, ``ParameterSampler``); training goes through
:func:`cnncourse.train.fit`. Its figures are in ``cnncourse.drawing.evaluation``.

Taught in notebooks/11_evaluation_tuning.ipynb.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..data import ImageSet, TensorLoader
from ..models import LeNet5, LeNetConfig
from ..train import EarlyStopping, History, fit, predict

__all__ = [
    "small_cnn",
    "train_small_cnn",
    "accuracy",
    "correct",
    "format_metrics",
    "with_label_noise",
    "grid_candidates",
    "random_candidates",
    "format_params",
    "pick_by_validation",
    "early_stopping_by_fit",
    "bootstrap_indices",
    "samme_alpha",
]


# ----------------------------------------------------------------------------- a small CNN, trained quietly

def small_cnn(width: int = 8, seed: int = 0, num_classes: int = 10) -> LeNet5:
    """A narrow LeNet-5: ``width`` and ``2·width`` channels, hidden layers 64 and 32 (ReLU, max pooling).

    Width 8 has about 31 thousand parameters (LeNet-5 has 62 thousand) and trains an epoch of
    1,000 digits in a fraction of a second on one CPU core. Weights come from ``seed``.
    """
    torch.manual_seed(seed)
    return LeNet5(LeNetConfig(channels=(int(width), 2 * int(width)), hidden=(64, 32), num_classes=num_classes))


def train_small_cnn(train: ImageSet, val: ImageSet | None = None, *, lr: float = 3e-3, width: int = 8,
                    weight_decay: float = 0.0, epochs: int = 1, batch_size: int = 64, seed: int = 0,
                    early_stopping: EarlyStopping | None = None) -> tuple[nn.Module, History]:
    """Train :func:`small_cnn` with Adam on ``train`` through :func:`cnncourse.train.fit`, quietly.

    Same ``seed`` → same initial weights and same batch order. Returns (model, history).
    """
    model = small_cnn(width, seed, num_classes=len(train.classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loader = TensorLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    val_loader = TensorLoader(val, batch_size=512) if val is not None else None
    history = fit(model, loader, val_loader, epochs=epochs, optimizer=opt, early_stopping=early_stopping,
                  progress=False, live_plot=False)
    return model, history


def accuracy(probabilities: Tensor, labels: Tensor) -> float:
    """Fraction of rows of ``probabilities`` (N, K) whose argmax equals ``labels`` (N,)."""
    return float((probabilities.argmax(1) == labels).double().mean())


def correct(model: nn.Module, dataset: ImageSet) -> np.ndarray:
    """Which images of ``dataset`` the model classifies correctly: a boolean (N,) array, for
    :func:`cnncourse.stats.test_set_comparison`."""
    return (predict(model, dataset.images).argmax(1) == dataset.labels).numpy()


# ----------------------------------------------------------------------------- metrics

def _precision_recall_f1(confusion: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class precision, recall and F1 (three float64 (K,) tensors) from a (K, K) confusion matrix.

    Rows are true classes, columns predicted classes (sklearn's and ``viz.confusion_matrix``'s
    convention): precision_k = C[k, k] / column sum, recall_k = C[k, k] / row sum,
    F1 = 2·P·R / (P + R). A zero denominator gives 0, like sklearn's ``zero_division=0``
    (a class that is never predicted has precision 0, not NaN).
    """
    c = torch.as_tensor(confusion).double()
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"precision_recall_f1: confusion must be square (K, K); got shape {tuple(c.shape)}")
    tp = c.diagonal()
    predicted, actual = c.sum(0), c.sum(1)  # column sums, row sums

    def ratio(num: Tensor, den: Tensor) -> Tensor:
        return torch.where(den > 0, num / den.clamp(min=1e-300), torch.zeros_like(num))

    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    f1 = ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def format_metrics(confusion: Tensor, classes: Sequence[str] | None = None) -> str:
    """A per-class table (precision, recall, F1, support) and the macro averages."""
    c = torch.as_tensor(confusion)
    p, r, f = _precision_recall_f1(c)
    support = c.sum(1)
    names = list(classes) if classes is not None else [str(i) for i in range(c.shape[0])]
    lines = ["class  precision  recall     F1  support"]
    for k, name in enumerate(names):
        lines.append(f"{name:>5}  {p[k]:9.3f}  {r[k]:6.3f}  {f[k]:5.3f}  {int(support[k]):7d}")
    lines.append(f"{'macro':>5}  {p.mean():9.3f}  {r.mean():6.3f}  {f.mean():5.3f}  {int(support.sum()):7d}")
    return "\n".join(lines)


def with_label_noise(dataset: ImageSet, fraction: float, seed: int = 0) -> ImageSet:
    """A copy of ``dataset`` whose labels are replaced, for a random ``fraction`` of the samples, by a
    class drawn uniformly from all classes (so about ``fraction·(K−1)/K`` of the labels become wrong).

    The images are shared, the labels are a new tensor; ``dataset`` is unchanged.
    """
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"with_label_noise: fraction must be in [0, 1]; got {fraction!r}")
    rng = np.random.default_rng(seed)
    labels = dataset.labels.clone()
    hit = torch.from_numpy(rng.random(len(labels)) < float(fraction))
    labels[hit] = torch.from_numpy(rng.integers(0, len(dataset.classes), int(hit.sum()))).to(labels.dtype)
    return ImageSet(dataset.images, labels, dataset.classes, dataset.name)


# ----------------------------------------------------------------------------- grid vs random search

def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def grid_candidates(grid: dict[str, Sequence]) -> list[dict]:
    """Every combination of the values in ``grid`` (scikit-learn's ``ParameterGrid``)."""
    from sklearn.model_selection import ParameterGrid

    return [{k: _plain(v) for k, v in params.items()} for params in ParameterGrid(grid)]


def random_candidates(distributions: dict, n: int, seed: int = 0) -> list[dict]:
    """``n`` random settings (scikit-learn's ``ParameterSampler``): a list is sampled uniformly,
    a scipy.stats distribution (e.g. ``loguniform(3e-4, 3e-2)``) with ``.rvs``."""
    from sklearn.model_selection import ParameterSampler

    return [{k: _plain(v) for k, v in sorted(params.items())}
            for params in ParameterSampler(distributions, n_iter=n, random_state=seed)]


def format_params(params: dict) -> str:
    return ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items()))


def pick_by_validation(val_scores: np.ndarray, test_scores: np.ndarray, cells: Sequence[tuple]) -> float:
    """What a search that tried ``cells`` reports honestly: the test score of the cell whose
    validation score is highest (the first such cell on ties). ``val_scores`` and ``test_scores``
    are arrays of the same shape indexed by the cells' tuples."""
    cells = [tuple(c) for c in cells]
    if not cells:
        raise ValueError("pick_by_validation: a search must try at least one cell")
    best = max(cells, key=lambda c: val_scores[c])
    return float(test_scores[best])


# ----------------------------------------------------------------------------- early stopping

def _early_stopping_epochs(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """(epoch training stops after, epoch whose weights are restored) for a validation-loss sequence.

    Epochs count from 1. The rule of :class:`cnncourse.train.EarlyStopping` inside
    :func:`cnncourse.train.fit`: an epoch improves when its loss is below the best so far by more
    than ``min_delta`` (a tie or a NaN is no improvement); training stops after ``patience``
    epochs in a row without improvement; with ``restore_best`` the best epoch's weights come
    back. Without a stop, training ends after the last epoch.
    """
    rule = EarlyStopping(patience=patience, metric="val_loss", min_delta=min_delta)
    best, best_epoch, waited = None, 0, 0
    for epoch, value in enumerate(val_losses, 1):
        if rule.improved(float(value), best):
            best, best_epoch, waited = float(value), epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def early_stopping_by_fit(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """The same answer as :func:`_early_stopping_epochs`, from :func:`cnncourse.train.fit` itself.

    A one-weight model trains on one sample for ``len(val_losses)`` epochs; after each epoch the
    recorded validation loss is replaced by the given one before ``fit`` applies its
    ``EarlyStopping``. Returns (epochs trained, ``history.best_epoch``).
    """
    losses = [float(v) for v in val_losses]
    model = nn.Linear(1, 2)
    x, y = torch.zeros(1, 1), torch.zeros(1, dtype=torch.long)

    def replace(epoch: int, history: History) -> None:
        history.val_loss[-1] = losses[epoch - 1]

    history = fit(model, [(x, y)], [(x, y)], epochs=len(losses), optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                  early_stopping=EarlyStopping(patience=patience, min_delta=min_delta), device="cpu",
                  progress=False, live_plot=False, on_epoch_end=replace)
    return len(history), history.best_epoch


# ----------------------------------------------------------------------------- ensembles

def bootstrap_indices(n: int, seed: int) -> Tensor:
    """``n`` indices drawn from 0..n−1 with replacement (a bootstrap resample), as a (n,) int64 tensor."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, n, size=n)).long()


def samme_alpha(error: float, num_classes: int) -> float:
    """SAMME's member weight log((1 − err)/err) + log(K − 1) (Zhu et al. 2009); > 0 iff err < 1 − 1/K."""
    error = min(max(error, 1e-10), 1 - 1e-10)
    return math.log((1 - error) / error) + math.log(num_classes - 1)
