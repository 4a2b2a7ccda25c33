"""API errors: one exception type, and handlers that turn every error into ``{"error": ...}``.

Every error response of the app is JSON ``{"error": "<one-line message>"}`` with the status
that names the problem: 400 undecodable image, 404 unknown page, 413 too large (bytes or
pixels), 415 not an image, 422 bad parameters, 503 busy, 500 anything unexpected.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("tinct.web")

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "what went wrong, in words"}},
    "required": ["error"],
}


class ApiError(Exception):
    """An error to report to the client: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = " ".join(message.split())
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries documenting the JSON error body for ``statuses``."""
    meaning = {400: "Undecodable image", 404: "Not found", 413: "Too large (bytes or pixels)",
               415: "Not an image", 422: "Bad parameters", 503: "Busy: the queue is full"}
    return {s: {"description": meaning.get(s, "Error"),
                "content": {"application/json": {"schema": ERROR_SCHEMA}}} for s in statuses}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Makes every error of ``app`` a JSON ``{"error": message}`` response."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"{request.url.path}: no such page"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error (details are in the server log)")
