"""The paper's analyses: top-k mining (Fig. 2, 4), occlusion (Fig. 7), invariance (Fig. 5), correspondence (Fig. 8,
Table 1), linear probes (Tables 4-7). Functions take modules and tensors and return tensors or tidy DataFrames."""
