"""Checks for exercises/08_optimizers.ipynb: one SGD-with-momentum step, one Adam step.

The references are ``torch.optim.SGD`` and ``torch.optim.Adam`` themselves, loaded with the
given state and stepped once; the cases are snapshots of real multi-step runs of those
optimisers on random tensors (so step 5 of the check is step 5 of PyTorch's run).

Taught in notebooks/08_optimizers.ipynb.
"""
from __future__ import annotations

import torch

from .core import FLOAT32, Case, Checker, Mistake, Symptom, register

__all__ = ["sgd_momentum_step", "adam_step"]


# ----------------------------------------------------------------------------- SGD with momentum

def _torch_sgd_step(param, grad, buf, lr, momentum):
    """torch.optim.SGD(momentum=...) with its momentum buffer set to ``buf``, stepped once."""
    p = param.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, foreach=False)
    p.grad = grad.detach().clone()
    if momentum != 0:
        opt.state[p]["momentum_buffer"] = buf.detach().clone()
    opt.step()
    # without momentum PyTorch keeps no buffer; the formula μ·buf + g then gives g itself
    new_buf = opt.state[p]["momentum_buffer"] if momentum != 0 else grad.detach().clone()
    return p.detach().clone(), new_buf.clone()


def _sgd_cases(g: torch.Generator):
    cases = []
    param = torch.randn(2, 3, generator=g)
    buf = torch.zeros_like(param)
    for t in range(1, 7):  # a real run of torch.optim.SGD(lr=0.1, momentum=0.9)
        grad = torch.randn(2, 3, generator=g)
        if t in (1, 2, 5):
            cases.append(Case(f"step {t} of SGD(lr=0.1, momentum=0.9){' (buf = zeros)' if t == 1 else ''}",
                              (param, grad, buf, 0.1, 0.9)))
        param, buf = _torch_sgd_step(param, grad, buf, 0.1, 0.9)
    grad = torch.randn(2, 3, generator=g)
    cases.append(Case("step 7 after the lr dropped from 0.1 to 0.01", (param, grad, buf, 0.01, 0.9)))
    p = torch.randn(5, generator=g)
    cases.append(Case("momentum 0.5, lr 0.3", (p, torch.randn(5, generator=g), torch.randn(5, generator=g), 0.3, 0.5)))
    cases.append(Case("momentum 0 (plain SGD)", (p, torch.randn(5, generator=g), torch.zeros(5), 0.05, 0.0)))
    return cases


def _sgd_variant(kind: str, p, g, b, lr, mu):
    """One SGD-with-momentum step with a typical mistake: (new param, new buffer)."""
    if kind == "lr_in_buffer":
        nb = mu * b + lr * g
        return p - nb, nb
    if kind == "lr_in_buffer_minus":
        nb = mu * b - lr * g
        return p + nb, nb
    if kind == "ema":
        nb = mu * b + (1 - mu) * g
        return p - lr * nb, nb
    if kind == "nesterov":
        nb = mu * b + g
        return p - lr * (g + mu * nb), nb
    if kind == "old_buffer":
        return p - lr * b, mu * b + g
    if kind == "plus":
        nb = mu * b + g
        return p + lr * nb, nb
    if kind == "no_momentum":
        return p - lr * g, mu * b + g
    raise ValueError(kind)


def _sgd_mistake(name, kind, param_only=False):
    """The mistake ``kind`` of :func:`_sgd_variant`: the (param, buf) it gives, or only the param."""
    def wrong(param, grad, buf, lr, momentum):
        answer = _sgd_variant(kind, param, grad, buf, lr, momentum)
        return answer[0] if param_only else answer
    return Mistake(name, wrong, part=0 if param_only else None)


sgd_momentum_step = register(Checker(
    name="sgd_momentum_step",
    reference=_torch_sgd_step,
    cases=_sgd_cases,
    diagnoses=[
        Mistake("swapped", lambda *args: _torch_sgd_step(*args)[::-1]),  # returned (buf, param)
        _sgd_mistake("lr_in_buffer", "lr_in_buffer"),
        _sgd_mistake("velocity_form", "lr_in_buffer_minus"),
        _sgd_mistake("ema", "ema"),
        _sgd_mistake("nesterov", "nesterov"),
        _sgd_mistake("old_buffer", "old_buffer", param_only=True),
        _sgd_mistake("ascent", "plus"),
        _sgd_mistake("no_momentum", "no_momentum", param_only=True),
    ],
))


# ----------------------------------------------------------------------------- Adam

def _torch_adam_step(param, grad, m, v, t, lr, betas, eps):
    """torch.optim.Adam with state (m, v, step t − 1), stepped once: returns (param, m, v)."""
    p = param.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, foreach=False)
    p.grad = grad.detach().clone()
    opt.state[p].update(step=torch.tensor(float(t - 1)), exp_avg=m.detach().clone(), exp_avg_sq=v.detach().clone())
    opt.step()
    state = opt.state[p]
    return p.detach().clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone()


def _adam_run(g, shape, steps, lr, betas, eps, scale=1.0, keep=()):
    cases = []
    param = torch.randn(*shape, generator=g)
    m, v = torch.zeros(shape), torch.zeros(shape)
    for t in range(1, steps + 1):
        grad = scale * torch.randn(*shape, generator=g)
        if t in keep:
            cases.append((t, (param, grad, m, v, t, lr, betas, eps)))
        param, m, v = _torch_adam_step(param, grad, m, v, t, lr, betas, eps)
    return cases


def _adam_cases(g: torch.Generator):
    cases = [Case(f"step {t} of Adam(lr=0.01){' (m = v = 0)' if t == 1 else ''}", args)
             for t, args in _adam_run(g, (3, 4), 10, 0.01, (0.9, 0.999), 1e-8, keep=(1, 2, 3, 10))]
    cases += [Case(f"step {t}, betas (0.5, 0.9), lr 0.1", args)
              for t, args in _adam_run(g, (6,), 4, 0.1, (0.5, 0.9), 1e-8, keep=(2, 4))]
    cases += [Case(f"step {t}, tiny gradients (~1e-4) with eps 1e-8", args)
              for t, args in _adam_run(g, (5,), 3, 0.01, (0.9, 0.999), 1e-8, scale=1e-4, keep=(1, 3))]
    cases += [Case(f"step {t}, eps 0.1", args) for t, args in _adam_run(g, (4,), 2, 0.05, (0.9, 0.99), 0.1, keep=(2,))]
    return cases


def _adam_variant(kind: str, p, g, m, v, t, lr, betas, eps):
    """One Adam step with a typical mistake: (new param, new m, new v)."""
    b1, b2 = betas
    g2 = g if kind == "not_squared" else g * g
    if kind == "swapped_betas":
        b1, b2 = b2, b1
    m1 = b1 * m + (1 - b1) * g
    v1 = b2 * v + (1 - b2) * g2
    tc = t - 1 if kind == "t_from_zero" else t
    with torch.no_grad():
        bc1 = 1.0 if kind in ("no_correction", "only_v") else 1 - b1 ** tc
        bc2 = 1.0 if kind in ("no_correction", "only_m") else 1 - b2 ** tc
        m_hat, v_hat = m1 / bc1 if bc1 else m1 / 0.0, v1 / bc2 if bc2 else v1 / 0.0
        denom = (v_hat + eps).sqrt() if kind == "eps_inside" else v_hat.sqrt() + eps
        new_p = p - lr * m_hat / denom
    if kind == "returned_hat":
        return new_p, m_hat, v_hat
    return new_p, m1, v1


def _adam_mistake(name, kind):
    """The mistake ``kind`` of :func:`_adam_variant`: the (param, m, v) it gives."""
    def wrong(*args):
        return _adam_variant(kind, *args)
    return Mistake(name, wrong)


def _divided_by_zero_at_step_one(got, case):
    """On step 1, 1 − β^0 = 0: a param that is not finite while m and v are right."""
    if case.args[4] != 1:
        return False
    right = _torch_adam_step(*case.args)
    return not torch.isfinite(got[0]).all() and FLOAT32.same((got[1], got[2]), right[1:])


adam_step = register(Checker(
    name="adam_step",
    reference=_torch_adam_step,
    cases=_adam_cases,
    diagnoses=[
        # t counted from 0: on step 1 a division by zero, on later steps an answer off by one step
        Symptom("t_from_zero_first_step", _divided_by_zero_at_step_one),
        _adam_mistake("t_from_zero", "t_from_zero"),
        _adam_mistake("not_squared", "not_squared"),
        _adam_mistake("returned_hat", "returned_hat"),  # returned the bias-corrected moments as the state
        _adam_mistake("no_correction", "no_correction"),
        _adam_mistake("only_m", "only_m"),
        _adam_mistake("only_v", "only_v"),
        _adam_mistake("eps_inside", "eps_inside"),
        _adam_mistake("swapped_betas", "swapped_betas"),
    ],
))
