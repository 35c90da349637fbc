"""The chapter 06 checkers accept the reference answers and name the typical mistakes."""
import torch

from cnncourse.augment import _AddGaussianNoise as CourseNoise
from cnncourse.checks import run_check
from cnncourse.lessons.preprocessing import _standardize as course_standardize


class Noise:
    def __init__(self, std, clip=True):
        self.std, self.clip = std, clip

    def __call__(self, x):
        out = x + torch.randn_like(x) * self.std
        return out.clamp(0, 1) if self.clip else out


def _variant(call):
    return type("Variant", (Noise,), {"__call__": lambda self, x: call(self, x)})


def test_noise_solutions_pass():
    assert run_check("AddGaussianNoise", Noise).ok
    assert run_check("AddGaussianNoise", CourseNoise).ok  # the course's v2 transform too


def test_noise_mistakes_are_named():
    cases = {
        "not clipped": _variant(lambda s, x: x + torch.randn_like(x) * s.std),
        "std squared": _variant(lambda s, x: (x + torch.randn_like(x) * s.std ** 2).clamp(0, 1) if s.clip
                                else x + torch.randn_like(x) * s.std ** 2),
        "sqrt(std)": _variant(lambda s, x: (x + torch.randn_like(x) * s.std ** 0.5).clamp(0, 1) if s.clip
                              else x + torch.randn_like(x) * s.std ** 0.5),
        "uniform": _variant(lambda s, x: (x + torch.rand_like(x) * s.std).clamp(0, 1)),
    }
    for words, cls in cases.items():
        result = run_check("AddGaussianNoise", cls)
        assert not result.ok and words in result.hint, (words, str(result))


def test_noise_in_place_and_stub_fail():
    def in_place(self, x):
        return x.add_(torch.randn_like(x) * self.std).clamp_(0, 1)

    result = run_check("AddGaussianNoise", _variant(in_place))
    assert not result.ok and "in place" in result.detail

    class Stub:
        def __init__(self, std, clip=True):
            raise NotImplementedError

    assert "not implemented" in run_check("AddGaussianNoise", Stub).detail


def test_standardize():
    assert run_check("standardize", course_standardize).ok
    wrong = {
        "variance": lambda x, m, s: (x - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1) ** 2,
        "only centred": lambda x, m, s: x - m.view(1, -1, 1, 1),
        "subtract the mean first": lambda x, m, s: x / s.view(1, -1, 1, 1) - m.view(1, -1, 1, 1),
        "overall mean": lambda x, m, s: (x - x.mean()) / x.std(),
    }
    for words, fn in wrong.items():
        result = run_check("standardize", fn)
        assert not result.ok and words in result.hint, (words, str(result))


def test_standardize_wrong_axis_is_named_when_it_does_not_crash():
    def wrong_axis(x, m, s):
        if x.shape[-1] != m.shape[0]:
            return (x - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1)
        return (x - m.view(1, 1, 1, -1)) / s.view(1, 1, 1, -1)

    result = run_check("standardize", wrong_axis)
    assert not result.ok and "(1, C, 1, 1)" in result.hint


def test_noise_clamped_although_clip_is_false_is_named():
    class AlwaysClamped(Noise):
        def __call__(self, x):
            return torch.clamp(x + self.std * torch.randn_like(x), 0.0, 1.0)

    result = run_check("AddGaussianNoise", AlwaysClamped)
    assert not result.ok and result.mistake == "clamped_anyway" and "must NOT be clamped" in result.hint, str(result)


def test_noise_that_builds_no_callable_is_one_line():
    class NotCallable:
        def __init__(self, std, clip=True):
            self.std = std

    result = run_check("AddGaussianNoise", NotCallable)
    assert not result.ok and "should build a callable transform; got NotCallable" in result.detail, str(result)


def test_the_transform_is_graded_in_the_instructor_s_grader_too():
    """The grader runs the learner's code in a child and judges in the parent: the transform is applied in the
    child (Checker.call), so what comes back is images, not an object of the learner's class."""
    import json
    from pathlib import Path

    from cnncourse import grade
    from cnncourse.checks import checkers

    nb = json.loads((Path(__file__).resolve().parent.parent / "solutions" / "06_data_augmentation.ipynb").read_text())
    verdicts = grade.grade_notebook(nb, grade.notebook_exercises(nb, "06_data_augmentation"), checkers())
    assert verdicts["AddGaussianNoise"] == "✓ AddGaussianNoise: 5/5 cases", verdicts
