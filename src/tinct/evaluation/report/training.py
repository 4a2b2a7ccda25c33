"""Training history of a saved model: the loss curves of its run folder, when it is known.

A training run writes ``metrics.csv`` into its run folder with the columns
``step,epoch,split,loss,...`` (``split`` is ``train`` or ``val``); a saved model's
``config.json`` may name that folder in ``training.run_dir``.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

METRICS_FILE = "metrics.csv"
SPLITS = ("train", "val")


@dataclass
class LossCurve:
    """Loss against optimizer step, one list per split (steps ascending)."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)

    def add(self, split: str, step: float, loss: float) -> None:
        self.steps.setdefault(split, []).append(step)
        self.losses.setdefault(split, []).append(loss)

    def __len__(self) -> int:
        return sum(len(v) for v in self.steps.values())


def read_loss_curve(run_dir: str | os.PathLike | None) -> LossCurve | None:
    """The train / val loss of ``run_dir/metrics.csv``; ``None`` when the file is absent,
    unreadable or lacks the ``step``, ``split`` and ``loss`` columns. Rows with other splits or
    non-numeric / non-finite values are skipped."""
    if not run_dir:
        return None
    path = Path(run_dir) / METRICS_FILE
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {"step", "split", "loss"} <= set(reader.fieldnames or ()):
                return None
            curve = LossCurve()
            for row in reader:
                split = (row.get("split") or "").strip()
                if split not in SPLITS:
                    continue
                try:
                    step, loss = float(row["step"]), float(row["loss"])
                except (TypeError, ValueError):
                    continue
                if math.isfinite(step) and math.isfinite(loss):
                    curve.add(split, step, loss)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    for split in list(curve.steps):
        order = sorted(range(len(curve.steps[split])), key=curve.steps[split].__getitem__)
        curve.steps[split] = [curve.steps[split][i] for i in order]
        curve.losses[split] = [curve.losses[split][i] for i in order]
    return curve if len(curve) else None
