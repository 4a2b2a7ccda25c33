"""The base class every colorization network derives from.

Contract (see docs/architecture.md): ``forward(x)`` takes normalized lightness ``(B, 1, H, W)``
in [-1, 1] for any H and W and returns either chroma ``(B, 2, h, w)`` in network units (about
[-1, 1]) or logits ``(B, Q, h, w)``, where ``h = ceil(H / output_stride)``. ``decode(out)``
turns that output into chroma in network units. Subclasses implement ``_forward`` on inputs
whose sides are multiples of ``size_multiple``; the padding is done here.

Decode settings belong to the network: :meth:`ColorizationNet.decode_settings`,
:meth:`~ColorizationNet.set_decode` and :meth:`~ColorizationNet.with_decode` are defined for
every network, and a network whose output is chroma (regression, an exported graph) answers
with ``None`` or a one-line :class:`~tinct.errors.InputError`, so callers never ask what kind of
network they hold.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinct.errors import InputError
from tinct.models.hints import check_hint_map


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
    # whether ``forward`` takes a colour-hint map (:mod:`tinct.models.hints`)
    accepts_hints: bool = False
    # why a network has no decode settings, for the error that says so
    no_decode_reason: str = "predicts colour directly"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: normalized L ``(B, 1, H, W)`` in [-1, 1] -> ``(B, C, ceil(H/s), ceil(W/s))``.

        ``hints``: a colour-hint map ``(B, 3, H, W)`` (:mod:`tinct.models.hints`), for networks
        with ``accepts_hints``; others raise ``InputError`` when given one."""
        if hints is not None and not self.accepts_hints:
            spec = getattr(self, "tinct_spec", None)
            kind = f"a {spec['architecture']} model" if spec else "this network"
            raise InputError(f"{kind} takes no colour hints; use a model trained with hints "
                             "(model.args.hints: true)")
        return run_padded(self._forward, x, self.size_multiple, self.output_stride, hints)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Network output -> chroma ``(B, 2, h, w)`` in network units. Identity for regression."""
        return out.float()

    # ------------------------------------------------------------------ decode settings

    def decode_settings(self) -> dict[str, float] | None:
        """The settings ``decode`` uses (``{"temperature": T, "boost": b}`` for a colour
        classifier), as ``config.json`` records them; None when ``decode`` has none."""
        return None

    def set_decode(self, temperature: float | None = None, boost: float | None = None) -> None:
        """Changes the decode settings in place (None keeps one). Raises ``InputError`` for a
        network without decode settings or for a value out of range."""
        raise self._no_decode_settings()

    def with_decode(self, temperature: float | None = None, boost: float | None = None
                    ) -> ColorizationNet:
        """A network that shares this one's weights but decodes with other settings (None
        keeps this one's); this network is not changed. Raises as :meth:`set_decode` does."""
        raise self._no_decode_settings()

    def _no_decode_settings(self) -> InputError:
        spec = getattr(self, "tinct_spec", None)
        kind = f"a {spec['architecture']} model" if spec else "this network"
        return InputError(f"{kind} {self.no_decode_reason}; only colour classifiers have "
                          "decode settings")


def check_lightness_batch(x: torch.Tensor) -> None:
    """Raises ``ValueError`` unless ``x`` has the shape ``(B, 1, H, W)``."""
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(
            f"expected normalized lightness of shape (B, 1, H, W), got {tuple(x.shape)}"
        )


def run_padded(fn, x: torch.Tensor, size_multiple: int, output_stride: int,
               hints: torch.Tensor | None = None) -> torch.Tensor:
    """Pads ``x`` ``(B, 1, H, W)`` on the bottom/right to multiples of ``size_multiple``
    (reflection; replication when the image is too small to reflect), applies ``fn`` and crops
    its output ``(B, C, H'/s, W'/s)`` to ``(B, C, ceil(H/s), ceil(W/s))``, ``s = output_stride``.
    With a hint map ``hints`` ``(B, 3, H, W)``, ``fn(x, hints)`` is called, the map padded with
    zeros (no hints in the padding; reflecting would copy hints).

    Shared by every network and by the ONNX runtime path, so both see the same padding.
    """
    check_lightness_batch(x)
    if hints is not None:
        check_hint_map(hints, x)
    H, W = x.shape[-2:]
    m = size_multiple
    ph, pw = (-H) % m, (-W) % m
    if ph or pw:
        mode = "reflect" if ph < H and pw < W else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
        if hints is not None:
            hints = F.pad(hints, (0, pw, 0, ph))
    out = fn(x) if hints is None else fn(x, hints)
    s = output_stride
    return out[..., : math.ceil(H / s), : math.ceil(W / s)]
