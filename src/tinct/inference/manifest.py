"""The run manifest of a batch colorization: one JSON line per photo, written as results arrive.

Each line: ``{"input", "output", "status" ("done" | "failed"), "error", "seconds", "node",
"time"}``. Only the driver writes it (appends, flushed line by line), so a run killed at any
moment leaves every finished photo recorded, at worst with one torn last line, which
:func:`read_manifest` ignores. A rerun reads it to skip what is done without a ``stat`` per
output; the last record of a photo counts (one that failed once and was done later is done).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tinct.errors import InputError

if TYPE_CHECKING:
    from tinct.inference.batch import Outcome

MANIFEST_NAME = "tinct-manifest.jsonl"  # default place: inside the output folder


def outcome_record(outcome: Outcome) -> dict:
    """An :class:`Outcome` as the manifest's JSON object."""
    return {"input": str(outcome.source), "output": str(outcome.target),
            "status": outcome.status, "error": outcome.error, "seconds": outcome.seconds,
            "node": outcome.node, "time": round(time.time(), 3)}


def read_manifest(path: str | os.PathLike) -> dict[str, dict]:
    """The last record for each input in a manifest (empty when the file does not exist).

    Lines that are not complete JSON objects (a run killed mid-line) are ignored; a file that
    is not a manifest at all is an :class:`~tinct.errors.InputError`.
    """
    path = Path(path)
    latest: dict[str, dict] = {}
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return latest
    except OSError as exc:
        raise InputError(f"{path}: cannot read the run manifest ({exc.strerror})") from None
    bad = 0
    with handle:
        try:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(record, dict) and isinstance(record.get("input"), str):
                    latest[record["input"]] = record
                else:
                    bad += 1
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a tinct run manifest (not text)") from None
    if bad > 1 and not latest:
        raise InputError(f"{path}: not a tinct run manifest (no JSON lines with an input)")
    return latest


def done_outputs(records: dict[str, dict]) -> frozenset[Path]:
    """Outputs that a manifest records as written."""
    return frozenset(Path(r["output"]) for r in records.values()
                     if r.get("status") == "done" and isinstance(r.get("output"), str))


class ManifestWriter:
    """Appends outcomes to a manifest file, one flushed line each (use as a context manager);
    with ``path`` None it records nothing (a run without a manifest)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self._handle: IO[str] | None = None

    def __enter__(self) -> ManifestWriter:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        return self

    def write(self, outcome: Outcome) -> None:
        if self._handle is None:
            return
        self._handle.write(json.dumps(outcome_record(outcome)) + "\n")
        self._handle.flush()

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
