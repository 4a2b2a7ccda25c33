"""Measure the shipped model and the gray baseline on a folder of colour photos, in Python.

    python examples/evaluate_folder.py PHOTOS_FOLDER

Prints PSNR (dB), AuC of ab errors (%) and colourfulness gap dCF for both, like
``tinct eval PHOTOS_FOLDER -o report/ --no-features`` without the HTML report.
"""

import sys

from tinct import Colorizer
from tinct.evaluation.evaluate import GrayBaseline, evaluate


def main(folder: str) -> None:
    for model in (Colorizer.from_pretrained(), GrayBaseline()):
        result = evaluate(model, folder, progress=False, features=False)
        s = result.summary
        print(f"{result.name:>12}: {result.n_images} photos, PSNR {s['psnr']:.2f} dB, "
              f"AuC {s['auc']:.1f}, dCF {s['dcf']:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
