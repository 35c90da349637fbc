"""Chapter 11's compute functions: metrics from a confusion matrix, k-fold cross-validation,
grid vs random search, early stopping, and three ensembles of small CNNs (bagging, SAMME
boosting, stacking).

Every compute function takes tensors, :class:`cnncourse.data.ImageSet` s or numbers and returns
numbers, tensors or a small dataclass; nothing here changes its inputs. Splitting and search
spaces come from scikit-learn (``StratifiedKFold``, ``ParameterGrid``, ``ParameterSampler``,
``LogisticRegression``); training goes through :func:`cnncourse.train.fit`. The ``draw_*``
functions are thin matplotlib layers.

Taught in notebooks/11_evaluation_tuning.ipynb.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import matplotlib.pyplot as plt
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
    "precision_recall_f1",
    "format_metrics",
    "mean_std",
    "CVResult",
    "cross_validate",
    "grid_candidates",
    "random_candidates",
    "SearchResult",
    "run_search",
    "best_of",
    "format_params",
    "format_search",
    "draw_search",
    "early_stopping_epochs",
    "early_stopping_by_fit",
    "EarlyStoppingRun",
    "compare_early_stopping",
    "format_early_stopping",
    "draw_early_stopping",
    "bootstrap_indices",
    "EnsembleResult",
    "bagging",
    "samme_alpha",
    "samme_boosting",
    "stacking",
    "format_ensembles",
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


# ----------------------------------------------------------------------------- metrics

def precision_recall_f1(confusion: Tensor) -> tuple[Tensor, Tensor, Tensor]:
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
    p, r, f = precision_recall_f1(c)
    support = c.sum(1)
    names = list(classes) if classes is not None else [str(i) for i in range(c.shape[0])]
    lines = ["class  precision  recall     F1  support"]
    for k, name in enumerate(names):
        lines.append(f"{name:>5}  {p[k]:9.3f}  {r[k]:6.3f}  {f[k]:5.3f}  {int(support[k]):7d}")
    lines.append(f"{'macro':>5}  {p.mean():9.3f}  {r.mean():6.3f}  {f.mean():5.3f}  {int(support.sum()):7d}")
    return "\n".join(lines)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# ----------------------------------------------------------------------------- k-fold cross-validation

@dataclass
class CVResult:
    """Held-out accuracy of each of the k folds (in fold order) and the fold sizes."""

    fold_acc: list[float]
    fold_sizes: list[int]
    seconds: float

    @property
    def mean(self) -> float:
        return mean_std(self.fold_acc)[0]

    @property
    def std(self) -> float:
        return mean_std(self.fold_acc)[1]


def cross_validate(dataset: ImageSet, k: int = 5, seed: int = 0, **train_kwargs) -> CVResult:
    """Stratified k-fold cross-validation of :func:`train_small_cnn` (k-折交叉验证).

    scikit-learn's ``StratifiedKFold(k, shuffle=True, random_state=seed)`` splits the samples into
    k folds with the class proportions of the whole; each fold is held out once while a fresh
    model (same seed) trains on the other k − 1.
    """
    from sklearn.model_selection import StratifiedKFold

    start = time.perf_counter()
    labels = dataset.labels.cpu().numpy()
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    accs, sizes = [], []
    for train_idx, test_idx in folds.split(np.zeros(len(labels)), labels):
        held_out = dataset.subset(test_idx)
        model, _ = train_small_cnn(dataset.subset(train_idx), seed=seed, **train_kwargs)
        accs.append(accuracy(predict(model, held_out.images), held_out.labels))
        sizes.append(len(test_idx))
    return CVResult(accs, sizes, time.perf_counter() - start)


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


@dataclass
class SearchResult:
    """One trained setting: its parameters, validation accuracy, and the trained model."""

    params: dict
    val_acc: float
    seconds: float
    model: nn.Module | None = field(default=None, repr=False)


def run_search(candidates: Sequence[dict], train: ImageSet, val: ImageSet, seed: int = 0,
               **train_kwargs) -> list[SearchResult]:
    """Train one small CNN per candidate (same seed for all) and score it on ``val``."""
    results = []
    for params in candidates:
        start = time.perf_counter()
        model, _ = train_small_cnn(train, seed=seed, **{**train_kwargs, **params})
        acc = accuracy(predict(model, val.images), val.labels)
        results.append(SearchResult(dict(params), acc, time.perf_counter() - start, model))
    return results


def best_of(results: Sequence[SearchResult]) -> SearchResult:
    """The result with the highest validation accuracy (the first one on ties)."""
    return max(results, key=lambda r: r.val_acc)


def format_params(params: dict) -> str:
    return ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items()))


def format_search(searches: dict[str, Sequence[SearchResult]]) -> str:
    """One block per search: every setting tried, sorted by validation accuracy, best marked."""
    lines = []
    for name, results in searches.items():
        best = best_of(results)
        lines.append(f"{name}: {len(results)} runs, {len({r.params.get('lr') for r in results})} distinct learning rates")
        for r in sorted(results, key=lambda r: -r.val_acc):
            lines.append(f"  {format_params(r.params):<28} val acc {r.val_acc:.3f}{'   ← best' if r is best else ''}")
    return "\n".join(lines)


def draw_search(searches: dict[str, Sequence[SearchResult]], title: str = "grid vs random search, equal budget"):
    """Left: the settings tried in the (lr, width) plane; right: validation accuracy against lr."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), dpi=72)
    for (name, results), marker in zip(searches.items(), ("s", "o", "^")):
        lrs = [r.params["lr"] for r in results]
        axes[0].scatter(lrs, [r.params["width"] for r in results], marker=marker, label=name, alpha=0.7)
        axes[1].scatter(lrs, [r.val_acc for r in results], marker=marker, label=name, alpha=0.7)
        best = best_of(results)
        axes[1].scatter([best.params["lr"]], [best.val_acc], marker=marker, s=160, facecolors="none", edgecolors="k")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set(xlabel="learning rate", ylabel="width (conv1 channels)", title="settings tried")
    axes[1].set(xlabel="learning rate", ylabel="validation accuracy", title="result (best circled)")
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.82, wspace=0.3)
    plt.close(fig)  # shown once, as the return value
    return fig


# ----------------------------------------------------------------------------- early stopping

def early_stopping_epochs(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
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
    """The same answer as :func:`early_stopping_epochs`, from :func:`cnncourse.train.fit` itself.

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


@dataclass
class EarlyStoppingRun:
    """One seed: the fixed-epoch run, and early stopping restoring the best or keeping the last weights."""

    seed: int
    fixed: History
    fixed_test_acc: float
    stopped: History
    best_test_acc: float
    last_test_acc: float

    @property
    def epochs_used(self) -> int:
        return len(self.stopped)


def compare_early_stopping(train: ImageSet, val: ImageSet, test: ImageSet, epochs: int, patience: int,
                           seeds: Sequence[int], **train_kwargs) -> list[EarlyStoppingRun]:
    """Per seed: a fixed ``epochs`` run, and ``EarlyStopping(patience)`` on the validation loss with
    ``restore_best`` True and False; each model's test accuracy. Same seed → same weights and batches,
    so the three runs agree until early stopping ends them."""
    runs = []
    for seed in seeds:
        fixed_model, fixed = train_small_cnn(train, val, epochs=epochs, seed=seed, **train_kwargs)
        best_model, stopped = train_small_cnn(train, val, epochs=epochs, seed=seed,
                                              early_stopping=EarlyStopping(patience=patience), **train_kwargs)
        last_model, _ = train_small_cnn(train, val, epochs=epochs, seed=seed,
                                        early_stopping=EarlyStopping(patience=patience, restore_best=False),
                                        **train_kwargs)
        runs.append(EarlyStoppingRun(
            seed, fixed, accuracy(predict(fixed_model, test.images), test.labels), stopped,
            accuracy(predict(best_model, test.images), test.labels), accuracy(predict(last_model, test.images), test.labels)))
    return runs


def format_early_stopping(runs: Sequence[EarlyStoppingRun]) -> str:
    """A table: per seed the epochs trained, the best epoch and the three test accuracies; then mean ± std."""
    lines = ["seed  epochs (fixed | early stop)  best epoch  test acc: fixed  early stop, best  early stop, last"]
    for r in runs:
        lines.append(f"{r.seed:4d}  {len(r.fixed):13d} | {r.epochs_used:<10d}  {r.stopped.best_epoch:10d}  "
                     f"{r.fixed_test_acc:15.3f}  {r.best_test_acc:16.3f}  {r.last_test_acc:16.3f}")
    f, b, last = (mean_std([getattr(r, a) for r in runs]) for a in ("fixed_test_acc", "best_test_acc", "last_test_acc"))
    e = mean_std([r.epochs_used for r in runs])
    lines.append(f"mean  {mean_std([len(r.fixed) for r in runs])[0]:13.1f} | {e[0]:<10.1f}  {'':10}  "
                 f"{f[0]:.3f} ± {f[1]:.3f}    {b[0]:.3f} ± {b[1]:.3f}     {last[0]:.3f} ± {last[1]:.3f}")
    return "\n".join(lines)


def draw_early_stopping(run: EarlyStoppingRun, title: str = "early stopping on the validation loss"):
    """The fixed run's training and validation loss, with early stopping's best and stop epochs marked."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=72)
    h = run.fixed
    ax.plot(h.epoch, h.train_loss, "o-", ms=3, label="training loss")
    ax.plot(h.epoch, h.val_loss, "o-", ms=3, label="validation loss")
    ax.axvline(run.stopped.best_epoch, color="g", ls="--", label=f"best epoch ({run.stopped.best_epoch}): restored")
    ax.axvline(run.epochs_used, color="r", ls=":", label=f"stopped after epoch {run.epochs_used}")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"{title} (seed {run.seed})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.88)
    plt.close(fig)  # shown once, as the return value
    return fig


# ----------------------------------------------------------------------------- ensembles

def bootstrap_indices(n: int, seed: int) -> Tensor:
    """``n`` indices drawn from 0..n−1 with replacement (a bootstrap resample), as a (n,) int64 tensor."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, n, size=n)).long()


@dataclass
class EnsembleResult:
    """An ensemble's test accuracy next to each member's, plus what the method kept per member."""

    name: str
    member_test_acc: list[float]
    test_acc: float
    weights: list[float] = field(default_factory=list)  # SAMME's alpha per member
    member_val_probs: list[Tensor] = field(default_factory=list, repr=False)
    member_test_probs: list[Tensor] = field(default_factory=list, repr=False)

    @property
    def best_member(self) -> float:
        return max(self.member_test_acc)

    @property
    def gain(self) -> float:
        """Ensemble minus best single member, in accuracy (a fraction)."""
        return self.test_acc - self.best_member


def bagging(train: ImageSet, val: ImageSet, test: ImageSet, members: int = 5, seed: int = 0,
            **train_kwargs) -> EnsembleResult:
    """Bagging (Breiman 1996): each member trains on its own bootstrap resample of ``train``
    (and its own initial weights); the ensemble averages the members' probabilities."""
    val_probs, test_probs, accs = [], [], []
    for m in range(members):
        idx = bootstrap_indices(len(train), seed=1000 * seed + m)
        model, _ = train_small_cnn(train.subset(idx), seed=seed * 100 + m, **train_kwargs)
        val_probs.append(predict(model, val.images))
        test_probs.append(predict(model, test.images))
        accs.append(accuracy(test_probs[-1], test.labels))
    mean = torch.stack(test_probs).mean(0)
    return EnsembleResult("bagging", accs, accuracy(mean, test.labels), [1.0] * members, val_probs, test_probs)


def samme_alpha(error: float, num_classes: int) -> float:
    """SAMME's member weight log((1 − err)/err) + log(K − 1) (Zhu et al. 2009); > 0 iff err < 1 − 1/K."""
    error = min(max(error, 1e-10), 1 - 1e-10)
    return math.log((1 - error) / error) + math.log(num_classes - 1)


def samme_boosting(train: ImageSet, test: ImageSet, members: int = 5, seed: int = 0, **train_kwargs) -> EnsembleResult:
    """Multi-class AdaBoost, SAMME (Zhu et al. 2009), by resampling.

    ``fit`` takes no per-sample weights, so each member trains on ``len(train)`` samples drawn
    with probability proportional to the current weights. Its weighted training error err gives
    alpha = :func:`samme_alpha`; the weights of the samples it gets wrong are multiplied by
    exp(alpha) and renormalised, so the next member sees more of them. The ensemble is a vote
    weighted by alpha. A member no better than chance (err ≥ 1 − 1/K) ends the loop.
    """
    k = len(train.classes)
    n = len(train)
    w = np.full(n, 1.0 / n)
    rng = np.random.default_rng(seed)
    votes = torch.zeros(len(test), k, dtype=torch.float64)
    accs, alphas, test_probs = [], [], []
    for m in range(members):
        idx = torch.from_numpy(rng.choice(n, size=n, replace=True, p=w)).long()
        model, _ = train_small_cnn(train.subset(idx), seed=seed * 100 + m, **train_kwargs)
        wrong = (predict(model, train.images).argmax(1) != train.labels).numpy()
        error = float(np.sum(w * wrong) / np.sum(w))
        if error >= 1 - 1 / k:
            if not alphas:
                raise ValueError(f"samme_boosting: the first member is no better than chance (weighted training error "
                                 f"{error:.3f} >= {1 - 1 / k:.3f}); train it longer (epochs) or with another lr")
            break
        alpha = samme_alpha(error, k)
        w = w * np.exp(alpha * wrong)
        w = w / w.sum()
        probs = predict(model, test.images)
        votes += alpha * nn.functional.one_hot(probs.argmax(1), k).double()
        accs.append(accuracy(probs, test.labels))
        alphas.append(alpha)
        test_probs.append(probs)
    return EnsembleResult("boosting (SAMME)", accs, accuracy(votes, test.labels), alphas, [], test_probs)


def stacking(member_val_probs: Sequence[Tensor], val_labels: Tensor, member_test_probs: Sequence[Tensor],
             test_labels: Tensor, seed: int = 0) -> EnsembleResult:
    """Stacking (Wolpert 1992): a logistic regression (scikit-learn) learns to combine the members'
    probabilities. It is fitted on the VALIDATION set, which no member trained on, and scored on
    the test set. Features: the members' probabilities side by side, (N, members·K)."""
    from sklearn.linear_model import LogisticRegression

    x_val = torch.cat(list(member_val_probs), dim=1).numpy()
    x_test = torch.cat(list(member_test_probs), dim=1).numpy()
    meta = LogisticRegression(max_iter=2000, random_state=seed).fit(x_val, val_labels.numpy())
    acc = float((meta.predict(x_test) == test_labels.numpy()).mean())
    accs = [accuracy(p, test_labels) for p in member_test_probs]
    return EnsembleResult("stacking", accs, acc, [], list(member_val_probs), list(member_test_probs))


def format_ensembles(results: dict[int, Sequence[EnsembleResult]]) -> str:
    """Per seed and method: members' test accuracies, the best member, the ensemble; then the mean gain."""
    lines = ["seed  method             members' test acc              best member  ensemble   gain"]
    gains: dict[str, list[float]] = {}
    for seed, row in results.items():
        for r in row:
            members = " ".join(f"{a:.3f}" for a in r.member_test_acc)
            lines.append(f"{seed:4d}  {r.name:<17}  {members:<29}  {r.best_member:11.3f}  {r.test_acc:8.3f}  {r.gain:+.3f}")
            gains.setdefault(r.name, []).append(r.gain)
    for name, g in gains.items():
        mean, std = mean_std(g)
        lines.append(f"mean gain over best member, {name}: {mean:+.3f} ± {std:.3f} ({len(g)} seed(s))")
    return "\n".join(lines)
