"""Colorize one photo with the model shipped inside tinct, then again with bolder colour.

    python examples/colorize_photo.py OLD_PHOTO.jpg OUT_FOLDER

Writes OUT_FOLDER/colour.png and OUT_FOLDER/colour-vivid.png. The output keeps the photo's
size, orientation and exact lightness; only colour is added.
"""

import sys
from pathlib import Path

from tinct import Colorizer


def main(photo: str, out: Path) -> None:
    colorizer = Colorizer.from_pretrained()  # the shipped model; or a name / saved-model folder
    out.mkdir(parents=True, exist_ok=True)
    colorizer.colorize(photo).save(out / "colour.png")
    # a colour classifier can weigh rare, vivid colours more at decode time (no retraining);
    # with_decode shares the network, so this costs no extra memory
    vivid = colorizer.with_decode(boost=1.0)
    vivid.colorize(photo).save(out / "colour-vivid.png")
    print(f"{colorizer.name}: decode {colorizer.decode_settings()} -> {out / 'colour.png'}; "
          f"{vivid.decode_settings()} -> {out / 'colour-vivid.png'}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
