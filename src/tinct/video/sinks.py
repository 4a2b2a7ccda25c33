"""Frame sinks: a video file encoded with PyAV (audio remuxed), or a folder of numbered PNGs.

Both write into a temporary file or folder next to the destination and move it into place only
in :meth:`finish`; :meth:`abort` (called on any exception, Ctrl-C included, when the sink is used
as a context manager) removes it. So an interrupted run never leaves a broken file named like
the destination, and never leaves the temporary behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from tinct.errors import InputError
from tinct.fileio import new_file_mode
from tinct.imageio import is_same_file, write_image
from tinct.video.sources import LumaFrame, SourceFrame, VideoInfo, import_av

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")

_AVFMT_VARIABLE_FPS = 0x0400  # libavformat: the format can store variable frame rates

# tags the muxer writes itself, or that describe the input file's encoding rather than its content
CONTAINER_TAGS_SKIPPED = {"encoder", "major_brand", "minor_version", "compatible_brands"}
_STREAM_TAGS_SKIPPED = {"encoder", "rotate", "duration", "number_of_frames", "number_of_bytes",
                        "bps", "vendor_id"}


@dataclass
class EncodeSettings:
    """How the colorized video is encoded.

    ``codec``: FFmpeg encoder name; None picks libx264 when the container takes H.264, else
    the container's default. ``crf``: constant rate factor (lower = better; 18 is visually
    lossless for x264). ``preset``: encoder speed/size trade-off (x264/x265 names).
    ``pix_fmt``: pixel format; with 4:2:0 or 4:2:2 formats odd sizes are padded by one
    replicated row/column (those formats cannot store odd sizes).
    """

    codec: str | None = None
    crf: int = 18
    preset: str = "veryfast"
    pix_fmt: str = "yuv420p"


def temporary_sibling(path: Path, directory: bool = False) -> Path:
    """A new, hidden temporary file (or folder) in ``path``'s folder, keeping its suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tinct-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


class _Sink:
    """Context-manager protocol shared by the sinks: abort on any exception."""

    final: Path

    def write(self, frame: SourceFrame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def mux_audio(self, packet: Any) -> None:
        """Receives one demuxed audio packet of the input."""

    def finish(self) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class VideoFileSink(_Sink):
    """Encodes frames into a video file; remuxes (or, if the container refuses the codec,
    re-encodes) the input's audio streams; keeps frame timing, rotation and metadata."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo, audio_streams: list[Any],
                 settings: EncodeSettings | None = None):
        self.av = import_av()
        self.final = Path(path)
        self.settings = settings or EncodeSettings()
        self.temp = temporary_sibling(self.final)
        self._closed = False
        try:
            self.container = self.av.open(os.fspath(self.temp), "w")
        except (self.av.FFmpegError, ValueError) as exc:
            self.temp.unlink(missing_ok=True)
            raise InputError(f"{self.final}: cannot write this video format ({exc})") from None
        try:
            self._setup_video(info)
            self._audio = {s.index: AudioRoute(self.container, s) for s in audio_streams}
            self.container.metadata.update(
                {k: v for k, v in info.metadata.items()
                 if k.lower() not in CONTAINER_TAGS_SKIPPED})
        except BaseException:
            self.abort()
            raise

    # ------------------------------------------------------------------ setup

    def _setup_video(self, info: VideoInfo) -> None:
        s = self.settings
        codec = s.codec or ("libx264" if "h264" in self.container.supported_codecs
                            else self.container.default_video_codec)
        try:
            stream = self.container.add_stream(codec, rate=info.fps)
        except (self.av.FFmpegError, ValueError) as exc:
            raise InputError(f"{self.final}: cannot encode with {codec!r} ({exc})") from None
        try:
            fmt = self.av.VideoFormat(s.pix_fmt)
        except ValueError:
            raise InputError(f"unknown pixel format {s.pix_fmt!r}") from None
        self.pad_w = info.width % 2 if fmt.chroma_width(2) == 1 else 0
        self.pad_h = info.height % 2 if fmt.chroma_height(2) == 1 else 0
        if self.pad_w or self.pad_h:
            print(f"tinct: {s.pix_fmt} needs even sizes; padding {info.width}x{info.height} "
                  f"to {info.width + self.pad_w}x{info.height + self.pad_h}", file=sys.stderr)
        stream.width = info.width + self.pad_w
        stream.height = info.height + self.pad_h
        stream.pix_fmt = s.pix_fmt
        # keep the input's timestamps where the format allows variable frame rates; formats
        # that store one rate (AVI) get 1/fps, or they would pad with empty frames
        flags = getattr(self.container.format, "flags", _AVFMT_VARIABLE_FPS)
        time_base = (info.time_base if flags & _AVFMT_VARIABLE_FPS
                     else Fraction(1) / Fraction(info.fps))
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        options = {"crf": str(s.crf)}
        if stream.codec_context.name in ("libx264", "libx265"):
            if s.preset not in X264_PRESETS:
                raise InputError(f"unknown preset {s.preset!r}; choose one of "
                                 f"{', '.join(X264_PRESETS)}")
            options["preset"] = s.preset
        stream.options = options
        stream.metadata.update({k: v for k, v in info.stream_metadata.items()
                                if k.lower() not in _STREAM_TAGS_SKIPPED
                                and not k.startswith("_STATISTICS")})
        if info.rotation:
            if not hasattr(stream, "set_display_rotation"):
                print("tinct: this PyAV cannot store the video's rotation; upgrade PyAV",
                      file=sys.stderr)
            else:
                stream.set_display_rotation(info.rotation)
        self.video = stream
        self._last_pts: int | None = None

    # ------------------------------------------------------------------ writing

    def write(self, frame: SourceFrame) -> None:
        """Encodes one frame (``frame.rgb`` ``(H, W, 3)`` uint8) at its own timestamp."""
        rgb = frame.rgb
        if self.pad_w or self.pad_h:
            rgb = np.pad(rgb, ((0, self.pad_h), (0, self.pad_w), (0, 0)), mode="edge")
        self._encode(self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"),
                     frame)

    def write_planes(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray],
                     frame: LumaFrame | SourceFrame) -> None:
        """Encodes one frame given as yuv420p planes: Y ``(H, W)``, Cb and Cr
        ``(ceil(H/2), ceil(W/2))`` uint8 (limited range), at ``frame``'s timestamp. Needs the
        sink's pixel format to be yuv420p."""
        if self.video.pix_fmt != "yuv420p":
            raise ValueError(f"write_planes needs yuv420p output, not {self.video.pix_fmt}")
        from tinct.video.planes import frame_from_planes, pad_planes  # numba: not for --help

        self._encode(frame_from_planes(self.av, *pad_planes(*planes)), frame)

    def _encode(self, out: Any, frame: LumaFrame | SourceFrame) -> None:
        pts = self._rebased_pts(frame)
        out.pts = pts
        out.time_base = self.video.codec_context.time_base
        if frame.duration:
            with suppress(AttributeError):
                out.duration = int(frame.duration * frame.time_base / out.time_base)
        self._last_pts = pts
        try:
            self.container.mux(self.video.encode(out))
        except self.av.FFmpegError as exc:
            raise InputError(f"{self.final}: encoding failed ({exc})") from None

    def _rebased_pts(self, frame: LumaFrame | SourceFrame) -> int:
        """The frame's pts in the encoder's time base; strictly increasing."""
        tb = self.video.codec_context.time_base
        if frame.pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + 1
        else:
            pts = round(Fraction(frame.pts) * Fraction(frame.time_base) / tb)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        return pts

    def mux_audio(self, packet: Any) -> None:
        route = self._audio.get(packet.stream.index)
        if route is not None:
            route.mux(packet)

    def finish(self) -> Path:
        """Flushes encoders, closes the file and moves it to the destination."""
        try:
            self.container.mux(self.video.encode(None))
            for route in self._audio.values():
                route.flush()
            self.container.close()
            self._closed = True
            os.chmod(self.temp, new_file_mode(self.final))  # not mkstemp's owner-only mode
            os.replace(self.temp, self.final)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, self.av.FFmpegError):
                raise InputError(f"{self.final}: encoding failed ({exc})") from None
            raise
        return self.final

    def abort(self) -> None:
        """Closes the file without finishing it and removes it."""
        if not self._closed:
            self._closed = True
            with suppress(Exception):
                self.container.close()
        with suppress(OSError):
            self.temp.unlink()


class AudioRoute:
    """One input audio stream -> one output stream: packets copied when the container takes the
    codec, else decoded and re-encoded with the container's default audio codec."""

    def __init__(self, container: Any, source: Any):
        self.container = container
        try:
            if hasattr(container, "add_stream_from_template"):  # PyAV >= 13
                self.stream = container.add_stream_from_template(source)
            else:
                self.stream = container.add_stream(template=source)
            self.copy = True
        except ValueError:
            codec = _audio_encoder(container)
            layout = source.codec_context.layout.name
            self.stream = container.add_stream(codec, rate=source.codec_context.sample_rate,
                                               layout=layout)
            self.copy = False
            print(f"tinct: audio stream {source.index} ({source.codec_context.name}) does not "
                  f"fit this container; re-encoding it as {codec}", file=sys.stderr)
        self.stream.metadata.update(
            {k: v for k, v in source.metadata.items() if k.lower() not in _STREAM_TAGS_SKIPPED})

    def mux(self, packet: Any) -> None:
        if self.copy:
            packet.stream = self.stream
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # let the encoder's resampler keep a continuous timeline
            self.container.mux(self.stream.encode(frame))

    def flush(self) -> None:
        if not self.copy:
            self.container.mux(self.stream.encode(None))


def _audio_encoder(container: Any) -> str:
    """The container's default audio encoder, or its ``lib`` variant (libopus, libvorbis)
    when FFmpeg's own encoder is marked experimental and refuses to open by default."""
    av = import_av()
    name = container.default_audio_codec
    try:
        if av.Codec(name, "w").experimental and f"lib{name}" in av.codecs_available:
            return f"lib{name}"
    except (av.FFmpegError, ValueError):
        pass
    return name


class FolderSink(_Sink):
    """Writes frames as ``frame_000001.png``, ... into a temporary folder, then moves them into
    the destination folder (created if needed). Audio is dropped (frames have none)."""

    def __init__(self, folder: str | os.PathLike, frame_count: int | None = None):
        self.final = Path(folder)
        if self.final.exists() and not self.final.is_dir():
            raise InputError(f"{self.final}: exists and is not a folder")
        self.digits = max(6, len(str(frame_count or 0)))
        self.temp = temporary_sibling(self.final, directory=True)
        self.count = 0

    def write(self, frame: SourceFrame) -> None:
        self.count += 1
        write_image(self.temp / f"frame_{self.count:0{self.digits}d}.png", frame.rgb)

    def finish(self) -> Path:
        try:
            if not self.final.exists():
                os.chmod(self.temp, new_file_mode(self.final) | 0o111)  # a folder: searchable
                os.replace(self.temp, self.final)
                return self.final
            for item in sorted(self.temp.iterdir()):
                os.replace(item, self.final / item.name)
            self.temp.rmdir()
        except BaseException:
            self.abort()
            raise
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def is_folder_destination(path: str | os.PathLike) -> bool:
    """True when ``path`` names a folder: it ends with a path separator or is a folder."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def open_sink(path: str | os.PathLike, info: VideoInfo, audio_streams: list[Any],
              settings: EncodeSettings | None = None, protect: tuple = ()
              ) -> VideoFileSink | FolderSink:
    """A :class:`FolderSink` for folder destinations, else a :class:`VideoFileSink`.

    ``protect``: input paths that must not be overwritten.
    """
    for guarded in protect:
        if is_same_file(path, guarded) or Path(path).resolve() == Path(guarded).resolve():
            raise InputError(f"{path}: refusing to overwrite the input")
    if is_folder_destination(path):
        if audio_streams:
            print("tinct: writing frames to a folder; the audio is not kept", file=sys.stderr)
        return FolderSink(path, info.frame_count)
    if not Path(path).suffix:
        raise InputError(f"{path}: give the output a video suffix (.mp4, .mkv, .mov, ...) or "
                         "end it with '/' to write frames to a folder")
    return VideoFileSink(path, info, audio_streams, settings)
