"""cnncourse.models: LeNet-5 and its swappable parts."""
import pytest
import torch
from torch import nn

from cnncourse import models


def test_lenet5_has_the_classic_shape_and_parameter_count():
    model = models.LeNet5()
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    # conv1 156 + conv2 2,416 + fc1 48,120 + fc2 10,164 + fc3 850 (LeCun et al. 1998 with 16x5x5 inputs to fc1)
    assert models.count_parameters(model) == 61_706


@pytest.mark.parametrize("pool", ["max", "avg", "conv", "none"])
@pytest.mark.parametrize("norm", ["none", "batch", "group", "instance", "layer"])
def test_every_variant_runs(pool, norm):
    model = models.LeNet5(pool=pool, norm=norm, activation="gelu")
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_rgb_and_other_sizes():
    model = models.LeNet5(in_channels=3, image_size=32, num_classes=7)
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 7)


def test_activation_by_name_or_factory_and_clear_errors():
    assert isinstance(models.make_activation("tanh"), nn.Tanh)
    assert isinstance(models.make_activation(lambda: nn.LeakyReLU(0.2)), nn.LeakyReLU)
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        models.make_activation("swishy")
    with pytest.raises(TypeError, match="must return an nn.Module"):
        models.make_activation(lambda: 3)
    with pytest.raises(ValueError, match="unknown pool"):
        models.LeNet5(pool="median")
    with pytest.raises(ValueError, match="do not split into 4 groups"):
        models.make_norm("group", 6, groups=4)
    with pytest.raises(TypeError, match="not both"):
        models.LeNet5(models.LeNetConfig(), pool="avg")


def test_feature_maps_taps_layers_without_changing_the_model():
    model = models.LeNet5(norm="batch")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    maps = models.feature_maps(model, torch.rand(1, 1, 28, 28), ["features.act1", "features.pool2"])
    assert maps["features.act1"].shape == (1, 6, 28, 28) and maps["features.pool2"].shape == (1, 16, 5, 5)
    assert model.training  # mode restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats untouched
    with pytest.raises(KeyError, match="no layer"):
        models.feature_maps(model, torch.rand(1, 1, 28, 28), ["conv9"])


@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_small_resnet_shapes_and_skip_connections(in_channels, size):
    model = models.SmallResNet(in_channels=in_channels)
    assert model(torch.rand(2, in_channels, size, size)).shape == (2, 10)
    maps = models.feature_maps(model, torch.rand(1, in_channels, size, size), ["stage1", "stage3"])
    assert maps["stage1"].shape[1:] == (16, size, size) and maps["stage3"].shape[1:] == (64, size // 4 + (size % 4 > 0), size // 4 + (size % 4 > 0))
    block = model.stage2[0]
    assert isinstance(block.skip, nn.Sequential)  # width and size change: 1x1 projection
    assert isinstance(model.stage1[0].skip, nn.Identity)
    with pytest.raises(ValueError, match="at least one stage"):
        models.SmallResNet(widths=())


def test_small_resnet_block_is_identity_plus_residual():
    block = models.BasicBlock(4, 4, norm="none", activation="relu")
    for p in (block.conv2.weight, block.conv2.bias):
        nn.init.zeros_(p)  # F(x) = 0: the block passes relu(x) through
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(block(x), torch.relu(x))


def test_hooked_forward_leaves_the_model_as_it_was():
    model = models.LeNet5(norm="batch").train()
    seen = []
    out = models.hooked_forward(model, torch.rand(2, 1, 28, 28), {model.features.conv2: lambda m, i, o: seen.append(o.shape)})
    assert out.shape == (2, 10) and seen == [torch.Size([2, 16, 10, 10])]
    assert model.training and not model.features.conv2._forward_hooks
