"""The flicker score: how much more the output's colours change from frame to frame than the
ground truth's, where the ground truth is not moving.

For consecutive frames t-1, t of a colorized clip (``pred``) and of its colour original (``gt``):

    static_t = pixels where max over R, G, B of |gt_t - gt_{t-1}| < ``static_threshold`` (0-255)
    change   = |ab_t - ab_{t-1}|: Euclidean distance in the ab plane of CIE Lab (Lab units)

:class:`FlickerMeter` pools ``change`` over the static pixels of all consecutive pairs; the
score is ``mean change(pred) - mean change(gt)`` (Lab units; 0 for an output exactly as steady
as the original, larger = more flicker). Pixels that move in the ground truth are left out: a
change there may be right.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinct.color import rgb_to_lab
from tinct.video.defaults import DEFAULT_STATIC_THRESHOLD


def chroma_ab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(..., 3, H, W)`` in [0, 1] -> ab ``(..., 2, H, W)`` float64 (Lab units)."""
    return rgb_to_lab(rgb.to(torch.float64))[..., 1:, :, :]


def static_mask(gt: torch.Tensor, gt_previous: torch.Tensor,
                threshold: float = DEFAULT_STATIC_THRESHOLD) -> torch.Tensor:
    """``(H, W)`` bool: pixels whose ground-truth RGB changed by less than ``threshold`` levels
    (0-255 scale, largest channel) between two frames ``(3, H, W)`` in [0, 1]."""
    change = (gt.to(torch.float64) - gt_previous.to(torch.float64)).abs().amax(dim=-3) * 255
    return change < threshold


def ab_change(ab: torch.Tensor, ab_previous: torch.Tensor) -> torch.Tensor:
    """Per-pixel Euclidean ab distance ``(H, W)`` between ab images ``(2, H, W)``."""
    return torch.linalg.vector_norm(ab - ab_previous, dim=-3)


@dataclass
class PairFlicker:
    """One consecutive pair: static pixel count and mean ab change of output and truth there."""

    static_pixels: int
    pred_change: float
    gt_change: float


class FlickerMeter:
    """Accumulates the flicker score over a clip, one frame at a time, in constant memory.

    Call :meth:`update` with each (prediction, ground truth) frame in display order; sRGB
    ``(3, H, W)`` float in [0, 1]. Pairs without static pixels add nothing.
    """

    def __init__(self, static_threshold: float = DEFAULT_STATIC_THRESHOLD):
        self.static_threshold = static_threshold
        self.static_pixels = 0
        self.total_pixels = 0
        self.pairs = 0
        self._pred_sum = 0.0
        self._gt_sum = 0.0
        self._previous: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def update(self, pred: torch.Tensor, gt: torch.Tensor) -> PairFlicker | None:
        """Adds a frame; returns the pair it forms with the previous frame (None at first)."""
        if pred.shape != gt.shape or pred.dim() != 3 or pred.shape[0] != 3:
            raise ValueError(f"pred and gt must both be (3, H, W), got {tuple(pred.shape)} "
                             f"and {tuple(gt.shape)}")
        ab_pred, ab_gt = chroma_ab(pred), chroma_ab(gt)
        previous, self._previous = self._previous, (gt, ab_pred, ab_gt)
        if previous is None:
            return None
        gt_prev, ab_pred_prev, ab_gt_prev = previous
        if gt_prev.shape != gt.shape:
            raise ValueError("frame size changed within the clip")
        mask = static_mask(gt, gt_prev, self.static_threshold)
        n = int(mask.sum())
        pred_sum = float(ab_change(ab_pred, ab_pred_prev)[mask].sum())
        gt_sum = float(ab_change(ab_gt, ab_gt_prev)[mask].sum())
        self.pairs += 1
        self.total_pixels += mask.numel()
        self.static_pixels += n
        self._pred_sum += pred_sum
        self._gt_sum += gt_sum
        return PairFlicker(n, pred_sum / n if n else float("nan"),
                           gt_sum / n if n else float("nan"))

    @property
    def pred_change(self) -> float:
        """Mean ab change of the output on static pixels (Lab units; NaN if none)."""
        return self._pred_sum / self.static_pixels if self.static_pixels else float("nan")

    @property
    def gt_change(self) -> float:
        """Mean ab change of the ground truth on the same pixels."""
        return self._gt_sum / self.static_pixels if self.static_pixels else float("nan")

    @property
    def score(self) -> float:
        """The flicker score: ``pred_change - gt_change`` (Lab units)."""
        return self.pred_change - self.gt_change

    @property
    def static_share(self) -> float:
        """Share of the pixels of all pairs that counted as static."""
        return self.static_pixels / self.total_pixels if self.total_pixels else float("nan")
