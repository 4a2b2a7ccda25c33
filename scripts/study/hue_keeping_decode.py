"""A decode that keeps the annealed mean's hue and restores the chroma that averaging loses.

    python scripts/study/hue_keeping_decode.py MODEL PHOTOS OUT [--size 256]
        [-t 0.38,0.6] [-b 0,0.2,0.4,0.6,0.8] [-g -1,-0.5,0,0.5,1] [--dcf 8] [--limit N]

A colour classifier's annealed mean ``m = sum_q p_T(q) c_q`` is shorter than the chroma of any
bin when the distribution's mass is split between hues, and that is where colour goes faint.
With ``e = sum_q p_T(q) |c_q|`` the expected chroma of the same annealed (and boosted)
distribution, ``r = |m| / e`` lies in [0, 1] (1 when the bins agree on a hue), and this decode
returns ``m * r^-gamma``: ``gamma = 0`` is tinct's decode, ``gamma = 1`` gives the mean's hue
the expected chroma, and a negative ``gamma`` does the opposite, fainter where the hues
disagree (to be paired with a stronger boost). The boost raises colour by favouring rare
bins, which can change the hue; a positive gamma raises it only where hues disagree
(docs/v3.md, session 49).

Every (T, b, gamma) setting is measured on PHOTOS by ``tinct eval``'s metrics at one working
size, with the network run once per photo. OUT gets ``metrics.json`` in the layout
``psnr_at_dcf.py`` reads (one entry per setting, gamma recorded under ``info.decode``) and
``frontier.json``: for each gamma, the PSNR on its settings' PSNR-dCF frontier at ``--dcf``,
and the same for all settings together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from psnr_at_dcf import psnr_at  # noqa: E402

from tinct.errors import InputError  # noqa: E402
from tinct.fileio import atomic_write_text  # noqa: E402
from tinct.models.classifier import ColorClassifier, DecodeView  # noqa: E402


def hue_keeping_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float,
                     bias: torch.Tensor | None, gamma: float) -> torch.Tensor:
    """Logits ``(B, Q, h, w)``, bin centres ``(Q, 2)`` (colour-space units), the boost's bias
    ``(Q,)`` on the scaled logits or None -> chroma ``(B, 2, h, w)`` in colour-space units:
    the annealed mean ``m`` times ``(|m| / E|c|)^-gamma`` (0 is the annealed
    mean; negative: fainter where the bins disagree). Where the expected chroma is 0 the mean
    is returned unchanged."""
    z = logits.float() / temperature
    if bias is not None:
        z = z + bias.float()[None, :, None, None]
    p = F.softmax(z, dim=1)
    c = centres.float()
    mean = torch.einsum("bqhw,qc->bchw", p, c)
    if gamma == 0:
        return mean
    expected = torch.einsum("bqhw,q->bhw", p, c.norm(dim=1)).unsqueeze(1)
    length = mean.norm(dim=1, keepdim=True)
    ratio = (length / expected.clamp(min=1e-6)).clamp(min=1e-3, max=1.0)
    return mean * ratio.pow(-gamma)


class HueKeepingView(DecodeView):
    """A :class:`DecodeView` whose decode is :func:`hue_keeping_mean` at its ``gamma``."""

    def __init__(self, classifier: ColorClassifier, temperature: float, boost: float,
                 gamma: float, network=None):
        super().__init__(classifier, temperature, boost, network=network)
        if not -float("inf") < gamma < float("inf"):
            raise InputError(f"gamma must be a finite number, got {gamma}")
        self.gamma = float(gamma)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        c = self.classifier
        bias = c.log_weights() * (self.boost / self.temperature) if self.boost else None
        return hue_keeping_mean(out, c.centres, self.temperature, bias,
                                self.gamma) / c.chroma_scale


def entries(model: str, grid: list[tuple[float, float, float]], size: int):
    """(model folder, [(T, b, gamma)], working size) -> evaluation entries sharing one
    network run per photo."""
    from tinct.evaluation.evaluate import EvalEntry, describe_model
    from tinct.evaluation.tune import SharedOutput
    from tinct.inference.checkpoint import load_pretrained, resolve_model
    from tinct.inference.pipeline import Colorizer

    folder = resolve_model(model)
    network, config = load_pretrained(folder)
    if not isinstance(network, ColorClassifier):
        raise InputError(f"{folder}: not a colour classifier, so it has no decode to change")
    shared = SharedOutput(network)
    info = describe_model(Colorizer(network, config), folder)
    out = []
    for t, b, g in grid:
        view = HueKeepingView(network, t, b, g, network=shared)
        label = f"T={t:g} b={b:g} gamma={g:g}"
        colorizer = Colorizer(view, config.replace(name=label))
        out.append(EvalEntry(label, colorizer, size,
                             {**info, "decode": {"temperature": t, "boost": b, "gamma": g},
                              "inference": {"flip": False}}))
    return out


def parse_gammas(text: str) -> list[float]:
    """``"-1,0,0.5"`` -> ``[-1.0, 0.0, 0.5]`` (sorted, no repeats, each finite)."""
    from tinct.evaluation.tune import parse_values

    return parse_values(text, "gamma", allow_negative=True)


def frontier_table(report: dict, dcf: float) -> dict[str, float]:
    """``{"gamma=G": PSNR at dcf on that gamma's frontier, ..., "all": every setting's}``."""
    gammas = sorted({m["info"]["decode"]["gamma"] for m in report["models"]})
    table = {}
    for g in gammas:
        part = {"models": [m for m in report["models"] if m["info"]["decode"]["gamma"] == g]}
        table[f"gamma={g:g}"] = psnr_at(part, dcf)
    table["all"] = psnr_at(report, dcf)
    return table


def main(argv: list[str] | None = None) -> int:
    from tinct.evaluation.evaluate import evaluate_many
    from tinct.evaluation.tune import parse_values

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved colour classifier (folder or name)")
    parser.add_argument("photos", type=Path, help="folder of colour photos (validation)")
    parser.add_argument("out", type=Path, help="folder for metrics.json and frontier.json")
    parser.add_argument("--size", type=int, default=256, help="working size (default 256)")
    parser.add_argument("-t", "--temperatures", default="0.38,0.6")
    parser.add_argument("-b", "--boosts", default="0,0.2,0.4,0.6,0.8")
    parser.add_argument("-g", "--gammas", default="-1,-0.5,0,0.5,1")
    parser.add_argument("--dcf", type=float, default=8.0, help="colourfulness gap (default 8)")
    parser.add_argument("--limit", type=int, help="only the first N photos")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        grid = [(t, b, g) for t in parse_values(args.temperatures)
                for b in parse_values(args.boosts, "boost", allow_zero=True)
                for g in parse_gammas(args.gammas)]
        results = evaluate_many(entries(args.model, grid, args.size), args.photos,
                                limit=args.limit, features=False,
                                progress=not args.no_progress)
    except (InputError, OSError, ValueError) as exc:
        print(f"hue_keeping_decode: {exc}", file=sys.stderr)
        return 1
    report = {"models": [r.to_dict() for r in results]}
    table = frontier_table(report, args.dcf)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "metrics.json", json.dumps(report, indent=1))
    atomic_write_text(args.out / "frontier.json",
                      json.dumps({"dcf": args.dcf, "psnr": table}, indent=1))
    for r in results:
        print(f"{r.name:28s} PSNR {r.summary['psnr']:.3f}  dCF {r.summary['dcf']:.2f}")
    for key, value in table.items():
        print(f"{key:10s} {value:.3f} dB at dCF {args.dcf:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
