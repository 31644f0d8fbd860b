"""Instruments: wall time with the accelerator synchronised, latency percentiles, peak
memory. They measure; what is measured is decided by `benchmark.run`."""
