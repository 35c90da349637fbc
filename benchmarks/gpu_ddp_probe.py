"""Does the capstone's data-parallel machinery work on this device's backend, even with one process?

Part of ``benchmarks/gpu_check.sh`` (issue 16). ``python -m cnncourse.capstone`` starts a process
group only when ``WORLD_SIZE`` > 1, so ``torchrun --nproc_per_node=1`` on a one-GPU machine never
touches nccl. This probe does, under ``torchrun --standalone --nproc_per_node=1`` (or alone: it then
makes a world of one itself): it initialises the process group (``--backend``: nccl on CUDA, gloo
on the CPU), runs a broadcast and an all-reduce like ``capstone._broadcast_val_metrics``, converts
the capstone model to SyncBatchNorm (on CUDA), wraps it in DistributedDataParallel with
channels_last and the precision plan ``fit`` uses, trains a few steps on the offline digits
through ``capstone.ShardedLoader`` and checks the loss is finite. The last line is the verdict
(and a JSON object after ``ddp_probe_json:``).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("auto", "nccl", "gloo"), default="auto")
    p.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK when there is a GPU, else cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--train-size", type=int, default=1000)
    args = p.parse_args(argv)
    if "RANK" not in os.environ:  # alone, not under torchrun: a world of one
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(_free_port()))
    from cnncourse import capstone, data, runtime, train

    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(args.device) if args.device else (torch.device("cuda", local) if torch.cuda.is_available()
                                                          else torch.device("cpu"))
    backend = args.backend if args.backend != "auto" else ("nccl" if dev.type == "cuda" else "gloo")
    out = {"backend": backend, "device": runtime.device_words(dev), "world_size": None, "steps": args.steps}
    start = time.perf_counter()
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    torch.distributed.init_process_group(backend)
    try:
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        out["world_size"] = world
        numbers = torch.tensor([0.5, 0.25], dtype=torch.float64, device=dev)
        torch.distributed.broadcast(numbers, src=0)
        total = torch.ones(3, device=dev)
        torch.distributed.all_reduce(total)
        out["all_reduce_ok"] = bool(torch.allclose(total, torch.full_like(total, float(world))))
        config = capstone.CapstoneConfig(dataset="mnist-offline", epochs=1, train_size=args.train_size, patience=0)
        splits = data.load_splits("mnist-offline", seed=0, train_size=args.train_size)
        runtime.seed_everything(0)
        model = capstone.build_model(config, splits).to(dev)
        if dev.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        plan = train.precision_plan(dev)
        if plan.channels_last:
            model = model.to(memory_format=torch.channels_last)
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index or 0] if dev.type == "cuda" else None)
        optimizer = capstone.make_optimizer(model, config)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        loader = capstone.ShardedLoader(splits.train.images.to(dev), splits.train.labels.to(dev), 64, rank=rank,
                                        world_size=world, seed=0, transform=capstone.augmentation("mnist-offline", 0))
        losses, done = [], 0
        while done < args.steps:
            for x, y in loader:
                if plan.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(dev.type, dtype=plan.autocast_dtype or torch.float32,
                                    enabled=plan.autocast_dtype is not None):
                    loss = loss_fn(ddp(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                done += 1
                if done >= args.steps:
                    break
        torch.distributed.barrier()
        out.update(precision=str(plan), first_loss=losses[0], last_loss=losses[-1],
                   finite=all(v == v and abs(v) != float("inf") for v in losses),
                   seconds=round(time.perf_counter() - start, 2))
        out["ok"] = bool(out["all_reduce_ok"] and out["finite"])
    finally:
        torch.distributed.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print("ddp_probe_json: " + json.dumps(out))
        print(f"gpu_ddp_probe: {'ok' if out.get('ok') else 'FAILED'}: {backend} on {out['device']}, "
              f"world {out['world_size']}, loss {out['first_loss']:.3f} -> {out['last_loss']:.3f} in {args.steps} "
              f"DDP steps ({out['precision']}), {out['seconds']} s")
    return out


if __name__ == "__main__":
    main()
