"""Colour classifiers averaged at decode (tinct.models.ensemble, scripts/make_ensemble.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from tinct import Colorizer
from tinct.inference import checkpoint
from tinct.models import create_model
from tinct.models.ensemble import ClassifierEnsemble

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"decoder_channels": (16, 8, 8)}


def member(seed: int, **args):
    """A random-init small colour classifier with its own BatchNorm statistics, a prior like
    that of photos (mostly low chroma) and a head scaled up so that its distributions are far
    from uniform, different for every ``seed``."""
    torch.manual_seed(seed)
    model = create_model("classifier", **{**SMALL, **args}).eval()
    with torch.no_grad():
        model.head.weight.mul_(30)
    prior = torch.exp(-model.centres.norm(dim=1) / (10 + seed))
    model.prior.copy_(prior / prior.sum())
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model


def ensemble_of(members, weights, scales, temperature=0.38, mix="mean"
                ) -> ClassifierEnsemble:
    """An ensemble built through the registry (so it can be saved) with these members'
    weights."""
    spec = [{"architecture": "classifier", "args": SMALL}] * len(members)
    model = create_model("classifier_ensemble", members=spec, weights=weights, scales=scales,
                         temperature=temperature, mix=mix)
    for mine, theirs in zip(model.members, members, strict=True):
        mine.load_state_dict(theirs.state_dict())
    return model.eval()


def lightness(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Normalized lightness ``(1, 1, H, W)`` in [-1, 1]."""
    return torch.rand(1, 1, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@torch.no_grad()
def test_the_mix_is_the_weighted_mean_of_the_members_distributions():
    a, b = member(0), member(1)
    x = lightness(45, 70)
    ens = ensemble_of([a, b], [0.7, 0.3], [1.0, 1.0])
    out = ens(x)
    assert out.shape == (1, a.num_bins, 12, 18) and ens.num_bins == a.num_bins
    mixed = 0.7 * F.softmax(a(x), 1) + 0.3 * F.softmax(b(x), 1)
    torch.testing.assert_close(out.exp(), mixed, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(1, 12, 18), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_the_geometric_mix_is_the_normalized_weighted_product_and_sharper():
    """mix="geometric": log p = log_softmax(sum_i w_i log p_i), member 2's log-probabilities
    brought to the grid from its own scale; where the members disagree it stays sharper
    (lower entropy) than the arithmetic mean."""
    a, b = member(0), member(1)
    x = lightness(96, 128, seed=5)
    geometric = ensemble_of([a, b], [0.6, 0.4], [1.0, 0.75], mix="geometric")
    small = F.interpolate(x, size=(72, 96), mode="bilinear", antialias=True,
                          align_corners=False)
    log_b = F.interpolate(F.log_softmax(b(small), 1), size=(24, 32), mode="bilinear",
                          align_corners=False)
    expected = F.log_softmax(0.6 * F.log_softmax(a(x), 1) + 0.4 * log_b, 1)
    out = geometric(x)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(1, 24, 32), rtol=1e-5, atol=1e-5)
    mean = ensemble_of([a, b], [0.6, 0.4], [1.0, 0.75])(x)

    def entropy(log_p):
        return -(log_p.exp() * log_p).sum(1).mean()

    assert entropy(out) < entropy(mean) - 0.05


@torch.no_grad()
@pytest.mark.parametrize("mix", ["mean", "geometric"])
def test_one_member_at_full_weight_decodes_as_that_member(mix):
    """softmax(log p / T + bias) = softmax(logits / T + bias): an ensemble that gives one
    member all the weight colours as that member at every temperature and boost, whichever
    the mix."""
    a, b = member(0), member(1)
    x = lightness(64, 48, seed=1)
    ens = ensemble_of([a, b], [1.0, 0.0], [1.0, 0.5], mix=mix)
    for temperature, boost in [(0.38, 0.0), (0.6, 0.4), (1.0, 1.0)]:
        ens.set_decode(temperature, boost)
        expected = a.decode(a(x), temperature=temperature, boost=boost)
        torch.testing.assert_close(ens.decode(ens(x)), expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(ens.decode(ens(x)), b.decode(b(x), 1.0, 1.0), atol=1e-3)


@torch.no_grad()
def test_a_member_at_a_smaller_scale_sees_a_smaller_photo_and_is_brought_to_the_grid():
    a, b = member(0), member(1)
    x = lightness(96, 128, seed=2)
    ens = ensemble_of([a, b], [0.5, 0.5], [1.0, 0.75])
    small = F.interpolate(x, size=(72, 96), mode="bilinear", antialias=True,
                          align_corners=False)
    pb = F.interpolate(F.softmax(b(small), 1), size=(24, 32), mode="bilinear",
                       align_corners=False)
    expected = 0.5 * F.softmax(a(x), 1) + 0.5 * pb
    torch.testing.assert_close(ens(x).exp(), expected, rtol=1e-4, atol=1e-6)
    # the member at its own scale is not what it gives at the ensemble's
    full = F.softmax(b(x), 1)
    assert (pb - full).abs().max() > 1e-3


@torch.no_grad()
def test_decode_settings_views_and_boost():
    ens = ensemble_of([member(0), member(1)], [0.5, 0.5], [1.0, 1.0])
    x = lightness(64, 64, seed=3)
    out = ens(x)
    view = ens.with_decode(boost=1.0)
    assert ens.decode_settings() == {"temperature": 0.38, "boost": 0.0}
    assert view.decode_settings() == {"temperature": 0.38, "boost": 1.0}
    faint, bold = ens.decode(out), view.decode(view(x))
    assert bold.norm(dim=1).mean() > faint.norm(dim=1).mean()  # boost adds rarer colours


@pytest.mark.parametrize(("members", "weights", "scales", "message"), [
    ([{"architecture": "classifier", "args": SMALL},
      {"architecture": "classifier", "args": {**SMALL, "bins": "kmeans", "num_colors": 16}}],
     [0.5, 0.5], [1, 1], "share their colour bins"),
    ([{"architecture": "classifier", "args": SMALL},
      {"architecture": "unet", "args": {"decoder_channels": (16, 16, 8, 8)}}],
     [0.5, 0.5], [1, 1], "must be a colour classifier"),
    ([{"architecture": "classifier", "args": SMALL}] * 2, [0.5, 0.6], [1, 1], "sum to 1"),
    ([{"architecture": "classifier", "args": SMALL}] * 2, [0.5, 0.5], [1, 0], r"\(0, 4\]"),
    ([{"architecture": "classifier", "args": SMALL}] * 2, [1.0], [1, 1], "one weight"),
    ([{"architecture": "classifier", "args": SMALL}] * 2, [0.5, 0.5], [1, 1],
     "mix must be one of mean, geometric, got 'median'"),
])
def test_bad_ensembles_are_refused(members, weights, scales, message):
    mix = "median" if "mix" in message else "mean"
    with pytest.raises(ValueError, match=message):
        create_model("classifier_ensemble", members=members, weights=weights, scales=scales,
                     mix=mix)


def test_the_trainer_refuses_an_ensemble_in_one_line():
    from tinct.train.config import ConfigError, load_config
    from tinct.train.objectives import build_objective

    cfg = load_config(None, ["model.architecture=classifier_ensemble", "loss.kind=ce"])
    ens = ensemble_of([member(0), member(1)], [0.5, 0.5], [1.0, 1.0])
    with pytest.raises(ConfigError, match="made from saved models.*train its members"):
        build_objective(cfg, ens, torch.device("cpu"))


@torch.no_grad()
def test_a_one_member_ensemble_is_a_distillation_teacher_at_its_own_scale(tmp_path):
    """loss.distill_from can name an ensemble: a teacher that sees the crop at its own scale
    (docs/v3.md, session 46) pulls the student toward its distributions there."""
    from tinct.train import losses
    from tinct.train.config import load_config
    from tinct.train.objectives import build_objective

    old = member(1)
    teacher = ensemble_of([old], [1.0], [0.6])
    folder = checkpoint.save_pretrained(teacher, tmp_path / "teacher", working_size=96)
    cfg = load_config(None, ["model.architecture=classifier", "loss.kind=ce", "loss.distill=1",
                             f"loss.distill_from={folder}"])
    student = member(0)
    objective = build_objective(cfg, student, torch.device("cpu"))
    x = lightness(80, 80, seed=4)
    out = student(x)
    kept = objective.distillation(student, x, out, None)
    torch.testing.assert_close(kept, losses.distillation_loss(out, teacher(x)))
    assert abs(float(kept) - float(losses.distillation_loss(out, old(x)))) > 1e-3


def _make_ensemble_script():
    path = ROOT / "scripts" / "make_ensemble.py"
    spec = importlib.util.spec_from_file_location("make_ensemble", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_ensemble_saves_a_model_that_colorizes(tmp_path, capsys):
    """End to end: two saved classifiers -> one saved ensemble (no machine paths in its
    config) that a Colorizer loads and runs; with all the weight on the first member it
    colours a photo as that member does; members with other bins are refused in one line."""
    newer = member(0)
    newer.set_decode(0.6, 0.4)
    first = checkpoint.save_pretrained(newer, tmp_path / "new", working_size=96)
    second = checkpoint.save_pretrained(member(1), tmp_path / "old", working_size=128)
    new = Colorizer.from_pretrained(first, device="cpu")
    script = _make_ensemble_script()
    out = tmp_path / "ens"
    assert script.main([str(first), str(second), str(out), "--weights", "0.6,0.4",
                        "--scales", "1,0.75"]) == 0
    config = checkpoint.read_config(out)
    assert config.architecture == "classifier_ensemble" and config.working_size == 96
    assert config.decode == {"temperature": 0.6, "boost": 0.4}
    assert str(tmp_path) not in json.dumps(config.to_dict())
    photo = data.astronaut()[::4, ::4]
    mixed = np.asarray(Colorizer.from_pretrained(out, device="cpu").colorize(photo))
    alone = np.asarray(new.colorize(photo))
    assert mixed.shape == photo.shape and np.abs(mixed.astype(int) - alone).mean() > 0.5
    # the geometric mix is recorded in the saved config and colours the photo otherwise
    assert script.main([str(first), str(second), str(tmp_path / "geo"), "--weights", "0.6,0.4",
                        "--scales", "1,0.75", "--mix", "geometric"]) == 0
    geo = checkpoint.read_config(tmp_path / "geo")
    assert geo.model_args["mix"] == "geometric" and config.model_args["mix"] == "mean"
    sharp = np.asarray(Colorizer.from_pretrained(tmp_path / "geo", device="cpu").colorize(photo))
    assert np.abs(sharp.astype(int) - mixed).mean() > 0.2

    solo = tmp_path / "solo"
    assert script.main([str(first), str(second), str(solo), "--weights", "1,0",
                        "--scales", "1,0.75"]) == 0
    same = np.asarray(Colorizer.from_pretrained(solo, device="cpu").colorize(photo))
    assert np.abs(same.astype(int) - alone).max() <= 1

    other = checkpoint.save_pretrained(member(2, bins="kmeans", num_colors=16),
                                       tmp_path / "kmeans", working_size=96)
    capsys.readouterr()
    assert script.main([str(first), str(other), str(tmp_path / "bad"), "--weights", "0.5,0.5",
                        "--scales", "1,1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("make_ensemble: ") and "colour bins" in err and "\n" not in err
    assert not (tmp_path / "bad").exists()
    # a network that predicts colour directly cannot be a member, first or not
    unet = checkpoint.save_pretrained(create_model("unet", decoder_channels=(16, 16, 8, 8)),
                                      tmp_path / "unet", working_size=64)
    for pair in ([unet, first], [first, unet]):
        assert script.main([*map(str, pair), str(tmp_path / "bad"), "--weights", "0.5,0.5",
                            "--scales", "1,1"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("make_ensemble: ") and "colour classifier" in err
        assert "\n" not in err and not (tmp_path / "bad").exists()
