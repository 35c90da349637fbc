"""The course's optimisers match torch.optim step for step (cnncourse/optim.py)."""
import copy

import pytest
import torch
from torch import nn

from cnncourse import optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-2)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=1e-2, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=1e-2)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, eps=1e-6)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2)),
    ("Adam", dict(lr=0.01, eps=1e-3)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, betas=(0.5, 0.9))),
]


def _model():
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))


def _run(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch_step_for_step(name, kwargs):
    torch.manual_seed(0)
    ours_model = _model()
    torch_model = copy.deepcopy(ours_model)
    ours = getattr(optim, name)(ours_model.parameters(), **kwargs)
    ref = getattr(torch.optim, name)(torch_model.parameters(), foreach=False, **kwargs)
    for step in range(20):
        x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 4, (8,))
        _run(ours_model, ours, x, y, 1)
        _run(torch_model, ref, x, y, 1)
        for p, q in zip(ours_model.parameters(), torch_model.parameters()):
            torch.testing.assert_close(p, q, msg=lambda m: f"step {step}: {m}")


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_make_optimizer_ours_equals_torch(name):
    torch.manual_seed(1)
    a = nn.Linear(5, 3)
    b = copy.deepcopy(a)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    _run(a, optim.make_optimizer(name, a.parameters(), lr=0.05), x, y, 15)
    _run(b, optim.make_optimizer(name, b.parameters(), lr=0.05, impl="torch"), x, y, 15)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_make_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown optimiser"):
        optim.make_optimizer("lion", nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="impl"):
        optim.make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=0.1, impl="jax")


def test_update_functions_are_pure():
    p, g, m, v = torch.randn(4), torch.randn(4), torch.randn(4), torch.rand(4)
    before = [t.clone() for t in (p, g, m, v)]
    optim.adam_update(p, g, m, v, 3, lr=0.1, weight_decay=0.1, decoupled=True)
    optim.sgd_update(p, g, m, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    optim.adagrad_update(p, g, v, 2, lr=0.1)
    optim.rmsprop_update(p, g, v, lr=0.1, momentum=0.9, buf=m, centered=True, grad_avg=m)
    for b, a in zip(before, (p, g, m, v)):
        assert torch.equal(b, a)


def test_sgd_first_step_sets_buffer_to_gradient():
    p, g = torch.ones(3), torch.tensor([1.0, 2.0, 3.0])
    new_p, buf = optim.sgd_update(p, g, None, lr=0.1, momentum=0.9, dampening=0.5)
    assert torch.equal(buf, g)  # no dampening on the first step, as in torch.optim.SGD
    torch.testing.assert_close(new_p, p - 0.1 * g)


def test_adam_first_step_is_lr_times_sign():
    # with bias correction, m̂ = g and v̂ = g², so the first step is lr·g/|g| (up to eps)
    p, g = torch.zeros(3), torch.tensor([1e-3, -5.0, 200.0])
    new_p, _, _ = optim.adam_update(p, g, torch.zeros(3), torch.zeros(3), 1, lr=0.01)
    torch.testing.assert_close(new_p, -0.01 * g.sign(), rtol=1e-4, atol=1e-7)


def test_adamw_decays_weights_without_gradient_signal():
    p = torch.full((2,), 2.0)
    new_p, _, _ = optim.adam_update(p, torch.zeros(2), torch.zeros(2), torch.zeros(2), 1, lr=0.1,
                                    weight_decay=0.5, decoupled=True)
    torch.testing.assert_close(new_p, p * (1 - 0.1 * 0.5))


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, nesterov=True)


def test_state_uses_torch_names():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = opt.state[model.weight]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and state["step"] == 1
