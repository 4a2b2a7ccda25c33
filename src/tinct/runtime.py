"""Where and how networks run: device choice and the reduced-precision policy."""

from __future__ import annotations

import contextlib
import functools
import platform

import torch

from tinct.errors import InputError


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX).

    Without them PyTorch emulates bf16 and autocast is many times slower than float32.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_description() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for benchmark reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_memory_mb() -> float:
    """This process's peak resident memory in MiB (``VmHWM`` of /proc/self/status on Linux).

    ``getrusage``'s ``ru_maxrss`` is not used on Linux: a child started with fork + exec
    inherits the parent's resident size at the fork as its starting peak, so a benchmark or
    test child of a 1.5 GB parent would report at least 1.5 GB whatever it does itself.
    Elsewhere ``ru_maxrss`` is the fallback (KiB on Linux/BSD, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # Unix only; imported here so Windows can import this module

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` or ``"auto"`` picks CUDA when available, else CPU; clear error for a missing GPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but no CUDA GPU is available")
    return dev


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """``"auto"``: bf16 on CUDA and on CPUs with native bf16, else None (float32).

    ``"fp32"`` -> None; ``"bf16"`` -> torch.bfloat16; ``"fp16"`` -> torch.float16 (CUDA only).
    """
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else None
    table = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in table:
        raise InputError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise InputError("fp16 precision needs a CUDA device; use bf16 or fp32 on CPU")
    return table[precision]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for ``dtype``, or a no-op context for float32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
