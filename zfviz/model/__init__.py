"""The networks: ZF and AlexNet replicas with their ablation variants, layer addressing, the deconvnet and torchvision
networks. Imports only ``zfviz.core``.
"""
