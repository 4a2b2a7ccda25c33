"""Tests for tinct.color: conversions against scikit-image, gradients, gamut mapping, bins."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from tinct import color
from tinct.models import quantization

N_COLOURS = 100_000
TOLERANCE = 1e-3  # max abs error against scikit-image, in colour-space units or [0, 1] RGB

GAMUT_CORNERS = np.array([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], np.float64)

FORWARD = {"lab": (color.rgb_to_lab, skcolor.rgb2lab), "luv": (color.rgb_to_luv, skcolor.rgb2luv)}
INVERSE = {"lab": (color.lab_to_rgb, skcolor.lab2rgb), "luv": (color.luv_to_rgb, skcolor.luv2rgb)}


@pytest.fixture(scope="module")
def random_rgb() -> np.ndarray:
    """(N + 8, 3) float64 sRGB in [0, 1]: uniform random colours and the 8 gamut corners."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.random((N_COLOURS, 3)), GAMUT_CORNERS])


def to_tensor(colours: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """(N, 3) -> (3, N, 1): colour channels on dim -3, as tinct.color expects."""
    return torch.from_numpy(np.ascontiguousarray(colours.T)).to(dtype).unsqueeze(-1)


def to_rows(image: torch.Tensor) -> np.ndarray:
    """(3, N, 1) -> (N, 3) float64."""
    return image.reshape(3, -1).T.double().numpy()


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("space", ["lab", "luv"])
def test_forward_matches_skimage(random_rgb, space, dtype):
    ours, reference = FORWARD[space]
    got = to_rows(ours(to_tensor(random_rgb, dtype)))
    error = np.abs(got - reference(random_rgb)).max()
    assert error <= TOLERANCE, f"rgb->{space} {dtype}: max abs error {error:.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("space", ["lab", "luv"])
def test_inverse_matches_skimage_in_gamut(random_rgb, space, dtype):
    forward, _ = FORWARD[space]
    ours, reference = INVERSE[space]
    values = to_rows(forward(to_tensor(random_rgb, torch.float64)))
    got = to_rows(ours(to_tensor(values, dtype)))
    error = np.abs(got - reference(values)).max()
    assert error <= TOLERANCE, f"{space}->rgb {dtype}: max abs error {error:.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("space", ["lab", "luv"])
def test_inverse_matches_skimage_out_of_gamut(space, dtype):
    """Random values over the whole colour-space box (mostly out of gamut, clipped)."""
    rng = np.random.default_rng(1)
    n = N_COLOURS
    if space == "lab":
        values = np.stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n),
                           rng.uniform(-110, 110, n)], 1)
    else:  # L = 0 has no defined chroma in LUV; skimage and tinct agree from L = 1 up
        values = np.stack([rng.uniform(1, 100, n), rng.uniform(-83, 175, n),
                           rng.uniform(-134, 107, n)], 1)
    ours, reference = INVERSE[space]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about clipped negative Z values
        expected = reference(values)
    got = to_rows(ours(to_tensor(values, dtype)))
    assert got.min() >= 0 and got.max() <= 1
    error = np.abs(got - expected).max()
    assert error <= TOLERANCE, f"{space}->rgb {dtype} (box): max abs error {error:.3g}"


@pytest.mark.parametrize("space", ["lab", "luv"])
def test_round_trip(random_rgb, space):
    forward, _ = FORWARD[space]
    inverse, _ = INVERSE[space]
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        rgb = to_tensor(random_rgb, dtype)
        back = inverse(forward(rgb), clip=False)
        assert back.dtype == dtype
        assert (back - rgb).abs().max().item() <= tolerance


def test_batched_shapes_and_device_agnostic_values():
    rgb = torch.rand(2, 4, 3, 5, 7, dtype=torch.float64)
    lab = color.rgb_to_lab(rgb)
    assert lab.shape == rgb.shape
    one = color.rgb_to_lab(rgb[1, 2])
    assert torch.allclose(lab[1, 2], one, atol=1e-12)


# --------------------------------------------------------------------------- gradients


def _safe_rgb() -> torch.Tensor:
    """Small float64 colours well away from the piecewise thresholds (0.04045, L* ~ 8)."""
    gen = torch.Generator().manual_seed(0)
    return (0.25 + 0.6 * torch.rand(1, 3, 2, 3, generator=gen, dtype=torch.float64))


@pytest.mark.parametrize("name", ["rgb_to_lab", "lab_to_rgb", "rgb_to_luv", "luv_to_rgb"])
def test_gradcheck(name):
    rgb = _safe_rgb()
    if name.startswith("rgb"):
        fn, x = getattr(color, name), rgb
    else:
        to_space = color.rgb_to_lab if name == "lab_to_rgb" else color.rgb_to_luv
        inverse = getattr(color, name)
        x = to_space(rgb).detach()

        def fn(v):
            return inverse(v, clip=False)

    x = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


def test_gradients_are_finite_at_black_and_white():
    rgb = torch.tensor(GAMUT_CORNERS.T.copy()).unsqueeze(-1).requires_grad_(True)
    for fn in (color.rgb_to_lab, color.rgb_to_luv):
        (grad,) = torch.autograd.grad(fn(rgb).sum(), rgb)
        assert torch.isfinite(grad).all(), fn.__name__


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("fn", [color.rgb_to_lab, color.lab_to_rgb, color.rgb_to_luv,
                                color.luv_to_rgb, color.rgb_to_lightness])
def test_shape_and_dtype_errors(fn):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        fn(torch.zeros(1, 4, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        fn(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        fn(torch.zeros(3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        fn(np.zeros((3, 2, 2)))


def test_unknown_space_is_an_error():
    with pytest.raises(ValueError, match="colour space"):
        color.to_lightness_chroma(torch.rand(3, 2, 2), space="hsv")


# --------------------------------------------------------------------------- lightness, merge


def test_rgb_to_lightness_equals_lab_L(random_rgb):
    rgb = to_tensor(random_rgb, torch.float64)
    L = color.rgb_to_lightness(rgb)
    assert L.shape == (1, rgb.shape[1], 1)
    assert torch.allclose(L, color.rgb_to_lab(rgb)[:1], atol=1e-9)
    assert torch.allclose(L, color.rgb_to_luv(rgb)[:1], atol=1e-9)


def test_lightness_chroma_split_round_trip():
    rgb = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    for space in color.COLOR_SPACES:
        L, chroma = color.to_lightness_chroma(rgb, space)
        assert L.shape == (2, 1, 4, 5) and chroma.shape == (2, 2, 4, 5)
        back = color.from_lightness_chroma(L, chroma, space, clip=False)
        assert torch.allclose(back, rgb, atol=1e-9)


def test_normalization_round_trips_and_ranges():
    L = torch.tensor([0.0, 50.0, 100.0])
    assert torch.equal(color.normalize_lightness(L), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(color.denormalize_lightness(color.normalize_lightness(L)), L)
    ab = torch.tensor([-110.0, 0.0, 55.0])
    assert torch.allclose(color.normalize_chroma(ab), torch.tensor([-1.0, 0.0, 0.5]))
    assert torch.allclose(color.denormalize_chroma(color.normalize_chroma(ab)), ab)


@pytest.mark.parametrize("space", ["lab", "luv"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_merge_chroma_in_gamut_keeps_lightness_for_wild_chroma(space, dtype):
    gen = torch.Generator().manual_seed(3)
    L = 100 * torch.rand(1, 1, 64, 64, generator=gen).to(dtype)
    chroma = (400 * torch.rand(1, 2, 64, 64, generator=gen) - 200).to(dtype)  # far out of gamut
    rgb = color.merge_chroma_in_gamut(L, chroma, space)
    assert rgb.shape == (1, 3, 64, 64)
    assert rgb.min() >= 0 and rgb.max() <= 1
    error = (color.rgb_to_lightness(rgb.double()) - L.double()).abs().max().item()
    assert error <= 0.01


def test_merge_chroma_in_gamut_leaves_in_gamut_colours_alone():
    rgb = 0.1 + 0.8 * torch.rand(1, 3, 16, 16, dtype=torch.float64)
    L, ab = color.to_lightness_chroma(rgb)
    assert torch.allclose(color.merge_chroma_in_gamut(L, ab), rgb, atol=1e-9)


def test_merge_chroma_in_gamut_keeps_the_hue_direction():
    """An out-of-gamut colour is desaturated towards gray, not rotated."""
    L = torch.full((1, 1, 1, 1), 50.0, dtype=torch.float64)
    ab = torch.tensor([150.0, 0.0], dtype=torch.float64).view(1, 2, 1, 1)  # too red
    rgb = color.merge_chroma_in_gamut(L, ab)
    out_ab = color.rgb_to_lab(rgb)[:, 1:].flatten()
    assert out_ab[0] > 30  # still clearly red-magenta
    angle = torch.rad2deg(torch.atan2(out_ab[1], out_ab[0])).abs().item()
    assert angle < 25  # hue drift of a luminance-preserving desaturation is small


# --------------------------------------------------------------------------- quantization


def _reached_cells(step: int = 3) -> set[tuple[int, int]]:
    """ab cells (step-10 grid) reached by the 8-bit sRGB colours with levels 0, 3, ..., 255."""
    levels = torch.arange(0, 256, step, dtype=torch.float64) / 255
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)
    ab = color.rgb_to_lab(rgb)[1:].reshape(2, -1).T
    return set(map(tuple, torch.unique(torch.round(ab / 10).long(), dim=0).tolist()))


def test_gamut_bins_properties():
    bins = quantization.gamut_bins()
    assert bins.dtype == torch.float32 and bins.dim() == 2 and bins.shape[1] == 2
    assert torch.equal(bins, torch.round(bins / 10) * 10)  # centres are multiples of 10
    a, b = bins[:, 0], bins[:, 1]
    assert (a.min().item(), a.max().item()) == (-90, 100)
    assert (b.min().item(), b.max().item()) == (-110, 90)
    assert len(torch.unique(bins, dim=0)) == len(bins)
    # brute force over an 8-bit sample of the sRGB cube: the cells it reaches are exactly the
    # bins, so every bin contains an sRGB colour and every sampled colour has a bin
    bins_cells = set(map(tuple, torch.round(bins / 10).long().tolist()))
    assert _reached_cells() == bins_cells
    assert len(bins) == 261


def test_gamut_bins_is_a_fresh_copy_and_checks_step():
    first = quantization.gamut_bins()
    first[:] = 0
    assert quantization.gamut_bins().abs().sum() > 0
    with pytest.raises(ValueError, match="step"):
        quantization.gamut_bins(0)


def test_soft_encode_distribution():
    bins = quantization.gamut_bins()
    gen = torch.Generator().manual_seed(0)
    ab = 120 * torch.rand(2, 2, 5, 7, generator=gen) - 60
    q = quantization.soft_encode(ab, bins)
    assert q.shape == (2, len(bins), 5, 7)
    assert torch.allclose(q.sum(1), torch.ones(2, 5, 7), atol=1e-5)
    assert (q >= 0).all() and ((q > 0).sum(1) == 5).all()
    nearest = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins).argmin(1)
    assert torch.equal(q.permute(0, 2, 3, 1).reshape(-1, len(bins)).argmax(1), nearest)


def test_nearest_bins_on_the_grid_match_the_full_search(monkeypatch):
    """The grid search of the gamut bins finds the same k nearest bins as comparing every
    bin: for colours in the gamut (without any full search at all), near its edges and far
    outside it (where it falls back to the full search); a palette off any grid (k-means)
    is always searched in full."""
    bins = quantization.gamut_bins()
    gen = torch.Generator().manual_seed(3)
    inside = 30 * torch.randn(4000, 2, generator=gen)
    inside = inside[torch.cdist(inside, bins).amin(1) < 5]  # colours within the bins' reach
    anywhere = 260 * torch.rand(4000, 2, generator=gen) - 130
    for points in (inside, anywhere):
        want_d, want_i = torch.cdist(points, bins).topk(5, dim=1, largest=False)
        got_d, got_i = quantization.nearest_bins(points, bins, 5)
        assert torch.equal(got_i, want_i)
        assert torch.allclose(got_d, want_d, atol=5e-3)  # cdist itself is off by 1e-3

    def no_full_search(*args, **kwargs):
        raise AssertionError("searched every bin")

    monkeypatch.setattr(torch, "cdist", no_full_search)
    quantization.nearest_bins(inside, bins, 5)  # the grid alone answers these
    with pytest.raises(AssertionError, match="searched every bin"):
        quantization.nearest_bins(torch.tensor([[200.0, -200.0]]), bins, 5)
    palette = bins[::3] + 0.37 * torch.arange(len(bins[::3])).unsqueeze(1) % 3
    with pytest.raises(AssertionError, match="searched every bin"):
        quantization.nearest_bins(inside, palette, 5)


def test_nearest_bins_sees_bins_changed_in_place():
    """The grid layout is remembered per bins tensor; a tensor changed in place (a palette
    loaded into a model's buffer) is searched as it is now, not as it was."""
    bins = quantization.gamut_bins().clone()
    points = 30 * torch.randn(500, 2, generator=torch.Generator().manual_seed(4))
    quantization.nearest_bins(points, bins, 5)  # remembered as a grid
    bins[::2] += 37.3  # off the grid now, and far from where they were
    want = torch.cdist(points, bins).topk(5, dim=1, largest=False).indices
    assert torch.equal(quantization.nearest_bins(points, bins, 5)[1], want)


def test_soft_encode_is_exact_on_a_bin_centre():
    bins = quantization.gamut_bins()
    centre = torch.tensor([10.0, 20.0])  # an interior bin: its 4 nearest neighbours are at 10
    k = int(torch.nonzero((bins == centre).all(1)).item())
    q = quantization.soft_encode(centre.view(1, 2, 1, 1), bins, sigma=5.0, neighbours=5).flatten()
    near = torch.exp(torch.tensor(-(10.0**2) / (2 * 5.0**2)))
    total = 1 + 4 * near
    assert q[k].item() == pytest.approx(1 / total.item(), rel=1e-5)
    neighbours = torch.nonzero(q).flatten()
    assert len(neighbours) == 5
    for j in neighbours.tolist():
        if j != k:
            assert torch.dist(bins[j], centre).item() == pytest.approx(10.0)
            assert q[j].item() == pytest.approx((near / total).item(), rel=1e-5)


def test_annealed_mean_mean_and_mode():
    centres = torch.tensor([[-50.0, 0.0], [0.0, 40.0], [60.0, -20.0]])
    logits = torch.tensor([0.5, 2.0, 1.0]).view(1, 3, 1, 1)
    p = torch.softmax(logits.flatten(), 0)
    mean = (p[:, None] * centres).sum(0)
    decoded = quantization.annealed_mean(logits, centres, 1.0).flatten()
    assert torch.allclose(decoded, mean, atol=1e-5)
    mode = quantization.annealed_mean(logits, centres, 0.01).flatten()
    assert torch.allclose(mode, centres[1], atol=1e-3)
    # lower temperatures move monotonically from the mean towards the mode
    distances = [torch.dist(quantization.annealed_mean(logits, centres, t).flatten(), centres[1])
                 for t in (1.0, 0.38, 0.1)]
    assert distances[0] > distances[1] > distances[2]
    with pytest.raises(ValueError, match="temperature"):
        quantization.annealed_mean(logits, centres, 0.0)


def test_kmeans_palette_recovers_separated_clusters():
    gen = torch.Generator().manual_seed(0)
    truth = torch.tensor([[-50.0, -50.0], [0.0, 60.0], [70.0, 0.0]])
    samples = torch.cat([c + 3 * torch.randn(200, 2, generator=gen) for c in truth])
    palette = quantization.kmeans_palette(samples, 3, seed=1)
    assert palette.shape == (3, 2)
    # each true centre has a palette entry within 1 unit, and the matching is one-to-one
    distance = torch.cdist(truth, palette)
    assert distance.min(1).values.max() < 1.0
    assert len(set(distance.argmin(1).tolist())) == 3
    with pytest.raises(ValueError, match="at least"):
        quantization.kmeans_palette(samples[:2], 3)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        quantization.kmeans_palette(torch.zeros(10, 3), 2)


@pytest.mark.parametrize("channels_last", [False, True])
def test_compiled_annealed_mean_agrees_with_the_torch_ops(channels_last):
    """Inference decodes in one compiled pass; training (autograd) in torch ops: the same
    chroma to float32 rounding, with and without a rebalancing bias, in either layout."""
    torch.manual_seed(0)
    centres = quantization.gamut_bins()
    logits = torch.randn(3, len(centres), 9, 11) * 4
    if channels_last:
        logits = logits.contiguous(memory_format=torch.channels_last)
    bias = torch.randn(len(centres))
    for b in (None, bias):
        with torch.no_grad():
            fast = quantization.annealed_mean(logits, centres, 0.6, b)
        reference = quantization.annealed_mean(logits.clone().requires_grad_(), centres, 0.6, b)
        assert fast.shape == (3, 2, 9, 11)
        assert torch.allclose(fast, reference.detach(), atol=1e-4)
