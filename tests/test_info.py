"""cnncourse.info (set-up report, version check), the checkout vs the data home, the command line, layering."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
import torch
import torchvision  # noqa: F401 - imported before a test fakes torch.cuda.is_available (torch._dynamo inspects it)

from cnncourse import __main__ as cli
from cnncourse import info, runtime
from cnncourse.checks import tutor

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv("CNNCOURSE_DEVICE", raising=False)
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_describe_names_versions_platform_gpu_profile_and_data(smoke_profile, no_gpu):
    out = io.StringIO()
    report = info.describe(file=out)
    text = out.getvalue()
    for key in ("cnncourse", "torch", "platform", "gpu", "device", "profile", "data"):
        assert key in report and f"{key:<11} : " in text
    assert report["platform"].startswith("local (") and report["gpu"].startswith("none visible; to get one: ")
    assert "smoke" in report["profile"] and "mnist-offline: offline" in report["data"]


@pytest.mark.parametrize("variable, where, advice", [
    (None, "local", "open this notebook on Colab or Kaggle"),
    ("COLAB_RELEASE_TAG", "Colab", "Runtime > Change runtime type > a GPU"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Kaggle", "Settings > Accelerator > GPU"),
])
def test_platform_and_the_one_thing_to_do_for_a_gpu(monkeypatch, no_gpu, variable, where, advice):
    if variable:
        monkeypatch.setenv(variable, "Interactive")
    assert info.platform_name() == where
    assert info.gpu_words() == f"none visible; to get one: {info.GPU_ADVICE[where]}"
    assert advice in info.gpu_words()


def test_a_visible_gpu_is_named(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Tesla T4")
    assert info.gpu_words() == "yes: 2 x Tesla T4"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert info.gpu_words() == "yes: Apple GPU (mps)"


def test_a_local_cpu_build_of_torch_next_to_an_nvidia_driver_is_called_out(monkeypatch, no_gpu):
    monkeypatch.setattr(info.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "this torch is a CPU build: install a CUDA build" in info.gpu_words("local")


def test_require_compares_pep440_versions(monkeypatch, capsys):
    assert info.require("0.1")
    assert capsys.readouterr().out == "cnncourse 0.1.0 (this notebook needs >= 0.1) ✓\n"
    assert info.require("0.1.0rc1")  # a release candidate is older than the release
    monkeypatch.setattr(info, "__version__", "0.1.0rc1")
    assert not info.require("0.1.0")
    monkeypatch.setattr(info, "__version__", "0.10.0")
    assert info.require("0.9")  # not compared as text
    assert not info.require("0.10.1")
    out = capsys.readouterr().out
    assert "✗ this notebook needs cnncourse >= 0.10.1 but 0.10.0 is installed" in out


@pytest.mark.parametrize("bad", ["abc", "", "1..0", "latest"])
def test_require_rejects_a_malformed_version(bad):
    with pytest.raises(ValueError, match="is not a version number; write it like '0.1.0'"):
        info.require(bad)


def test_the_fix_names_the_checkout_even_with_a_data_home(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))
    assert runtime.course_dir() == tmp_path and runtime.checkout_dir() == ROOT
    assert not info.require("99.0")
    assert f'python -m pip install -e "{ROOT}"' in capsys.readouterr().out
    monkeypatch.setattr(info, "checkout_dir", lambda: None)  # installed from a wheel
    assert info.upgrade_advice("99.0") == ('run `python -m pip install --upgrade "cnncourse>=99.0"` '
                                           '(in a notebook: `%pip install ...`)')


def test_checkout_is_found_only_next_to_the_course_pyproject(monkeypatch, tmp_path):
    assert runtime.checkout_dir() == ROOT
    fake = tmp_path / "site-packages" / "cnncourse"
    fake.mkdir(parents=True)
    monkeypatch.setattr(runtime, "__file__", str(fake / "runtime.py"))
    assert runtime.checkout_dir() is None  # a wheel install
    (tmp_path / "site-packages" / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert runtime.checkout_dir() is None
    monkeypatch.delenv("CNNCOURSE_HOME", raising=False)
    assert runtime.course_dir() == Path.home() / "cnncourse"


def test_show_solution_reads_the_checkout_even_with_a_data_home(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))
    assert tutor.solution_folders() == [ROOT / "solutions", tmp_path / "solutions"]
    assert "def conv_params" in tutor.show_solution("conv_params")
    monkeypatch.setattr(tutor, "checkout_dir", lambda: None)  # a wheel install: only the data home is left
    assert tutor.show_solution("conv_params") is None
    assert "withheld" in capsys.readouterr().out


def test_command_line_info_and_lab(monkeypatch, capsys):
    assert cli.main(["info"]) == 0
    assert "platform" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["info", "--port", "1"])
    launched = []
    monkeypatch.setattr(cli, "_launch_lab", lambda args: launched.append(args) or 0)
    assert cli.main(["lab", "--no-browser", "--port", "8899"]) == 0
    [args] = launched
    assert args[:5] == [f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/notebooks",
                        "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
                        f"--LabApp.app_settings_dir={ROOT / 'tools' / 'lab-settings'}"]
    assert args[-3:] == ["--no-browser", "--port", "8899"]


def test_make_lab_calls_cnncourse_lab():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab: ", 1)[1].split("\n\n", 1)[0]
    assert "-m cnncourse lab $(LAB_ARGS)" in recipe and "jupyter" not in recipe


def _module_imports(path: Path, package: str) -> set[str]:
    """The cnncourse modules that ``path`` imports at module level (imports inside functions are lazy)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cnncourse")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("cnncourse"):
                found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
    return found


def test_no_import_cycles_in_the_package():
    modules = {}
    for path in (ROOT / "cnncourse").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = ".".join(parts[:-1])
        if parts[-1] == "__init__":
            parts, package = parts[:-1], ".".join(parts[:-1])
        modules[".".join(parts)] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        # Importing a parent package is no cycle: Python has initialised it first.
        graph[name] = {t for t in _module_imports(path, package)
                       if t in modules and t != name and not name.startswith(t + ".")}
    state: dict[str, int] = {}

    def visit(name, trail):
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert "cnncourse.info" not in graph["cnncourse.runtime"] and "cnncourse.runtime" in graph["cnncourse.info"]
