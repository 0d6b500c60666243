"""zfviz: a reproducible re-creation of Zeiler & Fergus, Visualizing and Understanding Convolutional Networks."""

from .models import alexnet, build_model, zfnet
from .profiles import PROFILES, get_profile

__all__ = ["alexnet", "build_model", "zfnet", "PROFILES", "get_profile"]
try:
    from importlib.metadata import version as _version

    __version__ = _version("zfviz")  # one source: pyproject.toml
except Exception:  # running from a source tree that was never installed
    __version__ = "unknown"
