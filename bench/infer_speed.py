"""Inference speed and memory of the default colorizer on this machine.

1. **Network** at the working size (256 x 256, batch 1), in one process, best of N runs:
   tinct's network in each runtime (PyTorch fp32, fp32 with flip averaging, channels_last,
   bf16 autocast, ``torch.compile`` with ``--compile``, ONNX Runtime) and, as the reference,
   the network of Zhang et al. 2016 (colorization_deploy_v2: 8 conv blocks, 313-way output at
   1/4 size; random weights, speed does not depend on them).
2. **12-megapixel JPEG end to end** (4000 x 3000 gray JPEG: decode, lightness, network, merge,
   encode as JPEG; with flip averaging when the model's config asks for it), in a fresh
   process per runtime so that the peak memory (``VmHWM``, which includes PyTorch itself)
   belongs to that run alone (not ``ru_maxrss``: a fork + exec child starts from the parent's).
   Median of N runs after a warm-up, with the time of each stage.
3. **A folder of 256-px photos** (read, colorize with batching, write): images/s.
4. **Does each runtime keep quality?** The lightness of six colour photos (scikit-image's)
   colorized by PyTorch fp32, bf16 autocast and ONNX Runtime: mean and max |delta ab| against
   fp32, and PSNR against the true colours.

Prints a table and writes ``bench/results/infer_speed.json``.

    python bench/infer_speed.py [--model NAME_OR_FOLDER] [--runs 5] [--compile]

Without a shipped model (and no --model) a random-init network of the default architecture
stands in; speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from benchlib import time_folder, write_report
from tinct import Colorizer, create_model
from tinct.imageio import read_image, write_image
from tinct.inference.checkpoint import (
    ModelLoadError,
    load_pretrained,
    resolve_model,
    save_pretrained,
)
from tinct.runtime import cpu_description, peak_memory_mb

RESULTS = Path(__file__).parent / "results" / "infer_speed.json"
DEFAULT_ARCH = ("classifier", {"encoder": "efficientnet_lite0"})


class Zhang2016(nn.Module):
    """The colorization network of Zhang, Isola & Efros, ECCV 2016 (deploy_v2 prototxt).

    ``(B, 1, H, W)`` -> logits ``(B, 313, H/4, W/4)``: conv1-conv7 (64, 128, 256, 512, 512
    dilated 2, 512 dilated 2, 512) with stride-2 reductions in blocks 1-3 and BatchNorm after
    each block, a 4x4 stride-2 transposed conv and two convs of 256 in block 8, and a 1x1
    conv to the 313 ab bins.
    """

    def __init__(self):
        super().__init__()

        def block(cin, cout, n, stride_last=1, dilation=1):
            layers = []
            for i in range(n):
                stride = stride_last if i == n - 1 else 1
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, dilation,
                                     dilation), nn.ReLU(inplace=True)]
            return nn.Sequential(*layers, nn.BatchNorm2d(cout))

        self.body = nn.Sequential(
            block(1, 64, 2, 2), block(64, 128, 2, 2), block(128, 256, 3, 2),
            block(256, 512, 3), block(512, 512, 3, dilation=2), block(512, 512, 3, dilation=2),
            block(512, 512, 3),
            nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 313, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def best_time(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def model_folder(requested: str | None, scratch: Path) -> tuple[str, str]:
    """(model name or folder, description); a random stand-in when nothing is installed."""
    try:
        colorizer = Colorizer.from_pretrained(requested)
        arch = colorizer.config.architecture
        return (requested or colorizer.name), f"{colorizer.name} ({arch})"
    except ModelLoadError:
        if requested:
            raise
    torch.manual_seed(0)
    arch, kwargs = DEFAULT_ARCH
    folder = save_pretrained(create_model(arch, **kwargs).eval(), scratch / "stand-in",
                             working_size=256)
    return str(folder), f"random-init {arch} stand-in (no model shipped)"


def network_times(model_ref: str, runs: int, compile_: bool, scratch: Path) -> dict:
    """Seconds per 256 x 256 forward (+decode) for each runtime, and the Zhang 2016 network."""
    net, _ = load_pretrained(resolve_model(model_ref))
    net.eval()
    x = torch.rand(1, 1, 256, 256) * 2 - 1
    out: dict[str, float] = {}

    @torch.inference_mode()
    def run(model, inp, dtype=None):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            model.decode(model(inp))

    out["pytorch_fp32"] = best_time(lambda: run(net, x), runs)
    # flip averaging (Colorizer.flip): the photo and its mirror image in one batch of 2
    out["pytorch_fp32_flip_averaging"] = best_time(
        lambda: run(net, torch.cat([x, x.flip(-1)])), runs)
    cl = net.to(memory_format=torch.channels_last)
    out["pytorch_channels_last"] = best_time(
        lambda: run(cl, x.contiguous(memory_format=torch.channels_last)), runs)
    net.to(memory_format=torch.contiguous_format)
    out["pytorch_bf16_autocast"] = best_time(lambda: run(net, x, torch.bfloat16),
                                             max(1, runs // 2))
    if compile_:
        compiled = torch.compile(net)
        start = time.perf_counter()
        run(compiled, x)
        out["torch_compile_first_call"] = time.perf_counter() - start
        out["torch_compile"] = best_time(lambda: run(compiled, x), runs)
    try:
        from tinct.inference.export import export_onnx, load_onnx

        onnx_path = export_onnx(model_ref, scratch / "model.onnx")
        onnx_net, _ = load_onnx(onnx_path)
        out["onnxruntime"] = best_time(lambda: onnx_net(x), runs)
    except ModuleNotFoundError as exc:
        print(f"skipping ONNX Runtime: {exc}", file=sys.stderr)
    zhang = Zhang2016().eval()
    with torch.inference_mode():
        out["zhang2016_pytorch_fp32"] = best_time(lambda: zhang(x), max(1, runs // 2))
    return out


def end_to_end_child(model_ref: str, image: str, runs: int, out_dir: str) -> dict:
    """Runs in a fresh process: stage times of a 12 MP JPEG, and the process's peak RSS."""
    from tinct.inference import pipeline

    colorizer = Colorizer.from_pretrained(model_ref, device="cpu")
    colorizer.colorize(Image.new("L", (400, 300), 128))  # warm-up
    stages: dict[str, list[float]] = {k: [] for k in
                                      ("read", "lightness", "network", "merge", "write", "total")}
    for i in range(runs):
        t0 = time.perf_counter()
        loaded = read_image(image)
        t1 = time.perf_counter()
        L = colorizer.lightness(loaded)
        t2 = time.perf_counter()
        size = colorizer.working_size
        chroma = colorizer.predict_chroma(L[None], size,
                                          out_size=pipeline.working_shape(*L.shape[-2:], size))
        t3 = time.perf_counter()
        rgb = colorizer.render(L, chroma[0])
        t4 = time.perf_counter()
        write_image(Path(out_dir) / f"out{i}.jpg", rgb, None, quality=95)
        t5 = time.perf_counter()
        for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0),
                              strict=True):
            stages[key].append(value)
        del loaded, L, chroma, rgb  # one photo at a time, as a user's process holds it
    peak_mb = peak_memory_mb()
    return {"median_s": {k: statistics.median(v) for k, v in stages.items()},
            "all_total_s": stages["total"], "peak_rss_mb": peak_mb}


def end_to_end(model_ref: str, runs: int, scratch: Path) -> dict:
    from skimage import data

    image = scratch / "photo_12mp.jpg"
    gray = Image.fromarray(data.astronaut()).convert("L").resize((4000, 3000), Image.BICUBIC)
    gray.save(image, quality=92)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import infer_speed; "
            "print(json.dumps(infer_speed.end_to_end_child(*sys.argv[2:4], int(sys.argv[4]), "
            "sys.argv[5])))")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), model_ref,
                          str(image), str(runs), str(scratch)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def folder_speed(model_ref: str, n: int, batch_size: int, scratch: Path) -> dict:
    """Images/s reading, colorizing (batched) and writing ``n`` 256 x 192 JPEGs."""
    from skimage import data

    src, dst = scratch / "folder_in", scratch / "folder_out"
    src.mkdir()
    dst.mkdir()
    names = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
             "immunohistochemistry")
    for i in range(n):
        photo = Image.fromarray(getattr(data, names[i % len(names)])()).convert("L")
        photo.resize((256, 192)).rotate(7 * i).save(src / f"p{i:03d}.jpg", quality=90)
    colorizer = Colorizer.from_pretrained(model_ref, device="cpu")
    colorizer.colorize(Image.new("L", (256, 192), 128))  # warm-up
    seconds = time_folder(colorizer, sorted(src.iterdir()), dst, batch_size)
    return {"images": n, "batch_size": batch_size, "seconds": seconds, "images_per_s": n / seconds}


AGREEMENT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "retina")


def runtime_agreement(model_ref: str, scratch: Path) -> dict:
    """Per runtime: chroma difference to fp32 (ab units) and PSNR (dB) to the true colours."""
    from skimage import data

    from tinct import color
    from tinct.evaluation import metrics

    photos = [torch.from_numpy(getattr(data, n)()[..., :3]).permute(2, 0, 1).float() / 255
              for n in AGREEMENT_PHOTOS]
    runtimes = {"pytorch_fp32": Colorizer.from_pretrained(model_ref, device="cpu",
                                                          precision="fp32"),
                "pytorch_bf16_autocast": Colorizer.from_pretrained(model_ref, device="cpu",
                                                                   precision="bf16")}
    try:
        from tinct.inference.export import export_onnx

        runtimes["onnxruntime"] = Colorizer.from_pretrained(
            export_onnx(model_ref, scratch / "agreement.onnx"))
    except ModuleNotFoundError as exc:
        print(f"skipping ONNX Runtime agreement: {exc}", file=sys.stderr)
    chroma: dict[str, list[torch.Tensor]] = {k: [] for k in runtimes}
    psnr: dict[str, list[float]] = {k: [] for k in runtimes}
    for rgb in photos:
        L = color.rgb_to_lightness(rgb[None])
        for name, colorizer in runtimes.items():
            ab = colorizer.predict_chroma(L)
            chroma[name].append(ab)
            pred = torch.from_numpy(colorizer.render(L[0], ab[0], np.float32)).permute(2, 0, 1)
            psnr[name].append(float(metrics.psnr(pred, rgb)))
    out = {}
    for name in runtimes:
        diff = torch.cat([(a - b).abs().flatten() for a, b in
                          zip(chroma[name], chroma["pytorch_fp32"], strict=True)])
        out[name] = {"mean_abs_ab_vs_fp32": float(diff.mean()),
                     "max_abs_ab_vs_fp32": float(diff.max()),
                     "mean_psnr_db": statistics.mean(psnr[name])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: shipped)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folder-images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        model_ref, described = model_folder(args.model, scratch)
        print(f"model: {described}; CPU: {cpu_description()}, {torch.get_num_threads()} threads")
        net = network_times(model_ref, args.runs, args.compile, scratch)
        e2e = end_to_end(model_ref, max(3, args.runs // 2), scratch)
        folder = folder_speed(model_ref, args.folder_images, args.batch_size, scratch)
        agreement = runtime_agreement(model_ref, scratch)
    ref = net["zhang2016_pytorch_fp32"]
    print("\nnetwork, 256 x 256, batch 1 (best of runs):")
    for key, seconds in net.items():
        speedup = f"{ref / seconds:5.1f}x vs Zhang 2016" if "first_call" not in key else ""
        print(f"  {key:28s} {seconds * 1000:8.1f} ms  {speedup}")
    m = e2e["median_s"]
    print("\n12 MP JPEG end to end (median): " + ", ".join(f"{k} {v:.3f} s" for k, v in m.items())
          + f"; peak RSS {e2e['peak_rss_mb']:.0f} MB")
    print(f"folder of {folder['images']} 256-px photos, batch {folder['batch_size']}: "
          f"{folder['images_per_s']:.1f} images/s")
    print(f"runtime agreement on {len(AGREEMENT_PHOTOS)} photos (|delta ab| vs fp32; PSNR):")
    for key, a in agreement.items():
        print(f"  {key:28s} mean {a['mean_abs_ab_vs_fp32']:.3f}  max "
              f"{a['max_abs_ab_vs_fp32']:.2f}  PSNR {a['mean_psnr_db']:.3f} dB")
    fastest = min((v, k) for k, v in net.items() if k != "zhang2016_pytorch_fp32"
                  and "first_call" not in k)
    report = {
        "model": described, "cpu": cpu_description(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "network_256_s": net,
        "speedup_vs_zhang2016": {k: ref / v for k, v in net.items() if "first_call" not in k},
        "fastest_runtime": fastest[1],
        "end_to_end_12mp": e2e, "folder_256px": folder, "runtime_agreement": agreement,
        "targets": {"12mp_seconds_max": 1.5, "12mp_peak_mb_max": 1536,
                    "speedup_vs_zhang2016_min": 5.0},
    }
    print()
    write_report(args.output, report)


if __name__ == "__main__":
    main()
