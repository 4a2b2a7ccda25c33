"""Pretrained-encoder U-Net regressor: EfficientNet-Lite or ResNet encoder, chroma at stride 2."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from tinct.models.base import ColorizationNet
from tinct.models.blocks import UNetDecoder
from tinct.models.encoders import build_encoder
from tinct.models.registry import register_model


class UNetBackbone(nn.Module):
    """Encoder taps + U-Net decoder: ``(B, 1, H, W)`` -> features at stride ``2**(out_level+1)``."""

    def __init__(self, encoder: str, decoder_channels: Sequence[int], out_level: int,
                 pretrained: bool):
        super().__init__()
        self.encoder = build_encoder(encoder, pretrained=pretrained)
        self.decoder = UNetDecoder(list(self.encoder.tap_channels), list(decoder_channels),
                                   out_level=out_level)
        self.out_channels = self.decoder.out_channels

    def forward(self, x: torch.Tensor, stem_extra: torch.Tensor | None = None) -> torch.Tensor:
        """``stem_extra``: added to the encoder's stem output (see ``features``)."""
        return self.decoder(self.encoder.features(x, stem_extra))


class UNetRegressor(ColorizationNet):
    """U-Net with a regression head: ``(B, 1, H, W)`` -> chroma ``(B, 2, H/2, W/2)``."""

    size_multiple = 32
    output_stride = 2

    def __init__(self, encoder: str = "efficientnet_lite0",
                 decoder_channels: Sequence[int] = (192, 96, 64, 32), pretrained: bool = False):
        super().__init__()
        self.backbone = UNetBackbone(encoder, decoder_channels, 0, pretrained)
        self.head = nn.Conv2d(self.backbone.out_channels, 2, 3, padding=1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model
def unet(encoder: str = "efficientnet_lite0", decoder_channels: Sequence[int] = (192, 96, 64, 32),
         pretrained: bool = False) -> UNetRegressor:
    """U-Net regressor; ``encoder`` is efficientnet_lite0..4 or resnet18/34/50."""
    return UNetRegressor(encoder=encoder, decoder_channels=tuple(decoder_channels),
                         pretrained=pretrained)
