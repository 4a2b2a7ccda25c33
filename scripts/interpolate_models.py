"""Weight-space interpolation of two saved models of one architecture (WiSE-FT).

    python scripts/interpolate_models.py START FINETUNED OUT --alpha 0.5 [--alpha 0.75 ...]

Writes ``OUT`` (or ``OUT-a0.50``, ... when several ``--alpha`` are given): a saved-model
folder whose floating-point tensors are ``(1 - alpha) * START + alpha * FINETUNED`` (integer
tensors, such as BatchNorm's batch counters, come from FINETUNED), with FINETUNED's config
(decode setting included) and a note of the mix in its description and training record.

Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022): when FINETUNED was
trained from START's weights, the straight line between them keeps most of the fine-tuned
model's gain on the new data while losing less of the start's quality on data unlike it.
Here START is the shipped model and FINETUNED a run initialized from it (``model.init_from``);
choose alpha on the validation split (``tinct compare OUT-a* ... -d VALIDATION``), never on the
eval sets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from tinct.errors import TinctError
from tinct.inference.checkpoint import load_pretrained, resolve_model, save_like


def interpolate_state(start: dict[str, torch.Tensor], finetuned: dict[str, torch.Tensor],
                      alpha: float) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * start + alpha * finetuned`` for floating-point tensors (computed in
    float32, stored in ``finetuned``'s dtype); other tensors from ``finetuned``. The two state
    dicts must have the same keys and shapes."""
    if set(start) != set(finetuned):
        missing = sorted(set(start) ^ set(finetuned))
        raise ValueError(f"the models' tensors differ: {', '.join(missing[:3])}")
    out = {}
    for key, tuned in finetuned.items():
        base = start[key]
        if base.shape != tuned.shape:
            raise ValueError(f"{key}: shape {tuple(base.shape)} vs {tuple(tuned.shape)}")
        if tuned.is_floating_point():
            mixed = torch.lerp(base.float(), tuned.float(), alpha)
            out[key] = mixed.to(tuned.dtype)
        else:
            out[key] = tuned.clone()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("start", help="saved-model folder or shipped name the run started from")
    parser.add_argument("finetuned", help="saved-model folder of the run's weights")
    parser.add_argument("out", type=Path, help="output folder (suffixed -aALPHA when several)")
    parser.add_argument("--alpha", type=float, action="append", required=True,
                        help="weight of FINETUNED in [0, 1]; repeat for several outputs")
    args = parser.parse_args(argv)
    bad = [a for a in args.alpha if not 0.0 <= a <= 1.0]
    if bad:
        parser.error(f"--alpha must be in [0, 1], got {bad[0]}")
    try:
        start, _ = load_pretrained(resolve_model(args.start))
        tuned, config = load_pretrained(resolve_model(args.finetuned))
        if type(start) is not type(tuned):
            raise ValueError(f"{args.start} and {args.finetuned} are different architectures")
        # copies: loading a mix into ``tuned`` below overwrites its own tensors in place
        start_state = {k: v.clone() for k, v in start.state_dict().items()}
        tuned_state = {k: v.clone() for k, v in tuned.state_dict().items()}
        start_name = Path(args.start).name  # a shipped config records no machine paths
        for alpha in args.alpha:
            out = args.out if len(args.alpha) == 1 else Path(f"{args.out}-a{alpha:.2f}")
            tuned.load_state_dict(interpolate_state(start_state, tuned_state, alpha))
            mix = f"weights interpolated {1 - alpha:.2f} x {start_name} + {alpha:.2f} x the run"
            training = {**config.training, "interpolation": {"start": start_name,
                                                              "alpha": alpha}}
            save_like(tuned, out, config, description=f"{config.description} ({mix})".strip(),
                      training=training, metrics={}, tuning={})
            print(f"alpha {alpha:.2f} -> {out}")
    except (TinctError, ValueError) as exc:
        print(f"interpolate_models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
