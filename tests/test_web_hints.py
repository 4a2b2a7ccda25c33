"""Colour hints through the HTTP API: /api/colorize's hints field, /api/recolor with new
hints, /api/suggest, against the real app and a real (small, untrained) hint-taking model."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from helpers import requires_web
from tinct import color

pytestmark = requires_web

RED = {"x": 20, "y": 15, "color": "#c03030"}
BLUE = {"x": 60, "y": 40, "color": "#3050b0"}


@pytest.fixture(scope="module")
def client(tiny_hint_classifier_dir, tiny_classifier_dir):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx")
        from fastapi.testclient import TestClient
    from tinct.web import create_app

    app = create_app([tiny_hint_classifier_dir, tiny_classifier_dir], concurrency=1, queue=4)
    calls: list[int] = []
    app.state.pool.get("tiny-hint-classifier").model.register_forward_hook(
        lambda *_: calls.append(1))
    with TestClient(app) as c:
        c.network_calls = calls
        yield c


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    image = Image.fromarray(data.chelsea()).convert("L").resize((90, 61), Image.BILINEAR)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _colorize(client, photo_bytes, **fields):
    return client.post("/api/colorize", files={"file": ("cat.png", photo_bytes, "image/png")},
                       data={k: v if isinstance(v, str) else json.dumps(v)
                             for k, v in fields.items()})


def _ab(response, hint) -> torch.Tensor:
    rgb = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    lab = color.rgb_to_lab(torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255)
    return lab[0, 1:, hint["y"], hint["x"]]


def _hint_chroma(hint) -> torch.Tensor:
    code = hint["color"]
    rgb = torch.tensor([int(code[i:i + 2], 16) for i in (1, 3, 5)]).view(1, 3, 1, 1) / 255
    return color.rgb_to_lab(rgb)[0, 1:, 0, 0]


def test_models_say_whether_their_network_takes_hints(client):
    models = {m["name"]: (m["hints"], m["hint_inputs"])
              for m in client.get("/api/models").json()["models"]}
    assert models == {"tiny-hint-classifier": (True, True), "tiny-classifier": (True, False)}


def test_colorize_with_hints_then_recolor_keeps_and_replaces_them(client, photo_bytes):
    plain = _colorize(client, photo_bytes)
    hinted = _colorize(client, photo_bytes, hints=[RED])
    assert plain.status_code == 200 and hinted.status_code == 200, hinted.text
    assert float((_ab(hinted, RED) - _hint_chroma(RED)).norm()) < 6
    assert hinted.content != plain.content
    result_id = hinted.headers["x-tinct-result-id"]
    calls = len(client.network_calls)
    # a new boost: the network does not run, the hints still hold
    boosted = client.post("/api/recolor", json={"id": result_id, "boost": 1.5})
    assert boosted.status_code == 200 and len(client.network_calls) == calls
    assert float((_ab(boosted, RED) - _hint_chroma(RED)).norm()) < 6
    # new hints: the network runs once more, and the result keeps them for later re-colours
    moved = client.post("/api/recolor", json={"id": result_id, "hints": [BLUE]})
    assert moved.status_code == 200 and len(client.network_calls) == calls + 1
    assert float((_ab(moved, BLUE) - _hint_chroma(BLUE)).norm()) < 6
    again = client.post("/api/recolor", json={"id": result_id})
    assert again.content == moved.content and len(client.network_calls) == calls + 1
    # [] removes them: the automatic colorization again
    cleared = client.post("/api/recolor", json={"id": result_id, "hints": []})
    assert cleared.content == plain.content


@pytest.mark.parametrize("hints, status, message", [
    ("[{", 422, "hints: not JSON"),
    ([{"x": 1, "y": 2, "color": "red"}], 422, "hint 1: color must be #rrggbb"),
    ([{"x": 90, "y": 2, "color": "#ff0000"}], 422, "hint 1 at x=90, y=2 is outside the 90x61"),
    ([RED] * 257, 422, "257 hints; at most 256"),
    ([{**RED, "x": 20.000000000001}] * 700, 422, "form field 'hints' is longer than 32768 bytes"),
])
def test_bad_hints_are_one_line_errors(client, photo_bytes, hints, status, message):
    response = _colorize(client, photo_bytes, hints=hints)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error
    made = _colorize(client, photo_bytes)
    recolor = client.post("/api/recolor", json={"id": made.headers["x-tinct-result-id"],
                                                "hints": hints if hints != "[{" else "x"})
    assert recolor.status_code == 422


def test_a_model_without_hint_inputs_honours_hints_without_running_again(client,
                                                                         photo_bytes):
    """An automatic model takes hints too (the correction after decoding alone); a re-colour
    with new hints then needs no new network run: its output does not depend on them."""
    plain = _colorize(client, photo_bytes, model="tiny-classifier")
    hinted = _colorize(client, photo_bytes, model="tiny-classifier", hints=[RED])
    assert hinted.status_code == 200, hinted.text
    assert float((_ab(hinted, RED) - _hint_chroma(RED)).norm()) < 6
    assert float((_ab(plain, RED) - _hint_chroma(RED)).norm()) > 12
    automatic = client.app.state.pool.get("tiny-classifier").model
    calls: list[int] = []
    hook = automatic.register_forward_hook(lambda *_: calls.append(1))
    try:
        moved = client.post("/api/recolor", json={"id": hinted.headers["x-tinct-result-id"],
                                                  "hints": [BLUE]})
    finally:
        hook.remove()
    assert moved.status_code == 200 and calls == []
    assert float((_ab(moved, BLUE) - _hint_chroma(BLUE)).norm()) < 6
    cleared = client.post("/api/recolor", json={"id": hinted.headers["x-tinct-result-id"],
                                                "hints": []})
    assert cleared.content == plain.content


def test_suggestions_at_a_pixel(client, photo_bytes):
    made = _colorize(client, photo_bytes)
    result_id = made.headers["x-tinct-result-id"]
    answer = client.post("/api/suggest", json={"id": result_id, "x": 30, "y": 20, "count": 4})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    suggestions = body["suggestions"]
    assert 1 <= len(suggestions) <= 4
    probabilities = [s["probability"] for s in suggestions]
    assert probabilities == sorted(probabilities, reverse=True) or len(suggestions) == 1
    assert 0.99 <= sum(probabilities) <= 1.01
    for s in suggestions:  # each shown at the pixel's own lightness
        rgb = torch.tensor([int(s["color"][i:i + 2], 16) for i in (1, 3, 5)])
        L = color.rgb_to_lightness(rgb.view(1, 3, 1, 1).float() / 255)
        assert abs(float(L) - body["lightness"]) < 1.5
    outside = client.post("/api/suggest", json={"id": result_id, "x": 90, "y": 1})
    assert outside.status_code == 422 and "outside the 90x61" in outside.json()["error"]
    unknown = client.post("/api/suggest", json={"id": "nope", "x": 1, "y": 1})
    assert unknown.status_code == 404
