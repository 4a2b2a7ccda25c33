"""The plain encoder-decoder CNN of the classic colorization tutorials (no pretraining)."""

from __future__ import annotations

import torch
import torch.nn as nn

from tinct.models.base import ColorizationNet
from tinct.models.blocks import ConvNormAct
from tinct.models.registry import register_model


class PlainCNN(ColorizationNet):
    """Strided-conv encoder, upsampling decoder, ``tanh`` chroma head (Wallner-style).

    ``(B, 1, H, W)`` normalized L -> ``(B, 2, H, W)`` chroma in [-1, 1].
    """

    def __init__(self, width: int = 64, depth: int = 3):
        super().__init__()
        self.size_multiple = 2**depth
        enc: list[nn.Module] = [ConvNormAct(1, width)]
        c = width
        for i in range(depth):
            cout = min(width * 2 ** (i + 1), width * 4)
            enc += [ConvNormAct(c, cout, stride=2), ConvNormAct(cout, cout)]
            c = cout
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [ConvNormAct(c, c)]
        for i in reversed(range(depth)):
            cout = max(width * 2**i // 2, 16)
            dec += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                    ConvNormAct(c, cout)]
            c = cout
        self.decoder = nn.Sequential(*dec)
        self.head = nn.Conv2d(c, 2, 3, padding=1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.decoder(self.encoder(x))))


@register_model
def cnn(width: int = 64, depth: int = 3) -> PlainCNN:
    """Plain encoder-decoder CNN trained from scratch; ``depth`` stride-2 stages of ``width``+."""
    return PlainCNN(width=width, depth=depth)
