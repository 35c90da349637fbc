"""cnncourse.data: offline sets, the real torchvision loaders on files in their real formats, splits, batching."""
import contextlib
import gzip
import hashlib
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from cnncourse import data

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- offline sets

def test_offline_mnist_is_5000_real_balanced_digits():
    ds = data.load_dataset("mnist-offline")
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == torch.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert torch.bincount(ds.labels).tolist() == [500] * 10
    # real handwriting: about 19% of MNIST pixels are ink (> 0.5); noise or blank images are not
    ink = (ds.images > 0.5).float().mean().item()
    assert 0.1 < ink < 0.3


def test_digits_8x8_and_photo():
    digits = data.load_dataset("digits")
    assert digits.images.shape == (1797, 1, 8, 8) and digits.images.max() <= 1.0
    photo = data.sample_photo("china")
    assert photo.shape == (3, 427, 640) and 0 <= photo.min() and photo.max() <= 1
    small = data.sample_photo("flower", size=64, gray=True)
    assert small.shape[0] == 1 and min(small.shape[1:]) == 64


def test_unknown_names_give_one_line_errors():
    with pytest.raises(ValueError, match="unknown data set 'cifar100'"):
        data.load_dataset("cifar100")
    with pytest.raises(ValueError, match="choose 'china' or 'flower'"):
        data.sample_photo("lena")


def test_every_listed_photo_loads_as_rgb_or_gray_in_unit_range():
    assert data.PHOTOS[:2] == ("china", "flower") and len(set(data.PHOTOS)) == len(data.PHOTOS)
    for name in data.PHOTOS:
        rgb = data.sample_photo(name, size=32)
        gray = data.sample_photo(name, size=32, gray=True)
        assert rgb.shape[0] == 3 and gray.shape == (1, *rgb.shape[1:]) and min(rgb.shape[1:]) == 32, name
        assert rgb.dtype == torch.float32 and 0 <= rgb.min() and rgb.max() <= 1 and rgb.std() > 0.01, name
    camera = data.sample_photo("camera")  # a gray photo: the same values in all three channels
    assert camera.shape == (3, 512, 512) and torch.equal(camera[0], camera[2])


# ---------------------------------------------------------------- splits and statistics

def test_stratified_split_keeps_class_proportions_and_is_disjoint():
    labels = torch.arange(10).repeat_interleave(100)
    tr, va, te = data.stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    assert len(tr) + len(va) + len(te) == 1000
    assert len(set(tr.tolist()) | set(va.tolist()) | set(te.tolist())) == 1000
    for part, n in ((tr, 60), (va, 20), (te, 20)):
        assert torch.bincount(labels[part], minlength=10).tolist() == [n] * 10
    again = data.stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), again))
    with pytest.raises(ValueError, match="summing to 1"):
        data.stratified_split(labels, (0.5, 0.2))
    with pytest.raises(ValueError, match="class 9 has 1 sample"):
        data.stratified_split(torch.tensor([0, 0, 0, 1, 1, 1, 9]), (0.5, 0.5))


def test_stratified_subset_keeps_class_shares():
    ds = data.load_dataset("mnist-offline")
    small = data.stratified_subset(ds, 200, seed=1)
    assert len(small) == 200 and torch.bincount(small.labels).tolist() == [20] * 10
    assert data.stratified_subset(ds, None) is ds and data.stratified_subset(ds, 10**6) is ds


def test_load_splits_caps_sizes_and_keeps_classes():
    s = data.load_splits("mnist-offline", train_size=300, test_size=100, seed=0)
    assert len(s.train) == 300 and len(s.test) == 100
    assert set(s.train.labels.tolist()) == set(range(10))
    assert 10 <= len(s.val) < 300
    full = data.load_splits("mnist-offline", seed=0)
    assert len(full.train) + len(full.val) + len(full.test) == 5000


def test_channel_stats_and_normalize():
    x = torch.rand(50, 3, 4, 4) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    mean, std = data.channel_stats(x)
    z = data.normalize(x, mean, std)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        data.channel_stats(torch.rand(3, 4, 4))


def test_tensor_loader_batches_cover_everything_reproducibly():
    x = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1)
    y = torch.arange(10)
    loader = data.TensorLoader((x, y), batch_size=4, shuffle=True, seed=1)
    assert len(loader) == 3
    first = [yb.tolist() for _, yb in loader]
    assert sorted(sum(first, [])) == list(range(10))
    second = [yb.tolist() for _, yb in loader]
    assert first != second  # reshuffled each epoch
    again = [yb.tolist() for _, yb in data.TensorLoader((x, y), batch_size=4, shuffle=True, seed=1)]
    assert again == first
    for xb, yb in loader:
        assert torch.equal(xb.view(-1).long(), yb)  # images stay paired with labels
    assert len(data.TensorLoader((x, y), batch_size=4, drop_last=True)) == 2
    doubled = data.TensorLoader((x, y), batch_size=5, transform=lambda b: b * 2)
    assert next(iter(doubled))[0].view(-1).tolist() == [0, 2, 4, 6, 8]
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        data.TensorLoader((x, y[:9]))


# ---------------------------------------------------------------- the real loaders, on files in the real formats

def _write_idx(path, array: np.ndarray, gz: bool = False):
    """IDX (LeCun's MNIST format): magic 0x0000 08 <ndim>, big-endian sizes, then uint8 data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def _write_mnist_family(root, folder: str, n_train=20, n_test=10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sets = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        sets[prefix] = (images, labels)
    return sets


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_torchvision_mnist_family_reads_idx_files(tmp_path, name, folder):
    written = _write_mnist_family(tmp_path, folder)
    train = data.load_dataset(name, root=tmp_path, download=False)
    test = data.load_dataset(name, train=False, root=tmp_path, download=False)
    assert train.images.shape == (20, 1, 28, 28) and len(test) == 10
    assert torch.equal((train.images[3, 0] * 255).round().to(torch.uint8), torch.from_numpy(written["train"][0][3]))
    assert train.labels.tolist() == written["train"][1].tolist()
    assert len(train.classes) == 10 and train.name == name
    assert data.available_datasets(tmp_path)[name] == "downloaded"


def _write_cifar(root, per_batch=6):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(1)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, fname in enumerate(names):
        entry = {"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in (np.arange(per_batch) + k * per_batch) % 10]}
        (base / fname).write_bytes(pickle.dumps(entry))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": classes}))
    return base


def _register_checksums(monkeypatch, base):
    """torchvision verifies CIFAR files by md5: register the md5s of the files this test wrote."""
    md5 = lambda f: hashlib.md5((base / f).read_bytes()).hexdigest()  # noqa: E731
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[f"data_batch_{i}", md5(f"data_batch_{i}")] for i in range(1, 6)])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5("test_batch")]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": md5("batches.meta")})


def test_torchvision_cifar10_reads_pickled_batches(tmp_path, monkeypatch):
    base = _write_cifar(tmp_path)
    _register_checksums(monkeypatch, base)
    train = data.load_dataset("cifar10", root=tmp_path, download=False)
    test = data.load_dataset("cifar10", train=False, root=tmp_path, download=False)
    assert train.images.shape == (30, 3, 32, 32) and len(test) == 6
    first = pickle.loads((base / "data_batch_1").read_bytes())
    # CIFAR rows are 1024 red, then 1024 green, then 1024 blue values of a 32x32 image
    expected = torch.from_numpy(first["data"][0].reshape(3, 32, 32))
    assert torch.equal((train.images[0] * 255).round().to(torch.uint8), expected)
    assert train.labels[:6].tolist() == first["labels"]
    assert train.classes[0] == "airplane"
    splits = data.load_splits("cifar10", root=tmp_path, download=False, val_fraction=0.4)
    assert len(splits.train) + len(splits.val) == 30 and len(splits.test) == 6
    with pytest.raises(ValueError, match="cannot hold one of each of the 10 classes"):
        data.load_splits("cifar10", root=tmp_path, download=False, val_fraction=0.2)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_download_failure_falls_back_to_offline_with_one_sentence(tmp_path, no_network, capsys):
    ds = data.load_dataset("mnist", root=tmp_path)
    assert ds.name == "mnist-offline" and len(ds) == 5000
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Could not download")]
    assert len(said) == 1 and "offline MNIST digits" in said[0] and "connect to the internet" in said[0]


def test_download_failure_without_fallback_says_what_to_do(tmp_path, no_network):
    with pytest.raises(data.DataError, match="could not download cifar10 .*connect to the internet"):
        data.load_dataset("cifar10", root=tmp_path, fallback=False)


def test_missing_files_without_download_say_what_to_do(tmp_path):
    with pytest.raises(data.DataError, match="not in .*download=True"):
        data.load_dataset("fashion-mnist", root=tmp_path, download=False)


def test_corrupt_idx_file_says_what_to_do(tmp_path):
    _write_mnist_family(tmp_path, "MNIST")
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])  # truncated, as after an interrupted download
    for download in (False, True):  # present but broken: no download is tried, the folder is named
        with pytest.raises(data.DataError, match=r"corrupt or incomplete \(train-images-idx3-ubyte has 1000 bytes"
                                                 r".*delete that folder"):
            data.load_dataset("mnist", root=tmp_path, download=download)
    assert data.available_datasets(tmp_path)["mnist"] == "corrupt"


def test_random_bytes_in_idx_files_give_a_data_error_not_an_assertion(tmp_path):
    """Files of the right names and sizes but random content: torchvision itself only asserts on the magic."""
    _write_mnist_family(tmp_path, "FashionMNIST")
    rng = np.random.default_rng(3)
    labels = tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(rng.integers(0, 256, labels.stat().st_size, dtype=np.uint8).tobytes())
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte does not start with the IDX magic number "
                                             "00 00 08 01.*delete that folder"):
        data.load_dataset("fashion-mnist", train=False, root=tmp_path, download=False)
    assert data.available_datasets(tmp_path)["fashion-mnist"] == "corrupt"


def test_idx_files_our_checks_pass_but_torchvision_rejects_still_give_a_data_error(tmp_path):
    """A label file whose header says 3 dimensions: our header check passes it, torchvision's reader refuses."""
    _write_mnist_family(tmp_path, "MNIST")
    _write_idx(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte", np.zeros(20, np.uint8))  # fine
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw = bytearray(images.read_bytes())
    raw[2] = 0x0D  # magic 00 00 0D 03: float32 data, which MNIST is not
    images.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="corrupt or incomplete"):
        data.load_dataset("mnist", root=tmp_path, download=False)


def test_corrupt_cifar_batch_fails_torchvisions_real_md5_and_names_the_folder(tmp_path, no_network):
    """A batch overwritten with garbage, checked against torchvision's own md5 table (nothing swapped).

    Before: reported as a failed download ("connect to the internet") and listed as downloaded.
    """
    base = _write_cifar(tmp_path)
    (base / "data_batch_1").write_bytes(b"not a pickle")  # the first file torchvision's table lists
    assert tvd.CIFAR10.train_list[0][0] == "data_batch_1"
    for download in (False, True):  # not "could not download": the files are there and broken
        with pytest.raises(data.DataError, match=rf"cifar10 files in {base} are corrupt or incomplete "
                                                 r"\(data_batch_1 fails its md5 check\); delete that folder"):
            data.load_dataset("cifar10", root=tmp_path, download=download)
    assert data.available_datasets(tmp_path)["cifar10"] == "corrupt"  # describe() no longer says "downloaded"


def test_corrupt_pickle_behind_valid_checksums_says_what_to_do(tmp_path, monkeypatch):
    """If md5 passed but a pickle is unreadable (checksums of our own files), the message still says what to do."""
    base = _write_cifar(tmp_path)
    (base / "data_batch_2").write_bytes(b"not a pickle")
    _register_checksums(monkeypatch, base)
    with pytest.raises(data.DataError, match="corrupt or incomplete.*delete .*cifar-10-batches-py"):
        data.load_dataset("cifar10", root=tmp_path, download=False)


def test_incomplete_cifar_folder_is_not_listed_as_downloaded(tmp_path, monkeypatch):
    base = _write_cifar(tmp_path)
    _register_checksums(monkeypatch, base)
    assert data.available_datasets(tmp_path)["cifar10"] == "downloaded"
    (base / "data_batch_5").unlink()
    assert data.available_datasets(tmp_path)["cifar10"] == "incomplete"
    with pytest.raises(data.DataError, match="data_batch_5 missing from .*download=True"):
        data.load_dataset("cifar10", root=tmp_path, download=False)


def test_a_read_only_data_folder_is_named_with_the_fix_not_blamed_on_the_network(read_only_dir, capsys):
    for name in ("mnist", "cifar10"):
        ds = data.load_dataset(name, root=read_only_dir / "data")
        assert ds.name == "mnist-offline"
        said = capsys.readouterr().out.strip().splitlines()
        assert len(said) == 1 and said[0].startswith(f"Could not download {name} (cannot write to {read_only_dir}")
        assert f"make {read_only_dir} writable" in said[0] and "CNNCOURSE_HOME" in said[0]
        assert "internet" not in said[0]
    with pytest.raises(data.DataError, match=rf"could not download mnist \(cannot write to {read_only_dir}"):
        data.load_dataset("mnist", root=read_only_dir, fallback=False)


def test_a_name_that_is_not_a_string_gets_one_line():
    with pytest.raises(ValueError, match="name must be one of .*got None"):
        data.load_dataset(None)
    with pytest.raises(ValueError, match="name must be one of .*got 10"):
        data.load_splits(10)
    assert data.load_dataset(" MNIST-Offline ").name == "mnist-offline"


def test_available_datasets_touches_no_network(tmp_path, no_network):
    status = data.available_datasets(tmp_path)
    assert status["mnist-offline"] == "offline" and status["cifar10"] == "online only"


# ---------------------------------------------------------------- a stalled network

@contextlib.contextmanager
def stalled_server(lifetime: float = 90.0):
    """A TCP server on 127.0.0.1 that accepts every connection and never answers a byte.

    Used as the HTTP(S) proxy: a dead proxy or a captive network looks exactly like this. The
    thread stops by itself after ``lifetime`` seconds even if the test is killed.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop, held = threading.Event(), []

    def serve():
        deadline = time.monotonic() + lifetime
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                held.append(server.accept()[0])
            except OSError:  # socket.timeout: look at the clock again
                pass
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


STALLED_RUN = """
import time
from cnncourse import data
for name in ("cifar10", "mnist"):
    start = time.monotonic()
    splits = data.load_splits(name, root={root!r}, train_size=100, test_size=50)
    print("RESULT", name, splits.train.name, round(time.monotonic() - start, 1), flush=True)
"""


def test_a_stalled_network_gives_up_with_the_one_line_fallback(tmp_path):
    """Through a proxy that accepts and never answers: each connection gives up after the time-out (1 s here).

    Before the fix this never returned (killed at 400 s); the subprocess's hard limit keeps a hang
    from stalling the test suite.
    """
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    with stalled_server() as port:
        env.update(http_proxy=f"http://127.0.0.1:{port}", https_proxy=f"http://127.0.0.1:{port}",
                   CNNCOURSE_DOWNLOAD_TIMEOUT="1", OMP_NUM_THREADS="1")
        try:
            out = subprocess.run([sys.executable, "-c", STALLED_RUN.format(root=str(tmp_path))], capture_output=True,
                                 text=True, env=env, cwd=ROOT, timeout=120)
        except subprocess.TimeoutExpired as err:
            pytest.fail(f"load_splits hung on a stalled network: {err}")
    assert out.returncode == 0, out.stderr[-2000:]
    said = [line for line in out.stdout.splitlines() if line.startswith("Could not download")]
    assert said == [f"Could not download {name} (no answer from the server for 1 s), so this run uses the 5000 "
                    f"offline MNIST digits instead; connect to the internet to use {name}." for name in ("cifar10", "mnist")]
    results = [line.split() for line in out.stdout.splitlines() if line.startswith("RESULT")]
    assert [r[2] for r in results] == ["mnist-offline", "mnist-offline"]
    assert all(float(r[3]) < 20 for r in results), results  # 1 s per connection tried (MNIST: two mirrors)


def test_the_download_timeout_is_configurable_and_checked(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_DOWNLOAD_TIMEOUT", raising=False)
    assert data.download_timeout() == data.DOWNLOAD_TIMEOUT == 30.0
    monkeypatch.setenv("CNNCOURSE_DOWNLOAD_TIMEOUT", "2.5")
    assert data.download_timeout() == 2.5
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv("CNNCOURSE_DOWNLOAD_TIMEOUT", bad)
        with pytest.raises(ValueError, match=f"CNNCOURSE_DOWNLOAD_TIMEOUT='{bad}' is not allowed; use a number of seconds"):
            data.download_timeout()


def test_a_timed_out_socket_is_restored_after_the_download(tmp_path, monkeypatch, capsys):
    """The time-out applies to the download's sockets only: the default is put back, also on failure."""
    import socket as socket_module

    seen = []

    def stalled(*args, **kwargs):
        seen.append(socket_module.getdefaulttimeout())
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", stalled)
    monkeypatch.setenv("CNNCOURSE_DOWNLOAD_TIMEOUT", "7")
    before = socket_module.getdefaulttimeout()
    assert data.load_dataset("cifar10", root=tmp_path).name == "mnist-offline"
    assert seen and set(seen) == {7.0} and socket_module.getdefaulttimeout() == before
    assert "(no answer from the server for 7 s)" in capsys.readouterr().out
