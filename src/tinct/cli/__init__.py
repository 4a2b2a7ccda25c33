"""``tinct <verb>``: argparse front end. Each verb lives in its own module of this package.

A verb module exposes ``add_parser(subparsers)`` (which sets ``func`` on its parser) and keeps
its heavy imports inside the function it runs, so ``tinct --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tinct import __version__

# verb modules, in the order --help lists them
VERB_MODULES = ("colorize", "models", "train", "eval", "compare", "tune", "video", "eval_video",
                "serve", "turing", "export")


class CLIError(Exception):
    """An error to report in one line (no traceback) with exit status 2."""


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
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # verb not built yet
            raise
        module.add_parser(sub)
    return parser


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
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tinct: interrupted", file=sys.stderr)
        return 130
    except CLIError as exc:
        print(f"tinct {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError) as exc:  # library errors carry one-line messages
        print(f"tinct {args.verb}: error: {exc}", file=sys.stderr)
        return 2
