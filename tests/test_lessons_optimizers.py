"""Chapter 08's compute functions (cnncourse/lessons/optimizers.py)."""
import math

import pytest
import torch
from torch import nn

from cnncourse.lessons import optimizers as L
from cnncourse.optim import OPTIMIZERS


@pytest.mark.parametrize("name", sorted(L.SURFACES))
def test_surfaces_have_their_minimum_where_stated(name):
    s = L.SURFACES[name]
    at_min = s.fn(torch.tensor(s.minimum, dtype=torch.float64))
    assert at_min.item() == pytest.approx(s.f_min)
    assert s.fn(torch.tensor(s.start, dtype=torch.float64)).item() > s.f_min + 1
    # batched points (..., 2)
    assert s.fn(torch.zeros(4, 3, 2)).shape == (4, 3)


def test_quadratic_is_ill_conditioned():
    hess = torch.autograd.functional.hessian(L.quadratic, torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(hess)
    assert (eig.max() / eig.min()).item() == pytest.approx(1000.0)
    assert torch.count_nonzero(hess - torch.diag(torch.diagonal(hess))) == 0  # aligned with the axes


def test_rotated_quadratic_is_the_same_bowl_turned():
    zero = torch.zeros(2, dtype=torch.float64)
    h = torch.autograd.functional.hessian(L.rotated_quadratic, zero)
    h0 = torch.autograd.functional.hessian(L.quadratic, zero)
    torch.testing.assert_close(torch.linalg.eigvalsh(h), torch.linalg.eigvalsh(h0))
    assert abs(h[0, 1].item()) > 1  # not diagonal: each coordinate mixes steep and flat
    aligned, rotated = L.SURFACES["quadratic"], L.SURFACES["rotated"]
    assert rotated.fn(torch.tensor(rotated.start)).item() == pytest.approx(aligned.fn(torch.tensor(aligned.start)).item())


def test_rotation_changes_adaptive_methods_only():
    for name in ("sgd", "momentum"):
        a = L.trajectory(name, 0.05, steps=60, surface="quadratic")
        r = L.trajectory(name, 0.05, steps=60, surface="rotated")
        torch.testing.assert_close(a.losses, r.losses)
    a = L.trajectory("adagrad", 0.3, steps=60, surface="quadratic")
    r = L.trajectory("adagrad", 0.3, steps=60, surface="rotated")
    assert a.final_loss < 0.1 * r.final_loss


def test_gradient_noise_is_seeded_and_shared():
    a = L.trajectory("sgd", 0.05, steps=50, noise=1.0, seed=3)
    b = L.trajectory("sgd", 0.05, steps=50, noise=1.0, seed=3)
    c = L.trajectory("sgd", 0.05, steps=50, noise=1.0, seed=4)
    torch.testing.assert_close(a.path, b.path)
    assert not torch.equal(a.path, c.path)
    clean = L.trajectory("sgd", 0.05, steps=50)
    assert not torch.equal(a.path, clean.path)


def test_jitter_and_floor():
    t = L.Trajectory("sgd", "quadratic", 0.1, torch.zeros(5, 2), torch.tensor([9.0, 1.0, 3.0, 1.0, 3.0]), False)
    jitter, floor = L.jitter_and_floor(t, start=1)
    assert jitter == pytest.approx(2.0) and floor == pytest.approx(2.0)
    assert L.jitter_and_floor(t) == pytest.approx((2.0, 7 / 3))  # default: the second half (steps 2..4)


def test_momentum_is_smoother_under_noise_at_equal_effective_step():
    sgd = L.jitter_and_floor(L.trajectory("sgd", 0.03, steps=600, noise=1.0, seed=0))
    mom = L.jitter_and_floor(L.trajectory("momentum", 0.003, momentum=0.9, steps=600, noise=1.0, seed=0))
    assert sgd[0] > 2 * mom[0]


def test_rate_spread_and_accuracy_grid():
    assert L.rate_spread(torch.full((10,), 0.1)) == pytest.approx(1.0)
    assert L.rate_spread(torch.logspace(-3, 0, 101)) > 100
    grid = L.format_accuracy_grid({("adam", 1e-3): [0.9, 0.8], ("adam", 1e-2): [0.5]}, {"adam": [1e-3, 1e-2]}, {"adam": 1e-3})
    assert "Adam" in grid and "0.850*" in grid and "0.500 " in grid


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trajectory_shapes_and_start(name):
    t = L.trajectory(name, 0.01, steps=20, surface="quadratic")
    assert t.path.shape == (21, 2) and t.losses.shape == (21,)
    assert t.path[0].tolist() == list(L.SURFACES["quadratic"].start)
    assert not t.diverged and t.final_loss < t.losses[0].item()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trajectory_ours_equals_torch(name):
    ours = L.trajectory(name, 0.002, steps=40, surface="rosenbrock")
    ref = L.trajectory(name, 0.002, steps=40, surface="rosenbrock", impl="torch")
    torch.testing.assert_close(ours.path, ref.path)


def test_trajectory_flags_divergence():
    t = L.trajectory("sgd", 0.6, steps=200, surface="rosenbrock")
    assert t.diverged and math.isinf(t.final_loss)
    assert torch.isfinite(t.path).all()


def test_steps_to_tolerance_needs_to_stay_below():
    t = L.Trajectory("sgd", "quadratic", 0.1, torch.zeros(5, 2), torch.tensor([1.0, 1e-4, 1.0, 1e-4, 1e-5]), False)
    assert L.steps_to_tolerance(t) == 3
    bad = L.Trajectory("sgd", "quadratic", 0.1, torch.zeros(3, 2), torch.tensor([1.0, 1e-4, 1.0]), False)
    assert L.steps_to_tolerance(bad) is None


def test_momentum_beats_sgd_on_the_ill_conditioned_bowl():
    best = L.best_trajectories("quadratic", [0.01, 0.1], steps=400, names=("sgd", "momentum"))
    assert L.steps_to_tolerance(best["momentum"]) is not None
    assert L.steps_to_tolerance(best["sgd"]) is None or L.steps_to_tolerance(best["momentum"]) < L.steps_to_tolerance(best["sgd"])
    assert "SGD + momentum" in L.format_trajectory_table({"quadratic": best})


def test_explore():
    t = L.explore("adam", "rosenbrock", lr=0.05, beta1=0.8, beta2=0.99, steps=50)
    assert t.optimizer == "adam" and t.path.shape == (51, 2)
    assert "final loss" in L.summarize_explore(t)
    assert L.explore().path.shape == (L.EXPLORE_STEPS + 1, 2)
    assert "diverged" in L.summarize_explore(L.explore("sgd", "rosenbrock", lr=1.0, steps=30))


def test_adam_first_steps_bias_correction():
    rows = L.adam_first_steps([0.5, 0.5, 0.5], lr=1e-3)
    assert rows[0].m == pytest.approx(0.05) and rows[0].m_hat == pytest.approx(0.5)
    assert rows[0].v_hat == pytest.approx(0.25)
    assert rows[0].step == pytest.approx(1e-3, rel=1e-6)  # corrected: lr · sign(g)
    assert rows[0].step_uncorrected == pytest.approx(1e-3 * 0.1 / math.sqrt(0.001), rel=1e-5)
    assert "m_hat" in L.format_adam_rows(rows, 1e-3)


def test_adam_without_momentum_is_rmsprop_with_bias_correction():
    grads = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    ratios = L.adam_vs_rmsprop_ratio(grads, alpha=0.99)
    for t, r in ratios.items():
        assert r == pytest.approx(math.sqrt(1 - 0.99 ** t), rel=1e-4)


def test_effective_learning_rates():
    model = nn.Linear(3, 2)
    x = torch.randn(8, 3)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    assert torch.equal(L.effective_learning_rates(model, sgd)["weight"], torch.full((2, 3), 0.1))
    adam = torch.optim.Adam(model.parameters(), lr=0.1)
    model(x).pow(2).sum().backward()
    grad = model.weight.grad.clone()
    adam.step()
    rates = L.effective_learning_rates(model, adam)
    torch.testing.assert_close(rates["weight"], 0.1 / (grad.abs() + 1e-8))
    for opt in (torch.optim.Adagrad(model.parameters(), lr=0.1), torch.optim.RMSprop(model.parameters(), lr=0.1)):
        opt.step()
        assert L.effective_learning_rates(model, opt)["bias"].shape == (2,)
    table = L.step_size_table({"weight": grad}, {"weight": rates["weight"]}, {"weight": grad})
    assert "weight" in table


def test_weight_decay_pull_adam_vs_adamw():
    pull = L.weight_decay_pull([0.0, 1.0], lr=1e-3, weight_decay=0.1, steps=100)
    # AdamW: the same shrink for both coordinates, about lr·λ·steps
    assert pull["adamw"][0] == pytest.approx(pull["adamw"][1], rel=0.05)
    assert pull["adamw"][0] == pytest.approx(-1e-3 * 0.1 * 100, rel=0.05)
    # Adam (L2): a coordinate without gradient signal is pulled about lr per step, ten times AdamW's pull
    assert abs(pull["adam"][0]) > 5 * abs(pull["adamw"][0])
