"""cnncourse.capstone: the recipe's parts, a checkpoint round trip, and DDP under torchrun matching one process."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnncourse import capstone, data, models, train
from cnncourse.capstone import CapstoneConfig, ShardedLoader
from cnncourse.schedules import make_scheduler

ROOT = Path(__file__).resolve().parent.parent

# Small enough for two CPU cores: ~10 s per run; big enough to reach ~0.9 test accuracy.
SMALL = ["--dataset", "mnist-offline", "--epochs", "5", "--patience", "0", "--train-size", "1500",
         "--test-size", "500", "--widths", "16", "32", "64", "--blocks", "1", "--batch-size", "64",
         "--lr", "0.1", "--device", "cpu", "--seed", "0"]


def test_the_schedule_is_chapter_09s_warmup_cosine_with_a_capped_warmup():
    assert capstone.warmup_steps(CapstoneConfig(epochs=10), 4) == 4  # one epoch of 4 batches
    assert capstone.warmup_steps(CapstoneConfig(epochs=2), 10) == 4  # at most a fifth of the run
    assert capstone.warmup_steps(CapstoneConfig(epochs=1), 1) == 0  # a one-batch run has no room to warm up
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make_scheduler("warmup_cosine", opt, 12, warmup_steps=4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert lrs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])  # LinearLR from 1/(W+1) up to the peak
    assert lrs[5] == pytest.approx(0.5 * (1 + math.cos(math.pi / 8)))  # then cosine over the other 8 steps
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)  # down to 0 at the end of the run


def test_sharded_loader_splits_every_global_batch_between_ranks():
    images = torch.arange(10.0).reshape(10, 1, 1, 1)
    labels = torch.arange(10)
    single = ShardedLoader(images, labels, batch_size=4, seed=3)
    ranks = [ShardedLoader(images, labels, batch_size=4, rank=r, world_size=2, seed=3) for r in range(2)]
    assert len(single) == 3 and all(len(r) == 3 for r in ranks)
    for _epoch in range(2):
        whole = [y.tolist() for _, y in single]
        parts = [[y.tolist() for _, y in r] for r in ranks]
        for g, (a, b) in enumerate(zip(*parts)):
            assert len(a) == len(b)  # every rank takes the same number of samples per step
            assert sorted(a + b) == sorted(whole[g]) or g == len(whole) - 1
        seen = sorted(sum((a + b for a, b in zip(*parts)), []))
        assert set(seen) == set(range(10)) and len(seen) == 10  # 10 splits evenly over 2 ranks: no padding
    epoch0 = [y.tolist() for _, y in ShardedLoader(images, labels, batch_size=10, seed=3)]
    again = ShardedLoader(images, labels, batch_size=10, seed=3)
    next(iter(again))
    assert [y.tolist() for _, y in again] != epoch0  # a new permutation every epoch


def test_sharded_loader_pads_like_distributed_sampler_and_augments_the_global_batch():
    images = torch.rand(7, 1, 4, 4)
    labels = torch.arange(7)
    ranks = [ShardedLoader(images, labels, batch_size=4, rank=r, world_size=2, seed=0, transform=lambda x: x + 1)
             for r in range(2)]
    sizes = [[y.numel() for _, y in r] for r in ranks]
    assert sizes[0] == sizes[1] == [2, 2]  # 7 samples padded to 8
    x, _ = next(iter(ranks[0]))
    assert x.min() >= 1  # the transform ran
    with pytest.raises(ValueError, match="does not split over 3 ranks"):
        ShardedLoader(images, labels, batch_size=4, world_size=3)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        ShardedLoader(images, labels, batch_size=4, rank=2, world_size=2)


def test_photos_are_flipped_digits_are_not():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    flipped = capstone.RandomFlip(seed=0)(x)
    is_flipped = (flipped == x.flip(-1)).flatten(1).all(1)
    assert ((flipped == x).flatten(1).all(1) | is_flipped).all()  # each image: as is, or mirrored
    assert 16 < is_flipped.sum() < 48
    assert torch.equal(flipped, capstone.RandomFlip(seed=0)(x))  # reproducible from the seed
    digits = capstone.augmentation("mnist-offline", seed=0)
    assert digits.strength.rotation == 10.0  # BatchAugment: rotations and shifts, no flips for digits


def test_without_download_auto_falls_back_to_the_offline_digits(monkeypatch):
    monkeypatch.setattr(data, "available_datasets", lambda: {"cifar10": "online only"})
    splits = capstone.load_data(CapstoneConfig(dataset="auto", train_size=200, test_size=100), download=False)
    assert splits.train.name == "mnist-offline" and len(splits.train) == 200


def test_config_rejects_unknown_data_sets():
    with pytest.raises(ValueError, match="dataset must be 'auto', 'cifar10' or 'mnist-offline'"):
        CapstoneConfig(dataset="imagenet")


def test_model_standardises_inside_and_the_optimizer_skips_decay_on_norms():
    splits = data.load_splits("mnist-offline", train_size=300, test_size=100)
    model = capstone.build_model(CapstoneConfig(widths=(8, 16), blocks_per_stage=1), splits)
    mean, std = data.channel_stats(splits.train.images)
    z = model[0](splits.train.images)
    assert z.mean().item() == pytest.approx(0.0, abs=1e-4) and z.std().item() == pytest.approx(1.0, abs=1e-3)
    assert model(splits.train.images[:2]).shape == (2, 10)
    opt = capstone.make_optimizer(model, CapstoneConfig())
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 5e-4 and plain["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert opt.defaults["nesterov"] and opt.defaults["momentum"] == 0.9


def test_parameter_groups_decay_weights_only_and_cover_every_parameter():
    splits = data.load_splits("mnist-offline", train_size=300, test_size=100)
    for architecture in capstone.ARCHITECTURES:
        model = capstone.build_model(CapstoneConfig(widths=(8, 16), blocks_per_stage=1), splits, architecture=architecture)
        decayed, plain = capstone.parameter_groups(model, 1e-3)
        assert decayed["weight_decay"] == 1e-3 and plain["weight_decay"] == 0.0
        assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
        assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
        opt = capstone.make_optimizer(model, CapstoneConfig(weight_decay=1e-3))
        assert [len(g["params"]) for g in opt.param_groups] == [len(decayed["params"]), len(plain["params"])]


def test_build_model_makes_the_lenet_baseline_behind_the_same_standardisation():
    splits = data.load_splits("mnist-offline", train_size=300, test_size=100)
    lenet = capstone.build_model(CapstoneConfig(), splits, architecture="lenet")
    assert isinstance(lenet[0], capstone.Standardize) and isinstance(lenet[1], models.LeNet5)
    assert lenet(splits.train.images[:3]).shape == (3, 10)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in lenet.modules())
    assert isinstance(capstone.build_model(CapstoneConfig(), splits)[1], models.SmallResNet)
    with pytest.raises(ValueError, match=r"architecture must be one of \('resnet', 'lenet'\); got 'vgg'"):
        capstone.build_model(CapstoneConfig(), splits, architecture="vgg")


def test_train_learns_and_the_checkpoint_reloads_to_identical_predictions(tmp_path):
    config = CapstoneConfig(dataset="mnist-offline", epochs=3, batch_size=64, train_size=600, test_size=200,
                            widths=(8, 16), blocks_per_stage=1, patience=2)
    path = tmp_path / "capstone.pt"
    result = capstone.train(config, device="cpu", progress=False, live_plot=False, checkpoint=path)
    assert result.dataset == "mnist-offline" and result.world_size == 1  # 3 short epochs: above chance (0.1)
    assert result.test_acc > 0.15 and result.images_per_second > 0 and "cpu" in result.device
    assert result.precision == "float32, contiguous"
    assert "test accuracy" in result.summary()
    splits = capstone.load_data(config)
    fresh = capstone.build_model(config, splits)
    info = train.load_checkpoint(path, fresh)
    assert info["meta"]["dataset"] == "mnist-offline" and info["meta"]["config"]["widths"] == [8, 16]
    x = splits.test.images
    assert torch.equal(train.predict(fresh, x), train.predict(result.model, x))
    assert info["meta"]["test_acc"] == pytest.approx(result.test_acc)


def test_the_script_has_help():
    out = subprocess.run([sys.executable, "-m", "cnncourse.capstone", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "torchrun --nproc_per_node=2" in out.stdout and "--backend" in out.stdout and "global batch" in out.stdout


def _accuracy(text: str) -> float:
    match = re.search(r"capstone: test accuracy ([\d.]+)", text)
    assert match, text[-2000:]
    return float(match.group(1))


def test_ddp_under_torchrun_matches_one_process(tmp_path, capsys):
    """Two gloo processes, global batch 64 (32 per rank), against one process with batch 64.

    Both see the same images in the same global batches with the same augmentation and start
    from the same weights; DDP averages the two half-batch gradients, which equals the full-batch
    gradient. Only BatchNorm's batch statistics (per half batch on CPU, where SyncBatchNorm is
    unavailable) and float summation order differ. So the two runs are *not* independent seeds:
    they track each other. Tolerance 0.04 on 500 test images (the binomial standard error of one
    accuracy near 0.9 is 0.013; 0.04 is three of those, about two of a difference of two runs), plus a
    first-epoch training loss within 5 %, which catches a wrong shard or unaveraged gradients.
    """
    single = capstone.main(SMALL)
    capsys.readouterr()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ckpt = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "cnncourse.capstone", "--backend", "gloo", *SMALL, "--checkpoint", str(ckpt)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "capstone: 2 process(es)" in out.stdout and out.stdout.count("capstone: test accuracy") == 1  # rank 0 only
    ddp_acc = _accuracy(out.stdout)
    assert single.test_acc > 0.8, single.summary()
    assert abs(ddp_acc - single.test_acc) <= 0.04, (ddp_acc, single.test_acc)
    first_loss = float(re.search(r"^\s+1\s+([\d.]+)", out.stdout, re.MULTILINE).group(1))
    assert first_loss == pytest.approx(single.history.train_loss[0], rel=0.05)
    config = single.config
    fresh = capstone.build_model(config, capstone.load_data(config))
    info = train.load_checkpoint(ckpt, fresh)
    assert info["meta"]["world_size"] == 2
    assert info["meta"]["test_acc"] == pytest.approx(ddp_acc, abs=1e-4)


# ---------------------------------------------------------------- start-up checks (issue 15)

@pytest.mark.parametrize("flags, error", [
    (["--widths", "16", "0"], "argument --widths: '0' is not allowed; use a whole number >= 1"),
    (["--device", "nonsense"], "argument --device: device('nonsense') is not a device; use 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    (["--patience", "-3"], "argument --patience: '-3' is not allowed; use a whole number >= 0 (0 switches early stopping off)"),
    (["--epochs", "0"], "argument --epochs: '0' is not allowed; use a whole number >= 1"),
    (["--batch-size", "abc"], "argument --batch-size: 'abc' is not allowed; use a whole number >= 1"),
    (["--lr", "-0.1"], "argument --lr: '-0.1' is not allowed; use a number > 0"),
    (["--label-smoothing", "1"], "argument --label-smoothing: '1' is not allowed; use a number in [0, 1)"),
    (["--checkpoint", "/proc/nope/x.pt"], "argument --checkpoint: cannot save a checkpoint at /proc/nope/x.pt: cannot write to /proc/nope"),
])
def test_bad_flags_stop_at_start_up_with_one_argparse_line(flags, error, capsys, monkeypatch):
    if flags[0] == "--checkpoint" and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    monkeypatch.setattr(capstone, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as exit_:
        capstone.main(flags)
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"python -m cnncourse.capstone: error: {error}"), last


def test_the_batch_must_split_over_the_torchrun_processes(capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(SystemExit):
        capstone.parse_args(["--batch-size", "64"])
    assert "the global batch 64 does not split over 3 processes; use a multiple of 3" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert capstone.parse_args(["--batch-size", "64", "--widths", "8", "16"]).widths == [8, 16]


def test_a_read_only_checkpoint_folder_fails_before_training(read_only_dir, monkeypatch, capsys):
    """Before: the script trained for the whole run, then lost it to a PermissionError at the save."""
    monkeypatch.setattr(capstone, "fit", lambda *a, **k: pytest.fail("training started"))
    target = read_only_dir / "capstone.pt"
    with pytest.raises(SystemExit):
        capstone.main(["--dataset", "mnist-offline", "--checkpoint", str(target)])
    assert f"argument --checkpoint: cannot save a checkpoint at {target}: cannot write to {read_only_dir}" in capsys.readouterr().err
    config = CapstoneConfig(dataset="mnist-offline", epochs=1, train_size=200, test_size=100)
    with pytest.raises(train.CheckpointError, match=f"cannot save a checkpoint at {target}"):
        capstone.train(config, device="cpu", progress=False, live_plot=False, checkpoint=target)


def test_the_script_itself_reports_a_bad_flag_in_one_line():
    out = subprocess.run([sys.executable, "-m", "cnncourse.capstone", "--widths", "0"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == ("python -m cnncourse.capstone: error: argument --widths: '0' is not "
                                                   "allowed; use a whole number >= 1")


def test_config_rejects_nonsense_widths_and_patience():
    with pytest.raises(ValueError, match="widths and blocks_per_stage must be >= 1"):
        CapstoneConfig(widths=(16, 0))
    with pytest.raises(ValueError, match=r"patience must be >= 0 \(0 switches early stopping off\); got -3"):
        CapstoneConfig(patience=-3)
