"""Colour classifiers averaged at decode: each member sees the photo at its own scale, and
their colour distributions are mixed before the annealed mean.

Where mixing two classifiers' weights (WiSE-FT) has to trade one's strengths for the other's,
mixing their *outputs* keeps both: an older model at its best working size and a newer one at
its own (docs/v3.md, session 46). The distributions are mixed either by their weighted
arithmetic mean (``mix="mean"``, which broadens a pixel's distribution where the members
disagree) or by their normalized weighted geometric mean (``mix="geometric"``, the weighted
mean of log-probabilities: sharper where they disagree, since a colour that either member
finds unlikely is suppressed; session 47). The members are whole classifiers with the same
colour bins; the ensemble is saved as one model (``config.json`` records each member's
architecture and arguments; ``model.safetensors`` holds ``members.0.*``, ``members.1.*``,
...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinct.models.base import ColorizationNet
from tinct.models.classifier import ColorClassifier, DecodeSettings
from tinct.models.registry import create_model, register_model

# the smallest mixed probability kept before the log: far below any bin the decode can see
# at T >= 0.1 (exp(log(1e-12) / 0.1) underflows to 0)
MIN_PROBABILITY = 1e-12
MIXES = ("mean", "geometric")


class ClassifierEnsemble(DecodeSettings, ColorizationNet):
    """Colour classifiers whose per-pixel colour distributions are averaged.

    ``forward``: normalized lightness ``(B, 1, H, W)`` in [-1, 1] -> log mixed probabilities
    ``(B, Q, ceil(H/4), ceil(W/4))``: member ``i`` sees the input resized by ``scales[i]``
    (bilinear, antialiased; sides rounded down), its softmax is resized to the ensemble's
    output grid (bilinear, which keeps each pixel's distribution summing to 1), and the
    distributions are mixed with ``weights`` (summing to 1): ``mix="mean"`` gives
    ``sum_i w_i p_i``, ``mix="geometric"`` gives ``prod_i p_i^w_i`` renormalized over the bins
    (the members' log-probabilities are brought to the grid and averaged; that equals
    averaging their logits up to a per-pixel constant). ``decode``: the first member's
    annealed mean (its colour bins and saved prior, for the boost) at the ensemble's
    ``temperature`` and ``boost``; a softmax of log probabilities at ``T`` is the mixed
    distribution sharpened by ``1/T``, as for one classifier's logits.
    """

    size_multiple = 1  # each member pads its own input
    output_stride = 4
    output_kind = "classification"
    made_from_saved_models = True  # trained members are mixed; the trainer refuses it
    no_export_reason = "ONNX has no antialiased resizing for the members' scales"

    def __init__(self, members: Sequence[ColorClassifier], weights: Sequence[float],
                 scales: Sequence[float], temperature: float, mix: str = "mean"):
        super().__init__()
        if not members or not len(members) == len(weights) == len(scales):
            raise ValueError("an ensemble needs one weight and one scale per member, "
                             f"got {len(members)} members, {len(weights)} weights, "
                             f"{len(scales)} scales")
        if any(not isinstance(m, ColorClassifier) for m in members):
            raise ValueError("every member of an ensemble must be a colour classifier")
        first = members[0]
        for m in members[1:]:
            if m.centres.shape != first.centres.shape or not torch.equal(m.centres,
                                                                         first.centres):
                raise ValueError("the members of an ensemble must share their colour bins")
            if m.output_stride != first.output_stride:
                raise ValueError("the members of an ensemble must share their output stride")
        if any(w < 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
            raise ValueError(f"ensemble weights must be 0 or more and sum to 1, got {weights}")
        if mix not in MIXES:
            raise ValueError(f"ensemble mix must be one of {', '.join(MIXES)}, got {mix!r}")
        if any(not 0 < s <= 4 for s in scales):
            raise ValueError(f"ensemble scales must be in (0, 4], got {scales}")
        self.members = nn.ModuleList(members)
        self.weights = [float(w) for w in weights]
        self.scales = [float(s) for s in scales]
        self.mix = mix
        self.output_stride = first.output_stride
        self.temperature = float(temperature)
        self.boost = 0.0

    @property
    def num_bins(self) -> int:
        return self.members[0].num_bins

    @property
    def centres(self) -> torch.Tensor:
        """The shared colour bins ``(Q, 2)`` in colour-space units (what a distillation
        teacher is checked by)."""
        return self.members[0].centres

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        s = self.output_stride
        grid = (-(-H // s), -(-W // s))
        mixed = None
        for member, weight, scale in zip(self.members, self.weights, self.scales, strict=True):
            if weight == 0:
                continue
            seen = x if scale == 1 else F.interpolate(
                x, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
            logits = member(seen).float()
            # the arithmetic mean mixes probabilities, the geometric one log-probabilities;
            # bilinear resizing keeps either a per-pixel convex combination
            dist = (F.softmax(logits, dim=1) if self.mix == "mean"
                    else F.log_softmax(logits, dim=1))
            if tuple(dist.shape[-2:]) != grid:
                dist = F.interpolate(dist, size=grid, mode="bilinear", align_corners=False)
            mixed = dist * weight if mixed is None else mixed + dist * weight
        if self.mix == "geometric":
            return F.log_softmax(mixed, dim=1)
        return mixed.clamp(min=MIN_PROBABILITY).log()

    def decode(self, out: torch.Tensor, temperature: float | None = None,
               boost: float | None = None) -> torch.Tensor:
        """Log mixed probabilities ``(B, Q, h, w)`` -> chroma ``(B, 2, h, w)`` in network
        units: the first member's decode at ``temperature`` and ``boost`` (default this
        ensemble's settings)."""
        return self.members[0].decode(
            out, temperature=self.temperature if temperature is None else temperature,
            boost=self.boost if boost is None else boost)


@register_model
def classifier_ensemble(members: Sequence[dict[str, Any]], weights: Sequence[float],
                        scales: Sequence[float], temperature: float = 0.38,
                        mix: str = "mean") -> ClassifierEnsemble:
    """Colour classifiers averaged at decode, each at its own scale of the working size
    (made from saved models by scripts/make_ensemble.py, not trained).

    ``members``: each ``{"architecture": "classifier", "args": {...}}`` as a saved model's
    ``config.json`` records it; ``weights``: the mixing weights (sum 1); ``scales``: each
    member's input size relative to the working size (e.g. 0.75 for 192 px at 256); ``mix``:
    ``"mean"`` (weighted mean of the distributions) or ``"geometric"`` (of their logs)."""
    # the weights come from the saved file, never from ImageNet
    built = [create_model(m["architecture"], **{**m.get("args", {}), "pretrained": False})
             for m in members]
    return ClassifierEnsemble(built, weights, scales, temperature, mix)
