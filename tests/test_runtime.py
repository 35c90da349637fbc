"""cnncourse.runtime: profiles, device choice (CUDA and MPS paths exercised on CPU), seeds, folders."""
import io

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


def test_describe_prints_versions_device_profile_and_data(smoke_profile):
    out = io.StringIO()
    info = runtime.describe(file=out)
    text = out.getvalue()
    for key in ("cnncourse", "torch", "device", "profile", "data"):
        assert key in info and key in text
    assert "smoke" in info["profile"] and "mnist-offline: offline" in info["data"]


def test_command_line_info(capsys):
    from cnncourse.__main__ import main

    assert main(["info"]) == 0
    assert "torch" in capsys.readouterr().out


def test_require_prints_the_fix_for_an_old_install(capsys):
    assert runtime.require("0.1")
    assert "✓" in capsys.readouterr().out
    assert not runtime.require("99.0")
    out = capsys.readouterr().out
    assert out.startswith("✗ this notebook needs cnncourse >= 99.0") and "pip install -e" in out
    assert runtime._version_tuple("0.10.1") > runtime._version_tuple("0.9")
