"""What every benchmark script shares: writing its JSON report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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
