"""argparse pieces both command-line modules share (cli.py and gate_cli.py): the parser that
reports a usage mistake as one line with exit 2, and the count type. Its own module so that
neither command-line module imports the other's internals (cli.py registers gate_cli's commands;
gate_cli imports nothing from cli.py)."""
from __future__ import annotations

import argparse

from nscharacterize.core.exitcodes import EXIT_USAGE


class Parser(argparse.ArgumentParser):
    """argparse with a usage mistake reported as one line and exit 2, like every other input error
    (subcommand parsers inherit the class)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"nscharacterize: error: {message}; see `{self.prog} --help`\n")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def samples(text: str) -> int:
    """A sample count from the command line, bounded as the config's ``samples`` is."""
    from nscharacterize.config import MAX_SAMPLES

    value = positive(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SAMPLES:,}, got {value:,}")
    return value
