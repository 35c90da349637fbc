"""cnncourse.runtime: profiles, device choice (CUDA and MPS paths exercised on CPU), seeds, folders."""

import pytest
import torch

from cnncourse import runtime


def test_profiles_are_frozen_and_overridable():
    smoke = runtime.profile("smoke")
    assert smoke.name == "smoke" and smoke.epochs >= 1
    with pytest.raises(Exception):
        smoke.epochs = 3  # frozen dataclass
    assert runtime.profile("smoke", epochs=4, train_size=None).epochs == 4
    assert runtime.profile("smoke", train_size=None).train_size == smoke.train_size  # None keeps the value
    with pytest.raises(TypeError, match="no field"):
        runtime.profile("smoke", epoch=3)
    assert runtime.PROFILES["smoke"].epochs <= runtime.PROFILES["cpu"].epochs <= runtime.PROFILES["gpu"].epochs


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "cpu")
    assert runtime.profile().name == "cpu"
    monkeypatch.setenv("CNNCOURSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="not a profile"):
        runtime.profile()
    monkeypatch.delenv("CNNCOURSE_PROFILE")
    monkeypatch.delenv("CNNCOURSE_DEVICE", raising=False)
    assert runtime.profile_name() == "cpu"  # no GPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.profile_name() == "gpu"


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.device().type == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.device().type == "cuda"
    assert runtime.device("cpu").type == "cpu"
    monkeypatch.setenv("CNNCOURSE_DEVICE", "cpu")
    assert runtime.device().type == "cpu"


def test_asking_for_a_missing_gpu_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU; use 'cpu'"):
        runtime.device("cuda")
    with pytest.raises(RuntimeError, match="no Apple MPS"):
        runtime.device("mps")


def test_seed_everything_makes_runs_repeat():
    runtime.seed_everything(7)
    a = torch.rand(3)
    g = runtime.seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    assert isinstance(g, torch.Generator)


def test_folders_follow_one_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))
    assert runtime.course_dir() == tmp_path
    assert runtime.data_dir() == tmp_path / "data" and runtime.output_dir() == tmp_path / "outputs"
    monkeypatch.delenv("CNNCOURSE_HOME")
    assert (runtime.course_dir() / "pyproject.toml").is_file()  # the checkout


# describe(), require() and `cnncourse info` moved to cnncourse.info: tests/test_info.py


# ---------------------------------------------------------------- bad parameters: one line, at once (issue 15)

@pytest.mark.parametrize("field, value", [("epochs", -1), ("epochs", 0), ("epochs", "abc"), ("epochs", 2.5),
                                          ("epochs", True), ("train_size", 0), ("batch_size", "-8"), ("repeats", [3])])
def test_profile_refuses_bad_sizes_naming_the_parameter_value_and_allowed_values(field, value):
    with pytest.raises(ValueError) as err:
        runtime.profile("smoke", **{field: value})
    message = str(err.value)
    assert message == (f"profile: {field}={value!r} (the notebook's {field.upper()} parameter) is not allowed; use a "
                       f"whole number >= 1, or None for the smoke profile's {getattr(runtime.PROFILES['smoke'], field)}")


def test_profile_accepts_whole_numbers_in_any_spelling_papermill_passes():
    p = runtime.profile("smoke", epochs="3", train_size=200.0, test_size=None, batch_size=32)
    assert (p.epochs, p.train_size, p.test_size, p.batch_size) == (3, 200, runtime.PROFILES["smoke"].test_size, 32)
    assert type(p.epochs) is int and type(p.train_size) is int
    assert runtime.profile("smoke", epochs=1, repeats="1").epochs == 1  # the smallest allowed value


def test_profile_names_are_case_insensitive_and_unknown_ones_get_one_line(monkeypatch):
    assert runtime.profile(" SMOKE ").name == "smoke" and runtime.profile("Cpu").name == "cpu"
    monkeypatch.setenv("CNNCOURSE_PROFILE", "GPU")
    assert runtime.profile().name == "gpu"  # the environment variable was already case-insensitive
    for bad in ("bogus", "", 3):
        with pytest.raises(ValueError, match=rf"^profile: PROFILE={bad!r} is not a profile; use one of "
                                             r"\['cpu', 'gpu', 'smoke'\], or None \(\$CNNCOURSE_PROFILE, else detected\)$"):
            runtime.profile(bad)


@pytest.mark.parametrize("value", ["nonsense", "meta", "cuda:x", "cpu:-1", "xla"])
def test_a_bad_device_variable_names_the_variable_and_the_allowed_values(monkeypatch, value):
    monkeypatch.setenv("CNNCOURSE_DEVICE", value)
    with pytest.raises(ValueError, match=rf"^CNNCOURSE_DEVICE='{value}' is not a device; use 'cpu', 'cuda', 'cuda:N' "
                                         r"or 'mps' \(or leave CNNCOURSE_DEVICE unset to pick the fastest\)$"):
        runtime.device()
    with pytest.raises(ValueError, match=rf"^device\('{value}'\) is not a device"):
        runtime.device(value)


def test_good_device_names_still_work(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DEVICE", " CPU ")
    assert runtime.device() == torch.device("cpu")
    assert runtime.device("cpu:0") == torch.device("cpu:0") and runtime.device(torch.device("cpu")).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert runtime.device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(RuntimeError, match="'cuda:2' was asked for but torch sees 2 CUDA GPU"):
        runtime.device("cuda:2")
