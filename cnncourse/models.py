"""Models the chapters train: LeNet-5, with parts that later chapters swap.

Taught in notebooks/01_introduction.ipynb; chapters 03-05 swap its activation, pooling
and normalisation through :class:`LeNetConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = [
    "LeNetConfig",
    "LeNet5",
    "ResNetConfig",
    "BasicBlock",
    "SmallResNet",
    "make_activation",
    "make_norm",
    "count_parameters",
    "hooked_forward",
    "feature_maps",
]

# The activations the course compares, by the names used everywhere in the course.
_ACTIVATION_CLASSES = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,  # Swish with beta = 1
    "mish": nn.Mish,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}


def make_activation(activation: str | Callable[[], nn.Module]) -> nn.Module:
    """An activation module from a name (``"relu"``, ``"tanh"``, ...) or a zero-argument factory."""
    if callable(activation) and not isinstance(activation, str):
        module = activation()
        if not isinstance(module, nn.Module):
            raise TypeError(f"activation factory must return an nn.Module; got {type(module).__name__}")
        return module
    try:
        return _ACTIVATION_CLASSES[activation]()
    except KeyError:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATION_CLASSES)} "
            "or pass a function that returns an nn.Module"
        ) from None


def make_norm(kind: str, channels: int, groups: int = 2) -> nn.Module:
    """A normalisation layer for a (N, C, H, W) map: none, batch, group, instance or layer."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        if channels % groups:
            raise ValueError(f"group norm: {channels} channels do not split into {groups} groups")
        return nn.GroupNorm(groups, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":  # normalise over (C, H, W) of each sample: GroupNorm with one group
        return nn.GroupNorm(1, channels)
    raise ValueError(f"unknown norm {kind!r}; choose none, batch, group, instance or layer")


@dataclass(frozen=True)
class LeNetConfig:
    """LeNet-5's shape and its swappable parts.

    ``pool``: "max" (modern default), "avg" (LeCun et al. 1998 used trainable average
    sub-sampling), "conv" (a stride-2 convolution instead of pooling) or "none".
    """

    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    channels: tuple[int, int] = (6, 16)
    kernel_size: int = 5
    hidden: tuple[int, int] = (120, 84)
    activation: str | Callable[[], nn.Module] = "relu"
    pool: str = "max"
    norm: str = "none"
    dropout: float = 0.0


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for (N, C, H, W) images, modernised where configured.

    conv1 5x5 -> act -> pool -> conv2 5x5 -> act -> pool -> flatten -> fc 120 -> fc 84 -> fc classes.
    With 28x28 inputs conv1 pads by 2, so the maps are 28 -> 14 -> 10 -> 5 as in the paper's 32x32.
    The named blocks (``conv1``, ``act1``, ``pool1``, ...) let :func:`feature_maps` tap any layer.
    """

    def __init__(self, config: LeNetConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = LeNetConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a LeNetConfig or keyword overrides, not both")
        self.config = cfg = config
        c1, c2 = cfg.channels
        k = cfg.kernel_size
        self.features = nn.Sequential()
        self.features.add_module("conv1", nn.Conv2d(cfg.in_channels, c1, k, padding=k // 2))
        self.features.add_module("norm1", make_norm(cfg.norm, c1))
        self.features.add_module("act1", make_activation(cfg.activation))
        self.features.add_module("pool1", _pool(cfg.pool, c1))
        self.features.add_module("conv2", nn.Conv2d(c1, c2, k))
        self.features.add_module("norm2", make_norm(cfg.norm, c2))
        self.features.add_module("act2", make_activation(cfg.activation))
        self.features.add_module("pool2", _pool(cfg.pool, c2))
        with torch.no_grad():  # the flattened size follows from the image size
            flat = self.features(torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)).numel()
        h1, h2 = cfg.hidden
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("fc1", nn.Linear(flat, h1))
        self.classifier.add_module("act3", make_activation(cfg.activation))
        self.classifier.add_module("drop1", nn.Dropout(cfg.dropout))
        self.classifier.add_module("fc2", nn.Linear(h1, h2))
        self.classifier.add_module("act4", make_activation(cfg.activation))
        self.classifier.add_module("drop2", nn.Dropout(cfg.dropout))
        self.classifier.add_module("fc3", nn.Linear(h2, cfg.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> logits (N, num_classes)."""
        return self.classifier(self.features(x))


def _pool(kind: str, channels: int) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(2)
    if kind == "avg":
        return nn.AvgPool2d(2)
    if kind == "conv":  # learned down-sampling: stride-2 3x3 convolution, same channels
        return nn.Conv2d(channels, channels, 3, stride=2, padding=1)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown pool {kind!r}; choose max, avg, conv or none")


@dataclass(frozen=True)
class ResNetConfig:
    """A small ResNet for 28x28 or 32x32 images: a 3x3 stem, stages of basic blocks, GAP, one linear layer.

    ``widths[i]`` channels in stage i; every stage after the first halves the map with a
    stride-2 block. ``(16, 32, 64)`` with 2 blocks per stage is He et al.'s ResNet-14 for CIFAR
    (their ResNet-20 has 3 blocks per stage).
    """

    in_channels: int = 1
    num_classes: int = 10
    widths: tuple[int, ...] = (16, 32, 64)
    blocks_per_stage: int = 2
    norm: str = "batch"
    activation: str | Callable[[], nn.Module] = "relu"
    dropout: float = 0.0


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection: out = act(x' + F(x)) (He et al. 2016, Fig. 2).

    When the block changes the width or halves the map, the skip is a 1x1 stride-S convolution
    (their option B) so the shapes match.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, norm: str = "batch",
                 activation: str | Callable[[], nn.Module] = "relu"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=norm == "none")
        self.norm1 = make_norm(norm, out_channels)
        self.act1 = make_activation(activation)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=norm == "none")
        self.norm2 = make_norm(norm, out_channels)
        self.skip = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=norm == "none"),
                                      make_norm(norm, out_channels))
        self.act2 = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C_in, H, W) -> (N, C_out, H/S, W/S)."""
        out = self.act1(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.act2(out + self.skip(x))


class SmallResNet(nn.Module):
    """A ResNet-style CNN for the capstone (notebooks/12_capstone.ipynb).

    stem (3x3 conv) -> stage 1 .. stage k (basic blocks) -> global average pool -> linear.
    Named stages (``stem``, ``stage1``, ...) let :func:`feature_maps` and Grad-CAM tap them.
    """

    def __init__(self, config: ResNetConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = ResNetConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a ResNetConfig or keyword overrides, not both")
        self.config = cfg = config
        if not cfg.widths or cfg.blocks_per_stage < 1:
            raise ValueError("SmallResNet needs at least one stage width and one block per stage")
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, cfg.widths[0], 3, padding=1, bias=cfg.norm == "none"),
            make_norm(cfg.norm, cfg.widths[0]),
            make_activation(cfg.activation),
        )
        channels = cfg.widths[0]
        for i, width in enumerate(cfg.widths, 1):
            blocks = [BasicBlock(channels if b == 0 else width, width, stride=2 if (b == 0 and i > 1) else 1,
                                 norm=cfg.norm, activation=cfg.activation)
                      for b in range(cfg.blocks_per_stage)]
            self.add_module(f"stage{i}", nn.Sequential(*blocks))
            channels = width
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout),
                                  nn.Linear(channels, cfg.num_classes))
        for m in self.modules():  # He initialisation for ReLU networks
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> logits (N, num_classes)."""
        x = self.stem(x)
        for i in range(1, len(self.config.widths) + 1):
            x = getattr(self, f"stage{i}")(x)
        return self.head(x)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def hooked_forward(model: nn.Module, x: torch.Tensor, hooks: dict[nn.Module, Callable]) -> torch.Tensor:
    """One forward pass in eval mode with forward hooks on some sub-modules; returns the output.

    ``hooks`` maps a module to ``hook(module, inputs, output)``. The input is moved to the
    model's device (the model is never moved), and afterwards the hooks are removed and the
    model's train/eval mode is restored, so the caller's model is left as it was.
    """
    handles = [module.register_forward_hook(hook) for module, hook in hooks.items()]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        return model(x.to(param.device) if param is not None else x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()


def feature_maps(model: nn.Module, x: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The outputs of the named sub-modules (e.g. ``"features.act1"``) for input x.

    Runs one forward pass in eval mode with hooks (:func:`hooked_forward`); returns CPU
    tensors, and never moves or changes the model.
    """
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise KeyError(f"feature_maps: no layer(s) {missing}; the model has {list(modules)[1:]}")
    captured: dict[str, torch.Tensor] = {}
    hooked_forward(model, x, {
        modules[name]: (lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach().cpu()))
        for name in layers
    })
    return {name: captured[name] for name in layers}
