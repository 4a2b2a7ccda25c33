"""Evaluation speed: photos/s of ``tinct eval`` on this machine, with and without the
EfficientNet-Lite2 feature metrics (Fréchet distance, semantic agreement).

A small random-init U-Net (EfficientNet-Lite0 encoder, working size 256) is evaluated on N
synthetic 256-px colour photos written to a temporary folder; the full ``evaluate`` call is
timed (reading, colorizing, metrics, features and the final Fréchet distance). Prints a table
and writes ``bench/results/eval_speed.json``.

    python bench/eval_speed.py [--n 48] [--batch-size 8] [--workers 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from benchlib import write_report
from tinct import Colorizer, create_model
from tinct.evaluation.evaluate import evaluate
from tinct.inference.checkpoint import save_pretrained
from tinct.runtime import cpu_description

MODEL_ARGS = {"encoder": "efficientnet_lite0", "decoder_channels": (64, 32, 16, 16)}
WORKING_SIZE = 256


def synthetic_photo(seed: int, width: int = 256, height: int = 192) -> np.ndarray:
    """A smooth random colour field with a few hard-edged rectangles: ``(H, W, 3)`` uint8."""
    g = torch.Generator().manual_seed(seed)
    field = torch.rand(1, 3, 6, 8, generator=g)
    img = F.interpolate(field, size=(height, width), mode="bicubic", align_corners=False)[0]
    for _ in range(4):
        y, x = (torch.rand(2, generator=g) * torch.tensor([height - 40, width - 60])).long()
        img[:, y:y + 40, x:x + 60] = torch.rand(3, 1, 1, generator=g)
    img = img + 0.03 * torch.randn(img.shape, generator=g)
    return (img.clamp(0, 1).permute(1, 2, 0) * 255 + 0.5).to(torch.uint8).numpy()


def measure(colorizer, folder: Path, features: bool, args) -> dict:
    start, cpu_start = time.perf_counter(), time.process_time()
    result = evaluate(colorizer, folder, batch_size=args.batch_size, workers=args.workers,
                      progress=False, features=features, device=args.device)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "images": result.n_images,
        "wall_s": round(total, 3),
        "images_per_second": round(result.n_images / total, 3),
        "loop_images_per_second": round(result.n_images / result.wall_seconds, 3),
        "model_seconds_per_image": round(result.summary["seconds"], 4),
        "cpu_seconds": round(cpu, 2),
        "images_per_cpu_second": round(result.n_images / cpu, 3),
        "features_computed": result.summary["fd_effnet_lite2"] is not None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=48, help="number of synthetic photos")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: steady figures on a shared machine; "
                         "0 = torch's default)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "eval_speed.json"))
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(args.n):
            Image.fromarray(synthetic_photo(i)).save(folder / f"{i:04d}.png")
        torch.manual_seed(0)
        model_dir = save_pretrained(create_model("unet", **MODEL_ARGS), Path(tmp) / "model",
                                    working_size=WORKING_SIZE)
        colorizer = Colorizer.from_pretrained(model_dir, device=args.device)
        n_params = sum(p.numel() for p in colorizer.model.parameters())
        evaluate(colorizer, folder, limit=2, progress=False, features=True,
                 device=args.device)  # warm-up: weights, allocator, thread pools
        runs = {
            "without_features": measure(colorizer, folder, False, args),
            "with_features": measure(colorizer, folder, True, args),
        }

    report = {
        "benchmark": "eval_speed",
        "device": args.device,
        "cpu": cpu_description(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average_1min_at_start": load_before,
        "model": {"architecture": "unet", **MODEL_ARGS, "working_size": WORKING_SIZE,
                  "parameters": n_params, "weights": "random init"},
        "photos": {"count": args.n, "size": "256x192 synthetic PNG"},
        "batch_size": args.batch_size,
        "workers": args.workers,
        "metric_size": 512,
        **runs,
        "note": "images_per_second includes the final Fréchet distance (a 1280x1280 matrix "
                "square root, a few seconds regardless of N); loop_images_per_second excludes it. "
                "On a shared machine wall-clock figures drop with the load; images_per_cpu_second "
                "(photos per second of this process's CPU time, all threads) is steadier",
    }
    print(f"eval speed on {report['cpu']} ({report['torch_threads']} threads), "
          f"{args.n} photos 256x192, unet/lite0 at {WORKING_SIZE} px")
    print(f"{'':18}{'photos/s':>9}{'loop photos/s':>15}{'photos/cpu-s':>14}"
          f"{'model s/photo':>15}{'wall s':>8}")
    for name, r in runs.items():
        print(f"{name:18}{r['images_per_second']:>9.2f}{r['loop_images_per_second']:>15.2f}"
              f"{r['images_per_cpu_second']:>14.2f}{r['model_seconds_per_image']:>15.4f}"
              f"{r['wall_s']:>8.1f}")
    print(f"(load average {load_before} at start on {os.cpu_count()} cores)")
    write_report(args.out, report)


if __name__ == "__main__":
    main()
