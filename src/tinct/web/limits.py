"""Bounds on request bodies that are not image uploads: size and time.

Every request to the app other than an image upload (``/api/colorize``, which streams and
bounds its own body) has its body read here first, before any route sees it: at most
``max_bytes`` (413 beyond, checked against Content-Length before reading and while reading),
and no more than ``timeout`` seconds between two chunks (408 for a client that stalls). The
body is then handed to the route unchanged. JSON votes and the like are a few hundred bytes,
so a 200 MB body never reaches the JSON parser or the server's memory.
"""

from __future__ import annotations

import asyncio
import json

MAX_JSON_BYTES = 64 * 1024
BODY_TIMEOUT_S = 15.0


class BodyLimit:
    """Pure ASGI middleware bounding the bodies of requests not under ``exempt`` paths."""

    def __init__(self, app, exempt: tuple[str, ...] = (), max_bytes: int = MAX_JSON_BYTES,
                 timeout: float = BODY_TIMEOUT_S):
        self.app, self.exempt = app, exempt
        self.max_bytes, self.timeout = max_bytes, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            await _error(send, 413, f"request body of {int(declared)} bytes is larger than "
                                    f"the limit of {self.max_bytes} bytes")
            return
        chunks, size, more = [], 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                await _error(send, 408, f"request body not received within {self.timeout:g} s")
                return
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await _error(send, 413, f"request body is larger than the limit of "
                                        f"{self.max_bytes} bytes")
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as usual

        await self.app(scope, replay, send)


async def _error(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
