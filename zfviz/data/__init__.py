"""Images: Imagenette and ImageNet folders (``sets``), file listing and checksums (``files``), annotations and MNIST.
Imports ``zfviz.core`` and ``zfviz.evidence``.
"""
