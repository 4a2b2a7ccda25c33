"""Regenerates the gray sample photos in ``src/tinct/samples/`` from scikit-image's data.

Each photo is resized so its longer side is at most 512 pixels and turned gray by keeping its
luminance: the gray value has the same CIE lightness L* as the colour pixel (tinct.color), so
a perfect colorizer could give back the original. Saved as 8-bit gray (mode L) JPEG.

    pip install scikit-image
    python scripts/make_samples.py            # writes src/tinct/samples/*.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinct import color

# name -> skimage.data function; sources and licences are in src/tinct/samples/README.md
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
MAX_SIDE = 512
JPEG_QUALITY = 90
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "src" / "tinct" / "samples"


def resize_longer_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> the same photo with its longer side at most ``max_side``."""
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return rgb
    size = (round(w * scale), round(h * scale))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB -> ``(H, W)`` uint8 gray with the same luminance."""
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).double() / 255
    L = color.rgb_to_lightness(x)  # (1, H, W)
    neutral = color.lab_to_rgb(torch.cat((L, torch.zeros_like(L), torch.zeros_like(L))))
    gray = neutral.mean(dim=0)  # the three channels agree to 1e-4
    return (gray * 255 + 0.5).to(torch.uint8).numpy()


def make_sample(name: str, folder: Path) -> Path:
    from skimage import data

    rgb = resize_longer_side(getattr(data, name)(), MAX_SIDE)
    path = folder / f"{name}.jpg"
    Image.fromarray(to_gray(rgb), "L").save(path, quality=JPEG_QUALITY, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                        help=f"where to write the samples (default: {DEFAULT_FOLDER})")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        path = make_sample(name, args.folder)
        with Image.open(path) as im:
            print(f"{path}: {im.size[0]}x{im.size[1]} {im.mode}")


if __name__ == "__main__":
    main()
