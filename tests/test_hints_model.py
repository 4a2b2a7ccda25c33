"""Colour hints in the network and in training: the hint map, a hint-taking classifier that
starts as the automatic one, training that teaches it to use hints."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from helpers import tiny_train_overrides, training_batch
from tinct.errors import InputError
from tinct.models.hints import empty_hints, put_hint, sample_true_hints
from tinct.models.registry import create_model
from tinct.train.config import load_config
from tinct.train.loop import train
from tinct.train.objectives import build_objective

TINY_CLASSIFIER = {"decoder_channels": [32, 16, 16]}


def test_sample_true_hints_follows_the_settings():
    generator = torch.Generator().manual_seed(0)
    truth = torch.rand(400, 2, 24, 24, generator=generator) * 2 - 1
    hints = sample_true_hints(truth, share=0.5, mean_count=4, max_patch=3, generator=generator)
    assert hints.shape == (400, 3, 24, 24)
    hinted = hints[:, 2].flatten(1).amax(1) > 0
    assert 0.4 < hinted.float().mean() < 0.6
    # outside the mask the chroma channels are zero; inside, each value is the mean of the
    # truth over some square of 1..3 px, so it lies within the truth's range there
    mask = hints[:, 2:3].expand(-1, 2, -1, -1) > 0
    assert torch.all(hints[:, :2][~mask] == 0)
    assert set(hints[:, 2].unique().tolist()) <= {0.0, 1.0}
    none = sample_true_hints(truth, share=0.0, mean_count=4)
    assert not none.any()


def test_put_hint_writes_a_clipped_square():
    hints = empty_hints(1, 6, 6)
    put_hint(hints, 0, 0, 5, torch.tensor([0.5, -0.25]), patch=3)
    assert hints[0, 2].sum() == 4  # a 3x3 square at the corner keeps 2x2 pixels
    assert torch.all(hints[0, 0][hints[0, 2] > 0] == 0.5)
    assert torch.all(hints[0, 1][hints[0, 2] > 0] == -0.25)


def test_hint_network_without_hints_is_the_automatic_network():
    torch.manual_seed(0)
    automatic = create_model("classifier", **TINY_CLASSIFIER).eval()
    hinted = create_model("classifier", hints=True, **TINY_CLASSIFIER).eval()
    result = hinted.load_state_dict(automatic.state_dict(), strict=False)
    assert sorted(result.missing_keys) == ["hint_head.weight", "hint_stem.weight"]
    x = torch.rand(2, 1, 45, 70) * 2 - 1  # odd sides: padded, the hint map with zeros
    with torch.no_grad():
        reference = automatic(x)
        assert torch.equal(hinted(x), reference)
        assert torch.equal(hinted(x, empty_hints(2, 45, 70)), reference)
        some = empty_hints(2, 45, 70)
        put_hint(some, 0, 20, 30, torch.tensor([0.6, 0.4]), 3)
        hinted.hint_head.weight.normal_()
        out = hinted(x, some)
    assert out.shape == reference.shape
    assert not torch.equal(out[0], reference[0])  # the hinted image changes ...
    assert torch.equal(out[1], reference[1])      # ... the other one does not
    with pytest.raises(InputError, match="takes no colour hints"):
        automatic(x, some)
    with pytest.raises(ValueError, match="hint map of shape"):
        hinted(x, empty_hints(2, 44, 70))


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_training_steps_feed_hints_from_the_true_colours(photo_root, share):
    """The hint weights start at zero and get gradients only from hinted samples: they move
    when training draws hints (data.hints_share) and stay zero when it does not. Whether the
    network learns to use them well is measured on real photos (docs/hints.md)."""
    cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                             f"data.hints_share={share}", "data.hints_mean=12"])
    L, chroma = training_batch(photo_root, n=4, size=64)
    torch.manual_seed(0)
    model = create_model("classifier", hints=True, **TINY_CLASSIFIER)
    objective = build_objective(cfg, model, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(3):
        objective.step(model, opt, L, chroma, step, None)
    moved = [bool(getattr(model, name).weight.abs().sum() > 0)
             for name in ("hint_stem", "hint_head")]
    assert moved == [share > 0] * 2


def test_a_hint_run_starts_from_an_automatic_model(photo_root, tmp_path):
    classifier = ["model.architecture=classifier", "loss.kind=ce",
                  f"model.args={json.dumps(TINY_CLASSIFIER)}"]
    first = train(load_config(None, [*tiny_train_overrides(photo_root, 2), *classifier]),
                  tmp_path / "auto", progress=False)
    hint_args = json.dumps({**TINY_CLASSIFIER, "hints": True})
    start = load_config(None, [*tiny_train_overrides(photo_root, 0), *classifier,
                               f"model.args={hint_args}", f"model.init_from={first.last}"])
    warm = train(start, tmp_path / "warm", progress=False)
    assert "hint inputs start at zero" in (tmp_path / "warm" / "train.log").read_text()
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    source = first.model.eval()
    with torch.no_grad():
        assert torch.equal(warm.model.eval()(x), source(x))
    # a few steps with hints: validation reports the error with hints from the true colours
    steps = load_config(None, [*tiny_train_overrides(photo_root, 4), *classifier,
                               f"model.args={hint_args}", f"model.init_from={first.last}"])
    train(steps, tmp_path / "steps", progress=False)
    with open(tmp_path / "steps" / "metrics.csv", newline="") as f:
        val = [row for row in csv.DictReader(f) if row["split"] == "val"]
    assert val and all(float(row["ab_rmse_hinted"]) > 0 for row in val)


def test_new_layers_can_learn_faster(photo_root, tmp_path):
    """optim.lr_scale: the hint layers in a group of their own at a multiple of the
    scheduled learning rate, kept through the run (and its saved state)."""
    from tinct.errors import InputError as Refused
    from tinct.train.loop import make_optimizer

    hint_args = json.dumps({**TINY_CLASSIFIER, "hints": True})
    overrides = [*tiny_train_overrides(photo_root, 3), "model.architecture=classifier",
                 "loss.kind=ce", f"model.args={hint_args}", 'optim.lr_scale={"hint_": 10}']
    cfg = load_config(None, overrides)
    model = create_model("classifier", hints=True, **TINY_CLASSIFIER)
    optimizer = make_optimizer(model, cfg)
    assert [len(g["params"]) for g in optimizer.param_groups] == [
        sum(1 for n, _ in model.named_parameters() if not n.startswith("hint_")), 2]
    train(cfg, tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run" / "state.pt", map_location="cpu", weights_only=True)
    base, hints = state["optimizer"]["param_groups"]
    assert hints["lr"] == pytest.approx(10 * base["lr"]) and base["lr"] > 0
    with pytest.raises(Refused, match="no trainable parameter starts with 'nope'"):
        make_optimizer(model, load_config(None, ['optim.lr_scale={"nope": 2}']))
