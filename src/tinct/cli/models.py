"""``tinct models``: the registered architectures and the installed saved models."""

from __future__ import annotations

import argparse
import inspect
import json
from numbers import Real
from pathlib import Path
from typing import Any

_MAX_METRICS = 4  # metrics shown per model in the table


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models", help="list model architectures and installed models",
        description="List the registered model architectures with their arguments and "
                    "defaults (what 'tinct train' can build), and the installed saved models "
                    "(what 'tinct colorize --model NAME' can load). Models are searched in "
                    "$TINCT_MODELS (folders separated by the path separator) and in the "
                    "models shipped with tinct.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def _plain(value: Any) -> Any:
    """A default value as JSON can hold it (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def architectures() -> list[dict[str, Any]]:
    """Each registered architecture: name, one-line description, arguments with defaults."""
    from tinct.models.registry import list_models, model_doc, model_signature

    found = []
    for name in list_models():
        sig = model_signature(name)
        args = []
        for param in sig.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            entry: dict[str, Any] = {"name": param.name}
            if param.default is inspect.Parameter.empty:
                entry["required"] = True
            else:
                entry["default"] = _plain(param.default)
            args.append(entry)
        found.append({"name": name, "description": model_doc(name),
                      "arguments": args})
    return found


def installed() -> list[dict[str, Any]]:
    """Each installed saved model: name, path and what its config.json says (or its problem)."""
    from tinct.inference.checkpoint import (
        ModelLoadError,
        installed_models,
        read_config,
    )

    found = []
    for name, folder in installed_models().items():
        entry: dict[str, Any] = {"name": name, "path": str(folder)}
        try:
            config = read_config(folder)
        except ModelLoadError as exc:
            entry["error"] = str(exc)
        else:
            doc = config.to_dict()
            entry.update(architecture=config.architecture, space=config.space,
                         working_size=config.working_size, description=config.description,
                         decode=doc["decode"], flip=config.flip, levels=config.levels,
                         metrics=doc["metrics"],
                         hints=bool(config.model_args.get("hints")))
        found.append(entry)
    return found


_HEADLINE = ("psnr", "dcf")  # per eval set, when the model card has eval results


def metrics_summary(metrics: dict[str, Any], limit: int = _MAX_METRICS) -> str:
    """``{"psnr": 23.1, "val": {"ssim": 0.9}}`` -> ``"psnr=23.1 val.ssim=0.9"`` (numbers only).

    A model with ``tinct eval`` results (``metrics["eval"][set]``) is summarized by those:
    ``"kodak24 psnr=23.01 dcf=5.82; bsds500-test ..."``, the figures users compare models by.
    """
    evals = metrics.get("eval")
    if isinstance(evals, dict) and evals:
        return "; ".join(
            " ".join([name] + [f"{k}={v[k]:.2f}" for k in _HEADLINE if isinstance(v.get(k), Real)])
            for name, v in evals.items() if isinstance(v, dict))
    flat: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}{key}.", sub)
        elif isinstance(value, Real) and not isinstance(value, bool):
            flat.append(f"{prefix[:-1]}={value:.4g}")

    walk("", metrics)
    more = f" (+{len(flat) - limit} more)" if len(flat) > limit else ""
    return " ".join(flat[:limit]) + more if flat else "-"


def _format_args(args: list[dict[str, Any]]) -> str:
    parts = []
    for a in args:
        parts.append(f"{a['name']} (required)" if a.get("required")
                     else f"{a['name']}={a['default']!r}")
    return ", ".join(parts)


def render_text(archs: list[dict[str, Any]], models: list[dict[str, Any]],
                search_path: list[Path]) -> str:
    lines = ["Architectures (tinct train --model.architecture=NAME, "
             "tinct.create_model(NAME, **arguments)):"]
    width = max((len(a["name"]) for a in archs), default=0)
    for a in archs:
        description = a["description"].replace("``", "")
        lines.append(f"  {a['name']:<{width}}  {description}")
        lines.append(f"  {'':<{width}}  {_format_args(a['arguments'])}")
    lines.append("")
    lines.append("Installed models (tinct colorize --model NAME):")
    if not models:
        lines.append("  none - no trained model shipped yet; train one with 'tinct train', or "
                     "put saved-model folders in $TINCT_MODELS")
    for m in models:
        if "error" in m:
            lines.append(f"  {m['name']}: unusable ({m['error']})")
            continue
        decode = "".join(f", {k} {v:g}" for k, v in m.get("decode", {}).items())
        decode += ", flip averaging" if m.get("flip") else ""
        decode += ", input levels" if m.get("levels") else ""
        decode += ", trained with colour hints" if m.get("hints") else ""
        lines.append(f"  {m['name']}: {m['architecture']}, {m['space']}, working size "
                     f"{m['working_size']} px{decode}, metrics: {metrics_summary(m['metrics'])}")
        lines.append(f"    {m['path']}")
    lines.append("")
    lines.append("Searched: " + ", ".join(str(p) for p in search_path))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tinct.inference.checkpoint import model_search_path

    archs, models, search_path = architectures(), installed(), model_search_path()
    if args.json:
        print(json.dumps({"architectures": archs, "installed": models,
                          "search_path": [str(p) for p in search_path]}, indent=2))
    else:
        print(render_text(archs, models, search_path))
    return 0
