"""The HTTP API against the real app and a real (small, untrained) saved model."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import tempfile
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # Starlette's notice about httpx vs httpx2 at import
    warnings.filterwarnings("ignore", message=".*httpx")
    from fastapi.testclient import TestClient

import torch  # noqa: E402

from tinct import color, create_model  # noqa: E402
from tinct.cli import main  # noqa: E402
from tinct.inference.checkpoint import save_pretrained  # noqa: E402
from tinct.web import create_app, imaging  # noqa: E402
from tinct.web.app import STATIC_DIR  # noqa: E402
from tinct.web.imaging import download_name  # noqa: E402
from tinct.web.service import Busy, WorkQueue  # noqa: E402


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_classifier_dir, tmp_path_factory) -> list[Path]:
    """Three real saved models (random init): the tiny U-Net (default), a tiny plain CNN and
    a tiny colour classifier."""
    cnn = save_pretrained(create_model("cnn", width=8, depth=2),
                          tmp_path_factory.mktemp("web-models") / "tiny-cnn", working_size=48)
    return [tiny_model_dir, cnn, tiny_classifier_dir]


@pytest.fixture(scope="module")
def client(models) -> TestClient:
    with TestClient(create_app(models, concurrency=2, queue=4)) as c:
        yield c


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def gray_photo() -> Image.Image:
    """A black-and-white photo, 90x60 (odd sizes on purpose)."""
    return Image.fromarray(data.chelsea()).convert("L").resize((90, 61), Image.BILINEAR)


def post(client, body: bytes, name: str = "photo.png", content_type: str = "image/png",
         **fields):
    return client.post("/api/colorize", files={"file": (name, body, content_type)},
                       data={k: str(v) for k, v in fields.items()})


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message
    return message


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize(("fmt", "pil_format", "mime"),
                         [("png", "PNG", "image/png"), ("jpeg", "JPEG", "image/jpeg")])
def test_colorize_returns_an_image_of_the_input_size(client, gray_photo, fmt, pil_format, mime):
    r = post(client, encode(gray_photo, "JPEG"), name="old cat.jpg", content_type="image/jpeg",
             format=fmt)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == mime
    assert r.headers["x-tinct-model"] == "tiny-unet"
    assert "x-tinct-decode" not in r.headers  # a regression model has no decode settings
    assert float(r.headers["x-tinct-seconds"]) >= 0
    suffix = ".png" if fmt == "png" else ".jpg"
    assert f'filename="old_cat-colorized{suffix}"' in r.headers["content-disposition"]
    out = Image.open(io.BytesIO(r.content))
    assert out.format == pil_format
    assert out.mode == "RGB"
    assert out.size == gray_photo.size


def test_colorize_keeps_the_lightness_and_adds_colour(client, gray_photo):
    r = post(client, encode(gray_photo), size=96)
    assert r.status_code == 200, r.text
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(np.float32)
    back_to_gray = np.asarray(Image.fromarray(out.astype(np.uint8)).convert("L"), np.float32)
    # only chroma is replaced: the gray level of the result follows the input closely
    assert np.abs(back_to_gray - np.asarray(gray_photo, np.float32)).mean() < 4.0
    # and the channels differ (a random network still predicts some chroma)
    assert np.abs(out[..., 0] - out[..., 2]).mean() > 0.1


def test_model_field_picks_the_model(client, gray_photo):
    r = post(client, encode(gray_photo), model="tiny-cnn")
    assert r.status_code == 200, r.text
    assert r.headers["x-tinct-model"] == "tiny-cnn"


def test_boost_gives_more_colour_for_that_request_only(client, gray_photo):
    def saturation(response) -> float:
        assert response.status_code == 200, response.text
        out = Image.open(io.BytesIO(response.content)).convert("HSV")
        return float(np.asarray(out, np.float32)[..., 1].mean())

    def ask(**fields):
        return post(client, encode(gray_photo), model="tiny-classifier", **fields)

    plain = ask()
    boosted = ask(boost=2, temperature=0.5)
    assert plain.headers["x-tinct-decode"] == "temperature=0.38; boost=0"
    assert boosted.headers["x-tinct-decode"] == "temperature=0.5; boost=2"
    assert saturation(boosted) > saturation(plain) + 1  # rare (vivid) colours weigh more
    assert ask(boost=0).content == plain.content  # the model's own boost is 0
    assert ask().content == plain.content  # the pooled model was not changed by the request


@pytest.fixture(scope="module")
def shipped_client():
    """The app serving the shipped model (a trained network: its colour depends on the
    tones it sees)."""
    with TestClient(create_app([None], concurrency=1, queue=2)) as c:
        yield c


def test_levels_change_a_faded_prints_colour_for_that_request_only(shipped_client,
                                                                     gray_photo):
    def lab(response) -> np.ndarray:
        assert response.status_code == 200, response.text
        rgb = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), np.float64)
        return color.rgb_to_lab(torch.from_numpy(rgb / 255).permute(2, 0, 1)).numpy()

    faded = Image.fromarray((40 + 0.6 * np.asarray(gray_photo, np.float64)).astype(np.uint8))
    on = post(shipped_client, encode(faded), levels="true")
    off = post(shipped_client, encode(faded), levels="false")
    assert (on.headers["x-tinct-levels"], off.headers["x-tinct-levels"]) == ("on", "off")
    on, off = lab(on), lab(off)
    assert np.abs(on[0] - off[0]).max() < 1.5  # the faded tones are kept either way
    assert np.abs(on[1:] - off[1:]).mean() > 1.0  # the network saw other tones
    # the model's own setting (off) is the default, and the request did not change it
    assert np.array_equal(lab(post(shipped_client, encode(faded))), off)
    assert shipped_client.get("/api/models").json()["models"][0]["levels"] is False


def test_alpha_is_kept_in_png(client):
    rgba = Image.new("LA", (20, 14), (120, 255))
    rgba.putpixel((3, 3), (50, 0))
    r = post(client, encode(rgba))
    assert r.status_code == 200, r.text
    out = Image.open(io.BytesIO(r.content))
    assert out.mode == "RGBA" and out.getpixel((3, 3))[3] == 0


def test_png_response_is_the_colorization_pixel_for_pixel(client, gray_photo):
    """The PNG sent (colorize and re-colour) decodes to exactly the pipeline's colour image."""
    upload = encode(gray_photo)
    r = post(client, upload)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    colorizer = client.app.state.pool.get("tiny-unet")
    _, expected = imaging.colorize_keeping_output(colorizer,
                                                  imaging.decode_upload(upload, 10**6), None)
    for response in (r, client.post("/api/recolor",
                                    json={"id": r.headers["x-tinct-result-id"]})):
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        out = Image.open(io.BytesIO(response.content))
        assert out.format == "PNG" and out.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


def test_png_keeps_the_uploads_icc_profile(client, gray_photo):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    gray_photo.convert("RGB").save(out, format="PNG", icc_profile=icc)
    r = post(client, out.getvalue())
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).info["icc_profile"] == icc


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk of a PNG file, checking the signature, lengths and CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert len(body) == length
        assert int.from_bytes(data[at + 8 + length:at + 12 + length], "big") == zlib.crc32(
            kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


@pytest.mark.parametrize("shape", [(61, 90, 3), (14, 20, 4), (1, 1, 3), (1, 7, 4), (9, 1, 3)])
def test_png_bytes_is_a_valid_lossless_png(shape, monkeypatch):
    monkeypatch.setattr(imaging, "PNG_IDAT_BYTES", 100)  # several IDAT chunks
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    pixels[: shape[0] // 2] //= 8  # some smooth rows too
    data = imaging.png_bytes(pixels, b"profile")
    kinds = [kind for kind, _ in png_chunks(data)]
    idat = kinds.count(b"IDAT")
    assert kinds == [b"IHDR", b"iCCP"] + [b"IDAT"] * idat + [b"IEND"]
    assert idat == -(-len(b"".join(body for kind, body in png_chunks(data) if kind == b"IDAT"))
                     // 100)
    out = Image.open(io.BytesIO(data))
    out.load()
    assert out.format == "PNG" and out.mode == ("RGBA" if shape[2] == 4 else "RGB")
    assert out.info["icc_profile"] == b"profile"
    np.testing.assert_array_equal(np.asarray(out), pixels)
    assert png_chunks(imaging.png_bytes(pixels))[1][0] == b"IDAT"  # no profile, no iCCP chunk
    with pytest.raises(ValueError, match="uint8"):
        imaging.png_bytes(pixels.astype(np.uint16))


def test_file_type_is_sniffed_not_taken_from_the_name(client, gray_photo):
    """A JPEG named .png and declared as text is still colorized."""
    r = post(client, encode(gray_photo, "JPEG"), name="x.png", content_type="text/plain")
    assert r.status_code == 200, r.text


def test_models_endpoint(client):
    info = client.get("/api/models").json()
    assert info["default"] == "tiny-unet"
    assert [m["name"] for m in info["models"]] == ["tiny-unet", "tiny-cnn", "tiny-classifier"]
    unet = info["models"][0]
    assert unet["architecture"] == "unet" and unet["working_size"] == 64
    assert unet["decode"] is None
    assert info["models"][2]["decode"] == {"temperature": 0.38, "boost": 0.0}
    assert unet["description"] == "untrained test model"
    assert info["limits"]["max_upload_bytes"] == 20 * 2**20
    assert info["limits"]["formats"] == ["png", "jpeg"]


def test_healthz(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["models"] == ["tiny-unet", "tiny-cnn", "tiny-classifier"]
    assert (health["concurrency"], health["capacity"]) == (2, 6)
    assert health["running"] == 0 and health["queued"] == 0
    assert health["turing"] is False


def test_openapi_schema_and_offline_docs(client):
    spec = client.get("/openapi.json").json()
    colorize = spec["paths"]["/api/colorize"]["post"]
    body = colorize["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    assert set(body["properties"]) == {"file", "model", "size", "format", "boost", "temperature",
                                       "levels", "hints"}
    assert {"200", "400", "413", "415", "422", "503"} <= set(colorize["responses"])
    assert {"/healthz", "/api/models"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text


def test_pages_and_static_files_load_nothing_from_the_internet(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text
    files = sorted(STATIC_DIR.iterdir())
    assert {"index.html", "app.js", "zip.js", "app.css"} <= {f.name for f in files}
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f.name
        assert not re.search(r"""(import|fetch)\W+["'`]https?://""", text), f.name
        assert client.get(f"/static/{f.name}").status_code == 200


def test_unknown_path_is_a_json_404(client):
    assert "no such page" in error_of(client.get("/nope"), 404)


def test_uploads_are_never_written_to_disk(client, gray_photo, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an upload touched a temporary file")

    for name in ("SpooledTemporaryFile", "NamedTemporaryFile", "TemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (700, 700, 3), np.uint8))
    body = encode(big)
    assert len(body) > 2**20  # Starlette would spool a file this large to disk
    r = post(client, body, size=32)
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- errors


def test_400_for_an_undecodable_image(client, gray_photo):
    truncated = encode(gray_photo)[:200]
    assert "cannot be decoded" in error_of(post(client, truncated), 400)
    assert "empty" in error_of(post(client, b""), 400)


def test_415_for_a_text_file_named_png(client):
    message = error_of(post(client, b"hello, this is text\n" * 20, name="photo.png"), 415)
    assert "JPEG, PNG" in message


@pytest.mark.parametrize(("fields", "words"), [
    ({"size": "7"}, "size"),
    ({"size": "5000"}, "size"),
    ({"size": "big"}, "size"),
    ({"size": "²"}, "size"),
    ({"size": "١٢٨"}, "size"),
    ({"format": "gif"}, "format"),
    ({"model": "no-such-model"}, "tiny-unet, tiny-cnn, tiny-classifier"),
    ({"colour": "red"}, "unknown form field"),
    ({"boost": "1"}, "predicts colour directly"),
    ({"model": "tiny-classifier", "boost": "-1"}, "boost: must be a number from 0 to 3"),
    ({"model": "tiny-classifier", "boost": "lots"}, "boost: must be a number"),
    ({"model": "tiny-classifier", "boost": "nan"}, "boost: must be a number"),
    ({"model": "tiny-classifier", "temperature": "0"}, "temperature: must be a number"),
    ({"levels": "maybe"}, "levels: must be true or false"),
])
def test_422_for_bad_parameters(client, gray_photo, fields, words):
    assert words in error_of(post(client, encode(gray_photo), **fields), 422)


def test_422_without_a_file(client):
    assert "no file" in error_of(client.post("/api/colorize", files={"size": (None, "64")}), 422)
    assert "multipart" in error_of(client.post("/api/colorize", json={"file": "x"}), 422)


@pytest.fixture(scope="module")
def strict_client(models) -> TestClient:
    """Tight limits: 40 KiB uploads, 2500 pixels."""
    with TestClient(create_app(models[:1], max_upload_mb=40 / 1024, max_pixels=2500)) as c:
        yield c


def test_413_for_too_many_bytes(strict_client):
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (45, 45), np.uint8))
    small = encode(noise)
    assert post(strict_client, small).status_code == 200  # 2025 pixels, a few KB
    big = encode(Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3),
                                                                   np.uint8)))
    assert len(big) > 41 * 1024
    assert "limit" in error_of(post(strict_client, big), 413)


def test_413_is_enforced_while_reading_not_from_content_length(strict_client):
    """A chunked body (no Content-Length) larger than the limit is cut off at the limit."""
    boundary = "tinctboundary"
    chunks_sent = []

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
        for _ in range(200):  # 200 x 16 KiB = 3.2 MiB
            chunks_sent.append(1)
            yield b"\0" * 16384
        yield f"\r\n--{boundary}--\r\n".encode()

    r = strict_client.post("/api/colorize", content=body(),
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert "limit" in error_of(r, 413)


def test_413_for_too_many_pixels(strict_client):
    r = post(strict_client, encode(Image.new("L", (60, 50), 128)))  # 3000 px > 2500
    message = error_of(r, 413)
    assert "60x50" in message and "2,500 pixels" in message


def test_503_when_every_worker_and_queue_place_is_taken(models):
    """concurrency 1, queue 0: while a real (large) colorization runs, a second request is
    refused at once; afterwards the server takes requests again."""
    app = create_app(models[:1], concurrency=1, queue=0, max_pixels=50_000_000)
    slow = encode(Image.fromarray(np.tile(np.arange(2400, dtype=np.uint16) % 256,
                                          (1800, 1)).astype(np.uint8)))
    small = encode(Image.new("L", (16, 16), 90))
    with TestClient(app) as client:
        first: dict = {}
        worker = threading.Thread(target=lambda: first.update(r=post(client, slow, size=512)))
        worker.start()
        deadline = time.monotonic() + 30
        while client.get("/healthz").json()["running"] == 0:
            assert worker.is_alive() and time.monotonic() < deadline, "slow request never ran"
            time.sleep(0.005)
        started = time.monotonic()
        busy = post(client, small)
        assert time.monotonic() - started < 1.0  # refused at once, not after waiting
        assert "busy" in error_of(busy, 503)
        assert busy.headers["retry-after"] == "2"
        worker.join(60)
        assert first["r"].status_code == 200
        assert Image.open(io.BytesIO(first["r"].content)).size == (2400, 1800)
        health = client.get("/healthz").json()
        assert (health["running"], health["queued"]) == (0, 0)
        assert post(client, small).status_code == 200


def test_a_place_is_kept_until_the_job_of_a_departed_client_ends():
    """A client that leaves while its job runs does not free a worker that is still busy;
    one that leaves while queued frees its place at once."""
    work = WorkQueue(concurrency=1, queue=1)
    release = threading.Event()

    async def request():
        with work.admit() as ticket:
            await work.run(ticket, release.wait, 30)

    def can_admit() -> bool:
        try:
            with work.admit():
                return True
        except Busy:
            return False

    async def scenario():
        running = asyncio.create_task(request())
        while work.stats()["running"] == 0:
            await asyncio.sleep(0.001)
        queued = asyncio.create_task(request())
        await asyncio.sleep(0.01)
        assert work.stats() == {"running": 1, "queued": 1, "concurrency": 1, "capacity": 2}
        assert not can_admit()
        queued.cancel()  # left while waiting: its job never starts, its place is free
        running.cancel()  # left while its job runs: the place stays taken
        await asyncio.gather(queued, running, return_exceptions=True)
        assert work.stats()["running"] == 1
        assert can_admit()  # the queue place only
        with work.admit():
            assert not can_admit()
        release.set()
        for _ in range(2000):
            if work.stats()["running"] == 0:
                break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        assert work.stats() == {"running": 0, "queued": 0, "concurrency": 1, "capacity": 2}

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        work.shutdown()


def test_download_names_are_safe():
    assert download_name("../../etc/passwd", "png") == "passwd-colorized.png"
    assert download_name("C:\\photos\\Grand mère.jpeg", "jpeg") == "Grand_m_re-colorized.jpg"
    assert download_name("", "png") == "image-colorized.png"
    assert download_name('a"b;.png', "png") == "a_b-colorized.png"


# --------------------------------------------------------------------------- the command


def test_serve_command_reports_a_bad_model_in_one_line(capsys, tmp_path):
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinct serve: error:") and "missing" in err and err.count("\n") == 1


def test_serve_help_explains_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--model", "--max-upload-mb", "--max-pixels",
                   "--concurrency", "--queue", "--study", "--votes"):
        assert option in text
    assert "127.0.0.1" in text


def test_stalled_uploads_do_not_lock_the_queue(models, gray_photo):
    """Issue 17, item 1: 20 clients that send headers and a few bytes and then stall hold no
    colorization place (one worker, no queue here): a real request is answered 200 at once,
    and each stalled one gets 408 once its body times out."""
    import socket

    import httpx

    from tinct.web.server import serve_in_background

    app = create_app(models, concurrency=1, queue=0, body_timeout=3.0)
    with serve_in_background(app) as url:
        host, port = url.removeprefix("http://").split(":")
        stalled = []
        for _ in range(20):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(b"POST /api/colorize HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                      b"Content-Type: multipart/form-data; boundary=XyZ\r\n\r\n--XyZ\r\n")
            stalled.append(s)
        time.sleep(0.5)  # every stalled request is inside the server now
        reply = httpx.post(f"{url}/api/colorize", timeout=30,
                           files={"file": ("p.png", encode(gray_photo), "image/png")})
        assert reply.status_code == 200, reply.text
        answers = []
        for s in stalled:
            data = b""
            with contextlib.suppress(OSError):
                while chunk := s.recv(65536):
                    data += chunk
            s.close()
            answers.append(data.decode("latin-1"))
        assert all(a.startswith("HTTP/1.1 408") for a in answers), answers[0][:200]
        assert "did not arrive in time" in answers[0]


def test_a_file_under_another_field_name_is_named_as_such(client, gray_photo):
    """Issue 17, item 12: an image sent as 'image' instead of 'file' says which field to use
    (it said the form field was 'longer than 1024 bytes')."""
    reply = client.post("/api/colorize",
                        files={"image": ("p.png", encode(gray_photo), "image/png")})
    assert "send the image in the 'file' field (got a file in 'image')" in error_of(reply, 422)


# --------------------------------------------------------------------------- re-colouring


def test_recolor_decodes_a_kept_result_again_without_the_network(models, gray_photo):
    """Issue 19: a colorization names its kept result; /api/recolor decodes it with other
    settings without an upload and without running the network again; the same settings give
    the same picture."""
    app = create_app(models, concurrency=1, queue=2)
    calls = []
    network = app.state.pool.get("tiny-classifier").model
    network.register_forward_hook(lambda *_: calls.append(1))
    with TestClient(app) as client:
        first = post(client, encode(gray_photo), model="tiny-classifier", boost=0.2)
        assert first.status_code == 200, first.text
        result_id = first.headers["x-tinct-result-id"]
        assert len(calls) == 1
        same = client.post("/api/recolor", json={"id": result_id, "boost": 0.2})
        vivid = client.post("/api/recolor", json={"id": result_id, "boost": 2.5,
                                                  "format": "jpeg"})
        assert len(calls) == 1  # the network ran once, for the upload
        assert same.status_code == 200 and same.content == first.content
        assert same.headers["x-tinct-result-id"] == result_id
        assert vivid.status_code == 200 and vivid.headers["content-type"] == "image/jpeg"
        assert vivid.headers["x-tinct-decode"] == "temperature=0.38; boost=2.5"
        assert "-colorized.jpg" in vivid.headers["content-disposition"]

        def saturation(r):
            rgb = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32)
            return float(np.ptp(rgb, axis=-1).mean())

        assert saturation(vivid) > saturation(first) + 1
        assert client.get("/healthz").json()["kept_results"] == 1


def test_recolor_errors_are_one_line(client, gray_photo):
    made = post(client, encode(gray_photo))  # the tiny U-Net: no decode settings
    result_id = made.headers["x-tinct-result-id"]
    assert "expired" in error_of(client.post("/api/recolor", json={"id": "nope"}), 404)
    assert "predicts colour directly" in error_of(
        client.post("/api/recolor", json={"id": result_id, "boost": 1}), 422)
    error_of(client.post("/api/recolor", json={"id": result_id, "size": 64}), 422)
    assert "boost" in error_of(client.post("/api/recolor", json={"id": result_id,
                                                                 "boost": "lots"}), 422)


def test_kept_results_are_bounded_in_bytes_and_time(models, gray_photo):
    """The least recently used result goes first when the memory is full; results expire."""
    with TestClient(create_app(models[:1])) as client:
        post(client, encode(gray_photo))
        one = client.get("/healthz").json()["kept_bytes"]  # the size of one kept result
    assert one >= 90 * 61  # at least the upload's gray plane (kept once, not three times)
    app = create_app(models[:1], keep_results_mb=1.5 * one / 2**20, keep_results_s=1.0)
    with TestClient(app) as client:
        ids = [post(client, encode(gray_photo)).headers.get("x-tinct-result-id")
               for _ in range(2)]
        assert all(ids)
        assert client.post("/api/recolor", json={"id": ids[0]}).status_code == 404
        assert client.post("/api/recolor", json={"id": ids[1]}).status_code == 200
        time.sleep(1.2)
        assert client.post("/api/recolor", json={"id": ids[1]}).status_code == 404
    off = create_app(models[:1], keep_results_mb=0)
    with TestClient(off) as client:
        assert "x-tinct-result-id" not in post(client, encode(gray_photo)).headers


def test_a_tinted_upload_is_named_as_such(client, gray_photo):
    """A sepia scan's tint is replaced by colour: the response says so (the page tells)."""
    g = np.asarray(gray_photo, np.float32)
    sepia = Image.fromarray(np.dstack([g, g * 0.85, g * 0.66]).astype(np.uint8))
    toned = post(client, encode(sepia))
    assert toned.status_code == 200 and toned.headers["x-tinct-input"] == "colour replaced"
    assert "x-tinct-input" not in post(client, encode(gray_photo)).headers
