"""README / docs pictures: ground truth | gray | tinct, one row per photo.

    python scripts/make_figures.py [--model NAME_OR_FOLDER] [--out docs/images]

Writes ``comparison.jpg`` (colour photos from the eval sets: the original, its lightness, and
tinct's colorization of that lightness), ``historical.jpg`` (the same for eval photos of the
kind found in old family albums and archives: portraits of old men, a castle, a vintage car,
guards in uniform), ``everyday.jpg`` (the same for people and pets of the everyday set),
``old_print.jpg`` (the original, its lightness damaged like an old print by
``scripts/degrade_eval.py``'s fixed seed, and tinct's colorization of the damaged print) and
``samples.jpg`` (the gray sample photos shipped in the package, before | after). Eval photos
are read through ``--data`` (default ``$TINCT_DATA`` or ``../shared/data``); only downscaled
copies go into the figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from degrade_eval import damaged_pixels
from PIL import Image, ImageDraw

from tinct import Colorizer
from tinct.imageio import read_image
from tinct.train.data import default_data_root

EVAL_PHOTOS = ("kodak24/kodim05.jpg", "kodak24/kodim14.jpg", "kodak24/kodim21.jpg",
               "kodak24/kodim24.jpg", "kodak24/kodim15.jpg")
HISTORICAL_PHOTOS = ("bsds500-test/246009.jpg", "bsds500-test/15062.jpg",
                     "bsds500-test/201080.jpg", "bsds500-test/102062.jpg",
                     "bsds500-test/376086.jpg")
EVERYDAY_PHOTOS = ("everyday/faces__05850.jpg", "everyday/faces__14787.jpg",
                   "everyday/faces__01054.jpg",
                   "everyday/pets__dataset__test_set__dogs__dog.4014.jpg",
                   "everyday/pets__dataset__breed_dataset__cat_breeds__test__Cat1497.jpg")
OLD_PRINT_PHOTOS = ("everyday/faces__23951.jpg", "bsds500-test/15062.jpg", "kodak24/kodim15.jpg")
SAMPLES = Path(__file__).resolve().parents[1] / "src" / "tinct" / "samples"
TILE_HEIGHT = 240
LABEL_HEIGHT = 24


def fit(image: Image.Image, height: int = TILE_HEIGHT) -> Image.Image:
    width = round(image.width * height / image.height)
    return image.convert("RGB").resize((width, height), Image.LANCZOS)


def grid(rows: list[list[Image.Image]], labels: list[str],
         height: int = TILE_HEIGHT) -> Image.Image:
    """Rows of tiles ``height`` px tall under a header of column labels."""
    widths = [max(row[c].width for row in rows) for c in range(len(labels))]
    sheet = Image.new("RGB", (sum(widths) + 4 * (len(widths) - 1),
                              LABEL_HEIGHT + len(rows) * (height + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for label, w in zip(labels, widths, strict=True):
        draw.text((x + 6, 6), label, fill="black")
        x += w + 4
    for r, row in enumerate(rows):
        x, y = 0, LABEL_HEIGHT + r * (height + 4)
        for tile, w in zip(row, widths, strict=True):
            sheet.paste(tile, (x, y))
            x += w + 4
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model)
    root = (args.data or default_data_root()) / "eval"
    args.out.mkdir(parents=True, exist_ok=True)
    labels = ["ground truth", "input (lightness only)", f"tinct ({colorizer.name})"]
    for photos, name in ((EVAL_PHOTOS, "comparison.jpg"), (HISTORICAL_PHOTOS, "historical.jpg"),
                         (EVERYDAY_PHOTOS, "everyday.jpg")):
        rows = []
        for rel in photos:
            truth = Image.fromarray(read_image(root / rel).pixels)
            gray = truth.convert("L")
            rows.append([fit(truth), fit(gray), fit(colorizer.colorize(gray))])
        grid(rows, labels).save(args.out / name, quality=88)
    rows = []
    for rel in OLD_PRINT_PHOTOS:
        truth = read_image(root / rel)
        pixels = damaged_pixels(truth, Path(rel).with_suffix(".png").name)
        print_ = Image.fromarray(pixels).convert("L")
        rows.append([fit(Image.fromarray(truth.pixels)), fit(print_),
                     fit(colorizer.colorize(print_))])
    grid(rows, ["ground truth", "old print (damaged lightness)", f"tinct ({colorizer.name})"]
         ).save(args.out / "old_print.jpg", quality=88)
    rows = []
    for path in sorted(SAMPLES.glob("*.jpg")):
        gray = Image.open(path)
        rows.append([fit(gray), fit(colorizer.colorize(gray))])
    grid(rows, ["black-and-white input", f"tinct ({colorizer.name})"]).save(
        args.out / "samples.jpg", quality=88)
    print(f"wrote comparison.jpg, historical.jpg, everyday.jpg, old_print.jpg and "
          f"samples.jpg in {args.out}")


if __name__ == "__main__":
    main()
