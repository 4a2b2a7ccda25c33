"""Full-resolution rendering: lightness of the input pixels, and lightness + chroma -> sRGB.

These are the per-pixel steps around the network, and on a 12-megapixel photo they would cost
more than the network itself. Each is one compiled pass over the pixels on every core
(:mod:`tinct.kernels`), with no full-size temporaries:

- :func:`lightness_of_pixels`: 8- or 16-bit sRGB ``(H, W, 3)`` -> L* ``(H, W)`` float32 in
  [0, 100], via per-channel lookup tables of linear-light luminance;
- :func:`merge_to_srgb`: L* ``(H, W)`` plus chroma at any smaller size ``(2, h, w)`` ->
  sRGB ``(H, W, 3)``, uint8 or float32. The chroma is upsampled bilinearly
  (``align_corners=False``); out-of-gamut colours are pulled towards the gray of the same
  luminance in linear light, so the lightness of the input is kept exactly (the same rule as
  :func:`tinct.color.merge_chroma_in_gamut`, the differentiable reference this module is
  tested against).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from tinct import color, kernels

_M_INV = np.linalg.inv(np.array(color.XYZ_FROM_RGB, dtype=np.float64))
_WHITE = np.array(color.WHITE_D65, dtype=np.float64)
_M_INV_32, _WHITE_32 = _M_INV.astype(np.float32), _WHITE.astype(np.float32)
_SPACE_CODES = {"lab": kernels.LAB, "luv": kernels.LUV}


@functools.lru_cache(maxsize=2)
def _luminance_tables(levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel: code value -> its share of the luminance Y, float32 ``(levels,)``."""
    v = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    lin = color.srgb_to_linear(v).numpy()
    row = np.array(color.XYZ_FROM_RGB[1], dtype=np.float64)
    return tuple((row[c] * lin).astype(np.float32) for c in range(3))


@functools.lru_cache(maxsize=2)
def _gray_lightness_table(levels: int) -> np.ndarray:
    """Gray code value (R = G = B) -> its L*, float32 ``(levels,)``."""
    v = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    return color.rgb_to_lightness(v.view(1, 1, -1).expand(3, 1, -1))[0, 0].float().numpy()


@functools.lru_cache(maxsize=1)
def _srgb_byte_table() -> np.ndarray:
    """Linear light quantized to 1/65535 -> rounded 8-bit sRGB, uint8 ``(65536,)``; the
    quantization moves a value by at most 0.025 of an 8-bit level."""
    v = torch.arange(65536, dtype=torch.float64) / 65535
    return (color.linear_to_srgb(v) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def lightness_of_pixels(pixels: np.ndarray) -> np.ndarray:
    """sRGB pixels ``(H, W, 3)``, or a gray plane ``(H, W)``, uint8 or uint16 -> L* ``(H, W)``
    float32 in [0, 100]."""
    if (pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3)
            or pixels.dtype not in (np.uint8, np.uint16)):
        raise ValueError(f"expected (H, W, 3) or (H, W) uint8 or uint16 pixels, got "
                         f"{pixels.shape} {pixels.dtype}")
    levels = 256 if pixels.dtype == np.uint8 else 65536
    out = np.empty(pixels.shape[:2], dtype=np.float32)
    if pixels.ndim == 2:  # one gray plane: each code value's L* from a table
        return np.take(_gray_lightness_table(levels), pixels, out=out)
    tables = (*_luminance_tables(levels), _gray_lightness_table(levels))
    with kernels.LOCK:
        kernels.luminance_rows(pixels, *tables, out)
    return out


def resampling_plan(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear resampling of ``size_in`` samples to ``size_out`` (``align_corners=False``, as
    ``torch.nn.functional.interpolate``): for each output sample, the two input samples and
    the weight of the second, ``(size_out,)`` int64, int64, float32."""
    src = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
    src = np.clip(src, 0, size_in - 1)
    first = np.floor(src).astype(np.int64)
    second = np.minimum(first + 1, size_in - 1)
    return first, second, (src - first).astype(np.float32)


def merge_to_srgb(L: np.ndarray, chroma: torch.Tensor | np.ndarray, space: str = "lab",
                  dtype: type = np.uint8) -> np.ndarray:
    """Lightness + chroma -> sRGB at the lightness's resolution.

    ``L``: ``(H, W)`` float32 L* in [0, 100]. ``chroma``: ``(2, h, w)`` ab (or uv) in
    colour-space units, any ``h <= H``, ``w <= W`` (upsampled bilinearly, in the same pass).
    Returns ``(H, W, 3)`` ``uint8`` (rounded) or ``float32`` in [0, 1].
    """
    color.check_space(space)
    if L.ndim != 2:
        raise ValueError(f"expected lightness of shape (H, W), got {L.shape}")
    chroma = torch.as_tensor(chroma, dtype=torch.float32)
    if chroma.dim() != 3 or chroma.shape[0] != 2:
        raise ValueError(f"expected chroma of shape (2, h, w), got {tuple(chroma.shape)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.float32):
        raise ValueError(f"output dtype must be uint8 or float32, got {dtype}")
    H, W = L.shape
    L = np.ascontiguousarray(L, dtype=np.float32)
    low = np.ascontiguousarray(chroma.detach().cpu().numpy())
    out = np.empty((H, W, 3), dtype=dtype)
    rows, columns = resampling_plan(low.shape[1], H), resampling_plan(low.shape[2], W)
    table = _srgb_byte_table()
    with kernels.LOCK:
        if space == "lab" and dtype == np.uint8:  # the common case: the float32 SIMD kernel
            a_cols = np.empty((low.shape[1], W), np.float32)
            b_cols = np.empty_like(a_cols)
            kernels.interpolate_columns(low[0], *columns, a_cols)
            kernels.interpolate_columns(low[1], *columns, b_cols)
            kernels.merge_lab_bytes(L, a_cols, b_cols, *rows, _M_INV_32, _WHITE_32, table, out)
        else:
            kernels.merge_rows(L, low[0], low[1], *rows, *columns, _SPACE_CODES[space], _M_INV,
                               _WHITE, table, dtype == np.uint8, out)
    return out
