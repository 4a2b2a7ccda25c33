"""The FastAPI app: the colorizing page, the HTTP API and (optionally) the Turing test.

``create_app(models, ...)`` builds it; ``tinct serve`` runs it with uvicorn. Routes:

- ``GET /``: the page (static HTML/CSS/JS from ``static/``, no CDN).
- ``POST /api/colorize``: multipart ``file`` (+ optional ``model``, ``size``, ``format``,
  ``levels``, ``hints``, and for colour classifiers ``boost`` / ``temperature``) -> the
  colorized image (PNG or JPEG),
  same pixel size as the upload; ``X-Tinct-Result-Id`` names the kept result.
- ``POST /api/recolor``: JSON ``{"id", "boost", "temperature", "format", "hints"}`` -> the
  kept result decoded again with other settings: no upload, and the network does not run
  again unless new ``hints`` are given.
- ``POST /api/suggest``: JSON ``{"id", "x", "y"}`` -> the likely colours at that pixel of a
  kept result (colour classifiers), for a person choosing a hint.
- ``GET /api/models``, ``GET /healthz``, ``GET /openapi.json``, ``GET /docs`` (an offline
  API reference rendered from openapi.json).
- with a study: ``/turing``, ``/turing/results`` and ``/api/turing/*``.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from tinct import __version__
from tinct.errors import InputError
from tinct.imageio import LoadedImage
from tinct.inference.hints import Hint, check_inside, parse_hints
from tinct.inference.pipeline import Colorizer
from tinct.studies.turing import load_study
from tinct.web.errors import ApiError, error_responses, install_error_handlers
from tinct.web.imaging import (
    FORMAT_ALIASES,
    OUTPUT_FORMATS,
    colorize_keeping_output,
    decode_upload,
    download_name,
    encode,
    sniff,
)
from tinct.web.limits import BODY_TIMEOUT_S, BodyLimit
from tinct.web.models import ModelPool, ModelSpec
from tinct.web.results import KeptResult, ResultCache
from tinct.web.service import WorkQueue
from tinct.web.turing_routes import no_study_router, turing_router
from tinct.web.uploads import MULTIPART_OVERHEAD, UploadSlots, discard_body, read_upload
from tinct.web.votes import VoteStore

STATIC_DIR = Path(__file__).parent / "static"
MIN_SIZE = 32
FORM_FIELDS = ("file", "model", "size", "format", "boost", "temperature", "levels", "hints")
SWITCH_VALUES = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}
# ranges a request may ask for (colour classifiers only); see ColorClassifier.decode
DECODE_RANGES = {"boost": (0.0, 3.0), "temperature": (0.05, 5.0)}

COLORIZE_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "the photo (JPEG, PNG, TIFF, WebP, BMP or GIF); "
                                    "its content decides, not its name or type"},
            "model": {"type": "string", "description": "a name from GET /api/models "
                                                       "(default: the first)"},
            "size": {"type": "integer", "description": "working resolution of the network "
                                                       "(longer side; default: the model's)"},
            "format": {"type": "string", "enum": ["png", "jpeg"], "default": "png"},
            "boost": {"type": "number", "minimum": 0, "maximum": 3,
                      "description": "colour classifiers only: decode-time rebalancing, more "
                                     "for more vivid colour (0 = the network's own odds; "
                                     "default: the model's, see GET /api/models)"},
            "temperature": {"type": "number", "minimum": 0.05, "maximum": 5,
                            "description": "colour classifiers only: annealed-mean "
                                           "temperature, lower for bolder colour (default: "
                                           "the model's)"},
            "levels": {"type": "boolean",
                       "description": "input levels for faded prints: the network sees the "
                                      "photo's lightness stretched to the full range; the "
                                      "result keeps the photo's own lightness (default: the "
                                      "model's, see \"levels\" in GET /api/models)"},
            "hints": {"type": "string",
                      "description": "colours you know, as JSON [{\"x\": 120, \"y\": 80, "
                                     "\"color\": \"#2050c0\"}, ...] (at most 256; x, y in "
                                     "pixels of the upload as displayed); every model honours "
                                     "them, those with \"hint_inputs\": true in GET "
                                     "/api/models also see them in the network"},
        },
    }}},
}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html",
                        headers={"Cache-Control": "no-cache"})


class ColorizeParams:
    """The text fields of a colorize request, checked (422 for anything wrong)."""

    def __init__(self, fields: dict[str, str], pool: ModelPool, max_size: int):
        unknown = sorted(set(fields) - set(FORM_FIELDS))
        if unknown:
            raise ApiError(422, f"unknown form field(s) {', '.join(unknown)}; "
                                f"known: {', '.join(FORM_FIELDS)}")
        self.model = fields.get("model") or pool.default
        if self.model not in pool.infos:
            raise ApiError(422, f"model: unknown model {self.model!r}; available: "
                                f"{', '.join(pool.names)}")
        fmt = (fields.get("format") or "png").lower()
        self.format = FORMAT_ALIASES.get(fmt, fmt)
        if self.format not in OUTPUT_FORMATS:
            raise ApiError(422, f"format: must be png or jpeg, got {fmt!r}")
        self.size: int | None = None
        if fields.get("size"):
            raw = fields["size"]
            if not (raw.isascii() and raw.isdigit()) or not MIN_SIZE <= int(raw) <= max_size:
                raise ApiError(422, f"size: must be a whole number of pixels from {MIN_SIZE} "
                                    f"to {max_size}, got {raw!r}")
            self.size = int(raw)
        self.decode: dict[str, float] = {}
        for key, (low, high) in DECODE_RANGES.items():
            raw = fields.get(key, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not low <= value <= high:  # also refuses nan
                raise ApiError(422, f"{key}: must be a number from {low:g} to {high:g}, "
                                    f"got {raw!r}")
            self.decode[key] = value
        if self.decode and not pool.infos[self.model].decodes():
            raise ApiError(422, f"{', '.join(self.decode)}: model {self.model!r} predicts "
                                "colour directly; only colour classifiers have decode settings")
        self.levels: bool | None = None
        if fields.get("levels", "").strip():
            raw = fields["levels"].strip().lower()
            if raw not in SWITCH_VALUES:
                raise ApiError(422, f"levels: must be true or false, got {fields['levels']!r}")
            self.levels = SWITCH_VALUES[raw]
        self.hints: list[Hint] | None = None
        if fields.get("hints", "").strip():
            try:
                self.hints = parse_hints(json.loads(fields["hints"]), "hints") or None
            except json.JSONDecodeError as exc:
                raise ApiError(422, f"hints: not JSON ({exc})") from None
            except InputError as exc:
                raise ApiError(422, str(exc)) from None

    def check_hints_inside(self, image: LoadedImage) -> None:
        """422 when a hint lies outside the decoded upload."""
        if self.hints:
            height, width = image.pixels.shape[:2]
            try:
                check_inside(self.hints, width, height, "hints")
            except InputError as exc:
                raise ApiError(422, str(exc)) from None

    def colorizer(self, pool: ModelPool) -> Colorizer:
        """The model's colorizer, with this request's decode settings and input levels when
        it has any (a view that shares the network; the pooled colorizer is never changed)."""
        colorizer = pool.get(self.model)
        if self.decode:
            colorizer = colorizer.with_decode(**self.decode)
        return colorizer if self.levels is None else colorizer.with_levels(self.levels)


class Recolor(BaseModel):
    """A kept result to decode again, and how."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                    description="X-Tinct-Result-Id of an earlier POST /api/colorize")
    boost: float | None = Field(default=None, description="as for /api/colorize")
    temperature: float | None = Field(default=None, description="as for /api/colorize")
    format: str | None = Field(default=None, description="png (default) or jpeg")
    hints: list | None = Field(default=None, description="new colour hints, as for "
                               "/api/colorize (a JSON list; [] removes them); the network "
                               "runs again with them. Absent: the result's own hints")


class Suggest(BaseModel):
    """A pixel of a kept result whose likely colours are wanted."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                    description="X-Tinct-Result-Id of an earlier POST /api/colorize")
    x: float = Field(ge=0, description="pixels from the left of the photo as displayed")
    y: float = Field(ge=0, description="pixels from the top")
    count: int = Field(default=6, ge=1, le=12, description="at most this many colours")


def _colorize(params: ColorizeParams, pool: ModelPool, upload, max_pixels: int,
              results: ResultCache) -> tuple[Colorizer, bytes, str | None, bool]:
    """Runs on a worker thread: (the colorizer used, the encoded result, the kept id, whether
    the upload had colour of its own, e.g. a sepia tone, which the colorization replaced)."""
    colorizer = params.colorizer(pool)
    loaded = decode_upload(upload.data, max_pixels)
    params.check_hints_inside(loaded)
    output, image = colorize_keeping_output(colorizer, loaded, params.size, hints=params.hints)
    kept = results.put(KeptResult(params.model, params.size, loaded, output, upload.filename,
                                  params.hints, params.levels))
    return colorizer, encode(image, params.format, loaded.icc_profile), kept, loaded.was_color


def _recolor(params: ColorizeParams, pool: ModelPool, kept: KeptResult,
             new_hints: bool) -> tuple[Colorizer, bytes]:
    """Runs on a worker thread: decodes a kept network output again with ``params``; with
    ``new_hints``, corrects for ``params.hints`` instead and keeps them (a network that takes
    hints runs again with them, and that output is kept)."""
    colorizer = params.colorizer(pool)
    output, hints = kept.network()
    if new_hints:
        hints = params.hints
        if colorizer.accepts_hints:
            output = None
    output, image = colorize_keeping_output(colorizer, kept.image, kept.size, output, hints)
    if new_hints:
        kept.replace_network(output, hints)
    return colorizer, encode(image, params.format, kept.image.icc_profile)


def _suggest(pool: ModelPool, kept: KeptResult, body: Suggest) -> dict:
    """Runs on a worker thread: the likely colours at a pixel of a kept result."""
    height, width = kept.image.pixels.shape[:2]
    if not (body.x < width and body.y < height):
        raise ApiError(422, f"x={body.x:g}, y={body.y:g} is outside the {width}x{height} photo")
    colorizer = pool.get(kept.model)
    L = colorizer.lightness(kept.image)
    lightness = float(L[0, int(body.y), int(body.x)])
    try:
        colors = colorizer.suggest_colors(kept.network()[0], (height, width), lightness, body.x,
                                          body.y, body.count)
    except InputError as exc:
        raise ApiError(422, str(exc)) from None
    return {"x": body.x, "y": body.y, "lightness": round(lightness, 2), "suggestions": colors}


def _image_response(data: bytes, params: ColorizeParams, colorizer: Colorizer, filename: str,
                    seconds: float, result_id: str | None, tinted: bool = False) -> Response:
    """The image with the headers that say what made it."""
    headers = {
        "Content-Disposition": f'inline; filename="{download_name(filename, params.format)}"',
        "Cache-Control": "no-store",
        "X-Tinct-Model": params.model,
        "X-Tinct-Levels": "on" if colorizer.levels else "off",
        "X-Tinct-Seconds": f"{seconds:.3f}",
    }
    decode = colorizer.decode_settings()
    if decode:
        headers["X-Tinct-Decode"] = "; ".join(f"{k}={v:g}" for k, v in decode.items())
    if result_id:
        headers["X-Tinct-Result-Id"] = result_id
    if tinted:  # the upload had colour of its own (sepia, a tint): only its lightness was used
        headers["X-Tinct-Input"] = "colour replaced"
    return Response(data, media_type=OUTPUT_FORMATS[params.format][1], headers=headers)


def create_app(models: list[ModelSpec] | None = None, *, max_upload_mb: float = 20.0,
               max_pixels: int = 25_000_000, concurrency: int = 1, queue: int = 8,
               max_size: int = 1024, study: str | os.PathLike | None = None,
               votes: str | os.PathLike | None = None, device: str | None = None,
               preload: bool = True, body_timeout: float = BODY_TIMEOUT_S,
               upload_deadline: float = 120.0, max_uploads: int = 32,
               study_feedback: bool = False, keep_results_mb: float = 256.0,
               keep_results_s: float = 900.0) -> FastAPI:
    """Builds the app.

    Args:
        models: installed model names or saved-model folders; the first is the default.
            Empty or None: the model shipped with tinct.
        max_upload_mb: largest upload, enforced while reading (413 above it).
        max_pixels: largest width * height, checked from the header (413 above it).
        concurrency: colorizations running at once (worker threads).
        queue: requests allowed to wait for a worker; beyond that, 503 at once.
        max_size: largest working ``size`` a request may ask for.
        study: a folder from ``tinct turing prepare``: enables the Turing pages.
        votes: the SQLite file for Turing votes (default ``STUDY/votes.sqlite``).
        study_feedback: tell participants after each answer whether they were right (a
            teaching setting; off for a real study).
        device: torch device for the models (default: the best available).
        preload: load every model now (errors surface at start-up, not on a request).
        body_timeout: longest wait, in seconds, for the next chunk of any request body (408
            after it; see ``web/limits.py`` and ``web/uploads.py``).
        upload_deadline: longest time, in seconds, an upload may take in all (408 after it).
        max_uploads: request bodies read at once (503 beyond); reading one takes no worker
            and no queue place, so stalled clients cannot lock the colorization queue.
        keep_results_mb: memory for results kept for ``/api/recolor`` (least recently used
            go first; 0 keeps none).
        keep_results_s: how long a result is kept after its last use.
    """
    if max_upload_mb <= 0 or max_pixels <= 0 or max_size < MIN_SIZE:
        raise ValueError("max_upload_mb and max_pixels must be positive, max_size >= "
                         f"{MIN_SIZE}")
    pool = ModelPool(list(models or []), device=device)
    if preload:
        pool.preload()
    work = WorkQueue(concurrency, queue)
    uploads = UploadSlots(max_uploads)
    results = ResultCache(int(keep_results_mb * 2**20), keep_results_s)
    max_bytes = int(max_upload_mb * 2**20)
    the_study = load_study(study) if study is not None else None
    store = (VoteStore(votes if votes is not None else Path(study) / "votes.sqlite")
             if the_study is not None else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        work.shutdown()

    app = FastAPI(title="tinct", version=__version__, lifespan=lifespan,
                  description="Colorize black-and-white photographs over HTTP. Errors are "
                              "JSON `{\"error\": message}`.",
                  docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, exempt=("/api/colorize",),  # uploads bound themselves
                       timeout=body_timeout)
    app.state.pool, app.state.work, app.state.study, app.state.votes = pool, work, the_study, store
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return _page("index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return _page("docs.html")

    @app.get("/healthz", tags=["service"], summary="Health and load")
    def healthz() -> dict:
        """Liveness and load: workers running, requests queued, capacity."""
        return {"status": "ok", "version": __version__, "models": pool.names,
                "turing": the_study is not None, **work.stats(), **results.stats()}

    @app.get("/api/models", tags=["colorize"], summary="Models and limits")
    def list_models() -> dict:
        """The models this server offers (the first is the default) and its upload limits."""
        return {"default": pool.default,
                "models": [info.public() for info in pool.infos.values()],
                "limits": {"max_upload_bytes": max_bytes, "max_pixels": max_pixels,
                           "min_size": MIN_SIZE, "max_size": max_size,
                           "formats": list(OUTPUT_FORMATS)}}

    @app.post("/api/colorize", tags=["colorize"], summary="Colorize an image",
              openapi_extra={"requestBody": COLORIZE_BODY},
              response_class=Response,
              responses={200: {"description": "The colorized image, same size as the upload",
                               "content": {"image/png": {}, "image/jpeg": {}}},
                         **error_responses(400, 413, 415, 422, 503)})
    async def colorize(request: Request) -> Response:
        """Colorizes one uploaded image and returns it as PNG (default) or JPEG."""
        try:  # the body first: a client that stalls holds an upload slot, never a worker
            async with uploads.slot():
                upload = await read_upload(request, max_bytes, chunk_timeout=body_timeout,
                                           deadline=upload_deadline)
        except ApiError as exc:
            if exc.status == 503:
                await discard_body(request, max_bytes + MULTIPART_OVERHEAD)
            raise
        except ClientDisconnect:  # the client left mid-upload: nobody to answer, nothing kept
            return Response(status_code=400)
        params = ColorizeParams(upload.fields, pool, max_size)
        sniff(upload.data, max_pixels)
        with work.admit() as ticket:
            started = time.perf_counter()
            colorizer, data, kept, tinted = await work.run(ticket, lambda: _colorize(
                params, pool, upload, max_pixels, results))
            seconds = time.perf_counter() - started
        return _image_response(data, params, colorizer, upload.filename, seconds, kept, tinted)

    @app.post("/api/recolor", tags=["colorize"], summary="Decode a result again",
              response_class=Response,
              responses={200: {"description": "The kept result with the new settings",
                               "content": {"image/png": {}, "image/jpeg": {}}},
                         **error_responses(404, 413, 422, 503)})
    async def recolor(body: Recolor) -> Response:
        """Decodes a kept result (``X-Tinct-Result-Id`` of a colorization) again with other
        ``boost`` / ``temperature`` settings, without the upload and without running the
        network again: a fraction of a colorization's time."""
        kept = results.get(body.id)
        fields = {"model": kept.model, **{k: str(v) for k, v in
                                          (("boost", body.boost),
                                           ("temperature", body.temperature),
                                           ("format", body.format)) if v is not None}}
        if kept.levels is not None:  # a network run for new hints sees what the first saw
            fields["levels"] = str(kept.levels).lower()
        new_hints = body.hints is not None
        if new_hints:
            fields["hints"] = json.dumps(body.hints)
        params = ColorizeParams(fields, pool, max_size)
        if new_hints:
            params.check_hints_inside(kept.image)
        with work.admit() as ticket:
            started = time.perf_counter()
            colorizer, data = await work.run(ticket, lambda: _recolor(params, pool, kept,
                                                                      new_hints))
            seconds = time.perf_counter() - started
        return _image_response(data, params, colorizer, kept.filename, seconds, body.id)

    @app.post("/api/suggest", tags=["colorize"], summary="Likely colours at a pixel",
              responses=error_responses(404, 413, 422, 503))
    async def suggest(body: Suggest) -> dict:
        """The few most likely distinct colours a colour classifier sees at pixel (x, y) of a
        kept result, most likely first, each shown at that pixel's lightness:
        ``{"suggestions": [{"color": "#rrggbb", "probability": p}, ...]}``. Pick one as a
        hint with ``POST /api/recolor``."""
        kept = results.get(body.id)
        with work.admit() as ticket:
            return await work.run(ticket, lambda: _suggest(pool, kept, body))

    if the_study is not None and store is not None:
        app.include_router(turing_router(the_study, store, _page, feedback=study_feedback))
    else:
        app.include_router(no_study_router(_page))
    return app
