"""Frame sources: a video file decoded with PyAV, or a folder of numbered images.

Both yield :class:`SourceFrame` objects one at a time (``rgb`` is ``(H, W, 3)`` uint8 sRGB), so
memory stays flat whatever the length, and describe themselves with a :class:`VideoInfo`.
A video source also hands every audio packet it demuxes to a callback, in file order, so a sink
can remux the audio in the same single pass over the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from tinct.errors import InputError
from tinct.imageio import list_images, read_image, to_uint

PacketHandler = Callable[[Any], None]  # receives an ``av.Packet`` of an audio stream


def import_av():
    """Imports PyAV, or fails with a one-line hint on how to install it."""
    try:
        import av
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "video support needs PyAV: pip install 'tinct[video]'", name="av"
        ) from None
    return av


@dataclass
class SourceFrame:
    """One decoded frame.

    ``rgb``: ``(H, W, 3)`` uint8 sRGB. ``pts``: presentation time in units of ``time_base``
    (None when the source has no timestamps). ``duration``: in ``time_base`` units, or None.
    """

    rgb: np.ndarray
    pts: int | None
    time_base: Fraction
    duration: int | None = None


@dataclass
class LumaFrame:
    """One decoded frame's luma plane: ``luma`` ``(H, W)`` uint8, limited range (16-235);
    timing as :class:`SourceFrame`."""

    luma: np.ndarray
    pts: int | None
    time_base: Fraction
    duration: int | None = None


@dataclass
class VideoInfo:
    """What a sink needs to reproduce the timing and look of the input.

    ``fps``: average frame rate. ``time_base``: unit of the frames' ``pts``. ``frame_count``:
    exact or estimated number of frames (None if unknown; used for progress only).
    ``duration``: seconds or None. ``rotation``: display rotation in degrees counter-clockwise
    (as ``av.VideoFrame.rotation``); frames are stored unrotated. ``metadata``: container tags;
    ``stream_metadata``: tags of the video stream.
    """

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int | None = None
    duration: float | None = None
    rotation: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    stream_metadata: dict[str, str] = field(default_factory=dict)


class VideoFileSource:
    """Decodes the first video stream of a file; demuxes its audio streams alongside.

    Use as a context manager. ``audio_streams`` lists the input's audio streams (PyAV streams);
    :meth:`frames` yields the video frames and passes each audio packet to ``on_audio``.
    """

    def __init__(self, path: str | os.PathLike):
        av = import_av()
        self.path = Path(path)
        try:
            self._container = av.open(os.fspath(path), "r")
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"{path}: cannot open video ({_reason(exc)})") from None
        try:
            videos = self._container.streams.video
            if not videos:
                raise InputError(f"{path}: no video stream")
            self._video = videos[0]
            self._video.thread_type = "AUTO"
            self.audio_streams = list(self._container.streams.audio)
            self._demuxer = self._container.demux(self._video, *self.audio_streams)
            self._pending_audio: list[Any] = []
            self._audio_handler: PacketHandler = self._pending_audio.append
            first = self._peek_first_frame()
            self.info = self._describe(first)
        except BaseException:
            self._container.close()
            raise

    def _decoded(self) -> Iterator[Any]:
        """Decoded ``av.VideoFrame`` objects in order; audio packets go to ``_pending_audio``."""
        av = import_av()
        try:
            for packet in self._demuxer:
                if packet.stream.type == "video":
                    yield from packet.decode()
                elif packet.dts is not None:
                    self._audio_handler(packet)
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: cannot decode video ({_reason(exc)})") from None

    def _peek_first_frame(self) -> Any:
        self._frames = self._decoded()
        first = next(self._frames, None)
        if first is None:
            raise InputError(f"{self.path}: the video stream has no frames")
        self._first = first
        return first

    def _describe(self, first: Any) -> VideoInfo:
        v = self._video
        fps = v.average_rate or v.guessed_rate or v.base_rate or Fraction(25)
        time_base = v.time_base or Fraction(1, 90000)
        duration = None
        if v.duration is not None:
            duration = float(v.duration * time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        count = v.frames or (round(duration * fps) if duration else None)
        return VideoInfo(
            width=first.width, height=first.height, fps=Fraction(fps), time_base=time_base,
            frame_count=count or None, duration=duration,
            rotation=int(getattr(first, "rotation", 0) or 0),
            metadata=dict(self._container.metadata), stream_metadata=dict(v.metadata),
        )

    def frames(self, on_audio: PacketHandler | None = None) -> Iterator[SourceFrame]:
        """Yields every video frame; hands each audio packet to ``on_audio`` (or drops it)."""
        return self._each(self._convert, on_audio)

    def luma_frames(self, on_audio: PacketHandler | None = None) -> Iterator[LumaFrame]:
        """As :meth:`frames`, but yields each frame's luma plane (no conversion to RGB)."""
        from tinct.video.planes import luma_of_frame

        return self._each(lambda frame: LumaFrame(luma_of_frame(frame), *self._timing(frame)),
                          on_audio)

    def _each(self, convert: Callable[[Any], Any], on_audio: PacketHandler | None
              ) -> Iterator[Any]:
        handler = on_audio or (lambda packet: None)
        pending, self._pending_audio = self._pending_audio, []
        for packet in pending:
            handler(packet)
        self._audio_handler = handler
        yield convert(self._first)
        for frame in self._frames:
            yield convert(frame)

    def frames_from(self, pts: int) -> Iterator[SourceFrame]:
        """Yields the frames whose ``pts`` is at least ``pts``, in order, after seeking to the
        key frame at or before it (for a film colorized in parts; audio is not read). Use
        instead of :meth:`frames`, not after it."""
        av = import_av()
        try:
            self._container.seek(pts, stream=self._video, backward=True, any_frame=False)
            for packet in self._container.demux(self._video):
                for frame in packet.decode():
                    if frame.pts is None or frame.pts >= pts:
                        yield self._convert(frame)
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: cannot decode video ({_reason(exc)})") from None

    def _convert(self, frame: Any) -> SourceFrame:
        return SourceFrame(frame.to_ndarray(format="rgb24"), *self._timing(frame))

    def _timing(self, frame: Any) -> tuple[int | None, Fraction, int | None]:
        """(pts, time_base, duration) of a decoded frame."""
        duration = getattr(frame, "duration", None) or None
        return frame.pts, frame.time_base or self.info.time_base, duration

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderSource:
    """The images of a folder (not recursive), sorted by name, as frames at ``fps``.

    Every image must have the size of the first; 16-bit images are rounded to 8 bits.
    """

    audio_streams: list[Any] = []

    def __init__(self, folder: str | os.PathLike, fps: float | Fraction = 24):
        self.path = Path(folder)
        self.files = list_images(self.path, recursive=False)
        if not self.files:
            raise InputError(f"{folder}: no images in this folder")
        rate = Fraction(fps).limit_denominator(1001)
        if rate <= 0:
            raise InputError(f"frame rate must be positive, got {fps}")
        first = read_image(self.files[0])
        self.info = VideoInfo(
            width=first.size[0], height=first.size[1], fps=rate, time_base=1 / rate,
            frame_count=len(self.files), duration=float(len(self.files) / rate),
        )

    def frames(self, on_audio: PacketHandler | None = None) -> Iterator[SourceFrame]:
        """Yields the images in name order, with ``pts`` = frame index in units of 1/fps."""
        size = (self.info.width, self.info.height)
        for index, path in enumerate(self.files):
            image = read_image(path)
            if image.size != size:
                raise InputError(
                    f"{path}: size {image.size[0]}x{image.size[1]} differs from the first "
                    f"frame's {size[0]}x{size[1]}"
                )
            yield SourceFrame(to_uint(image.to_float()) if image.pixels.dtype != np.uint8
                              else np.ascontiguousarray(image.pixels),  # gray: a view
                              index, self.info.time_base, 1)

    def close(self) -> None:
        pass

    def __enter__(self) -> FolderSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def open_source(path: str | os.PathLike, fps: float | None = None
                ) -> VideoFileSource | FolderSource:
    """A folder -> :class:`FolderSource` at ``fps`` (default 24); a file ->
    :class:`VideoFileSource`.

    ``fps`` is only for folders (a video keeps its own timing); giving it for a file is an error.
    """
    p = Path(path)
    if p.is_dir():
        return FolderSource(p, fps if fps is not None else 24)
    if not p.exists():
        raise InputError(f"{path}: no such file or folder")
    if fps is not None:
        raise InputError("--fps applies to frame folders only; a video keeps its frame rate")
    return VideoFileSource(p)
