"""A film colorized in parts on a Ray cluster, joined without re-encoding.

1. :func:`index_film` reads the video stream's packets (no decoding): every frame's
   timestamp, in display order, and which frames are key frames.
2. :func:`plan_parts` cuts the frames into consecutive parts, with seams at key frames
   where there is one near (encoders put them at scene cuts). Each part also decodes
   ``overlap`` frames before its first one and runs them through the temporal step without
   writing them, so the colour carried along the motion is already settled at the seam (the
   same warm-up a scene cut gets, but at no cut).
3. :func:`colorize_part` (one Ray task per part, retried if its worker dies) seeks to the key
   frame before its warm-up, colorizes and encodes its frames, keeping their timestamps, into
   ``part_NNNN.<suffix>`` in a hidden folder beside the output (written atomically, so a part
   that exists is complete; a rerun after a crash reuses finished parts).
4. :func:`join_parts` copies the parts' encoded packets, in order, and the source's audio
   into the output (remuxed, not re-encoded), written atomically.

The video encoder keeps the input's timestamps, so the joined film has the source's frame
count and timing; B-frame decode times grow steadily across a seam because every part uses
the same encoder settings.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from tinct.cluster.runtime import cluster_workers, ray_session
from tinct.errors import InputError
from tinct.fileio import new_file_mode
from tinct.inference.batch import ColorizerSpec, Progress
from tinct.video.colorize import FrameColorizer, VideoResult, batched
from tinct.video.sinks import (
    CONTAINER_TAGS_SKIPPED,
    AudioRoute,
    EncodeSettings,
    VideoFileSink,
    temporary_sibling,
)
from tinct.video.sources import VideoFileSource, import_av
from tinct.video.temporal import TemporalSettings

MIN_PART_FRAMES = 48  # shorter parts spend more on warm-up and start-up than they save
# warm-up frames before each part. Measured on a one-shot clip cut mid-shot (crf 0, so only
# the colour differs): flicker +77% with 0, +13% with 4, +1.1% with 12, identical frames
# with 24 (the carried colour's memory has faded below one level by then)
DEFAULT_OVERLAP = 24


@dataclass(frozen=True)
class FilmIndex:
    """Every frame's ``pts`` (display order, in ``time_base`` units) and the display indices
    of the key frames."""

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: Fraction


@dataclass(frozen=True)
class Part:
    """Frames ``start`` .. ``stop - 1`` (display indices) are written; decoding (and the
    temporal step) begins at ``warmup`` <= ``start``."""

    index: int
    start: int
    stop: int
    warmup: int


def index_film(path: str | os.PathLike) -> FilmIndex:
    """Reads the first video stream's packets (not decoding them) -> :class:`FilmIndex`."""
    av = import_av()
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stamps: list[int] = []
            keys: set[int] = set()
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                stamps.append(packet.pts)
                if packet.is_keyframe:
                    keys.add(packet.pts)
            time_base = Fraction(stream.time_base)
    except av.FFmpegError as exc:
        raise InputError(f"{path}: cannot read video ({' '.join(str(exc).split())})") from None
    if not stamps:
        raise InputError(f"{path}: the video stream has no frames")
    if len(set(stamps)) != len(stamps):
        raise InputError(f"{path}: frames share timestamps; the ray engine needs distinct "
                         "ones (use --engine local)")
    stamps.sort()
    return FilmIndex(tuple(stamps), tuple(i for i, p in enumerate(stamps) if p in keys),
                     time_base)


def plan_parts(frames: int, parts: int, overlap: int = DEFAULT_OVERLAP,
               keyframes: tuple[int, ...] = ()) -> list[Part]:
    """``frames`` cut into at most ``parts`` consecutive parts of at least
    :data:`MIN_PART_FRAMES` (one part for a short film), each warmed up by ``overlap``
    frames before it. A seam moves to the nearest key frame within a quarter part's length:
    encoders place key frames at scene cuts, where the temporal step starts afresh anyway, so
    a seam there costs nothing in steadiness (and seeking to it decodes nothing extra)."""
    count = max(1, min(parts, frames // MIN_PART_FRAMES))
    bounds = [round(k * frames / count) for k in range(count + 1)]
    reach = frames / count / 4
    for k in range(1, count):
        near = [f for f in keyframes if abs(f - bounds[k]) <= reach]
        if near:
            bounds[k] = min(near, key=lambda f: abs(f - bounds[k]))
    return [Part(k, bounds[k], bounds[k + 1], max(0, bounds[k] - overlap))
            for k in range(count)]


def colorize_part(source: str, part: Part, index: FilmIndex, target: str,
                  spec: ColorizerSpec, size: int | None, batch_size: int,
                  temporal: TemporalSettings | None, encode: EncodeSettings) -> dict:
    """Colorizes one part into ``target`` (skipped when it exists: written atomically, it is
    complete). Returns ``{"index", "frames", "seconds", "node", "reused"}``."""
    start_time = time.perf_counter()
    if Path(target).exists():
        return {"index": part.index, "frames": part.stop - part.start, "seconds": 0.0,
                "node": _node(), "reused": True}
    first_pts = index.pts[part.start]
    stop_pts = index.pts[part.stop] if part.stop < len(index.pts) else math.inf
    step = FrameColorizer(spec.build(), size, temporal)
    written = 0
    with VideoFileSource(source) as src, \
            VideoFileSink(target, src.info, [], encode) as sink:
        decoded = (f for f in src.frames_from(index.pts[part.warmup]) if f.pts is not None)
        wanted = _until(decoded, stop_pts)
        for batch in batched(wanted, batch_size):
            colour = step(np.stack([f.rgb for f in batch]))
            for frame, rgb in zip(batch, colour, strict=True):
                if frame.pts >= first_pts:
                    sink.write(replace(frame, rgb=rgb))
                    written += 1
        if written != part.stop - part.start:
            raise InputError(f"{source}: part {part.index} decoded {written} frames, expected "
                             f"{part.stop - part.start} (a damaged stream?)")
        sink.finish()
    return {"index": part.index, "frames": written, "node": _node(), "reused": False,
            "seconds": round(time.perf_counter() - start_time, 3)}


def _until(frames: Iterator[Any], stop_pts: float) -> Iterator[Any]:
    for frame in frames:
        if frame.pts >= stop_pts:
            return
        yield frame


def _node() -> str:
    """This machine's name, and the Ray node's id when running inside Ray."""
    try:
        import ray
    except ImportError:
        return socket.gethostname()
    if not ray.is_initialized():
        return socket.gethostname()
    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


def join_parts(parts: list[Path], source: str | os.PathLike, output: str | os.PathLike
               ) -> Path:
    """The parts' video packets in order plus the source's audio, remuxed into ``output``
    (atomically: a temporary sibling renamed when complete). Returns ``output``."""
    av = import_av()
    final = Path(output)
    temp = temporary_sibling(final)
    try:
        with av.open(os.fspath(source)) as src, av.open(os.fspath(parts[0])) as first, \
                av.open(os.fspath(temp), "w") as out:
            out.metadata.update({k: v for k, v in src.metadata.items()
                                 if k.lower() not in CONTAINER_TAGS_SKIPPED})
            video = out.add_stream_from_template(first.streams.video[0])
            routes = {s.index: AudioRoute(out, s) for s in src.streams.audio}
            streams = [_timed(_video_packets(parts))]
            if routes:
                streams.append(_timed(p for p in src.demux(*src.streams.audio)
                                      if p.dts is not None))
            for _, _, packet in heapq.merge(*streams, key=lambda item: item[:2]):
                if packet.stream.type == "video":
                    packet.stream = video
                    out.mux(packet)
                else:
                    routes[packet.stream.index].mux(packet)
            for route in routes.values():
                route.flush()
        os.chmod(temp, new_file_mode(final))
        os.replace(temp, final)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, av.FFmpegError):
            raise InputError(f"{final}: joining the parts failed "
                             f"({' '.join(str(exc).split())})") from None
        raise
    return final


def _video_packets(parts: list[Path]) -> Iterator[Any]:
    """The encoded video packets of each part in turn (each part opened while it is read)."""
    av = import_av()
    for path in parts:
        with av.open(os.fspath(path)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.dts is not None and packet.size:
                    yield packet


def _timed(packets: Iterator[Any]) -> Iterator[tuple[float, int, Any]]:
    """(seconds, sequence, packet): ordered by decode time, ties kept in input order."""
    for n, packet in enumerate(packets):
        yield float(packet.dts * packet.time_base), n, packet


def parts_folder(source: Path, final: Path, settings: dict) -> Path:
    """A hidden folder beside the output, named from the source and every setting, so a
    rerun with the same ones finds the parts already done (and a different run never does).
    Its name is not one of tinct's temporary names, so the clean-up of stale temporary files
    leaves it for that rerun; a finished run removes it."""
    st = source.stat()
    key = json.dumps({"source": str(source.resolve()), "size": st.st_size,
                      "mtime": st.st_mtime_ns, **settings}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return final.parent / f".{final.name}.tinct-parts-{digest}"


def colorize_video_on_ray(source: str | os.PathLike, output: str | os.PathLike,
                          spec: ColorizerSpec, *, size: int | None = None,
                          batch_size: int = 8, temporal: TemporalSettings | None = None,
                          encode: EncodeSettings | None = None, address: str | None = None,
                          workers: int | None = None, overlap: int = DEFAULT_OVERLAP,
                          progress: Progress | None = None) -> VideoResult:
    """Colorizes a video file into a video file on Ray: parts in parallel (one task each,
    ``workers`` at once, default one per CPU of the cluster), then joined. See the module
    docstring. ``progress.update(n)`` receives frames as parts finish."""
    started = time.perf_counter()
    source, final = Path(source), Path(output)
    encode = encode or EncodeSettings()
    index = index_film(source)
    with ray_session(address) as ray:
        pool = workers or cluster_workers(ray, 0)
        parts = plan_parts(len(index.pts), pool, overlap, index.keyframes)
        settings = {"spec": asdict(spec), "size": size, "batch": batch_size,
                    "temporal": asdict(temporal) if temporal else None,
                    "encode": asdict(encode), "parts": [asdict(p) for p in parts]}
        folder = parts_folder(source, final, settings)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = final.suffix or ".mkv"
        paths = [folder / f"part_{p.index:04d}{suffix}" for p in parts]
        task = ray.remote(num_cpus=1, max_retries=-1)(colorize_part)
        shared_index = ray.put(index)
        pending = [task.remote(str(source.absolute()), part, shared_index,
                               str(path.absolute()), spec, size, batch_size, temporal, encode)
                   for part, path in zip(parts, paths, strict=True)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, InputError) else exc
                raise InputError(" ".join(str(cause).split())[:500]) from None
            if progress is not None:
                progress.update(result["frames"])
    join_parts(paths, source, final)
    shutil.rmtree(folder, ignore_errors=True)
    return VideoResult(final, len(index.pts), time.perf_counter() - started)
