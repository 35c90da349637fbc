"""Chapter 09's compute functions (cnncourse/lessons/learning_rate.py), checked against PyTorch and formulas."""
import copy
import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from cnncourse.lessons import learning_rate as L


def _formula_warmup_cosine(t, total, warmup, base, low):
    if t < warmup:
        return base * (t + 1) / (warmup + 1)
    p = (t - warmup) / (total - warmup)
    return low + (base - low) * (1 + math.cos(math.pi * p)) / 2


def test_constant_schedule_is_flat_and_has_no_scheduler():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    assert L.make_scheduler("constant", opt, 10) is None
    assert L.schedule_lrs("constant", 7, base_lr=0.3).tolist() == [0.3] * 7


def test_step_decay_equals_formula():
    lrs = L.schedule_lrs("step", 12, base_lr=0.1, step_size=4, gamma=0.5)
    expected = torch.tensor([0.1 * 0.5 ** (t // 4) for t in range(12)], dtype=torch.float64)
    torch.testing.assert_close(lrs, expected)


def test_step_decay_defaults_to_thirds():
    lrs = L.schedule_lrs("step", 9, base_lr=1.0)
    assert lrs.tolist() == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 3)


def test_cosine_equals_closed_form():
    lrs = L.schedule_lrs("cosine", 50, base_lr=0.2, min_lr=0.01)
    expected = torch.tensor([0.01 + 0.19 * (1 + math.cos(math.pi * t / 50)) / 2 for t in range(50)], dtype=torch.float64)
    torch.testing.assert_close(lrs, expected)


@pytest.mark.parametrize(("total", "warmup", "base", "low"), [(20, 5, 0.1, 0.001), (10, 0, 1.0, 0.0), (8, 7, 0.5, 0.05)])
def test_warmup_cosine_equals_the_exercise_formula(total, warmup, base, low):
    lrs = L.schedule_lrs("warmup_cosine", total, base_lr=base, warmup_steps=warmup, min_lr=low)
    expected = torch.tensor([_formula_warmup_cosine(t, total, warmup, base, low) for t in range(total)], dtype=torch.float64)
    torch.testing.assert_close(lrs, expected)


def test_linear_warmup_reaches_base_at_step_w_then_stays():
    lrs = L.schedule_lrs("warmup", 20, base_lr=0.1, warmup_steps=4)
    assert lrs[:5].tolist() == pytest.approx([0.1 * (t + 1) / 5 for t in range(5)])
    assert lrs[4:].tolist() == pytest.approx([0.1] * 16)


def test_onecycle_matches_torch_defaults():
    lrs = L.schedule_lrs("onecycle", 100, base_lr=0.4)
    assert lrs[0].item() == pytest.approx(0.4 / 25)
    assert lrs.max().item() == pytest.approx(0.4)
    assert 25 <= int(lrs.argmax()) <= 31  # pct_start 0.3
    assert lrs[-1].item() < 0.4 / 25 / 1e3


def test_plateau_reduces_only_after_patience_without_improvement():
    metrics = [1.0, 0.9, 0.8] + [0.8] * 10
    lrs = L.schedule_lrs("plateau", len(metrics), base_lr=1.0, metrics=metrics, patience=2, factor=0.5)
    # improvements until step 2; steps 3, 4 are the patience; the lr halves after the third bad step
    assert lrs[:6].tolist() == [1.0] * 6
    assert lrs[6].item() == pytest.approx(0.5)
    assert lrs.min().item() < 0.5


def test_plateau_uses_synthetic_losses_by_default_and_they_are_seeded():
    torch.testing.assert_close(L.plateau_losses(30), L.plateau_losses(30))
    lrs = L.schedule_lrs("plateau", 100, base_lr=0.1)
    assert lrs[0].item() == 0.1 and lrs[-1].item() < 0.1
    with pytest.raises(ValueError, match="one metric per step"):
        L.schedule_lrs("plateau", 10, metrics=[1.0, 2.0])


def test_record_lrs_in_the_wrong_order_warns_and_skips_the_first_value():
    step_lr = lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)  # noqa: E731
    right = L.record_lrs(step_lr, 5, base_lr=1.0)
    assert right.tolist() == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])
    with pytest.warns(UserWarning, match="before `optimizer.step"):
        wrong = L.record_lrs(step_lr, 5, base_lr=1.0, scheduler_first=True)
    assert wrong.tolist() == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])


def test_record_lrs_with_adam_and_the_articles_t_max():
    lrs = L.record_lrs(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=50), 101, base_lr=0.001, optimizer="adam")
    assert lrs[50].item() == pytest.approx(0.0, abs=1e-12)
    assert lrs[100].item() == pytest.approx(0.001)  # past T_max it climbs back


def test_make_scheduler_rejects_bad_settings():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        L.make_scheduler("exp", opt, 10)
    with pytest.raises(ValueError, match="warmup_steps"):
        L.make_scheduler("warmup_cosine", opt, 10, warmup_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        L.make_scheduler("cosine", opt, 0)


def test_format_schedule_table_has_one_row_per_schedule():
    curves = {k: L.schedule_lrs(k, 20) for k in ("constant", "cosine")}
    text = L.format_schedule_table(curves, at=[0, 19])
    assert text.splitlines()[1].startswith("fixed LR") and "cosine annealing" in text
    assert len(text.splitlines()) == 3


@pytest.mark.parametrize("kind", L.SCHEDULES)
def test_explore_gives_a_curve_below_the_peak(kind):
    c = L.explore(kind, peak_lr=0.05, warmup_fraction=0.2, step_fraction=0.25, gamma=0.5)
    assert c.lrs.shape == (200,)
    assert c.lrs.max().item() <= 0.05 * (1 + 1e-9)
    assert c.lrs.min().item() > 0 or kind in ("cosine", "warmup_cosine", "onecycle")
    assert L.LABELS[kind] in L.summarize_explore(c)
    assert (c.metrics is not None) == (kind == "plateau")


def test_explore_knobs_change_the_curve():
    a = L.explore("step", gamma=0.5, step_fraction=0.25)
    b = L.explore("step", gamma=0.1, step_fraction=0.25)
    assert a.lrs[-1].item() == pytest.approx(0.1 * 0.5 ** 3)
    assert b.lrs[-1].item() == pytest.approx(0.1 * 0.1 ** 3)
    w0 = L.explore("warmup_cosine", warmup_fraction=0.0)
    torch.testing.assert_close(w0.lrs, L.schedule_lrs("cosine", 200, base_lr=0.1))


# ----------------------------------------------------------------------------- LR range test

def _toy_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    w = torch.randn(10, 3, generator=g)
    y = (x @ w).argmax(1)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]
    return nn.Linear(10, 3), batches


def test_range_test_lrs_grow_exponentially_and_leave_the_model_alone():
    model, batches = _toy_problem()
    before = copy.deepcopy(model.state_dict())
    rt = L.lr_range_test(model, batches, start_lr=1e-4, end_lr=1.0, steps=50, diverge_factor=1e9)
    assert len(rt.lrs) == 50 and not rt.stopped_early
    expected = torch.tensor([1e-4 * (1e4) ** (t / 49) for t in range(50)], dtype=torch.float64)
    torch.testing.assert_close(rt.lrs, expected)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert rt.losses.shape == rt.smoothed.shape == (50,)


def test_range_test_stops_when_the_loss_blows_up_and_suggests_a_tenth():
    model, batches = _toy_problem()
    rt = L.lr_range_test(model, batches, start_lr=1e-4, end_lr=1e4, steps=200)
    assert rt.stopped_early and len(rt.lrs) < 200
    assert rt.suggested_lr == pytest.approx(rt.best_lr / 10)
    assert rt.best_lr == pytest.approx(rt.lrs[int(rt.smoothed.argmin())].item())
    assert rt.lrs[0].item() <= rt.steepest_lr <= rt.best_lr
    # the suggestion actually trains: loss after 30 steps at the suggested lr is below the start
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=rt.suggested_lr, momentum=0.9)
    loss0 = nn.functional.cross_entropy(net(batches[0][0]), batches[0][1]).item()
    for i in range(30):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    assert nn.functional.cross_entropy(net(batches[0][0]), batches[0][1]).item() < loss0


def test_range_test_smoothing_is_bias_corrected():
    model, batches = _toy_problem()
    rt = L.lr_range_test(model, batches, start_lr=1e-6, end_lr=1e-5, steps=10)
    assert rt.smoothed[0].item() == pytest.approx(rt.losses[0].item())


def test_range_test_rejects_bad_arguments():
    model, batches = _toy_problem()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        L.lr_range_test(model, batches, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="at least 10 steps"):
        L.lr_range_test(model, batches, steps=3)


# ----------------------------------------------------------------------------- training runs

def test_runspec_counts_scheduler_steps_per_batch_or_epoch():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = L.RunSpec("oc", 0.1, "onecycle", per_batch=True).scheduler_for(opt, epochs=3, batches_per_epoch=7)
    assert s.total_steps == 21
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = L.RunSpec("wc", 0.1, "warmup_cosine", params=dict(warmup_fraction=0.25)).scheduler_for(opt, 8, 100)
    assert isinstance(s, lr_scheduler.SequentialLR) and s._milestones == [2]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = L.RunSpec("st", 0.1, "step", params=dict(step_fraction=0.5)).scheduler_for(opt, 8, 100)
    assert s.step_size == 4


def test_format_range_test_rows():
    model, batches = _toy_problem()
    rt = L.lr_range_test(model, batches, start_lr=1e-4, end_lr=1e4, steps=200)
    text = L.format_range_test(rt)
    lines = text.splitlines()
    assert "smoothed loss" in lines[0]
    assert lines[1].startswith("lr ≈ 1e-4")
    assert "lowest loss" in text and ("stopped (blew up)" in lines[-1]) == rt.stopped_early
    best = next(line for line in lines if line.startswith("lowest loss"))
    assert f"{rt.smoothed.min().item():.3f}" in best


def test_runspec_lrs_per_epoch_repeat_and_plateau_has_no_curve():
    step = L.RunSpec("st", 0.1, "step", params=dict(step_size=1, gamma=0.5))
    assert step.lrs(epochs=3, batches_per_epoch=4).tolist() == pytest.approx([0.1] * 4 + [0.05] * 4 + [0.025] * 4)
    one_cycle = L.RunSpec("oc", 0.1, "onecycle", per_batch=True).lrs(epochs=3, batches_per_epoch=4)
    assert one_cycle.shape == (12,) and one_cycle[-1].item() < 1e-4 and 0.09 < one_cycle.max().item() <= 0.1
    with pytest.raises(ValueError, match="validation loss"):
        L.RunSpec("p", 0.1, "plateau").lrs(3, 4)


def test_runspec_scheduler_trains_with_fit():
    from cnncourse.data import TensorLoader
    from cnncourse.train import fit
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 4, 4, generator=g)
    y = (x.flatten(1).sum(1) > 0).long()
    loader = TensorLoader((x, y), batch_size=16, shuffle=True, seed=0)
    for spec, expected in ((L.RunSpec("step", 0.1, "step", params=dict(step_size=1, gamma=0.5)), [0.1, 0.05, 0.025]),
                           (L.RunSpec("fixed", 0.1), [0.1] * 3)):
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=0.9)
        h = fit(model, loader, loader, epochs=3, optimizer=opt, scheduler=spec.scheduler_for(opt, 3, len(loader)),
                progress=False, live_plot=False)
        assert h.lr == pytest.approx(expected)


def test_the_removed_noise_rule_is_gone():
    assert not hasattr(L, "noise_verdict") and not hasattr(L, "compare_schedules")
