"""Kept results: what ``POST /api/recolor`` needs to decode a colorization again without the
upload or the network.

A colorization keeps its decoded photo and the network's raw output (a classifier's logits at
a quarter of the working size: about 3 MB at 256 px) under a random id. The cache is a
least-recently-used map bounded in bytes, and an entry expires ``ttl`` seconds after its last
use; an unknown or expired id is a 404 with a one-line message. Nothing is written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from tinct.imageio import LoadedImage
from tinct.inference.hints import Hint
from tinct.web.errors import ApiError


@dataclass
class KeptResult:
    """One colorization: the model and working size it ran with, the decoded upload, the
    network's output ``(1, C, h', w')``, the upload's file name (for downloads), the colour
    hints the output was computed with and the request's input levels (None: the model's). A
    re-colour with new hints replaces ``output`` and ``hints`` (the cache's byte count stays
    right: hints are small, the output's shape is the same)."""

    model: str
    size: int | None
    image: LoadedImage
    output: torch.Tensor
    filename: str
    hints: list[Hint] | None = None
    levels: bool | None = None
    used: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def network(self) -> tuple[torch.Tensor, list[Hint] | None]:
        """The network's output and the hints it was computed with, read together (another
        request may be replacing them)."""
        with self._lock:
            return self.output, self.hints

    def replace_network(self, output: torch.Tensor, hints: list[Hint] | None) -> None:
        """Keeps a new network output and the hints it was computed with, together."""
        with self._lock:
            self.output, self.hints = output, hints

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + self.output.element_size() * self.output.nelement()


class ResultCache:
    """Id -> :class:`KeptResult`, at most ``max_bytes`` in all, each kept ``ttl`` seconds
    after its last use. Thread-safe."""

    def __init__(self, max_bytes: int, ttl: float = 900.0):
        if max_bytes < 0 or ttl <= 0:
            raise ValueError("max_bytes must be 0 or more and ttl positive")
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._entries: OrderedDict[str, KeptResult] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, result: KeptResult) -> str | None:
        """Keeps ``result``; returns its id, or None when it is larger than the whole cache
        (or the cache is off). Older entries make room, least recently used first."""
        size = result.nbytes
        if size > self.max_bytes:
            return None
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._expire(time.monotonic())
            while self._bytes + size > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.nbytes
            self._entries[key] = result
            self._bytes += size
        return key

    def get(self, key: str) -> KeptResult:
        """The result kept under ``key`` (now the most recently used); 404 when there is none."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            result = self._entries.get(key)
            if result is None:
                raise ApiError(404, "unknown or expired result id: colorize the photo again "
                                    f"(results are kept {self.ttl / 60:g} minutes)")
            self._entries.move_to_end(key)
            result.used = now
            return result

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"kept_results": len(self._entries), "kept_bytes": self._bytes}

    def _expire(self, now: float) -> None:
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if now - oldest.used <= self.ttl:
                break
            del self._entries[key]
            self._bytes -= oldest.nbytes
