"""Looking inside a trained CNN: Grad-CAM and the misclassified test images.

* :func:`grad_cam` (Selvaraju et al. 2017): for one conv layer with activations A (N, K, h, w),
  the weight of channel k is the spatial mean of ∂score_c/∂A_k; the map is ReLU(Σ_k α_k A_k),
  upsampled bilinearly to the input's H×W. It shows *where* the layer saw evidence for class c.
* :func:`misclassified`: the k test images the model gets wrong most confidently.

Both leave the caller's model as it was: not moved, its train/eval mode restored, no hooks left
behind and no ``.grad`` written into its parameters. Results are CPU tensors.

Taught in notebooks/12_capstone.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GradCAM", "grad_cam", "Misclassified", "misclassified", "show_grad_cam", "show_feature_hierarchy"]


@dataclass(frozen=True)
class GradCAM:
    """Grad-CAM maps for a batch.

    ``maps`` (N, H, W): ReLU(Σ_k α_k A_k) upsampled to the input size (not rescaled);
    ``low_res`` (N, h, w): the same before upsampling; ``weights`` (N, K): the α_k;
    ``classes`` (N,): the class each map explains; ``scores`` (N,): that class's logit.
    """

    maps: torch.Tensor
    low_res: torch.Tensor
    weights: torch.Tensor
    classes: torch.Tensor
    scores: torch.Tensor

    def normalized(self) -> torch.Tensor:
        """``maps`` scaled to [0, 1] per image (an all-zero map stays zero), for display."""
        top = self.maps.flatten(1).amax(dim=1).clamp_min(1e-12)
        return self.maps / top[:, None, None]


def _check_images(images, where: str) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{where}: images must be a tensor (N, C, H, W); got {type(images).__name__}")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"{where}: images must be a non-empty batch (N, C, H, W); got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{where}: images must be float (values in [0, 1]); got {images.dtype}")


def _find_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError("grad_cam: the layer given is not a sub-module of this model")
        return layer
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        raise ValueError(f"grad_cam: no layer {layer!r}; the model has {list(modules)[1:]}")
    return modules[layer]


def grad_cam(model: nn.Module, images: torch.Tensor, layer: str | nn.Module,
             target: int | torch.Tensor | None = None) -> GradCAM:
    """Grad-CAM of ``layer`` (a name like ``"1.stage3"`` or the module itself) for images (N, C, H, W).

    ``target``: the class to explain, one int for all images or a (N,) tensor; ``None`` explains
    each image's predicted class. The layer must output a (N, K, h, w) map. The forward pass runs
    in eval mode on the model's device; the gradient is taken with ``torch.autograd.grad`` with
    respect to the layer's output only, so parameters get no ``.grad``.
    """
    _check_images(images, "grad_cam")
    if not isinstance(model, nn.Module):
        raise TypeError(f"grad_cam: model must be an nn.Module; got {type(model).__name__}")
    module = _find_layer(model, layer)
    param = next(model.parameters(), None)
    dev = param.device if param is not None else images.device
    x = images.detach().to(dev)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    was_training = model.training
    try:
        model.eval()
        with torch.enable_grad():
            x.requires_grad_(True)  # the graph must reach the layer even if every parameter is frozen
            logits = model(x)  # (N, classes)
            if not captured:
                raise ValueError("grad_cam: the chosen layer was not used in the forward pass")
            acts = captured[-1]
            if not isinstance(acts, torch.Tensor) or acts.ndim != 4:
                shape = tuple(acts.shape) if isinstance(acts, torch.Tensor) else type(acts).__name__
                raise ValueError(f"grad_cam: the layer must output a (N, K, h, w) map; it gives {shape}")
            if logits.ndim != 2:
                raise ValueError(f"grad_cam: the model must return logits (N, classes); got shape {tuple(logits.shape)}")
            n, num_classes = logits.shape
            if target is None:
                classes = logits.argmax(dim=1)
            else:
                if isinstance(target, bool) or not isinstance(target, (int, list, tuple, torch.Tensor)):
                    raise TypeError(f"grad_cam: target must be a class index or a (N,) tensor of them; got {type(target).__name__}")
                classes = torch.as_tensor(target).long().to(logits.device)
                if classes.ndim == 0:
                    classes = classes.expand(n)
                if classes.shape != (n,):
                    raise ValueError(f"grad_cam: target must be one class or {n} classes; got shape {tuple(classes.shape)}")
                if classes.min() < 0 or classes.max() >= num_classes:
                    raise ValueError(f"grad_cam: target classes must be in [0, {num_classes}); got {classes.tolist()}")
            scores = logits.gather(1, classes[:, None]).squeeze(1)  # (N,)
            (grads,) = torch.autograd.grad(scores.sum(), acts)  # each score depends on its own image only
    finally:
        handle.remove()
        model.train(was_training)
    weights = grads.float().mean(dim=(2, 3))  # (N, K): α_k
    low_res = F.relu((weights[:, :, None, None] * acts.detach().float()).sum(dim=1))  # (N, h, w)
    maps = F.interpolate(low_res[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return GradCAM(maps.cpu(), low_res.cpu(), weights.cpu(), classes.detach().cpu(), scores.detach().float().cpu())


@dataclass(frozen=True)
class Misclassified:
    """The k most confident mistakes: ``index`` into the images, true ``label``, ``predicted`` class
    and its probability ``confidence``, all (k,) CPU tensors, most confident first."""

    index: torch.Tensor
    label: torch.Tensor
    predicted: torch.Tensor
    confidence: torch.Tensor

    def __len__(self) -> int:
        return self.index.numel()


@torch.no_grad()
def misclassified(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, k: int = 8,
                  batch_size: int = 512) -> Misclassified:
    """The ``k`` images (N, C, H, W) the model gets wrong with the highest confidence (fewer if it errs less)."""
    _check_images(images, "misclassified")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"misclassified: labels must be a tensor of shape ({images.shape[0]},); got {shape}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"misclassified: k must be a positive int; got {k!r}")
    from .train import predict

    probs = predict(model, images, batch_size=batch_size)  # (N, classes), eval mode, CPU
    confidence, predicted = probs.max(dim=1)
    wrong = (predicted != labels.cpu()).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)[:k]
    index = wrong[order]
    return Misclassified(index, labels.cpu()[index], predicted[index], confidence[index])


# ---------------------------------------------------------------- figures (thin layers over the above)

def show_grad_cam(images: torch.Tensor, cam: GradCAM, labels: torch.Tensor | None = None,
                  classes: tuple[str, ...] | None = None, title: str = "Grad-CAM"):
    """Two rows: the images (N, C, H, W) in [0, 1], then each with its Grad-CAM map over it (jet, alpha 0.5)."""
    import matplotlib.pyplot as plt

    n = images.shape[0]
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n + 0.4, 3.2), squeeze=False)
    heat = cam.normalized()
    for i in range(n):
        img = images[i].detach().float().cpu()
        shown = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
        for row in (0, 1):
            axes[row, i].imshow(shown, cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
            axes[row, i].axis("off")
        axes[1, i].imshow(heat[i].numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
        name = (lambda c: classes[int(c)] if classes is not None else str(int(c)))
        label = f"{name(labels[i])} → " if labels is not None else ""
        wrong = labels is not None and int(labels[i]) != int(cam.classes[i])
        axes[0, i].set_title(f"{label}{name(cam.classes[i])}", fontsize=8, color="red" if wrong else "black")
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.82, wspace=0.05, hspace=0.05)
    plt.close(fig)
    return fig


def show_feature_hierarchy(maps: dict[str, torch.Tensor], per_layer: int = 8, title: str = "feature maps"):
    """One row per layer: the first ``per_layer`` channels of each (C, H, W) or (1, C, H, W) map, with its size."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(maps), per_layer, figsize=(1.1 * per_layer, 1.25 * len(maps) + 0.4), squeeze=False)
    for row, (name, m) in enumerate(maps.items()):
        m = m[0] if m.ndim == 4 else m
        for col in range(per_layer):
            ax = axes[row, col]
            ax.axis("off")
            if col < m.shape[0]:
                ax.imshow(m[col].float().numpy(), cmap="viridis")
        axes[row, 0].set_title(f"{name}: {m.shape[0]}×{m.shape[1]}×{m.shape[2]}", fontsize=8, loc="left")
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.05, hspace=0.35)
    plt.close(fig)
    return fig
