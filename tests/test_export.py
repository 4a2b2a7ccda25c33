"""ONNX export: ``tinct export --format onnx`` and ONNX Runtime agree with PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import Colorizer
from tinct.cli import main

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def classifier_dir(tiny_classifier_dir) -> Path:
    return tiny_classifier_dir


@pytest.fixture(scope="module")
def exported(classifier_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export", "--format", "onnx", "-m", str(classifier_dir), "-o", str(out)]) == 0
    return out


def test_export_writes_one_self_describing_file(exported, classifier_dir):
    graph = onnx.load(str(exported))
    onnx.checker.check_model(graph)
    meta = json.loads({p.key: p.value for p in graph.metadata_props}["tinct_config"])
    saved = json.loads((classifier_dir / "config.json").read_text())
    assert meta["architecture"] == saved["architecture"] == "classifier"
    assert meta["working_size"] == 96 and meta["size_multiple"] == 32
    assert meta["output_stride"] == 4
    assert [p.name for p in exported.parent.iterdir()] == ["tiny.onnx"]  # no temp file left


@pytest.mark.parametrize("shape", [(1, 1, 96, 96), (2, 1, 70, 123), (1, 1, 300, 40)])
def test_onnx_runtime_matches_pytorch(exported, classifier_dir, shape):
    """Any batch and size (the graph was traced at 96 x 96): chroma within 1e-3 ab units."""
    torch.manual_seed(1)
    L = torch.rand(shape) * 100
    reference = Colorizer.from_pretrained(classifier_dir, device="cpu", precision="fp32")
    runtime = Colorizer.from_pretrained(exported)
    a = reference.predict_chroma(L)
    b = runtime.predict_chroma(L)
    assert a.shape == b.shape == (shape[0], 2, shape[2], shape[3])
    assert a.abs().max() > 1.0  # the test model predicts real colour, not zeros
    assert (a - b).abs().max() < 1e-3


def test_onnx_export_carries_the_decode_boost(classifier_dir, tmp_path):
    from tinct.evaluation.tune import Choice, Decode, save_with_decode

    boosted = save_with_decode(classifier_dir, tmp_path / "boosted",
                               Choice(Decode(0.5, 0.75), 0, "test"), {})
    out = tmp_path / "boosted.onnx"
    assert main(["export", "-m", str(boosted), "-o", str(out)]) == 0
    L = torch.rand(1, 1, 96, 96) * 100
    a = Colorizer.from_pretrained(boosted, device="cpu", precision="fp32").predict_chroma(L)
    plain = Colorizer.from_pretrained(classifier_dir, device="cpu", precision="fp32")
    assert (a - plain.predict_chroma(L)).abs().max() > 1.0  # the boost changes the colours
    runtime = Colorizer.from_pretrained(out)
    assert (a - runtime.predict_chroma(L)).abs().max() < 1e-3
    with pytest.raises(ValueError, match="decodes as it was exported"):
        runtime.set_decode(boost=0.0)


def test_colorize_with_an_onnx_model(exported, classifier_dir, tmp_path, photo_of):
    src = tmp_path / "photo.png"
    Image.fromarray(photo_of("chelsea", (90, 60))).convert("L").save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "onnx"), "--model",
                 str(exported)]) == 0
    assert main(["colorize", str(src), "-o", str(tmp_path / "torch"), "--model",
                 str(classifier_dir)]) == 0
    a = np.asarray(Image.open(tmp_path / "onnx" / "photo.png"), dtype=np.int16)
    b = np.asarray(Image.open(tmp_path / "torch" / "photo.png"), dtype=np.int16)
    assert a.shape == b.shape == (60, 90, 3)
    assert np.abs(a - b).max() <= 1  # 8-bit rounding at most


def test_check_option_reports_the_difference(classifier_dir, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "-m", str(classifier_dir), "-o", str(out), "--check"]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("check:"))
    assert float(line.split("=")[1].split()[0]) < 1e-3


def test_bad_inputs_give_one_line_errors(classifier_dir, tmp_path, capsys):
    assert main(["export", "-m", str(classifier_dir), "-o", str(tmp_path / "m.txt")]) == 2
    assert "must end with .onnx" in capsys.readouterr().err
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a model")
    src = tmp_path / "p.png"
    Image.new("L", (20, 20), 128).save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "o"), "--model", str(fake)]) == 2
    err = capsys.readouterr().err
    assert "fake.onnx" in err and "Traceback" not in err
