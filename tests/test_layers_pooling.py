"""cnncourse.layers.pooling against torch.nn.functional pooling."""
import pytest
import torch
import torch.nn.functional as F

from cnncourse.layers import avg_pool2d, pool_output_size
from cnncourse.layers.pooling import _global_avg_pool2d as global_avg_pool2d, _max_pool2d as max_pool2d

POOLS = [(max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)]
POOL_IDS = ["max", "avg"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# (shape, kernel_size, stride, padding)
CASES = [
    pytest.param((2, 3, 8, 8), 2, None, 0, id="2x2-default-stride"),
    pytest.param((2, 3, 7, 7), 3, 2, 1, id="3x3-s2-p1-odd-input"),
    pytest.param((1, 2, 9, 6), 3, 1, 1, id="batch1-overlapping-nonsquare"),
    pytest.param((2, 2, 8, 9), (2, 3), (1, 2), (1, 0), id="nonsquare-kernel-stride-padding"),
    pytest.param((2, 1, 5, 5), 5, None, 2, id="kernel-equals-input-padded"),
    pytest.param((3, 2, 6, 6), 1, 2, 0, id="1x1-subsample"),
]


@pytest.mark.parametrize("ours, theirs", POOLS, ids=POOL_IDS)
@pytest.mark.parametrize("shape, kernel_size, stride, padding", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pool_matches_torch(ours, theirs, shape, kernel_size, stride, padding, dtype):
    x = torch.randn(shape, dtype=dtype)
    copy = x.clone()
    y = ours(x, kernel_size, stride, padding)
    assert y.dtype == dtype
    assert torch.equal(x, copy)
    torch.testing.assert_close(y, theirs(x, kernel_size, stride, padding))


def test_max_pool_pads_with_minus_infinity():
    # With zero padding, every border window of an all-negative input would output 0.
    x = -torch.rand(1, 1, 4, 4) - 1
    y = max_pool2d(x, 3, stride=1, padding=1)
    assert (y < 0).all()
    torch.testing.assert_close(y, F.max_pool2d(x, 3, stride=1, padding=1))


def test_avg_pool_counts_padding_like_torch_default():
    x = torch.ones(1, 1, 4, 4)
    y = avg_pool2d(x, 3, stride=1, padding=1)
    assert y[0, 0, 0, 0].item() == pytest.approx(4 / 9)  # corner window: 4 ones, 5 zeros of padding
    torch.testing.assert_close(y, F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True))


@pytest.mark.parametrize("ours", [max_pool2d, avg_pool2d], ids=POOL_IDS)
def test_pool_gradcheck(ours):
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: ours(t, 3, 2, 1), (x,))


@pytest.mark.parametrize("ours", [max_pool2d, avg_pool2d, lambda x, *args: global_avg_pool2d(x)], ids=POOL_IDS + ["gap"])
def test_pool_batched_equals_per_sample(ours):
    x = torch.randn(3, 2, 6, 6)
    batched = ours(x, 2, 2, 0)
    torch.testing.assert_close(batched, torch.cat([ours(x[i : i + 1], 2, 2, 0) for i in range(3)]))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 1, 1)])
def test_global_avg_pool2d(shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y = global_avg_pool2d(x)
    assert y.shape == shape[:2]
    torch.testing.assert_close(y, F.adaptive_avg_pool2d(x, 1).flatten(1))
    assert torch.autograd.gradcheck(global_avg_pool2d, (x,))


@pytest.mark.parametrize("size, K, S, P", [(32, 2, None, 0), (7, 3, 2, 1), (9, 3, 1, 1), (5, 5, None, 2), (6, 4, 3, 0)])
def test_pool_output_size_matches_torch(size, K, S, P):
    assert pool_output_size(size, K, S, P) == F.max_pool2d(torch.zeros(1, 1, size, size), K, S, P).shape[-1]


@pytest.mark.parametrize("ours", [max_pool2d, avg_pool2d], ids=POOL_IDS)
@pytest.mark.parametrize(
    "shape, args, error, match",
    [
        ((1, 1, 6, 6), (2, None, 2), ValueError, "must be at most half of kernel_size"),
        ((1, 6, 6), (2,), ValueError, r"x must be \(N, C, H, W\).*unsqueeze\(0\)"),
        ((1, 1, 2, 2), (3,), ValueError, "along H, a kernel spanning 3 pixels .* does not fit in size 2"),
        ((1, 1, 6, 6), (2, 0), ValueError, "stride must be >= 1"),
        ((1, 1, 6, 6), (2.5,), TypeError, "kernel_size must be an int"),
    ],
)
def test_pool_errors(ours, shape, args, error, match):
    with pytest.raises(error, match=match):
        ours(torch.randn(shape), *args)


def test_pool_dtype_errors():
    with pytest.raises(TypeError, match="floating-point"):
        max_pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"x must be \(N, C, H, W\)"):
        global_avg_pool2d(torch.randn(3, 4, 4))
