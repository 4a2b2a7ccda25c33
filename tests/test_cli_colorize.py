"""End-to-end tests of ``tinct colorize`` and ``tinct models`` through ``tinct.cli.main``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinct.cli import main
from tinct.inference import checkpoint
from tinct.models.registry import list_models

GOOD = {  # relative path -> (width, height, mode) of the input
    "a.png": (40, 30, "L"),
    "sub/b.jpg": (33, 21, "RGB"),
    "sub/deeper/c.png": (25, 17, "RGBA"),
}
BAD = ("zero.jpg", "text.png", "sub/truncated.jpg")


def write_good(root: Path, photo_of) -> None:
    for rel, (w, h, mode) in GOOD.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(photo_of("chelsea", (w, h))).convert(mode)
        if mode == "RGBA":
            alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
            image.putalpha(Image.fromarray(alpha))
        image.save(path)


def write_bad(root: Path, photo_of) -> None:
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.png").write_text("this is not an image\n")
    buffer = io.BytesIO()
    Image.fromarray(photo_of("coffee", (64, 48))).save(buffer, "JPEG")
    (root / "sub" / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def good_tree(tmp_path, photo_of) -> Path:
    root = tmp_path / "in"
    write_good(root, photo_of)
    return root


@pytest.fixture
def mixed_tree(good_tree, photo_of) -> Path:
    write_bad(good_tree, photo_of)
    return good_tree


def colorize(capsys, *args: str) -> tuple[int, str, str]:
    """Runs ``tinct colorize ARGS --no-progress``; returns (exit status, stdout, stderr)."""
    try:
        status = main(["colorize", *args, "--no-progress"])
    except SystemExit as exc:  # a bad command line: argparse's one-line error, status 2
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_folder_with_good_and_bad_files(mixed_tree, tmp_path, tiny_model_dir, capsys):
    before = digests(mixed_tree)
    out_dir = tmp_path / "out"
    status, out, err = colorize(capsys, str(mixed_tree), "-o", str(out_dir),
                                "--model", str(tiny_model_dir), "--batch-size", "2")
    assert status == 1
    lines = err.strip().splitlines()
    for bad in BAD:
        named = [line for line in lines if line.startswith(str(mixed_tree / bad) + ": ")]
        assert len(named) == 1, (bad, lines)
    assert len(lines) == len(BAD)  # nothing else on stderr: no tracebacks, no good files
    assert "3 colorized, 3 failed, 0 skipped" in out
    # the outputs mirror the input tree, keep size and alpha
    assert sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()) == \
        sorted(GOOD)
    for rel, (w, h, mode) in GOOD.items():
        with Image.open(out_dir / rel) as image:
            assert image.size == (w, h)
            assert image.mode == ("RGBA" if mode == "RGBA" else "RGB")
    with Image.open(out_dir / "sub/deeper/c.png") as image, \
            Image.open(mixed_tree / "sub/deeper/c.png") as source:
        assert np.array_equal(np.asarray(image)[..., 3], np.asarray(source)[..., 3])
    assert digests(mixed_tree) == before  # inputs untouched


def test_existing_outputs_are_skipped_unless_overwrite(good_tree, tmp_path, tiny_model_dir,
                                                       capsys):
    out_dir = tmp_path / "out"
    args = (str(good_tree), "-o", str(out_dir), "--model", str(tiny_model_dir))
    assert colorize(capsys, *args)[0] == 0
    (out_dir / "a.png").write_bytes(b"old")
    status, out, _ = colorize(capsys, *args)
    assert status == 0 and "0 colorized, 0 failed, 3 skipped" in out
    assert (out_dir / "a.png").read_bytes() == b"old"
    status, out, _ = colorize(capsys, *args, "--overwrite")
    assert status == 0 and "3 colorized, 0 failed, 0 skipped" in out
    with Image.open(out_dir / "a.png") as image:
        assert image.size == (40, 30)


def test_output_folder_inside_the_input_folder_is_not_read_back(good_tree, tiny_model_dir,
                                                                capsys):
    before = digests(good_tree)
    args = (str(good_tree), "-o", str(good_tree / "colour"), "--model", str(tiny_model_dir))
    status, out, _ = colorize(capsys, *args)
    assert status == 0 and "3 colorized" in out
    status, out, _ = colorize(capsys, *args, "--overwrite")
    assert status == 0 and "3 colorized" in out  # not 6: the outputs are not inputs
    assert not (good_tree / "colour" / "colour").exists()
    after = digests(good_tree)
    assert {k: v for k, v in after.items() if not k.startswith("colour/")} == before


def test_never_writes_over_an_input(good_tree, tiny_model_dir, capsys):
    source = good_tree / "a.png"
    before = source.read_bytes()
    status, _, err = colorize(capsys, str(source), "-o", str(good_tree),
                              "--model", str(tiny_model_dir), "--overwrite")
    assert status == 1
    assert err.strip() == (f"{source}: output {source} is an input image; refusing to "
                           "overwrite it (choose another output folder)")
    assert source.read_bytes() == before


@pytest.mark.parametrize(("fmt", "suffix", "mode"), [("jpg", ".jpg", "RGB"),
                                                     ("webp", ".webp", "RGBA"),
                                                     ("tif", ".tif", "RGBA")])
def test_output_format(good_tree, tmp_path, tiny_model_dir, capsys, fmt, suffix, mode):
    out_dir = tmp_path / "out"
    status, _, _ = colorize(capsys, str(good_tree / "sub"), "-o", str(out_dir), "--format", fmt,
                            "--quality", "80", "--model", str(tiny_model_dir))
    assert status == 0
    with Image.open(out_dir / "deeper" / f"c{suffix}") as image:  # the RGBA input
        assert image.mode == mode and image.size == (25, 17)
    assert (out_dir / f"b{suffix}").is_file()


def test_same_format_falls_back_to_png_and_files_map_by_name(tmp_path, photo_of,
                                                             tiny_model_dir, capsys):
    gif = tmp_path / "anim.gif"
    Image.fromarray(photo_of("astronaut", (20, 20))).convert("P").save(gif)
    deep16 = tmp_path / "deep.png"
    Image.fromarray((np.arange(24 * 16).reshape(16, 24) * 150).astype(np.uint16)).save(deep16)
    out_dir = tmp_path / "out"
    status, _, _ = colorize(capsys, str(gif), str(deep16), "-o", str(out_dir),
                            "--model", str(tiny_model_dir))
    assert status == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["anim.png", "deep.png"]
    with Image.open(out_dir / "deep.png") as image:  # 16-bit gray in, 8-bit colour out
        assert image.mode == "RGB" and image.size == (24, 16)


def test_two_inputs_with_the_same_output_name(tmp_path, photo_of, tiny_model_dir, capsys):
    for name in ("x.png", "x.jpg"):
        Image.fromarray(photo_of("coffee", (20, 16))).save(tmp_path / name)
    out_dir = tmp_path / "out"
    status, out, err = colorize(capsys, str(tmp_path / "x.png"), str(tmp_path / "x.jpg"),
                                "-o", str(out_dir), "--format", "png",
                                "--model", str(tiny_model_dir))
    assert status == 1 and "1 colorized, 1 failed" in out
    assert err.startswith(f"{tmp_path / 'x.jpg'}: output {out_dir / 'x.png'} is also the output")


def test_an_image_that_breaks_its_batch_fails_alone(mixed_tree, tmp_path, tiny_model_dir,
                                                    capsys, monkeypatch):
    from tinct.inference.pipeline import Colorizer

    real = Colorizer.colorize_batch

    def fragile(self, images, *args, **kwargs):
        if any(im.size == (33, 21) for im in images):  # sub/b.jpg
            raise RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB")
        return real(self, images, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "colorize_batch", fragile)
    out_dir = tmp_path / "out"
    status, out, err = colorize(capsys, str(mixed_tree), "-o", str(out_dir),
                                "--batch-size", "8", "--model", str(tiny_model_dir))
    assert status == 1 and "2 colorized, 4 failed" in out
    assert (f"{mixed_tree / 'sub/b.jpg'}: colorization failed (CUDA out of memory. Tried to "
            "allocate 2 GiB)\n") in err
    assert (out_dir / "a.png").is_file() and (out_dir / "sub/deeper/c.png").is_file()


def test_model_by_installed_name(good_tree, tmp_path, tiny_model_dir, capsys, monkeypatch,
                                 no_installed_models):
    monkeypatch.setenv(checkpoint.MODELS_ENV, str(tiny_model_dir.parent))
    status, out, _ = colorize(capsys, str(good_tree / "a.png"), "-o", str(tmp_path / "out"),
                              "--model", tiny_model_dir.name, "--device", "cpu")
    assert status == 0 and "1 colorized" in out and (tmp_path / "out" / "a.png").is_file()


def test_a_file_named_twice_is_done_once(good_tree, tmp_path, tiny_model_dir, capsys):
    status, out, err = colorize(capsys, str(good_tree / "a.png"), str(good_tree),
                                "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir))
    assert status == 0 and "3 colorized, 0 failed" in out and err == ""


def test_pixel_limit_and_missing_input(good_tree, tmp_path, tiny_model_dir, capsys):
    status, out, err = colorize(capsys, str(good_tree), str(tmp_path / "missing.jpg"),
                                "-o", str(tmp_path / "out"), "--max-pixels", "1000",
                                "--model", str(tiny_model_dir))
    assert status == 1 and "2 colorized, 2 failed" in out
    assert f"{good_tree / 'a.png'}: image is 40x30" in err  # 1,200 pixels > 1,000
    assert f"{tmp_path / 'missing.jpg'}: no such file or folder" in err


def test_missing_model_is_a_one_line_error(good_tree, tmp_path, capsys, no_installed_models):
    status, out, err = colorize(capsys, str(good_tree), "-o", str(tmp_path / "out"),
                                "--model", str(tmp_path / "no-such-model"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tinct colorize: error: ") and "no such model folder" in err
    assert not (tmp_path / "out").exists()


def test_default_model_missing_says_so(good_tree, tmp_path, capsys, no_installed_models):
    status, _, err = colorize(capsys, str(good_tree), "-o", str(tmp_path / "out"))
    assert status == 2
    assert err.count("\n") == 1 and "no trained model shipped yet" in err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--quality", "0", "--quality: must be from 1 to 100, got '0'"),
    ("--size", "4", "--size: a working size must be from 8 to 4096 pixels, got '4'"),
    ("--size", "100000", "a working size must be from 8 to 4096 pixels, got '100000'"),
    ("--size", "²", "--size: expected a whole number, got '²'"),
    ("--batch-size", "0", "--batch-size: must be at least 1, got '0'"),
    ("--max-pixels", "-5", "--max-pixels: must be at least 1, got '-5'"),
    ("--boost", "-1", "--boost: must be a number of 0 or more, got '-1'"),
    ("--device", "gpu", "--device: expected auto, cpu, cuda, cuda:N (a GPU number) or mps"),
])
def test_bad_option_values(good_tree, tmp_path, tiny_model_dir, capsys, option, value, message):
    status, _, err = colorize(capsys, str(good_tree), "-o", str(tmp_path / "out"),
                              "--model", str(tiny_model_dir), option, value)
    assert status == 2 and message in err and err.count("\n") == 1


def test_output_that_is_a_file_and_empty_input(good_tree, tmp_path, tiny_model_dir, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    status, _, err = colorize(capsys, str(good_tree), "-o", str(a_file))
    assert status == 2 and "output must be a folder" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = colorize(capsys, str(empty), "-o", str(tmp_path / "out"),
                              "--model", str(tiny_model_dir))
    assert status == 2 and "no image files found" in err


def test_size_option_reaches_the_network(good_tree, tmp_path, tiny_model_dir, capsys):
    for size in ("16", "64"):
        colorize(capsys, str(good_tree / "a.png"), "-o", str(tmp_path / size), "--size", size,
                 "--model", str(tiny_model_dir))
    small, large = (np.asarray(Image.open(tmp_path / s / "a.png"), np.int16) for s in ("16", "64"))
    assert small.shape == large.shape and np.abs(small - large).max() > 0


# --------------------------------------------------------------------------- tinct models


def test_models_lists_architectures_and_installed(tiny_model_dir, monkeypatch, capsys,
                                                  no_installed_models, tmp_path):
    from tinct import create_model

    models = tmp_path / "models"
    models.mkdir()
    (models / tiny_model_dir.name).symlink_to(tiny_model_dir)
    classifier = checkpoint.save_pretrained(
        create_model("classifier", decoder_channels=(16, 8, 8)), models / "zz-classifier",
        working_size=96)
    config = checkpoint.read_config(classifier)
    checkpoint.write_config(classifier, config.replace(flip=True))
    checkpoint.save_pretrained(create_model("classifier", decoder_channels=(16, 8, 8),
                                            hints=True), models / "zz-hints", working_size=96)
    monkeypatch.setenv(checkpoint.MODELS_ENV, str(models))
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in list_models():
        assert f"\n  {name} " in text
    assert "decoder_channels=[192, 96, 64, 32]" in text  # unet's default
    assert f"  {tiny_model_dir.name}: unet, lab, working size 64 px" in text
    assert str(models / tiny_model_dir.name) in text
    assert f"  {classifier.name}: classifier, lab, working size 96 px, temperature 0.38, " \
           "boost 0, flip averaging, metrics" in text
    assert "  zz-hints: classifier, lab, working size 96 px, temperature 0.38, boost 0, " \
           "trained with colour hints, metrics" in text

    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in listing["architectures"]] == list_models()
    cnn = next(a for a in listing["architectures"] if a["name"] == "cnn")
    assert cnn["arguments"] == [{"name": "width", "default": 64}, {"name": "depth", "default": 3}]
    model, listed_classifier, hinting = listing["installed"]
    assert listed_classifier["decode"] == {"temperature": 0.38, "boost": 0.0}
    assert (listed_classifier["hints"], hinting["hints"]) == (False, True)
    assert model["name"] == tiny_model_dir.name and model["architecture"] == "unet"
    assert model["working_size"] == 64 and model["path"] == str(models / tiny_model_dir.name)


def test_models_summary_prefers_eval_results():
    from tinct.cli.models import metrics_summary

    validation_only = {"validation": {"loss": 3.1, "ab_rmse": 22.9}}
    assert metrics_summary(validation_only) == "validation.loss=3.1 validation.ab_rmse=22.9"
    card = {**validation_only, "eval": {"kodak24": {"psnr": 23.006, "ssim": 0.94, "dcf": 5.82},
                                        "urban100": {"psnr": 20.787, "dcf": 5.48}}}
    assert metrics_summary(card) == "kodak24 psnr=23.01 dcf=5.82; urban100 psnr=20.79 dcf=5.48"


def test_models_without_installed_models(capsys, no_installed_models):
    assert main(["models"]) == 0
    assert "none - no trained model shipped yet" in capsys.readouterr().out


def test_python_m_tinct_help():
    result = subprocess.run([sys.executable, "-m", "tinct", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "colorize" in result.stdout and "models" in result.stdout


def test_boost_gives_a_classifier_more_colour(tmp_path, photo_of, tiny_classifier_dir,
                                              tiny_model_dir, capsys):
    src = tmp_path / "in" / "photo.png"
    src.parent.mkdir()
    Image.fromarray(photo_of("chelsea", (96, 64))).convert("L").save(src)

    def saturation(out: Path, *extra: str) -> float:
        assert main(["colorize", str(src), "-o", str(out), "--model", str(tiny_classifier_dir),
                     "--no-progress", *extra]) == 0
        rgb = np.asarray(Image.open(out / "photo.png"), dtype=np.float32)
        return float(np.ptp(rgb, axis=-1).mean())

    plain, boosted = saturation(tmp_path / "plain"), saturation(tmp_path / "b", "--boost", "2")
    assert boosted > plain + 1  # rare (vivid) colours weigh more
    # --flip: the mean of the photo's and its mirror image's colours (a different result)
    assert saturation(tmp_path / "f", "--flip") != plain
    assert (np.asarray(Image.open(tmp_path / "f" / "photo.png")) !=
            np.asarray(Image.open(tmp_path / "plain" / "photo.png"))).any()
    assert main(["colorize", str(src), "-o", str(tmp_path / "x"), "-m", str(tiny_model_dir),
                 "--boost", "1"]) == 2
    err = capsys.readouterr().err
    assert "predicts colour directly" in err and len(err.strip().splitlines()) == 1


def test_symlink_loop_in_a_folder_is_reported_and_the_batch_goes_on(good_tree, tmp_path,
                                                                    tiny_model_dir, capsys):
    """Issue 17, item 5: a symlink loop named like a photo, a folder link back up the tree and
    a broken link: each bad entry is one line, every real photo is colorized, status 1."""
    os.symlink("loop.jpg", good_tree / "loop.jpg")
    os.symlink("..", good_tree / "sub" / "up")
    os.symlink("gone.png", good_tree / "broken.png")
    expected = {Path(rel).with_suffix("") for rel in GOOD}
    status, _, err = colorize(capsys, str(good_tree), "-o", str(tmp_path / "out"),
                              "--model", str(tiny_model_dir))
    assert status == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert any(line.endswith("loop.jpg: a symlink loop; skipped") for line in lines)
    assert any(line.endswith("broken.png: a broken link; skipped") for line in lines)
    written = {p.relative_to(tmp_path / "out").with_suffix("")
               for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert written == expected


def test_a_folder_that_cannot_be_listed_is_reported(good_tree, tmp_path, tiny_model_dir):
    """Issue 17, item 6: an unreadable sub-folder is one line and a non-zero exit, not a
    silent '0 failed'. As root the command runs without the capabilities that let root read
    any folder (util-linux setpriv), so the folder's mode counts as it does for a user."""
    locked = good_tree / "locked"
    locked.mkdir()
    (good_tree / "a.png").rename(locked / "a.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tinct", "colorize", str(good_tree), "-o", str(out),
               "--model", str(tiny_model_dir), "--no-progress"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without util-linux setpriv to drop the capabilities")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    locked.chmod(0o000)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert f"{locked}: cannot list this folder (Permission denied)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "sub" / "b.jpg").is_file()  # the rest of the batch was done


def test_output_folder_equal_to_the_input_folder_says_so(good_tree, tiny_model_dir, capsys):
    """Issue 17, item 12: -o equal to the input folder is named as such (it said 'no image
    files found')."""
    status, _, err = colorize(capsys, str(good_tree), "-o", str(good_tree),
                              "--model", str(tiny_model_dir))
    assert status == 2 and err.count("\n") == 1
    assert f"the output folder {good_tree} is the input folder" in err


def test_stale_temp_files_of_a_killed_run_are_cleaned(good_tree, tmp_path, tiny_model_dir,
                                                      capsys):
    """Issue 17, item 10: hidden temp files of our naming left by kill -9 are removed by the
    next run once stale; fresh ones (a write in progress) and other files are kept."""
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    stale = [out / ".a.png.x7k2m9qz.tmp", out / "sub" / ".b.jpg.abcd1234.tmp",
             out / ".film.mp4.tinct-q1w2e3r4.mp4"]
    frames = out / ".frames.tinct-a1b2c3d4"  # a film's frame folder being written
    frames.mkdir()
    (frames / "frame_001.png").write_bytes(b"x")
    fresh = out / ".c.png.zzzz9999.tmp"
    mine = [out / ".a.png.notours.tmp", out / "notes.tmp", out / ".hidden"]
    for path in (*stale, fresh, *mine):
        path.write_bytes(b"x")
    old = time.time() - 3600
    for path in (*stale, *mine, frames):
        os.utime(path, (old, old))
    status, _, _ = colorize(capsys, str(good_tree), "-o", str(out),
                            "--model", str(tiny_model_dir))
    assert status == 0
    assert not any(p.exists() for p in stale) and not frames.exists()
    assert fresh.exists() and all(p.exists() for p in mine)


def test_study_and_report_files_are_readable_by_others(tmp_path):
    """Issue 17, item 14: files written atomically get 0o666 minus the umask (the manifest
    was 0600, mkstemp's mode), or the mode of the file they replace."""
    from tinct.fileio import atomic_write_text

    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "manifest.json", "{}")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        atomic_write_text(path, "{ }")
        assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "{ }"
    finally:
        os.umask(old)


def test_fifo_and_multi_page_files_are_named_for_what_they_are(tmp_path, tiny_model_dir,
                                                               photo_of, capsys):
    """Issue 17, items 11 and 12: a FIFO named like a photo is 'a named pipe' (it was 'file is
    empty', and opening it could hang); a 3-page TIFF says in one line that only its first
    page is colorized."""
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    pages = [Image.fromarray(photo_of(name, (40, 30))).convert("L")
             for name in ("chelsea", "astronaut", "coffee")]
    pages[0].save(folder / "scan.tif", save_all=True, append_images=pages[1:])
    status, _, err = colorize(capsys, str(folder), "-o", str(tmp_path / "out"),
                              "--model", str(tiny_model_dir))
    assert status == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert f"{folder / 'pipe.png'}: is a named pipe (FIFO), not an image file" in lines
    assert (f"{folder / 'scan.tif'}: has 3 pages or frames; only the first is colorized "
            "(save the others as files of their own to colorize them)") in lines
    assert (tmp_path / "out" / "scan.tif").is_file()


def test_batch_memory_is_bounded_by_pixels_not_by_file_count(tmp_path, tiny_model_dir):
    """Issue 17, item 7: a batch of large scans is colorized a few megapixels at a time: the
    peak memory of colorizing five 24-megapixel scans with --batch-size 8 stays close to that
    of one (it grew with every file of the batch)."""
    gray = (np.indices((4000, 6000)).sum(axis=0) % 251).astype(np.uint8)
    one, five = tmp_path / "one", tmp_path / "five"
    one.mkdir()
    five.mkdir()
    Image.fromarray(gray).save(one / "s0.png", compress_level=1)
    for i in range(5):
        (five / f"s{i}.png").write_bytes((one / "s0.png").read_bytes())
    probe = ("import sys; from tinct.cli import main; from tinct.runtime import peak_memory_mb; "
             "status = main(sys.argv[1:]); "
             "print('PEAK', peak_memory_mb()); "
             "sys.exit(status)")

    def peak(folder: Path) -> float:
        proc = subprocess.run([sys.executable, "-c", probe, "colorize", str(folder), "-o",
                               str(tmp_path / f"out-{folder.name}"), "--model",
                               str(tiny_model_dir), "--batch-size", "8", "--no-progress",
                               "--max-pixels", "30000000"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return float(proc.stdout.split("PEAK")[1].split()[0])  # MiB

    single, batch = peak(one), peak(five)
    assert batch < 1.35 * single, (single, batch)
    assert len(list((tmp_path / "out-five").iterdir())) == 5
