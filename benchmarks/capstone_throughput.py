"""How fast does the capstone recipe train, and how soon does it reach a target accuracy?

The capstone model and recipe (:mod:`cnncourse.capstone`: SmallResNet, augmentation, SGD +
Nesterov, warm-up + cosine, label smoothing) on the offline MNIST digits (or CIFAR-10 with
``--dataset``), trained by ``cnncourse.train.fit`` for ``--epochs`` epochs. It reports

* training throughput: training images per second of ``fit`` (the per-epoch validation pass
  included, as a learner waits for it too);
* time to target: the wall time until the validation accuracy first reaches ``--target``
  (0.95 on the offline digits takes a few epochs on a laptop CPU);

with the hardware, and the precision plan ``fit`` uses there: on a CUDA GPU bf16 autocast (or
fp16 + loss scaling) and channels_last (:func:`cnncourse.train.precision_plan`), on a CPU
float32 and the default memory format. Run it as ``python benchmarks/capstone_throughput.py``;
the last line is the verdict::

    capstone_throughput: 450 images/s, 26.1 s to 0.95 (target val_acc 0.95 within 6 epochs)

Taught in notebooks/12_capstone.ipynb.
"""
from __future__ import annotations

import argparse
import itertools

import torch

from cnncourse import capstone, runtime, train


def time_to_target(history: train.History, target: float) -> float | None:
    """Seconds of training until the validation accuracy first reached ``target`` (None: never)."""
    for seconds, acc in zip(itertools.accumulate(history.seconds), history.val_acc):
        if acc >= target:
            return seconds
    return None


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("mnist-offline", "cifar10", "auto"), default="mnist-offline")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--target", type=float, default=0.95, help="validation accuracy to reach")
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: the fastest available)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    dev = runtime.device(args.device)
    plan = train.precision_plan(dev)  # what fit will use: autocast dtype, loss scaling, memory format
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    config = capstone.CapstoneConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                                     train_size=args.train_size, patience=0, seed=args.seed)
    print(f"hardware : {runtime.device_words(dev)}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"precision: {plan}  (autocast {'on' if plan.autocast_dtype else 'off'}, "
          f"memory format {'channels_last' if plan.channels_last else 'contiguous'})")
    result = capstone.train(config, device=dev, progress=False, live_plot=False)
    print(result.history.table())
    print(result.summary())
    reached = time_to_target(result.history, args.target)
    seconds = f"{reached:.1f}" if reached is not None else "inf"
    missed = "" if reached is not None else f", NOT reached: best {result.history.best('val_acc'):.3f}"
    line = (f"capstone_throughput: {result.images_per_second:.0f} images/s, {seconds} s to {args.target:g} "
            f"(target val_acc {args.target:g} within {args.epochs} epochs on {result.dataset}{missed}; "
            f"{runtime.device_words(dev)}, {plan})")
    print(line)
    return line


if __name__ == "__main__":
    main()
