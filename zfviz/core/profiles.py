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
    epochs: int  # training budget of the models Section 4 and Table 2 rest on (paper: 70)
    ablation_epochs: int  # budget of each Table 3 row (the main budget wherever the machine affords it)
    scratch_steps: int  # SGD steps of a network trained from scratch on a few images per class (Tables 4-6)
    batch_size: int  # global mini-batch (paper: 128)
    train_per_class: int | None  # cap on training images per class (None = all)
    val_per_class: int | None  # cap on validation images per class (None = all)
    dataset: str  # what the profile trains on: a known name (imagenette, imagenet) or an ImageFolder root
    init: str  # weight init (models.INITS): "transported" keeps the paper's per-layer signal gain at this geometry
    anneal_at: tuple[float, ...]  # lr /= 10 after these fractions of any epoch budget (the paper annealed by hand)
    description: str
    decisive: bool = True  # False: a profile that checks the code runs; its numbers decide nothing
    fig4_models: tuple[str, ...] = ("zf",)  # models whose runs keep Fig. 4's snapshot epochs (others: the last only)
    keep_checkpoint: bool = True  # keep a finished run's resumable checkpoint (it repairs a damaged final snapshot)
    # The arithmetic of the training step (``PRECISIONS``). fp32 wherever the published realization may be trained on
    # a CPU: bf16 is fast only where the hardware has it (AMX, AVX-512 BF16) and rounds differently, so a CPU book in
    # bf16 would depend on which processor trained it. The GPU profiles train under bf16 autocast (fp32 master
    # weights and SGD state), the precision tensor cores are built for and the one ``plan`` assumes.
    precision: str = "fp32"

    def scale(self) -> str:
        """The scale a result comes from, in one line (for a chapter's verdict box)."""
        data = {"imagenette": "Imagenette (10 classes)",
                "imagenet": "ImageNet-1k"}.get(self.dataset, self.dataset)
        caps = "" if self.train_per_class is None else f", {self.train_per_class} training images per class"
        return (f"profile `{self.name}`: width {self.width:g} of the paper's, {self.input_size} px crops of "
                f"{self.resize} px images, {data}{caps}, {self.epochs} epochs, `{self.init}` init")

    def geometry(self) -> dict:
        """What shapes a model and its data: part of every run's identity, so editing it never reuses old runs."""
        return {k: getattr(self, k) for k in ("width", "input_size", "resize", "train_per_class", "val_per_class")}

    def replace(self, **changes: object) -> "Profile":
        """A copy of this profile with some fields changed."""
        return dataclasses.replace(self, **changes)


PRECISIONS = ("fp32", "bf16")

# The schedule: the paper annealed "by hand when the validation error plateaus". A fixed rule that fits any budget
# stands in for the hand: lr / 10 after 60% and again after 85% of the epochs, so every run (a 20-epoch model, a
# few-shot run of hundreds of epochs) ends annealed twice; the training chapter checks per seed that validation is flat
# at the end.
ANNEAL_AT = (0.6, 0.85)

_CPU = Profile(
    name="cpu",
    width=0.5,
    input_size=112,
    resize=128,
    epochs=20,
    ablation_epochs=20,  # Table 3's rows train like Table 2's models, so the two tables compare alike
    scratch_steps=400,
    batch_size=128,
    train_per_class=None,
    val_per_class=None,
    dataset="imagenette",
    init="transported",
    anneal_at=ANNEAL_AT,
    description="A laptop: half width, 112 px crops, full Imagenette; 23-40 min per ZF model on 2 cores (measured).",
)
_GPU = _CPU.replace(
    name="gpu",
    width=1.0,
    input_size=224,
    resize=256,
    epochs=30,
    ablation_epochs=30,
    scratch_steps=2000,
    init="paper",
    precision="bf16",
    keep_checkpoint=False,  # a finished run's checkpoint is twice its snapshot: the gpu book fits a 64 GiB disk
    description="Paper geometry (224 px crops of 256 px, full width) on Imagenette, one H100/H200.",
)

PROFILES: dict[str, Profile] = {
    "smoke": _CPU.replace(
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
        description="CI: every notebook on a tiny subset in minutes on 2 CPU cores; numbers are meaningless.",
        decisive=False,
    ),
    "cpu": _CPU,
    "gpu": _GPU,
    "paper-smoke": _GPU.replace(
        name="paper-smoke",
        epochs=2,
        ablation_epochs=2,
        scratch_steps=4,
        batch_size=8,
        precision="fp32",  # paper geometry proven on a CPU, which need not have bf16
        train_per_class=2,
        val_per_class=2,
        description="The gpu profile's geometry and init (full width, 224 px crops of 256 px, the paper's init) on 2 "
                    "images per class: proves on a CPU that every chapter runs at paper geometry; numbers are "
                    "meaningless.",
        decisive=False,
    ),
    "imagenet": _GPU.replace(
        name="imagenet",
        dataset="imagenet",
        epochs=70,
        ablation_epochs=70,
        description="Your ImageNet-1k folder on several GPUs with torchrun (DDP); the paper's setting.",
    ),
}


PAPER_CROP = 224  # the paper's crop: the lengths it gives in pixels (occluders, masks, shifts) are of this crop


def at_crop(px_at_224: float, crop: int) -> float:
    """A length the paper gives in pixels of its 224 px crop, at a ``crop`` px crop (unrounded: a translation).

    >>> at_crop(48, 112)
    24.0
    """
    return px_at_224 * (crop / PAPER_CROP)


def px_at_crop(px_at_224: float, crop: int) -> int:
    """``at_crop`` as a whole number of pixels, at least 1 (a square's side).

    >>> px_at_crop(48, 64), px_at_crop(1, 64)
    (14, 1)
    """
    return max(1, round(px_at_224 * crop / PAPER_CROP))  # the product first: exact for integer lengths


def get_profile(name: str | Profile) -> Profile:
    """Look up a profile by name; a clear error lists the valid names."""
    if isinstance(name, Profile):
        return name
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def anneal_epochs(epochs: int, fractions: tuple[float, ...] = ANNEAL_AT) -> list[int]:
    """The epochs after which the lr is divided by 10 for a budget of ``epochs`` (each at least epoch 1)."""
    return [max(1, round(f * epochs)) for f in fractions]
