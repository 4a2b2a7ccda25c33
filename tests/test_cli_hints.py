"""``tinct colorize --hints``: a hint file for one photo, a folder of them for many, one-line
errors for bad hint files, gamut notes, and models without hint inputs refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import color
from tinct.cli import main


def _gray(photo_of, name: str, size=(80, 60)) -> Image.Image:
    return Image.fromarray(photo_of(name, size)).convert("L")


def _ab_at(path: Path, x: int, y: int) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
    return color.rgb_to_lab(rgb[None].float() / 255)[0, 1:, y, x]


def _write_hints(path: Path, hints) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(hints))
    return path


RED = {"x": 10, "y": 12, "color": "#c03030"}  # shown at mid lightness: in gamut


def test_a_hint_file_colours_its_photo(tiny_hint_classifier_dir, photo_of, tmp_path, capsys):
    photo = tmp_path / "cat.png"
    _gray(photo_of, "chelsea").save(photo)
    hints = _write_hints(tmp_path / "cat.json", [RED, {"x": 70, "y": 50, "color": "#2040ff"}])
    status = main(["colorize", str(photo), "-o", str(tmp_path / "out"), "-m",
                   str(tiny_hint_classifier_dir), "--hints", str(hints), "--no-progress"])
    assert status == 0
    out = tmp_path / "out" / "cat.png"
    wanted = torch.tensor([float(v) for v in _hex_chroma("#c03030")])
    assert float((_ab_at(out, 10, 12) - wanted).norm()) < 6
    plain = tmp_path / "plain"
    assert main(["colorize", str(photo), "-o", str(plain), "-m", str(tiny_hint_classifier_dir),
                 "--no-progress"]) == 0
    assert not np.array_equal(np.array(Image.open(out)), np.array(Image.open(plain / "cat.png")))
    err = capsys.readouterr().err
    # a saturated blue cannot be shown on the cat's pale fur: said in one line
    (note,) = [line for line in err.splitlines() if "out of gamut" in line]
    assert note.startswith(f"{photo}: hint 2 (#2040ff) is out of gamut")


def _hex_chroma(code: str) -> list[float]:
    rgb = torch.tensor([int(code[i:i + 2], 16) for i in (1, 3, 5)]).view(1, 3, 1, 1) / 255
    return color.rgb_to_lab(rgb)[0, 1:, 0, 0].tolist()


def test_a_hint_folder_mirrors_the_inputs(tiny_hint_classifier_dir, photo_of, tmp_path,
                                          capsys):
    photos = tmp_path / "album"
    (photos / "1950").mkdir(parents=True)
    _gray(photo_of, "chelsea").save(photos / "a.png")
    _gray(photo_of, "coffee").save(photos / "1950" / "b.png")
    _gray(photo_of, "astronaut").save(photos / "1950" / "c.png")
    hint_dir = tmp_path / "hints"
    _write_hints(hint_dir / "a.json", [RED])
    _write_hints(hint_dir / "1950" / "b.json", [{"x": 5, "y": 5, "color": "purple"}])
    out = tmp_path / "out"
    status = main(["colorize", str(photos), "-o", str(out), "-m", str(tiny_hint_classifier_dir),
                   "--hints", str(hint_dir), "--no-progress"])
    assert status == 1  # b's hint file is bad: b is not colorized, the others are
    assert (out / "a.png").is_file() and (out / "1950" / "c.png").is_file()
    assert not (out / "1950" / "b.png").exists()
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert err == [f"{hint_dir / '1950' / 'b.json'}: hint 1: color must be #rrggbb, got "
                   f"'purple' (for {photos / '1950' / 'b.png'}; not colorized)"]
    wanted = torch.tensor(_hex_chroma("#c03030"))
    assert float((_ab_at(out / "a.png", 10, 12) - wanted).norm()) < 6


@pytest.mark.parametrize("case", ["outside", "one file, two photos", "no match", "missing"])
def test_hint_mistakes_are_one_line_errors(case, tiny_hint_classifier_dir, photo_of, tmp_path,
                                           capsys):
    photos = tmp_path / "in"
    photos.mkdir()
    _gray(photo_of, "chelsea").save(photos / "a.png")
    hints = _write_hints(tmp_path / "h.json", [{"x": 80, "y": 3, "color": "#ffffff"}])
    inputs = [str(photos / "a.png")]
    if case == "one file, two photos":
        _gray(photo_of, "coffee").save(photos / "b.png")
        inputs = [str(photos)]
    elif case == "no match":
        hints = tmp_path / "hint-folder"
        _write_hints(hints / "other.json", [])
    elif case == "missing":
        hints = tmp_path / "nope.json"
    status = main(["colorize", *inputs, "-o", str(tmp_path / "out"), "-m",
                   str(tiny_hint_classifier_dir), "--hints", str(hints), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    expected = {
        "outside": f"{hints}: hint 1 at x=80, y=3 is outside the 80x60 image",
        "one file, two photos": f"--hints {hints} is one file but there are 2 photos",
        "no match": f"--hints {hints}: no <name>.json there for any of the 1 photos",
        "missing": f"{hints}: no such hint file or folder",
    }[case]
    assert len(err) == 1 and expected in err[0]
    assert status == (1 if case == "outside" else 2)


def test_a_model_without_hint_inputs_honours_hints_too(tiny_classifier_dir, photo_of,
                                                       tmp_path, capsys):
    """The automatic models (the shipped one among them) take hints through the correction
    after decoding alone."""
    photo = tmp_path / "a.png"
    _gray(photo_of, "chelsea").save(photo)
    hints = _write_hints(tmp_path / "a.json", [RED])
    for out, extra in ((tmp_path / "plain", []), (tmp_path / "out", ["--hints", str(hints)])):
        assert main(["colorize", str(photo), "-o", str(out), "-m", str(tiny_classifier_dir),
                     "--no-progress", *extra]) == 0
    wanted = torch.tensor(_hex_chroma(RED["color"]))
    assert float((_ab_at(tmp_path / "out" / "a.png", 10, 12) - wanted).norm()) < 6
    assert float((_ab_at(tmp_path / "plain" / "a.png", 10, 12) - wanted).norm()) > 12
