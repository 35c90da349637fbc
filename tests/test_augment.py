"""Tests of cnncourse.augment: the v2 noise transform, the pipeline, per-sample batch augmentation."""
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from cnncourse import augment


def test_noise_matches_reference_under_seed():
    x = torch.rand(2, 1, 8, 8)
    torch.manual_seed(3)
    got = augment._AddGaussianNoise(0.2)(x)
    torch.manual_seed(3)
    assert torch.equal(got, (x + torch.randn_like(x) * 0.2).clamp(0, 1))


def test_noise_keeps_type_dtype_and_input():
    img = tv_tensors.Image(torch.rand(3, 5, 5))
    before = img.clone()
    out = augment._AddGaussianNoise(0.5)(img)
    assert isinstance(out, tv_tensors.Image) and out.dtype == img.dtype
    assert torch.equal(img, before)
    assert out.min() >= 0 and out.max() <= 1


def test_noise_without_clip_and_passthrough_of_labels():
    x = torch.full((1, 4, 4), 0.5)
    out, label = augment._AddGaussianNoise(2.0, clip=False)(x, 7)
    assert label == 7 and (out < 0).any() and (out > 1).any()


def test_noise_rejects_bad_input():
    with pytest.raises(ValueError, match="std must be >= 0"):
        augment._AddGaussianNoise(-1)
    with pytest.raises(TypeError, match="float images"):
        augment._AddGaussianNoise(0.1)(torch.zeros(1, 3, 3, dtype=torch.uint8))


def test_pipeline_steps_and_size():
    p = augment.build_pipeline(28, rotation=10, crop_scale=(0.5, 1.0), brightness=0.2, noise_std=0.1)
    kinds = [type(t) for t in p.transforms]
    assert kinds == [v2.RandomAffine, v2.RandomResizedCrop, v2.ColorJitter, augment._AddGaussianNoise]
    assert p(torch.rand(1, 28, 28)).shape == (1, 28, 28)
    plain = augment.build_pipeline(20, rotation=0, scale=(1, 1), crop_scale=(1, 1))
    assert [type(t) for t in plain.transforms] == [v2.Resize]


def test_identity_affine_is_identity():
    x = torch.rand(3, 2, 9, 9)
    theta = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).repeat(3, 1, 1)
    assert torch.allclose(augment.apply_affine(x, theta), x, atol=1e-5)


def test_affine_params_respect_strength_and_seed():
    s = augment.AugmentStrength(rotation=0, scale=0, translate=0, crop=0)
    theta = augment.draw_affine_params(4, s, torch.Generator().manual_seed(0))
    assert torch.allclose(theta, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(4, 2, 3))
    s = augment.AugmentStrength(rotation=30, scale=0.2, translate=0.1, crop=0.5)
    a = augment.draw_affine_params(8, s, torch.Generator().manual_seed(1))
    b = augment.draw_affine_params(8, s, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.allclose(a[0], a[1])  # reproducible, and per-sample


def test_rotation_by_90_degrees_matches_rot90():
    x = torch.rand(1, 1, 6, 6)
    theta = torch.tensor([[[0.0, -1, 0], [1, 0, 0]]])  # input = R(90°) @ output
    out = augment.apply_affine(x, theta)
    assert torch.allclose(out, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5) or torch.allclose(
        out, torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)


def test_batch_augment_shapes_range_and_no_mutation():
    x = torch.rand(16, 1, 28, 28)
    before = x.clone()
    aug = augment.BatchAugment(augment.AugmentStrength(rotation=20, crop=0.6, noise_std=0.1), seed=0)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before) and 0 <= out.min() and out.max() <= 1
    again = augment.BatchAugment(augment.AugmentStrength(rotation=20, crop=0.6, noise_std=0.1), seed=0)(x)
    assert torch.equal(out, again)
    off = augment.BatchAugment(augment.AugmentStrength(0, 0, 0, 0, 0))
    assert torch.equal(off(x), x)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        aug(torch.rand(1, 28, 28))


def test_batch_augment_in_tensor_loader():
    from cnncourse.data import TensorLoader

    loader = TensorLoader((torch.rand(10, 1, 8, 8), torch.arange(10)), batch_size=4,
                          transform=augment.BatchAugment(rotation=10))
    assert [x.shape[0] for x, _ in loader] == [4, 4, 2]


def test_gallery_and_tile_shapes():
    x = torch.rand(3, 1, 8, 8)
    g = augment.gallery(x, 4, augment.AugmentStrength())
    assert g.shape == (3, 5, 1, 8, 8) and torch.equal(g[:, 0], x)
    assert augment.tile(g, pad=1).shape == (1, 3 * 9 - 1, 5 * 9 - 1)


@pytest.mark.parametrize("channels", [1, 3])
def test_brightness_contrast_match_torchvision(channels):
    x = torch.rand(4, channels, 6, 6)
    b, c = torch.tensor([0.8, 1.0, 1.2, 1.5]), torch.tensor([1.2, 0.8, 1.0, 0.5])
    ours = augment.adjust_brightness_contrast(x, b, c)
    ref = torch.stack([v2.functional.adjust_contrast(v2.functional.adjust_brightness(x[i], float(b[i])), float(c[i]))
                       for i in range(4)])
    assert torch.allclose(ours, ref, atol=1e-5)


def test_batch_augment_jitter_is_per_sample_and_off_by_default():
    x = torch.full((6, 1, 5, 5), 0.5)
    x[:, :, 0, 0] = 0.0
    no_geometry = dict(rotation=0, scale=0, translate=0)
    out = augment.BatchAugment(augment.AugmentStrength(**no_geometry, brightness=0.3, contrast=0.3), seed=1)(x)
    assert len(torch.unique(out[:, 0, 2, 2])) == 6  # a different factor for every image
    plain = augment.BatchAugment(augment.AugmentStrength(**no_geometry, noise_std=0.1), seed=2)(x)
    before = augment.BatchAugment(augment.AugmentStrength(0, 0, 0, 0, 0.1), seed=2)(x)
    assert torch.equal(plain, before)  # jitter strengths default to 0: old seeds draw the same noise
