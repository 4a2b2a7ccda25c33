"""The image reader under a mutation fuzzer: thousands of damaged JPEG, PNG, TIFF, WebP, BMP
and GIF files, each decoded or refused with a one-line error; no crash, hang or memory
blow-up (the child runs under a 2 GB address-space limit and a time limit)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).parent / "fuzz" / "fuzz_imageio.py"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def test_reader_survives_thousands_of_damaged_files():
    proc = subprocess.run([sys.executable, str(FUZZER), "--cases", "5000", "--seed", "1"],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("5000 cases:")
    decoded = int(summary.split(": ")[1].split(" decoded")[0])
    assert 0 < decoded < 5000  # the mutations both survive and break the decoder
    assert "Warning" not in proc.stderr  # damaged metadata is not a Python warning per file
