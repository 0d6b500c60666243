"""The scales zfviz runs at, defined in one place. Every CLI command and notebook takes ``profile`` by name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Sizes for one scale of the reproduction; the code path is the same for all of them."""

    name: str
    width: float  # channel multiplier for every conv and fc layer (1.0 = paper)
    input_size: int  # training/eval crop (224 = paper)
    resize: int  # shorter side resized to this, then centre-cropped square (256 = paper)
    epochs: int  # training budget (paper: 70)
    ablation_epochs: int  # budget of each Table 2/3 row, so a dozen architectures fit the machine
    scratch_steps: int  # SGD steps of a network trained from scratch on a few images per class (Tables 4-6)
    batch_size: int  # global mini-batch (paper: 128)
    train_per_class: int | None  # cap on training images per class (None = all)
    val_per_class: int | None  # cap on validation images per class (None = all)
    plateau_patience: int  # epochs without val-top-1 improvement before lr /= 10
    description: str

    def replace(self, **changes: object) -> "Profile":
        """A copy of this profile with some fields changed (validated like the original)."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        width=0.125,
        input_size=64,
        resize=73,
        epochs=2,
        ablation_epochs=2,
        scratch_steps=4,
        batch_size=32,
        train_per_class=12,
        val_per_class=6,
        plateau_patience=1,
        description="CI: every notebook on a tiny subset in minutes on 2 CPU cores; numbers are meaningless.",
    ),
    "cpu": Profile(
        name="cpu",
        width=0.5,
        input_size=112,
        resize=128,
        epochs=30,
        ablation_epochs=10,
        scratch_steps=400,
        batch_size=128,
        train_per_class=None,
        val_per_class=None,
        plateau_patience=2,
        description="A laptop: half width, 112 px input, full Imagenette, about an hour of training on 2 cores.",
    ),
    "gpu": Profile(
        name="gpu",
        width=1.0,
        input_size=224,
        resize=256,
        epochs=70,
        ablation_epochs=30,
        scratch_steps=2000,
        batch_size=128,
        train_per_class=None,
        val_per_class=None,
        plateau_patience=5,
        description="Paper geometry (224 input, full width) on one H100/H200.",
    ),
    "imagenet": Profile(
        name="imagenet",
        width=1.0,
        input_size=224,
        resize=256,
        epochs=70,
        ablation_epochs=70,
        scratch_steps=2000,
        batch_size=128,
        train_per_class=None,
        val_per_class=None,
        plateau_patience=5,
        description="Full ImageNet-1k folder on several GPUs with torchrun (DDP); the paper's setting.",
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """Look up a profile by name; a clear error lists the valid names."""
    if isinstance(name, Profile):
        return name
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]
