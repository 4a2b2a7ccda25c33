"""The Turing test: Wilson intervals, study preparation, the vote store, the study API."""

from __future__ import annotations

import io
import json
import random
import sqlite3
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from helpers import requires_web
from tinct import Colorizer
from tinct.cli import main
from tinct.studies.turing import StudyError, load_study, prepare_study, wilson_interval


def web_test_client():
    """FastAPI's TestClient class and tinct's app factory (the web extra)."""
    with warnings.catch_warnings():  # Starlette's notice about httpx vs httpx2 at import
        warnings.filterwarnings("ignore", message=".*httpx")
        from fastapi.testclient import TestClient

    from tinct.web import create_app

    return TestClient, create_app

SIZE = 64


# --------------------------------------------------------------------------- Wilson interval


def test_wilson_interval_matches_published_values():
    # 8 of 10 and 0 of 10: the textbook examples (Newcombe 1998, method 3)
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)


def test_wilson_interval_properties():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    for k, n in [(0, 5), (3, 7), (50, 100), (99, 100)]:
        low, high = wilson_interval(k, n)
        assert 0 <= low <= k / n <= high <= 1
        mirror = wilson_interval(n - k, n)
        assert (low, high) == pytest.approx((1 - mirror[1], 1 - mirror[0]))
    assert np.diff(wilson_interval(50, 100)) > np.diff(wilson_interval(500, 1000))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


# --------------------------------------------------------------------------- preparing a study


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three colour photos, one gray photo and one broken file."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).resize((120, 90)).save(folder / f"{name}.png")
    Image.fromarray(data.camera()).resize((80, 80)).save(folder / "camera-gray.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory, photos, model_dir) -> Path:
    out = tmp_path_factory.mktemp("study") / "study"
    report = prepare_study(photos, out, [Colorizer.from_pretrained(model_dir)], size=SIZE,
                           progress=False)
    assert report.scenes == 3
    assert len(report.skipped) == 1 and "camera-gray.png" in report.skipped[0]
    assert len(report.failed) == 1 and "broken.jpg" in report.failed[0]
    return out


def test_prepared_study_pairs_real_and_colorized_images(study):
    manifest = json.loads((study / "manifest.json").read_text())
    assert manifest["format"] == "tinct-turing-study" and manifest["size"] == SIZE
    assert (study / "manifest.json").stat().st_mode & 0o044 == 0o044  # others may read it
    assert [m["name"] for m in manifest["models"]] == ["tiny-unet"]
    assert [s["source"] for s in manifest["scenes"]] == ["astronaut.png", "chelsea.png",
                                                         "coffee.png"]
    for scene in manifest["scenes"]:
        real = Image.open(study / scene["real"])
        fake = Image.open(study / scene["colorized"]["tiny-unet"])
        # same size and format, so the file itself gives nothing away
        assert real.size == fake.size == (SIZE, 48)
        assert real.format == fake.format == "JPEG"
        # the colorization keeps the real photo's lightness
        gray_real = np.asarray(real.convert("L"), np.float32)
        gray_fake = np.asarray(fake.convert("L"), np.float32)
        assert np.abs(gray_real - gray_fake).mean() < 6
        assert np.abs(np.asarray(real, np.float32) - np.asarray(fake, np.float32)).mean() > 1


def test_prepare_refuses_to_overwrite_a_study(study, photos, model_dir):
    with pytest.raises(ValueError, match="already holds a study"):
        prepare_study(photos, study, [Colorizer.from_pretrained(model_dir)], progress=False)


def test_prepare_command_limits_and_reports_failures(tmp_path, photos, model_dir, capsys):
    out = tmp_path / "s"
    code = main(["turing", "prepare", str(photos), "-o", str(out), "--model", str(model_dir),
                 "--limit", "2", "--size", "40", "--no-progress"])
    assert code == 1  # broken.jpg was reported
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "camera-gray.png" in err
    assert len(load_study(out).scenes) == 2


def test_load_study_checks_the_manifest(study, tmp_path):
    loaded = load_study(study)
    assert len(loaded.items) == 6 and loaded.models == ["tiny-unet"]
    assert sum(item.is_real for item in loaded.items.values()) == 3
    with pytest.raises(StudyError, match="no manifest.json"):
        load_study(tmp_path)
    manifest = json.loads((study / "manifest.json").read_text())
    manifest["scenes"][0]["real"] = "../../etc/passwd"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StudyError, match="leaves the study folder"):
        load_study(bad)


def test_pick_is_balanced_and_respects_exclusions(study):
    loaded = load_study(study)
    rng = random.Random(0)
    picks = [loaded.pick(rng=rng) for _ in range(2000)]
    real_share = sum(p.is_real for p in picks) / len(picks)
    assert 0.45 < real_share < 0.55
    assert {p.scene for p in picks} == set(loaded.scenes)
    only = loaded.scenes[1]
    others = set(loaded.scenes) - {only}
    assert {loaded.pick(others, rng).scene for _ in range(50)} == {only}
    assert loaded.pick(set(loaded.scenes)) is None


# --------------------------------------------------------------------------- the vote store


@requires_web
def test_vote_store_is_wal_and_safe_for_concurrent_writers(tmp_path):
    from tinct.web.votes import VoteStore

    store = VoteStore(tmp_path / "votes.sqlite")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    sessions = [store.new_session("s") for _ in range(8)]

    def voter(i: int) -> None:
        for j in range(25):
            store.record(study="s", session=sessions[i], scene=f"s{j}",
                         model=None if j % 2 else "m", answered_real=j % 5 == 0)

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 200 and store.count("other") == 0
    tallies = store.tallies("s")
    # per voter: j even (13 of 25) -> model "m"; "real" answers where j % 5 == 0
    assert tallies["m"].votes == 8 * 13 and tallies[None].votes == 8 * 12
    assert tallies["m"].judged_real == 8 * 3 and tallies[None].judged_real == 8 * 2
    # a second vote of one participant on one scene is refused, and not counted
    from tinct.web.votes import DuplicateVote, UnknownSession

    with pytest.raises(DuplicateVote):
        store.record(study="s", session=sessions[0], scene="s0", model="m", answered_real=True)
    with pytest.raises(UnknownSession):
        store.record(study="s", session="made-up", scene="s0", model="m", answered_real=True)
    assert store.count() == 200


# --------------------------------------------------------------------------- the study API


@pytest.fixture()
def study_client(study, model_dir, tmp_path):
    TestClient, create_app = web_test_client()
    app = create_app([model_dir], study=study, votes=tmp_path / "votes.sqlite")
    with TestClient(app) as client:
        yield client


@requires_web
def test_turing_pages_vote_and_results(study_client, tmp_path):
    assert study_client.get("/healthz").json()["turing"] is True
    assert study_client.get("/turing").status_code == 200
    assert study_client.get("/turing/results").status_code == 200
    item = study_client.get("/api/turing/next").json()
    assert item["done"] is False and item["scenes"] == 3
    image = study_client.get(item["image"])
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (SIZE, 48)

    joined = study_client.post("/api/turing/session").json()
    session = joined["session"]
    assert joined["feedback"] is False and len(session) >= 20
    reply = study_client.post("/api/turing/vote", json={
        "item": item["item"], "answer": "real", "session": session, "response_ms": 900})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"recorded": True}  # no truth revealed while the study runs

    results = study_client.get("/api/turing/results").json()
    assert results["votes"] == 1
    real_row = results["real"]["votes"] == 1
    row = results["real"] if real_row else results["models"][0]
    assert row["votes"] == 1 and row["judged_real"] == 1 and row["rate"] == 1.0
    assert row["ci95"] == pytest.approx([0.2065, 1.0], abs=1e-4)
    with sqlite3.connect(tmp_path / "votes.sqlite") as conn:
        stored = conn.execute("SELECT session, answered_real, response_ms FROM votes").fetchall()
    assert stored == [(session, 1, 900)]


@requires_web
def test_votes_cannot_be_stuffed_replayed_or_scraped(study, model_dir, tmp_path):
    """Issue 17, item 4: one vote per participant and photo (a replay is 409, counted once),
    participant ids come from the server (a made-up one is 403), the truth is not in the
    vote's answer, and a participant's own score comes only after every photo."""
    TestClient, create_app = web_test_client()
    app = create_app([model_dir], study=study, votes=tmp_path / "votes.sqlite")
    with TestClient(app) as client:
        session = client.post("/api/turing/session").json()["session"]
        made_up = client.post("/api/turing/vote", json={
            "item": client.get("/api/turing/next").json()["item"], "answer": "real",
            "session": "chosen-by-the-client"})
        assert made_up.status_code == 403 and "reload the page" in made_up.json()["error"]
        seen, right = [], 0
        while not (item := client.get(f"/api/turing/next?exclude={','.join(seen)}").json()
                   )["done"]:
            vote = {"item": item["item"], "answer": "colorized", "session": session}
            first = client.post("/api/turing/vote", json=vote)
            assert first.json() == {"recorded": True}
            if not seen:
                early = client.get(f"/api/turing/score?session={session}")
                assert early.status_code == 409 and "answer for all 3 photos" in early.text
            for _ in range(2):  # replays of the same vote
                again = client.post("/api/turing/vote", json=vote)
                assert again.status_code == 409 and "already answered" in again.text
            seen.append(item["scene"])
            right += truth_of(app, item["item"]) == "colorized"
        assert client.get("/api/turing/results").json()["votes"] == 3
        score = client.get(f"/api/turing/score?session={session}").json()
        assert score == {"votes": 3, "correct": right}
    taught = create_app([model_dir], study=study, votes=tmp_path / "taught.sqlite",
                        study_feedback=True)
    with TestClient(taught) as client:
        joined = client.post("/api/turing/session").json()
        assert joined["feedback"] is True
        item = client.get("/api/turing/next").json()
        reply = client.post("/api/turing/vote", json={
            "item": item["item"], "answer": "real", "session": joined["session"]}).json()
        truth = truth_of(taught, item["item"])
        assert reply["truth"] == truth and reply["correct"] == (truth == "real")


def truth_of(app, item_id: str) -> str:
    """What a served study item really is (item ids are made when the server starts)."""
    return "real" if app.state.study.items[item_id].is_real else "colorized"


@requires_web
def test_turing_api_errors(study_client):
    seen = ",".join(load_study_scenes(study_client))
    assert study_client.get(f"/api/turing/next?exclude={seen}").json()["done"] is True
    assert study_client.get("/api/turing/next?exclude=a;b").status_code == 422
    assert study_client.get("/api/turing/image/nope").status_code == 404
    bad = study_client.post("/api/turing/vote", json={"item": "x", "answer": "maybe",
                                                      "session": "s"})
    assert bad.status_code == 422 and "answer" in bad.json()["error"]
    unknown = study_client.post("/api/turing/vote", json={"item": "x", "answer": "real",
                                                          "session": "s"})
    assert unknown.status_code == 404 and "unknown study image" in unknown.json()["error"]


def load_study_scenes(client) -> set[str]:
    """Every scene id, found by asking for images until all were excluded."""
    seen: set[str] = set()
    while True:
        item = client.get(f"/api/turing/next?exclude={','.join(seen)}").json()
        if item["done"]:
            return seen
        seen.add(item["scene"])


@requires_web
def test_turing_routes_are_absent_without_a_study(model_dir):
    TestClient, create_app = web_test_client()
    with TestClient(create_app([model_dir])) as client:
        assert client.get("/turing").status_code == 404
        assert client.get("/api/turing/results").status_code == 404


def _raw_request(url: str, head: str, body_chunks=(), read_timeout: float = 30.0) -> str:
    """Sends ``head`` and ``body_chunks`` on a raw socket; returns the status line and body."""
    import socket
    from urllib.parse import urlparse

    where = urlparse(url)
    with socket.create_connection((where.hostname, where.port), timeout=read_timeout) as s:
        s.sendall(head.encode())
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: what we test for
        data = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except (ConnectionResetError, TimeoutError):
            pass
    return data.decode("latin-1")


@requires_web
def test_json_bodies_are_bounded_in_size_and_time(study, model_dir, tmp_path):
    """Issue 17, item 3: a huge JSON body to /api/turing/vote is refused (413) before it is
    read into memory, whether declared or streamed; a stalled body gets 408; the server then
    still answers real votes."""
    TestClient, create_app = web_test_client()
    from tinct.web.server import serve_in_background

    app = create_app([model_dir], study=study, votes=tmp_path / "votes.sqlite")
    head = ("POST /api/turing/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
    with serve_in_background(app) as url:
        declared = _raw_request(url, head + "Content-Length: 200000000\r\n\r\n", [b"{" * 1000])
        assert declared.startswith("HTTP/1.1 413") and "limit of 65536 bytes" in declared
        chunk = b"[" * 65536
        streamed = _raw_request(url, head + "Transfer-Encoding: chunked\r\n\r\n",
                                [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * 64)
        assert streamed.startswith("HTTP/1.1 413")
        import httpx

        item = httpx.get(f"{url}/api/turing/next").json()
        session = httpx.post(f"{url}/api/turing/session").json()["session"]
        vote = httpx.post(f"{url}/api/turing/vote", json={
            "item": item["item"], "answer": "real", "session": session})
        assert vote.status_code == 200, vote.text
    slow = create_app([model_dir], study=study, votes=tmp_path / "votes.sqlite",
                      body_timeout=0.5)
    with serve_in_background(slow) as url:
        stalled = _raw_request(url, head + "Content-Length: 100\r\n\r\n", [b'{"item": '],
                               read_timeout=20)
        assert stalled.startswith("HTTP/1.1 408") and "not received within" in stalled
