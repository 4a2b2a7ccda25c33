"""What a run records: ``train.log``, ``metrics.csv``, TensorBoard events, picture grids, plots.

Only the main process writes (``enabled``); the other ranks get a silent logger.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from tinct import color

COLUMNS = ("step", "epoch", "split", "loss", "lr", "images_per_s", "ab_rmse", "sat_pred",
           "sat_true", "g_adv", "d_loss", "time", "ab_rmse_hinted", "distill", "semantic")


class RunLogger:
    def __init__(self, run_dir: Path, enabled: bool = True, resume: bool = False):
        self.run_dir, self.enabled = run_dir, enabled
        self.csv_path = run_dir / "metrics.csv"
        self.last_val: dict | None = None
        self._tb = None
        self.columns = COLUMNS
        if not enabled:
            return
        if not self.csv_path.exists() or not resume:
            with open(self.csv_path, "w", newline="") as f:
                csv.writer(f).writerow(COLUMNS)
        else:  # a resumed run keeps its file's columns (a run begun by an older tinct)
            with open(self.csv_path, newline="") as f:
                self.columns = tuple(next(csv.reader(f), COLUMNS))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:  # tensorboard is in the train extra
            self._tb = None

    def note(self, message: str) -> None:
        """A line to the console and to ``train.log``."""
        if not self.enabled:
            return
        tqdm.write(f"tinct train: {message}")
        with open(self.run_dir / "train.log", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def rewind(self, step: int) -> None:
        """Drops CSV rows logged after ``step`` (a killed run logged past its last checkpoint)."""
        if not self.enabled or not self.csv_path.exists():
            return
        with open(self.csv_path, newline="") as f:
            rows = list(csv.reader(f))
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        tmp = self.csv_path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(kept)
        os.replace(tmp, self.csv_path)

    def log(self, step: int, epoch: int, split: str, values: dict[str, float]) -> None:
        if split == "val":
            self.last_val = dict(values)
        if not self.enabled:
            return
        row = {"step": step, "epoch": epoch, "split": split, "time": int(time.time()),
               **values}
        with open(self.csv_path, "a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(c, "")) for c in self.columns])
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(f"{split}/{key}", value, step)
        if split == "val":
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            self.note(f"step {step} validation: {shown}")

    @torch.no_grad()
    def grid(self, step: int, model, val_set, cfg, device) -> Path | None:
        """Saves ``grids/step_NNNNNN.jpg``: rows of ground truth | gray | prediction."""
        if not self.enabled or cfg.run.grid_images <= 0:
            return None
        n = min(cfg.run.grid_images, len(val_set))
        was_training = model.training
        model.eval()
        val_set.set_epoch(0)
        picks = np.linspace(0, len(val_set) - 1, n).round().astype(int)  # spread over folders
        items = [val_set[int(i)] for i in picks]
        L = torch.stack([it["L"] for it in items]).to(device)
        truth = torch.stack([it["chroma"] for it in items]).to(device)
        pred = color.denormalize_chroma(model.decode(model(L)).float())
        model.train(was_training)
        pred = torch.nn.functional.interpolate(pred, size=L.shape[-2:], mode="bilinear",
                                               align_corners=False)
        Lr = color.denormalize_lightness(L)
        space = cfg.model.space
        panels = [color.merge_chroma_in_gamut(Lr, truth, space),
                  color.merge_chroma_in_gamut(Lr, torch.zeros_like(truth), space),
                  color.merge_chroma_in_gamut(Lr, pred, space)]
        rows = torch.cat([torch.cat([p[i] for p in panels], dim=-1) for i in range(n)], dim=-2)
        img = (rows.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        out = self.run_dir / "grids" / f"step_{step:06d}.jpg"
        out.parent.mkdir(exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp.jpg")
        Image.fromarray(img).save(tmp, quality=90)
        os.replace(tmp, out)
        if self._tb is not None:
            self._tb.add_image("val/grid", img, step, dataformats="HWC")
        return out

    def finish(self) -> Path | None:
        """Writes ``loss_curves.png`` (train vs validation loss) when matplotlib is present."""
        if not self.enabled:
            return None
        if self._tb is not None:
            self._tb.close()
        return plot_loss_curves(self.csv_path, self.run_dir / "loss_curves.png")


def read_metrics(csv_path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """``metrics.csv`` -> ``{split: (steps, losses)}``."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("loss"):
                steps, values = curves.setdefault(row["split"], ([], []))
                steps.append(int(row["step"]))
                values.append(float(row["loss"]))
    return curves


def plot_loss_curves(csv_path: Path, out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    curves = read_metrics(csv_path)
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for split, (steps, values) in sorted(curves.items()):
        ax.plot(steps, values, label=split, marker="o" if split == "val" else None,
                linewidth=1.5 if split == "val" else 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
