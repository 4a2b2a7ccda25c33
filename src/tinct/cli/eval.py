"""``tinct eval``: measure a model (and the gray baseline) on a folder of colour photos.

The options shared with ``tinct compare`` and ``tinct tune`` and the evaluate-then-report
steps live here too (:func:`add_evaluation_options`, :func:`measure`, :func:`report`,
:func:`evaluate_and_report`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from tinct.cli import CLIError
from tinct.cli.options import (
    add_device_option,
    add_input_argument,
    add_model_option,
    add_progress_option,
    non_negative_int,
    positive_int,
    working_size,
)

DEFAULT_GALLERY = 6  # best and worst photos the report shows

DESCRIPTION = """\
Measure a colorization model the way colorization papers do. Every colour photo under --data
is reduced to its lightness, colorized at full resolution and compared with the original:
ab error (MSE, RMSE, accuracy within 2.5/5/10/20 units, AuC), PSNR, SSIM, colorfulness and
dCF, a Fréchet distance on EfficientNet-Lite2 features (not the Inception FID of papers),
semantic agreement of ImageNet top-1 classes, and seconds per photo. The gray baseline (no
colour at all) is always measured too. Gray-looking photos are skipped; unreadable files are
listed and make the exit status 1.

Writes REPORT_DIR/report.html (self-contained: open it in any browser), metrics.json and
per_image.csv."""

EPILOG = """\
examples:
  tinct eval photos/ -o report/                       (the shipped model)
  tinct eval photos/ -m runs/unet/model --also-size 512 --limit 500 -o report/
  tinct eval photos/ -m gray -o gray-report/"""


def _metric_size(text: str) -> int:
    value = non_negative_int(text)
    if value != 0 and value < 16:
        raise argparse.ArgumentTypeError(f"must be 0 (full resolution) or at least 16, got {value}")
    return value


def add_evaluation_options(p: argparse.ArgumentParser, positional_data: bool = True) -> None:
    """Options of every evaluating verb: data, output, limits, ranking, batching, device.
    ``positional_data``: DATA is the verb's argument (``-d`` still accepted); ``compare``, whose
    arguments are its models, takes it with ``-d`` only."""
    from tinct.evaluation.metric_info import DEFAULT_METRIC_SIZE, RANKABLE

    if positional_data:
        add_input_argument(p, "data", "DATA", "folder of colour photos (searched recursively), "
                           "or one photo", "-d", "--data")
    else:
        p.add_argument("-d", "--data", required=True, metavar="DATA",
                       help="folder of colour photos (searched recursively), or one photo")
    p.add_argument("--output", "-o", required=True, metavar="REPORT_DIR",
                   help="folder for report.html, metrics.json and per_image.csv (created; "
                        "existing report files in it are replaced)")
    p.add_argument("--size", type=working_size, metavar="S",
                   help="working size (longer side, px) the network runs at; default: the "
                        "size each model was saved with")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate only the first N image files (sorted by path)")
    p.add_argument("--rank-by", choices=RANKABLE, metavar="METRIC",
                   help=f"metric that picks the best and worst photos the report shows "
                        f"(default psnr; one of {', '.join(RANKABLE)})")
    p.add_argument("--gallery", type=non_negative_int, metavar="N",
                   help=f"how many best and worst photos the report shows (default "
                        f"{DEFAULT_GALLERY})")
    p.add_argument("--metric-size", type=_metric_size, default=DEFAULT_METRIC_SIZE,
                   metavar="PX",
                   help=f"compare on copies whose longer side is at most PX pixels (default "
                        f"{DEFAULT_METRIC_SIZE}: fast, flat memory); 0 = full resolution")
    p.add_argument("--no-report", action="store_true",
                   help="write metrics.json and per_image.csv only, no report.html (its charts "
                        "and galleries cost about a quarter of a decode sweep's time)")
    p.add_argument("--no-features", action="store_true",
                   help="skip the EfficientNet-Lite2 metrics (Fréchet distance, semantic "
                        "agreement), which take most of the time on a CPU")
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                   help="photos read and colorized together (default 8)")
    p.add_argument("--workers", type=non_negative_int, default=2, metavar="N",
                   help="processes that read and decode photos (default 2; 0 = none)")
    add_device_option(p, "the networks run")
    add_progress_option(p, quiet_alias=True)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="measure a model on a folder of colour photos; HTML report",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_option(p, help="installed model name, saved-model folder, or 'gray' for the "
                             "no-colour baseline alone (default: the shipped model)")
    p.add_argument("--also-size", type=working_size, metavar="S2",
                   help="also measure the same model at this working size")
    add_evaluation_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinct.evaluation.evaluate import EvalEntry, GrayBaseline, load_entry

    device = None if args.device == "auto" else args.device
    if args.model == GrayBaseline.name:
        if args.also_size:
            raise CLIError("--also-size needs a model; the gray baseline has no working size")
        entries = [load_entry(GrayBaseline.name)]
    else:
        main = load_entry(args.model, device=device, size=args.size)
        entries = [main]
        if args.also_size:
            info = {**main.info, "working_size": args.also_size}
            entries.append(EvalEntry(f"{main.label} @ {args.also_size} px", main.model,
                                     args.also_size, info))
        entries.append(load_entry(GrayBaseline.name))
    return evaluate_and_report(entries, args, kind="eval")


def _gallery_choice(args: argparse.Namespace) -> tuple[int, str]:
    """(gallery size, ranking metric) of the report; --gallery and --rank-by only shape the
    report's galleries, so asking for them with --no-report is a mistake worth saying."""
    if args.no_report:
        asked = [name for name, value in (("--gallery", args.gallery),
                                          ("--rank-by", args.rank_by)) if value is not None]
        if asked:
            raise CLIError(f"{' and '.join(asked)} choose the report's gallery, and "
                           f"--no-report writes no report; drop one of them")
        return 0, "psnr"
    return (DEFAULT_GALLERY if args.gallery is None else args.gallery,
            args.rank_by or "psnr")


def evaluate_and_report(entries, args: argparse.Namespace, kind: str) -> int:
    """Runs the evaluation, writes the report, prints a summary; 1 if any file was unreadable
    (:func:`measure`, then :func:`report`)."""
    return report(measure(entries, args), args, kind)


def measure(entries, args: argparse.Namespace, features: bool | None = None) -> list:
    """One ``EvalResult`` per entry, in order, measured on ``args.data`` with the evaluation
    options of ``args``; ``features`` overrides ``--no-features`` (None: as the user asked).
    Refuses an ``--output`` that is a file before any photo is read."""
    from tinct.evaluation.evaluate import evaluate_many

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise CLIError(f"{output}: exists and is not a folder")
    gallery_size, rank_by = _gallery_choice(args)
    return evaluate_many(
        entries, args.data, metric_size=args.metric_size or None, batch_size=args.batch_size,
        workers=args.workers, limit=args.limit, rank_by=rank_by,
        gallery_size=gallery_size,
        features=not args.no_features if features is None else features,
        device=None if args.device == "auto" else args.device, progress=not args.no_progress)


def report(results, args: argparse.Namespace, kind: str) -> int:
    """Writes ``results``' report to ``args.output`` and prints their summary and any
    unreadable files; 1 if any file was unreadable, else 0."""
    from tinct.evaluation.report import write_report

    output = Path(args.output)
    paths = write_report(results, output, kind=kind, command=_command_line(),
                         html=not args.no_report)
    print(summary_text(results))
    first = results[0]
    skipped = len(first.gray_skipped)
    note = f"; {skipped} gray-looking photo(s) skipped" if skipped else ""
    print(f"\n{first.n_images} photo(s) evaluated{note}. "
          f"Report: {paths.get('html', paths['json'])}")
    if first.features_note and not args.no_features:
        print(f"note: {first.features_note}", file=sys.stderr)
    if first.failed:
        print(f"tinct {kind}: {len(first.failed)} file(s) could not be read:", file=sys.stderr)
        for name, error in first.failed[:10]:
            print(f"  {name}: {error}", file=sys.stderr)
        if len(first.failed) > 10:
            print(f"  ... and {len(first.failed) - 10} more (see {paths['json']})",
                  file=sys.stderr)
        return 1
    return 0


SUMMARY_COLUMNS = ("psnr", "ssim", "ab_rmse", "auc", "dcf", "fd_effnet_lite2",
                   "semantic_agreement", "seconds")


def summary_text(results) -> str:
    """A plain-text table: one row per model, the headline metrics as columns."""
    from tinct.evaluation.evaluate import METRICS

    keys = [k for k in SUMMARY_COLUMNS if any(r.summary.get(k) is not None for r in results)]
    header = ["model", *[METRICS[k].label for k in keys]]
    rows = [[r.name, *[METRICS[k].format(r.summary.get(k)) for k in keys]] for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in [header, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _command_line() -> str | None:
    """The command as typed, when this process was started as ``tinct`` / ``python -m tinct``."""
    if Path(sys.argv[0]).name in ("tinct", "__main__.py"):
        return shlex.join(["tinct", *sys.argv[1:]])
    return None
