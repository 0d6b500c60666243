"""The paper's own numbers for Section 5 (Tables 2-7), as printed (error or accuracy %), to show beside ours."""

from __future__ import annotations

import pandas as pd

# Table 2: ImageNet 2012 val error %, (top-1, top-5).
TABLE2 = pd.DataFrame.from_records([
    ("Krizhevsky et al., 1 convnet", 40.7, 18.2),
    ("Krizhevsky et al., 5 convnets", 38.1, 16.4),
    ("Krizhevsky replica, 1 convnet", 40.5, 18.1),
    ("1 convnet as Fig. 3 (ZF)", 38.4, 16.5),
    ("5 convnets as Fig. 3", 36.7, 15.3),
    ("Fig. 3, layers 3,4,5: 512,1024,512 maps", 37.5, 16.0),
    ("6 convnets combined", 36.0, 14.7),
], columns=["row", "top1_err", "top5_err"]).set_index("row")

# Table 3: ablations, error % (train top-1, val top-1, val top-5), keyed by our variant names.
TABLE3 = pd.DataFrame.from_records([
    ("alexnet", "Krizhevsky replica", 35.1, 40.5, 18.1),
    ("alexnet-no-conv34", "removed layers 3,4", 41.8, 45.4, 22.1),
    ("alexnet-no-fc7", "removed layer 7", 27.4, 40.0, 18.4),
    ("alexnet-no-fc67", "removed layers 6,7", 27.4, 44.8, 22.4),
    ("alexnet-no-conv34-fc67", "removed layers 3,4,6,7", 71.1, 71.3, 50.1),
    ("alexnet-fc2048", "layers 6,7: 2048 units", 40.3, 41.7, 18.8),
    ("alexnet-fc8192", "layers 6,7: 8192 units", 26.8, 40.0, 18.1),
    ("zf", "ZF model (Fig. 3)", 33.1, 38.4, 16.5),
    ("zf-fc2048", "ZF, layers 6,7: 2048 units", 38.2, 40.2, 17.6),
    ("zf-fc8192", "ZF, layers 6,7: 8192 units", 22.0, 38.8, 17.0),
    ("zf-wide", "ZF, layers 3,4,5: 512,1024,512 maps", 18.8, 37.5, 16.0),
    ("zf-wide-fc8192", "ZF, layers 6,7: 8192 units and layers 3,4,5: 512,1024,512 maps", 10.0, 38.3, 16.9),
], columns=["model", "row", "train_top1_err", "val_top1_err", "val_top5_err"]).set_index("model")

# Tables 4-5: accuracy % against training images per class (pretrained = layers 1-7 fixed, new softmax).
TRANSFER = pd.DataFrame.from_records([
    ("Caltech-101", 15, 83.8, 0.5, 22.8, 1.5),
    ("Caltech-101", 30, 86.5, 0.5, 46.5, 1.7),
    ("Caltech-256", 15, 65.7, 0.2, 9.0, 1.4),
    ("Caltech-256", 30, 70.6, 0.2, 22.5, 0.7),
    ("Caltech-256", 45, 72.7, 0.4, 31.2, 0.5),
    ("Caltech-256", 60, 74.2, 0.3, 38.8, 1.4),
], columns=["dataset", "per_class", "pretrained", "pretrained_std", "scratch", "scratch_std"])

# Table 7: accuracy % of a linear SVM / softmax on layer n of the pretrained model (Cal-101 30/class, Cal-256 60/class).
TABLE7 = pd.DataFrame.from_records([
    ("svm", "conv1", 44.8, 24.6),
    ("svm", "conv2", 66.2, 39.6),
    ("svm", "conv3", 72.3, 46.0),
    ("svm", "conv4", 76.6, 51.3),
    ("svm", "conv5", 86.2, 65.6),
    ("svm", "fc7", 85.5, 71.7),
    ("softmax", "conv5", 82.9, 65.7),
    ("softmax", "fc7", 85.4, 72.6),
], columns=["classifier", "layer", "caltech101_30", "caltech256_60"])
