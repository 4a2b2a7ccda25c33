"""``tinct colorize INPUT... -o OUT``: colorize image files and folders into an output folder.

A folder input is searched recursively and its tree is mirrored under OUT; a file input is
written to ``OUT/<name>``. A file that cannot be read or written is reported in one line
(``path: problem``) and skipped; the rest continue and the exit status is 1 at the end. An
existing output is skipped unless ``--overwrite``; an input is never written over.

``--engine ray`` runs the same plan on a Ray cluster (:mod:`tinct.cluster.photos`) and writes
a run manifest (one JSON line per photo) that a rerun uses to skip what is done.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.cli.options import (
    add_boost_option,
    add_device_option,
    add_engine_options,
    add_flip_option,
    add_levels_option,
    add_model_option,
    add_progress_option,
    add_size_option,
    check_engine_options,
    colorizer_from_args,
    colorizer_spec_from_args,
    int_range,
    positive_float,
    positive_int,
)
from tinct.cluster.runtime import POOL_START_TIMEOUT_S
from tinct.inference.manifest import MANIFEST_NAME

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
    p.add_argument("--hints", metavar="PATH",
                   help="colours you know, as JSON: [{\"x\": 120, \"y\": 80, \"color\": "
                        "\"#2050c0\"}, ...] (x, y in pixels of the photo as displayed). A file "
                        "for one photo, or a folder of <name>.json files mirroring the inputs "
                        "(photos without one are colorized without hints). Needs a model "
                        "trained with hints")
    add_flip_option(p)
    add_levels_option(p)
    add_device_option(p)
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                   help="images read and colorized together (default: 8)")
    p.add_argument("--max-pixels", type=positive_int, metavar="N",
                   help="refuse images larger than N pixels (default: $TINCT_MAX_PIXELS or "
                        "100 million)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (default: skip them)")
    add_progress_option(p)
    scale = add_engine_options(p, "a pool of workers, one loaded model each,")
    scale.add_argument("--manifest", metavar="FILE",
                       help="run manifest: one JSON line per photo (input, output, status, "
                            f"error, seconds, node), read by a rerun to skip what is done "
                            f"(default with --engine ray: OUT/{MANIFEST_NAME}; the local "
                            "engine writes one only when asked)")
    scale.add_argument("--ray-start-timeout", type=positive_float, metavar="SECONDS",
                       help="--engine ray: how long to wait for every worker to start (each "
                            "loads the model) before work is handed out; a cluster that cannot "
                            f"start them all in time is an error (default: "
                            f"{POOL_START_TIMEOUT_S:g})")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- running


def _check_options(args) -> None:
    from tinct.cli import CLIError

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: output must be a folder, and this is a file")
    if args.hints and not Path(args.hints).exists():
        raise CLIError(f"{args.hints}: no such hint file or folder")
    check_engine_options(args)


def _check_hints(args, plan) -> None:
    """A hint file names one photo; a hint folder should match some photo."""
    from tinct.cli import CLIError

    if not args.hints or not plan.jobs:
        return
    hints = Path(args.hints)
    if hints.is_file() and len(plan.jobs) > 1:
        raise CLIError(f"--hints {hints} is one file but there are {len(plan.jobs)} photos to "
                       "colorize: give a folder of <name>.json files, one per photo")
    if hints.is_dir() and not any(job.hints for job in plan.jobs):
        raise CLIError(f"--hints {hints}: no <name>.json there for any of the "
                       f"{len(plan.jobs)} photos (e.g. {plan.jobs[0].source.stem}.json)")


def _manifest_path(args) -> Path | None:
    if args.manifest:
        return Path(args.manifest)
    return Path(args.output) / MANIFEST_NAME if args.engine == "ray" else None


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    from tqdm import tqdm

    from tinct.cli import CLIError
    from tinct.fileio import remove_stale_temp_files
    from tinct.imageio import is_same_file
    from tinct.inference.batch import RunSettings, make_plan, summary_line
    from tinct.inference.manifest import ManifestWriter, done_outputs, read_manifest

    out = Path(args.output)
    for given in args.inputs:
        if Path(given).is_dir() and out.exists() and is_same_file(given, out):
            raise CLIError(f"the output folder {out} is the input folder {given}: choose "
                           "another output folder (inputs are never overwritten)")
    manifest = _manifest_path(args)
    done = done_outputs(read_manifest(manifest)) if manifest else frozenset()
    plan, guard = make_plan(args.inputs, out, args.format, args.overwrite, done,
                            Path(args.hints) if args.hints else None)
    if not (plan.jobs or plan.skipped or plan.failures):
        raise CLIError(f"no image files found in {', '.join(args.inputs)}")
    _check_hints(args, plan)
    remove_stale_temp_files(out)  # left by an earlier run that was killed mid-write
    settings = RunSettings(args.size, args.batch_size, args.max_pixels, args.quality)

    def report(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    for line in plan.failures:
        report(line)
    counts = {"done": 0, "failed": 0}
    # disable=None: a bar on a terminal, none in logs and pipes
    hide = True if args.no_progress or not plan.jobs else None
    with ManifestWriter(manifest) as record, \
            tqdm(total=len(plan.jobs), unit="img", desc="colorizing", file=sys.stderr,
                 disable=hide, dynamic_ncols=True) as bar:

        def on_outcome(outcome) -> None:
            counts[outcome.status] += 1
            record.write(outcome)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], refresh=False)

        if args.engine == "ray":
            _run_on_ray(args, plan, settings, on_outcome, report, bar)
        else:
            _run_here(args, plan, guard, settings, on_outcome, report, bar)
    failed = counts["failed"] + len(plan.failures)
    print(summary_line(counts["done"], failed, len(plan.skipped), out))
    if manifest and failed:
        print(f"failures are listed in {manifest} (status \"failed\")")
    return 1 if failed else 0


def _run_here(args, plan, guard, settings, on_outcome, report, bar) -> None:
    from tinct.inference.batch import Runner

    colorizer = colorizer_from_args(args)
    runner = Runner(colorizer, guard, settings, report=report, progress=bar,
                    on_outcome=on_outcome)
    runner.run(plan.jobs)


def _run_on_ray(args, plan, settings, on_outcome, report, bar) -> None:
    from tinct.cluster.photos import colorize_photos_on_ray

    spec = colorizer_spec_from_args(args)

    def on_ray_outcome(outcome) -> None:
        if outcome.status == "failed":
            report(outcome.error)
        on_outcome(outcome)

    colorize_photos_on_ray(plan.jobs, spec, settings, address=args.ray_address,
                           workers=args.ray_workers, on_outcome=on_ray_outcome, progress=bar,
                           start_timeout_s=args.ray_start_timeout or POOL_START_TIMEOUT_S)
