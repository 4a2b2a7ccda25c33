"""Writes a damaged copy of an eval set: each photo's lightness aged like an old print.

    python scripts/degrade_eval.py SRC_DIR OUT_DIR [--seed 0]
    # e.g. for s in kodak24 bsds500-test urban100 everyday; do
    #   python scripts/degrade_eval.py $TINCT_DATA/eval/$s eval-degraded/$s; done

Each photo's L* gets :func:`tinct.train.degrade.degrade_lightness` (fade, tone curve, and by chance
blur, grain, scratches, dust, JPEG damage) seeded by ``--seed`` and the file's name, so the
copy is the same on every machine and every run; its colour (a*, b*) is kept. The result is
written as PNG (lossless), so ``tinct eval`` on OUT_DIR gives the model the damaged lightness
and scores it against that photo: the gain over ``gray`` then measures the colour alone, as on
the clean set. Files are written under temporary names and renamed; the source is only read.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from tinct import color
from tinct.imageio import ImageReadError, list_images, read_image
from tinct.train.degrade import degrade_lightness


def file_seed(seed: int, name: str) -> list[int]:
    """A per-file seed from the run seed and the file's name (not its folder)."""
    return [seed, int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big")]


def degrade_photo(rgb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """``(3, H, W)`` sRGB in [0, 1] -> the same photo with damaged lightness (colour kept)."""
    lab = color.rgb_to_lab(rgb)
    L = degrade_lightness(lab[:1], rng)
    return color.lab_to_rgb(torch.cat((L, lab[1:])))


def damaged_pixels(photo, name: str, seed: int = 0) -> np.ndarray:
    """The damaged copy of a read photo (``tinct.imageio.LoadedImage``) as ``(H, W, 3)`` uint8,
    seeded by ``seed`` and ``name``, its path in the set with a ``.png`` suffix (as written)."""
    rng = np.random.default_rng(file_seed(seed, name))
    out = degrade_photo(torch.from_numpy(photo.to_float()).permute(2, 0, 1), rng)
    return (out.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder of colour photos (an eval set)")
    parser.add_argument("out", type=Path, help="folder for the damaged copies (PNG)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        print(f"degrade_eval: error: {args.src}: not a folder", file=sys.stderr)
        return 2
    if args.out.resolve() == args.src.resolve():
        print("degrade_eval: error: OUT_DIR must differ from SRC_DIR", file=sys.stderr)
        return 2
    failed = 0
    for path in tqdm(list_images(args.src), disable=args.no_progress, unit="photo"):
        rel = path.relative_to(args.src).with_suffix(".png")
        try:
            photo = read_image(path)
        except (ImageReadError, OSError) as exc:
            print(f"degrade_eval: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        pixels = damaged_pixels(photo, rel.as_posix(), args.seed)
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        Image.fromarray(pixels).save(tmp, "PNG")
        os.replace(tmp, target)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
