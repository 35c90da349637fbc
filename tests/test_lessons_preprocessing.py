"""Tests of cnncourse.lessons.preprocessing: scalings, duplicate finders, per-sample losses, the leak."""
import torch
from torch import nn

from cnncourse import data
from cnncourse.lessons import preprocessing as pp


def test_scalings_reach_their_targets():
    x = torch.rand(20, 3, 6, 6) * torch.tensor([1.0, 5.0, 0.2]).view(1, 3, 1, 1) + 2
    mm = pp.min_max_scale(x)
    assert torch.allclose(mm.amin(dim=(0, 2, 3)), torch.zeros(3)) and torch.allclose(mm.amax(dim=(0, 2, 3)), torch.ones(3))
    mean, std = data.channel_stats(x)
    z = pp._standardize(x, mean, std)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)
    assert torch.allclose(z, data.normalize(x, mean, std))
    c = pp.center(x, mean)
    assert torch.allclose(c.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(c.std(dim=(0, 2, 3)), std, atol=1e-5)


def test_scaling_table_keys_and_values():
    t = pp.scaling_table(torch.rand(10, 1, 4, 4))
    assert list(t) == ["raw", "min-max [0,1]", "centred", "standardised"]
    assert abs(t["standardised"]["std"] - 1) < 1e-4 and abs(t["centred"]["mean"]) < 1e-5


def test_duplicate_finders():
    x = torch.rand(6, 1, 4, 4)
    x[4] = x[1]
    x[5] = x[1]
    assert pp.find_duplicates(x) == [[1, 4, 5]]
    assert pp.find_duplicates(torch.rand(5, 1, 4, 4)) == []
    b = torch.cat([torch.rand(2, 1, 4, 4), x[2:3]])
    assert pp.cross_duplicates(x, b) == [(2, 2)]
    assert len(set(pp.image_hashes(x))) == 4


def test_nearest_neighbours_excludes_self_and_chunks():
    x = torch.rand(7, 1, 3, 3)
    x[3] = x[0] + 0.001
    d, j = pp.nearest_neighbours(x, chunk=2)
    assert j[0] == 3 and j[3] == 0 and d[0] < 0.01
    d2, j2 = pp.nearest_neighbours(x[:2], x)
    assert d2[0] == 0 and j2[0] == 0


def test_per_sample_losses_match_cross_entropy_and_restore_mode():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    model.train()
    x, y = torch.rand(10, 1, 4, 4), torch.randint(0, 3, (10,))
    losses, preds = pp.per_sample_losses(model, x, y, batch_size=3)
    assert model.training
    assert torch.allclose(losses.mean(), nn.functional.cross_entropy(model(x), y), atol=1e-6)
    assert torch.equal(preds, model(x).argmax(1))


def test_normalisation_leak_reports_both():
    train, held = torch.rand(50, 1, 4, 4), torch.rand(20, 1, 4, 4) + 0.5
    leak = pp.normalisation_leak(train, held)
    assert leak["whole mean"] > leak["train mean"]
    assert leak["held-out mean (whole stats)"] < leak["held-out mean (train stats)"]


def test_flip_labels_changes_the_marked_labels_to_other_classes():
    labels = torch.arange(10).repeat(50)
    noisy, flipped = pp.flip_labels(labels, 0.3, seed=0)
    assert noisy.shape == labels.shape and flipped.dtype == torch.bool
    assert torch.equal(noisy != labels, flipped)  # every flipped label changed, no other did
    assert 0.2 < flipped.float().mean() < 0.4
    assert noisy.min() >= 0 and noisy.max() <= 9
    again, _ = pp.flip_labels(labels, 0.3, seed=0)
    assert torch.equal(again, noisy) and torch.equal(labels, torch.arange(10).repeat(50))
    assert torch.equal(pp.flip_labels(labels, 0.0)[0], labels)


def test_shift_images_moves_pixels_and_fills_zeros():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1, 2] = 1
    y = pp.shift_images(x, 2, 1)
    assert y.shape == x.shape and y[0, 0, 2, 4] == 1 and y.sum() == 1
    assert pp.shift_images(x, 3, 0).sum() == 0  # moved out of the frame
    assert torch.equal(pp.shift_images(x, 0, 0), x)


def test_correct_on_marks_right_predictions_and_restores_mode():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    model.train()
    x, y = torch.rand(7, 1, 4, 4), torch.randint(0, 3, (7,))
    right = pp.correct_on(model, x, y, batch_size=3)
    assert model.training and right.dtype == torch.bool
    assert torch.equal(right, model(x).argmax(1) == y)
    shifted = pp.correct_on(model, x, y, shift=1)
    assert torch.equal(shifted, model(pp.shift_images(x, 1, 1)).argmax(1) == y)


def test_crop_boxes_match_the_transform_and_keep_the_global_rng():
    from torchvision.transforms import v2

    crop = v2.RandomResizedCrop(28)
    state = torch.random.get_rng_state()
    boxes = pp.crop_boxes(crop, 20, (28, 28), seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert boxes == pp.crop_boxes(crop, 20, (28, 28), seed=3)
    assert all(0 <= t and 0 <= l and t + h <= 28 and l + w <= 28 for t, l, h, w in boxes)
    full = pp.crop_boxes(v2.RandomResizedCrop(28, scale=(1.0, 1.0), ratio=(1.0, 1.0)), 3, (28, 28))
    assert full == [(0, 0, 28, 28)] * 3


def test_ink_kept_is_the_share_inside_the_box():
    x = torch.zeros(2, 1, 4, 4)
    x[:, 0, 0, 0] = 1
    x[:, 0, 3, 3] = 3
    kept = pp.ink_kept(x, [(0, 0, 2, 2), (0, 0, 4, 4)])
    assert torch.allclose(kept, torch.tensor([0.25, 1.0]))
