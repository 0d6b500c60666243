"""The names of zfviz's models and inits, importable without torch (the command line's --help needs them, fast)."""

from __future__ import annotations

INITS = ("paper", "transported", "kaiming")

# Table 3 rows (and Table 2's wide model), by name. Values are keyword overrides for ``models.make_arch``.
VARIANTS: dict[str, dict] = {
    "alexnet": dict(base="alexnet"),
    "alexnet-no-conv34": dict(base="alexnet", remove=("conv3", "conv4")),
    "alexnet-no-fc7": dict(base="alexnet", remove=("fc7",)),
    "alexnet-no-fc67": dict(base="alexnet", remove=("fc6", "fc7")),
    "alexnet-no-conv34-fc67": dict(base="alexnet", remove=("conv3", "conv4", "fc6", "fc7")),
    "alexnet-fc2048": dict(base="alexnet", fc_width=2048),
    "alexnet-fc8192": dict(base="alexnet", fc_width=8192),
    "zf": dict(base="zf"),
    "zf-fc2048": dict(base="zf", fc_width=2048),
    "zf-fc8192": dict(base="zf", fc_width=8192),
    "zf-wide": dict(base="zf", conv345=(512, 1024, 512)),
    "zf-wide-fc8192": dict(base="zf", conv345=(512, 1024, 512), fc_width=8192),
}
