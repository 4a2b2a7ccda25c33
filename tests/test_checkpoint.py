"""Tests for the saved-model format: config contents, strict loading, atomic saving, lookup."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from tinct import __version__, create_model
from tinct.inference import checkpoint
from tinct.inference.checkpoint import (
    CONFIG_FILE,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    ModelLoadError,
    copy_pretrained,
    installed_models,
    load_pretrained,
    read_config,
    resolve_model,
    save_pretrained,
)

CNN_ARGS = {"width": 8, "depth": 2}


def small_cnn(seed: int = 0):
    torch.manual_seed(seed)
    return create_model("cnn", **CNN_ARGS)


@pytest.fixture
def saved(tmp_path) -> Path:
    """A freshly saved small model folder that a test may damage."""
    return save_pretrained(small_cnn(), tmp_path / "model", working_size=96)


def edit_config(folder: Path, **changes) -> None:
    path = folder / CONFIG_FILE
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def load_error(folder: Path) -> str:
    """Loads ``folder`` expecting a ModelLoadError; returns its (one-line) message."""
    with pytest.raises(ModelLoadError) as info:
        load_pretrained(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message
    return message


def test_config_contents(tmp_path, tiny_model):
    model = tiny_model()
    folder = save_pretrained(model, tmp_path / "tiny", space="luv", working_size=128,
                             description="a test", training={"steps": 5},
                             metrics={"psnr": 21.5})
    assert sorted(os.listdir(folder)) == [CONFIG_FILE, WEIGHTS_FILE]
    config = read_config(folder)
    doc = json.loads((folder / "config.json").read_text())
    assert doc["format"] == "tinct-model" and doc == config.to_dict()
    assert doc["format_version"] == FORMAT_VERSION
    assert config.name == "tiny"
    assert config.architecture == "unet"
    assert doc["model_args"] == {"encoder": "efficientnet_lite0",
                                 "decoder_channels": [32, 16, 16, 8]}
    with pytest.raises(TypeError):  # frozen: a change is a new config (config.replace)
        config.model_args["encoder"] = "resnet18"
    with pytest.raises(AttributeError):
        config.working_size = 64
    assert config.space == "luv"
    assert config.working_size == 128
    assert config.chroma_scale == pytest.approx(110.0)
    assert config.output_kind == "regression"
    assert config.description == "a test"
    assert config.training == {"steps": 5}
    assert config.metrics == {"psnr": 21.5}
    assert config.tinct_version == __version__


def test_classifier_config_records_decode_settings(tmp_path):
    model = create_model("classifier", decoder_channels=(16, 8, 8), temperature=0.5)
    model.set_decode(boost=0.25)
    folder = save_pretrained(model, tmp_path / "cls")
    assert read_config(folder).decode == {"temperature": 0.5, "boost": 0.25}
    loaded, _ = load_pretrained(folder)
    assert (loaded.temperature, loaded.boost) == (0.5, 0.25)
    # a model saved before boosts existed decodes without one
    config = read_config(folder).to_dict()
    config["decode"] = {"temperature": 1.6}
    (folder / "config.json").write_text(json.dumps(config))
    loaded, _ = load_pretrained(folder)
    assert (loaded.temperature, loaded.boost) == (1.6, 0.0)
    for bad in ({"temperature": -1}, {"boost": -0.5}, {"sharpness": 2}):
        config["decode"] = bad
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(ModelLoadError, match="bad decode settings"):
            load_pretrained(folder)


def test_load_round_trip_restores_weights(saved):
    model, config = load_pretrained(saved)
    reference = small_cnn()
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert config.working_size == 96


def test_save_rejects_models_not_built_by_create_model(tmp_path):
    with pytest.raises(ValueError, match="create_model"):
        save_pretrained(torch.nn.Conv2d(1, 2, 3), tmp_path / "x")
    with pytest.raises(ValueError, match="colour space"):
        save_pretrained(small_cnn(), tmp_path / "y", space="hsv")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# --------------------------------------------------------------------------- strict loading


def test_unknown_format_version(saved):
    edit_config(saved, format_version=FORMAT_VERSION + 1)
    assert "format version" in load_error(saved)


def test_unknown_architecture(saved):
    edit_config(saved, architecture="transformer9000")
    message = load_error(saved)
    assert "unknown architecture 'transformer9000'" in message and "unet" in message


def test_unfitting_model_arguments(saved):
    edit_config(saved, model_args={"width": 8, "colour": True})
    assert "model arguments do not fit" in load_error(saved)


def test_missing_weights_file(saved):
    (saved / WEIGHTS_FILE).unlink()
    assert f"missing {WEIGHTS_FILE}" in load_error(saved)


def test_corrupt_weights_file(saved):
    (saved / WEIGHTS_FILE).write_bytes(b"\x00garbage")
    assert "unreadable weights" in load_error(saved)


def test_weights_of_another_architecture(saved, tmp_path, tiny_model):
    other = save_pretrained(tiny_model(), tmp_path / "unet")
    shutil.copy(other / WEIGHTS_FILE, saved / WEIGHTS_FILE)
    assert "do not match architecture 'cnn'" in load_error(saved)


def test_weights_of_another_size(saved, tmp_path):
    wider = save_pretrained(create_model("cnn", width=16, depth=2), tmp_path / "wide")
    shutil.copy(wider / WEIGHTS_FILE, saved / WEIGHTS_FILE)
    assert "do not fit" in load_error(saved)


def test_corrupt_json(saved):
    (saved / CONFIG_FILE).write_text('{"format": "tinct-model", ')
    assert "unreadable JSON" in load_error(saved)


def test_not_a_model_folder(tmp_path):
    assert "not a tinct model folder" in load_error(tmp_path)
    (tmp_path / CONFIG_FILE).write_text('{"format": "something-else"}')
    assert "not a tinct model config" in load_error(tmp_path)


# --------------------------------------------------------------------------- saving


def test_saving_over_a_model_replaces_it_completely(saved):
    (saved / "stale-notes.txt").write_text("from the old model")
    save_pretrained(create_model("cnn", width=16, depth=2), saved, working_size=32)
    assert sorted(os.listdir(saved)) == [CONFIG_FILE, WEIGHTS_FILE]
    assert read_config(saved).model_args == {"width": 16, "depth": 2}
    model, _ = load_pretrained(saved)
    assert model.encoder[0][0].out_channels == 16
    assert sorted(os.listdir(saved.parent)) == ["model"]  # no temporary folders left


def test_failed_save_leaves_the_old_model_and_no_temp_folders(saved, monkeypatch):
    before = (saved / WEIGHTS_FILE).read_bytes()

    def broken_save_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", broken_save_file)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained(small_cnn(seed=1), saved)
    assert (saved / WEIGHTS_FILE).read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model"]


def test_fp16_storage_halves_the_file(tmp_path, tiny_model):
    model = tiny_model()
    full = save_pretrained(model, tmp_path / "fp32") / WEIGHTS_FILE
    half = save_pretrained(model, tmp_path / "fp16", dtype=torch.float16) / WEIGHTS_FILE
    ratio = half.stat().st_size / full.stat().st_size
    assert 0.48 <= ratio <= 0.52, ratio


def test_saved_model_is_readable_by_others_under_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        folder = save_pretrained(small_cnn(), tmp_path / "model")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        assert (folder / name).stat().st_mode & 0o777 == 0o644, name


def test_fp16_storage_keeps_values_float16_cannot_hold(tmp_path):
    from safetensors.torch import load_file

    model = small_cnn()
    name, norm = next((n, m) for n, m in model.named_modules()
                      if isinstance(m, torch.nn.BatchNorm2d))
    norm.running_var.fill_(2.5e5)  # a large activation variance; float16 tops out at 65504
    folder = save_pretrained(model, tmp_path / "fp16", dtype=torch.float16)
    stored = load_file(str(folder / WEIGHTS_FILE))
    big = f"{name}.running_var"
    assert stored[big].dtype == torch.float32
    floats = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    assert all(stored[k].dtype == torch.float16 for k in floats if k != big)
    loaded, _ = load_pretrained(folder)
    assert torch.equal(loaded.state_dict()[big], norm.running_var)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out = loaded(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, model.eval()(x), atol=2e-2, rtol=2e-2)



def test_copy_pretrained_stores_fp16_by_the_same_rule_and_keeps_the_config(tmp_path):
    """A saved model copied as fp16: floating weights in float16 except what float16 cannot
    hold, the config byte for byte, and the copy loads and computes as the original."""
    from safetensors.torch import load_file

    model = small_cnn()
    name, norm = next((n, m) for n, m in model.named_modules()
                      if isinstance(m, torch.nn.BatchNorm2d))
    norm.running_var.fill_(2.5e5)
    source = save_pretrained(model, tmp_path / "fp32", description="kept as it is")
    copy = copy_pretrained(source, tmp_path / "copy")
    stored = load_file(str(copy / WEIGHTS_FILE))
    big = f"{name}.running_var"
    assert stored[big].dtype == torch.float32
    assert all(v.dtype == torch.float16 for k, v in stored.items()
               if v.is_floating_point() and k != big)
    assert (copy / CONFIG_FILE).read_bytes() == (source / CONFIG_FILE).read_bytes()
    assert (copy / WEIGHTS_FILE).stat().st_size < (source / WEIGHTS_FILE).stat().st_size
    loaded, _ = load_pretrained(copy)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x), atol=2e-2, rtol=2e-2)


def test_save_like_keeps_how_the_source_runs_and_takes_changes(tmp_path):
    """A model saved like another keeps its space, working size, flip, levels, name and
    records; a change given replaces just that."""
    source = save_pretrained(small_cnn(), tmp_path / "source", space="luv", working_size=96,
                             description="the source", training={"steps": 7},
                             metrics={"eval": {"x": {"psnr": 23.0}}},
                             inference={"flip": True, "levels": True})
    model, config = load_pretrained(source)
    same = checkpoint.save_like(model, tmp_path / "same", config).joinpath(CONFIG_FILE)
    changed = checkpoint.save_like(model, tmp_path / "changed", config, metrics={},
                                   name="other", dtype=torch.float16)
    kept = json.loads(same.read_text())
    original = json.loads((source / CONFIG_FILE).read_text())
    assert kept == original
    new = checkpoint.read_config(changed)
    assert (new.name, new.metrics, new.space, new.working_size, new.flip, new.levels) == (
        "other", {}, "luv", 96, True, True)
    assert new.training == {"steps": 7} and new.description == "the source"
    assert (changed / WEIGHTS_FILE).stat().st_size < (source / WEIGHTS_FILE).stat().st_size

# --------------------------------------------------------------------------- lookup


def test_installed_models_from_env(tmp_path, monkeypatch, no_installed_models):
    first, second = tmp_path / "first", tmp_path / "second"
    save_pretrained(small_cnn(), first / "alpha")
    save_pretrained(small_cnn(), first / "shared")
    save_pretrained(small_cnn(), second / "shared")
    save_pretrained(small_cnn(), second / "beta")
    (second / "not-a-model").mkdir()
    monkeypatch.setenv(checkpoint.MODELS_ENV, os.pathsep.join([str(first), str(second)]))

    found = installed_models()
    assert sorted(found) == ["alpha", "beta", "shared"]
    assert found["shared"] == first / "shared"  # the first folder on the path wins
    assert resolve_model("beta") == second / "beta"
    assert resolve_model(str(first / "alpha")) == first / "alpha"  # a folder path
    monkeypatch.setenv("HOME", str(first))  # a recipe's "~/..." (YAML does not expand it)
    assert resolve_model("~/alpha") == first / "alpha"
    with pytest.raises(ModelLoadError, match=r"nope: no such model.*: alpha, shared, beta"):
        resolve_model("nope")


def test_default_model_missing_says_none_is_shipped(no_installed_models):
    assert installed_models() == {}
    with pytest.raises(ModelLoadError, match="no trained model shipped yet"):
        resolve_model(None)
    with pytest.raises(ModelLoadError, match="installed: none"):
        resolve_model("tinct-large")


def test_default_model_is_found_when_installed(no_installed_models):
    save_pretrained(small_cnn(), no_installed_models / checkpoint.DEFAULT_MODEL)
    assert resolve_model(None) == no_installed_models / checkpoint.DEFAULT_MODEL


def test_shipped_configs_record_no_paths_of_the_machine_they_were_made_on():
    """Every string in a shipped config.json is free of absolute paths (/root, /home, ...)."""
    import json

    from tinct.inference.checkpoint import WEIGHTS_DIR

    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    configs = sorted(WEIGHTS_DIR.glob("*/config.json"))
    assert configs
    for path in configs:
        found = [s for s in strings(json.loads(path.read_text())) if s.startswith(("/", "~"))]
        assert not found, f"{path}: {found}"


def test_config_keeps_unknown_keys_and_refuses_bad_values(tmp_path, tiny_model):
    """The typed config round-trips keys it does not know and names a bad value and its file."""
    folder = save_pretrained(tiny_model(), tmp_path / "m", inference={"flip": True})
    doc = json.loads((folder / CONFIG_FILE).read_text())
    doc["from_the_future"] = {"x": [1, 2]}
    doc["inference"]["tiles"] = 4
    (folder / CONFIG_FILE).write_text(json.dumps(doc))
    config = read_config(folder)
    assert config.flip is True and config.to_dict() == doc
    for key, bad, message in (("working_size", "big", "working_size must be a whole number"),
                              ("space", "cmyk", "unknown colour space 'cmyk'"),
                              ("output_kind", "both", "output_kind must be one of"),
                              ("decode", [1], "decode must be an object")):
        (folder / CONFIG_FILE).write_text(json.dumps({**doc, key: bad}))
        with pytest.raises(ModelLoadError, match=message) as exc:
            read_config(folder)
        assert str(folder / CONFIG_FILE) in str(exc.value)
    (folder / CONFIG_FILE).write_text(json.dumps({k: v for k, v in doc.items()
                                                  if k != "architecture"}))
    with pytest.raises(ModelLoadError, match="missing required key 'architecture'"):
        read_config(folder)
