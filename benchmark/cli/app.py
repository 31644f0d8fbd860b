"""`pagebench`: the command line. Argument parsing, calls into the library, printing.

Nothing here computes: commands parse their arguments, call `benchmark.run`,
`benchmark.report` and friends, and print what they return. Library code logs
through `logging`; `configure_logging` shows it on stderr.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import benchmark
from benchmark.cli.cache import add_cache_command
from benchmark.cli.download import add_download_command
from benchmark.cli.logs import configure_logging, filter_known_warnings, other_progress_bars
from benchmark.cli.reports import add_report_commands
from benchmark.cli.run import add_run_commands
from benchmark.core.errors import PagebenchError
from benchmark.run.cluster import exit_together, launched_by_torchrun

EPILOG = """examples:
  pagebench tasks
  pagebench run --task debian-faq-en --retriever bm25-ocr
  pagebench run --suite vidore-v1 --retriever bm25-ocr
  pagebench run --task ./my-docs --retriever bm25-ocr
  pagebench profile --retriever bm25-ocr --task debian-faq-en
  pagebench leaderboard
  pagebench compare results/bm25-ocr results/dense-ocr
  pagebench check --baseline results/bm25-ocr --current runs/bm25-ocr
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return 2
    configure_logging(debug=getattr(args, "debug", False))
    filter_known_warnings()
    try:
        with _terminate_as_interrupt(), other_progress_bars(shown=not getattr(args, "no_progress", False)):
            return args.command(args)
    except PagebenchError as error:
        print(f"pagebench: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("pagebench: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("pagebench: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if _refused_by_the_system(error):
            # the machine, not pagebench, said no (a disk filled up or a folder went
            # read-only during the run, after the preflight): the user's to fix, not a bug
            print(f"pagebench: error: {error.filename}: {error.strerror}", file=sys.stderr)
            return 2
        if getattr(args, "debug", False):  # a bug: a short message unless --debug
            raise
        print(
            f"pagebench: internal error: {type(error).__name__}: {error} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _refused_by_the_system(error: Exception) -> bool:
    refusals = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EMFILE}
    return isinstance(error, OSError) and error.errno in refusals and error.filename is not None


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's time limit, `kill`, torchrun stopping its workers), unwound like
    Ctrl-C so that `finally` blocks and finalizers run (the `--index-on-disk` files go)."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return

    def terminate(_signal_number, _frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Parser(argparse.ArgumentParser):
    """argparse's parser; under torchrun a bad command line is said once (rank 0) and every
    rank exits 2 together, so torchrun stops none of them half-way."""

    def error(self, message: str):
        if not launched_by_torchrun():
            super().error(message)
        if os.environ.get("RANK") == "0":
            self.print_usage(sys.stderr)
            print(f"{self.prog}: error: {message}", file=sys.stderr)
        exit_together(2)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a sub-command's default must not undo `pagebench --debug run ...`.
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors"
    )
    parser = _Parser(
        prog="pagebench",
        description="Evaluate visual document retrievers on ViDoRe-style page retrieval tasks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"pagebench {benchmark.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_run_commands(commands, common, EPILOG)
    add_report_commands(commands, common)
    add_cache_command(commands, common)
    add_download_command(commands, common)
    return parser
