"""The search engine: the tie rule and top-k, the exact late-interaction (MaxSim) and
dot-product index with its kernels, the on-disk page store, and token pooling."""
