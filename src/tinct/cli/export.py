"""``tinct export --format onnx``: a saved model as one self-describing ONNX file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tinct.cli import CLIError
from tinct.cli.options import add_model_option, int_range


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export a model to ONNX for other runtimes",
        description="Export a model to a single ONNX file that any ONNX runtime can run: "
                    "normalized lightness L (B, 1, H, W) in [-1, 1] in, decoded chroma out "
                    "(classifiers include their annealed-mean decoding). The model's config "
                    "travels in the file's metadata, so 'tinct colorize --model FILE.onnx' "
                    "runs it with ONNX Runtime.",
        epilog="example: tinct export --format onnx -m tinct-base -o tinct-base.onnx")
    p.add_argument("--format", default="onnx", choices=("onnx",),
                   help="export format (default: onnx)")
    add_model_option(p, help="installed model name or saved-model folder (default: the "
                                   "shipped model)")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="output file (.onnx); replaced if it exists")
    p.add_argument("--opset", type=int_range(7, 30), default=18,
                   help="ONNX opset version (default: 18)")
    p.add_argument("--check", action="store_true",
                   help="after exporting, run a test image through PyTorch and ONNX Runtime "
                        "and report the largest chroma difference")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise CLIError(f"{out}: the output file must end with .onnx")
    if out.is_dir():
        raise CLIError(f"{out}: is a folder; give a file name ending with .onnx")
    from tinct.inference.export import export_onnx

    start = time.perf_counter()
    try:
        export_onnx(args.model, out, opset=args.opset)
    except ModuleNotFoundError as exc:
        raise CLIError(str(exc)) from None
    size_mb = out.stat().st_size / 1e6
    print(f"wrote {out} ({size_mb:.1f} MB) in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    if args.check:
        difference = compare_runtimes(args.model, out)
        print(f"check: largest |chroma difference| PyTorch vs ONNX Runtime = {difference:.2e} "
              "(ab units)", file=sys.stderr)
    return 0


def compare_runtimes(model: str | None, onnx_path: Path) -> float:
    """Largest absolute chroma difference (colour-space units) between the PyTorch model and
    its ONNX export on a 200 x 300 gradient-and-texture test image."""
    import torch

    from tinct.inference.pipeline import Colorizer

    y, x = torch.meshgrid(torch.linspace(0, 1, 200), torch.linspace(0, 1, 300), indexing="ij")
    L = (100 * (0.5 * x + 0.3 * y + 0.2 * torch.sin(40 * x * y) ** 2))[None, None]
    reference = Colorizer.from_pretrained(model, device="cpu", precision="fp32")
    exported = Colorizer.from_pretrained(onnx_path)
    return float((reference.predict_chroma(L) - exported.predict_chroma(L)).abs().max())
