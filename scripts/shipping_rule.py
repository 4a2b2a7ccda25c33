"""Applies v3's shipping rule (docs/v3.md) to ``tinct compare`` reports and prints the verdict
with a Markdown table: candidate / current model / gray per set.

    python scripts/shipping_rule.py CANDIDATE CURRENT REPORT_DIR [REPORT_DIR ...] [--json OUT]
    # e.g. python scripts/shipping_rule.py cand tinct-base out/kodak24 out/bsds500-test \\
    #          out/urban100 out/everyday

Each REPORT_DIR holds the ``metrics.json`` of one ``tinct compare CANDIDATE CURRENT -d SET``;
models are matched by the names the report gives them. The rule: the candidate replaces the
current model only if (1) it is better on PSNR, AuC, FD and semantic agreement on at least
three of the sets (all of them when fewer than four are given) and on the mean over the sets of
each metric, and (2) no set is worse than the current model by more than 0.2 dB PSNR or
0.005 AuC. The exit status is 0 when the candidate passes, 1 when it does not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

# metric key in metrics.json -> (label, True when higher is better)
RULE_METRICS = {"psnr": ("PSNR", True), "auc": ("AuC", True),
                "fd_effnet_lite2": ("FD", False), "semantic_agreement": ("semantic", True)}
MAX_PSNR_LOSS_DB = 0.2
MAX_AUC_LOSS = 0.005
SETS_NEEDED = 3


@dataclass
class Verdict:
    """The rule's outcome: ``passes``, and each reason it does not (empty when it passes)."""

    passes: bool
    reasons: list[str]
    sets_better: list[str]


def model_summary(report: dict, name: str, where: str) -> dict[str, float]:
    """The ``summary`` of the model called ``name`` in one ``metrics.json`` document."""
    for model in report.get("models", []):
        if model.get("name") == name:
            return model["summary"]
    names = [m.get("name") for m in report.get("models", [])]
    raise ValueError(f"{where}: no model named {name!r} (the report has {names})")


def better(candidate: float, current: float, higher_is_better: bool) -> bool:
    return candidate > current if higher_is_better else candidate < current


def apply_rule(candidate: dict[str, dict], current: dict[str, dict]) -> Verdict:
    """The rule on per-set summaries ``{set: {metric: value}}`` of the two models."""
    sets = list(candidate)
    reasons, sets_better = [], []
    for name in sets:
        if all(better(candidate[name][k], current[name][k], up) for k, (_, up) in
               RULE_METRICS.items()):
            sets_better.append(name)
        psnr_loss = current[name]["psnr"] - candidate[name]["psnr"]
        auc_loss = current[name]["auc"] - candidate[name]["auc"]
        if psnr_loss > MAX_PSNR_LOSS_DB:
            reasons.append(f"{name}: PSNR {psnr_loss:.2f} dB below the current model")
        if auc_loss > MAX_AUC_LOSS:
            reasons.append(f"{name}: AuC {auc_loss:.4f} below the current model")
    needed = min(SETS_NEEDED, len(sets))
    if len(sets_better) < needed:
        reasons.append(f"better on all four metrics on {len(sets_better)} set(s) "
                       f"({', '.join(sets_better) or 'none'}), {needed} needed")
    for key, (label, up) in RULE_METRICS.items():
        mean_cand = sum(candidate[s][key] for s in sets) / len(sets)
        mean_curr = sum(current[s][key] for s in sets) / len(sets)
        if not better(mean_cand, mean_curr, up):
            reasons.append(f"mean {label} over the sets not better "
                           f"({mean_cand:.4g} vs {mean_curr:.4g})")
    return Verdict(not reasons, reasons, sets_better)


def markdown_table(names: list[str], models: list[dict[str, dict]]) -> str:
    """One row per set: each rule metric and dCF as ``a / b / c`` over ``models``."""
    cols = [*RULE_METRICS, "dcf"]
    head = ["set", *(RULE_METRICS[k][0] if k in RULE_METRICS else "dCF" for k in cols)]
    fmt = {"psnr": "{:.2f}", "auc": "{:.4f}", "fd_effnet_lite2": "{:.1f}",
           "semantic_agreement": "{:.3f}", "dcf": "{:.1f}"}
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells = [" / ".join(fmt[k].format(m[name][k]) if m[name].get(k) is not None else "-"
                            for m in models) for k in cols]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", help="the candidate's name in the reports")
    parser.add_argument("current", help="the current model's name in the reports")
    parser.add_argument("reports", nargs="+", type=Path, help="tinct compare report folders")
    parser.add_argument("--json", type=Path, help="also write the verdict and figures here")
    args = parser.parse_args(argv)
    cand, curr, gray, names = {}, {}, {}, []
    try:
        for folder in args.reports:
            path = folder / "metrics.json"
            try:
                report = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"{path}: not a readable metrics.json ({exc})") from None
            name = folder.name
            names.append(name)
            cand[name] = model_summary(report, args.candidate, str(path))
            curr[name] = model_summary(report, args.current, str(path))
            gray[name] = model_summary(report, "gray", str(path))
            for key in RULE_METRICS:
                for who, summary in ((args.candidate, cand[name]), (args.current, curr[name])):
                    if summary.get(key) is None:
                        raise ValueError(f"{path}: {who} has no {key} (run compare with features)")
    except ValueError as exc:
        print(f"shipping_rule: {exc}", file=sys.stderr)
        return 2
    verdict = apply_rule(cand, curr)
    print(f"candidate / {args.current} / gray\n")
    print(markdown_table(names, [cand, curr, gray]))
    print(f"\nbetter on every metric: {', '.join(verdict.sets_better) or 'no set'}")
    print("PASSES the shipping rule" if verdict.passes else
          "does NOT pass the shipping rule:\n- " + "\n- ".join(verdict.reasons))
    if args.json:
        args.json.write_text(json.dumps({"passes": verdict.passes, "reasons": verdict.reasons,
                                         "sets_better": verdict.sets_better, "candidate": cand,
                                         "current": curr, "gray": gray}, indent=2) + "\n")
    return 0 if verdict.passes else 1


if __name__ == "__main__":
    sys.exit(main())
