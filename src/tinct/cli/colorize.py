"""``tinct colorize INPUT... -o OUT``: colorize image files and folders into an output folder.

A folder input is searched recursively and its tree is mirrored under OUT; a file input is
written to ``OUT/<name>``. A file that cannot be read or written is reported in one line
(``path: problem``) and skipped; the rest continue and the exit status is 1 at the end. An
existing output is skipped unless ``--overwrite``; an input is never written over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.cli.options import (
    add_boost_option,
    add_device_option,
    add_flip_option,
    add_model_option,
    add_progress_option,
    add_size_option,
    colorizer_from_args,
    int_range,
    positive_int,
)

FORMATS = ("same", "png", "jpg", "webp", "tif")  # see tinct.inference.batch.output_suffix


def add_parser(sub) -> None:
    p = sub.add_parser(
        "colorize", help="colorize photos (files or folders)",
        description="Colorize black-and-white photos. Each INPUT is an image file or a folder "
                    "(searched recursively; its tree is mirrored under OUT). Colour photos are "
                    "treated as their lightness. The original lightness is kept exactly; only "
                    "colour is added. A file that cannot be read is reported and skipped, and "
                    "the exit status is then 1.",
        epilog="example: tinct colorize old_photos/ scan.tif -o coloured/ --format jpg")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image file or folder of images")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (created if missing)")
    p.add_argument("--format", choices=FORMATS, default="same",
                   help="output format; 'same' keeps the input's format, or PNG when that "
                        "format cannot be written (default: same)")
    p.add_argument("--quality", type=int_range(1, 100), default=95, metavar="Q",
                   help="JPEG/WebP quality, 1-100 (default: 95)")
    add_model_option(p)
    add_size_option(p, "the image")
    add_boost_option(p)
    add_flip_option(p)
    add_device_option(p)
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                   help="images read and colorized together (default: 8)")
    p.add_argument("--max-pixels", type=positive_int, metavar="N",
                   help="refuse images larger than N pixels (default: $TINCT_MAX_PIXELS or "
                        "100 million)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (default: skip them)")
    add_progress_option(p)
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- running


def _check_options(args) -> None:
    from tinct.cli import CLIError

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: output must be a folder, and this is a file")


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    from tqdm import tqdm

    from tinct.cli import CLIError
    from tinct.fileio import remove_stale_temp_files
    from tinct.imageio import is_same_file
    from tinct.inference.batch import Runner, make_plan, summary_line

    out = Path(args.output)
    for given in args.inputs:
        if Path(given).is_dir() and out.exists() and is_same_file(given, out):
            raise CLIError(f"the output folder {out} is the input folder {given}: choose "
                           "another output folder (inputs are never overwritten)")
    plan, guard = make_plan(args.inputs, out, args.format, args.overwrite)
    if not (plan.jobs or plan.skipped or plan.failures):
        raise CLIError(f"no image files found in {', '.join(args.inputs)}")
    remove_stale_temp_files(out)  # left by an earlier run that was killed mid-write
    colorizer = colorizer_from_args(args)

    def report(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    for line in plan.failures:
        report(line)
    # disable=None: a bar on a terminal, none in logs and pipes
    hide = True if args.no_progress or not plan.jobs else None
    with tqdm(total=len(plan.jobs), unit="img", desc="colorizing", file=sys.stderr,
              disable=hide, dynamic_ncols=True) as bar:
        runner = Runner(colorizer, guard, size=args.size, batch_size=args.batch_size,
                        max_pixels=args.max_pixels, quality=args.quality, report=report,
                        progress=bar)
        runner.run(plan.jobs)
    failed = runner.failed + len(plan.failures)
    print(summary_line(runner.done, failed, len(plan.skipped), out))
    return 1 if failed else 0
