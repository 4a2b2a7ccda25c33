"""Old-print damage, the decoded training pool, folder shares, and the degraded eval copies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import color
from tinct.train.cache import CacheError, build_cache, open_cache
from tinct.train.config import load_config
from tinct.train.data import ColorizationDataset, FolderSpec, apply_shares, scan_folders
from tinct.train.degrade import DamageRanges, degrade_lightness
from tinct.train.loop import build_training_cache, train

ROOT = Path(__file__).resolve().parents[1]


def _lightness(name: str = "astronaut", size: int = 128) -> torch.Tensor:
    from skimage import data

    rgb = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((size, size)))
    t = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
    return color.rgb_to_lightness(t)


def test_damage_is_seeded_bounded_and_changes_the_photo():
    L = _lightness()
    a = degrade_lightness(L, np.random.default_rng(7))
    b = degrade_lightness(L, np.random.default_rng(7))
    c = degrade_lightness(L, np.random.default_rng(8))
    assert a.shape == L.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 100
    assert float((a - L).abs().mean()) > 1.0  # visibly damaged
    # the picture survives: still strongly correlated with the clean lightness
    corr = np.corrcoef(a.flatten().numpy(), L.flatten().numpy())[0, 1]
    assert corr > 0.7


def test_each_kind_of_damage_does_what_it_says():
    L = _lightness("camera")
    never = {"p_blur": 0.0, "p_grain": 0.0, "p_scratches": 0.0, "p_dust": 0.0, "p_jpeg": 0.0}
    fade_only = DamageRanges(fade_black=(20, 20), fade_white=(80, 80), gamma=(1, 1), **never)
    faded = degrade_lightness(L, np.random.default_rng(0), fade_only)
    assert float(faded.min()) >= 19.9 and float(faded.max()) <= 80.1  # blacks lifted
    grain = DamageRanges(fade_black=(0, 0), fade_white=(100, 100), gamma=(1, 1),
                         **{**never, "p_grain": 1.0}, grain_std=(5, 5), grain_size=(0, 0))
    noisy = degrade_lightness(L, np.random.default_rng(0), grain)
    mid = (L > 10) & (L < 90)
    assert float((noisy - L)[mid].std()) == pytest.approx(5.0, rel=0.15)
    blur = DamageRanges(fade_black=(0, 0), fade_white=(100, 100), gamma=(1, 1),
                        **{**never, "p_blur": 1.0}, blur_sigma=(2, 2))
    soft = degrade_lightness(L, np.random.default_rng(0), blur)
    assert float(soft.diff(dim=-1).abs().mean()) < 0.7 * float(L.diff(dim=-1).abs().mean())
    with pytest.raises(ValueError, match=r"\(1, H, W\)"):
        degrade_lightness(L[0], np.random.default_rng(0))


def _dust_over_whole_image(L, rng, count, scale):
    """The dust specks as first written: every speck computed over the whole image."""
    _, H, W = L.shape
    yy = torch.arange(H, dtype=L.dtype).view(H, 1)
    xx = torch.arange(W, dtype=L.dtype).view(1, W)
    for _ in range(count):
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(0.5, 2.5) * scale
        spot = torch.clamp(1 - ((xx - cx) ** 2 + (yy - cy) ** 2).sqrt() / r, min=0) ** 0.5
        target = 100.0 if rng.random() < 0.75 else 0.0
        L = L + (target - L) * spot * rng.uniform(0.5, 1.0)
    return L


@pytest.mark.parametrize("seed", range(6))
def test_dust_in_boxes_is_the_whole_image_dust_exactly(seed):
    """Dust computed in each speck's bounding box gives the same pixels, to the bit, as over
    the whole image (so the seeded damaged eval copies do not change), specks at the edges
    included, and leaves its input untouched."""
    from tinct.train.degrade import _dust

    L = _lightness("camera", 96)
    before = L.clone()
    scale = 3.0 if seed % 2 else 0.375  # big specks that cross the border, and tiny ones
    got = _dust(L, np.random.default_rng(seed), 40, scale)
    want = _dust_over_whole_image(L, np.random.default_rng(seed), 40, scale)
    assert torch.equal(got, want) and not torch.equal(got, before)
    assert torch.equal(L, before)


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """Two folders of skimage photos: 'big' with 6, 'small' with 2."""
    from skimage import data

    root = tmp_path_factory.mktemp("pool")
    names = ["astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry"]
    for i, name in enumerate(names):
        (root / "big").mkdir(exist_ok=True)
        Image.fromarray(getattr(data, name)()).resize((90, 70)).save(root / "big" / f"{i}.jpg")
    (root / "small").mkdir()
    for i, name in enumerate(["astronaut", "coffee"]):
        Image.fromarray(getattr(data, name)()).resize((70, 90)).save(root / "small" / f"{i}.png")
    return root


def test_shares_make_a_small_folder_as_likely_as_a_big_one(pool):
    specs = [FolderSpec("big", share=0.5), FolderSpec("small", share=0.5)]
    report = scan_folders(specs, root=pool)
    files = apply_shares(report.files, report.folders, specs)
    weights = {Path(p).parent.name: w for p, w in files}
    assert weights["big"] == pytest.approx(0.5 * 8 / 6) and weights["small"] == pytest.approx(2)
    assert sum(w for _, w in files) == pytest.approx(8)  # an epoch keeps its length
    kept = apply_shares(report.files, report.folders, [FolderSpec("big", 3.0),
                                                       FolderSpec("small", 1.0)])
    assert kept == report.files  # no share: the per-photo weights stay


def test_cache_holds_the_centre_squares_and_rejects_other_photos(pool, tmp_path):
    report = scan_folders([FolderSpec("big"), FolderSpec("small")], root=pool)
    files = report.files
    cache = build_cache(tmp_path / "c", files, pool, 32, [], workers=1, progress=False)
    pixels = open_cache(cache, files, pool)
    assert pixels.shape == (8, 32, 32, 3) and pixels.dtype == np.uint8
    first = np.asarray(Image.open(files[0][0]).convert("RGB"))  # 90 x 70: centre 70 x 70
    def diff(x0):
        crop = Image.fromarray(first[:, x0:x0 + 70]).resize((32, 32), Image.BICUBIC)
        return np.abs(pixels[0].astype(int) - np.asarray(crop).astype(int)).mean()

    assert diff(10) < 6 and diff(10) < 0.5 * diff(0)  # the centre square, not the left one
    index = json.loads((cache / "index.json").read_text())
    assert index["paths"][0] == f"../shared/data/{Path(files[0][0]).relative_to(pool)}"
    mtime = (cache / "pixels.npy").stat().st_mtime_ns
    build_cache(cache, files, pool, 32, [], workers=1, progress=False)  # reused, not rebuilt
    assert (cache / "pixels.npy").stat().st_mtime_ns == mtime
    with pytest.raises(CacheError, match="differ"):
        open_cache(cache, files[:-1], pool)
    with pytest.raises(CacheError, match="no training cache"):
        open_cache(tmp_path / "nothing", files, pool)
    assert not list(cache.glob(".*tmp*"))


def test_cached_dataset_gives_training_samples_with_damaged_input(pool, tmp_path):
    report = scan_folders([FolderSpec("big"), FolderSpec("small")], root=pool)
    cache = build_cache(tmp_path / "c", report.files, pool, 48, [], workers=1, progress=False)
    pixels = open_cache(cache, report.files, pool)
    clean = ColorizationDataset(report.files, 32, pixels=pixels, seed=1)
    damaged = ColorizationDataset(report.files, 32, pixels=pixels, seed=1, degrade=1.0)
    clean.set_epoch(0)
    damaged.set_epoch(0)
    a, b = clean[3], damaged[3]
    assert a["L"].shape == (1, 32, 32) and a["chroma"].shape == (2, 32, 32)
    assert torch.equal(a["chroma"], b["chroma"])  # the target stays the clean colour
    assert not torch.equal(a["L"], b["L"]) and float(b["L"].abs().max()) <= 1
    assert torch.equal(damaged[3]["L"], b["L"])  # deterministic per (seed, epoch, position)
    # the undamaged input comes along, for a distillation teacher
    assert "L_clean" not in a and torch.equal(b["L_clean"], a["L"])


def test_training_from_the_cache_end_to_end(pool, tmp_path, capsys):
    from tinct.cli import main

    overrides = [f"data.root={pool}", 'data.folders=[{"path": "big", "share": 0.5}, '
                 '{"path": "small", "share": 0.5}]', f"data.cache={tmp_path / 'cache'}",
                 "data.cache_side=48", "data.size=32", "data.workers=0", "data.degrade=0.5",
                 "data.val_fraction=0.2", "model.architecture=unet",
                 'model.args={"decoder_channels": [32, 16, 16, 8]}', "run.steps=3",
                 "run.batch_size=2", "run.eval_every=3", "run.device=cpu",
                 "run.precision=fp32", "run.channels_last=true", "optim.warmup_steps=1"]
    assert main(["train", "--build-cache", "--no-progress", *[f"--{o}" for o in overrides]]) == 0
    assert (tmp_path / "cache" / "pixels.npy").is_file()
    result = train(load_config(None, overrides), tmp_path / "run", progress=False)
    assert result.step == 3 and (result.best / "model.safetensors").is_file()
    summary = json.loads((result.last / "config.json").read_text())["training"]
    assert summary["run_dir"] == ".." and summary["run_name"] == "run"
    assert not str(summary["data"]["root"]).startswith("/")
    from tinct.evaluation.evaluate import describe_model
    from tinct.inference.pipeline import Colorizer

    info = describe_model(Colorizer.from_pretrained(result.last), result.last)
    assert Path(info["run_dir"]).resolve() == result.run_dir.resolve()  # loss curves found
    # building needs a cache folder: a one-line error naming the setting
    with pytest.raises(ValueError, match="data.cache"):
        build_training_cache(load_config(None, [o for o in overrides
                                                if not o.startswith("data.cache=")]))


def test_degrade_eval_script_writes_seeded_copies_and_keeps_colour(pool, tmp_path):
    script = ROOT / "scripts" / "degrade_eval.py"
    for out in ("x", "y"):
        subprocess.run([sys.executable, str(script), str(pool / "big"), str(tmp_path / out),
                        "--no-progress"], check=True, capture_output=True, timeout=120)
    names = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert names == [f"{i}.png" for i in range(6)]
    a = np.asarray(Image.open(tmp_path / "x" / "0.png"))
    assert np.array_equal(a, np.asarray(Image.open(tmp_path / "y" / "0.png")))  # seeded
    src = np.asarray(Image.open(pool / "big" / "0.jpg").convert("RGB"))
    lab_a = color.rgb_to_lab(torch.from_numpy(a / 255.0).permute(2, 0, 1).float())
    lab_s = color.rgb_to_lab(torch.from_numpy(src / 255.0).permute(2, 0, 1).float())
    assert float((lab_a[0] - lab_s[0]).abs().mean()) > 1  # the lightness is damaged
    assert float((lab_a[1:] - lab_s[1:]).abs().median()) < 3  # the colour is kept
    bad = subprocess.run([sys.executable, str(script), str(tmp_path / "none"),
                          str(tmp_path / "z")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a folder" in bad.stderr
    assert "Traceback" not in bad.stderr
