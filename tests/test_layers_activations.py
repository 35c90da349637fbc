"""cnncourse.layers.activations against torch.nn / torch.nn.functional and autograd."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.layers.activations import _leaky_relu as leaky_relu, _swish as swish, _swish_grad as swish_grad
from cnncourse.layers import (
    ACTIVATIONS,
    Activation,
    Swish,
    activation,
    elu,
    elu_grad,
    gelu,
    gelu_grad,
    leaky_relu_grad,
    relu,
    sigmoid,
    softmax,
    softmax_jacobian,
)

NAMES = sorted(ACTIVATIONS)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _autograd(fn, x):
    """df/dx elementwise by autograd (fn is elementwise, so grad of the sum is the derivative)."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_module(name, dtype):
    act = ACTIVATIONS[name]
    x = torch.randn(4, 3, 5, 5, dtype=dtype) * 3
    copy = x.clone()
    y = act.fn(x)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.equal(x, copy)
    torch.testing.assert_close(y, act.torch_module()(x))


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_autograd(name):
    act = ACTIVATIONS[name]
    x = torch.randn(200, dtype=torch.float64) * 4
    torch.testing.assert_close(act.grad(x), _autograd(act.fn, x))
    torch.testing.assert_close(act.grad(x), _autograd(act.torch_module(), x))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ACTIVATIONS[name].fn, (x,))


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_stay_finite_and_match_torch(name):
    # exp(1000) overflows: a naive formula gives inf or nan here, in the value or in the gradient.
    act = ACTIVATIONS[name]
    x = torch.tensor([-1000.0, -80.0, -30.0, 0.0, 30.0, 80.0, 1000.0], dtype=torch.float64)
    torch.testing.assert_close(act.fn(x), act.torch_module()(x))
    ours, theirs = _autograd(act.fn, x), _autograd(act.torch_module(), x)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(act.grad(x), theirs)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_at_zero_matches_torch(name):
    # At a kink (ReLU, leaky ReLU, ELU) any subgradient is valid; we follow PyTorch's choice.
    act = ACTIVATIONS[name]
    zero = torch.zeros(1, dtype=torch.float64)
    expected = _autograd(act.torch_module(), zero)
    torch.testing.assert_close(act.grad(zero), expected)
    torch.testing.assert_close(_autograd(act.fn, zero), expected)


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_slope(slope):
    x = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(leaky_relu(x, slope), F.leaky_relu(x, slope))
    torch.testing.assert_close(leaky_relu_grad(x, slope), _autograd(lambda t: F.leaky_relu(t, slope), x))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_elu_alpha(alpha):
    x = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(elu(x, alpha), F.elu(x, alpha))
    torch.testing.assert_close(elu_grad(x, alpha), _autograd(lambda t: F.elu(t, alpha), x))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_swish_beta(beta):
    x = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(swish(x, beta), x * torch.sigmoid(beta * x))
    torch.testing.assert_close(swish_grad(x, beta), _autograd(lambda t: swish(t, beta), x))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_modes(approximate):
    x = torch.randn(50, dtype=torch.float64) * 3
    torch.testing.assert_close(gelu(x, approximate), F.gelu(x, approximate=approximate))
    torch.testing.assert_close(gelu_grad(x, approximate), _autograd(lambda t: F.gelu(t, approximate=approximate), x))


def test_sigmoid_and_tanh_tiny_inputs_are_accurate():
    x = torch.tensor([1e-8, -1e-8, 1e-30], dtype=torch.float32)
    torch.testing.assert_close(ACTIVATIONS["tanh"].fn(x), torch.tanh(x), rtol=1e-6, atol=0)
    torch.testing.assert_close(sigmoid(x), torch.sigmoid(x))


# ---------------------------------------------------------------- Swish module


def test_swish_module_default_is_silu_without_parameters():
    x = torch.randn(2, 3, 4, 4)
    module = Swish()
    assert list(module.parameters()) == []
    torch.testing.assert_close(module(x), nn.SiLU()(x))


def test_adaptive_swish_learns_beta():
    module = Swish(beta=1.5, learnable=True)
    (beta,) = list(module.parameters())
    assert beta is module.beta and beta.item() == 1.5
    x = torch.randn(20, dtype=torch.float64)
    module(x).sum().backward()
    # d/dbeta of x * sigmoid(beta x) = x^2 s (1 - s)
    s = torch.sigmoid(1.5 * x)
    torch.testing.assert_close(beta.grad, (x**2 * s * (1 - s)).sum().to(beta.dtype))


def test_registry_factories_make_fresh_modules():
    a, b = ACTIVATIONS["adaptive_swish"].torch_module(), ACTIVATIONS["adaptive_swish"].torch_module()
    assert a.beta is not b.beta
    for name, act in ACTIVATIONS.items():
        assert isinstance(act, Activation) and act.name == name
        assert isinstance(act.torch_module(), nn.Module)
    assert activation("relu") is ACTIVATIONS["relu"]


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_matches_torch(dim, dtype):
    x = torch.randn(4, 5, 3, dtype=dtype) * 5
    copy = x.clone()
    y = softmax(x, dim)
    assert y.dtype == dtype
    assert torch.equal(x, copy)
    torch.testing.assert_close(y, torch.softmax(x, dim))
    torch.testing.assert_close(y.sum(dim), torch.ones_like(y.sum(dim)))


def test_softmax_large_logits_do_not_overflow():
    x = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    y = softmax(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, torch.softmax(x, -1))


def test_softmax_batched_equals_per_sample():
    x = torch.randn(5, 7)
    torch.testing.assert_close(softmax(x), torch.stack([softmax(row) for row in x]))


def test_softmax_gradcheck_and_jacobian():
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: softmax(t, dim=1), (x,))
    row = torch.randn(6, dtype=torch.float64)
    J = softmax_jacobian(row)
    torch.testing.assert_close(J, torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), row))
    torch.testing.assert_close(J.sum(dim=1), torch.zeros(6, dtype=torch.float64))


# ---------------------------------------------------------------- errors


def test_errors():
    with pytest.raises(ValueError, match="unknown name 'relu6'; choose one of"):
        activation("relu6")
    with pytest.raises(TypeError, match="floating-point"):
        relu(torch.arange(3))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        relu([1.0, -1.0])
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        gelu(torch.randn(3), approximate="erf")
    with pytest.raises(ValueError, match=r"x must be 1-D \(C,\)"):
        softmax_jacobian(torch.randn(2, 3))
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        softmax(torch.randn(2, 3), dim=2)
