"""Colour science in pure PyTorch: sRGB <-> CIE Lab / CIE LUV, normalization, the gamut rule.

Every conversion is batched, differentiable and works in float32 or float64. Images are tensors
with the colour channels on dimension -3, i.e. ``(..., 3, H, W)``:

- sRGB: values in [0, 1] (D65 white, IEC 61966-2-1 transfer curve);
- Lab:  L in [0, 100], a and b roughly in [-110, 110];
- LUV:  L in [0, 100], u roughly in [-83, 175], v roughly in [-134, 107] for sRGB colours.

The constants follow scikit-image (``skimage.color``) so results agree with it to float precision.
"""

from __future__ import annotations

import torch

__all__ = [
    "COLOR_SPACES",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_luv",
    "luv_to_rgb",
    "rgb_to_lightness",
    "to_lightness_chroma",
    "from_lightness_chroma",
    "normalize_lightness",
    "denormalize_lightness",
    "normalize_chroma",
    "denormalize_chroma",
    "merge_chroma_in_gamut",
]

COLOR_SPACES = ("lab", "luv")
CHROMA_SCALE = 110.0  # chroma / 110 puts in-gamut ab roughly into [-1, 1] (Zhang et al.)

# sRGB (D65) <-> XYZ, as in skimage.color
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
WHITE_D65 = (0.95047, 1.0, 1.08883)
LAB_EPSILON = 0.008856
LAB_KAPPA_LINEAR = 7.787
LUV_KAPPA = 903.3


def _check_image(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a floating-point tensor (float32/float64), got {x.dtype}")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must have shape (..., 3, H, W), got {tuple(x.shape)}")


def _matrix(x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    m = torch.tensor(XYZ_FROM_RGB, dtype=torch.float64)
    if inverse:
        m = torch.linalg.inv(m)
    return m.to(dtype=x.dtype, device=x.device)


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multiplies the colour vectors on dim -3 of ``x`` by the 3x3 matrix ``m``."""
    return torch.einsum("ij,...jhw->...ihw", m, x)


def _white(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(WHITE_D65, dtype=x.dtype, device=x.device).view(3, 1, 1)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB transfer curve inverse: gamma-encoded [0, 1] -> linear light [0, 1]."""
    return torch.where(
        rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92
    )


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    """sRGB transfer curve: linear light -> gamma-encoded values (not clipped)."""
    return torch.where(
        lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92
    )


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(
        t > LAB_EPSILON, t.clamp(min=LAB_EPSILON) ** (1 / 3), LAB_KAPPA_LINEAR * t + 16 / 116
    )


def _lab_f_inv(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > 0.2068966, f.clamp(min=0.2068966) ** 3,
                       (f - 16 / 116) / LAB_KAPPA_LINEAR)


def _xyz_to_linear_rgb(xyz: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(_matrix(xyz, inverse=True), xyz)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(..., 3, H, W)`` in [0, 1] -> Lab ``(..., 3, H, W)`` (L in [0, 100])."""
    _check_image(rgb, "rgb")
    xyz = _apply_matrix(_matrix(rgb), srgb_to_linear(rgb)) / _white(rgb)
    f = _lab_f(xyz)
    fx, fy, fz = f.unbind(-3)
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)), dim=-3)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> linear-light RGB, not clipped (values outside [0, 1] are out of the sRGB gamut)."""
    _check_image(lab, "lab")
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = (fy - b / 200).clamp(min=0)  # as skimage: negative Z is clipped
    xyz = _lab_f_inv(torch.stack((fx, fy, fz), dim=-3)) * _white(lab)
    return _xyz_to_linear_rgb(xyz)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Lab ``(..., 3, H, W)`` -> sRGB ``(..., 3, H, W)``, clipped to [0, 1] unless ``clip``."""
    rgb = linear_to_srgb(lab_to_linear_rgb(lab))
    return rgb.clamp(0, 1) if clip else rgb


def _luv_white_uv(x: torch.Tensor) -> tuple[float, float]:
    xn, yn, zn = WHITE_D65
    d = xn + 15 * yn + 3 * zn
    return 4 * xn / d, 9 * yn / d


def rgb_to_luv(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(..., 3, H, W)`` in [0, 1] -> CIE LUV ``(..., 3, H, W)`` (L in [0, 100])."""
    _check_image(rgb, "rgb")
    xyz = _apply_matrix(_matrix(rgb), srgb_to_linear(rgb))
    x, y, z = xyz.unbind(-3)
    yr = y / WHITE_D65[1]
    L = torch.where(yr > LAB_EPSILON, 116 * yr.clamp(min=LAB_EPSILON) ** (1 / 3) - 16,
                    LUV_KAPPA * yr)
    eps = torch.finfo(rgb.dtype).eps
    d = x + 15 * y + 3 * z + eps
    u0, v0 = _luv_white_uv(rgb)
    u = 13 * L * (4 * x / d - u0)
    v = 13 * L * (9 * y / d - v0)
    return torch.stack((L, u, v), dim=-3)


def luv_to_linear_rgb(luv: torch.Tensor) -> torch.Tensor:
    """CIE LUV -> linear-light RGB, not clipped."""
    _check_image(luv, "luv")
    L, u, v = luv.unbind(-3)
    y = torch.where(L > 7.999625, ((L.clamp(min=7.999625) + 16) / 116) ** 3, L / LUV_KAPPA)
    y = y * WHITE_D65[1]
    eps = torch.finfo(luv.dtype).eps
    u0, v0 = _luv_white_uv(luv)
    a = u0 + u / (13 * L + eps)
    b = v0 + v / (13 * L + eps)
    b = torch.where(b.abs() < eps, torch.full_like(b, eps), b)
    c = 3 * y * (5 * b - 3)
    z = ((a - 4) * c - 15 * a * b * y) / (12 * b)
    x = -(c / b + 3 * z)
    return _xyz_to_linear_rgb(torch.stack((x, y, z), dim=-3))


def luv_to_rgb(luv: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """CIE LUV ``(..., 3, H, W)`` -> sRGB ``(..., 3, H, W)``, clipped unless ``clip=False``."""
    rgb = linear_to_srgb(luv_to_linear_rgb(luv))
    return rgb.clamp(0, 1) if clip else rgb


def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(..., 3, H, W)`` -> CIE lightness L* ``(..., 1, H, W)`` in [0, 100].

    L* is the same in Lab and LUV, so this serves both colour spaces.
    """
    _check_image(rgb, "rgb")
    m = _matrix(rgb)[1]
    y = torch.einsum("j,...jhw->...hw", m, srgb_to_linear(rgb)).unsqueeze(-3)
    return 116 * _lab_f(y) - 16


def check_space(space: str) -> None:
    if space not in COLOR_SPACES:
        raise ValueError(f"unknown colour space {space!r}; choose one of {COLOR_SPACES}")


def to_lightness_chroma(rgb: torch.Tensor, space: str = "lab") -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB ``(..., 3, H, W)`` -> (L ``(..., 1, H, W)`` in [0, 100], chroma ``(..., 2, H, W)``)."""
    check_space(space)
    full = rgb_to_lab(rgb) if space == "lab" else rgb_to_luv(rgb)
    return full[..., :1, :, :], full[..., 1:, :, :]


def from_lightness_chroma(
    L: torch.Tensor, chroma: torch.Tensor, space: str = "lab", clip: bool = True
) -> torch.Tensor:
    """(L ``(..., 1, H, W)``, chroma ``(..., 2, H, W)``) in ``space`` -> sRGB ``(..., 3, H, W)``."""
    check_space(space)
    full = torch.cat((L, chroma), dim=-3)
    return lab_to_rgb(full, clip) if space == "lab" else luv_to_rgb(full, clip)


def normalize_lightness(L: torch.Tensor) -> torch.Tensor:
    """L* in [0, 100] -> network input in [-1, 1]."""
    return L / 50.0 - 1.0


def denormalize_lightness(x: torch.Tensor) -> torch.Tensor:
    """Network input in [-1, 1] -> L* in [0, 100]."""
    return (x + 1.0) * 50.0


def normalize_chroma(chroma: torch.Tensor, scale: float = CHROMA_SCALE) -> torch.Tensor:
    """ab (or uv) in colour-space units -> network units, about [-1, 1] for ab."""
    return chroma / scale


def denormalize_chroma(x: torch.Tensor, scale: float = CHROMA_SCALE) -> torch.Tensor:
    """Network units -> ab (or uv) in colour-space units."""
    return x * scale


def merge_chroma_in_gamut(
    L: torch.Tensor, chroma: torch.Tensor, space: str = "lab"
) -> torch.Tensor:
    """Combines lightness and chroma into sRGB while keeping the lightness exactly.

    Colours outside the sRGB gamut are pulled towards the gray of the same luminance in linear
    light (``rgb' = Y + s (rgb - Y)`` with the largest ``s`` in [0, 1] that fits), which keeps
    the luminance Y, and so L*, unchanged and keeps the hue, instead of clipping channels
    (clipping shifts lightness). ``L``: ``(..., 1, H, W)`` in [0, 100]; ``chroma``:
    ``(..., 2, H, W)``. Returns sRGB ``(..., 3, H, W)`` in [0, 1].
    """
    check_space(space)
    full = torch.cat((L, chroma), dim=-3)
    lin = lab_to_linear_rgb(full) if space == "lab" else luv_to_linear_rgb(full)
    y = _lab_f_inv((L.clamp(0, 100) + 16) / 116)  # luminance of the requested lightness
    diff = lin - y
    # largest s with 0 <= y + s * diff <= 1 for every channel
    tiny = 1e-12
    s_hi = torch.where(diff > tiny, (1 - y) / diff.clamp(min=tiny), torch.ones_like(diff))
    s_lo = torch.where(diff < -tiny, y / (-diff).clamp(min=tiny), torch.ones_like(diff))
    s = torch.minimum(s_hi, s_lo).amin(dim=-3, keepdim=True).clamp(0, 1)
    return linear_to_srgb(y + s * diff).clamp(0, 1)
