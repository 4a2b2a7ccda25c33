"""The film's YUV planes: the luma of decoded frames in, 4:2:0 colour planes out.

A gray film frame carries all its information in the luma plane (R = G = B, so Y' is the gray
level), and a yuv420p output stores colour only at half resolution. The YUV pipeline
(:mod:`tinct.video.yuvpath`) therefore never converts frames to RGB:

- :func:`luma_of_frame`: a decoded ``av.VideoFrame`` (any pixel format, 8 or 10 bits, limited
  or full range) -> its luma plane ``(H, W)`` uint8 in limited range (16-235);
- :func:`lightness_of_luma`: luma codes -> L* float32 in [0, 100] (the network's input);
- :func:`colour_planes`: luma + chroma at any lower resolution -> the Y, Cb, Cr planes of the
  output (BT.601, limited range, as FFmpeg's RGB -> yuv420p conversion the RGB pipeline uses);
- :func:`frame_from_planes`: Y, Cb, Cr -> an ``av.VideoFrame`` (yuv420p) for the encoder.

The colour of each 2x2 block is computed from the block's mean L* and the chroma there, with
the same gamut rule as photos. What is kept: with ``fix_luma`` (the default) each pixel's luma
is shifted by its block's difference between the colour's luma and the gray's, so a decoded
frame's L* equals the input's up to the 4:2:0 subsampling (measured in the tests); without it
the output's luma plane is the input's, byte for byte.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from tinct import color, kernels
from tinct.inference.render import _M_INV, _SPACE_CODES, _WHITE, resampling_plan

FULL_RANGE_FORMATS = ("yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p")
EIGHT_BIT_LUMA_FORMATS = ("yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv410p",
                          "nv12", "nv21", "gray", *FULL_RANGE_FORMATS)
_AVCOL_RANGE_JPEG = 2  # FFmpeg: full-range (0-255) YUV


@functools.lru_cache(maxsize=1)
def _full_to_limited() -> np.ndarray:
    """Full-range code (0-255) -> limited-range luma code (16-235), uint8 ``(256,)``."""
    return np.round(16 + np.arange(256) * 219 / 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def luma_lightness_table() -> np.ndarray:
    """Limited-range luma code of a gray -> its L*, float64 ``(256,)`` (codes outside 16-235
    clip to black and white)."""
    v = torch.clamp((torch.arange(256, dtype=torch.float64) - 16) / 219, 0, 1)
    return color.rgb_to_lightness(v.view(1, 1, -1).expand(3, 1, -1))[0, 0].numpy()


@functools.lru_cache(maxsize=1)
def _srgb_table() -> np.ndarray:
    """Linear light quantized to 1/65535 -> sRGB in [0, 1], float32 ``(65536,)``."""
    v = torch.arange(65536, dtype=torch.float64) / 65535
    return color.linear_to_srgb(v).float().numpy()


def _plane(frame: Any, index: int = 0) -> np.ndarray:
    """Plane ``index`` of an 8-bit ``av.VideoFrame`` as ``(h, w)`` uint8 (a copy)."""
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[:plane.height, :plane.width].copy()


def luma_of_frame(frame: Any) -> np.ndarray:
    """Decoded ``av.VideoFrame`` -> luma ``(H, W)`` uint8, limited range (16-235).

    8-bit YUV and gray frames give their first plane (full-range ones are mapped to limited
    range); any other format (10-bit, RGB, ...) is converted to yuv420p by FFmpeg first.
    """
    fmt = frame.format.name
    if fmt not in EIGHT_BIT_LUMA_FORMATS:
        frame = frame.reformat(format="yuv420p")
        fmt = "yuv420p"
    luma = _plane(frame)
    full = fmt in FULL_RANGE_FORMATS or fmt == "gray" or (
        int(getattr(frame, "color_range", 0) or 0) == _AVCOL_RANGE_JPEG)
    return _full_to_limited()[luma] if full else luma


def luma_of_rgb(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``(H, W, 3)`` uint8 -> limited-range BT.601 luma ``(H, W)`` uint8 (as FFmpeg's
    conversion to yuv420p); for frames that arrive as RGB (frame folders, tests)."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(16 + y * (219 / 255) + 0.5, 16, 235).astype(np.uint8)


def luma_of_lightness(L: np.ndarray) -> np.ndarray:
    """L* ``(H, W)`` in [0, 100] -> the luma codes ``(H, W)`` uint8 (16-235) of the gray of
    that lightness: what a black-and-white film of the scene holds (for evaluation on colour
    clips)."""
    L = np.asarray(L, np.float64)
    y = np.where(L > 7.999625, ((L + 16) / 116) ** 3, L / 903.3)
    gray = color.linear_to_srgb(torch.from_numpy(y)).numpy()
    return np.clip(16 + gray * 219 + 0.5, 16, 235).astype(np.uint8)


def lightness_of_luma(luma: np.ndarray) -> np.ndarray:
    """Luma codes (any shape, uint8, or float for resized planes) -> L* float32 in [0, 100],
    interpolating :func:`luma_lightness_table` between codes."""
    table = luma_lightness_table()
    if luma.dtype == np.uint8:
        return table[luma].astype(np.float32)
    return np.interp(luma, np.arange(256), table).astype(np.float32)


def colour_planes(luma: np.ndarray, chroma: np.ndarray, space: str = "lab",
                  fix_luma: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gray luma + chroma -> the output's ``(Y, Cb, Cr)`` planes (BT.601, limited range).

    ``luma``: ``(H, W)`` uint8 codes 16-235. ``chroma``: ``(2, h, w)`` float32 ab (or uv) in
    colour-space units, any ``h, w`` (resampled bilinearly to the chroma grid). Returns Y
    ``(H, W)`` (``luma`` itself when not ``fix_luma``) and Cb, Cr ``(ceil(H/2), ceil(W/2))``,
    all uint8.
    """
    color.check_space(space)
    if luma.ndim != 2 or luma.dtype != np.uint8:
        raise ValueError(f"expected luma (H, W) uint8, got {luma.shape} {luma.dtype}")
    chroma = np.ascontiguousarray(chroma, dtype=np.float32)
    if chroma.ndim != 3 or chroma.shape[0] != 2:
        raise ValueError(f"expected chroma of shape (2, h, w), got {chroma.shape}")
    H, W = luma.shape
    Hc, Wc = (H + 1) // 2, (W + 1) // 2
    luma = np.ascontiguousarray(luma)
    cb = np.empty((Hc, Wc), np.uint8)
    cr = np.empty((Hc, Wc), np.uint8)
    y_out = np.empty_like(luma) if fix_luma else luma
    rows, columns = resampling_plan(chroma.shape[1], Hc), resampling_plan(chroma.shape[2], Wc)
    with kernels.LOCK:
        kernels.yuv420_rows(luma, luma_lightness_table(), chroma[0], chroma[1], *rows,
                            *columns, _SPACE_CODES[space], _M_INV, _WHITE, _srgb_table(),
                            fix_luma, y_out, cb, cr)
    return y_out, cb, cr


def pad_planes(y: np.ndarray, cb: np.ndarray, cr: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pads an odd-sized Y by one replicated row/column to even size (4:2:0 needs it; Cb and
    Cr already have ``ceil`` sizes)."""
    H, W = y.shape
    if H % 2 or W % 2:
        y = np.pad(y, ((0, H % 2), (0, W % 2)), mode="edge")
    return y, cb, cr


def frame_from_planes(av: Any, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> Any:
    """Even-sized Y ``(H, W)`` and Cb, Cr ``(H/2, W/2)`` uint8 -> ``av.VideoFrame`` yuv420p."""
    H, W = y.shape
    packed = np.concatenate((y.reshape(-1), cb.reshape(-1), cr.reshape(-1)))
    return av.VideoFrame.from_ndarray(packed.reshape(H * 3 // 2, W), format="yuv420p")


def rgb_of_planes(av: Any, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Y, Cb, Cr planes -> sRGB ``(H, W, 3)`` uint8 as a player shows them (FFmpeg's
    BT.601 conversion); odd sizes are padded and cropped back."""
    H, W = y.shape
    frame = frame_from_planes(av, *pad_planes(y, cb, cr))
    return frame.to_ndarray(format="rgb24")[:H, :W]
