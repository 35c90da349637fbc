"""How fast does the capstone model train on a GPU, per precision mode, and how much of the chip does it use?

Part of ``benchmarks/gpu_check.sh`` (issue 16). On the capstone's SmallResNet (built by
:func:`cnncourse.capstone.build_model`, trained with its optimiser and loss) it measures

* ``train_step``: training images/s of a bare loop (forward, loss, backward, SGD step) on the
  offline digits (1x28x28) and on CIFAR-10-shaped tensors made on the device (3x32x32, 50,000
  random images), in four modes: float32 (cuDNN may use TF32), bf16 autocast, bf16 + channels_last,
  and bf16 + channels_last + ``torch.compile``; the median of several timed runs, after warm-up;
* ``mfu``: model FLOPs utilisation, images/s x training FLOPs per image / the bf16 peak
  (790 TFLOP/s, measured on an H200 of this workplace). FLOPs are counted by
  ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass; training = 3 x forward
  (the backward pass costs about twice the forward), the counted forward + backward is kept too;
* ``fit``: the whole recipe (``capstone.train``: augmentation, warm-up + cosine, per-epoch
  validation) on the digits until ``--epochs`` epochs, with the time to a validation accuracy of
  ``--target`` (0.99), and for ``--cifar-epochs`` epochs on the CIFAR-10-shaped tensors.

Every section is guarded: one that fails is recorded in ``failures`` and the others still run.
The JSON (``--json``) is rewritten after every section, so a run killed at its limit keeps what
it measured. ``--dry-run`` runs the same code tiny on the CPU (bf16 autocast on the CPU,
``torch.compile`` with the ``aot_eager`` backend: no C++ build). Run without a CUDA GPU and
without ``--dry-run`` (as ``make benchmarks`` does) it says so and stops. The last line is the verdict.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

PEAK_BF16_FLOPS = 790e12  # dense bf16 matrix product measured on an H200 here (KINDS.md: 769-798 TFLOP/s)
MODES = {
    "float32": dict(amp=False, channels_last=False, compile=False),
    "bf16": dict(amp=True, channels_last=False, compile=False),
    "bf16_channels_last": dict(amp=True, channels_last=True, compile=False),
    "bf16_channels_last_compile": dict(amp=True, channels_last=True, compile=True),
}


# ---------------------------------------------------------------- FLOPs and MFU (tested on the CPU)

def count_flops(model: nn.Module, shape: tuple[int, int, int], batch: int = 2, device="cpu") -> dict:
    """FLOPs per image of one forward pass and of one forward + backward, as FlopCounterMode counts them.

    ``shape`` is (C, H, W). The model is deep-copied (BatchNorm's running statistics are untouched)
    and run in float32 in training mode.
    """
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(model).to(device).float().train()
    x = torch.rand(batch, *shape, device=device)
    with FlopCounterMode(display=False) as fwd:
        net(x)
    forward = fwd.get_total_flops() / batch
    net.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as both:
        net(x).float().sum().backward()
    return {"forward_per_image": forward, "forward_backward_per_image_counted": both.get_total_flops() / batch,
            "train_per_image": 3 * forward}


def mfu(images_per_second: float, train_flops_per_image: float, peak: float = PEAK_BF16_FLOPS) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the peak (a fraction)."""
    return images_per_second * train_flops_per_image / peak


# ---------------------------------------------------------------- data and model

def cifar_shaped(n: int, device, seed: int = 0):
    """``n`` random CIFAR-10-shaped images (3x32x32 in [0, 1]) and labels, made on ``device``."""
    from cnncourse import data

    gen = torch.Generator(device=device).manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, device=device, generator=gen)
    labels = torch.randint(0, 10, (n,), device=device, generator=gen)
    return data.ImageSet(images, labels, tuple(str(i) for i in range(10)), "cifar10")


def cifar_splits(n: int, device, seed: int = 0):
    from cnncourse import data

    n_val = max(10, n // 10)
    return data.Splits(cifar_shaped(n, device, seed), cifar_shaped(n_val, device, seed + 1),
                       cifar_shaped(n_val, device, seed + 2))


def digits_splits(train_size: int | None, seed: int = 0):
    from cnncourse import data

    return data.load_splits("mnist-offline", seed=seed, train_size=train_size)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_train_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, dev: torch.device, *,
                    amp: bool, channels_last: bool, compile: bool, batch: int, steps: int, repeats: int,
                    warmup: int, compile_backend: str = "inductor") -> dict:
    """Median images/s of ``repeats`` timed runs of ``steps`` training steps (full batches only)."""
    from cnncourse import capstone

    config = capstone.CapstoneConfig()
    net = copy.deepcopy(model).to(dev)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = capstone.make_optimizer(net, config)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    run = torch.compile(net, backend=compile_backend, dynamic=False) if compile else net
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    n_batches = images.shape[0] // batch
    if n_batches < 1:
        raise ValueError(f"{images.shape[0]} images are fewer than one batch of {batch}")
    position = [0]

    def step():
        i = position[0] % n_batches
        position[0] += 1
        x = images[i * batch:(i + 1) * batch].contiguous(memory_format=fmt)
        y = labels[i * batch:(i + 1) * batch]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(run(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    start = time.perf_counter()
    for _ in range(warmup):
        loss = step()
    _sync(dev)
    warmup_seconds = time.perf_counter() - start
    rates = []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        _sync(dev)
        rates.append(steps * batch / (time.perf_counter() - t0))
    final = float(loss.detach().float())
    if final != final:
        raise FloatingPointError("the training loss became NaN")
    return {"images_per_second": statistics.median(rates), "runs": [round(r, 1) for r in rates],
            "batch_size": batch, "steps": steps, "warmup_seconds": round(warmup_seconds, 2), "final_loss": final}


# ---------------------------------------------------------------- the run

class Recorder:
    """The results dict, rewritten to ``path`` after every change; sections are guarded."""

    def __init__(self, path: Path | None, base: dict):
        self.path, self.result = path, base
        self.result.setdefault("failures", [])
        self.save()

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.result, indent=1, default=str) + "\n")
            os.replace(tmp, self.path)

    def section(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            value = fn(*args, **kwargs)
            print(f"gpu_throughput: {name}: ok in {time.perf_counter() - start:.1f} s", flush=True)
            return value
        except Exception as err:  # noqa: BLE001 - one failing section must not hide the others
            tail = traceback.format_exc().strip().splitlines()[-6:]
            self.result["failures"].append({"section": name, "error": f"{type(err).__name__}: {err}"[:600],
                                            "traceback_tail": tail})
            print(f"gpu_throughput: {name}: FAILED {type(err).__name__}: {err}", flush=True)
            return None
        finally:
            self.save()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (the rehearsal)")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    p.add_argument("--batch-size", type=int, default=None, help="the capstone's 128 (dry run 32)")
    p.add_argument("--big-batch", type=int, default=None, help="an extra batch size for the eager modes on CIFAR shapes (1024; dry run 64)")
    p.add_argument("--cifar-images", type=int, default=None, help="50,000 (dry run 256)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (100; dry run 3)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per mode (3; dry run 1)")
    p.add_argument("--epochs", type=int, default=None, help="digits fit epochs (30; dry run 2)")
    p.add_argument("--cifar-epochs", type=int, default=None, help="CIFAR-shaped fit epochs (2; dry run 1)")
    p.add_argument("--digits-train-size", type=int, default=None, help="(all; dry run 300)")
    p.add_argument("--target", type=float, default=0.99, help="validation accuracy for the time to target")
    p.add_argument("--compile-backend", default=None, help="inductor (dry run aot_eager)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile mode")
    p.add_argument("--deadline", type=float, default=None, help="seconds: sections starting later are skipped")
    return p


def _defaults(args) -> None:
    tiny = args.dry_run
    for name, full, small in (("batch_size", 128, 32), ("big_batch", 1024, 64), ("cifar_images", 50_000, 256),
                              ("steps", 100, 3), ("repeats", 3, 1), ("epochs", 30, 2), ("cifar_epochs", 2, 1),
                              ("compile_backend", "inductor", "aot_eager")):
        if getattr(args, name) is None:
            setattr(args, name, small if tiny else full)
    if args.digits_train_size is None and tiny:
        args.digits_train_size = 300
    if args.device is None:
        args.device = "cpu" if tiny else "cuda"


def main(argv: list[str] | None = None) -> dict | None:
    args = build_parser().parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available() and args.device in (None, "cuda"):
        print("gpu_throughput: skipped: torch sees no CUDA GPU here (--dry-run rehearses it tiny on the CPU)")
        return None
    _defaults(args)
    from capstone_throughput import time_to_target
    from cnncourse import capstone, runtime

    began = time.perf_counter()
    dev = runtime.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    rec = Recorder(args.json, {
        "device": runtime.device_words(dev), "torch": torch.__version__, "dry_run": args.dry_run,
        "peak_flops_bf16": PEAK_BF16_FLOPS, "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32, "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "settings": {k: v for k, v in vars(args).items() if k != "json"}, "flops": {}, "train_step": {}, "fit": {}})
    res = rec.result

    def late(name: str) -> bool:
        if args.deadline is not None and time.perf_counter() - began > args.deadline:
            res["failures"].append({"section": name, "error": f"skipped: past the {args.deadline:g} s deadline"})
            rec.save()
            return True
        return False

    config = capstone.CapstoneConfig()
    sets = {}
    digits = rec.section("load digits", digits_splits, args.digits_train_size)
    if digits is not None:
        sets["digits"] = (digits, digits.train.images.to(dev), digits.train.labels.to(dev))
    cifar = rec.section("make cifar-shaped tensors", cifar_splits, args.cifar_images, dev)
    if cifar is not None:
        sets["cifar10_shaped"] = (cifar, cifar.train.images, cifar.train.labels)
    models = {}
    for name, (splits, _, _) in sets.items():
        def flops(splits=splits, name=name):
            runtime.seed_everything(0)
            models[name] = capstone.build_model(config, splits)
            res["flops"][name] = count_flops(models[name], splits.train.shape, device="cpu")
        rec.section(f"flops {name}", flops)

    def measure(name, mode, batch):
        images, labels = sets[name][1], sets[name][2]
        opts = MODES[mode]
        out = time_train_step(models[name], images, labels, dev, amp=opts["amp"], channels_last=opts["channels_last"],
                              compile=opts["compile"], batch=batch, steps=args.steps, repeats=args.repeats,
                              warmup=(10 if opts["compile"] else 5) if not args.dry_run else 2,
                              compile_backend=args.compile_backend)
        flops = res["flops"].get(name)
        if flops:
            out["mfu"] = mfu(out["images_per_second"], flops["train_per_image"])
            out["mfu_counted_backward"] = mfu(out["images_per_second"], flops["forward_backward_per_image_counted"])
        key = mode if batch == args.batch_size else f"{mode}@{batch}"
        res["train_step"].setdefault(name, {})[key] = out
        print(f"  {name:15s} {key:34s} {out['images_per_second']:10.0f} images/s"
              + (f"  MFU {out['mfu'] * 100:.2f} %" if "mfu" in out else ""), flush=True)

    eager = [m for m in MODES if not MODES[m]["compile"]]
    for name in models:
        for mode in eager:
            if not late(f"train_step {name} {mode}"):
                rec.section(f"train_step {name} {mode}", measure, name, mode, args.batch_size)
    if "cifar10_shaped" in models and args.big_batch:
        for mode in eager:
            if not late(f"train_step cifar10_shaped {mode}@{args.big_batch}"):
                rec.section(f"train_step cifar10_shaped {mode}@{args.big_batch}", measure, "cifar10_shaped", mode, args.big_batch)

    def fit_digits():
        cfg = capstone.CapstoneConfig(dataset="mnist-offline", epochs=args.epochs, batch_size=args.batch_size,
                                      train_size=args.digits_train_size, patience=0, seed=0)
        t0 = time.perf_counter()
        result = capstone.train(cfg, device=dev, progress=False, live_plot=False)
        reached = time_to_target(result.history, args.target)
        res["fit"]["digits"] = {"images_per_second": result.images_per_second, "epochs": len(result.history),
                                "seconds": result.seconds, "wall_seconds": time.perf_counter() - t0,
                                "target": args.target, "time_to_target_s": reached,
                                "best_val_acc": result.history.best("val_acc"), "test_acc": result.test_acc,
                                "val_acc": [round(a, 4) for a in result.history.val_acc],
                                "epoch_seconds": [round(s, 3) for s in result.history.seconds],
                                "precision": result.precision, "train_images": len(digits.train) if digits else None}
        print(f"  fit digits: {result.images_per_second:.0f} images/s, "
              f"{'%.1f s' % reached if reached is not None else 'never'} to val_acc {args.target}", flush=True)

    def fit_cifar():
        cfg = capstone.CapstoneConfig(dataset="cifar10", epochs=args.cifar_epochs, batch_size=args.batch_size,
                                      patience=0, seed=0)
        result = capstone.train(cfg, splits=cifar, device=dev, progress=False, live_plot=False)
        res["fit"]["cifar10_shaped"] = {"images_per_second": result.images_per_second, "epochs": len(result.history),
                                        "seconds": result.seconds, "precision": result.precision,
                                        "epoch_seconds": [round(s, 3) for s in result.history.seconds],
                                        "train_images": len(cifar.train)}
        print(f"  fit cifar10-shaped: {result.images_per_second:.0f} images/s", flush=True)

    if digits is not None and not late("fit digits"):
        rec.section("fit digits", fit_digits)
    if cifar is not None and not late("fit cifar10_shaped"):
        rec.section("fit cifar10_shaped", fit_cifar)
    if not args.no_compile:
        for name in sorted(models, key=lambda n: n != "cifar10_shaped"):  # CIFAR shapes first: the MFU figure
            if not late(f"train_step {name} bf16_channels_last_compile"):
                rec.section(f"train_step {name} bf16_channels_last_compile", measure, name,
                            "bf16_channels_last_compile", args.batch_size)

    steps = res["train_step"]
    best = {name: max(modes.items(), key=lambda kv: kv[1]["images_per_second"]) for name, modes in steps.items() if modes}
    res["best"] = {name: {"mode": mode, "images_per_second": v["images_per_second"], "mfu": v.get("mfu")}
                   for name, (mode, v) in best.items()}
    res["seconds"] = round(time.perf_counter() - began, 1)
    rec.save()
    parts = [f"{name} {v['images_per_second']:.0f} images/s ({v['mode']}, MFU {100 * (v['mfu'] or 0):.2f} %)"
             for name, v in res["best"].items()]
    ttt = res["fit"].get("digits", {}).get("time_to_target_s")
    print(f"gpu_throughput: {'; '.join(parts) or 'nothing measured'}; "
          f"{'%.1f s' % ttt if ttt is not None else 'never'} to val_acc {args.target} on the digits; "
          f"{len(res['failures'])} failure(s); {res['device']}")
    return res


if __name__ == "__main__":
    main()
