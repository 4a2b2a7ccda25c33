"""tinct.runtime: the process's peak memory as benchmarks and memory tests read it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

CHILD = ("import sys, numpy as np; from tinct.runtime import peak_memory_mb; "
         "before = peak_memory_mb(); block = np.ones(int(sys.argv[1]) * 2**20 // 8); "
         "print(before, peak_memory_mb())")


def child_peaks(allocate_mb: int) -> tuple[float, float]:
    """A fresh child's peak before and after it writes ``allocate_mb`` MiB."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(allocate_mb)], capture_output=True,
                         text=True, check=True, timeout=120)
    before, after = map(float, out.stdout.split())
    return before, after


def test_peak_memory_counts_what_the_process_touches_and_not_its_parents():
    """getrusage's ru_maxrss would start a fork + exec child at the parent's size."""
    from tinct.runtime import peak_memory_mb

    parent_block = np.ones(600 * 2**20 // 8)  # the parent now holds at least 600 MiB
    parent = peak_memory_mb()
    before, after = child_peaks(300)
    assert before < parent - 500, (before, parent)
    assert after >= before + 250, (before, after)
    del parent_block
