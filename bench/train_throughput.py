"""Training throughput: the shipped recipe against the trainer before it, and every family.

``--recipe CONFIG`` (default ``configs/tinct-base-v3.yaml``) runs the real training loop, in
one process, on the real photo pool (``$TINCT_DATA``), alternating two ways of training the
same model on the same crops: *at-issue* (the trainer when the v3 issue was filed: photos
decoded from their files by a DataLoader, no channels_last, every layer trained, the unfused
optimizer, ``precision: auto``, and the dense cross-entropy against a ``(B, Q, h, w)`` soft
target found by comparing every bin), *before* (the same with today's sparse cross-entropy
and grid search of the bins, a stricter baseline) and *recipe* (the config as written:
decoded pool, channels_last, frozen first blocks, float32). Each takes ``--rounds`` turns
of ``--steps`` steps; the figure is the median of the per-step images/s after a warm-up,
so a machine shared with other work (a long training run) slows both alike. Then, unless
``--no-families``, a few steps per model family on synthetic photos (network only) in float32
and, where the CPU runs it natively, bf16 autocast. Prints and writes
``bench/results/train_throughput.json``.

    python bench/train_throughput.py [--recipe CONFIG] [--steps 30] [--rounds 2]
        [--size 224] [--batch-size 16] [--device auto] [--no-families]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from pathlib import Path

import torch

from benchlib import write_report
from tinct.models.registry import create_model, list_models
from tinct.runtime import cpu_has_fast_bf16, resolve_device
from tinct.train.config import load_config
from tinct.train.objectives import build_objective

FAMILY_ARGS = {  # the configurations the comparison trains
    "cnn": {},
    "resnet_decoder": {"depth": 18},
    "unet": {"encoder": "efficientnet_lite0"},
    "classifier": {"encoder": "efficientnet_lite0"},
    "pix2pix": {},
}
LOSS = {"classifier": "ce"}


def measure(name: str, size: int, batch: int, steps: int, device, amp_dtype) -> float:
    torch.manual_seed(0)
    model = create_model(name, **FAMILY_ARGS.get(name, {})).to(device).train()
    cfg = load_config(None, [f"model.architecture={name}", f"loss.kind={LOSS.get(name, 'l1')}"])
    objective = build_objective(cfg, model, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    L = torch.rand(batch, 1, size, size, device=device) * 2 - 1
    chroma = torch.randn(batch, 2, size, size, device=device) * 20
    objective.step(model, opt, L, chroma, 10**6, amp_dtype)  # warm-up (GAN: adversarial phase)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for s in range(steps):
        objective.step(model, opt, L, chroma, 10**6 + s, amp_dtype)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def recipe_speed(cfg_path: str, overrides: list[str], steps: int, warmup: int,
                 run_dir: Path, scan_from: Path | None = None) -> float:
    """Median images/s of steps ``warmup..steps`` of the real loop for this config."""
    import csv
    import shutil

    from tinct.train.config import load_config as load
    from tinct.train.loop import scan_cache_path, train

    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = load(cfg_path, [*overrides, f"run.steps={steps}", "run.log_every=1",
                          f"run.eval_every={10**9}", "run.checkpoint_every=100000",
                          "run.checkpoint_minutes=1000", "data.val_max=4", "run.grid_images=1"])
    if not cfg.data.cache and scan_from is not None and scan_from.is_file():
        run_dir.mkdir(parents=True)  # the scan verdicts of the pool: no second full decode
        shutil.copy(scan_from, scan_cache_path(cfg, run_dir))
    train(cfg, run_dir, progress=False)
    with open(run_dir / "metrics.csv", newline="") as f:
        speeds = [float(r["images_per_s"]) for r in csv.DictReader(f)
                  if r["split"] == "train" and int(r["step"]) > warmup]
    shutil.rmtree(run_dir, ignore_errors=True)
    return statistics.median(speeds)


def dense_classification_loss(logits, chroma, centres, weights=None, sigma=5.0):
    """The cross-entropy as the trainer computed it when the v3 issue was filed (commit
    66ad6d1's parent): every bin's distance to every pixel, a dense ``(B, Q, h, w)`` soft
    target, multiplied by the log-probabilities. The same loss as today's, more work."""
    import torch.nn.functional as F

    from tinct.train.losses import resize_target

    small = resize_target(chroma, logits.shape[-2:])
    B, _, H, W = small.shape
    flat = small.permute(0, 2, 3, 1).reshape(-1, 2).to(centres.dtype)
    d = torch.cdist(flat, centres)
    dist, idx = d.topk(5, dim=1, largest=False)
    w = torch.softmax(-(dist**2) / (2 * sigma**2), dim=1)
    target = torch.zeros_like(d).scatter_(1, idx, w)
    target = target.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
    per_pixel = -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1)
    if weights is not None:
        per_pixel = per_pixel * weights[target.argmax(dim=1)]
    return per_pixel.mean()


@contextlib.contextmanager
def dense_loss():
    """Trains with :func:`dense_classification_loss` inside the block."""
    from tinct.train import losses

    today = losses.classification_loss
    losses.classification_loss = dense_classification_loss
    try:
        yield
    finally:
        losses.classification_loss = today


BEFORE = ["data.cache=", "run.channels_last=false", "optim.freeze=[]", "data.workers=1",
          "optim.fused=false", "run.precision=auto"]


def compare_recipes(cfg_path: str, steps: int, rounds: int) -> dict:
    """Images/s of the trainer at the v3 issue, before the recipe, and of the recipe,
    alternating, on the same crops."""
    import tempfile

    from tinct.train.loop import scan_cache_path

    variants = {"at-issue": (BEFORE, dense_loss), "before": (BEFORE, contextlib.nullcontext),
                "recipe": ([], contextlib.nullcontext)}
    scan_from = scan_cache_path(load_config(cfg_path), Path("."))
    runs: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, (overrides, patch) in variants.items():
                with patch():
                    speed = recipe_speed(cfg_path, overrides, steps, min(5, steps // 3),
                                         Path(tmp) / name, scan_from)
                runs[name].append(round(speed, 2))
                print(f"round {r + 1}: {name:8s} {speed:6.2f} images/s", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratios = {f"recipe / {k}": round(med["recipe"] / med[k], 3) for k in ("at-issue", "before")}
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    return {"config": cfg_path, "before_overrides": BEFORE, "steps": steps,
            "images_per_s": runs, "median": med, "ratios": ratios,
            "ratio": ratios["recipe / at-issue"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--recipe", default=str(Path(__file__).parents[1] / "configs" /
                                            "tinct-base-v3.yaml"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--recipe-steps", type=int, default=30)
    ap.add_argument("--no-families", action="store_true")
    ap.add_argument("--no-recipe", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                         "train_throughput.json"))
    args = ap.parse_args()
    device = resolve_device(args.device)
    recipe = None
    if not args.no_recipe:
        recipe = compare_recipes(args.recipe, args.recipe_steps, args.rounds)
    precisions = {"fp32": None}
    if device.type == "cuda" or cpu_has_fast_bf16():
        precisions["bf16"] = torch.bfloat16
    rows = []
    families = [] if args.no_families else list_models()
    print(f"{'family':16s} " + " ".join(f"{p:>10s}" for p in precisions) + "   (images/s)")
    for name in families:
        speeds = {p: measure(name, args.size, args.batch_size, args.steps, device, dt)
                  for p, dt in precisions.items()}
        rows.append({"family": name, "args": FAMILY_ARGS.get(name, {}),
                     **{f"images_per_s_{p}": round(v, 2) for p, v in speeds.items()}})
        print(f"{name:16s} " + " ".join(f"{v:10.2f}" for v in speeds.values()))
    result = {"size": args.size, "batch_size": args.batch_size, "steps": args.steps,
              "device": str(device), "cpu": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
              "bf16_native_cpu": cpu_has_fast_bf16(), "recipe": recipe, "results": rows}
    write_report(args.out, result)


if __name__ == "__main__":
    main()
