"""docs/comparison.md from a ``tinct compare`` result: table, bar charts, sample pictures.

    python scripts/comparison_doc.py RUNS/report/metrics.json [--out docs] [--photos N]

Writes ``OUT/comparison.md`` (the table of every model and gray, with parameters and training
time), ``OUT/images/comparison_metrics.png`` (PSNR, dCF, FD, semantic agreement per model) and
``OUT/images/comparison_samples.jpg`` (a few Kodak photos through every model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from make_figures import fit, grid  # noqa: E402

from tinct import Colorizer  # noqa: E402
from tinct.data import default_data_root  # noqa: E402
from tinct.imageio import read_image  # noqa: E402

CHART_METRICS = (("psnr", "PSNR (dB), higher is better"), ("dcf", "ΔCF, lower is better"),
                 ("fd_effnet_lite2", "Fréchet distance, lower is better"),
                 ("semantic_agreement", "semantic agreement, higher is better"))
PHOTOS = ("kodak24/kodim03.jpg", "kodak24/kodim20.jpg", "kodak24/kodim23.jpg")


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(models: list[dict]) -> str:
    lines = ["| model | params (M) | training (min) | PSNR | SSIM | ab RMSE | AuC | dCF | FD | "
             "semantic agreement |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        s, info = m["summary"], m.get("info", {})
        params = info.get("parameters")
        wall = info.get("training_wall_time_s")
        lines.append(
            f"| {m['name']} | {fmt(params and params / 1e6, '.2f')} | "
            f"{fmt(wall and wall / 60, '.0f')} | {fmt(s.get('psnr'), '.2f')} | "
            f"{fmt(s.get('ssim'), '.4f')} | {fmt(s.get('ab_rmse'), '.2f')} | "
            f"{fmt(s.get('auc'), '.4f')} | {fmt(s.get('dcf'), '.2f')} | "
            f"{fmt(s.get('fd_effnet_lite2'), '.2f')} | {fmt(s.get('semantic_agreement'), '.3f')} |")
    return "\n".join(lines)


def charts(models: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, len(CHART_METRICS), figsize=(4 * len(CHART_METRICS), 3.2))
    names = [m["name"] for m in models]
    for ax, (key, title) in zip(axes, CHART_METRICS, strict=True):
        values = [m["summary"].get(key) or 0.0 for m in models]
        ax.barh(names, values, color=["#999" if n == "gray" else "#c0506a" for n in names])
        ax.set_title(title, fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def samples(models: list[dict], path: Path, data_root: Path) -> None:
    colorizers = [Colorizer.from_pretrained(m["info"]["folder"]) for m in models
                  if m["name"] != "gray" and m.get("info", {}).get("folder")]
    rows = []
    for rel in PHOTOS:
        truth = Image.fromarray(read_image(data_root / "eval" / rel).pixels)
        gray = truth.convert("L")
        rows.append([fit(truth, 160), fit(gray, 160),
                     *(fit(c.colorize(gray), 160) for c in colorizers)])
    grid(rows, ["ground truth", "input", *(c.name for c in colorizers)], height=160).save(
        path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path, help="metrics.json written by tinct compare")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder")
    args = parser.parse_args()
    report = json.loads(args.metrics.read_text(encoding="utf-8"))
    models = report["models"]
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    charts(models, args.out / "images" / "comparison_metrics.png")
    samples(models, args.out / "images" / "comparison_samples.jpg",
            args.data or default_data_root())
    text = (f"Measured by `tinct compare` on {report['n_images']} photos of "
            f"`{report['data_dir']}`.\n\n{table(models)}\n")
    (args.out / "comparison_table.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
