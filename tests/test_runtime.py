"""tinct.runtime: the process's peak memory as benchmarks and memory tests read it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinct.runtime import peak_memory_mb

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_peak_memory_grows_with_what_this_process_touches():
    before = peak_memory_mb()
    block = np.ones(300 * 2**20 // 8)  # 300 MiB, every page written
    assert peak_memory_mb() >= before + 250
    del block


def test_a_child_does_not_inherit_its_parents_peak():
    """getrusage's ru_maxrss would report at least the parent's size in a fork + exec child."""
    block = np.ones(600 * 2**20 // 8)
    parent = peak_memory_mb()
    child = subprocess.run([sys.executable, "-c",
                            "from tinct.runtime import peak_memory_mb; print(peak_memory_mb())"],
                           capture_output=True, text=True, check=True, timeout=120)
    assert float(child.stdout) < parent - 500, (child.stdout, parent)
    del block
