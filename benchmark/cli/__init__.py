"""The `pagebench` command line (argparse only): parse, call the library, print.

`main` is the console script's entry point (`pagebench = "benchmark.cli:main"`) and
what `python -m benchmark` runs.
"""

from benchmark.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
