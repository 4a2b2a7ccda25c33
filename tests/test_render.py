"""The fused full-resolution steps agree with the differentiable reference in tinct.color."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tinct import color
from tinct.inference import render


def reference_lightness(pixels: np.ndarray) -> np.ndarray:
    peak = np.iinfo(pixels.dtype).max
    rgb = torch.from_numpy(pixels.astype(np.float64) / peak).permute(2, 0, 1)
    return color.rgb_to_lightness(rgb)[0].numpy()


def reference_merge(L: np.ndarray, chroma: torch.Tensor, space: str) -> np.ndarray:
    up = F.interpolate(chroma[None].double(), size=L.shape, mode="bilinear",
                       align_corners=False)[0]
    rgb = color.merge_chroma_in_gamut(torch.from_numpy(L).double()[None], up, space)
    return rgb.permute(1, 2, 0).numpy()


@pytest.mark.parametrize("gray", [False, True], ids=["colour", "gray"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lightness_of_pixels_matches_the_colour_science(dtype, gray):
    """Colour pixels go through luminance tables, gray ones (R = G = B) through an L* table."""
    rng = np.random.default_rng(0)
    peak = np.iinfo(dtype).max
    pixels = rng.integers(0, peak + 1, (37, 53, 3)).astype(dtype)
    pixels[0, :3] = [[0, 0, 0], [peak, peak, peak], [peak, 0, 0]]  # black, white, red
    if gray:
        pixels[:] = pixels[..., :1]
    L = render.lightness_of_pixels(pixels)
    assert L.dtype == np.float32 and L.shape == (37, 53)
    assert np.abs(L - reference_lightness(pixels)).max() < 2e-4
    assert L[0, 0] == 0 and abs(L[0, 1] - 100) < 1e-3


@pytest.mark.parametrize("space", ["lab", "luv"])
def test_merge_matches_the_reference_and_keeps_lightness(space):
    torch.manual_seed(0)
    L = np.linspace(0, 100, 61 * 83, dtype=np.float32).reshape(61, 83)
    chroma = (torch.rand(2, 16, 21) - 0.5) * 200  # far outside the gamut in places
    expected = reference_merge(L, chroma, space)
    got = render.merge_to_srgb(L, chroma, space, np.float32)
    assert got.shape == (61, 83, 3) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 2e-5
    back = color.rgb_to_lightness(torch.from_numpy(got).permute(2, 0, 1).double())[0].numpy()
    assert np.abs(back - L).max() < 0.01  # out-of-gamut colours did not change lightness
    as_bytes = render.merge_to_srgb(L, chroma, space, np.uint8)
    assert as_bytes.dtype == np.uint8
    assert np.abs(as_bytes.astype(int) - np.round(expected * 255)).max() <= 1


def test_the_float32_lab_byte_kernel_agrees_with_the_float64_one():
    """Lab -> uint8 runs a float32 SIMD kernel; it gives the float64 kernel's bytes (at most
    one level apart on a few pixels), keeps the lightness within 1 L*, on odd sizes."""
    from tinct import kernels

    rng = np.random.default_rng(3)
    L = rng.uniform(0, 100, (203, 317)).astype(np.float32)
    L[0, :6] = [0, 100, 7.999625, 8.0, 0.5, 99.9]  # ends and the knee of the L* curve
    chroma = torch.from_numpy(rng.normal(0, 45, (2, 29, 41)).astype(np.float32))
    got = render.merge_to_srgb(L, chroma, "lab", np.uint8)
    rows, columns = render.resampling_plan(29, 203), render.resampling_plan(41, 317)
    float64 = np.empty_like(got)
    kernels.merge_rows(L, chroma[0].numpy(), chroma[1].numpy(), *rows, *columns, kernels.LAB,
                       render._M_INV, render._WHITE, render._srgb_byte_table(), True, float64)
    diff = np.abs(got.astype(int) - float64.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    back = render.lightness_of_pixels(got)
    assert np.abs(back - L).max() < 1.0


def test_resampling_plan_is_torch_bilinear():
    """The merge's upsampling is F.interpolate's bilinear (align_corners=False), any ratio."""
    rng = np.random.default_rng(2)
    for h, H in ((1, 7), (5, 5), (16, 61), (23, 90), (7, 3)):
        x = rng.normal(size=h)
        first, second, w = render.resampling_plan(h, H)
        ours = x[first] + w * (x[second] - x[first])
        theirs = F.interpolate(torch.from_numpy(x)[None, None, :, None], size=(H, 1),
                               mode="bilinear", align_corners=False)[0, 0, :, 0].numpy()
        assert np.abs(ours - theirs).max() < 1e-6


def test_zero_chroma_gives_gray_of_the_same_lightness():
    L = np.array([[0, 25, 50], [75, 90, 100]], dtype=np.float32)
    rgb = render.merge_to_srgb(L, torch.zeros(2, 1, 1), "lab", np.float32)
    assert np.abs(rgb - rgb[..., :1]).max() < 1e-4  # the D65 white and matrix of skimage
    gray = np.round(rgb[..., 0] * 255).astype(np.uint8)
    assert np.abs(render.lightness_of_pixels(np.dstack([gray] * 3)) - L).max() < 0.3


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="uint8 or uint16"):
        render.lightness_of_pixels(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(2, h, w\)"):
        render.merge_to_srgb(np.zeros((4, 4), np.float32), torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="colour space"):
        render.merge_to_srgb(np.zeros((4, 4), np.float32), torch.zeros(2, 2, 2), "hsv")


@pytest.mark.timeout(120)  # a fork-unsafe threading layer hangs the child
def test_kernels_are_safe_across_threads_and_fork():
    """The compiled kernels give the same result from several threads at once and in a forked
    child of a process that already ran them (a user's multiprocessing pool)."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    L = rng.uniform(0, 100, (120, 90)).astype(np.float32)
    chroma = torch.from_numpy(rng.normal(0, 30, (2, 30, 23)).astype(np.float32))
    expected = render.merge_to_srgb(L, chroma, "lab")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: render.merge_to_srgb(L, chroma, "lab"), range(8)))
    assert all(np.array_equal(r, expected) for r in results)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        forked = pool.starmap(render.merge_to_srgb, [(L, chroma, "lab")] * 2, chunksize=1)
    assert all(np.array_equal(r, expected) for r in forked)
