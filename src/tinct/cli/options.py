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


def non_negative_float(text: str) -> float:
    """argparse type: a finite number of 0 or more."""
    try:
        value = float(text) if text.strip().isascii() else float("nan")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {text!r}")
    return value


def int_range(low: int, high: int):
    """argparse type factory: a whole number from ``low`` to ``high``."""

    def whole_number_in_range(text: str) -> int:
        value = _whole_number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text!r}")
        return value

    whole_number_in_range.__name__ = f"whole number {low}..{high}"
    return whole_number_in_range


def working_size(text: str) -> int:
    """argparse type: a working resolution from 8 to 4096 pixels."""
    value = _whole_number(text)
    if not MIN_WORKING_SIZE <= value <= MAX_WORKING_SIZE:
        raise argparse.ArgumentTypeError(
            f"a working size must be from {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} pixels, "
            f"got {text!r}")
    return value


def add_model_option(p: argparse.ArgumentParser, **kwargs) -> None:
    """``-m/--model NAME_OR_FOLDER``, default None = the shipped model (``kwargs`` override)."""
    p.add_argument("-m", "--model", **{"metavar": "NAME_OR_FOLDER", "help": MODEL_HELP,
                                       **kwargs})


def add_models_option(p: argparse.ArgumentParser, what: str) -> None:
    """``-m/--model`` repeatable: several models, in order (default: the shipped model)."""
    p.add_argument("-m", "--model", action="append", metavar="NAME_OR_FOLDER",
                   help=f"{what}: installed model name or saved-model folder; repeat for "
                        "several (default: the shipped model)")


def add_input_argument(p: argparse.ArgumentParser, dest: str, metavar: str, help: str,
                       *flags: str) -> None:
    """A positional input ``METAVAR`` that the older option ``flags`` (e.g. ``-d/--data``) may
    give instead; :func:`tinct.cli.resolve_input_aliases` merges the two after parsing."""
    p.add_argument(dest, nargs="?", metavar=metavar, help=help)
    p.add_argument(*flags, dest=f"{dest}_option", metavar=metavar,
                   help=f"the same as the {metavar} argument (older spelling)")
    earlier = p.get_default("input_aliases") or []
    p.set_defaults(input_aliases=[*earlier, (dest, flags[-1])])


def add_progress_option(p: argparse.ArgumentParser, quiet_alias: bool = False) -> None:
    """``--no-progress`` (and ``-q/--quiet``, its older spelling, where ``quiet_alias``)."""
    flags = ("--no-progress", "-q", "--quiet") if quiet_alias else ("--no-progress",)
    p.add_argument(*flags, dest="no_progress", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")


def add_size_option(p: argparse.ArgumentParser, subject: str = "the image") -> None:
    """``--size PX``: the working resolution (default: the model's)."""
    p.add_argument("--size", type=working_size, metavar="PX",
                   help=f"working resolution: the network sees {subject} with its longer side "
                        f"at PX pixels, {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} (default: the "
                        "model's)")


DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d{1,2})?")


def device(text: str) -> str:
    """argparse type: ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``."""
    value = text.strip().lower()
    if not DEVICE_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"expected auto, cpu, cuda, cuda:N (a GPU number) or mps, got {text!r}")
    return value


def add_device_option(p: argparse.ArgumentParser, what: str = "the network runs") -> None:
    """``--device auto|cpu|cuda|cuda:N|mps`` (default auto)."""
    p.add_argument("--device", type=device, default="auto", metavar="DEVICE",
                   help=f"where {what}: auto (a CUDA GPU when there is one, else the CPU), "
                        "cpu, cuda, cuda:N for GPU number N, or mps (default: auto)")


def add_boost_option(p: argparse.ArgumentParser) -> None:
    """``--boost B``: decode-time rebalancing of a colour classifier (more or less colour)."""
    p.add_argument("--boost", type=non_negative_float, metavar="B",
                   help="more or less colour, for colour-classifier models such as the shipped "
                        "one: 0 = the network's own colour probabilities, higher = rare, vivid "
                        "colours weigh more (1 = as bold as class-rebalanced training; default: "
                        "the model's own setting, see 'tinct models')")


def add_flip_option(p: argparse.ArgumentParser, default: bool | None = None,
                    default_text: str = "the model's own setting") -> None:
    """``--flip`` / ``--no-flip``: flip averaging (``default`` None: the model's own setting)."""
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=default,
                   help="flip averaging: the network also sees the mirror image and the two "
                        "predictions are averaged (slightly more accurate colour, twice the "
                        f"network time; default: {default_text})")


def add_levels_option(p: argparse.ArgumentParser) -> None:
    """``--levels`` / ``--no-levels``: input levels (None: the model's own setting)."""
    p.add_argument("--levels", action=argparse.BooleanOptionalAction, default=None,
                   help="input levels: the network sees each photo's lightness stretched to "
                        "the full range (faded scans with grey blacks and dull whites get "
                        "better colour); the output keeps the photo's own lightness (default: "
                        "the model's own setting, see 'tinct models')")


def add_engine_options(p: argparse.ArgumentParser, work: str) -> argparse._ArgumentGroup:
    """``--engine local|ray``, ``--ray-address``, ``--ray-workers`` in a "large archives"
    group (returned, for verb-specific additions); ``work`` names what the workers do."""
    group = p.add_argument_group("large archives")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help=f"local: this process; ray: {work} on a Ray cluster (needs pip "
                            "install 'tinct[ray]'; inputs and outputs on a filesystem every "
                            "node sees) (default: local)")
    group.add_argument("--ray-address", metavar="ADDRESS",
                       help="the cluster for --engine ray: 'auto' (the one this machine "
                            "joined with 'ray start'), HOST:PORT or ray://HOST:PORT (default: "
                            "a local Ray started for this run)")
    group.add_argument("--ray-workers", type=positive_int, metavar="N",
                       help="workers at once for --engine ray (default: one per GPU of the "
                            "cluster, or one per CPU when it has none)")
    return group


def check_engine_options(args: argparse.Namespace) -> None:
    """Ray options without ``--engine ray``, or ``--engine ray`` without Ray installed, are a
    one-line error (before anything is read or written)."""
    from tinct.cli import CLIError

    given = [flag for flag, value in (("--ray-address", args.ray_address),
                                      ("--ray-workers", args.ray_workers),
                                      ("--ray-start-timeout",
                                       getattr(args, "ray_start_timeout", None)))
             if value is not None]
    if args.engine != "ray" and given:
        raise CLIError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} "
                       "--engine ray")
    if args.engine == "ray":
        from tinct.cluster.runtime import import_ray

        import_ray()


def colorizer_spec_from_args(args: argparse.Namespace):
    """The :class:`~tinct.inference.batch.ColorizerSpec` of ``--model``, ``--device`` and, when
    the verb has them, ``--boost``, ``--flip`` and ``--levels``. A model given as a path is
    made absolute (workers elsewhere may start in another folder)."""
    from pathlib import Path

    from tinct.inference.batch import ColorizerSpec

    model = args.model
    if model is not None and Path(model).exists():
        model = str(Path(model).resolve())
    return ColorizerSpec(model, args.device, getattr(args, "boost", None),
                         getattr(args, "flip", None), getattr(args, "levels", None))


def colorizer_from_args(args: argparse.Namespace):
    """The Colorizer of ``--model`` / ``--device``, decoding with ``--boost``, flip averaging
    with ``--flip`` and input levels with ``--levels`` when given."""
    from tinct.cli import CLIError
    from tinct.inference.pipeline import Colorizer

    spec = colorizer_spec_from_args(args)
    colorizer = Colorizer.from_pretrained(spec.model, device=spec.device)
    try:
        return spec.configure(colorizer)
    except ValueError as exc:
        raise CLIError(f"--boost: {exc}") from None
