"""``tinct eval-video --video CLIP``: quality and flicker of video colorization on a colour clip.

The clip is made gray, colorized frame by frame and with the temporal method (the network runs
once; both use the same predictions), and compared with the original colours: per-frame PSNR,
SSIM, ab RMSE, dCF as in ``tinct eval``, and the flicker score (mean frame-to-frame ab change
of the output minus that of the original, on pixels that are static in the original).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from tinct.cli import CLIError
from tinct.cli.options import add_input_argument, positive_float
from tinct.cli.video import (
    add_model_arguments,
    add_temporal_arguments,
    load_colorizer,
    media_errors,
    require_video_libraries,
    temporal_settings,
)

COLUMNS = (("method", "{}"), ("frames", "{}"), ("psnr", "{:.2f}"), ("ssim", "{:.4f}"),
           ("ab_rmse", "{:.2f}"), ("dcf", "{:.2f}"), ("flicker", "{:.3f}"),
           ("pred_change", "{:.3f}"), ("gt_change", "{:.3f}"), ("static_share", "{:.2f}"))


def add_parser(sub) -> None:
    from tinct.video.defaults import DEFAULT_STATIC_THRESHOLD

    p = sub.add_parser(
        "eval-video", help="measure quality and flicker of video colorization",
        description="Colorize the lightness of a colour clip and compare with its colours: "
                    "per-frame PSNR, SSIM, ab RMSE, dCF, and the flicker score (Lab units: "
                    "mean frame-to-frame ab change of the output minus that of the original, "
                    "on pixels static in the original; 0 = as steady as the original). "
                    "'--temporal both' (default) compares frame-by-frame with the temporal "
                    "method on the same network predictions.",
        epilog="example: tinct eval-video clip.mp4 -m my_model --json scores.json")
    add_input_argument(p, "video", "CLIP", "colour video file or folder of colour frames "
                       "(the ground truth)", "--video")
    add_model_arguments(p)
    add_temporal_arguments(p, ("both", "keyframes", "flow", "none"), "both")
    p.add_argument("--static-threshold", type=positive_float, default=DEFAULT_STATIC_THRESHOLD,
                   metavar="LEVELS",
                   help="a pixel is static when no RGB channel of the original changes by "
                        f"this many 0-255 levels or more (default: {DEFAULT_STATIC_THRESHOLD})")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the scores as JSON")
    p.add_argument("--per-frame", type=Path, metavar="CSV",
                   help="also write per-frame scores (one row per frame and method)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinct.video.evaluate import evaluate_video

    methods = ("none", "flow") if args.temporal == "both" else (args.temporal,)
    require_video_libraries(methods)
    colorizer = load_colorizer(args)
    with media_errors(args.video):
        scores = evaluate_video(
            colorizer, args.video, {m: temporal_settings(args, m) for m in methods},
            size=args.size, batch_size=args.batch_size, static_threshold=args.static_threshold,
            fps=args.fps, progress=not args.no_progress)
    print(format_table([s.summary() for s in scores.values()]))
    if len(scores) == 2:
        print(comparison_line(scores["none"].summary(), scores["flow"].summary()))
    report = {"video": str(args.video), "model": colorizer.name,
              "size": args.size or colorizer.working_size,
              "static_threshold": args.static_threshold,
              "methods": {name: s.summary() for name, s in scores.items()}}
    if args.json:
        write_text(args.json, json.dumps(_finite(report), indent=2) + "\n")
    if args.per_frame:
        write_per_frame(args.per_frame, scores)
    return 0


def format_table(rows: list[dict]) -> str:
    """Rows of scores -> an aligned text table with the :data:`COLUMNS`."""
    cells = [[name for name, _ in COLUMNS]]
    cells += [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
                     for r in cells)


def comparison_line(none: dict, flow: dict) -> str:
    """One line: flicker reduction and PSNR change of the temporal method."""
    if none["flicker"] > 0:
        cut = f"flicker {100 * (1 - flow['flicker'] / none['flicker']):.0f}% lower"
    else:
        cut = "no flicker above the original's to reduce"
    return f"temporal 'flow' vs frame by frame: {cut}, PSNR {flow['psnr'] - none['psnr']:+.2f} dB"


def _finite(obj):
    """NaN/inf -> None, so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def write_text(path: Path, text: str) -> None:
    """Writes ``text`` atomically (temporary sibling, then rename)."""
    from tinct.fileio import atomic_write_text

    atomic_write_text(path, text)


def write_per_frame(path: Path, scores: dict) -> None:
    """One CSV row per (method, frame)."""
    import io

    rows = [{"method": name, "frame": i, **row}
            for name, s in scores.items() for i, row in enumerate(s.per_frame)]
    if not rows:
        raise CLIError("no frames were evaluated")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
    print(f"per-frame scores: {path}", file=sys.stderr)
