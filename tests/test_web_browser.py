"""End to end in a real browser: Playwright drives Debian's Chromium against a uvicorn server
started here on 127.0.0.1 (a free port), with a real (small, untrained) model.

Needs ``pip install playwright`` and ``apt-get install chromium`` (no ``playwright install``:
the browser comes from Debian). Skipped, with the reason, when either is missing.

Screenshots go to ``$TINCT_SCREENSHOTS_DIR`` when set (``docs/make_screenshots.py`` sets it to
``docs/screenshots``), else to the test's temporary folder.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is not installed "
                                      "(pip install playwright)")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install tinct[web])")

from tinct import Colorizer  # noqa: E402
from tinct.studies.turing import prepare_study  # noqa: E402
from tinct.web import create_app  # noqa: E402
from tinct.web.server import serve_in_background  # noqa: E402

PHOTO_SIZE = (300, 200)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def screenshots(workspace) -> Path:
    folder = Path(os.environ.get("TINCT_SCREENSHOTS_DIR") or workspace / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> str:
    """``$TINCT_SCREENSHOT_MODEL`` (e.g. a trained model, for docs) or the tiny untrained one."""
    return os.environ.get("TINCT_SCREENSHOT_MODEL") or str(tiny_model_dir)


@pytest.fixture(scope="module")
def server(workspace, model, tiny_classifier_dir, tiny_model_dir):
    photos = workspace / "photos"
    photos.mkdir()
    for name in ("astronaut", "rocket"):
        Image.fromarray(getattr(data, name)()).save(photos / f"{name}.png")
    prepare_study(photos, workspace / "study", [Colorizer.from_pretrained(model)], size=384,
                  progress=False)
    votes = workspace / "votes.sqlite"
    # the shown model first, then a colour classifier and a regression model (the tiny
    # U-Net, listed once when it is also the shown model)
    app = create_app([model, tiny_classifier_dir, tiny_model_dir], study=workspace / "study",
                     votes=votes)
    with serve_in_background(app, host="127.0.0.1") as url:
        yield url, votes


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 860}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def gray_photos(workspace) -> list[Path]:
    paths = []
    for name in ("coffee", "chelsea"):  # colour photos made black and white (3:2 aspect)
        path = workspace / f"old-{name}.jpg"
        Image.fromarray(getattr(data, name)()).convert("L").resize(PHOTO_SIZE).save(path)
        paths.append(path)
    return paths


def test_upload_slide_and_download(server, page, gray_photos, screenshots, workspace):
    url, _ = server
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    page.set_input_files("#files", [str(p) for p in gray_photos])
    page.wait_for_selector(".card.done >> nth=1", timeout=60_000)
    assert page.inner_text("#progress-label") == "Done: 2 colorized"

    card = page.locator(".card").first
    assert card.locator(".meta").inner_text().startswith("300×200")
    # drag the before/after slider from the middle to a fifth of the width
    box = card.locator(".compare").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    value = float(card.locator(".slider").input_value())
    assert 15 < value < 25
    clip = card.locator(".after").evaluate("e => e.style.clipPath")
    assert clip == f"inset(0px {100 - value:g}% 0px 0px)"

    with page.expect_download() as info:
        card.locator(".download").click()
    download = info.value
    assert download.suggested_filename == "old-coffee-colorized.png"
    result = Image.open(download.path())
    assert result.format == "PNG" and result.size == PHOTO_SIZE and result.mode == "RGB"

    with page.expect_download() as info:
        page.click("#download-all")
    archive = zipfile.ZipFile(info.value.path())
    assert archive.testzip() is None  # every CRC-32 written by zip.js checks out
    assert sorted(archive.namelist()) == ["old-chelsea-colorized.png",
                                          "old-coffee-colorized.png"]
    with archive.open("old-chelsea-colorized.png") as f:
        assert Image.open(io.BytesIO(f.read())).size == PHOTO_SIZE

    card.locator(".slider").fill("55")  # for the screenshot: mostly colour, some original
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top
    page.screenshot(path=str(screenshots / "web.png"), full_page=True)


def test_colour_choice_is_sent_for_colour_classifiers_only(server, page, gray_photos):
    url, _ = server
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    page.select_option("#model", "tiny-unet")
    assert page.is_disabled("#boost")  # a regression model predicts colour directly
    page.select_option("#model", "tiny-classifier")
    assert page.is_enabled("#boost")
    page.select_option("#boost", "1")
    with page.expect_response("**/api/colorize") as response:
        page.set_input_files("#files", str(gray_photos[0]))
    headers = response.value.headers
    assert headers["x-tinct-model"] == "tiny-classifier"
    assert headers["x-tinct-decode"] == "temperature=0.38; boost=1"
    page.wait_for_selector(".card.done")
    page.select_option("#model", "tiny-unet")
    assert page.is_disabled("#boost") and page.input_value("#boost") == ""


def test_errors_are_shown_in_words(server, page, workspace):
    url, _ = server
    fake = workspace / "notes.png"
    fake.write_text("this is not a photo")
    page.goto(url + "/")
    page.set_input_files("#files", str(fake))
    page.wait_for_selector(".card.failed")
    text = page.inner_text(".card.failed .error")
    assert text.startswith("Not an image") and "JPEG, PNG" in text
    assert page.inner_text("#progress-label") == "Done: 0 colorized, 1 failed"


def test_phone_width_has_no_horizontal_scroll(server, browser):
    url, _ = server
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    for path in ("/", "/turing", "/turing/results", "/docs"):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    context.close()


def test_turing_vote_is_recorded_and_shown(server, page, screenshots):
    """A real study: the answer is recorded without saying whether it was right; after the
    last photo the participant sees their own score."""
    url, votes = server
    page.goto(url + "/turing")
    page.wait_for_selector("#vote-real:enabled")
    page.screenshot(path=str(screenshots / "turing.png"), full_page=True)
    page.click("#vote-colorized")
    verdict = page.locator("#verdict")
    verdict.filter(has_text="Answer recorded").wait_for()

    with sqlite3.connect(votes) as conn:
        rows = conn.execute("SELECT model, answered_real, response_ms FROM votes").fetchall()
    assert len(rows) == 1
    model, answered_real, response_ms = rows[0]
    assert answered_real == 0 and response_ms >= 0
    page.wait_for_selector("#vote-real:enabled")
    page.keyboard.press("r")  # the second (last) scene, answered from the keyboard
    page.wait_for_selector("#done:not([hidden])")
    page.locator("#score").filter(has_text="of 2 right").wait_for()
    with sqlite3.connect(votes) as conn:
        rows = conn.execute("SELECT model, answered_real FROM votes ORDER BY id").fetchall()
    right = sum(int(real == (m is None)) for m, real in rows)
    assert page.inner_text("#score") == f"You answered {right} of 2 right."
    with sqlite3.connect(votes) as conn:  # the results page is checked on the first vote
        conn.execute("DELETE FROM votes WHERE id = (SELECT MAX(id) FROM votes)")

    page.goto(url + "/turing/results")
    page.wait_for_selector("#rows tr")
    assert page.inner_text("#summary").startswith("1 vote on 2 scenes")
    voted_row = page.locator("#rows tr", has_text="Real photos" if model is None else
                             "Colorized by")
    cells = voted_row.locator("td").all_inner_texts()
    assert cells[1] == "1" and cells[2] == "0.0% (0)" and cells[3] == "0.0% – 79.3%"
