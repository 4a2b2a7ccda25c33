"""Command-line options that several verbs share, worded the same everywhere."""

from __future__ import annotations

import argparse

MODEL_HELP = ("installed model name, saved-model folder or exported .onnx file (default: the "
              "shipped model; see 'tinct models')")


def add_model_option(p: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """``--model NAME_OR_FOLDER`` (extra ``flags`` such as ``-m``; ``kwargs`` override)."""
    p.add_argument("--model", *flags, **{"metavar": "NAME_OR_FOLDER", "help": MODEL_HELP,
                                         **kwargs})


def add_size_option(p: argparse.ArgumentParser, subject: str = "the image") -> None:
    """``--size PX``: the working resolution (default: the model's)."""
    p.add_argument("--size", type=int, metavar="PX",
                   help=f"working resolution: the network sees {subject} with its longer side "
                        "at PX pixels (default: the model's)")


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
    from ..pipeline import Colorizer
    from . import CLIError

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
