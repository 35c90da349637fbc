"""cnncourse.train: fit learns real digits, its hooks work, mixed precision paths run, checkpoints are safe."""
from pathlib import Path

import pytest
import torch
from torch import nn

from cnncourse import data, models, train


@pytest.fixture(scope="module")
def digits():
    s = data.load_splits("mnist-offline", train_size=600, test_size=300, seed=0)
    return s


def loaders(s, batch_size=64):
    return data.TensorLoader(s.train, batch_size=batch_size, shuffle=True), data.TensorLoader(s.val, batch_size=256)


def test_fit_learns_real_digits_and_records_history(digits):
    torch.manual_seed(0)
    model = models.LeNet5()
    tl, vl = loaders(digits)
    h = train.fit(model, tl, vl, epochs=4, lr=3e-3, progress=False, live_plot=False)
    assert h.epoch == [1, 2, 3, 4] and len(h.val_acc) == 4 and len(h.seconds) == 4
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_acc[-1] > 0.7  # 600 real digits, 4 epochs: far above chance (0.1)
    loss, acc = train.evaluate(model, data.TensorLoader(digits.test, batch_size=100))
    assert 0.6 < acc <= 1 and loss > 0
    assert h.best("val_acc") == max(h.val_acc) and h.best("val_loss") == min(h.val_loss)
    assert "epoch" in h.table() and h.total_seconds > 0


def test_fit_with_progress_bar_and_without_validation(digits, capsys):
    model = models.LeNet5()
    h = train.fit(model, data.TensorLoader(digits.train, batch_size=200), epochs=1, progress=True, live_plot=False)
    assert h.val_acc == [] and len(h.train_acc) == 1
    assert "epoch 1/1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="History has no val_acc"):
        h.best("val_acc")


def test_schedulers_step_per_epoch_per_batch_and_on_plateau(digits):
    tl, vl = loaders(digits, batch_size=200)
    model = models.LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = train.fit(model, tl, vl, epochs=3, optimizer=opt, scheduler=torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
                  progress=False, live_plot=False)
    assert h.lr == pytest.approx([0.1, 0.05, 0.025])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2 * len(tl))
    used = []  # the rate of every batch of the same schedule, replayed on a bare optimizer
    replay = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    replay_schedule = torch.optim.lr_scheduler.OneCycleLR(replay, max_lr=0.1, total_steps=2 * len(tl))
    for _ in range(2 * len(tl)):
        used.append(replay.param_groups[0]["lr"])
        replay.step()
        replay_schedule.step()
    h = train.fit(model, tl, epochs=2, optimizer=opt, scheduler=one_cycle, scheduler_step="batch", progress=False, live_plot=False)
    assert one_cycle.last_epoch == 2 * len(tl)
    # per-batch schedules: History.lr holds the rate each epoch's last batch used, not the scheduler's next one
    assert h.lr == pytest.approx([used[len(tl) - 1], used[-1]])
    assert h.lr[-1] < 1e-5  # one-cycle ends near max_lr / (div_factor * final_div_factor)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    train.fit(model, tl, vl, epochs=2, optimizer=opt, scheduler=plateau, progress=False, live_plot=False)
    assert plateau.best < float("inf")  # it was given the validation loss


def test_early_stopping_restores_the_best_weights(digits):
    tl, vl = loaders(digits)
    model = models.LeNet5()
    snapshots = {}

    def remember(epoch, history):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    # an absurd learning rate after the first epoch makes validation worse, so stopping must trigger
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 if e == 0 else 400.0)
    h = train.fit(model, tl, vl, epochs=10, optimizer=opt, scheduler=sched, on_epoch_end=remember,
                  early_stopping=train.EarlyStopping(patience=2, metric="val_loss"), progress=False, live_plot=False)
    assert h.stopped_early and len(h) < 10
    best = h.best_epoch
    assert h.val_loss[best - 1] == min(h.val_loss)
    assert all(torch.equal(v, snapshots[best][k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="needs a validation set"):
        train.fit(model, tl, epochs=1, early_stopping=train.EarlyStopping())


def test_precision_plans_for_cuda_mps_and_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    plan = train.precision_plan("cuda")
    assert plan.autocast_dtype is torch.bfloat16 and not plan.grad_scaler and plan.channels_last
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # e.g. a V100 or T4
    plan = train.precision_plan("cuda")
    assert plan.autocast_dtype is torch.float16 and plan.grad_scaler
    assert str(plan) == "float16 + loss scaling, channels_last"
    assert train.precision_plan("mps") == train.PrecisionPlan(None, False, False)
    assert train.precision_plan("cpu") == train.PrecisionPlan(None, False, False)
    assert train.precision_plan("cpu", amp="bf16", channels_last=True).autocast_dtype is torch.bfloat16
    with pytest.raises(ValueError, match="amp must be"):
        train.precision_plan("cpu", amp="fp8")


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_the_mixed_precision_and_channels_last_path_runs_on_cpu(digits, amp):
    """The CUDA code path (autocast, loss scaling, channels_last), executed with the CPU backend."""
    model = models.LeNet5()
    tl, vl = loaders(digits, batch_size=200)
    h = train.fit(model, tl, vl, epochs=1, amp=amp, channels_last=True, progress=False, live_plot=False)
    assert torch.isfinite(torch.tensor(h.train_loss)).all() and h.val_acc[0] > 0.1
    assert model.features.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_predict_returns_probabilities_and_restores_mode(digits):
    model = models.LeNet5(norm="batch").train()
    p = train.predict(model, digits.test.images[:10])
    assert p.shape == (10, 10) and torch.allclose(p.sum(1), torch.ones(10))
    assert model.training


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path, digits):
    model = models.LeNet5()
    opt = torch.optim.Adam(model.parameters())
    h = train.fit(model, data.TensorLoader(digits.train, batch_size=200), epochs=1, optimizer=opt,
                  progress=False, live_plot=False)
    path = train.save_checkpoint(tmp_path / "ck" / "lenet.pt", model, opt, h, accuracy=0.5, note="test")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    fresh = models.LeNet5()
    fresh_opt = torch.optim.Adam(fresh.parameters())
    loaded = train.load_checkpoint(path, fresh, fresh_opt)
    assert loaded["meta"] == {"accuracy": 0.5, "note": "test"} and loaded["history"].train_loss == h.train_loss
    x = digits.test.images[:5]
    assert torch.equal(train.predict(model, x), train.predict(fresh, x))
    assert fresh_opt.state_dict()["state"]  # Adam's moments came back too


def test_checkpoint_errors_say_what_to_do(tmp_path):
    model = models.LeNet5()
    with pytest.raises(train.CheckpointError, match="no checkpoint at .*save_checkpoint"):
        train.load_checkpoint(tmp_path / "missing.pt", model)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(train.CheckpointError, match="not a readable checkpoint.*delete it"):
        train.load_checkpoint(bad, model)
    path = train.save_checkpoint(tmp_path / "other.pt", nn.Linear(2, 2))
    with pytest.raises(train.CheckpointError, match="different model"):
        train.load_checkpoint(path, model)


def test_fit_rejects_nonsense_arguments(digits):
    model = models.LeNet5()
    tl, _ = loaders(digits)
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        train.fit(model, tl, epochs=-1)
    with pytest.raises(ValueError, match="scheduler_step"):
        train.fit(model, tl, epochs=1, scheduler_step="step")
    with pytest.raises(ValueError, match="yielded no batches"):
        train.fit(model, [], epochs=1, device="cpu", progress=False)


# ---------------------------------------------------------------- checkpoints that always load (issue 15)

def test_numpy_scalars_paths_and_dataclasses_in_the_metadata_are_saved_as_plain_values(tmp_path):
    """Before, these saved fine and then load_checkpoint refused its own file (weights_only=True)."""
    import dataclasses

    import numpy as np

    @dataclasses.dataclass
    class Settings:
        widths: tuple = (8, 16)
        where: Path = Path("/data")

    model = nn.Linear(3, 2)
    path = train.save_checkpoint(tmp_path / "m.pt", model, test_acc=np.float64(0.9), epochs=np.int64(3),
                                 ok=np.bool_(True), curve=np.array([0.5, 0.25]), folder=tmp_path / "x",
                                 settings=Settings())
    loaded = train.load_checkpoint(path, nn.Linear(3, 2))["meta"]
    assert loaded == {"test_acc": 0.9, "epochs": 3, "ok": True, "curve": [0.5, 0.25], "folder": str(tmp_path / "x"),
                      "settings": {"widths": (8, 16), "where": "/data"}}
    assert type(loaded["test_acc"]) is float and type(loaded["epochs"]) is int and type(loaded["ok"]) is bool
    torch.load(path, weights_only=True)  # what any reader of the file does


def test_metadata_a_checkpoint_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    class Custom:
        pass

    with pytest.raises(TypeError, match=r"^save_checkpoint: meta 'extra'\[1\] is a Custom, which a weights-only "
                                        r"checkpoint cannot hold; .*nothing was written$"):
        train.save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2), extra=[1, Custom()])
    assert list(tmp_path.iterdir()) == []


class _ExtraState(nn.Linear):
    """A layer whose extra state is whatever the test puts there (torch pickles it into the checkpoint)."""

    def __init__(self, extra):
        super().__init__(2, 2)
        self.extra = extra

    def get_extra_state(self):
        return self.extra

    def set_extra_state(self, state):
        self.extra = state


def test_a_failed_save_leaves_no_temp_file_and_keeps_the_previous_checkpoint(tmp_path):
    path = train.save_checkpoint(tmp_path / "m.pt", _ExtraState("fine"))
    before = path.read_bytes()
    with pytest.raises(train.CheckpointError, match=r"^could not save .*m\.pt \(.*\); any previous checkpoint there is intact$"):
        train.save_checkpoint(path, _ExtraState(lambda: 0))  # a lambda cannot be pickled: torch.save fails mid-write
    with pytest.raises(train.CheckpointError, match=r"weights-only checkpoint cannot \(.*Unsupported global.*_ExtraState"):
        train.save_checkpoint(path, _ExtraState(_ExtraState("nested")))  # written, but weights_only refuses to read it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"] and path.read_bytes() == before


def test_an_optimizer_of_another_class_is_refused_in_one_line_before_step_breaks(tmp_path):
    """Before: SGD's state loaded silently into Adam, and the next step() raised KeyError: 'betas'."""
    model = nn.Linear(3, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    sgd.step()
    path = train.save_checkpoint(tmp_path / "m.pt", model, sgd)
    fresh = nn.Linear(3, 2)
    adam = torch.optim.Adam(fresh.parameters())
    with pytest.raises(train.CheckpointError, match=r"^.*m\.pt holds SGD optimizer state, not Adam; build the same optimizer "
                                                    r"\(torch\.optim\.SGD\) as when it was saved, or load without optimizer=$"):
        train.load_checkpoint(path, fresh, adam)
    assert adam.state_dict()["param_groups"][0]["betas"] == (0.9, 0.999)  # untouched
    same = torch.optim.SGD(fresh.parameters(), lr=0.5, momentum=0.9)
    train.load_checkpoint(path, fresh, same)
    assert same.param_groups[0]["lr"] == 0.1 and same.state_dict()["state"]  # the real thing still loads
    # a checkpoint from before the class was recorded: the groups are checked, the optimizer restored
    state = torch.load(path, weights_only=True)
    del state["optimizer_class"]
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(train.CheckpointError, match="holds optimizer state that does not fit this Adam"):
        train.load_checkpoint(tmp_path / "old.pt", fresh, adam)
    model(torch.randn(4, 3)).sum().backward()
    adam.step()  # still a working Adam


def test_a_read_only_outputs_folder_gives_one_line_before_saving(read_only_dir):
    target = read_only_dir / "outputs" / "m.pt"
    with pytest.raises(train.CheckpointError, match=rf"^cannot save a checkpoint at {target}: cannot write to "
                                                    rf"{read_only_dir}/outputs \(.*\); make {read_only_dir} writable"):
        train.save_checkpoint(target, nn.Linear(2, 2))
    with pytest.raises(train.CheckpointError, match="it is a folder; give a file name"):
        train.check_checkpoint_path(read_only_dir)
