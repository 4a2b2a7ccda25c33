"""The few building blocks shared by the model families."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNormAct(nn.Sequential):
    """Conv2d -> BatchNorm2d -> activation (ReLU by default). Keeps the size when stride is 1."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, act: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UpBlock(nn.Module):
    """U-Net decoder step: upsample x2 (bilinear), concatenate the skip, two ConvNormAct.

    ``x``: ``(B, cin, h, w)``; ``skip``: ``(B, cskip, 2h, 2w)`` or None -> ``(B, cout, 2h, 2w)``.
    """

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv1 = ConvNormAct(cin + cskip, cout)
        self.conv2 = ConvNormAct(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        # scale_factor (not size=skip.shape) keeps the ONNX export valid for every input size
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        if skip is not None:
            x = torch.cat((x, skip), dim=1)
        return self.conv2(self.conv1(x))


class UNetDecoder(nn.Module):
    """Decoder over encoder taps ordered from shallow (stride 2) to deep (stride 32).

    Walks from the deepest tap up to ``out_level`` (0 = stride 2, 1 = stride 4, ...), returning
    features ``(B, channels[-1], H / 2**(out_level+1), W / 2**(out_level+1))``.
    """

    def __init__(self, tap_channels: list[int], channels: list[int], out_level: int = 0):
        super().__init__()
        n_up = len(tap_channels) - 1 - out_level
        if len(channels) != n_up:
            raise ValueError(f"decoder needs {n_up} channel widths, got {len(channels)}")
        self.out_level = out_level
        cin = tap_channels[-1]
        blocks = []
        for i, cout in enumerate(channels):
            skip_level = len(tap_channels) - 2 - i
            blocks.append(UpBlock(cin, tap_channels[skip_level], cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cin

    def forward(self, taps: list[torch.Tensor]) -> torch.Tensor:
        x = taps[-1]
        for i, block in enumerate(self.blocks):
            x = block(x, taps[len(taps) - 2 - i])
        return x
