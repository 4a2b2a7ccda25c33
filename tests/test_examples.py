"""The examples of examples/ run as a user runs them (a fresh process, the shipped model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_colorize_photo_writes_a_plain_and_a_vivid_colorization(tmp_path, gray_image):
    photo = tmp_path / "old.png"
    Image.fromarray(gray_image).save(photo)
    out = run_example("colorize_photo.py", str(photo), str(tmp_path / "out"))
    plain = np.asarray(Image.open(tmp_path / "out" / "colour.png")).astype(np.int16)
    vivid = np.asarray(Image.open(tmp_path / "out" / "colour-vivid.png")).astype(np.int16)
    assert plain.shape[:2] == gray_image.shape[:2] and "'boost': 1.0" in out

    def saturation(rgb):
        return float(np.ptp(rgb, axis=-1).mean())

    assert saturation(vivid) > saturation(plain) > 0


def test_stages_example_renders_at_full_size(tmp_path, rgb_photo):
    photo = tmp_path / "photo.png"
    big = np.asarray(Image.fromarray(rgb_photo).resize((320, 240)))
    Image.fromarray(big).save(photo)
    out = run_example("stages.py", str(photo), str(tmp_path / "out.png"))
    rgb = np.asarray(Image.open(tmp_path / "out.png"))
    assert rgb.shape == (240, 320, 3) and "chroma predicted at 80x60" in out


def test_evaluate_folder_example_prints_both_models(tmp_path, photo_of):
    for name in ("astronaut", "coffee"):
        Image.fromarray(photo_of(name, (96, 64))).save(tmp_path / f"{name}.png")
    out = run_example("evaluate_folder.py", str(tmp_path))
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "2 photos, PSNR" in lines[0] and lines[1].strip().startswith("gray")
