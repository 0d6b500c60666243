"""The companion report's small CNN and its data: shapes, the offline Fashion-MNIST fallback, clear errors."""

import gzip
import struct

import numpy as np
import pytest
import torch

from zfviz.data.mnist import (
    FASHION_FILES,
    companion_evidence,
    feature_maps,
    load_digits,
    predict_small,
    small_cnn,
    train_small,
)


def _write_idx(path, array, magic):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        f.write(array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    src = tmp_path / "fashion"
    src.mkdir()
    for name, n in (("train", 40), ("t10k", 20)):
        y = np.arange(n) % 10
        x = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
        x[np.arange(n), 2 * y, :] = 255  # the class is a bright row: learnable
        _write_idx(src / f"{name}-images-idx3-ubyte.gz", x, 2051)
        _write_idx(src / f"{name}-labels-idx1-ubyte.gz", y, 2049)
    monkeypatch.setenv("ZFVIZ_FASHION_MNIST", str(src))
    return src


def test_small_cnn_shapes():
    model = small_cnn()
    # as the report specifies: every conv layer is followed by 2x2 max pooling
    assert [n for n, _ in model.named_children()][:6] == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    assert model[:2](torch.zeros(1, 1, 28, 28)).shape == (1, 32, 13, 13)
    assert model[:3](torch.zeros(1, 1, 28, 28)).shape == (1, 32, 6, 6)
    assert model[:6](torch.zeros(1, 1, 28, 28)).shape == (1, 64, 1, 1)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_mnist_5000_is_real_mnist_split_per_class():
    from zfviz.data.mnist import load_digits

    d = load_digits("mnist-5000")
    assert d.name.startswith("MNIST") and d.train_x.shape == (4000, 1, 28, 28) and d.test_x.shape == (1000, 1, 28, 28)
    assert d.test_y.bincount().tolist() == [100] * 10 and d.train_x.dtype == torch.uint8
    assert 20 < d.train_x.float().mean() < 60  # MNIST's mean pixel is about 33


def test_fashion_fallback_loads_and_trains(fake_fashion, tmp_path):
    d = load_digits("fashion-mnist", root=tmp_path / "cache")
    assert d.name == "Fashion-MNIST" and d.train_x.shape == (40, 1, 28, 28) and d.test_y.shape == (20,)
    assert d.train_x.dtype == torch.uint8 and d.classes[0] == "T-shirt/top"
    assert all((tmp_path / "cache" / "FashionMNIST" / "raw" / f).exists() for f in FASHION_FILES)
    model = small_cnn()
    hist = train_small(model, d.train_x, d.train_y, epochs=40, batch_size=8, lr=3e-3, progress=False)
    assert hist.train_loss.iloc[-1] < hist.train_loss.iloc[0] / 3
    assert (predict_small(model, d.test_x).argmax(1) == d.test_y).float().mean() > 0.5


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="valid: 'auto', 'mnist', 'mnist-5000', 'fashion-mnist'"):
        load_digits("cifar")
    with pytest.raises(ValueError, match="MNIST is not cached"):
        load_digits("mnist", root=tmp_path, download=False)
    monkeypatch.setenv("ZFVIZ_FASHION_MNIST", str(tmp_path / "nowhere"))
    monkeypatch.setattr("zfviz.data.mnist.FASHION_DIRS", ())
    with pytest.raises(ValueError, match="dataset-fashion-mnist"):
        load_digits("fashion-mnist", root=tmp_path)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        train_small(small_cnn(), torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
                    epochs=0)


def test_feature_maps_are_both_conv_layers_after_relu():
    model = small_cnn()
    maps = feature_maps(model, torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8))
    assert list(maps) == ["conv1", "conv2"] and maps["conv1"].shape == (32, 13, 13) and maps["conv2"].shape == (64, 2, 2)
    assert all((m >= 0).all() for m in maps.values())


def test_companion_evidence_is_accuracy_minus_the_reference_and_fashion_is_not_comparable(fake_fashion, tmp_path):
    from zfviz.evidence import claims

    d = load_digits("fashion-mnist", root=tmp_path / "cache")
    model = small_cnn()
    ev = companion_evidence(model, d, 40, "smoke")
    acc = float((predict_small(model, d.test_x).argmax(1) == d.test_y).double().mean() * 100)
    assert ev.estimate == pytest.approx(acc - claims.COMPANION_REFERENCE) and ev.n == 20
    assert claims.decide(claims.REGISTRY["companion"], ev) == "not comparable"
    mnist = load_digits("mnist-5000")
    ev = companion_evidence(model, mnist, 40, "smoke")  # an untrained net on 40 digits: a miss that tests nothing
    assert claims.decide(claims.REGISTRY["companion"], ev) == "not testable at this scale"
