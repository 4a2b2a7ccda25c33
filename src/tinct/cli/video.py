"""``tinct video IN -o OUT``: colorize a film (video file or frame folder) with steady colours.

Frames are decoded with PyAV, colorized in batches by the same Colorizer as photos, stabilized
over time (chroma propagated along optical flow, reset at scene cuts; ``--temporal none``
switches it off) and encoded (H.264 by default). Frame rate, size, duration, rotation, metadata
and audio are kept. The output appears only when complete: it is written to a hidden temporary
file beside OUT and renamed at the end, and removed if the run fails or is interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from tinct.cli import CLIError
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
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --size, --batch-size, --device: shared by ``video`` and ``eval-video``."""
    add_model_option(p)
    add_size_option(p, "each frame")
    add_boost_option(p)
    add_flip_option(p, default=True, default_text="on for film: with key frames the network "
                    "runs on few frames, so the mirror image costs little; chosen on clips of "
                    "held-out photos, where it is slightly closer to the truth (it varies by "
                    "footage; see docs/architecture.md)")
    add_levels_option(p)
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                   help="frames colorized together; also the most frames held in memory "
                        "(default: 8)")
    add_device_option(p)
    p.add_argument("--fps", type=positive_float, metavar="RATE",
                   help="frame rate of a frame-folder input (default: 24); videos keep theirs")
    add_progress_option(p)


def add_temporal_arguments(p: argparse.ArgumentParser, choices: tuple[str, ...],
                           default: str) -> None:
    """The temporal-consistency options."""
    from tinct.video.temporal import FLOW_PRESETS, TemporalSettings

    d = TemporalSettings()
    p.add_argument("--temporal", choices=choices, default=default,
                   help="temporal consistency: 'keyframes' runs the network on key frames "
                        "only and carries the colours along the motion in between (fastest, "
                        "steadiest), 'flow' runs it on every frame and propagates colours "
                        "along the motion (less flicker), 'none' colorizes frame by frame "
                        f"(default: {default})")
    p.add_argument("--key-interval", type=positive_int, default=d.key_interval, metavar="N",
                   help="--temporal keyframes: the network runs at least every N frames, and "
                        "also at scene cuts and where the motion does not explain the frame "
                        f"(default: {d.key_interval})")
    p.add_argument("--temporal-strength", type=non_negative_float, default=d.strength,
                   metavar="W",
                   help="weight of the propagated colour where the motion is reliable, in "
                        f"[0, 1): higher = steadier but slower to follow changes "
                        f"(default: {d.strength})")
    p.add_argument("--occlusion-sigma", type=positive_float, default=d.occlusion_sigma,
                   metavar="L",
                   help="lightness mismatch after motion compensation (L* units) at which the "
                        "propagated colour loses most of its weight; smaller = more cautious "
                        f"at occlusions (default: {d.occlusion_sigma})")
    p.add_argument("--cut-threshold", type=positive_float, default=d.cut_threshold,
                   metavar="L",
                   help="mean lightness change of a 16x16 thumbnail (L* units) above which "
                        "a frame starts a new shot, unless the motion explains the change; "
                        f"colour history is dropped at a cut (default: {d.cut_threshold})")
    p.add_argument("--flow-preset", choices=FLOW_PRESETS, default=d.flow_preset,
                   help=f"optical-flow speed/quality (default: {d.flow_preset})")


def temporal_settings(args: argparse.Namespace, method: str):
    """A TemporalSettings for ``method`` from the parsed options."""
    from tinct.video.temporal import TemporalSettings

    return TemporalSettings(method=method, strength=args.temporal_strength,
                            occlusion_sigma=args.occlusion_sigma,
                            cut_threshold=args.cut_threshold, flow_preset=args.flow_preset,
                            key_interval=args.key_interval)


def load_colorizer(args: argparse.Namespace):
    return colorizer_from_args(args)


def add_parser(sub) -> None:
    from tinct.video.sinks import EncodeSettings

    e = EncodeSettings()
    p = sub.add_parser(
        "video", help="colorize a film (video file or frame folder)",
        description="Colorize a black-and-white film. IN is a video file or a folder of frame "
                    "images (sorted by name). OUT is a video file (format from its suffix) or, "
                    "when it ends with '/' or is a folder, a folder of numbered PNGs. Frame "
                    "rate, size, duration, rotation, metadata and audio are kept (audio is "
                    "copied without re-encoding when the output format allows). OUT appears "
                    "only once complete; an interrupted run leaves nothing behind.",
        epilog="example: tinct video reel.mp4 -o reel_colour.mp4 --crf 20 --preset slow")
    p.add_argument("input", metavar="IN", help="video file or folder of frames")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output video file, or folder (ending with '/') for PNG frames")
    add_model_arguments(p)
    add_temporal_arguments(p, ("keyframes", "flow", "none"), "keyframes")
    p.add_argument("--pipeline", choices=("yuv", "rgb"), default="yuv",
                   help="'yuv': the decoder's luma plane in, colour computed at the 4:2:0 "
                        "chroma resolution, decoding, colorizing and encoding in parallel "
                        "(video file to video file with --pix-fmt yuv420p; other runs, and "
                        "--engine ray's workers, use 'rgb'); 'rgb': every frame colorized "
                        "in RGB as a photo, the exact lightness of each pixel kept before "
                        "encoding (default: yuv)")
    p.add_argument("--codec", metavar="NAME",
                   help="FFmpeg video encoder (default: libx264 when the format takes H.264, "
                        "else the format's default)")
    p.add_argument("--crf", type=non_negative_int, default=e.crf, metavar="Q",
                   help="constant rate factor: lower = better quality and bigger file; 18 is "
                        f"visually lossless with H.264 (default: {e.crf})")
    p.add_argument("--preset", default=e.preset,
                   help="x264/x265 speed preset, ultrafast ... veryslow: slower = smaller file "
                        f"(default: {e.preset})")
    p.add_argument("--pix-fmt", default=e.pix_fmt, metavar="FMT",
                   help=f"output pixel format (default: {e.pix_fmt}, which plays everywhere; "
                        "odd sizes are padded by one row/column)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file (default: refuse)")
    scale = add_engine_options(p, "parts of the film, cut at even frame counts, colorized in "
                                  "parallel and joined without re-encoding,")
    scale.add_argument("--overlap", type=non_negative_int, default=24, metavar="N",
                       help="--engine ray: frames before each part that the temporal step "
                            "sees but does not write, so colour carries across the seam "
                            "(default: 24, after which a seam leaves no trace)")
    p.set_defaults(func=run)


def check_output(output: str, overwrite: bool) -> None:
    """Refuses to replace an existing output unless ``overwrite``."""
    from tinct.video.sinks import is_folder_destination

    path = Path(output)
    if overwrite:
        return
    if is_folder_destination(output):
        if path.is_dir() and any(path.glob("frame_*.png")):
            raise CLIError(f"{output}: already holds frame_*.png files; use --overwrite to "
                           "replace them")
    elif path.exists():
        raise CLIError(f"{output}: exists; use --overwrite to replace it")


@contextlib.contextmanager
def media_errors(source: str):
    """FFmpeg errors that escape the library become one-line CLIErrors naming ``source``."""
    import av

    try:
        yield
    except av.FFmpegError as exc:
        raise CLIError(f"{source}: {' '.join(str(exc).split())}") from None


def require_video_libraries(methods: tuple[str, ...]) -> None:
    """PyAV always, OpenCV for the flow method: a missing one is a one-line CLIError."""
    from tinct.video.sources import import_av
    from tinct.video.temporal import import_cv2

    try:
        import_av()
        if {"flow", "keyframes"} & set(methods):
            import_cv2()
    except ModuleNotFoundError as exc:
        raise CLIError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from tinct.fileio import remove_stale_temp_files
    from tinct.video.colorize import colorize_video
    from tinct.video.sinks import EncodeSettings, is_folder_destination

    check_engine_options(args)
    require_video_libraries((args.temporal,))
    check_output(args.output, args.overwrite)
    # temp files (or frame folders' temp files) a killed run left beside the output
    remove_stale_temp_files(Path(args.output).parent, recursive=False)
    encode = EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset,
                            pix_fmt=args.pix_fmt)
    temporal = temporal_settings(args, args.temporal)
    if args.engine == "ray":
        if Path(args.input).is_dir() or is_folder_destination(args.output):
            raise CLIError("--engine ray colorizes a video file into a video file (not frame "
                           "folders)")
        result = _run_on_ray(args, temporal, encode)
    else:
        colorizer = load_colorizer(args)
        with media_errors(args.input):
            result = colorize_video(
                args.input, args.output, colorizer, size=args.size,
                batch_size=args.batch_size, temporal=temporal, encode=encode, fps=args.fps,
                progress=not args.no_progress, pipeline=args.pipeline)
    cuts = f"; scene cuts at frames {result.cuts}" if result.cuts else ""
    print(f"{result.path}: {result.frames} frames in {result.seconds:.1f} s "
          f"({result.fps:.1f} frames/s){cuts}", file=sys.stderr)
    return 0


def _run_on_ray(args, temporal, encode):
    from tqdm import tqdm

    from tinct.cluster.film import colorize_video_on_ray

    with media_errors(args.input), tqdm(unit="frame", desc=Path(args.input).name,
                                        disable=True if args.no_progress else None,
                                        dynamic_ncols=True) as bar:
        return colorize_video_on_ray(
            args.input, args.output, colorizer_spec_from_args(args), size=args.size,
            batch_size=args.batch_size, temporal=temporal, encode=encode,
            address=args.ray_address, workers=args.ray_workers, overlap=args.overlap,
            progress=bar)
