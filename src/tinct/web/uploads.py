"""Reading a ``multipart/form-data`` upload into memory, with limits enforced while reading.

Nothing is spooled to disk (Starlette's own form parsing writes files above 1 MB to a
temporary file): the body is read chunk by chunk from the ASGI stream and fed to a streaming
multipart parser. The file part is kept in memory up to ``max_file_bytes``; one byte more
aborts reading with 413, whatever ``Content-Length`` claimed. Text fields are small (1 KiB).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request

from tinct.web.errors import ApiError

try:  # python-multipart >= 0.0.13
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # pragma: no cover - older python-multipart
    from multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 1024
# fields allowed to be longer: 256 colour hints as JSON take about 12 KiB
FIELD_LIMITS = {"hints": 32 * 1024}
MAX_PARTS = 16
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries allowed on top of the file itself


@dataclass
class Upload:
    """The parsed form: the file part's bytes and name, and the text fields."""

    data: bytes = b""
    filename: str = ""
    has_file: bool = False
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.3g} MB"


class _FormCollector:
    """Callbacks for the streaming parser; stops collecting at the first broken limit."""

    def __init__(self, file_field: str, max_file_bytes: int):
        self.file_field = file_field
        self.max_file_bytes = max_file_bytes
        self.upload = Upload()
        self.error: ApiError | None = None
        self.parts = 0
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _fail(self, status: int, message: str) -> None:
        if self.error is None:
            self.error = ApiError(status, message)

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            self._fail(422, f"too many form fields (at most {MAX_PARTS})")
        self._part = _Part()
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).decode("latin-1").lower()] = bytes(
            self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._part.filename = None if filename is None else filename.decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        part = self._part
        part.data.extend(data[start:end])
        is_file = part.name == self.file_field
        if not is_file and part.filename is not None:  # a file sent under another name
            self._fail(422, f"send the image in the {self.file_field!r} field (got a file in "
                            f"{part.name!r})")
            return
        limit = self.max_file_bytes if is_file else FIELD_LIMITS.get(part.name, MAX_FIELD_BYTES)
        if len(part.data) > limit:
            if is_file:
                self._fail(413, f"upload is larger than the limit of {_megabytes(limit)}")
            else:
                self._fail(422, f"form field {part.name!r} is longer than {limit} bytes")

    def _part_end(self) -> None:
        part, upload = self._part, self.upload
        if self.error is not None:
            return
        if part.name == self.file_field:
            if upload.has_file:
                self._fail(422, f"send one file per request (several {self.file_field!r} parts)")
            upload.data, upload.filename, upload.has_file = (
                bytes(part.data), part.filename or "", True)
        elif part.name:
            upload.fields[part.name] = part.data.decode("utf-8", "replace").strip()
        self._part = _Part()


def _boundary(request: Request, file_field: str) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(422, f"send the image as multipart/form-data with a {file_field!r} field")
    return options[b"boundary"]


def _check_declared_length(request: Request, max_body: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_body:
        raise ApiError(413, f"request body of {_megabytes(int(declared))} is larger than the "
                            f"upload limit of {_megabytes(max_body - MULTIPART_OVERHEAD)}")


class UploadSlots:
    """At most ``limit`` request bodies read at once (503 beyond). Reading a body takes no
    colorization place, so clients that send headers and stall hold only one of these, and
    only until the read times out."""

    def __init__(self, limit: int = 64):
        self.limit, self.active = limit, 0

    @contextlib.asynccontextmanager
    async def slot(self):
        if self.active >= self.limit:
            raise ApiError(503, f"the server is receiving {self.limit} uploads; try again in a "
                                "moment", headers={"Retry-After": "2"})
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


async def timed_chunks(request: Request, chunk_timeout: float, deadline: float
                       ) -> AsyncIterator[bytes]:
    """The body of ``request`` chunk by chunk; 408 when no chunk arrives for
    ``chunk_timeout`` seconds or the whole body takes longer than ``deadline`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    stream = request.stream().__aiter__()
    while True:
        wait = min(chunk_timeout, end - loop.time())
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(wait, 0.001))
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise ApiError(408, f"the upload did not arrive in time (no data for "
                                f"{chunk_timeout:g} s, or more than {deadline:g} s in all)"
                           ) from None
        yield chunk


async def read_upload(request: Request, max_file_bytes: int, file_field: str = "file",
                      chunk_timeout: float = 15.0, deadline: float = 120.0) -> Upload:
    """Reads the multipart body of ``request`` into an :class:`Upload`.

    Raises ``ApiError``: 413 when the file part (or the whole body) exceeds the limit, 422 for
    a body that is not multipart, malformed, or has no ``file_field`` part, 408 for a body
    that stalls (see :func:`timed_chunks`).
    """
    boundary = _boundary(request, file_field)
    max_body = max_file_bytes + MULTIPART_OVERHEAD
    _check_declared_length(request, max_body)
    collector = _FormCollector(file_field, max_file_bytes)
    parser = MultipartParser(boundary, collector.callbacks())
    received = 0
    async for chunk in timed_chunks(request, chunk_timeout, deadline):
        received += len(chunk)
        if received > max_body:
            collector._fail(413, f"upload is larger than the limit of "
                                 f"{_megabytes(max_file_bytes)}")
        if collector.error is not None:
            raise collector.error
        try:
            parser.write(chunk)
        except Exception as exc:  # the parser raises its own error types for broken bodies
            raise ApiError(422, f"malformed multipart body ({exc})") from None
        if collector.error is not None:
            raise collector.error
    parser.finalize()
    if collector.error is not None:
        raise collector.error
    if not collector.upload.has_file:
        raise ApiError(422, f"no file in the request: send the image in a {file_field!r} field")
    return collector.upload


async def discard_body(request: Request, max_bytes: int) -> None:
    """Reads and drops up to ``max_bytes`` of the body, so the client sees our early answer
    instead of a reset connection. Larger bodies are left unread (the connection closes)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            return
