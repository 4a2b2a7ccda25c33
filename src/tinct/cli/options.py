"""Command-line options that several verbs share, worded the same everywhere."""

from __future__ import annotations

import argparse
import re

MODEL_HELP = ("installed model name, saved-model folder or exported .onnx file (default: the "
              "shipped model; see 'tinct models')")


MIN_WORKING_SIZE = 8
MAX_WORKING_SIZE = 4096  # the network's memory grows with the square: 4096 px is about 4 GB


def _whole_number(text: str) -> int:
    """ASCII digits (with an optional sign) as an int; '1e3' and '2.0' are accepted when whole."""
    t = text.strip()
    if t.isascii() and re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    try:
        value = float(t) if t.isascii() else float("nan")
    except ValueError:
        value = float("nan")
    if value == value and value not in (float("inf"), float("-inf")) and value == int(value):
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of 0 or more."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    try:
        value = float(text) if text.strip().isascii() else float("nan")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def working_size(text: str) -> int:
    """argparse type: a working resolution from 8 to 4096 pixels."""
    value = _whole_number(text)
    if not MIN_WORKING_SIZE <= value <= MAX_WORKING_SIZE:
        raise argparse.ArgumentTypeError(
            f"a working size must be from {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} pixels, "
            f"got {text!r}")
    return value


def add_model_option(p: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """``--model NAME_OR_FOLDER`` (extra ``flags`` such as ``-m``; ``kwargs`` override)."""
    p.add_argument("--model", *flags, **{"metavar": "NAME_OR_FOLDER", "help": MODEL_HELP,
                                         **kwargs})


def add_size_option(p: argparse.ArgumentParser, subject: str = "the image") -> None:
    """``--size PX``: the working resolution (default: the model's)."""
    p.add_argument("--size", type=working_size, metavar="PX",
                   help=f"working resolution: the network sees {subject} with its longer side "
                        f"at PX pixels, {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} (default: the "
                        "model's)")


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device {auto,cpu,cuda}``."""
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the network runs (default: auto = CUDA when available)")


def add_boost_option(p: argparse.ArgumentParser) -> None:
    """``--boost B``: decode-time rebalancing of a colour classifier (more or less colour)."""
    p.add_argument("--boost", type=float, metavar="B",
                   help="more or less colour, for colour-classifier models such as the shipped "
                        "one: 0 = the network's own colour probabilities, higher = rare, vivid "
                        "colours weigh more (1 = as bold as class-rebalanced training; default: "
                        "the model's own setting, see 'tinct models')")


def add_flip_option(p: argparse.ArgumentParser) -> None:
    """``--flip`` / ``--no-flip``: flip averaging (default: the model's own setting)."""
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="flip averaging: the network also sees the mirror image and the two "
                        "predictions are averaged (slightly more accurate colour, twice the "
                        "network time; default: the model's own setting)")


def colorizer_from_args(args: argparse.Namespace):
    """The Colorizer of ``--model`` / ``--device``, decoding with ``--boost`` and flip
    averaging with ``--flip`` when given."""
    from tinct.cli import CLIError
    from tinct.inference.pipeline import Colorizer

    if getattr(args, "boost", None) is not None and not args.boost >= 0:
        raise CLIError(f"--boost must be 0 or more, got {args.boost}")
    colorizer = Colorizer.from_pretrained(args.model, device=args.device)
    if getattr(args, "boost", None) is not None:
        try:
            colorizer.set_decode(boost=args.boost)
        except ValueError as exc:
            raise CLIError(f"--boost: {exc}") from None
    if getattr(args, "flip", None) is not None:
        colorizer.flip = args.flip
    return colorizer
