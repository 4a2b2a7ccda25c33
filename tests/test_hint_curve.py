"""Quality against the number of true-colour hints: the hints, the curve, the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tinct import Colorizer
from tinct.evaluation.hint_curve import hint_curve, photo_seed, true_color_hints

ROOT = Path(__file__).resolve().parents[1]


def test_true_colour_hints_are_seeded_and_nested(photo_of):
    pixels = photo_of("astronaut", (64, 48))
    many = true_color_hints(pixels, 20, photo_seed("a/b.png", 0))
    assert many[:5] == true_color_hints(pixels, 5, photo_seed("a/b.png", 0))
    assert many != true_color_hints(pixels, 20, photo_seed("a/c.png", 0))
    for hint in many:  # each is the photo's own colour at its pixel
        row, col = hint.pixel
        assert hint.color == "#" + "".join(f"{v:02x}" for v in pixels[row, col])


def _photos(folder: Path, photo_of) -> Path:
    folder.mkdir()
    for name in ("chelsea", "coffee", "astronaut"):
        Image.fromarray(photo_of(name, (72, 56))).save(folder / f"{name}.png")
    Image.fromarray(photo_of("camera", (72, 56))).convert("L").save(folder / "gray.png")
    return folder


def test_true_colour_hints_raise_quality(tiny_hint_classifier_dir, photo_of, tmp_path):
    folder = _photos(tmp_path / "set", photo_of)
    colorizer = Colorizer.from_pretrained(tiny_hint_classifier_dir, device="cpu")
    curve = hint_curve(colorizer, folder, (0, 5, 50), progress=False)
    assert curve.photos == 3 and curve.counts == [0, 5, 50]
    assert curve.skipped == ["set/gray.png: looks gray"]  # no machine path
    # the photo's own colours at 50 places: closer to the photo than no hints at all
    assert curve.psnr[2] > curve.psnr[0] and curve.auc[2] > curve.auc[0]
    again = hint_curve(colorizer, folder, (0, 5, 50), progress=False)
    assert again.psnr == curve.psnr  # the same hints every time


def test_the_script_writes_json_charts_and_a_table(tiny_hint_classifier_dir,
                                                   tiny_classifier_dir, photo_of, tmp_path):
    folder = _photos(tmp_path / "set", photo_of)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "hint_curve.py"),
                           "-m", str(tiny_hint_classifier_dir), "-m", str(tiny_classifier_dir),
                           "--data", str(folder), "-o", str(out), "--counts", "0,2,10"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    curves = json.loads((out / "hint_curves.json").read_text())
    # every model gets every count: the automatic one honours hints by the correction alone
    assert [(c["model"], c["counts"]) for c in curves] == [
        ("tiny-hint-classifier", [0, 2, 10]), ("tiny-classifier", [0, 2, 10])]
    assert (out / "hint_psnr.svg").read_text().startswith("<svg")
    assert (out / "hint_auc.svg").is_file()
    rows = [line for line in done.stdout.splitlines() if line.startswith("| tiny")]
    assert len(rows) == 2 and all(row.count(" dB / ") == 3 for row in rows)
    for curve in curves:
        assert np.isfinite(curve["psnr"]).all()
        assert curve["psnr"][2] > curve["psnr"][0]  # ten true colours help


def test_without_hint_inputs_the_network_runs_once_per_photo(tiny_model_dir, photo_of,
                                                             tmp_path):
    """The curve of a model whose network takes no hints runs it once per photo, not once per
    count, and scores what ``colorize_batch`` makes of each hint count."""
    from tinct.evaluation.hint_curve import _colorize_per_count
    from tinct.imageio import read_image

    folder = _photos(tmp_path / "set", photo_of)
    colorizer = Colorizer.from_pretrained(tiny_model_dir, device="cpu", precision="fp32")
    assert not colorizer.accepts_hints
    calls = []
    colorizer.model.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    image = read_image(folder / "coffee.png")
    every = true_color_hints(image.pixels, 10, 3)
    sets = [every[:n] for n in (0, 1, 10)]
    reused = _colorize_per_count(colorizer, image, sets)
    assert calls == [1]
    direct = colorizer.colorize_batch([image] * 3, dtype=np.float32, hints=sets)
    for a, b in zip(reused, direct, strict=True):
        assert np.abs(a - b).max() < 1e-4
    assert np.abs(reused[2] - reused[0]).max() > 0.05  # the hints did change the picture
    curve = hint_curve(colorizer, folder, (0, 1, 10), progress=False)
    assert curve.photos == 3 and calls == [1, 3, 1, 1, 1]  # then one run per photo
