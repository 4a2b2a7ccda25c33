"""``tinct turing prepare PHOTOS_DIR -o STUDY_DIR``: build a colorization Turing-test study."""

from __future__ import annotations

import argparse
import sys

from tinct.cli.options import (
    add_device_option,
    add_models_option,
    add_progress_option,
    positive_int,
    working_size,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "turing", help="colorization Turing test (human study): prepare a study set",
        description="The colorization Turing test: visitors see one image at a time, a real "
                    "colour photo or a colorization of it, and answer 'real or colorized?'. "
                    "'prepare' builds the study set; 'tinct serve --study STUDY_DIR' runs it.")
    verbs = p.add_subparsers(dest="turing_verb", metavar="ACTION", required=True)
    prep = verbs.add_parser(
        "prepare", help="build a study set from a folder of colour photos",
        description="For each colour photo in PHOTOS_DIR (searched recursively; gray photos "
                    "are skipped), write the photo and one colorization per model, at the same "
                    "size and JPEG quality, plus manifest.json, into STUDY_DIR. Unreadable "
                    "photos are reported at the end and the exit status is then 1.",
        epilog="example: tinct turing prepare holiday_photos/ -o study/ --limit 50")
    prep.add_argument("photos", metavar="PHOTOS_DIR", help="folder of colour photos")
    prep.add_argument("-o", "--output", required=True, metavar="STUDY_DIR",
                      help="the study folder to write (created if missing)")
    add_models_option(prep, "a model to test")
    prep.add_argument("--limit", type=positive_int, metavar="N",
                      help="use the first N colour photos (sorted by path; default: all)")
    prep.add_argument("--size", type=working_size, default=512, metavar="PX",
                      help="longer side of the study images in pixels; photos are scaled "
                           "down, never up (default: 512)")
    add_device_option(prep)
    prep.add_argument("--force", action="store_true",
                      help="replace an existing study in STUDY_DIR")
    add_progress_option(prep)
    prep.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from tinct.inference.pipeline import Colorizer
    from tinct.studies.turing import prepare_study

    colorizers = [Colorizer.from_pretrained(m, device=args.device) for m in args.model or [None]]
    report = prepare_study(args.photos, args.output, colorizers, limit=args.limit,
                           size=args.size, overwrite=args.force, progress=not args.no_progress)
    print(f"tinct turing: {report.scenes} scene(s) x {len(colorizers) + 1} images written; "
          f"manifest {report.manifest}")
    for line in report.skipped:
        print(f"tinct turing: skipped {line}", file=sys.stderr)
    for line in report.failed:
        print(f"tinct turing: error: {line}", file=sys.stderr)
    if report.failed:
        print(f"tinct turing: {len(report.failed)} photo(s) could not be read", file=sys.stderr)
        return 1
    print(f"tinct turing: run the test with: tinct serve --study {args.output}")
    return 0
