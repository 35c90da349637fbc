"""cnncourse.interpret: Grad-CAM equals a manual autograd computation, leaves the model alone, says what is wrong in one line."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.interpret import grad_cam, misclassified


def tiny_model() -> nn.Sequential:
    """conv 1->2 (3x3, padding 1) -> ReLU -> global average pool -> linear 2->3: small enough to check by hand."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))


def manual_cam(model, x, layer_index, classes):
    """Grad-CAM written out: run the layers by hand, take torch.autograd.grad of the class scores."""
    acts = model[:layer_index + 1](x)  # (N, K, h, w)
    logits = model[layer_index + 1:](acts)
    scores = logits.gather(1, classes[:, None]).sum()
    (grads,) = torch.autograd.grad(scores, acts)
    alpha = grads.mean(dim=(2, 3))  # (N, K)
    return F.relu((alpha[:, :, None, None] * acts).sum(1)).detach()


def test_grad_cam_equals_the_manual_autograd_computation():
    model = tiny_model()
    x = torch.rand(4, 1, 6, 6)
    classes = torch.tensor([0, 1, 2, 1])
    cam = grad_cam(model, x, "1", target=classes)
    expected = manual_cam(model, x, 1, classes)
    assert cam.low_res.shape == (4, 6, 6) and cam.maps.shape == (4, 6, 6)
    torch.testing.assert_close(cam.low_res, expected)
    # closed form for this model: score_c = W[c] · mean(A) + b, so α_k = W[c, k] / (h·w)
    w = model[4].weight.detach()
    torch.testing.assert_close(cam.weights, w[classes] / 36)
    torch.testing.assert_close(cam.scores, model(x).gather(1, classes[:, None]).squeeze(1).detach())
    assert torch.equal(cam.classes, classes)


def test_upsampling_to_the_input_and_the_default_target_is_the_prediction():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(3, 5))
    x = torch.rand(2, 1, 8, 8)
    cam = grad_cam(model, x, model[1])  # a module works as well as a name
    assert cam.low_res.shape == (2, 4, 4) and cam.maps.shape == (2, 8, 8)
    torch.testing.assert_close(cam.maps, F.interpolate(cam.low_res[:, None], size=(8, 8), mode="bilinear",
                                                       align_corners=False)[:, 0])
    assert torch.equal(cam.classes, model(x).argmax(1))
    torch.testing.assert_close(cam.low_res, manual_cam(model, x, 1, cam.classes))
    norm = cam.normalized()
    assert norm.min() >= 0 and norm.max() <= 1 + 1e-6
    one = grad_cam(model, x, "1", target=2)
    assert one.classes.tolist() == [2, 2]


def test_grad_cam_leaves_the_model_and_images_alone():
    model = tiny_model()
    model.train()
    x = torch.rand(3, 1, 6, 6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grad_cam(model, x, "0")
    assert model.training and x.grad is None and not x.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert not model[0]._forward_hooks
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_grad_cam_batched_equals_one_by_one_in_eval_mode_with_batchnorm():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    model(torch.rand(8, 1, 6, 6))  # give BN running statistics
    x = torch.rand(3, 1, 6, 6)
    batched = grad_cam(model, x, "2", target=1).maps
    single = torch.cat([grad_cam(model, x[i:i + 1], "2", target=1).maps for i in range(3)])
    torch.testing.assert_close(batched, single)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_grad_cam_on_cuda_returns_cpu_tensors():  # pragma: no cover - CPU CI
    model = tiny_model().cuda()
    cam = grad_cam(model, torch.rand(2, 1, 6, 6), "1")
    assert cam.maps.device.type == "cpu" and next(model.parameters()).device.type == "cuda"


def test_results_are_on_the_cpu_and_the_model_is_not_moved():
    model = tiny_model().double()
    cam = grad_cam(model, torch.rand(2, 1, 6, 6, dtype=torch.float64), "1")
    assert cam.maps.device.type == "cpu" and cam.maps.dtype == torch.float32
    assert next(model.parameters()).dtype == torch.float64


@pytest.mark.parametrize("call, error, message", [
    (lambda m: grad_cam(m, [[1.0]], "1"), TypeError, "images must be a tensor"),
    (lambda m: grad_cam(m, torch.rand(1, 6, 6), "1"), ValueError, r"non-empty batch \(N, C, H, W\); got shape \(1, 6, 6\)"),
    (lambda m: grad_cam(m, torch.zeros(2, 1, 6, 6, dtype=torch.uint8), "1"), TypeError, "must be float"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), "conv9"), ValueError, "no layer 'conv9'; the model has"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), "3"), ValueError, r"must output a \(N, K, h, w\) map; it gives \(2, 2\)"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), nn.Conv2d(1, 1, 1)), ValueError, "not a sub-module"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), "1", target=3), ValueError, r"in \[0, 3\)"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), "1", target=torch.tensor([0, 1, 2])), ValueError, "one class or 2"),
    (lambda m: grad_cam(m, torch.rand(2, 1, 6, 6), "1", target="cat"), TypeError, "target must be a class index"),
    (lambda m: grad_cam("model", torch.rand(2, 1, 6, 6), "1"), TypeError, "model must be an nn.Module"),
])
def test_bad_input_gets_one_clear_line(call, error, message):
    with pytest.raises(error, match=message) as info:
        call(tiny_model())
    assert "\n" not in str(info.value)


def test_misclassified_returns_the_most_confident_mistakes():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
    images = torch.tensor([[5.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 9.0, 0], [3.0, 0, 0, 0]]).reshape(4, 1, 2, 2)
    labels = torch.tensor([1, 1, 0, 0])  # image 0 and 2 are wrong, 2 more confidently
    wrong = misclassified(model, images, labels, k=5)
    assert wrong.index.tolist() == [2, 0] and len(wrong) == 2
    assert wrong.predicted.tolist() == [2, 0] and wrong.label.tolist() == [0, 1]
    probs = model(images).softmax(1).detach()
    torch.testing.assert_close(wrong.confidence, probs[[2, 0]].max(1).values)
    assert misclassified(model, images, labels, k=1).index.tolist() == [2]
    with pytest.raises(ValueError, match=r"labels must be a tensor of shape \(4,\)"):
        misclassified(model, images, labels[:2])
    with pytest.raises(ValueError, match="k must be a positive int"):
        misclassified(model, images, labels, k=0)
