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


def time_folder(colorizer: Any, paths: list[Path], out: Path, batch_size: int) -> float:
    """Seconds to read ``paths``, colorize them in batches of ``batch_size`` and write each
    to ``out`` (same name). Uses only API that tinct has had since before issue 18, so a
    benchmark can time an older commit with it too."""
    import time

    import numpy as np

    from tinct.imageio import read_image, write_image

    start = time.perf_counter()
    for first in range(0, len(paths), batch_size):
        group = paths[first:first + batch_size]
        loaded = [read_image(p) for p in group]
        rgbs = colorizer.colorize_batch(loaded, batch_size=batch_size, dtype=np.uint8)
        for p, rgb in zip(group, rgbs, strict=True):
            write_image(out / p.name, rgb, None)
    return time.perf_counter() - start
