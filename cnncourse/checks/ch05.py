"""Checks for exercises/05_normalization.ipynb: batch norm (train and eval), group norm, and batch norm's
backward pass (training mode).

Taught in notebooks/05_normalization.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .core import (FLOAT32, FLOAT64, Case, Checker, Mistake, Symptom, autograd_gradients, compare_rel_error,
                   numerical_gradients, register, rel_error_note)

__all__ = ["batch_norm", "group_norm", "batch_norm_backward"]


# ----------------------------------------------------------------------------- batch norm

def _batch_norm_reference(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """What ``nn.BatchNorm2d`` returns and keeps: (y, new running_mean, new running_var)."""
    layer = nn.BatchNorm2d(x.shape[1], eps=eps, momentum=momentum, dtype=x.dtype)
    with torch.no_grad():
        layer.weight.copy_(gamma)
        layer.bias.copy_(beta)
        layer.running_mean.copy_(running_mean)
        layer.running_var.copy_(running_var)
    layer.train(training)
    with torch.no_grad():
        y = layer(x)
    return y, layer.running_mean.clone(), layer.running_var.clone()


def _batch_norm_variant(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5, *,
                        axes=(0, 2, 3), norm_correction=0, run_correction=1, use_eps=True,
                        eval_uses_batch=False, flip_momentum=False, affine=True):
    """Batch norm with one knob turned the wrong way: the typical mistakes, for the diagnoses."""
    shape = (1, -1, 1, 1)
    n = x.numel() // x.shape[1]
    if training or eval_uses_batch:
        mean = x.mean(dim=axes, keepdim=True)
        var = x.var(dim=axes, correction=norm_correction, keepdim=True)
    else:
        mean, var = running_mean.view(shape), running_var.view(shape)
    y = (x - mean) / torch.sqrt(var + (eps if use_eps else 0.0))
    if affine:
        y = y * gamma.view(shape) + beta.view(shape)
    if not training:
        return y, running_mean, running_var
    b_mean = x.mean(dim=(0, 2, 3))
    b_var = x.var(dim=(0, 2, 3), correction=run_correction) if n > 1 else x.var(dim=(0, 2, 3), correction=0)
    new, old = (1 - momentum, momentum) if flip_momentum else (momentum, 1 - momentum)
    return y, old * running_mean + new * b_mean, old * running_var + new * b_var


def _variant_items(variant, items, **knobs):
    """A Mistake's ``wrong``: items ``items`` (an index or a tuple of them) of ``variant`` with ``knobs`` turned."""
    def wrong(*args, **kwargs):
        answer = variant(*args, **kwargs, **knobs)
        return tuple(answer[i] for i in items) if isinstance(items, tuple) else answer[items]
    return wrong


def _y_is(name, **knobs):
    """The mistake: y is the variant's (knobs turned)."""
    return Mistake(name, _variant_items(_batch_norm_variant, 0, **knobs), part=0)


def _stats_are(name, **knobs):
    """The mistake: the new running statistics are the variant's."""
    return Mistake(name, _variant_items(_batch_norm_variant, (1, 2), **knobs), part=(1, 2))


def _eval_changed_stats(got, case):
    training = case.args[5]
    return not training and not FLOAT32.same((got[1], got[2]), (case.args[3], case.args[4]))


def _batch_norm_cases(g: torch.Generator):
    def params(N, C, H, W, scale=3.0, shift=1.0):
        x = torch.randn(N, C, H, W, generator=g) * scale + shift
        gamma = torch.rand(C, generator=g) + 0.5
        beta = torch.randn(C, generator=g)
        running_mean = torch.randn(C, generator=g)
        running_var = torch.rand(C, generator=g) + 0.5
        return x, gamma, beta, running_mean, running_var

    cases = []
    x, gm, bt, rm, rv = params(8, 4, 5, 5)
    cases.append(Case("training, defaults", (x, gm, bt, rm, rv, True)))
    cases.append(Case("evaluation, same inputs", (x, gm, bt, rm, rv, False)))
    x, gm, bt, rm, rv = params(2, 3, 3, 3)
    cases.append(Case("training, batch of 2, 3x3 maps, momentum=0.3", (x, gm, bt, rm, rv, True), {"momentum": 0.3}))
    x, gm, bt, rm, rv = params(4, 6, 2, 2)
    cases.append(Case("training, 2x2 maps (n=16 per channel)", (x, gm, bt, rm, rv, True), {"momentum": 0.1}))
    x, gm, bt, rm, rv = params(5, 3, 4, 4, scale=0.2)
    cases.append(Case("training, small values, eps=0.1", (x, gm, bt, rm, rv, True), {"momentum": 0.5, "eps": 0.1}))
    x, gm, bt, rm, rv = params(3, 2, 4, 4, scale=0.2)
    cases.append(Case("evaluation, eps=0.1", (x, gm, bt, rm * 0.1, rv * 0.05, False), {"eps": 0.1}))
    x, gm, bt, rm, rv = params(6, 5, 7, 3)
    cases.append(Case("evaluation, one image", (x[:1], gm, bt, rm, rv, False)))
    cases.append(Case("training, momentum=1 (keep only this batch)", (x, gm, bt, rm, rv, True), {"momentum": 1.0}))
    return cases


batch_norm = register(Checker(
    name="batch_norm",
    reference=_batch_norm_reference,
    cases=_batch_norm_cases,
    diagnoses=[
        Symptom("eval_changed_stats", _eval_changed_stats),  # evaluation mode changed the running statistics
        _y_is("eval_uses_batch", eval_uses_batch=True),
        _y_is("layer_norm", axes=(1, 2, 3)),
        _y_is("instance_norm", axes=(2, 3)),
        _y_is("one_mean", axes=(0, 1, 2, 3)),
        _y_is("unbiased_variance", norm_correction=1),
        _y_is("no_eps", use_eps=False),
        _y_is("no_affine", affine=False),
        _stats_are("biased_running_var", run_correction=0),
        _stats_are("momentum_flipped", flip_momentum=True),
    ],
))


# ----------------------------------------------------------------------------- group norm

def _group_norm_variant(x, num_groups, eps=1e-5, *, interleaved=False, with_batch=False, correction=0, use_eps=True):
    N, C = x.shape[:2]
    if interleaved:  # channel c in group c % G instead of c // (C/G)
        grouped = x.reshape(N, C // num_groups, num_groups, *x.shape[2:]).transpose(1, 2)
    else:
        grouped = x.reshape(N, num_groups, C // num_groups, *x.shape[2:])
    axes = tuple(range(2, grouped.dim()))
    if with_batch:
        axes = (0,) + axes
    mean = grouped.mean(dim=axes, keepdim=True)
    var = grouped.var(dim=axes, correction=correction, keepdim=True)
    y = (grouped - mean) / torch.sqrt(var + (eps if use_eps else 0.0))
    if interleaved:
        y = y.transpose(1, 2)
    return y.reshape(x.shape)


def _gn_mistake(name, **knobs):
    """The mistake: the output is the group-norm variant with ``knobs`` turned."""
    def wrong(x, num_groups, eps=1e-5):
        return _group_norm_variant(x, num_groups, eps, **knobs)
    return Mistake(name, wrong)


def _gn_other_groups(name, groups_of):
    """The mistake: group norm with ``groups_of(x, G)`` groups instead of G."""
    def wrong(x, num_groups, eps=1e-5):
        return F.group_norm(x, groups_of(x, num_groups), eps=eps)
    return Mistake(name, wrong)


def _group_norm_cases(g: torch.Generator):
    def rand(*shape, scale=2.0):
        return torch.randn(*shape, generator=g) * scale + 0.5
    return [
        Case("(2, 6, 4, 4), 3 groups", (rand(2, 6, 4, 4), 3)),
        Case("(4, 8, 5, 3), 2 groups", (rand(4, 8, 5, 3), 2)),
        Case("(3, 64, 4, 4), 32 groups (the article's layer)", (rand(3, 64, 4, 4), 32)),
        Case("G = 1 (layer norm)", (rand(2, 4, 3, 3), 1)),
        Case("G = C (instance norm)", (rand(2, 4, 3, 3), 4)),
        Case("one sample", (rand(1, 6, 5, 5), 2)),
        Case("small values, eps=0.1", (rand(2, 4, 3, 3, scale=0.2), 2), {"eps": 0.1}),
    ]


group_norm = register(Checker(
    name="group_norm",
    reference=lambda x, num_groups, eps=1e-5: F.group_norm(x, num_groups, eps=eps),
    cases=_group_norm_cases,
    diagnoses=[
        _gn_mistake("interleaved", interleaved=True),  # channel c in group c % G
        _gn_mistake("with_batch", with_batch=True),
        _gn_mistake("unbiased_variance", correction=1),
        _gn_mistake("no_eps", use_eps=False),
        _gn_other_groups("instance_norm", lambda x, G: x.shape[1]),
        _gn_other_groups("layer_norm", lambda x, G: 1),
        _gn_other_groups("groups_of_g", lambda x, G: x.shape[1] // G),  # groups of G channels, not G groups
    ],
))


# ----------------------------------------------------------------------------- batch_norm_backward

BACKWARD_FORBIDS = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.func.vjp",
                    "torch.autograd.functional.vjp", "torch.autograd.functional.jacobian",
                    "torch.batch_norm_backward_elemt", "torch.batch_norm_backward_reduce",
                    "torch.ops.aten.native_batch_norm_backward")
"""Autograd, and PyTorch's own batch-norm backward kernels."""

MAX_REL_ERROR = 1e-6


def _bn_forward(x, gamma, beta, eps=1e-5, axes=(0, 2, 3), correction=0):
    """Batch norm's training-mode forward written out (axes and correction are knobs for the diagnoses)."""
    mean = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, correction=correction, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


def _bn_backward_reference(grad_out, x, gamma, eps=1e-5):
    """(dx, dgamma, dbeta) by torch.autograd through F.batch_norm in training mode (batch statistics)."""
    beta = torch.zeros_like(gamma)
    return autograd_gradients(lambda x, g, b: F.batch_norm(x, None, None, g, b, True, 0.0, eps), (x, gamma, beta), grad_out)


def _bn_backward_numerical(grad_out, x, gamma, eps=1e-5):
    beta = torch.zeros_like(gamma)
    return numerical_gradients(lambda x, g, b: _bn_forward(x, g, b, eps), (x, gamma, beta), grad_out, h=1e-5)


def _bn_backward_cases(g: torch.Generator):
    def case(label, shape, scale=2.0, shift=1.0, eps=None, reference=None):
        x = torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift
        gamma = torch.rand(shape[1], generator=g, dtype=torch.float64) + 0.5
        grad_out = torch.randn(*shape, generator=g, dtype=torch.float64)
        return Case(label, (grad_out, x, gamma), {} if eps is None else {"eps": eps}, reference)

    return [
        case("8x4x5x5, eps=1e-5", (8, 4, 5, 5)),
        case("2x3x3x3 (n = 18 values per channel)", (2, 3, 3, 3)),
        case("4x6x2x2", (4, 6, 2, 2)),
        case("batch of 1, 1x3x6x6 (statistics over H, W)", (1, 3, 6, 6)),
        case("16x5x1x1 (a batch of vectors, as BatchNorm1d)", (16, 5, 1, 1)),
        case("large values (x * 10 + 5)", (4, 3, 4, 4), scale=10.0, shift=5.0),
        case("small values, eps=0.1 (eps matters)", (4, 3, 4, 4), scale=0.2, eps=0.1),
        case("tiny 3x2x2x2: against centred finite differences", (3, 2, 2, 2), reference=_bn_backward_numerical),
    ]


def _bn_args(case: Case):
    grad_out, x, gamma = case.args
    return grad_out, x, gamma, case.kwargs.get("eps", 1e-5)


def _bn_backward_variant(grad_out, x, gamma, eps=1e-5, *, mean_path=True, var_path=True, use_gamma=True,
                         reduce="mean", dgamma_of="x_hat"):
    """Batch norm's gradients in closed form, with one path or factor left out for the diagnoses."""
    axes, shape = (0, 2, 3), (1, -1, 1, 1)
    mean = x.mean(dim=axes, keepdim=True)
    std = torch.sqrt(x.var(dim=axes, correction=0, keepdim=True) + eps)
    x_hat = (x - mean) / std

    def avg(t):
        return t.mean(dim=axes, keepdim=True) if reduce == "mean" else t.sum(dim=axes, keepdim=True)

    dx = grad_out.clone()
    if mean_path:
        dx = dx - avg(grad_out)
    if var_path:
        dx = dx - x_hat * avg(grad_out * x_hat)
    dx = dx / std * (gamma.view(shape) if use_gamma else 1.0)
    dgamma = (grad_out * (x_hat if dgamma_of == "x_hat" else x)).sum(dim=axes)
    return dx, dgamma, grad_out.sum(dim=axes)


def _bn_variant_dx(name, **knobs):
    """The mistake: dx is the closed form with one path or factor left out (``knobs``)."""
    def wrong(grad_out, x, gamma, eps=1e-5):
        return _bn_backward_variant(grad_out, x, gamma, eps, **knobs)[0]
    return Mistake(name, wrong, part=0)


def _bn_forward_dx(name, no_eps=False, **knobs):
    """The mistake: dx of a forward with a wrong knob (axes, unbiased variance, no eps), by autograd."""
    def wrong(grad_out, x, gamma, eps=1e-5):
        forward = lambda x: _bn_forward(x, gamma, torch.zeros_like(gamma), 0.0 if no_eps else eps, **knobs)  # noqa: E731
        return autograd_gradients(forward, (x,), grad_out)[0]
    return Mistake(name, wrong, part=0)


def _params_not_summed(got, case):
    grad_out, x, gamma, eps = _bn_args(case)
    return any(isinstance(t, torch.Tensor) and t.shape != gamma.shape and t.numel() > gamma.numel() for t in got[1:3])


batch_norm_backward = register(Checker(
    name="batch_norm_backward",
    reference=_bn_backward_reference,
    cases=_bn_backward_cases,
    compare=compare_rel_error(MAX_REL_ERROR, names=("dx", "dgamma", "dbeta")),
    note=rel_error_note(),
    forbids=BACKWARD_FORBIDS,
    tol=FLOAT64,
    diagnoses=[
        Symptom("params_not_summed", _params_not_summed),  # dgamma, dbeta not summed down to shape (C,)
        Mistake("dgamma_of_x", lambda grad_out, x, gamma, eps=1e-5: (grad_out * x).sum(dim=(0, 2, 3)), part=1),
        _bn_variant_dx("no_paths", mean_path=False, var_path=False),
        _bn_variant_dx("no_variance_path", var_path=False),
        _bn_variant_dx("no_mean_path", mean_path=False),
        _bn_variant_dx("paths_summed", reduce="sum"),  # the mean and variance paths sum where they should average
        _bn_variant_dx("no_gamma", use_gamma=False),
        _bn_forward_dx("instance_norm", axes=(2, 3)),
        _bn_forward_dx("layer_norm", axes=(1, 2, 3)),
        _bn_forward_dx("unbiased_variance", correction=1),
        _bn_forward_dx("no_eps", no_eps=True),
    ],
))
