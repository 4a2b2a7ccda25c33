"""One command-line convention for every verb (issue 16): ``-m/--model`` defaulting to the shipped
model, ``--no-progress``, ``--device`` with ``cuda:N``, positional inputs with the older option
kept, and only tinct's own errors turned into one-line messages."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tinct.cli import build_parser, main
from tinct.errors import InputError

# (verb words, the rest of a minimal valid command line)
MODEL_VERBS = {
    "colorize": (["colorize"], ["in.png", "-o", "out"]),
    "eval": (["eval"], ["photos", "-o", "report"]),
    "tune": (["tune"], ["photos", "-o", "report"]),
    "export": (["export"], ["-o", "m.onnx"]),
    "video": (["video"], ["in.mp4", "-o", "out.mp4"]),
    "eval-video": (["eval-video"], ["clip.mp4"]),
    "serve": (["serve"], []),
    "turing": (["turing", "prepare"], ["photos", "-o", "study"]),
}


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("verb", sorted(MODEL_VERBS))
def test_every_verb_takes_m_and_defaults_to_the_shipped_model(verb):
    words, rest = MODEL_VERBS[verb]
    assert parse(*words, *rest).model is None  # None = the shipped model
    short = parse(*words, *rest, "-m", "tinct-base").model
    long = parse(*words, *rest, "--model", "tinct-base").model
    assert short == long and short in ("tinct-base", ["tinct-base"])


@pytest.mark.parametrize("verb", ["colorize", "eval", "tune", "video", "eval-video", "serve",
                                  "turing"])
def test_every_device_option_takes_cuda_n_and_refuses_nonsense(verb, capsys):
    words, rest = MODEL_VERBS[verb]
    assert parse(*words, *rest, "--device", "cuda:1").device == "cuda:1"
    assert parse(*words, *rest).device == "auto"
    with pytest.raises(SystemExit) as exc:
        parse(*words, *rest, "--device", "gpu0")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "cuda:N" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("verb", ["colorize", "eval", "tune", "video", "eval-video", "turing",
                                  "train", "compare"])
def test_every_verb_with_a_progress_bar_takes_no_progress(verb):
    words, rest = MODEL_VERBS.get(verb, ([verb], ["m1", "-d", "photos", "-o", "r"]
                                         if verb == "compare" else []))
    assert parse(*words, *rest, "--no-progress").no_progress is True
    assert parse(*words, *rest).no_progress is False


def test_quiet_stays_an_alias_where_it_existed():
    assert parse("eval", "photos", "-o", "r", "-q").no_progress is True
    assert parse("compare", "m1", "-d", "photos", "-o", "r", "--quiet").no_progress is True


@pytest.fixture
def photos(tmp_path, photo_of):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(photo_of(name, (64, 48))).save(folder / f"{name}.png")
    return folder


def _eval(capsys, *argv: str) -> tuple[int, str]:
    try:
        status = main(["eval", *argv, "--no-features", "--no-progress", "--gallery", "1"])
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err


def test_eval_runs_on_the_shipped_model_with_data_as_its_argument(photos, tmp_path, capsys):
    """``tinct eval DATA -o REPORT`` (no -m) measures the shipped model, as colorize does."""
    status, _ = _eval(capsys, str(photos), "-o", str(tmp_path / "r"))
    assert status == 0
    names = [m["name"] for m in json.loads((tmp_path / "r" / "metrics.json").read_text())
             ["models"]]
    assert names[0].startswith("tinct-base") and "gray" in names


def test_eval_keeps_d_as_the_older_spelling_and_wants_data_once(photos, tiny_model_dir,
                                                                tmp_path, capsys):
    model = ["-m", str(tiny_model_dir)]
    assert _eval(capsys, "-d", str(photos), "-o", str(tmp_path / "a"), *model)[0] == 0
    assert _eval(capsys, str(photos), "-o", str(tmp_path / "b"), *model)[0] == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())["models"][0]["summary"]
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())["models"][0]["summary"]
    assert a["psnr"] == b["psnr"]
    status, err = _eval(capsys, str(photos), "-d", str(photos), "-o", str(tmp_path / "c"))
    assert status == 2 and "not both" in err and len(err.strip().splitlines()) == 1
    status, err = _eval(capsys, "-o", str(tmp_path / "d"))
    assert status == 2 and "DATA argument is required" in err


def test_eval_video_takes_the_clip_as_its_argument():
    assert parse("eval-video", "clip.mp4").video == "clip.mp4"
    args = build_parser().parse_args(["eval-video", "--video", "old.mp4"])
    from tinct.cli import resolve_input_aliases

    resolve_input_aliases(args)
    assert args.video == "old.mp4"


def test_tinct_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys):
    """main turns tinct's own errors into one line (status 2); any other exception is a bug
    and propagates with its traceback."""
    from tinct.cli import models as models_verb

    def user_error(args):
        raise InputError("photos/x.png: not an image")

    def bug(args):
        return {}["missing"]

    monkeypatch.setattr(models_verb, "run", user_error)
    assert main(["models"]) == 2
    assert capsys.readouterr().err == "tinct models: error: photos/x.png: not an image\n"
    monkeypatch.setattr(models_verb, "run", bug)
    with pytest.raises(KeyError):
        main(["models"])
