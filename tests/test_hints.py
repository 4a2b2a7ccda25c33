"""Colour hints from people: parsing, the exact-at-the-pixel correction, gamut notes,
suggestions, and the pipeline with a hint-taking model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tinct import Colorizer, color
from tinct.errors import InputError
from tinct.inference.hints import (
    Hint,
    gamut_notes,
    honour_hints,
    parse_hints,
    read_hints_file,
    suggest_colors,
)


def _lab(pixels) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None].float() / 255
    return color.rgb_to_lab(rgb)[0]


def _hex_lab(code: str) -> torch.Tensor:
    """``#rrggbb`` -> its Lab ``(3,)``."""
    return _lab(np.array([[[int(code[i:i + 2], 16) for i in (1, 3, 5)]]], dtype=np.uint8))[:, 0, 0]


@pytest.mark.parametrize("entries, message", [
    ({"x": 1}, "hints must be a JSON list"),
    ([{"x": 1, "y": 2}], "hint 1: expected an object with x, y and color"),
    ([{"x": 1, "y": 2, "color": "#123456"}, {"x": -1, "y": 2, "color": "#123456"}],
     "hint 2: x must be a number of pixels >= 0"),
    ([{"x": 1, "y": True, "color": "#123456"}], "hint 1: y must be a number"),
    ([{"x": 1, "y": 2, "color": "blue"}], "hint 1: color must be #rrggbb, got 'blue'"),
    ([{"x": 1, "y": 2, "color": "#12345g"}], "color must be #rrggbb"),
    ([{"x": 1, "y": 2, "color": "#123456", "size": 3}], "expected an object with x, y"),
    ([{"x": 1, "y": 2, "color": "#123456"}] * 257, "257 hints; at most 256"),
])
def test_bad_hints_are_one_line_errors_naming_source_and_entry(entries, message):
    with pytest.raises(InputError) as info:
        parse_hints(entries, "dress.json")
    text = str(info.value)
    assert text.startswith("dress.json: ") and message in text and "\n" not in text


def test_hint_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"x": 3, "y": 4.5, "color": "#2050C0"}]))
    assert read_hints_file(good) == [Hint(3.0, 4.5, "#2050c0")]
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(InputError, match=f"^{broken}: not a JSON hint file"):
        read_hints_file(broken)
    with pytest.raises(InputError, match="cannot read hints"):
        read_hints_file(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_text(" " * (1 << 20) + "[]")
    with pytest.raises(InputError, match="larger than 1 MiB"):
        read_hints_file(big)


def test_the_correction_makes_hinted_pixels_exact_and_leaves_the_rest():
    generator = torch.Generator().manual_seed(0)
    chroma = torch.randn(2, 48, 64, generator=generator) * 20
    chroma = F.avg_pool2d(chroma[None], 5, 1, 2, count_include_pad=False)[0]  # smooth
    full = (300, 400)
    rows = torch.randint(0, full[0], (20,), generator=generator)
    cols = torch.randint(0, full[1], (20,), generator=generator)
    colors = torch.randint(0, 256, (20, 3), generator=generator)
    hints = [Hint(float(c), float(r), "#" + "".join(f"{v:02x}" for v in rgb.tolist()))
             for r, c, rgb in zip(rows, cols, colors, strict=True)]
    corrected = honour_hints(chroma, hints, full, "lab")
    upsampled = F.interpolate(corrected[None], size=full, mode="bilinear",
                              align_corners=False)[0]
    for hint in hints:
        row, col = hint.pixel
        got, wanted = upsampled[:, row, col], hint.chroma("lab")
        assert float((got - wanted).norm()) < 0.5, hint
    # far from every hint (more than 6 bump widths on the small grid) nothing changes
    sigma = max(1.0, 0.015 * 64)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    far = torch.ones(48, 64, dtype=torch.bool)
    for hint in hints:
        r, c = (hint.y + 0.5) * 48 / full[0] - 0.5, (hint.x + 0.5) * 64 / full[1] - 0.5
        far &= (yy - r) ** 2 + (xx - c) ** 2 > (6 * sigma) ** 2
    assert far.sum() > 100
    assert torch.allclose(corrected[:, far], chroma[:, far], atol=1e-3)


def test_gamut_notes_name_hints_that_cannot_be_shown():
    L = np.array([[90.0, 30.0]], dtype=np.float32)
    assert gamut_notes([Hint(0, 0, "#f0f0e8")], L, "lab") == []  # pale at L* 90: shown
    saturated = [Hint(0, 0, "#2040ff")]  # a deep blue cannot be that saturated at L* 90
    (note,) = gamut_notes(saturated, L, "lab")
    assert note.startswith("hint 1 (#2040ff) is out of gamut") and "L* 90" in note
    assert abs(float(_hex_lab(note.split()[-2])[0]) - 90) < 1  # it keeps the pixel's L*


def test_suggestions_are_the_likely_distinct_colours():
    centres = torch.tensor([[0.0, 0.0], [40.0, 40.0], [42.0, 38.0], [-40.0, 10.0], [5.0, 3.0]])
    probabilities = torch.tensor([0.05, 0.5, 0.2, 0.2, 0.05])
    suggestions = suggest_colors(probabilities, centres, 60.0, "lab", count=3,
                                 min_distance=12)
    # bin 2 is too close to bin 1 to be offered; its mass counts for bin 1
    assert [round(s["probability"], 2) for s in suggestions] == [0.7, 0.2, 0.1]
    lab = _hex_lab(suggestions[0]["color"])
    assert abs(float(lab[0]) - 60) < 1 and float((lab[1:] - centres[1]).norm()) < 4


@pytest.fixture(scope="module")
def gray_astronaut() -> np.ndarray:
    from PIL import Image
    from skimage import data

    rgb = np.asarray(Image.fromarray(data.astronaut()).resize((200, 150)))
    return np.repeat(rgb.mean(2, keepdims=True).astype(np.uint8), 3, 2)


@pytest.mark.parametrize("model, flip", [("tiny_hint_classifier_dir", False),
                                         ("tiny_hint_classifier_dir", True),
                                         ("tiny_classifier_dir", False)])
def test_hinted_pixels_get_their_colour(request, model, gray_astronaut, flip):
    """On a model trained with hints, and on one without hint inputs (the correction after
    decoding alone), with and without flip averaging."""
    colorizer = Colorizer.from_pretrained(request.getfixturevalue(model), device="cpu")
    assert colorizer.accepts_hints == (model == "tiny_hint_classifier_dir")
    colorizer.flip = flip
    hints = [{"x": 20, "y": 30, "color": "#c02020"}, {"x": 150.7, "y": 100.2, "color": "#2050c0"},
             {"x": 199, "y": 149, "color": "#30a040"}, {"x": 90, "y": 10, "color": "#e0d040"}]
    plain = np.asarray(colorizer.colorize(gray_astronaut))
    hinted = np.asarray(colorizer.colorize(gray_astronaut, hints=hints))
    lab, L = _lab(hinted), colorizer.lightness(gray_astronaut)[0]
    assert torch.allclose(lab[0], L, atol=1.0)  # the photo's lightness is kept
    parsed = parse_hints(hints, "test")
    out_of_gamut = {int(n.split()[1]) for n in gamut_notes(parsed, L, "lab")}
    for i, hint in enumerate(parsed, 1):
        row, col = hint.pixel
        got = lab[1:, row, col]
        if i in out_of_gamut:  # the nearest colour it can have at that lightness
            (note,) = gamut_notes([hint], L, "lab")
            target = _hex_lab(note.split()[-2])[1:]
        else:
            target = hint.chroma("lab")
        assert float((got - target).norm()) < 6, (hint, got, target)
    # the hints change the picture beyond the hinted pixels ...
    changed = np.abs(hinted.astype(int) - plain).max(2) > 3
    assert changed.sum() > 9 * len(hints)
    # ... and no hints is the automatic colorization
    assert np.array_equal(np.asarray(colorizer.colorize(gray_astronaut, hints=[])), plain)


def test_hints_must_lie_inside_the_photo(tiny_hint_classifier_dir, gray_astronaut):
    hinting = Colorizer.from_pretrained(tiny_hint_classifier_dir, device="cpu")
    assert hinting.accepts_hints
    with pytest.raises(InputError, match=r"hint 1 at x=200, y=3 is outside the 200x150 image"):
        hinting.colorize(gray_astronaut, hints=[{"x": 200, "y": 3, "color": "#ffffff"}])


def test_suggestions_for_a_pixel_of_a_photo(tiny_hint_classifier_dir, tiny_model_dir,
                                            gray_astronaut):
    colorizer = Colorizer.from_pretrained(tiny_hint_classifier_dir, device="cpu")
    suggestions = colorizer.suggest(gray_astronaut, 120, 40, count=4)
    assert 1 <= len(suggestions) <= 4
    assert abs(sum(s["probability"] for s in suggestions) - 1) < 0.01
    L = float(colorizer.lightness(gray_astronaut)[0, 40, 120])
    for s in suggestions:  # each at the pixel's own lightness
        assert abs(float(_hex_lab(s["color"])[0]) - L) < 1.5
    with pytest.raises(InputError, match="outside the 200x150 image"):
        colorizer.suggest(gray_astronaut, 5, 150)
    regression = Colorizer.from_pretrained(tiny_model_dir, device="cpu")
    with pytest.raises(InputError, match="predicts colour directly"):
        regression.suggest(gray_astronaut, 5, 5)


def test_a_lightness_guide_keeps_the_correction_on_its_side_of_an_edge():
    """With the image's lightness as a guide, a hint's correction fades across a lightness
    edge (a dark dress does not tint the light wall beside it); the hinted pixel is exact."""
    chroma = torch.zeros(2, 40, 40)
    guide = torch.full((40, 40), 80.0)
    guide[:, :20] = 30.0  # a dark left half, a light right half
    hint = [Hint(15.0, 20.0, "#2050c0")]  # on the dark side, near the edge
    spread = dict(full_shape=(40, 40), space="lab", width_share=0.2)
    plain = honour_hints(chroma, hint, **spread)
    guided = honour_hints(chroma, hint, guide=guide, lightness_width=10.0, **spread)
    wanted = hint[0].chroma("lab")
    for corrected in (plain, guided):
        assert float((corrected[:, 20, 15] - wanted).norm()) < 0.5
    across = (slice(None), 20, 25)  # ten pixels away, on the light side
    assert plain[across].norm() > 0.3 * wanted.norm()
    assert guided[across].norm() < 0.01 * wanted.norm()
