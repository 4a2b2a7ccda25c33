"""The three stages of a colorization, used one by one: keep the predicted colour only where
the photo is bright, as an example of editing chroma before it is rendered.

    python examples/stages.py PHOTO OUT.png

1. ``lightness``: the photo's L* at full resolution, ``(1, H, W)`` in [0, 100];
2. ``predict_chroma``: the network at its working size, chroma ``(B, 2, h, w)`` in Lab units;
3. ``render``: chroma upsampled and merged with the full-resolution lightness -> sRGB.
"""

import sys

import torch.nn.functional as F
from PIL import Image

from tinct import Colorizer


def main(photo: str, out: str) -> None:
    colorizer = Colorizer.from_pretrained()
    L = colorizer.lightness(photo)  # (1, H, W)
    chroma = colorizer.predict_chroma(L[None], out_size=(L.shape[-2] // 4, L.shape[-1] // 4))
    # any edit of the chroma goes here; this one fades colour out in the shadows
    small_L = F.interpolate(L[None], size=chroma.shape[-2:], mode="area")
    chroma = chroma * (small_L / 100).clamp(0, 1)
    rgb = colorizer.render(L, chroma[0])  # (H, W, 3) uint8, lightness kept exactly
    Image.fromarray(rgb).save(out)
    print(f"{out}: {rgb.shape[1]}x{rgb.shape[0]}, chroma predicted at "
          f"{chroma.shape[-1]}x{chroma.shape[-2]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
