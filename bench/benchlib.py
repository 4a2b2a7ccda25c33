"""What the benchmark scripts share: writing the JSON report; the web benchmarks' options
and test client."""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from typing import Any


def web_bench_parser(description: str, results: Path, runs: int) -> argparse.ArgumentParser:
    """The options of a benchmark of the web API on one photo: --model, --runs, --side,
    --output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default=None, help="model name or folder (default: shipped)")
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--side", type=int, default=512, help="longer side of the photo")
    parser.add_argument("--output", type=Path, default=results)
    return parser


def test_client_class():
    """FastAPI's TestClient (the app in this process, no sockets), imported quietly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx")
        from fastapi.testclient import TestClient
    return TestClient


def write_report(path: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Writes ``report`` as indented JSON to ``path`` atomically (temp file + rename), creating
    the folder, and prints where it went."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return path
