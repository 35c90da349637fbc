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
    z = pp.standardize(x, mean, std)
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
