"""The edge-aware spread of sparse corrections (tinct.inference.propagation)."""

import torch

from tinct.inference.hints import Hint, honour_hints
from tinct.inference.propagation import spread_corrections


def two_regions(height: int = 60, width: int = 90) -> torch.Tensor:
    """L* ``(height, width)``: a dark left third (30) and a light rest (75), a little noise."""
    guide = torch.full((height, width), 75.0)
    guide[:, : width // 3] = 30.0
    return guide + torch.randn(height, width, generator=torch.Generator().manual_seed(0))


def test_a_correction_fills_its_region_and_stops_at_the_edge():
    guide = two_regions()
    wanted = torch.tensor([[20.0], [-10.0]])
    field = spread_corrections(wanted, torch.tensor([30.0]), torch.tensor([10.0]), guide,
                               lightness_width=6.0, reach=1000.0)
    assert field.shape == (2, 60, 90)
    assert torch.allclose(field[:, 30, 10], wanted[:, 0], atol=1.0)  # met at the place
    # the whole dark region follows (far corners too), the light region does not
    for row, col in ((0, 0), (59, 0), (0, 28), (59, 28)):
        assert float((field[:, row, col] - wanted[:, 0]).norm()) < 0.25 * float(wanted.norm())
    assert field[:, :, 32:].abs().max() < 0.05 * wanted.abs().max()


def test_a_correction_fades_with_its_reach_and_is_linear():
    guide = torch.full((64, 64), 50.0)
    wanted = torch.tensor([[10.0]])
    place = (torch.tensor([32.0]), torch.tensor([32.0]))
    short = spread_corrections(wanted, *place, guide, 6.0, reach=4.0)
    long = spread_corrections(wanted, *place, guide, 6.0, reach=40.0)
    assert short[0, 32, 32] > 8 and long[0, 32, 32] > 8
    assert short[0, 32, 52] < 0.1 < long[0, 32, 52] / 5  # 20 px away: gone vs still there
    twice = spread_corrections(2 * wanted, *place, guide, 6.0, reach=4.0)
    assert torch.allclose(twice, 2 * short, atol=1e-3)


def test_hints_recolour_their_region_with_the_exact_pixel_kept():
    """A hint on a uniform region: with the region spread, pixels 30 px away take most of the
    hint's colour; without it (reach 0) they keep the network's; the hinted pixel is exact
    either way, and the other region is left alone."""
    guide = two_regions()
    chroma = torch.zeros(2, 60, 90)
    hint = [Hint(60.0, 30.0, "#2050c0")]  # in the light region
    wanted = hint[0].chroma("lab")
    settings = dict(full_shape=(60, 90), space="lab", guide=guide)
    region = honour_hints(chroma, hint, reach_share=2.0, region_lightness=6.0, **settings)
    local = honour_hints(chroma, hint, reach_share=0.0, **settings)
    for corrected in (region, local):
        assert float((corrected[:, 30, 60] - wanted).norm()) < 0.5
    assert float((region[:, 30, 88] - wanted).norm()) < 0.3 * float(wanted.norm())
    assert float(local[:, 30, 88].norm()) < 0.05 * float(wanted.norm())
    assert float(region[:, :, :28].norm(dim=0).max()) < 0.05 * float(wanted.norm())
