"""bench/video_quality.py end to end on a tiny generated clip: the runs it reports, and the
key-frame intervals that --key-intervals adds."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("av")
pytest.importorskip("cv2")


def _bench(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("video_quality", ROOT / "bench" /
                                                  "video_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DATA", tmp_path / "no-data")  # scikit-image photos only
    return module


def test_key_intervals_add_runs_of_the_new_film_path(monkeypatch, tmp_path):
    bench = _bench(monkeypatch, tmp_path)
    out = tmp_path / "quality.json"
    monkeypatch.setattr(sys, "argv", ["video_quality.py", "--clips", "1", "--no-real",
                                      "--size", "96x64", "--frames-per-shot", "6",
                                      "--key-intervals", "2", "--out", str(out)])
    assert bench.main() == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert set(runs) == set(bench.RUNS) | {"keyframes-yuv-k2"}
    assert runs["keyframes-yuv-k2"]["temporal"]["key_interval"] == 2
    assert runs["keyframes-yuv"]["temporal"]["key_interval"] == 8
    assert runs["keyframes-yuv-k2"]["rendering"] == "yuv" and runs["keyframes-yuv-k2"]["flip"]
    clip = report["generated"]["clips"][0]
    assert clip["frames"] == 12 and clip["cuts_found"] == [6]
    # the network at every other frame gives other colour than at the cut and start only
    assert clip["keyframes-yuv-k2"]["psnr"] != clip["keyframes-yuv"]["psnr"]
    assert set(report["generated"]["mean"]) == set(runs)


def test_key_intervals_are_checked(monkeypatch, tmp_path, capsys):
    bench = _bench(monkeypatch, tmp_path)
    monkeypatch.setattr(sys, "argv", ["video_quality.py", "--key-intervals", "4,0"])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    assert "expected whole numbers of 1 or more" in capsys.readouterr().err
