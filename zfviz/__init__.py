"""zfviz: a reproducible re-creation of Zeiler & Fergus, Visualizing and Understanding Convolutional Networks."""

from .models import alexnet, build_model, zfnet
from .profiles import PROFILES, get_profile

__all__ = ["alexnet", "build_model", "zfnet", "PROFILES", "get_profile"]
__version__ = "0.1.0"
