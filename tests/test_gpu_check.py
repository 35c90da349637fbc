"""benchmarks/gpu_check.py and gpu_throughput.py (issue 16): the pieces that run the same on the CPU.

The GPU run itself happens on a lent machine; here: FLOP counting and MFU, one timed training
step, the JSON a tiny dry run writes, and the parsers that read pytest's and papermill's results.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402
import gpu_throughput  # noqa: E402


def test_flops_of_one_convolution_and_training_is_three_forwards():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    flops = gpu_throughput.count_flops(conv, (3, 32, 32), batch=2)
    expected = 2 * 3 * 8 * 3 * 3 * 32 * 32  # a multiply and an add per weight per output pixel
    assert flops["forward_per_image"] == expected
    assert flops["train_per_image"] == 3 * expected
    # backward of the first layer: only the weight gradient (the input needs none), so 2x forward counted
    assert flops["forward_backward_per_image_counted"] == pytest.approx(2 * expected)


def test_mfu_is_achieved_flops_over_the_peak():
    assert gpu_throughput.mfu(1000.0, 1e9, peak=1e13) == pytest.approx(0.1)
    assert gpu_throughput.PEAK_BF16_FLOPS == 790e12


def test_count_flops_leaves_the_model_alone():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    net(torch.rand(2, 1, 8, 8))
    before = net[1].running_mean.clone()
    gpu_throughput.count_flops(net, (1, 8, 8))
    assert torch.equal(net[1].running_mean, before) and net[0].weight.grad is None


@pytest.mark.parametrize("mode", ["float32", "bf16_channels_last"])
def test_one_timed_training_step_on_the_cpu(mode):
    from cnncourse.models import ResNetConfig, SmallResNet

    model = SmallResNet(ResNetConfig(in_channels=3, num_classes=10, widths=(4,), blocks_per_stage=1))
    images, labels = torch.rand(16, 3, 32, 32), torch.randint(0, 10, (16,))
    opts = gpu_throughput.MODES[mode]
    out = gpu_throughput.time_train_step(model, images, labels, torch.device("cpu"), amp=opts["amp"],
                                         channels_last=opts["channels_last"], compile=False, batch=8, steps=2,
                                         repeats=1, warmup=1)
    assert out["images_per_second"] > 0 and out["batch_size"] == 8 and out["final_loss"] == out["final_loss"]


def test_a_dry_run_writes_the_json(tmp_path):
    out = tmp_path / "out"
    result = gpu_check.main(["--dry-run", "--steps", "install", "--out", str(out), "--work", str(tmp_path / "w")])
    written = json.loads((out / "gpu.json").read_text())
    assert written["dry_run"] is True and written["profile"] == "smoke"
    for key in ("date", "device", "torch", "steps", "chapters", "failures", "total_s", "budget_s"):
        assert key in written, key
    assert written["torch"] == torch.__version__
    assert written["steps"]["install"]["status"] in ("ok", "skipped")
    assert result["failures"] == written["failures"] == []
    assert (out / "gpu_check.log").exists()


def test_without_a_gpu_and_without_dry_run_it_only_says_so(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) is None
    assert gpu_throughput.main([]) is None
    out = capsys.readouterr().out
    assert "gpu_check: skipped" in out and "gpu_throughput: skipped" in out


def test_junit_summary_lists_the_failures(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text('<?xml version="1.0"?><testsuites><testsuite tests="3" failures="1" errors="0" skipped="1">'
                   '<testcase classname="tests.test_a" name="test_ok"/>'
                   '<testcase classname="tests.test_a" name="test_bad"><failure message="assert 1 == 2&#10;more">x</failure></testcase>'
                   '<testcase classname="tests.test_a" name="test_skip"><skipped/></testcase></testsuite></testsuites>')
    got = gpu_check.junit_summary(xml)
    assert (got["tests"], got["passed"], got["failures"], got["skipped"]) == (3, 1, 1, 1)
    assert got["failed"] == [{"test": "tests.test_a::test_bad", "kind": "failure", "message": "assert 1 == 2"}]


def test_pytest_summary_reads_the_last_count_line():
    assert gpu_check.pytest_summary("..F\n=== 1 failed, 2 passed in 3.1s ===\n") == "1 failed, 2 passed in 3.1s"
    assert gpu_check.pytest_summary("....\n4 passed, 9 deselected in 0.5s\n") == "4 passed, 9 deselected in 0.5s"


def test_notebook_readers():
    nb = {"cells": [
        {"cell_type": "markdown", "source": "# t"},
        {"cell_type": "code", "execution_count": 1, "outputs": [
            {"output_type": "display_data", "data": {gpu_check.KEY_NUMBERS_MIME: {"values": {"acc": 0.9}}}}]},
        {"cell_type": "code", "execution_count": None, "outputs": []}]}
    assert gpu_check.key_numbers_of(nb) == {"acc": 0.9}
    assert gpu_check.cells_done(nb) == (1, 2)
    from cnncourse.report import KEY_NUMBERS_MIME

    assert gpu_check.KEY_NUMBERS_MIME == KEY_NUMBERS_MIME


def test_chapters_run_longest_first():
    paths = [Path("01_a.ipynb"), Path("02_b.ipynb"), Path("03_c.ipynb")]
    order = gpu_check.chapter_order(paths, {"cpu": {"01_a.ipynb": 10, "02_b.ipynb": 90}})
    assert [p.name for p in order] == ["03_c.ipynb", "02_b.ipynb", "01_a.ipynb"]  # unknown time first


def test_the_carried_wheels_cover_what_the_gpu_machine_lacks():
    wheels = ROOT / "wheelhouse"
    if not wheels.is_dir():
        pytest.skip("wheelhouse/ is not here (it is made with pip download, see benchmarks/gpu_check.py)")
    names = {w.name.split("-")[0].lower() for w in wheels.glob("*.whl")}
    for module in gpu_check.NEEDED_MODULES:
        assert module in names, module
    assert not names & {"torch", "torchvision", "numpy"}, "these are on the GPU machine already"
    assert sum(w.stat().st_size for w in wheels.glob("*.whl")) < 50 * 2**20
