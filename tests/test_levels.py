"""Input levels (tinct.inference.levels): a faded scan's lightness stretched before the network
sees it, in the function, the Colorizer, the saved config and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import Colorizer, color
from tinct.inference import checkpoint
from tinct.inference.levels import stretch_levels


def lightness_of(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> L* ``(1, 1, H, W)`` float32."""
    rgb = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255
    return color.rgb_to_lightness(rgb)[None]


def faded(L: torch.Tensor, black: float = 18.0, white: float = 84.0) -> torch.Tensor:
    """Lifted blacks and dulled whites, as an old print fades."""
    return black + (white - black) * L / 100.0


@pytest.fixture(scope="module")
def photo_L(photo_of) -> torch.Tensor:
    return lightness_of(photo_of("astronaut", (96, 80)))


def test_a_faded_photo_is_stretched_back_to_the_clean_one(photo_L):
    restored = stretch_levels(faded(photo_L))
    # the linear fade is undone up to the quantiles' clipping of the extreme 0.5%
    assert (restored - stretch_levels(photo_L)).abs().mean() < 0.5
    assert (faded(photo_L) - photo_L).abs().mean() > 5  # while the fade itself was large
    assert restored.shape == photo_L.shape and restored.dtype == photo_L.dtype
    assert restored.min() >= 0 and restored.max() <= 100


def test_each_image_of_a_batch_gets_its_own_levels(photo_L):
    batch = torch.cat([photo_L, faded(photo_L, 25, 80)])
    out = stretch_levels(batch)
    torch.testing.assert_close(out[1], out[0], atol=1.0, rtol=0)
    torch.testing.assert_close(out[:1], stretch_levels(photo_L))


def test_a_photo_spanning_the_range_is_nearly_unchanged():
    ramp = torch.linspace(0, 100, 200).repeat(1, 1, 50, 1)  # every level, evenly
    assert (stretch_levels(ramp) - ramp).abs().max() < 1.0


def test_a_narrow_range_is_stretched_at_most_two_times():
    mist = 40 + 10 * torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    out = stretch_levels(mist)  # a span of 10 counts as 50
    spread = (out.max() - out.min()) / (mist.max() - mist.min())
    assert 1.9 < spread < 2.05
    bright = stretch_levels(torch.full((1, 1, 8, 8), 97.0))  # no room above: kept in range
    assert bright.min() >= 0 and bright.max() <= 100


def test_bad_arguments_are_refused(photo_L):
    with pytest.raises(ValueError, match="B, 1, H, W"):
        stretch_levels(photo_L[0])
    with pytest.raises(ValueError, match="low < high"):
        stretch_levels(photo_L, low=0.9, high=0.1)
    with pytest.raises(ValueError, match="min_span"):
        stretch_levels(photo_L, min_span=0)


@pytest.fixture(scope="module")
def shipped() -> Colorizer:
    """The shipped model: a trained network, whose colour depends on what it sees."""
    return Colorizer.from_pretrained(None, device="cpu", precision="fp32")


def gray_scan(L: torch.Tensor) -> np.ndarray:
    """L* ``(1, 1, H, W)`` -> the 8-bit gray sRGB image of it, ``(H, W, 3)``."""
    lab = torch.cat([L[0], torch.zeros(2, *L.shape[-2:])])
    return (color.lab_to_rgb(lab).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_with_levels_a_faded_scan_gets_the_clean_photos_colour(shipped, photo_L):
    assert shipped.levels is False  # off unless the model's config or the caller asks
    scan = faded(photo_L)
    without = (shipped.predict_chroma(scan) - shipped.predict_chroma(photo_L)).abs().mean()
    shipped.levels = True
    try:
        with_levels = (shipped.predict_chroma(scan) - shipped.predict_chroma(photo_L)
                       ).abs().mean()
    finally:
        shipped.levels = False
    assert without > 1.0  # the fade changes the colour (ab units)...
    assert with_levels < 0.2 * without  # ...and with levels the two look alike to the network


def test_with_levels_gives_a_view_and_leaves_the_colorizer_as_it_was(shipped, photo_L):
    assert shipped.with_levels(False) is shipped
    view = shipped.with_levels(True)
    assert view is not shipped and view.model is shipped.model  # one network, shared
    assert view.levels is True and shipped.levels is False
    scan = faded(photo_L)
    assert not torch.allclose(view.predict_chroma(scan), shipped.predict_chroma(scan))


def test_the_output_keeps_the_scans_own_lightness(shipped, photo_L):
    gray = gray_scan(faded(photo_L))
    shipped.levels = True
    try:
        out = np.asarray(shipped.colorize(Image.fromarray(gray)))
    finally:
        shipped.levels = False
    assert (lightness_of(out) - lightness_of(gray)).abs().max() < 1.5
    assert np.abs(out.astype(int) - gray).max() > 10  # and it is coloured


def test_a_saved_model_can_ask_for_levels(tiny_classifier_dir, tmp_path):
    config = checkpoint.read_config(tiny_classifier_dir)
    assert "levels" not in config.to_dict()["inference"]  # written only when on
    folder = tmp_path / "levelled"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(tiny_classifier_dir / "model.safetensors")
    checkpoint.write_config(folder, config.replace(levels=True))
    doc = json.loads((folder / "config.json").read_text())
    assert doc["inference"]["levels"] is True
    assert Colorizer.from_pretrained(folder, device="cpu").levels is True
    with pytest.raises(ValueError, match="inference.levels must be true or false"):
        config.replace(levels="yes")
    listing = subprocess.run([sys.executable, "-m", "tinct", "models"], capture_output=True,
                             text=True, env={**os.environ, "TINCT_MODELS": str(tmp_path)})
    assert listing.returncode == 0, listing.stderr
    assert "levelled:" in listing.stdout and "input levels" in listing.stdout


def test_cli_levels_changes_a_faded_scans_colour_not_its_lightness(photo_L, tmp_path):
    Image.fromarray(gray_scan(faded(photo_L))).save(tmp_path / "scan.png")
    lab = {}
    for flag in ("--levels", "--no-levels"):
        out = tmp_path / flag.strip("-")
        run = subprocess.run([sys.executable, "-m", "tinct", "colorize", str(tmp_path / "scan.png"),
                              "-o", str(out), flag, "--no-progress"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        rgb = np.array(Image.open(out / "scan.png").convert("RGB"))
        lab[flag] = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    assert (lab["--levels"][1:] - lab["--no-levels"][1:]).abs().mean() > 1.0  # other colour
    assert (lab["--levels"][0] - lab["--no-levels"][0]).abs().max() < 1.5  # same lightness
