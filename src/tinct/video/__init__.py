"""Video colorization: streaming decode/encode (PyAV), temporal consistency along optical flow
(OpenCV), and the flicker measurement. Needs the ``video`` extra: ``pip install 'tinct[video]'``.

- :func:`colorize_video`: video file or frame folder -> video file or frame folder.
- :class:`FrameColorizer`: the per-batch step (lightness -> Colorizer -> temporal -> merge).
- :class:`TemporalSettings`, :class:`ChromaStabilizer`: the temporal-consistency method.
- :func:`evaluate_video`, :class:`FlickerMeter`: quality and flicker on a colour clip.
- :mod:`tinct.video.testclips`: synthetic clips (photos + pan/zoom + cut + sine audio).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> submodule; imported on first use, so the CLI can read the light submodules
# (``tinct.video.sinks``) for its --help without loading torch.
_EXPORTS = {
    "colorize_video": "colorize",
    "VideoResult": "colorize",
    "FrameColorizer": "colorize",
    "EncodeSettings": "sinks",
    "TemporalSettings": "temporal",
    "ChromaStabilizer": "temporal",
    "SceneCutDetector": "temporal",
    "evaluate_video": "evaluate",
    "VideoScores": "evaluate",
    "FlickerMeter": "flicker",
}
__all__ = [
    "colorize_video",
    "VideoResult",
    "FrameColorizer",
    "EncodeSettings",
    "TemporalSettings",
    "ChromaStabilizer",
    "SceneCutDetector",
    "evaluate_video",
    "VideoScores",
    "FlickerMeter",
]

if TYPE_CHECKING:  # pragma: no cover
    from tinct.video.colorize import FrameColorizer, VideoResult, colorize_video
    from tinct.video.evaluate import VideoScores, evaluate_video
    from tinct.video.flicker import FlickerMeter
    from tinct.video.sinks import EncodeSettings
    from tinct.video.temporal import ChromaStabilizer, SceneCutDetector, TemporalSettings


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
