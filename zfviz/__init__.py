"""zfviz: a reproducible re-creation of Zeiler & Fergus, Visualizing and Understanding Convolutional Networks.

>>> import zfviz
>>> zfviz.zfnet(10, width=0.5, input_size=112).arch.name
'zf'
"""

from zfviz.core.profiles import PROFILES, get_profile

__all__ = ["alexnet", "build_model", "zfnet", "PROFILES", "get_profile"]
try:
    from importlib.metadata import version as _version

    __version__ = _version("zfviz")  # one source: pyproject.toml
except Exception:  # running from a source tree that was never installed
    __version__ = "unknown"


def __getattr__(name: str):
    # the models import torch (seconds): only when asked for, so `python -m zfviz --help` answers at once
    if name in ("alexnet", "build_model", "zfnet"):
        from zfviz.model import models  # torch

        return getattr(models, name)
    raise AttributeError(f"module 'zfviz' has no attribute {name!r}")
