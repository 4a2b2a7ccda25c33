"""Temporal consistency: chroma propagated along optical flow, reset at scene cuts.

Frame-by-frame colorization flickers: small changes of the input (noise, motion, compression)
change the predicted colours. :class:`ChromaStabilizer` turns the per-frame predictions into an
exponential moving average *along the motion*: for frame t, at the network's working resolution,

    flow_t      = optical flow from frame t to frame t-1 (DIS, on lightness)
    warped      = out_{t-1} sampled at x + flow_t(x)             (chroma follows the motion)
    residual    = |L_t(x) - L_{t-1}(x + flow_t(x))|, box-blurred   (how well the warp explains t)
    confidence  = strength * exp(-(residual / occlusion_sigma)^2), 0 where x + flow leaves the frame
    out_t       = pred_t + confidence * (warped - pred_t)

so static and well-tracked pixels average their colour over about ``1 / (1 - strength)`` frames,
while occluded or newly visible pixels (large residual) take the current prediction and moving
objects do not smear. At the first frame and at scene cuts the history is dropped:
``out_t = pred_t``. A cut is a frame whose 16x16 lightness thumbnail changed by more than
``cut_threshold`` (:class:`SceneCutDetector`) *and* that the motion does not explain: more than
``cut_share`` (30%) of its pixels keep a residual above ``2 * occlusion_sigma`` after
warping. The second test keeps fast pans, which also change a thumbnail a lot, from resetting
the history. Both thresholds were chosen on clips of validation photos
(``scripts/study/cut_scores.py``): with a threshold of 12 and half the pixels, 14 of 145 cuts
were missed, 13 of them because the flow matched more than half of the new shot (plausibly
large flat areas, which any flow warps well); with 8 and 30%, 1, and no false cut on the
street clip's fast passing motion.

Method "keyframes" runs the network only on *key frames* and carries the colour along the flow
in between: ``out_t = warped`` (the flow is computed anyway). A frame is a key frame at the
first frame, at a cut, ``key_interval`` frames after the last key frame, and when more than
``refresh_share`` of its pixels are not explained by the motion (new things came into view);
a key frame blends its prediction with the carried colour as above. Method "flow" is the same
with every frame a key frame. The decisions need only the lightness
(:meth:`ChromaStabilizer.track`), so a batch's key frames can go through the network together
before the colour is carried (:meth:`ChromaStabilizer.apply`).

Arrays here are numpy float32: lightness ``(h, w)`` in [0, 100], chroma ``(2, h, w)`` in
colour-space units (ab or uv). OpenCV (``opencv-python-headless``) computes the flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinct.errors import InputError

TEMPORAL_METHODS = ("keyframes", "flow", "none")
FLOW_PRESETS = ("ultrafast", "fast", "medium")
CUT_THRESHOLD = 8.0  # TemporalSettings.cut_threshold's default (L*)
CUT_UNEXPLAINED_SHARE = 0.3  # TemporalSettings.cut_share's default


@dataclass
class TemporalSettings:
    """Settings of the temporal-consistency step (see the module docstring).

    ``method``: "keyframes" (the default, as ``tinct video``'s: the network on key frames,
    the colour carried along the optical flow between them), "flow" (the network on every
    frame, its colour blended with the colour carried along the flow) or "none" (frame by
    frame).
    ``strength``: weight of the propagated chroma where the motion is reliable, in [0, 1);
    higher = steadier colours but slower to follow real changes.
    ``occlusion_sigma``: lightness residual (L* units) at which the weight falls to 1/e.
    ``cut_threshold``: mean absolute lightness change of a 16x16 thumbnail (L* units) above
    which a frame is a scene-cut candidate (confirmed when the motion does not explain it).
    ``cut_share``: a candidate is a cut when more than this share of its pixels is not
    explained by the motion (lightness residual above ``2 * occlusion_sigma``), in [0, 1].
    ``flow_preset``: speed/quality of DIS optical flow (ultrafast, fast, medium).
    ``key_interval``: method "keyframes" only: the network runs at most this many frames
    apart (and at the first frame, at cuts and where the motion does not explain the frame);
    in between, the colour is carried along the flow.
    ``refresh_share``: method "keyframes": a frame whose share of pixels unexplained by the
    motion (lightness residual above ``2 * occlusion_sigma``) exceeds this is a key frame.
    """

    method: str = "keyframes"
    strength: float = 0.85
    occlusion_sigma: float = 4.0
    cut_threshold: float = CUT_THRESHOLD
    cut_share: float = CUT_UNEXPLAINED_SHARE
    flow_preset: str = "medium"
    key_interval: int = 8
    refresh_share: float = 0.1

    def __post_init__(self) -> None:
        if self.method not in TEMPORAL_METHODS:
            raise InputError(f"unknown temporal method {self.method!r}; choose one of "
                             f"{', '.join(TEMPORAL_METHODS)}")
        if not 0.0 <= self.strength < 1.0:
            raise InputError(f"temporal strength must be in [0, 1), got {self.strength}")
        if self.occlusion_sigma <= 0:
            raise InputError(f"occlusion sigma must be positive, got {self.occlusion_sigma}")
        if self.cut_threshold <= 0:
            raise InputError(f"cut threshold must be positive, got {self.cut_threshold}")
        if not 0.0 <= self.cut_share <= 1.0:
            raise InputError(f"cut share must be in [0, 1], got {self.cut_share}")
        if self.flow_preset not in FLOW_PRESETS:
            raise InputError(f"unknown flow preset {self.flow_preset!r}; choose one of "
                             f"{', '.join(FLOW_PRESETS)}")
        if self.key_interval < 1:
            raise InputError(f"key-frame interval must be at least 1, got {self.key_interval}")
        if not 0.0 <= self.refresh_share <= 1.0:
            raise InputError(f"refresh share must be in [0, 1], got {self.refresh_share}")

    @property
    def interval(self) -> int:
        """Frames between network runs: ``key_interval`` for "keyframes", else 1."""
        return self.key_interval if self.method == "keyframes" else 1


def import_cv2():
    """Imports OpenCV, or fails with a one-line hint on how to install it."""
    try:
        import cv2
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "temporal consistency needs OpenCV: pip install 'tinct[video]' "
            "(or use --temporal none)", name="cv2") from None
    return cv2


class SceneCutDetector:
    """Detects hard cuts from the change of a 16x16 lightness thumbnail.

    ``score(L)`` is the mean absolute difference (L* units) between the thumbnails of ``L``
    and of the previous frame given; :meth:`is_cut` compares it with ``threshold``. A pan
    or zoom moves a thumbnail little; a cut to another shot changes it everywhere.
    """

    THUMB = 16

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def thumbnail(self, L: np.ndarray) -> np.ndarray:
        """``(h, w)`` lightness -> ``(16, 16)`` area average."""
        import torch  # here, so the CLI can read the settings above without loading torch
        import torch.nn.functional as F

        t = torch.from_numpy(np.ascontiguousarray(L, dtype=np.float32))[None, None]
        return F.adaptive_avg_pool2d(t, self.THUMB)[0, 0].numpy()

    def score(self, L: np.ndarray) -> float | None:
        """Change from the previous frame (None for the first frame); remembers ``L``."""
        thumb = self.thumbnail(L)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return None
        return float(np.abs(thumb - previous).mean())

    def is_cut(self, L: np.ndarray) -> bool:
        """True when ``L`` starts a new shot (never for the first frame)."""
        s = self.score(L)
        return s is not None and s > self.threshold

    def reset(self) -> None:
        self._previous = None


class FlowEstimator:
    """Dense optical flow between two lightness images with OpenCV's DIS method."""

    def __init__(self, preset: str = "medium"):
        self.cv2 = import_cv2()
        code = {"ultrafast": self.cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": self.cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": self.cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
        self.dis = self.cv2.DISOpticalFlow_create(code)

    def __call__(self, L_from: np.ndarray, L_to: np.ndarray) -> np.ndarray:
        """Flow ``(h, w, 2)`` float32 (dx, dy in pixels) with ``L_from(x) ~ L_to(x + flow(x))``.

        ``L_from``, ``L_to``: ``(h, w)`` lightness in [0, 100].
        """
        return self.dis.calc(_to_u8(L_from), _to_u8(L_to), None)

    def warp(self, image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Samples ``image`` ``(C, h, w)`` at ``x + flow(x)`` (bilinear).

        Returns the warped ``(C, h, w)`` float32 and a mask ``(h, w)`` float32 that is 1 where
        ``x + flow(x)`` lies inside the image and 0 elsewhere.
        """
        h, w = flow.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        map_x = xs + flow[..., 0]
        map_y = ys + flow[..., 1]
        planes = [self.cv2.remap(np.ascontiguousarray(c, dtype=np.float32), map_x, map_y,
                                 self.cv2.INTER_LINEAR, borderMode=self.cv2.BORDER_REPLICATE)
                  for c in image]
        inside = ((map_x >= -0.5) & (map_x <= w - 0.5) & (map_y >= -0.5) & (map_y <= h - 0.5))
        return np.stack(planes), inside.astype(np.float32)


def _to_u8(L: np.ndarray) -> np.ndarray:
    return np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Track:
    """How frame ``index`` relates to the frame before it (from lightness alone).

    ``L``: ``(h, w)`` lightness. ``key``: the network's prediction is needed for this frame.
    ``cut``: the frame starts a new shot. ``flow``: ``(h, w, 2)`` flow to the previous frame
    (None at the first frame, at a cut or after a size change); ``residual``, ``inside``:
    ``(h, w)`` blurred lightness residual after warping and the inside mask (None with it).
    ``change``: the thumbnail change from the previous frame (L* units; None at the first
    frame); ``unexplained``: the share of pixels the motion does not explain (None where no
    flow was computed). The two measurements the cut decision rests on.
    """

    index: int
    L: np.ndarray
    key: bool
    cut: bool = False
    flow: np.ndarray | None = None
    residual: np.ndarray | None = None
    inside: np.ndarray | None = None
    change: float | None = None
    unexplained: float | None = None


class ChromaStabilizer:
    """Stateful per-frame filter: ``stabilizer(L, chroma) -> chroma`` (see the module docstring).

    Feed frames in display order, either as ``stabilizer(L, chroma)`` or in two steps:
    :meth:`track` (lightness only: flow, cut, whether the frame is a key frame) for each frame,
    then :meth:`apply` in the same order with the network's chroma for the key frames (None
    for the others), so that a batch's key frames go through the network together. With
    ``key_interval`` 1 (method "flow") every frame is a key frame. ``cuts`` lists the frame
    indices (0-based, counting every frame tracked) where a scene cut reset the history;
    ``keys`` counts the key frames; ``confidence`` holds the last frame's blending weight map
    ``(h, w)`` (1 where a non-key frame carried the colour inside the image).
    """

    def __init__(self, settings: TemporalSettings | None = None):
        self.settings = settings or TemporalSettings()
        self.detector = SceneCutDetector(self.settings.cut_threshold)
        self.flow = FlowEstimator(self.settings.flow_preset)
        self.cuts: list[int] = []
        self.keys = 0
        self.frame_index = -1
        self.confidence: np.ndarray | None = None
        self._since_key = 0
        self._previous_L: np.ndarray | None = None
        self._previous_out: np.ndarray | None = None

    def reset(self) -> None:
        """Forgets the history (the next frame is treated as the first of a shot)."""
        self._previous_L = None
        self._previous_out = None
        self.detector.reset()

    def __call__(self, L: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """``L`` ``(h, w)`` in [0, 100], ``chroma`` ``(2, h, w)`` -> stabilized chroma ``(2, h, w)``
        float32 (``chroma`` is only used at key frames)."""
        return self.apply(self.track(L), chroma)

    def track(self, L: np.ndarray) -> Track:
        """Lightness ``(h, w)`` of the next frame -> its :class:`Track` (flow to the previous
        frame, cut, key frame or not)."""
        self.frame_index += 1
        L = np.asarray(L, dtype=np.float32)
        change = self.detector.score(L)
        previous, self._previous_L = self._previous_L, L
        if previous is None or previous.shape != L.shape:
            return self._key(Track(self.frame_index, L, key=True, change=change))
        flow = self.flow(L, previous)
        warped, inside = self.flow.warp(previous[None], flow)
        residual = self.flow.cv2.blur(np.abs(L - warped[0]), (3, 3))
        unexplained = float(np.mean(residual > 2 * self.settings.occlusion_sigma))
        if change > self.settings.cut_threshold and unexplained > self.settings.cut_share:
            self.cuts.append(self.frame_index)
            return self._key(Track(self.frame_index, L, key=True, cut=True, change=change,
                                   unexplained=unexplained))
        self._since_key += 1
        key = (self._since_key >= self.settings.interval
               or unexplained > self.settings.refresh_share)
        track = Track(self.frame_index, L, key, False, flow, residual, inside, change,
                      unexplained)
        return self._key(track) if key else track

    def _key(self, track: Track) -> Track:
        self._since_key = 0
        self.keys += 1
        return track

    def apply(self, track: Track, chroma: np.ndarray | None) -> np.ndarray:
        """The output chroma ``(2, h, w)`` float32 of a tracked frame. ``chroma``: the
        network's ``(2, h, w)`` for a key frame (ignored, and may be None, otherwise)."""
        if track.key:
            if chroma is None:
                raise ValueError(f"frame {track.index} is a key frame and needs chroma")
            chroma = np.asarray(chroma, dtype=np.float32)
            if track.L.shape != chroma.shape[1:]:
                raise InputError(f"lightness {track.L.shape} and chroma {chroma.shape[1:]} "
                                 "sizes differ")
        out = chroma
        self.confidence = np.zeros_like(track.L)
        if track.flow is not None and self._previous_out is not None:
            warped, _ = self.flow.warp(self._previous_out, track.flow)
            if track.key:
                out = self._blend(chroma, warped, track.residual, track.inside)
            else:
                out = warped
                self.confidence = track.inside
        self._previous_out = out
        return out

    def _blend(self, chroma: np.ndarray, warped: np.ndarray, residual: np.ndarray,
               inside: np.ndarray) -> np.ndarray:
        s = self.settings
        confidence = s.strength * np.exp(-np.square(residual / s.occlusion_sigma)) * inside
        self.confidence = confidence
        return chroma + confidence[None] * (warped - chroma)


def make_stabilizer(settings: TemporalSettings | None) -> ChromaStabilizer | None:
    """A :class:`ChromaStabilizer` for methods "flow" and "keyframes"; None for "none" (or no
    settings)."""
    if settings is None or settings.method == "none":
        return None
    return ChromaStabilizer(settings)
