"""The YUV pipeline of ``tinct video``: luma planes in, yuv420p planes out, in three threads.

A gray film needs no RGB at any point. For each frame:

1. **decode** (thread 1): the decoder's luma plane (:func:`tinct.video.planes.luma_of_frame`);
2. **colorize** (the calling thread), per batch: the luma shrunk to the working size becomes
   L*; the temporal step tracks it (flow, cuts, key frames); the network runs on the batch's
   key frames only; the colour is carried along the flow to the others; the colour planes are
   computed at the chroma resolution of 4:2:0 (:func:`tinct.video.planes.colour_planes`);
3. **encode** (thread 2): the planes go to the encoder as they are (no RGB -> YUV conversion);
   audio packets are remuxed here too, so one thread owns the output file.

PyAV, OpenCV, numba and torch release the GIL, so the three stages overlap. Bounded queues
keep at most about ``4 * batch_size`` frames in memory; an error in any stage stops the
others and is raised in the caller, and the sink removes its temporary file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinct.errors import InputError
from tinct.inference.pipeline import Colorizer, working_shape
from tinct.video.colorize import film_step_setup, keyed_chroma
from tinct.video.planes import colour_planes, lightness_of_luma
from tinct.video.sinks import EncodeSettings, VideoFileSink
from tinct.video.sources import LumaFrame, VideoFileSource
from tinct.video.temporal import TemporalSettings

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
_END = object()  # end of a queue's stream


def small_lightness(luma: np.ndarray, size: int) -> np.ndarray:
    """Luma ``(H, W)`` uint8 (limited range) -> L* ``(h, w)`` float32 in [0, 100] at working
    size ``size`` (the longer side; area average): what the temporal step tracks."""
    from tinct.video.temporal import import_cv2

    h, w = working_shape(*luma.shape, size)
    small = luma.astype(np.float32)
    if (h, w) != luma.shape:
        small = import_cv2().resize(small, (w, h), interpolation=import_cv2().INTER_AREA)
    return lightness_of_luma(small)


class LumaColorizer:
    """Colorizes consecutive batches of luma planes; the temporal state carries across
    batches. ``fix_luma``: see :func:`tinct.video.planes.colour_planes`."""

    def __init__(self, colorizer: Colorizer, size: int | None = None,
                 temporal: TemporalSettings | None = None, fix_luma: bool = True):
        self.colorizer = colorizer
        self.size, self.stabilizer = film_step_setup(colorizer, size, temporal)
        self.fix_luma = fix_luma
        self.network_frames = 0  # frames that went through the network

    def small_lightness(self, luma: np.ndarray) -> np.ndarray:
        """Luma ``(H, W)`` uint8 -> L* ``(h, w)`` float32 at the working size (area average)."""
        return small_lightness(luma, self.size)

    def chroma(self, lumas: list[np.ndarray]) -> list[np.ndarray]:
        """Luma planes of consecutive frames -> their chroma ``(2, h, w)`` at the working size
        (network on key frames, colour carried along the flow to the others)."""
        chroma, ran = keyed_chroma(self.colorizer, self.size, self.stabilizer,
                                   [self.small_lightness(y) for y in lumas])
        self.network_frames += ran
        return chroma

    def __call__(self, lumas: list[np.ndarray]) -> list[Planes]:
        """Luma planes ``(H, W)`` uint8 of consecutive frames -> their (Y, Cb, Cr) planes."""
        return [colour_planes(y, c, self.colorizer.space, self.fix_luma)
                for y, c in zip(lumas, self.chroma(lumas), strict=True)]

    @property
    def cuts(self) -> list[int]:
        return list(self.stabilizer.cuts) if self.stabilizer else []


class _Stopped(Exception):
    """Another stage failed or the run was interrupted."""


class _Worker(threading.Thread):
    """A daemon thread that keeps the exception its target raised."""

    def __init__(self, target: Callable[[], None], name: str, stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._stop_all = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the caller, and the other stages stop
            self.error = exc
            self._stop_all.set()


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


def _batches(q: queue.Queue, stop: threading.Event, size: int) -> Iterator[list[LumaFrame]]:
    batch: list[LumaFrame] = []
    while (item := _get(q, stop)) is not _END:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def colorize_video_yuv(source: VideoFileSource, sink: VideoFileSink, step: LumaColorizer,
                       batch_size: int = 8, progress: Any = None) -> int:
    """Streams ``source`` through ``step`` into ``sink`` (yuv420p) in three threads; returns
    the number of frames written. ``progress``: a tqdm bar (or None). The caller finishes or
    aborts the sink."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    encoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    count = 0

    def decode() -> None:
        try:
            for frame in source.luma_frames(on_audio=lambda p: _put(encoded, p, stop)):
                _put(decoded, frame, stop)
        finally:
            with suppress(_Stopped):
                _put(decoded, _END, stop)

    def encode() -> None:
        nonlocal count
        while (item := _get(encoded, stop)) is not _END:
            if isinstance(item, tuple):
                sink.write_planes(*item)
                count += 1
                if progress is not None:
                    progress.update(1)
            else:
                sink.mux_audio(item)

    workers = [_Worker(decode, "tinct-decode", stop), _Worker(encode, "tinct-encode", stop)]
    for w in workers:
        w.start()
    try:
        for batch in _batches(decoded, stop, batch_size):
            for frame, planes in zip(batch, step([f.luma for f in batch]), strict=True):
                _put(encoded, (planes, frame), stop)
        workers[0].join()  # it ended its stream; an error it had is set once it has ended
        if workers[0].error is None:
            _put(encoded, _END, stop)
            workers[1].join()
    except _Stopped:
        pass  # a stage failed: its error is raised below
    finally:
        stop.set()
        for w in workers:
            w.join()
    for w in workers:
        if w.error is not None:
            raise w.error
    return count


def yuv_pipeline_applies(source: str | os.PathLike, output: str | os.PathLike,
                         encode: EncodeSettings | None) -> bool:
    """Whether the YUV pipeline can serve this run: a video file in, a video file out, and
    yuv420p output (frame folders and other pixel formats take the RGB pipeline)."""
    from tinct.video.sinks import is_folder_destination

    encode = encode or EncodeSettings()
    return (not Path(source).is_dir() and not is_folder_destination(output)
            and encode.pix_fmt == "yuv420p")


def run_yuv(source: str | os.PathLike, output: str | os.PathLike, colorizer: Colorizer, *,
            size: int | None, batch_size: int, temporal: TemporalSettings | None,
            encode: EncodeSettings | None, fix_luma: bool, progress: bool):
    """:func:`tinct.video.colorize.colorize_video` through the YUV pipeline."""
    from tinct.video.colorize import VideoResult
    from tinct.video.sinks import open_sink
    from tinct.video.sources import open_source

    start = time.perf_counter()
    step = LumaColorizer(colorizer, size, temporal, fix_luma)
    with open_source(source) as src:
        sink = open_sink(output, src.info, src.audio_streams, encode, protect=(source,))
        with sink, tqdm(total=src.info.frame_count, unit="frame", disable=not progress,
                        desc=Path(source).name, dynamic_ncols=True) as bar:
            count = colorize_video_yuv(src, sink, step, batch_size, bar)
            path = sink.finish()
    return VideoResult(path, count, time.perf_counter() - start, step.cuts)
