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

import numpy as np
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
    shown = page.input_value("#model")  # the download names the photo, the model, the colour
    assert download.suggested_filename.startswith(f"old-coffee-{shown}")
    assert download.suggested_filename.endswith(".png")
    result = Image.open(download.path())
    assert result.format == "PNG" and result.size == PHOTO_SIZE and result.mode == "RGB"

    with page.expect_download() as info:
        page.click("#download-all")
    archive = zipfile.ZipFile(info.value.path())
    assert archive.testzip() is None  # every CRC-32 written by zip.js checks out
    names = sorted(archive.namelist())
    assert [n.split(f"-{shown}")[0] for n in names] == ["old-chelsea", "old-coffee"]
    with archive.open(names[0]) as f:
        assert Image.open(io.BytesIO(f.read())).size == PHOTO_SIZE

    # every card's buttons fit inside it (wrapped, not clipped): clicking one at the edge does
    # not scroll the card's content sideways
    fits = page.locator(".card").evaluate_all(
        "cards => cards.map(c => [c.scrollWidth <= c.clientWidth, c.scrollLeft])")
    assert fits == [[True, 0], [True, 0]]

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


def test_faded_print_choice_is_sent_with_the_upload(server, page, gray_photos):
    url, _ = server
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    assert "faded prints" in page.get_attribute("label:has(#levels)", "title")
    page.select_option("#levels", "true")
    with page.expect_response("**/api/colorize") as response:
        page.set_input_files("#files", str(gray_photos[0]))
    assert response.value.headers["x-tinct-levels"] == "on"
    page.wait_for_selector(".card.done")
    page.select_option("#levels", "")  # the model's own setting (off)
    with page.expect_response("**/api/colorize") as response:
        page.set_input_files("#files", str(gray_photos[1]))
    assert response.value.headers["x-tinct-levels"] == "off"


def test_colour_slider_recolours_a_result_without_a_new_upload(server, page, gray_photos):
    """Issue 19: a classifier's result card has a colour slider that re-colours it through
    /api/recolor (no upload), and names the model and settings, in the download's name too."""
    url, _ = server
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    page.select_option("#model", "tiny-classifier")
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/api/colorize")
            else None)
    page.set_input_files("#files", str(gray_photos[1]))
    card = page.locator(".card.done").first
    card.wait_for(timeout=60_000)
    assert card.locator(".made-by").inner_text() == "tiny-classifier · colour 0 · T 0.38"
    first = card.locator(".after").get_attribute("src")
    asked: list[dict] = []
    page.on("request", lambda r: asked.append(r.post_data_json) if r.url.endswith(
        "/api/recolor") else None)
    with page.expect_response("**/api/recolor") as preview:  # dragging: a JPEG preview
        card.locator(".intensity").evaluate(
            "s => { s.value = '1.5'; s.dispatchEvent(new Event('input')); }")
    assert preview.value.status == 200 and asked[-1]["format"] == "jpeg"
    assert preview.value.headers["content-type"] == "image/jpeg"
    page.wait_for_function("el => el.hidden", arg=card.locator(".download").element_handle())
    with page.expect_response("**/api/recolor") as response:  # released: the chosen format
        card.locator(".intensity").fill("2.5")
    assert response.value.status == 200 and asked[-1]["format"] == "png"
    assert response.value.headers["x-tinct-decode"] == "temperature=0.38; boost=2.5"
    page.wait_for_function("([el, old]) => el.src !== old && el.complete",
                           arg=[card.locator(".after").element_handle(), first])
    assert card.locator(".made-by").inner_text() == "tiny-classifier · colour 2.5 · T 0.38"
    assert card.locator(".download").is_visible()
    assert card.locator(".download").get_attribute("download") == \
        "old-chelsea-tiny-classifier-colour2.5.png"
    assert len(uploads) == 1  # the photo went up once
    page.select_option("#model", "tiny-unet")  # a regression model: no colour slider
    page.set_input_files("#files", str(gray_photos[0]))
    page.locator(".card.done").nth(1).wait_for(timeout=60_000)
    assert page.locator(".card.done").nth(1).locator(".intensity-row").is_hidden()


def test_a_sepia_scan_is_told_its_tint_was_replaced(server, page, workspace, gray_photos):
    url, _ = server
    g = np.asarray(Image.open(gray_photos[0]), np.float32)
    sepia = workspace / "sepia.jpg"
    Image.fromarray(np.dstack([g, g * 0.85, g * 0.66]).astype(np.uint8)).save(sepia)
    page.goto(url + "/")
    page.set_input_files("#files", [str(sepia), str(gray_photos[1])])
    page.wait_for_selector(".card.done >> nth=1", timeout=60_000)
    notes = page.locator(".card .tint-note")
    assert notes.nth(0).is_visible() and "replaced the tint" in notes.nth(0).inner_text()
    assert notes.nth(1).is_hidden()


def test_errors_are_shown_in_words(server, page, workspace):
    url, _ = server
    fake = workspace / "notes.png"
    fake.write_text("this is not a photo")
    page.goto(url + "/")
    page.set_input_files("#files", str(fake))
    page.wait_for_selector(".card.failed")
    text = page.inner_text(".card.failed .error")
    assert text.startswith("Not an image") and "JPEG, PNG" in text
    # a run that failed shows failure: words and a red bar, not a full "done" one
    assert page.inner_text("#progress-label") == "Failed: none of 1 could be colorized"
    bar = page.eval_on_selector("#progress-bar", "e => getComputedStyle(e).backgroundImage + "
                                "getComputedStyle(e).backgroundColor")
    assert "rgb(194, 59, 59)" in bar
    page.click(".card.failed .remove")  # a failed card goes on its own
    assert page.locator(".card").count() == 0 and page.is_hidden("#progress")


def test_keyboard_opens_the_chooser_and_moves_the_slider_by_five(server, page, gray_photos):
    """Tab reaches the drop zone and Enter opens the file chooser; an arrow key moves the
    before/after slider by 5%."""
    url, _ = server
    # listening from the start turns on the interception of file choosers before any key is
    # pressed (expect_file_chooser turns it on asynchronously, which raced with the key in CI)
    choosers: list = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    for _ in range(20):  # a keyboard user tabs through the options to the drop zone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "files":
            break
    assert page.evaluate("document.activeElement.id") == "files"
    assert page.evaluate("getComputedStyle(document.getElementById('drop')).outlineStyle") \
        == "solid"  # the drop zone shows where the focus is
    page.keyboard.press("Enter")
    for _ in range(300):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the drop zone opened no file chooser"
    choosers[0].set_files(str(gray_photos[0]))
    card = page.locator(".card.done").first
    card.wait_for(timeout=60_000)
    card.locator(".slider").focus()
    page.keyboard.press("ArrowRight")
    assert float(card.locator(".slider").input_value()) == 55
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert float(card.locator(".slider").input_value()) == 45


def test_menus_say_what_they_do(server, page):
    """The model menu shows short names (the description on hover); the network-view menu
    shows the default's size and explains itself."""
    url, _ = server
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    options = page.eval_on_selector_all("#model option", "os => os.map(o => [o.text, o.title])")
    assert all(" — " not in text for text, _ in options)
    assert any(text == "tiny-unet" and title == "untrained test model"
               for text, title in options)
    page.select_option("#model", "tiny-classifier")
    assert page.inner_text("#size option >> nth=0") == "Default (96 px)"
    assert "original's full detail is always kept" in page.get_attribute(
        "label:has(#size)", "title").replace("\n", " ")


# How much narrower each option menu is than its longest choice needs (0 when it fits): a
# copy of the menu sized to its content is measured beside it.
_MENU_SHORTFALL = """sels => sels.map(s => {
  const copy = s.cloneNode(true);
  copy.style.width = "max-content";
  copy.selectedIndex = s.selectedIndex;
  s.parentElement.append(copy);
  const need = copy.getBoundingClientRect().width;
  copy.remove();
  return [s.id, Math.max(0, Math.round(need - s.getBoundingClientRect().width))];
})"""


@pytest.mark.parametrize("width", [1100, 800, 375])
def test_option_menus_show_their_longest_choice(server, browser, width):
    """No option menu cuts its text ("Model default (256 px)" was cut at 1,100 px when the five
    menus shared one row in equal columns), at a desktop, a tablet and a phone width."""
    url, _ = server
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    page.evaluate("document.getElementById('options').open = true")
    shortfall = page.locator(".controls select").evaluate_all(_MENU_SHORTFALL)
    assert len(shortfall) == 5 and all(px == 0 for _, px in shortfall), shortfall
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()


def test_phone_width_has_no_horizontal_scroll(server, browser):
    url, _ = server
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    for path in ("/", "/turing", "/turing/results", "/docs"):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    context.close()


def _upload(page, url, photo):
    """Opens the page, uploads ``photo`` and returns its card once it is colorized."""
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    page.set_input_files("#files", str(photo))
    card = page.locator(".card.done").first
    card.wait_for(timeout=60_000)
    return card


def test_large_view_zooms_pans_splits_and_closes_with_escape(server, page, gray_photos,
                                                             screenshots):
    url, _ = server
    _upload(page, url, gray_photos[0])
    page.click(".card.done .enlarge")
    viewer = page.locator("#viewer")
    assert viewer.evaluate("d => d.open")
    assert page.inner_text("#viewer .viewer-title").startswith(gray_photos[0].name)
    stage = page.locator("#viewer .viewer-stage").bounding_box()
    assert stage["width"] >= 1000  # the picture fills the window
    canvas = "document.querySelector('#viewer .viewer-canvas').style.transform"
    page.click("#viewer [data-zoom=in]")
    assert page.inner_text("#viewer .zoom-level") == "200%"
    assert "scale(2)" in page.evaluate(canvas)
    centre = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] - 120, centre[1] - 60, steps=5)
    page.mouse.up()
    assert "translate(-120px, -60px)" in page.evaluate(canvas)
    page.mouse.wheel(0, -300)  # the wheel zooms in further, about the pointer
    assert int(page.inner_text("#viewer .zoom-level").rstrip("%")) > 200
    page.keyboard.press("0")  # back to fit
    assert page.inner_text("#viewer .zoom-level") == "100%"
    page.screenshot(path=str(screenshots / "large-view.png"))
    page.fill("#viewer .viewer-slider", "20")
    page.dispatch_event("#viewer .viewer-slider", "input")
    clip = page.evaluate("document.querySelector('#viewer .after').style.clipPath")
    assert clip.startswith("inset(0px 80") or clip.startswith("inset(0 80"), clip
    page.keyboard.press("Escape")
    assert not viewer.evaluate("d => d.open")


def test_the_same_photo_through_two_models_side_by_side(server, page, gray_photos):
    url, _ = server
    _upload(page, url, gray_photos[1])
    first = page.locator(".card.done").first
    shown = first.locator(".made-by").inner_text().split(" · ")[0]
    menu = first.locator(".compare-model")
    other = [o for o in menu.locator("option").all_inner_texts() if o != "Compare with…"][0]
    assert other != shown
    menu.select_option(other)
    paired = page.locator(".card.paired.done")
    paired.wait_for(timeout=60_000)
    cards = page.locator(".card")
    assert cards.count() == 2 and "paired" in cards.nth(1).get_attribute("class")
    assert paired.locator(".made-by").inner_text().startswith(other)
    paired.locator(".enlarge").click()
    assert page.inner_text("#viewer .viewer-left").startswith(other)
    assert page.inner_text("#viewer .viewer-right").startswith(shown)
    images = page.evaluate("[...document.querySelectorAll('#viewer img')].map(i => i.src)")
    assert all(src.startswith("blob:") for src in images) and images[0] != images[1]
    page.keyboard.press("Escape")


def test_phone_options_fold_and_upload_scrolls_to_results(server, browser, gray_photos):
    url, _ = server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#model option[value]", state="attached")
    assert not page.evaluate("document.getElementById('options').open")
    assert not page.locator("#model").is_visible()
    drop = page.locator("#drop").bounding_box()
    assert drop["y"] + drop["height"] / 2 < 844  # the drop zone is on the first screen
    page.click("#options > summary")
    assert page.locator("#model").is_visible()
    page.set_input_files("#files", str(gray_photos[0]))
    page.locator(".card").first.wait_for()
    # scrolled down to the results (smoothly: wait until it arrives)
    page.wait_for_function(
        "document.getElementById('results').getBoundingClientRect().top < 844 / 2",
        timeout=10_000)
    assert page.evaluate("window.scrollY") > 0
    context.close()


def test_an_image_over_the_pixel_limit_is_shrunk_on_request(page, tiny_model_dir, workspace):
    app = create_app([str(tiny_model_dir)], max_pixels=40_000)
    big = workspace / "big-scan.png"
    Image.fromarray(data.camera()).resize((300, 200)).save(big)  # 60,000 pixels
    with serve_in_background(app, host="127.0.0.1") as url:
        page.goto(url + "/")
        page.wait_for_selector("#model option[value]", state="attached")
        page.set_input_files("#files", str(big))
        card = page.locator(".card.failed")
        card.wait_for(timeout=60_000)
        assert "Too large" in card.locator(".error").inner_text()
        card.locator(".shrink").click()
        done = page.locator(".card.done")
        done.wait_for(timeout=60_000)
        assert "Shrunk from 300×200 to" in done.locator(".shrunk-note").inner_text()
        size = done.locator(".meta").inner_text().split(" · ")[0]
        width, height = (int(v) for v in size.split("×"))
        assert width * height <= 40_000 and abs(width / height - 1.5) < 0.02


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
    assert page.inner_text("#summary").startswith("1 vote on 2 photos")
    voted_row = page.locator("#rows tr", has_text="Real photos" if model is None else
                             "Colorized by")
    cells = voted_row.locator("td").all_inner_texts()
    assert cells[1] == "1" and cells[2] == "0.0% (0)" and cells[3] == "0.0% – 79.3%"

    # in plain words, per photo, and every vote as CSV
    words = page.inner_text("#in-words")
    if model is None:  # the one vote left was on a real photo
        assert words == "No one has judged a colorized photo yet."
    else:
        assert "for a real photo in 0.0% of 1 trial" in words
        assert "50% would mean no one could tell colorized from real" in words
    photo_rows = page.locator("#photo-rows tr")
    assert photo_rows.count() == 2
    names = sorted(photo_rows.nth(i).locator("td").first.inner_text() for i in range(2))
    assert names == ["astronaut.png", "rocket.png"]
    assert "0.0% of 1" in page.inner_text("#photo-rows")
    with page.expect_download() as download:
        page.click("#csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "time_utc,participant,scene,photo,shown,answer,correct,response_ms"
    assert len(lines) == 2
    fields = lines[1].split(",")
    assert fields[3] in ("astronaut.png", "rocket.png") and fields[5] == "colorized"
    assert (fields[4] == "real") == (model is None)
    assert fields[6] == str(int(model is not None))  # "colorized" was right for a colorization

    page.screenshot(path=str(screenshots / "turing-results.png"), full_page=True)
    page.goto(url + "/")  # the main page links to the study and its results
    page.locator("#nav-results").wait_for()
    assert page.get_attribute("#nav-results", "href") == "/turing/results"


@pytest.mark.parametrize("width,height", [(1280, 800), (1366, 768)])
def test_turing_round_fits_one_screen(server, browser, width, height):
    """The photo, the question, both answer buttons and their key hints are on screen
    without scrolling."""
    url, _ = server
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url + "/turing")
    page.wait_for_selector("#vote-real:enabled")
    page.wait_for_function("document.getElementById('photo').complete")
    for selector in ("#photo", ".question", "#vote-real", "#vote-colorized",
                     "#vote-real kbd", "#vote-colorized kbd"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] >= 0, selector
        assert box["y"] + box["height"] <= height, (selector, box)
    assert page.locator(".stage").bounding_box()["height"] >= 0.4 * height  # still big
    context.close()


def test_turing_without_a_study_says_how_to_start(page, tiny_model_dir):
    app = create_app([str(tiny_model_dir)])
    with serve_in_background(app, host="127.0.0.1") as url:
        response = page.goto(url + "/turing")
        assert response.status == 404
        assert page.inner_text("h1") == "No Turing test is running here"
        assert "tinct turing prepare photos/ -o study/" in page.inner_text("pre")
        assert "tinct serve --study study/" in page.inner_text("pre")
        assert page.goto(url + "/turing/results").status == 404


def shown_picture(page, card) -> bytes:
    """The bytes of the colorized picture a card shows (a blob: URL inside the page), once it
    has loaded."""
    after = card.locator(".after").element_handle()
    page.wait_for_function("el => !el.closest('.card').classList.contains('recolouring') && "
                           "el.complete && el.naturalWidth > 0", arg=after)
    values = page.evaluate("async el => Array.from(new Uint8Array(await (await fetch(el.src))"
                           ".arrayBuffer()))", after)
    return bytes(values)


def recolor_with(page, predicate):
    """Waits for the page's /api/recolor request whose JSON body satisfies ``predicate``."""
    return page.expect_request(lambda r: r.url.endswith("/api/recolor")
                               and predicate(r.post_data_json))


def test_colour_hints_are_placed_picked_moved_undone_saved_and_loaded(
        page, tiny_hint_classifier_dir, gray_photos, tmp_path, screenshots):
    """Issue 20: on a hint model's card, a click on the photo adds a place, the likely colours
    there are offered, the person's colour re-colours the photo through /api/recolor (no
    upload, no button), a mark can be dragged, every change undone (Ctrl+Z), the hints
    downloaded as the JSON file ``tinct colorize --hints`` reads and loaded again, and Clear
    brings the automatic colours back."""
    import json

    import torch

    from tinct import color
    from tinct.inference.hints import read_hints_file

    # a colour classifier: the likely colours come from its distribution
    shown = os.environ.get("TINCT_SCREENSHOT_MODEL") or tiny_hint_classifier_dir
    app = create_app([shown])
    with serve_in_background(app, host="127.0.0.1") as url:
        card = _upload(page, url, gray_photos[1])
        automatic = shown_picture(page, card)
        assert card.locator(".hints").is_visible()
        assert card.locator(".hint-undo").is_disabled()
        card.locator(".hint-toggle").click()
        assert card.locator(".hint-help").is_visible()
        box = card.locator(".compare").bounding_box()
        with page.expect_response("**/api/suggest") as suggested:
            page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.3)
        assert suggested.value.status == 200
        hint = card.locator(".hint").first
        hint.locator(".swatch").first.wait_for()
        first_choice = suggested.value.json()["suggestions"][0]["color"]
        assert hint.locator(".hint-color").input_value() == first_choice
        assert card.locator(".hint-mark").count() == 1

        with recolor_with(page, lambda body: body["hints"][0]["color"] == "#c03030") as asked:
            hint.locator(".hint-color").fill("#c03030")
        (sent,) = asked.value.post_data_json["hints"]
        x, y = sent["x"], sent["y"]
        assert abs(x - 0.25 * PHOTO_SIZE[0]) <= 2 and abs(y - 0.3 * PHOTO_SIZE[1]) <= 2
        assert asked.value.response().status == 200
        rgb = np.asarray(Image.open(io.BytesIO(shown_picture(page, card))).convert("RGB"))
        lab = color.rgb_to_lab(torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None] / 255.0)
        wanted = color.rgb_to_lab(torch.tensor([0xC0, 0x30, 0x30]).view(1, 3, 1, 1) / 255.0)
        assert float((lab[0, 1:, y, x] - wanted[0, 1:, 0, 0]).norm()) < 6

        # drag the mark to the photo's other half: one re-colour with the new place
        mark = card.locator(".hint-mark").first.bounding_box()
        page.mouse.move(mark["x"] + mark["width"] / 2, mark["y"] + mark["height"] / 2)
        page.mouse.down()
        with recolor_with(page, lambda body: body["hints"][0]["x"] > PHOTO_SIZE[0] / 2) as moved:
            for step in range(1, 6):
                page.mouse.move(box["x"] + box["width"] * (0.25 + 0.1 * step),
                                box["y"] + box["height"] * 0.3)
            page.mouse.up()
        (sent,) = moved.value.post_data_json["hints"]
        assert abs(sent["x"] - 0.75 * PHOTO_SIZE[0]) <= 2 and sent["color"] == "#c03030"
        assert card.locator(".hint-where").inner_text() == f"at {sent['x']}, {sent['y']}"

        # undo (Ctrl+Z) puts it back where it was
        with recolor_with(page, lambda body: body["hints"][0]["x"] == x) as undone:
            page.keyboard.press("Control+z")
        assert undone.value.post_data_json["hints"] == [{"x": x, "y": y, "color": "#c03030"}]

        # the hints download as the CLI's hint file
        with page.expect_download() as download:
            card.locator(".hint-save").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == gray_photos[1].stem + ".json"
        assert [(h.x, h.y, h.color) for h in read_hints_file(saved)] == [(x, y, "#c03030")]

        with recolor_with(page, lambda body: body["hints"] == []) as cleared:
            card.locator(".hint-clear").click()
        assert cleared.value.response().status == 200
        assert shown_picture(page, card) == automatic
        assert card.locator(".hint").count() == 0

        # and load again: the same hints, the same picture as before Clear
        with recolor_with(page, lambda body: len(body["hints"]) == 1) as loaded:
            card.locator(".hint-load-file").set_input_files(str(saved))
        assert loaded.value.post_data_json["hints"] == json.loads(saved.read_text())
        assert card.locator(".hint-mark").count() == 1
        assert shown_picture(page, card) != automatic
        card.locator(".slider").fill("100")  # for the screenshot: the colour only
        card.screenshot(path=str(screenshots / "hints.png"))

        # a file that is not a hint list: said on the card, hints unchanged
        bad = tmp_path / "bad.json"
        bad.write_text('{"x": 1}')
        card.locator(".hint-load-file").set_input_files(str(bad))
        # the file is read asynchronously: wait for the card to say so (up to 10 s)
        sync_api.expect(card.locator(".error")).to_contain_text("bad.json", timeout=10_000)
        assert card.locator(".hint-mark").count() == 1


def test_hints_on_a_model_without_likely_colours(page, tiny_model_dir, gray_photos):
    """A regression model offers no likely colours: a new hint starts at the colour the
    picture shows there, and applying a picked colour re-colours the photo all the same."""
    app = create_app([str(tiny_model_dir)])
    with serve_in_background(app, host="127.0.0.1") as url:
        card = _upload(page, url, gray_photos[0])
        shown = np.asarray(Image.open(io.BytesIO(shown_picture(page, card))).convert("RGB"))
        card.locator(".hint-toggle").click()
        box = card.locator(".compare").bounding_box()
        with recolor_with(page, lambda body: len(body["hints"]) == 1) as first:
            page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        (sent,) = first.value.post_data_json["hints"]
        start = [int(sent["color"][i:i + 2], 16) for i in (1, 3, 5)]
        assert np.abs(np.array(start) - shown[sent["y"], sent["x"]]).max() <= 1
        assert card.locator(".swatch").count() == 0
        with recolor_with(page, lambda body: body["hints"][0]["color"] == "#30a040") as picked:
            card.locator(".hint-color").fill("#30a040")
        assert picked.value.response().status == 200
        after = np.asarray(Image.open(io.BytesIO(shown_picture(page, card))).convert("RGB"))
        assert np.abs(after.astype(int) - shown).max() > 20
