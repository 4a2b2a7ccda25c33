"""Colorizing a video: source -> batches of frames -> Colorizer (+ temporal step) -> sink.

:class:`FrameColorizer` is the per-batch step, shared by ``tinct video`` and ``tinct
eval-video``: lightness at full resolution, chroma predicted by the same :class:`Colorizer` at
its working resolution, optionally stabilized over time there (cheap), then merged with the
full-resolution lightness. :func:`colorize_video` streams a whole file through it with a
bounded number of frames in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tinct.errors import InputError
from tinct.inference.pipeline import Colorizer, lightness_of, working_shape
from tinct.video.sinks import EncodeSettings, open_sink
from tinct.video.sources import SourceFrame, open_source
from tinct.video.temporal import ChromaStabilizer, TemporalSettings, make_stabilizer


@dataclass
class Prediction:
    """The network's view of a batch.

    ``L``: ``(B, 1, H, W)`` float32 L* in [0, 100] at full resolution (CPU).
    ``L_small``: ``(B, h, w)`` float32 L* at the working resolution.
    ``chroma``: ``(B, 2, h, w)`` float32 predicted chroma (colour-space units) at (h, w).
    """

    L: torch.Tensor
    L_small: np.ndarray
    chroma: np.ndarray


def film_step_setup(colorizer: Colorizer, size: int | None,
                    temporal: TemporalSettings | None
                    ) -> tuple[int, ChromaStabilizer | None]:
    """The working size (``size``, else the model's; at least 8) and the temporal step
    (None for method "none") of a film's per-batch colorizing step."""
    working = size or colorizer.working_size
    if working < 8:
        raise InputError(f"working size must be at least 8 pixels, got {working}")
    return working, make_stabilizer(temporal)


def keyed_chroma(colorizer: Colorizer, size: int, stabilizer: ChromaStabilizer | None,
                 L_small: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Chroma ``(2, h, w)`` of consecutive frames from their L* ``(h, w)`` at the working
    size: the network runs (as one batch) on the key frames only, and the stabilizer carries
    the colour along the flow to the others (every frame is a key frame without one, or with
    method "flow"). Returns the chroma per frame and how many frames the network saw."""
    tracks = [stabilizer.track(x) for x in L_small] if stabilizer else None
    keys = [i for i in range(len(L_small)) if tracks is None or tracks[i].key]
    predicted: dict[int, np.ndarray] = {}
    if keys:
        batch = torch.from_numpy(np.stack([L_small[i] for i in keys]))[:, None]
        chroma = colorizer.predict_chroma(batch, size).cpu().numpy()
        predicted = dict(zip(keys, chroma, strict=True))
    if tracks is None:
        return [predicted[i] for i in range(len(L_small))], len(keys)
    return [stabilizer.apply(t, predicted.get(i)) for i, t in enumerate(tracks)], len(keys)


class FrameColorizer:
    """Colorizes consecutive batches of frames; ``temporal`` state carries across batches.
    Called on frames, the network runs on key frames only (:func:`keyed_chroma`);
    :meth:`predict` runs it on every frame (for comparing temporal methods)."""

    def __init__(self, colorizer: Colorizer, size: int | None = None,
                 temporal: TemporalSettings | None = None):
        self.colorizer = colorizer
        self.size, self.stabilizer = film_step_setup(colorizer, size, temporal)
        self.network_frames = 0  # frames that went through the network when called

    def lightness(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` ``(B, H, W, 3)`` uint8 sRGB (colour or gray) -> L* ``(B, 1, H, W)`` at
        full resolution and ``(B, 1, h, w)`` at the working size, float32 in [0, 100]."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InputError(f"frames must be (B, H, W, 3) uint8, got {frames.shape} "
                             f"{frames.dtype}")
        L = torch.stack([lightness_of(f) for f in frames])
        small = working_shape(*frames.shape[1:3], self.size)
        if tuple(L.shape[-2:]) == small:
            return L, L
        return L, F.interpolate(L, size=small, mode="bilinear", antialias=True,
                                align_corners=False)

    def predict(self, frames: np.ndarray) -> Prediction:
        """``frames`` ``(B, H, W, 3)`` uint8 -> :class:`Prediction` (network on every frame)."""
        L, L_small = self.lightness(frames)
        chroma = self.colorizer.predict_chroma(L_small, self.size)
        return Prediction(L, L_small[:, 0].numpy(), chroma.cpu().numpy())

    def render(self, L: torch.Tensor, chroma: np.ndarray) -> np.ndarray:
        """Full-resolution ``L`` ``(B, 1, H, W)`` + chroma ``(B, 2, h, w)`` -> ``(B, H, W, 3)``
        uint8 sRGB (chroma upsampled, lightness kept)."""
        return np.stack([self.colorizer.render(L[i], chroma[i]) for i in range(len(L))])

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """``(B, H, W, 3)`` uint8 -> colorized ``(B, H, W, 3)`` uint8, in display order."""
        L, L_small = self.lightness(frames)
        chroma, ran = keyed_chroma(self.colorizer, self.size, self.stabilizer,
                                   list(L_small[:, 0].numpy()))
        self.network_frames += ran
        return self.render(L, np.stack(chroma))

    @property
    def cuts(self) -> list[int]:
        """Frame indices where the temporal step detected a scene cut (empty without it)."""
        return list(self.stabilizer.cuts) if self.stabilizer else []


def stabilize(stabilizer: ChromaStabilizer | None, p: Prediction) -> np.ndarray:
    """Applies ``stabilizer`` frame by frame to a prediction's chroma (identity for None)."""
    if stabilizer is None:
        return p.chroma
    return np.stack([stabilizer(L, c) for L, c in zip(p.L_small, p.chroma, strict=True)])


def batched(frames: Iterable[SourceFrame], batch_size: int) -> Iterator[list[SourceFrame]]:
    """Groups an iterable into lists of at most ``batch_size`` (>= 1) items."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    batch: list[SourceFrame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class VideoResult:
    """Outcome of :func:`colorize_video`: output path, frames written, wall time, cuts found."""

    path: Path
    frames: int
    seconds: float
    cuts: list[int] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


PIPELINES = ("yuv", "rgb")


def colorize_video(source: str | os.PathLike, output: str | os.PathLike, colorizer: Colorizer,
                   *, size: int | None = None, batch_size: int = 8,
                   temporal: TemporalSettings | None = None,
                   encode: EncodeSettings | None = None, fps: float | None = None,
                   progress: bool = True, pipeline: str = "yuv",
                   fix_luma: bool = True) -> VideoResult:
    """Colorizes a video file or frame folder into a video file or frame folder.

    ``source``: a video file, or a folder of images (sorted by name, played at ``fps``).
    ``output``: a video file (format from its suffix; written to a temporary sibling and
    renamed when complete), or a folder (ends with '/' or exists) for numbered PNGs.
    Frame timing, size, rotation, metadata and audio of a video source are kept.
    ``pipeline``: "yuv" (video file to yuv420p video file: luma planes in, colour computed at
    the chroma resolution, decode/colorize/encode in parallel threads, :mod:`tinct.video.yuvpath`;
    other runs fall back to "rgb") or "rgb" (every frame through sRGB as a photo, lightness
    kept in L* per pixel before encoding). ``fix_luma`` (yuv only): see
    :func:`tinct.video.planes.colour_planes`. At most ``batch_size`` decoded frames are held
    at once by the rgb pipeline, about four times that by the yuv one (plus the codecs' own
    buffers).
    """
    if pipeline not in PIPELINES:
        raise InputError(f"unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}")
    if fps is None and pipeline == "yuv":
        from tinct.video.yuvpath import run_yuv, yuv_pipeline_applies

        if yuv_pipeline_applies(source, output, encode):
            return run_yuv(source, output, colorizer, size=size, batch_size=batch_size,
                           temporal=temporal, encode=encode, fix_luma=fix_luma,
                           progress=progress)
    start = time.perf_counter()
    step = FrameColorizer(colorizer, size, temporal)
    with open_source(source, fps) as src:
        sink = open_sink(output, src.info, src.audio_streams, encode, protect=(source,))
        with sink, tqdm(total=src.info.frame_count, unit="frame", disable=not progress,
                        desc=Path(source).name, dynamic_ncols=True) as bar:
            count = 0
            for batch in batched(src.frames(on_audio=sink.mux_audio), batch_size):
                colour = step(np.stack([f.rgb for f in batch]))
                for frame, rgb in zip(batch, colour, strict=True):
                    sink.write(replace(frame, rgb=rgb))
                count += len(batch)
                bar.update(len(batch))
            path = sink.finish()
    return VideoResult(path, count, time.perf_counter() - start, step.cuts)
