"""``tinct <verb>``: argparse front end. Each verb lives in its own module of this package.

A verb module exposes ``add_parser(subparsers)`` (which sets ``func`` on its parser) and keeps
its heavy imports inside the function it runs, so ``tinct --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tinct import __version__
from tinct.errors import TinctError

# verb modules, in the order --help lists them
VERB_MODULES = ("colorize", "models", "train", "eval", "compare", "tune", "video", "eval_video",
                "serve", "turing", "export")


class CLIError(TinctError):
    """A bad command line found after parsing: reported in one line with exit status 2."""


class OneLineErrorParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (``tinct VERB: error: ...``, exit status 2)
    instead of the usage block followed by the error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="tinct",
        description="Colorize black-and-white photographs and films with deep networks.",
    )
    parser.add_argument("--version", action="version", version=f"tinct {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def resolve_input_aliases(args: argparse.Namespace) -> None:
    """Merges each verb's positional input with its older option spelling (``eval -d DIR`` and
    ``eval DIR``): exactly one of the two must be given."""
    for dest, flag in getattr(args, "input_aliases", ()):
        positional, option = getattr(args, dest), getattr(args, f"{dest}_option")
        if positional is not None and option is not None:
            raise CLIError(f"give {dest.upper()} once: as the argument or with {flag}, not both")
        if positional is None and option is None:
            raise CLIError(f"the {dest.upper()} argument is required")
        setattr(args, dest, positional if positional is not None else option)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "allow_overrides", False):
        args.overrides = extra  # --section.key=value config overrides
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        resolve_input_aliases(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tinct: interrupted", file=sys.stderr)
        return 130
    except TinctError as exc:  # tinct's own errors carry complete one-line messages
        print(f"tinct {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system said no (disk full, permission denied, ...)
        print(f"tinct {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    # anything else is a bug in tinct: its traceback is shown
