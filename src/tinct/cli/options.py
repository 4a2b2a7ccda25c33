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
