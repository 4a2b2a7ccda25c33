"""Synthetic test clips: photos filmed by a virtual camera (hold, pan, zoom), cut between photos,
with a sine-tone audio track. No video from elsewhere is needed to test or benchmark video.

Each photo becomes one shot of ``frames_per_shot`` frames: the first third holds still, the
second pans right by 10% of the photo's width, the last zooms in to 80% of the view. Shots
follow each other with hard cuts, so with ``n`` photos the cuts are at frame indices
``frames_per_shot * k`` for k = 1..n-1.

Command line: ``python -m tinct.video.testclips OUT_FOLDER`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.video.sinks import temporary_sibling
from tinct.video.sources import import_av

TONE_HZ = 440.0
SAMPLE_RATE = 48_000
PAN_SHARE = 0.10  # of the photo's width, over the pan third of a shot
ZOOM_END = 0.80  # the view shrinks to this share over the zoom third
VIEW_SHARE = 0.80  # the held view covers this share of the photo (room to pan)


@dataclass
class ClipSpec:
    """What a generated clip contains: size, rate, frame count and the cut frame indices."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int
    cuts: list[int]
    audio: bool


def skimage_photos() -> list[np.ndarray]:
    """Colour photos bundled with scikit-image, ``(H, W, 3)`` uint8."""
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]


def camera_path(n: int) -> Iterator[tuple[float, float]]:
    """``(pan, zoom)`` per frame: pan in [0, PAN_SHARE] (of the photo width), zoom in
    [ZOOM_END, 1] (share of the held view)."""
    hold = n // 3
    pan = n // 3
    zoom = n - hold - pan
    for i in range(n):
        if i < hold:
            yield 0.0, 1.0
        elif i < hold + pan:
            yield PAN_SHARE * (i - hold + 1) / pan, 1.0
        else:
            t = (i - hold - pan + 1) / zoom
            yield PAN_SHARE, 1.0 - (1.0 - ZOOM_END) * t


def shot_frames(photo: np.ndarray, width: int, height: int, n: int) -> Iterator[np.ndarray]:
    """``n`` frames ``(height, width, 3)`` uint8 of ``photo`` along :func:`camera_path`.

    The photo is first shrunk (with antialiasing) so that the held view maps about 1:1 to the
    frame; the camera then samples it bicubically at sub-pixel positions.
    """
    image = Image.fromarray(np.ascontiguousarray(photo[..., :3]))
    pw, ph = image.size
    aspect = width / height
    view_w = min(pw * VIEW_SHARE, ph * VIEW_SHARE * aspect)
    scale = min(1.0, width / view_w)
    if scale < 1.0:
        image = image.resize((max(1, round(pw * scale)), max(1, round(ph * scale))),
                             Image.Resampling.LANCZOS)
        pw, ph = image.size
        view_w *= scale
    view_h = view_w / aspect
    left0 = (pw - view_w) / 2 - PAN_SHARE * pw / 2
    top0 = (ph - view_h) / 2
    for pan, zoom in camera_path(n):
        cx = left0 + view_w / 2 + pan * pw
        cy = top0 + view_h / 2
        w, h = view_w * zoom, view_h * zoom
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        frame = image.transform((width, height), Image.Transform.EXTENT, box,
                                resample=Image.Resampling.BICUBIC)
        yield np.asarray(frame)


def clip_frames(photos: Sequence[np.ndarray], width: int, height: int,
                frames_per_shot: int) -> Iterator[np.ndarray]:
    """All frames of a clip: one shot per photo, hard cuts between them."""
    for photo in photos:
        yield from shot_frames(photo, width, height, frames_per_shot)


def make_clip(path: str | os.PathLike, photos: Sequence[np.ndarray], width: int = 64,
              height: int = 48, frames_per_shot: int = 12, fps: int | Fraction = 12,
              audio: bool = True, crf: int = 0, rotation: int = 0,
              title: str = "tinct test clip") -> ClipSpec:
    """Writes a clip (H.264 yuv420p, AAC sine tone when ``audio``) and returns its spec.

    ``crf`` 0 (the default) is lossless, so the clip's decoded frames are the same on every
    run: the 4:2:0 conversion of the rendered frames. Lossy x264 output (crf above 0) is not
    reproducible with this build: ten encodes of the same frames at crf 10 decoded to ten
    different clips (docs/architecture.md, session 49), which moved a film benchmark's
    per-clip PSNR by up to 0.11 dB between runs.

    ``rotation``: display rotation stored in the file (degrees counter-clockwise). The file
    is written to a temporary sibling and renamed, and has container tag ``title``.
    """
    if width % 2 or height % 2 or min(width, height) < 16:
        raise ValueError(f"clip size must be even and at least 16x16, got {width}x{height}")
    av = import_av()
    path = Path(path)
    rate = Fraction(fps)
    temp = temporary_sibling(path)
    try:
        with av.open(os.fspath(temp), "w") as container:
            container.metadata["title"] = title
            video = container.add_stream("libx264", rate=rate)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"crf": str(crf), "preset": "medium"}
            if rotation:
                video.set_display_rotation(rotation)
            tone = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
            count = 0
            for count, rgb in enumerate(clip_frames(photos, width, height, frames_per_shot), 1):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = count - 1
                frame.time_base = 1 / rate
                container.mux(video.encode(frame))
                if tone is not None:
                    container.mux(tone.encode(_tone_frame(av, count - 1, count, rate)))
            container.mux(video.encode(None))
            if tone is not None:
                container.mux(tone.encode(None))
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    cuts = [frames_per_shot * k for k in range(1, len(photos))]
    return ClipSpec(path, width, height, rate, count, cuts, audio)


def tone_samples(start: int, stop: int) -> np.ndarray:
    """Samples ``start..stop-1`` of the 440 Hz test tone, float32 in [-0.2, 0.2]."""
    t = np.arange(start, stop, dtype=np.float64) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def _tone_frame(av, first_frame: int, end_frame: int, fps: Fraction):
    """The audio that plays during video frames ``first_frame..end_frame-1``."""
    start = round(first_frame * SAMPLE_RATE / fps)
    stop = round(end_frame * SAMPLE_RATE / fps)
    frame = av.AudioFrame.from_ndarray(tone_samples(start, stop)[None], format="fltp",
                                       layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = start
    frame.time_base = Fraction(1, SAMPLE_RATE)
    return frame


def folder_photos(folder: str | os.PathLike, limit: int | None = None) -> list[np.ndarray]:
    """Colour photos of a folder (recursive, sorted), at most ``limit``."""
    from tinct.imageio import list_images, read_image, to_uint

    paths = list_images(folder)[:limit]
    return [to_uint(read_image(p).to_float()) for p in paths]


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"size must be even and at least 16x16, got {text!r}")
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_test_clips",
        description="Generate test clips (photos + synthetic pan/zoom + cuts + sine audio).")
    parser.add_argument("out", type=Path, help="folder for the clips")
    parser.add_argument("--size", type=_size, default=(320, 240),
                        help="frame size WxH (default 320x240)")
    parser.add_argument("--frames-per-shot", type=int, default=24,
                        help="frames per photo; a cut follows each shot (default 24)")
    parser.add_argument("--fps", type=int, default=24, help="frame rate (default 24)")
    parser.add_argument("--photos", default="skimage",
                        help="'skimage' (bundled photos) or a folder of photos (default skimage)")
    parser.add_argument("--photos-per-clip", type=int, default=2,
                        help="shots per clip, i.e. cuts + 1 (default 2)")
    parser.add_argument("--max-clips", type=int, default=None, help="stop after this many clips")
    args = parser.parse_args(argv)
    photos = skimage_photos() if args.photos == "skimage" else folder_photos(args.photos)
    groups = [photos[i:i + args.photos_per_clip]
              for i in range(0, len(photos) - args.photos_per_clip + 1, args.photos_per_clip)]
    for index, group in enumerate(groups[:args.max_clips]):
        spec = make_clip(args.out / f"clip_{index:03d}.mp4", group, *args.size,
                         frames_per_shot=args.frames_per_shot, fps=args.fps)
        print(f"{spec.path}: {spec.frames} frames, cuts at {spec.cuts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
