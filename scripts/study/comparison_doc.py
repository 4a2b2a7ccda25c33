"""Tables, bar charts and sample pictures for docs/comparison.md from ``tinct compare`` results.

    python scripts/study/comparison_doc.py REPORT/metrics.json [MORE/metrics.json ...] \
        [--out docs] [--name comparison]

Writes ``OUT/NAME_table.md`` (per report: the table of every model and gray, with parameters
and training time, and the best model on each metric), ``OUT/images/NAME_metrics.png`` (PSNR,
dCF, FD, semantic agreement per model, one row of charts per report) and
``OUT/images/NAME_samples.jpg`` (a few Kodak photos through every model of the first report)
and, with ``--frontier``, ``OUT/images/NAME_frontier.png`` (PSNR against colourfulness, for
``tinct tune`` sweeps: where each decode setting lies between faithful and colourful; one
chart per photo set, two a row).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))  # scripts/, for make_figures
from make_figures import fit, grid  # noqa: E402

from tinct import Colorizer  # noqa: E402
from tinct.evaluation.metric_info import METRICS  # noqa: E402
from tinct.imageio import read_image  # noqa: E402
from tinct.train.data import default_data_root, portable_path  # noqa: E402

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


WINNER_METRICS = ("psnr", "ssim", "ab_rmse", "auc", "dcf", "fd_effnet_lite2",
                  "semantic_agreement")


def winners(models: list[dict]) -> str:
    """One line naming the best trained model on each metric (gray named where it wins)."""
    parts = []
    for key in WINNER_METRICS:
        scored = [(m["summary"][key], m["name"]) for m in models
                  if m["summary"].get(key) is not None]
        if not scored:
            continue
        pick = max if METRICS[key].better == "higher" else min
        value, name = pick(scored)
        parts.append(f"{METRICS[key].label} **{name}** ({METRICS[key].format(value)})")
    return "Best on each metric: " + "; ".join(parts) + "."


def set_name(report: dict) -> str:
    return Path(report["data_dir"]).name


def charts(reports: list[dict], path: Path) -> None:
    cols = len(CHART_METRICS)
    fig, axes = plt.subplots(len(reports), cols, figsize=(4 * cols, 3.2 * len(reports)),
                             squeeze=False)
    for row, report in zip(axes, reports, strict=True):
        models = report["models"]
        names = [m["name"] for m in models]
        for ax, (key, title) in zip(row, CHART_METRICS, strict=True):
            values = [m["summary"].get(key) or 0.0 for m in models]
            ax.barh(names, values, color=["#999" if n == "gray" else "#c0506a" for n in names])
            ax.set_title(f"{set_name(report)}: {title}", fontsize=9)
            ax.invert_yaxis()
            ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def family(name: str) -> str:
    """A model's name without its decode setting: ``"v2 T=0.6 b=0.5"`` -> ``"v2"``,
    ``"last-T1.3"`` -> ``"last"``."""
    return re.split(r"[ -]T=?\d", name, maxsplit=1)[0]


def frontier(reports: list[dict], path: Path) -> None:
    """PSNR against the signed colourfulness gap (CF of predictions minus CF of the truth;
    0 = as colourful as the photos) of every model in the reports, one chart per photo set,
    one colour per model family, decode settings as labels; gray as a reference line."""
    by_set: dict[str, list[dict]] = {}
    for report in reports:
        by_set.setdefault(set_name(report), []).append(report)
    cols = min(2, len(by_set))  # two charts a row, so four sets stay readable in a page
    rows = -(-len(by_set) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, 4.6 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(dict.fromkeys(family(m["name"]) for r in reports for m in r["models"]
                               if m["name"] != "gray"))
    for ax, (name, group) in zip(axes.flat, by_set.items(), strict=False):
        _frontier_chart(ax, name, group, {n: colours[i % len(colours)]
                                          for i, n in enumerate(names)})
    for ax in axes.flat[len(by_set):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _frontier_chart(ax, name: str, reports: list[dict], colour_of: dict[str, str]) -> None:
    families: dict[str, list[tuple[float, float, str]]] = {}
    gray = None
    for report in reports:
        for m in report["models"]:
            s = m["summary"]
            point = (s["cf_pred"] - s["cf_gt"], s["psnr"], m["name"][len(family(m["name"])):])
            if m["name"] == "gray":
                gray = point
            else:
                families.setdefault(family(m["name"]), []).append(point)
    for fam, points in families.items():
        xs, ys, _ = zip(*sorted(points), strict=True)
        ax.scatter(xs, ys, color=colour_of[fam], label=fam, s=22)
        for x, y, label in points:
            ax.annotate(label.strip(" -"), (x, y), fontsize=6, xytext=(3, 2),
                        textcoords="offset points")
    if gray is not None:
        ax.axhline(gray[1], color="#999", linestyle="--", linewidth=1)
        ax.annotate(f"gray {gray[1]:.2f} dB (gap {gray[0]:.1f})", (0.01, gray[1]),
                    xycoords=("axes fraction", "data"), fontsize=7, color="#666",
                    xytext=(0, 3), textcoords="offset points")
    ax.axvspan(-4, 4, color="#c0506a", alpha=0.07, label="|gap| <= 4")
    ax.axvline(0, color="#c0506a", linewidth=0.8)
    ax.set_xlabel("colourfulness of predictions minus that of the photos (0 = as colourful)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{name}: fidelity against colourfulness", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")


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
    parser.add_argument("metrics", type=Path, nargs="+",
                        help="metrics.json files written by tinct compare")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--name", default="comparison", help="prefix of the files written")
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder")
    parser.add_argument("--no-samples", action="store_true", help="skip the sample pictures")
    parser.add_argument("--frontier", action="store_true",
                        help="also chart PSNR against colourfulness (for decode sweeps)")
    args = parser.parse_args()
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in args.metrics]
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    charts(reports, args.out / "images" / f"{args.name}_metrics.png")
    if args.frontier:
        frontier(reports, args.out / "images" / f"{args.name}_frontier.png")
    if not args.no_samples:
        samples(reports[0]["models"], args.out / "images" / f"{args.name}_samples.jpg",
                args.data or default_data_root())
    root = args.data or default_data_root()
    text = "\n".join(
        f"**{set_name(r)}** (`tinct compare` on {r['n_images']} photos of "
        f"`{portable_path(r['data_dir'], root)}`)"
        f"\n\n{table(r['models'])}\n\n{winners(r['models'])}\n" for r in reports)
    (args.out / f"{args.name}_table.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
