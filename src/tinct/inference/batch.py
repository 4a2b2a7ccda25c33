"""The batch plan of ``tinct colorize``: which photos to read, where each result goes, which to
skip, and a runner that reads, colorizes and writes them in memory-bounded groups.

Shared by every engine that colorizes folders (the local runner here; others build on
:func:`make_plan` and :class:`Runner`). The rules: a folder's tree is mirrored under the output
folder; an existing output is skipped unless ``overwrite``; an input is never written over; a
file that cannot be read or written is reported in one line (``path: problem``) and the rest go
on; outputs are written atomically (:func:`tinct.imageio.write_image`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from tinct.errors import InputError
from tinct.imageio import (
    WRITE_SUFFIXES,
    ImageReadError,
    LoadedImage,
    list_images,
    read_image,
    write_image,
)

if TYPE_CHECKING:
    from tinct.inference.hints import Hint
    from tinct.inference.pipeline import Colorizer

FALLBACK_SUFFIX = ".png"  # for inputs whose own format cannot be written (e.g. GIF)


class Progress(Protocol):
    """Anything with ``update(n)``, e.g. a tqdm bar."""

    def update(self, n: int = 1) -> object: ...


# --------------------------------------------------------------------------- planning


@dataclass
class Job:
    """One image to colorize: where it comes from, where it goes and, optionally, the JSON
    file of its colour hints (:mod:`tinct.inference.hints`)."""

    source: Path
    target: Path
    hints: Path | None = None


@dataclass
class Outcome:
    """What became of one job: ``status`` is ``"done"`` or ``"failed"`` (then ``error`` holds
    the one-line message); ``seconds`` from the start of its read until it was written (photos
    of a group share the network's time); ``node`` is the machine (or Ray node) that did it."""

    source: Path
    target: Path
    status: str
    error: str = ""
    seconds: float = 0.0
    node: str = ""


@dataclass
class Plan:
    """What a run will do, decided before any image is decoded."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one-line messages
    skipped: list[Path] = field(default_factory=list)  # outputs that exist already


def output_suffix(source: Path, fmt: str) -> str:
    """The output file suffix for ``source`` under ``--format fmt`` (lower case, with dot)."""
    if fmt != "same":
        return f".{fmt}"
    suffix = source.suffix.lower()
    return suffix if suffix in WRITE_SUFFIXES else FALLBACK_SUFFIX


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def hint_file_for(hints: Path | None, relative: Path) -> Path | None:
    """The hint file of the photo at ``relative`` (its path below its input folder, or its
    name): ``hints`` itself when it is a file, ``hints/<relative>.json`` when that exists in
    the folder ``hints``, else None (no hints for that photo)."""
    if hints is None:
        return None
    if not hints.is_dir():
        return hints
    candidate = hints / relative.with_suffix(".json")
    return candidate if candidate.is_file() else None


def collect_jobs(inputs: Sequence[str], out: Path, fmt: str, hints: Path | None = None
                 ) -> tuple[list[Job], list[str]]:
    """Input files and folders -> (jobs in input order, one-line failures).

    Folders are listed recursively (``imageio.list_images``) and mirrored under ``out``; files
    inside ``out`` are left out of a folder's listing, so an output folder placed inside an
    input folder is never read back. A file reached twice is done once; two files that would
    write the same output file are a failure for the second one. ``hints``: a hint file, or a
    folder of them mirroring the inputs (:func:`hint_file_for`).
    """
    out_resolved = out.resolve()
    jobs: list[Job] = []
    failures: list[str] = []
    claimed: dict[Path, Path] = {}  # resolved target -> source that claimed it
    sources: set[Path] = set()  # resolved sources, so a file named twice is done once
    for given in inputs:
        root = Path(given)
        try:
            files = list_images(root, problems=failures)
        except ImageReadError as exc:
            failures.append(str(exc))
            continue
        is_folder = root.is_dir()
        for path in files:
            resolved = path.resolve()
            if resolved in sources or (is_folder and _is_inside(resolved, out_resolved)):
                continue
            sources.add(resolved)
            relative = path.relative_to(root) if is_folder else Path(path.name)
            target = out / relative.with_suffix(output_suffix(path, fmt))
            key = target.resolve()
            if key in claimed:
                failures.append(f"{path}: output {target} is also the output of "
                                f"{claimed[key]}; skipped (rename one of them)")
                continue
            claimed[key] = path
            jobs.append(Job(path, target, hint_file_for(hints, relative)))
    return jobs, failures


class InputGuard:
    """Knows every input file by device and inode, so no output is written over one."""

    def __init__(self, paths: Iterable[Path]):
        self._by_id: dict[tuple[int, int], Path] = {}
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            self._by_id[(st.st_dev, st.st_ino)] = path

    def inputs_at(self, path: Path) -> list[Path]:
        """The input files that ``path`` currently is (empty when it is none of them)."""
        try:
            st = path.stat()
        except OSError:
            return []
        found = self._by_id.get((st.st_dev, st.st_ino))
        return [found] if found is not None else []


def make_plan(inputs: Sequence[str], out: Path, fmt: str, overwrite: bool,
              done: frozenset[Path] = frozenset(), hints: Path | None = None
              ) -> tuple[Plan, InputGuard]:
    """Collects the jobs and sorts out those that would overwrite an input or an output.

    ``done``: targets an earlier run recorded as written (its manifest); they are skipped
    without touching the filesystem unless ``overwrite``. ``hints``: see
    :func:`collect_jobs`.
    """
    jobs, failures = collect_jobs(inputs, out, fmt, hints)
    guard = InputGuard(job.source for job in jobs)
    plan = Plan(failures=failures)
    for job in jobs:
        if guard.inputs_at(job.target):
            plan.failures.append(f"{job.source}: output {job.target} is an input image; "
                                 "refusing to overwrite it (choose another output folder)")
        elif not overwrite and (job.target in done or job.target.exists()):
            plan.skipped.append(job.target)
        else:
            plan.jobs.append(job)
    return plan, guard


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class ColorizerSpec:
    """How to build the run's :class:`Colorizer` anywhere (picklable, so a cluster's workers
    each build their own): ``model`` is an installed name, a saved-model folder or an .onnx
    file (a path must be one every node sees), None for the shipped model; ``boost``,
    ``flip`` and ``levels`` of None keep the model's own setting."""

    model: str | None = None
    device: str = "auto"
    boost: float | None = None
    flip: bool | None = None
    levels: bool | None = None

    def build(self) -> Colorizer:
        """Loads the model and applies the settings (ValueError: a boost it cannot take)."""
        from tinct.inference.pipeline import Colorizer

        return self.configure(Colorizer.from_pretrained(self.model, device=self.device))

    def configure(self, colorizer: Colorizer) -> Colorizer:
        """Applies ``boost``, ``flip`` and ``levels`` to a loaded colorizer (ValueError: a
        boost it cannot take)."""
        if self.boost is not None:
            colorizer.set_decode(boost=self.boost)
        if self.flip is not None:
            colorizer.flip = self.flip
        if self.levels is not None:
            colorizer.levels = self.levels
        return colorizer


@dataclass(frozen=True)
class RunSettings:
    """The per-photo settings of a run (see :class:`Runner`)."""

    size: int | None = None
    batch_size: int = 8
    max_pixels: int | None = None
    quality: int = 95


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# a photo read for colorizing: its job, its pixels and its colour hints (or None)
Item = tuple[Job, LoadedImage, "list[Hint] | None"]

PIXELS_IN_FLIGHT = 32_000_000  # decoded photos held at once (about 0.4 GB as uint8 RGB)


class Runner:
    """Reads, colorizes and writes the jobs of a plan in batches, reporting as it goes.

    ``report`` prints a one-line message; ``progress`` is a tqdm bar or anything with
    ``update(n)``; ``on_outcome`` (optional) receives one :class:`Outcome` per job, in the
    order jobs finish (the run manifest is written from it).
    """

    def __init__(self, colorizer: Colorizer, guard: InputGuard, settings: RunSettings, *,
                 report: Callable[[str], None], progress: Progress,
                 on_outcome: Callable[[Outcome], None] | None = None, node: str = ""):
        self.colorizer = colorizer
        self.guard = guard
        self.size = settings.size
        self.batch_size = settings.batch_size
        self.max_pixels = settings.max_pixels
        self.quality = settings.quality
        self.report = report
        self.progress = progress
        self.on_outcome = on_outcome
        self.node = node or socket.gethostname()
        self.done = 0
        self.failed = 0
        self.pixels_in_flight = PIXELS_IN_FLIGHT
        self._started: dict[Path, float] = {}  # source -> when its read began

    def fail(self, job: Job, message: str) -> None:
        self.failed += 1
        self.report(message)
        self._record(job, "failed", message)

    def _record(self, job: Job, status: str, error: str = "") -> None:
        started = self._started.pop(job.source, None)
        if self.on_outcome is not None:
            seconds = time.perf_counter() - started if started is not None else 0.0
            self.on_outcome(Outcome(job.source, job.target, status, error, round(seconds, 4),
                                    self.node))

    def run(self, jobs: Sequence[Job]) -> None:
        """Reads photos until ``batch_size`` of them or :data:`PIXELS_IN_FLIGHT` pixels are
        in memory, colorizes and writes that group, and goes on: memory is bounded by pixels,
        not by how many files a batch names (eight 100-megapixel scans are done one by
        one)."""
        group: list[Item] = []
        pixels = 0
        for job in jobs:
            item = self._read_one(job)
            if item is not None:
                size = item[1].pixels.shape[0] * item[1].pixels.shape[1]
                if group and pixels + size > self.pixels_in_flight:
                    self._finish(group)
                    group, pixels = [], 0
                group.append(item)
                pixels += size
            else:
                self.progress.update(1)
            if len(group) >= self.batch_size:
                self._finish(group)
                group, pixels = [], 0
        if group:
            self._finish(group)

    def _finish(self, group: list[Item]) -> None:
        for job, image, rgb in self._colorize(group):
            self._write(job, image, rgb)
        self.progress.update(len(group))
        group.clear()

    def _read_one(self, job: Job) -> Item | None:
        self._started[job.source] = time.perf_counter()
        try:
            image = read_image(job.source, max_pixels=self.max_pixels)
        except ImageReadError as exc:
            self.fail(job, str(exc))
            return None
        except MemoryError:
            self.fail(job, f"{job.source}: not enough memory to decode this image")
            return None
        if image.frames > 1:
            self.report(f"{job.source}: has {image.frames} pages or frames; only the first "
                        "is colorized (save the others as files of their own to colorize "
                        "them)")
        try:
            hints = self._read_hints(job, image)
        except InputError as exc:
            self.fail(job, f"{exc} (for {job.source}; not colorized)")
            return None
        return job, image, hints

    def _read_hints(self, job: Job, image: LoadedImage) -> list[Hint] | None:
        """The job's colour hints, checked against the image (``InputError`` naming the hint
        file and the entry); hints that cannot be shown at their pixel's lightness are
        reported in one line each."""
        if job.hints is None:
            return None
        from tinct.inference.hints import check_inside, gamut_notes, read_hints_file
        from tinct.inference.pipeline import lightness_of

        hints = read_hints_file(job.hints)
        height, width = image.pixels.shape[:2]
        check_inside(hints, width, height, str(job.hints))
        for note in gamut_notes(hints, lightness_of(image.pixels), self.colorizer.space):
            self.report(f"{job.source}: {note}")
        return hints

    def _colorize(self, loaded: list[Item]) -> Iterator[tuple[Job, LoadedImage, np.ndarray]]:
        """Yields (job, image, rgb); a batch that fails is retried image by image."""
        if not loaded:
            return
        images = [image for _, image, _ in loaded]
        hints = [image_hints for _, _, image_hints in loaded]
        try:
            results = self.colorizer.colorize_batch(images, self.size, self.batch_size,
                                                     np.uint8, hints=hints)
        except (RuntimeError, MemoryError, ValueError) as exc:
            if len(loaded) == 1:
                job = loaded[0][0]
                self.fail(job, f"{job.source}: colorization failed ({_one_line(exc)})")
                return
            for item in loaded:  # find the image that breaks the batch
                yield from self._colorize([item])
            return
        for (job, image, _), rgb in zip(loaded, results, strict=True):
            yield job, image, rgb

    def _write(self, job: Job, image: LoadedImage, rgb: np.ndarray) -> None:
        protect = [job.source, *self.guard.inputs_at(job.target)]
        try:
            write_image(job.target, rgb, image.alpha, quality=self.quality,
                        icc_profile=image.icc_profile, protect=protect)
        except (OSError, ValueError) as exc:
            self.fail(job, _one_line(exc))
            return
        self.done += 1
        self._record(job, "done")


def summary_line(done: int, failed: int, skipped: int, out: Path) -> str:
    line = f"{done} colorized, {failed} failed, {skipped} skipped"
    if skipped:
        line += " (outputs exist; --overwrite replaces them)"
    return f"{line}; output folder: {out}"
