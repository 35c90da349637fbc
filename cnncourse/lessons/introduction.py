"""Chapter 01's compute functions: the timeline, shapes through LeNet-5, weight sharing,
translation equivariance vs invariance, the feature hierarchy, hand-engineered (HOG) features
and the digit explorer.

Every function takes tensors or a model and returns numbers, tensors or a small dataclass;
it never moves, trains or changes the model it is given (forward passes run in eval mode
under ``torch.no_grad`` and the mode is restored). The figures are drawn by
:mod:`cnncourse.drawing.introduction`; nothing here imports a plotting library.

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..i18n import message
from ..models import count_parameters, feature_maps, hooked_forward
from .convolution import hand_kernels

__all__ = [
    "Milestone",
    "MILESTONES",
    "LayerShape",
    "layer_shapes",
    "format_layer_shapes",
    "LocallyConnected2d",
    "ParamRow",
    "weight_sharing_rows",
    "format_param_rows",
    "mlp_300_100",
    "count_multiply_adds",
    "equivariance_error",
    "InvarianceProfile",
    "invariance_profile",
    "nearest_centroid_accuracy",
    "layer_separability",
    "hog_features",
    "misclassified",
    "tile_maps",
    "DigitView",
    "digit_view",
    "summarize_digit_view",
]


# ----------------------------------------------------------------------------- the timeline

@dataclass(frozen=True)
class Milestone:
    """One dated step in the history of CNNs, with the paper to read."""

    year: int
    name: str
    kind: str  # "neuroscience", "model" or "data & compute"
    what: str
    reference: str


MILESTONES: tuple[Milestone, ...] = (
    Milestone(1959, "Hubel & Wiesel", "neuroscience",
              "single neurons in the cat's visual cortex answer to an edge in a small receptive field",
              "Hubel & Wiesel, J. Physiol. 148 (1959)"),
    Milestone(1962, "simple & complex cells", "neuroscience",
              "simple cells (oriented edges) feed complex cells (the same edge, tolerant to position)",
              "Hubel & Wiesel, J. Physiol. 160 (1962)"),
    Milestone(1980, "Neocognitron", "model",
              "Fukushima: layers of 'S-cells' (shared local filters) and 'C-cells' (pooling), no backprop",
              "Fukushima, Biol. Cybernetics 36 (1980)"),
    Milestone(1986, "backpropagation", "model",
              "gradients of a loss through many layers, computed by the chain rule",
              "Rumelhart, Hinton & Williams, Nature 323 (1986)"),
    Milestone(1989, "LeNet (zip codes)", "model",
              "convolutions with shared weights trained end to end by backprop on handwritten zip codes",
              "LeCun et al., Neural Computation 1 (1989)"),
    Milestone(1998, "LeNet-5 + MNIST", "model",
              "conv-pool-conv-pool-FC, 60k parameters; read cheques in US banks",
              "LeCun, Bottou, Bengio & Haffner, Proc. IEEE 86 (1998)"),
    Milestone(2009, "ImageNet", "data & compute",
              "14M labelled photos; from 2010 the ILSVRC challenge (1.2M images, 1000 classes)",
              "Deng et al., CVPR (2009)"),
    Milestone(2012, "AlexNet", "model",
              "a GPU-trained CNN with ReLU and dropout wins ILSVRC: top-5 error 15.3% vs 26.2%",
              "Krizhevsky, Sutskever & Hinton, NeurIPS (2012)"),
    Milestone(2014, "VGG, GoogLeNet", "model",
              "deeper: stacks of 3x3 convolutions (VGG), Inception blocks with 1x1 convolutions",
              "Simonyan & Zisserman (2014); Szegedy et al., CVPR (2015)"),
    Milestone(2015, "BatchNorm, ResNet", "model",
              "normalised activations; residual connections train 152 layers (3.6% top-5 error)",
              "Ioffe & Szegedy, ICML (2015); He et al., CVPR (2016)"),
    Milestone(2017, "MobileNet", "model",
              "depthwise-separable convolutions for phones",
              "Howard et al. (2017)"),
    Milestone(2020, "ViT", "model",
              "a transformer on image patches rivals CNNs when pre-trained on enough data",
              "Dosovitskiy et al., ICLR (2021)"),
    Milestone(2022, "ConvNeXt", "model",
              "a pure CNN modernised with the transformers' training recipe matches them again",
              "Liu et al., CVPR (2022)"),
)

# ----------------------------------------------------------------------------- shapes through a model

_BLOCK_KINDS = (
    (nn.Conv2d, "convolution"),
    (nn.Linear, "fully connected"),
    ((nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d), "pooling"),
    (nn.Flatten, "flatten"),
    ((nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm), "normalisation"),
    (nn.Dropout, "dropout"),
)


def _block_kind(module: nn.Module) -> str:
    for classes, kind in _BLOCK_KINDS:
        if isinstance(module, classes):
            return kind
    return "activation" if type(module).__module__.endswith("activation") else type(module).__name__


def _does_nothing(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0)


@dataclass(frozen=True)
class LayerShape:
    """One layer on the way through a model: its name, building block, output shape, parameters."""

    name: str
    kind: str
    shape: tuple[int, ...]
    parameters: int


@torch.no_grad()
def layer_shapes(model: nn.Module, x: torch.Tensor) -> list[LayerShape]:
    """The output shape of every leaf layer of ``model`` for input x (N, C, H, W), in call order.

    Layers that do nothing here (``nn.Identity``, dropout with p = 0) are left out. The
    forward pass runs in eval mode; the model's mode is restored and nothing is moved.
    """
    rows: list[LayerShape] = []
    hooks = {
        module: (lambda m, _i, out, name=name or type(module).__name__: rows.append(
            LayerShape(name, _block_kind(m), tuple(out.shape), count_parameters(m))))
        for name, module in model.named_modules()
        if not any(True for _ in module.children()) and not _does_nothing(module)
    }
    hooked_forward(model, x, hooks)
    return rows


def format_layer_shapes(rows: Sequence[LayerShape], input_shape: Sequence[int] | None = None) -> str:
    """The rows of :func:`layer_shapes` as an aligned text table."""
    lines = [f"{'layer':<22}{'building block':<17}{'output shape':<20}{'parameters':>10}"]
    if input_shape is not None:
        lines.append(f"{'input':<22}{'':<17}{str(tuple(input_shape)):<20}{0:>10,}")
    for r in rows:
        lines.append(f"{r.name:<22}{r.kind:<17}{str(r.shape):<20}{r.parameters:>10,}")
    lines.append(f"{'total':<22}{'':<17}{'':<20}{sum(r.parameters for r in rows):>10,}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- weight sharing

class LocallyConnected2d(nn.Module):
    """A convolution WITHOUT weight sharing: every output position has its own K x K kernels.

    Input (N, C_in, H, W) -> output (N, C_out, H', W') with the usual output-size formula
    (stride 1, padding P). Weight (H'*W', C_out, C_in*K*K), bias (C_out, H', W'). With all
    positions given the same kernel it computes exactly ``nn.Conv2d`` (tested); it exists
    here to count what local connectivity alone costs before sharing.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, input_size: int, padding: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding = kernel_size, padding
        self.output_size = input_size + 2 * padding - kernel_size + 1
        if self.output_size < 1:
            raise ValueError(f"LocallyConnected2d: a {kernel_size}x{kernel_size} kernel does not fit a "
                             f"{input_size}x{input_size} input with padding {padding}")
        positions = self.output_size ** 2
        fan_in = in_channels * kernel_size ** 2
        bound = 1 / math.sqrt(fan_in)  # nn.Conv2d's default initialisation range
        self.weight = nn.Parameter(torch.empty(positions, out_channels, fan_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels, self.output_size, self.output_size).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C_in, H, W) -> (N, C_out, H', W')."""
        cols = F.unfold(x, self.kernel_size, padding=self.padding)  # (N, C_in*K*K, H'*W')
        out = torch.einsum("nfl,lof->nol", cols, self.weight)  # (N, C_out, H'*W'), one kernel per position l
        n = x.shape[0]
        return out.reshape(n, self.out_channels, self.output_size, self.output_size) + self.bias


@dataclass(frozen=True)
class ParamRow:
    """One way to compute the same feature maps, and what it costs in parameters."""

    layer: str
    output_shape: tuple[int, ...]
    parameters: int


@torch.no_grad()
def weight_sharing_rows(image: torch.Tensor, out_channels: int = 6, kernel_size: int = 5) -> list[ParamRow]:
    """Three real layers that map one image (C, H, W) to out_channels maps of the same size (H, W).

    fully connected (every output sees every pixel), locally connected (each output sees a
    K x K patch, own weights per position) and convolution (a K x K patch, one kernel shared
    by all positions). Padding K // 2 keeps H x W, as LeNet-5's first layer does on 28x28.
    """
    c, h, w = image.shape
    pad = kernel_size // 2
    x = image.unsqueeze(0)  # (1, C, H, W)
    dense = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, out_channels * h * w), nn.Unflatten(1, (out_channels, h, w)))
    local = LocallyConnected2d(c, out_channels, kernel_size, h, padding=pad)
    conv = nn.Conv2d(c, out_channels, kernel_size, padding=pad)
    return [ParamRow(label, tuple(layer(x).shape), count_parameters(layer)) for label, layer in (
        ("fully connected", dense), ("locally connected", local), ("convolution (shared)", conv))]


def format_param_rows(rows: Sequence[ParamRow]) -> str:
    """The rows of :func:`weight_sharing_rows` as a table, with each one's size relative to the last."""
    base = rows[-1].parameters
    lines = [f"{'layer':<22}{'output shape':<18}{'parameters':>12}{'x convolution':>15}"]
    for r in rows:
        lines.append(f"{r.layer:<22}{str(r.output_shape):<18}{r.parameters:>12,}{r.parameters / base:>14,.0f}x")
    return "\n".join(lines)


def mlp_300_100(in_features: int = 784, num_classes: int = 10) -> nn.Module:
    """The fully connected baseline of LeCun et al. (1998): in -> 300 -> 100 -> classes, ReLU."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 300), nn.ReLU(),
                         nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, num_classes))


@torch.no_grad()
def count_multiply_adds(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of the convolutions and fully connected layers of ``model`` for ONE sample.

    Counted from the real output shapes of a forward pass on x (1, C, H, W): a Conv2d output
    value costs C_in/groups * K_h * K_w, a Linear output value in_features. Biases, activations
    and pooling are not counted. The model's mode is restored and nothing is moved.
    """
    total = 0

    def count(module, _inputs, out):
        nonlocal total
        per_sample = out[0].numel()
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            total += per_sample * (module.in_channels // module.groups) * k_h * k_w
        else:
            total += per_sample * module.in_features

    hooked_forward(model, x[:1], {m: count for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))})
    return total


# ----------------------------------------------------------------------------- translation

def _translate(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift images (..., H, W) right by dx and down by dy pixels; pixels that enter are zeros.

    Negative dx / dy shift left / up. Returns a new tensor of the same shape, dtype and device.
    """
    h, w = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@torch.no_grad()
def equivariance_error(layer: nn.Module, images: torch.Tensor, dx: int, dy: int, margin: int) -> float:
    """max |layer(shift(x)) - shift(layer(x))| over the maps, ``margin`` pixels away from every border.

    Images (N, C, H, W); the layer must keep H x W (a convolution with 'same' padding, an
    activation). A convolution gives 0 up to float rounding: it is translation-EQUIVARIANT.
    Near the borders the shift pushes pixels out and zeros in, so those are left out.
    """
    mapped = layer(images)
    h, w = images.shape[-2:]
    if mapped.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"equivariance_error: the layer changes the map size {(h, w)} -> "
                         f"{tuple(mapped.shape[-2:])}; use a stride-1 layer with 'same' padding")
    shifted_then_layer = layer(_translate(images, dx, dy))
    layer_then_shifted = _translate(mapped, dx, dy)
    if 2 * margin >= min(h, w):
        raise ValueError(f"equivariance_error: margin {margin} leaves nothing of a {h}x{w} map")
    inner = (..., slice(margin, h - margin), slice(margin, w - margin))
    return (shifted_then_layer[inner] - layer_then_shifted[inner]).abs().max().item()


@dataclass(frozen=True)
class InvarianceProfile:
    """How much each stage's output changes when the input moves by ``shifts`` pixels (to the right).

    ``change[stage][i]``: mean over images of ||f(shift(x)) - f(x)|| / ||f(x)|| for ``shifts[i]``
    (no re-alignment: 0 would mean "invariant"). ``agreement[i]``: fraction of images whose
    predicted class is unchanged; ``accuracy[i]``: accuracy on the shifted images.
    """

    shifts: tuple[int, ...]
    change: dict[str, list[float]]
    agreement: list[float]
    accuracy: list[float]

    def table(self) -> str:
        stages = list(self.change)
        lines = ["shift " + "".join(f"{s:>15}" for s in stages) + f"{'same class':>12}{'accuracy':>10}"]
        for i, k in enumerate(self.shifts):
            lines.append(f"{k:>5} " + "".join(f"{self.change[s][i]:>15.3f}" for s in stages)
                         + f"{self.agreement[i]:>12.3f}{self.accuracy[i]:>10.3f}")
        return "\n".join(lines)


@torch.no_grad()
def invariance_profile(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                       shifts: Sequence[int] = (0, 1, 2, 3, 4),
                       stages: Sequence[str] = ("features.act1", "features.pool1", "features.pool2", "classifier.fc3"),
                       ) -> InvarianceProfile:
    """Measure, stage by stage, how (in)variant ``model`` is to horizontal shifts of ``images``.

    Images (N, C, H, W), labels (N,). ``stages`` are module names of ``model`` (see
    :func:`cnncourse.models.feature_maps`); the pixels themselves are the first stage.
    """
    base = feature_maps(model, images, list(stages))
    base = {"pixels": images.cpu(), **base}
    last = stages[-1]
    base_pred = base[last].argmax(1)
    change: dict[str, list[float]] = {name: [] for name in base}
    agreement, accuracy = [], []
    for k in shifts:
        moved_images = _translate(images, k, 0)
        moved = {"pixels": moved_images.cpu(), **feature_maps(model, moved_images, list(stages))}
        for name in base:
            a, b = base[name].flatten(1), moved[name].flatten(1)
            change[name].append(((b - a).norm(dim=1) / a.norm(dim=1).clamp_min(1e-12)).mean().item())
        pred = moved[last].argmax(1)
        agreement.append((pred == base_pred).float().mean().item())
        accuracy.append((pred == labels.cpu()).float().mean().item())
    return InvarianceProfile(tuple(shifts), change, agreement, accuracy)


# ----------------------------------------------------------------------------- the feature hierarchy

def nearest_centroid_accuracy(train_x: torch.Tensor, train_y: torch.Tensor,
                              test_x: torch.Tensor, test_y: torch.Tensor, num_classes: int = 10) -> float:
    """Accuracy of the nearest class mean: a parameter-free probe of how separable features are.

    Features (N, ...) are flattened; each test sample gets the class whose mean training
    feature vector is nearest (Euclidean).
    """
    a, b = train_x.flatten(1).float(), test_x.flatten(1).float()
    centroids = torch.stack([a[train_y == c].mean(0) for c in range(num_classes)])  # (classes, D)
    pred = torch.cdist(b, centroids).argmin(1)
    return (pred == test_y).float().mean().item()


@torch.no_grad()
def layer_separability(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
                       test_images: torch.Tensor, test_labels: torch.Tensor,
                       stages: Sequence[str] = ("features.pool1", "features.pool2", "classifier.act3", "classifier.act4"),
                       ) -> dict[str, float]:
    """Nearest-centroid accuracy on the pixels and on each stage's features: deeper = more separable?"""
    tr = feature_maps(model, train_images, list(stages))
    te = feature_maps(model, test_images, list(stages))
    result = {"pixels": nearest_centroid_accuracy(train_images.cpu(), train_labels.cpu(), test_images.cpu(), test_labels.cpu())}
    for name in stages:
        result[name] = nearest_centroid_accuracy(tr[name], train_labels.cpu(), te[name], test_labels.cpu())
    return result


# ----------------------------------------------------------------------------- hand-engineered features

@torch.no_grad()
def hog_features(images: torch.Tensor, cell_size: int = 4, bins: int = 9, block: int = 2) -> torch.Tensor:
    """Histograms of oriented gradients (HOG, Dalal & Triggs 2005): hand-designed features.

    The classic pipeline before CNNs learned their own features, in four fixed steps:

    1. gradients gx, gy of each pixel with the two Sobel kernels (zero padding);
    2. each pixel votes its gradient magnitude into ``bins`` orientation bins over [0°, 180°)
       (unsigned: an edge and its reverse count alike), split linearly between the two
       nearest bin centres;
    3. the votes are summed over cells of ``cell_size`` x ``cell_size`` pixels;
    4. each ``block`` x ``block`` group of neighbouring cells (stride one cell) is scaled to
       unit L2 norm, which makes the features insensitive to contrast.

    Images (N, 1, H, W) with H and W multiples of ``cell_size`` -> features
    (N, bins * block² * (H/cell_size - block + 1) * (W/cell_size - block + 1)); for 28x28
    digits and the defaults (N, 1296). The input is not changed.
    """
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"hog_features expects gray images (N, 1, H, W); got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if cell_size < 1 or h % cell_size or w % cell_size:
        raise ValueError(f"hog_features: cell_size {cell_size} must divide the image size {h}x{w} (e.g. 4 or 7 for 28x28)")
    if not 1 <= block <= min(h, w) // cell_size:
        raise ValueError(f"hog_features: block {block} must be between 1 and the number of cells "
                         f"per side ({min(h, w) // cell_size})")
    if bins < 2:
        raise ValueError(f"hog_features: bins must be at least 2, got {bins}")
    sobel = hand_kernels()
    weight = torch.stack([sobel["Sobel x"], sobel["Sobel y"]]).unsqueeze(1).to(images)  # (2, 1, 3, 3)
    grad = F.conv2d(images, weight, padding=1)  # (N, 2, H, W): gx, gy
    gx, gy = grad[:, 0], grad[:, 1]
    magnitude = torch.hypot(gx, gy)  # (N, H, W)
    angle = torch.atan2(gy, gx) % math.pi  # unsigned orientation in [0, pi)
    position = angle / math.pi * bins - 0.5  # bin centres at (b + 0.5) * pi / bins
    lower = torch.floor(position)
    upper_share = position - lower  # linear split between the two nearest bins
    lower = lower.long() % bins  # an angle near 0 wraps to the last bin
    upper = (lower + 1) % bins
    votes = torch.zeros(images.shape[0], bins, h, w, dtype=images.dtype, device=images.device)
    votes.scatter_add_(1, lower.unsqueeze(1), (magnitude * (1 - upper_share)).unsqueeze(1))
    votes.scatter_add_(1, upper.unsqueeze(1), (magnitude * upper_share).unsqueeze(1))
    cells = F.avg_pool2d(votes, cell_size) * cell_size ** 2  # (N, bins, H/cell, W/cell): sums per cell
    blocks = F.unfold(cells, block)  # (N, bins * block², number of blocks)
    blocks = blocks / (blocks.norm(dim=1, keepdim=True) + 1e-6)
    return blocks.transpose(1, 2).flatten(1)  # (N, blocks * bins * block²), block by block


def misclassified(probabilities: torch.Tensor, labels: torch.Tensor, limit: int = 16) -> torch.Tensor:
    """Indices of wrongly classified samples, the most confidently wrong first (at most ``limit``).

    probabilities (N, classes), labels (N,).
    """
    confidence, pred = probabilities.max(1)
    wrong = (pred != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order][:limit]


# ----------------------------------------------------------------------------- the digit explorer

def tile_maps(maps: torch.Tensor, ncols: int | None = None, gap: int = 1) -> torch.Tensor:
    """Feature maps (C, H, W) as one mosaic image (rows*H + gaps, ncols*W + gaps), NaN in the gaps.

    Each map is scaled to [0, 1] on its own (a map that is all zero stays 0), so one
    ``imshow`` shows them all: much faster to draw than one subplot per map.
    """
    c, h, w = maps.shape
    ncols = ncols or math.ceil(math.sqrt(c))
    nrows = math.ceil(c / ncols)
    flat = maps.flatten(1)
    lo, hi = flat.min(1).values.view(c, 1, 1), flat.max(1).values.view(c, 1, 1)
    scaled = (maps - lo) / (hi - lo).clamp_min(1e-12)
    mosaic = torch.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), float("nan"))
    for i in range(c):
        r, q = divmod(i, ncols)
        mosaic[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = scaled[i]
    return mosaic


@dataclass(frozen=True)
class DigitView:
    """What the explorer shows for one test image."""

    index: int
    image: torch.Tensor  # (C, H, W)
    label: int
    probabilities: torch.Tensor  # (classes,)
    maps: dict[str, torch.Tensor]  # stage name -> (C, H, W)
    classes: tuple[str, ...]

    @property
    def prediction(self) -> int:
        return int(self.probabilities.argmax())


def digit_view(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, index: int,
               stages: Sequence[str] = ("features.act1", "features.act2"),
               classes: Sequence[str] | None = None) -> DigitView:
    """Feature maps of ``stages`` and class probabilities for ``images[index]`` (images (N, C, H, W))."""
    if not 0 <= index < images.shape[0]:
        raise IndexError(f"digit_view: index {index} is outside the {images.shape[0]} images")
    x = images[index:index + 1]
    names = list(stages)
    last = _last_module_name(model)
    captured = feature_maps(model, x, names + ([last] if last not in names else []))
    probabilities = captured[last][0].float().softmax(0)
    classes = tuple(classes) if classes is not None else tuple(str(i) for i in range(probabilities.shape[0]))
    return DigitView(index, images[index].cpu(), int(labels[index]), probabilities,
                     {name: captured[name][0] for name in names}, classes)


def _last_module_name(model: nn.Module) -> str:
    leaves = [name for name, m in model.named_modules() if not any(True for _ in m.children()) and name]
    return leaves[-1]


def summarize_digit_view(view: DigitView) -> str:
    """One line: index, label, prediction and its probability."""
    verdict = message("summary.digit_correct" if view.prediction == view.label else "summary.digit_wrong")
    return message("summary.digit_view", index=view.index, label=view.classes[view.label],
                   predicted=view.classes[view.prediction], p=f"{view.probabilities.max():.3f}", verdict=verdict)
