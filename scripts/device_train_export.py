"""Copies a training run's models back from a lent GPU machine, within the device tool's limits
on returned files (at most 8 files of 16 MiB each, two folders deep).

    python scripts/device_train_export.py RUN_DIR OUT
    python scripts/device_train_export.py --model SAVED_MODEL OUT    # one model, into OUT

Writes ``OUT/best`` and ``OUT/last`` (``config.json`` + ``model.safetensors`` with floating
tensors stored as fp16: a saved model that loads as it is, half the size), ``OUT/metrics.csv``
and ``OUT/train.log`` (its last 200 lines). Called by ``scripts/device_train.sh train``; with
``--model``, by ``scripts/device_train.sh pack`` for the start weights it sends.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tinct.fileio import atomic_write_text
from tinct.inference.checkpoint import copy_pretrained

MAX_FILE_BYTES = 16 * 2**20
LOG_LINES = 200


def export_model(folder: Path, out: Path) -> int:
    """``folder``'s saved model into ``out`` with fp16 weights; returns the weights' bytes."""
    copy_pretrained(folder, out, torch.float16)
    size = (out / "model.safetensors").stat().st_size
    if size > MAX_FILE_BYTES:
        raise SystemExit(f"device_train_export: {out}/model.safetensors is {size / 2**20:.1f} "
                         f"MiB, over the 16 MiB a returned file may have")
    return size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="training run (with best/ and last/)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", action="store_true",
                    help="RUN_DIR is one saved model: write it (fp16) as OUT")
    args = ap.parse_args(argv)
    if args.model:
        size = export_model(args.run_dir, args.out)
        print(f"{args.out}: {size / 2**20:.1f} MiB (fp16)")
        return 0
    found = [n for n in ("best", "last") if (args.run_dir / n / "model.safetensors").exists()]
    if not found:
        print(f"device_train_export: {args.run_dir}: no best/ or last/ (the run saved no model)")
        return 1
    for name in found:
        size = export_model(args.run_dir / name, args.out / name)
        print(f"{args.out / name}: {size / 2**20:.1f} MiB (fp16)")
    if (args.run_dir / "metrics.csv").exists():
        atomic_write_text(args.out / "metrics.csv", (args.run_dir / "metrics.csv").read_text())
    log = args.run_dir / "train.log"
    if log.exists():
        lines = log.read_text(errors="replace").splitlines()[-LOG_LINES:]
        atomic_write_text(args.out / "train.log", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
