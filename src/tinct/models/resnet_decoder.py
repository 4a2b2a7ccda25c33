"""Pretrained ResNet trunk + conv/upsample decoder (regression), after Melas-Kyriazi's tutorial."""

from __future__ import annotations

import torch
import torch.nn as nn

from tinct.models.base import ColorizationNet
from tinct.models.blocks import ConvNormAct
from tinct.models.encoders import ResNetEncoder
from tinct.models.registry import register_model


class ResNetDecoder(ColorizationNet):
    """The first ``stages`` stages of a ResNet feed a plain upsampling decoder (no skips).

    ``(B, 1, H, W)`` normalized L -> ``(B, 2, H, W)`` chroma (unbounded, about [-1, 1]).
    """

    def __init__(self, depth: int = 18, stages: int = 2, pretrained: bool = False):
        super().__init__()
        self.encoder = ResNetEncoder(depth, pretrained=pretrained, stages=stages)
        self.size_multiple = 2 ** (stages + 1)
        c = self.encoder.tap_channels[-1]
        layers: list[nn.Module] = []
        for _ in range(stages + 1):
            cout = max(c // 2, 32)
            layers += [ConvNormAct(c, cout), ConvNormAct(cout, cout),
                       nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
            c = cout
        self.decoder = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 2, 3, padding=1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder.features(x)[-1]))


@register_model
def resnet_decoder(depth: int = 18, stages: int = 2, pretrained: bool = False) -> ResNetDecoder:
    """ResNet-``depth`` trunk (first ``stages`` of 4 stages) + upsampling decoder."""
    return ResNetDecoder(depth=depth, stages=stages, pretrained=pretrained)
