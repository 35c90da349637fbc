"""What does ``cnncourse.train.fit`` cost over a hand-written PyTorch loop?

LeNet-5 on the offline MNIST training split, on the CPU: the same seeded model, the same
AdamW optimiser, the same :class:`cnncourse.data.TensorLoader` batches and the same number
of epochs, trained by ``fit(..., progress=False, live_plot=False)`` and by the five-line
loop (forward, loss, zero_grad, backward, step). The two are interleaved (fit, loop, fit,
loop, ...) so that a slow spell of the machine hits both, and the medians are compared.
The same is then done with ``progress=True`` (the tqdm bar a notebook shows).

Run it as ``python benchmarks/fit_overhead.py``; the last line is the verdict::

    fit_overhead: 1.01x of a hand-written loop (target <= 1.05x)

Taught in notebooks/01_introduction.ipynb (the training loop the whole course uses).
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from contextlib import redirect_stderr

import torch
from torch import nn

from cnncourse import data, models, runtime, train

LR, WEIGHT_DECAY, BATCH_SIZE = 3e-3, 1e-4, 64


def _setup(seed: int, train_set: data.ImageSet):
    """A fresh LeNet-5, its AdamW optimiser and a shuffling loader, all from ``seed``."""
    torch.manual_seed(seed)
    model = models.LeNet5()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loader = data.TensorLoader(train_set, batch_size=BATCH_SIZE, shuffle=True, seed=seed)
    return model, optimizer, loader


def hand_loop(model: nn.Module, optimizer: torch.optim.Optimizer, loader, epochs: int) -> float:
    """The plain PyTorch loop; returns the last batch's loss."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    loss = torch.zeros(())
    for _ in range(epochs):
        for x, y in loader:
            out = model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return loss.item()


def time_fit(train_set, epochs: int, seed: int, progress: bool) -> float:
    model, optimizer, loader = _setup(seed, train_set)
    start = time.perf_counter()
    with redirect_stderr(io.StringIO()):  # the tqdm bar (progress=True) writes to stderr
        train.fit(model, loader, epochs=epochs, optimizer=optimizer, device="cpu",
                  progress=progress, live_plot=False)
    return time.perf_counter() - start


def time_loop(train_set, epochs: int, seed: int) -> float:
    model, optimizer, loader = _setup(seed, train_set)
    start = time.perf_counter()
    hand_loop(model, optimizer, loader, epochs)
    return time.perf_counter() - start


def compare(train_set, epochs: int, repeats: int, progress: bool) -> tuple[float, float]:
    """Median seconds of fit and of the hand loop, interleaved ``repeats`` times."""
    fit_times, loop_times = [], []
    for r in range(repeats):
        # alternate which goes first, so neither always runs on a "warmer" machine
        if r % 2 == 0:
            fit_times.append(time_fit(train_set, epochs, seed=r, progress=progress))
            loop_times.append(time_loop(train_set, epochs, seed=r))
        else:
            loop_times.append(time_loop(train_set, epochs, seed=r))
            fit_times.append(time_fit(train_set, epochs, seed=r, progress=progress))
    return statistics.median(fit_times), statistics.median(loop_times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice); 1 gives steadier timings "
                             "on a machine that other jobs share")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    splits = data.load_splits("mnist-offline")
    train_set = splits.train
    print(f"LeNet-5 ({models.count_parameters(models.LeNet5()):,} parameters), {len(train_set)} training "
          f"digits, batch {BATCH_SIZE}, {args.epochs} epochs x {args.repeats} interleaved repeats, "
          f"cpu with {torch.get_num_threads()} threads, torch {torch.__version__}")
    time_loop(train_set, 1, seed=99)  # warm-up: first-call allocations and kernel selection
    time_fit(train_set, 1, seed=99, progress=False)

    fit_bar, loop_bar = compare(train_set, args.epochs, args.repeats, progress=True)
    ratio_bar = fit_bar / loop_bar
    print(f"with progress bar   : fit {fit_bar:.3f} s, hand-written loop {loop_bar:.3f} s (medians)")
    print(f"fit_overhead (progress=True): {ratio_bar:.3f}x of a hand-written loop")

    fit_plain, loop_plain = compare(train_set, args.epochs, args.repeats, progress=False)
    ratio = fit_plain / loop_plain
    print(f"without progress bar: fit {fit_plain:.3f} s, hand-written loop {loop_plain:.3f} s (medians)")
    print(f"fit_overhead: {ratio:.3f}x of a hand-written loop (target <= 1.05x)")
    return 0


if __name__ == "__main__":
    runtime.seed_everything(0)
    sys.exit(main())
