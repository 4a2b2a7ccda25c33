"""Training throughput of every model family: images/s at 224 px on this machine.

Runs a few optimizer steps per family on synthetic photos (the data pipeline is excluded: this
measures the network's forward + backward + update), in float32 and, where the hardware runs it
natively, bf16 autocast. Prints a table and writes ``bench/results/train_throughput.json``.

    python bench/train_throughput.py [--size 224] [--batch-size 16] [--steps 5] [--device auto]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from benchlib import write_report
from tinct.registry import create_model, list_models
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                         "train_throughput.json"))
    args = ap.parse_args()
    device = resolve_device(args.device)
    precisions = {"fp32": None}
    if device.type == "cuda" or cpu_has_fast_bf16():
        precisions["bf16"] = torch.bfloat16
    rows = []
    print(f"{'family':16s} " + " ".join(f"{p:>10s}" for p in precisions) + "   (images/s)")
    for name in list_models():
        speeds = {p: measure(name, args.size, args.batch_size, args.steps, device, dt)
                  for p, dt in precisions.items()}
        rows.append({"family": name, "args": FAMILY_ARGS.get(name, {}),
                     **{f"images_per_s_{p}": round(v, 2) for p, v in speeds.items()}})
        print(f"{name:16s} " + " ".join(f"{v:10.2f}" for v in speeds.values()))
    result = {"size": args.size, "batch_size": args.batch_size, "steps": args.steps,
              "device": str(device), "cpu": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
              "bf16_native_cpu": cpu_has_fast_bf16(), "results": rows}
    write_report(args.out, result)


if __name__ == "__main__":
    main()
