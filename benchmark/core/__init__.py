"""The bottom layer: what every other layer may use, and which imports nothing of pagebench.

errors (and the one did-you-mean), the plain data types that flow between layers,
the metric vocabulary, every default and choice list, languages, device resolution
file helpers and heap trimming.
"""
