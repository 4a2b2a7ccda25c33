"""Evaluating video colorization on a colour clip made gray: per-frame quality and flicker.

The clip's colour frames are the ground truth; the colorizer sees only their lightness. The
network runs once per batch and every temporal method under comparison stabilizes the same
predicted chroma, so differences between methods come from the temporal step alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from tinct.errors import InputError
from tinct.evaluation.metrics import RunningStats, colorfulness_gap, compute_image_metrics
from tinct.inference.pipeline import Colorizer
from tinct.video.colorize import FrameColorizer, batched, stabilize
from tinct.video.flicker import DEFAULT_STATIC_THRESHOLD, FlickerMeter
from tinct.video.sources import open_source
from tinct.video.temporal import TemporalSettings, make_stabilizer

FRAME_METRICS = ("psnr", "ssim", "ab_rmse", "cf_pred", "cf_gt")
RENDERINGS = ("rgb", "rgb-stored", "yuv")  # see evaluate_video


@dataclass
class VideoScores:
    """Scores of one temporal method on one clip.

    ``psnr`` (dB), ``ssim``, ``ab_rmse`` (Lab units): means over frames; ``dcf``: |mean
    colorfulness of output - of truth| over frames; ``flicker``: the flicker score (Lab units,
    see :mod:`tinct.video.flicker`) with its parts ``pred_change`` and ``gt_change``;
    ``static_share``: share of pixels counted as static; ``cuts``: detected cut indices;
    ``per_frame``: one dict per frame (metrics, and ``flicker_pred``/``flicker_gt`` for the
    pair ending at that frame).
    """

    method: str
    frames: int
    psnr: float
    ssim: float
    ab_rmse: float
    dcf: float
    flicker: float
    pred_change: float
    gt_change: float
    static_share: float
    cuts: list[int] = field(default_factory=list)
    per_frame: list[dict[str, float]] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """The scores without the per-frame list (JSON-ready)."""
        return {k: v for k, v in self.__dict__.items() if k != "per_frame"}


class _MethodRun:
    """Accumulators of one method while the clip streams by."""

    def __init__(self, name: str, settings: TemporalSettings | None, static_threshold: float,
                 pipeline: str = "rgb"):
        self.name = name
        self.pipeline = pipeline
        self.stabilizer = make_stabilizer(settings)
        self.stats = RunningStats()
        self.flicker = FlickerMeter(static_threshold)
        self.per_frame: list[dict[str, float]] = []

    def add(self, step: FrameColorizer, prediction, gt: torch.Tensor) -> None:
        chroma = stabilize(self.stabilizer, prediction)
        if self.pipeline == "yuv":
            colour = np.stack([yuv_render(L[0].numpy(), c, step.colorizer.space)
                               for L, c in zip(prediction.L, chroma, strict=True)])
        else:
            colour = step.render(prediction.L, chroma)
            if self.pipeline == "rgb-stored":
                colour = np.stack([stored_render(frame) for frame in colour])
        pred = torch.from_numpy(colour).permute(0, 3, 1, 2).float() / 255
        values = compute_image_metrics(pred, gt)
        for name in FRAME_METRICS:
            self.stats.update(name, values[name])
        for i in range(len(pred)):
            row = {name: float(values[name][i]) for name in FRAME_METRICS}
            pair = self.flicker.update(pred[i], gt[i])
            row["flicker_pred"] = pair.pred_change if pair else float("nan")
            row["flicker_gt"] = pair.gt_change if pair else float("nan")
            self.per_frame.append(row)

    def scores(self) -> VideoScores:
        s, f = self.stats, self.flicker
        cf_pred = [row["cf_pred"] for row in self.per_frame]
        cf_gt = [row["cf_gt"] for row in self.per_frame]
        return VideoScores(
            method=self.name, frames=len(self.per_frame), psnr=s.mean("psnr"),
            ssim=s.mean("ssim"), ab_rmse=s.mean("ab_rmse"),
            dcf=colorfulness_gap(cf_pred, cf_gt), flicker=f.score, pred_change=f.pred_change,
            gt_change=f.gt_change, static_share=f.static_share,
            cuts=list(self.stabilizer.cuts) if self.stabilizer else [],
            per_frame=self.per_frame)


def yuv_render(L: np.ndarray, chroma: np.ndarray, space: str) -> np.ndarray:
    """What the YUV pipeline makes of a frame whose black-and-white version has lightness
    ``L`` ``(H, W)``: its colour planes, decoded to sRGB ``(H, W, 3)`` uint8 as a player
    shows them."""
    from tinct.video.planes import colour_planes, luma_of_lightness, rgb_of_planes
    from tinct.video.sources import import_av

    return rgb_of_planes(import_av(), *colour_planes(luma_of_lightness(L), chroma, space))


def stored_render(rgb: np.ndarray) -> np.ndarray:
    """What a yuv420p film file holds of an sRGB frame ``(H, W, 3)`` uint8 the RGB pipeline
    made (FFmpeg's RGB -> yuv420p conversion, as the encoder does it, and back as a player
    shows it), before any compression."""
    from tinct.video.sources import import_av

    H, W = rgb.shape[:2]
    padded = np.pad(rgb, ((0, H % 2), (0, W % 2), (0, 0)), mode="edge")
    frame = import_av().VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
    return frame.reformat(format="yuv420p").to_ndarray(format="rgb24")[:H, :W]


def evaluate_video(colorizer: Colorizer, clip: str | os.PathLike,
                   methods: dict[str, TemporalSettings | None], *, size: int | None = None,
                   batch_size: int = 8, static_threshold: float = DEFAULT_STATIC_THRESHOLD,
                   fps: float | None = None, progress: bool = True,
                   pipelines: dict[str, str] | None = None) -> dict[str, VideoScores]:
    """Scores each temporal method on ``clip`` (a colour video file or frame folder).

    ``methods``: name -> settings (None or method "none" = frame by frame). ``pipelines``:
    name -> "rgb" (default: frames rendered in sRGB with the lightness kept), "rgb-stored"
    (those frames as a yuv420p file holds them, :func:`stored_render`: what the RGB pipeline's
    output shows) or "yuv" (as the YUV pipeline renders them: 4:2:0 planes from the gray
    luma, :func:`yuv_render`). "rgb-stored" and "yuv" compare the two film paths' outputs
    like for like (both before the codec's compression).
    Frames are streamed; memory does not grow with the clip's length beyond the per-frame
    score rows. Returns name -> :class:`VideoScores`.
    """
    if not methods:
        raise InputError("no temporal method to evaluate")
    pipelines = pipelines or {}
    unknown = sorted(set(pipelines.values()) - set(RENDERINGS))
    if unknown:
        raise InputError(f"unknown rendering {unknown[0]!r}; choose one of {', '.join(RENDERINGS)}")
    step = FrameColorizer(colorizer, size)
    runs = [_MethodRun(name, settings, static_threshold, pipelines.get(name, "rgb"))
            for name, settings in methods.items()]
    with open_source(clip, fps) as src, tqdm(total=src.info.frame_count, unit="frame",
                                             disable=not progress, desc="evaluating") as bar:
        for batch in batched(src.frames(), batch_size):
            frames = np.stack([f.rgb for f in batch])
            prediction = step.predict(frames)
            gt = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
            for run in runs:
                run.add(step, prediction, gt)
            bar.update(len(batch))
    return {run.name: run.scores() for run in runs}
