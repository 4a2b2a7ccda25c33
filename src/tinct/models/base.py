"""The base class every colorization network derives from.

Contract (see DESIGN.md): ``forward(x)`` takes normalized lightness ``(B, 1, H, W)`` in [-1, 1]
for any H and W and returns either chroma ``(B, 2, h, w)`` in network units (about [-1, 1]) or
logits ``(B, Q, h, w)``, where ``h = ceil(H / output_stride)``. ``decode(out)`` turns that
output into chroma in network units. Subclasses implement ``_forward`` on inputs whose sides
are multiples of ``size_multiple``; the padding is done here.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ColorizationNet(nn.Module):
    """Base class: pads the input, runs ``_forward``, crops, and decodes.

    Attributes set by subclasses:
        size_multiple: input sides must be multiples of this for ``_forward``.
        output_stride: the output is ``output_stride`` times smaller than the input.
        output_kind: ``"regression"`` (chroma) or ``"classification"`` (logits over bins).
    """

    size_multiple: int = 1
    output_stride: int = 1
    output_kind: str = "regression"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: normalized L ``(B, 1, H, W)`` in [-1, 1] -> ``(B, C, ceil(H/s), ceil(W/s))``."""
        return run_padded(self._forward, x, self.size_multiple, self.output_stride)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Network output -> chroma ``(B, 2, h, w)`` in network units. Identity for regression."""
        return out.float()


def check_lightness_batch(x: torch.Tensor) -> None:
    """Raises ``ValueError`` unless ``x`` has the shape ``(B, 1, H, W)``."""
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(
            f"expected normalized lightness of shape (B, 1, H, W), got {tuple(x.shape)}"
        )


def run_padded(fn, x: torch.Tensor, size_multiple: int, output_stride: int) -> torch.Tensor:
    """Pads ``x`` ``(B, 1, H, W)`` on the bottom/right to multiples of ``size_multiple``
    (reflection; replication when the image is too small to reflect), applies ``fn`` and crops
    its output ``(B, C, H'/s, W'/s)`` to ``(B, C, ceil(H/s), ceil(W/s))``, ``s = output_stride``.

    Shared by every network and by the ONNX runtime path, so both see the same padding.
    """
    check_lightness_batch(x)
    H, W = x.shape[-2:]
    m = size_multiple
    ph, pw = (-H) % m, (-W) % m
    if ph or pw:
        mode = "reflect" if ph < H and pw < W else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    out = fn(x)
    s = output_stride
    return out[..., : math.ceil(H / s), : math.ceil(W / s)]
