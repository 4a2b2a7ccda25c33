"""Training: objectives learn, configs parse strictly, runs resume exactly, DDP agrees."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers import TINY_UNET, tiny_train_overrides, training_batch
from tinct import color
from tinct.models.registry import create_model
from tinct.train.config import ConfigError, TrainConfig, load_config
from tinct.train.data import ColorizationDataset, FolderSpec, epoch_order, scan_folders, split_files
from tinct.train.loop import lr_at, train
from tinct.train.objectives import build_objective


def _fit(cfg: TrainConfig, model, L, chroma, steps: int, photo_root=None) -> list[float]:
    torch.manual_seed(0)
    objective = build_objective(cfg, model, torch.device("cpu"))
    if photo_root is not None:
        files = [(str(p), 1.0) for p in sorted(photo_root.rglob("*.jpg"))[:6]]
        objective.prepare(ColorizationDataset(files, 64), lambda msg: None)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    return [objective.step(model, opt, L, chroma, s, None)["loss"] for s in range(steps)]


@pytest.mark.parametrize("kind", ["l1", "l2", "huber"])
def test_regression_objectives_learn(photo_root, kind):
    cfg = load_config(None, [f"loss.kind={kind}", "model.architecture=unet"])
    L, chroma = training_batch(photo_root)
    torch.manual_seed(0)
    history = _fit(cfg, create_model("unet", **TINY_UNET), L, chroma, 25)
    assert np.mean(history[-3:]) < 0.7 * np.mean(history[:3])


def test_colorfulness_term_raises_saturation(photo_root):
    from tinct.train import losses

    _, chroma = training_batch(photo_root)
    truth = color.normalize_chroma(chroma)
    pred = (0.3 * truth).requires_grad_(True)  # the desaturated "sepia" look
    loss = losses.colorfulness_loss(pred, chroma)
    assert float(loss.detach()) > 0
    assert float(losses.colorfulness_loss(1.2 * truth, chroma)) == 0.0  # vivid enough: no cost
    loss.backward()
    stepped = pred - 0.5 * pred.grad
    assert stepped.norm(dim=1).mean() > pred.norm(dim=1).mean()
    # the objective adds the term with its weight
    model = create_model("unet", **TINY_UNET).eval()
    out = 0.3 * torch.nn.functional.adaptive_avg_pool2d(truth, (32, 32))
    plain = build_objective(load_config(None, ["loss.kind=l1"]), model, torch.device("cpu"))
    weighted = build_objective(load_config(None, ["loss.kind=l1", "loss.colorfulness=5"]),
                               model, torch.device("cpu"))
    assert float(weighted.loss(model, out, chroma)) > float(plain.loss(model, out, chroma))


@pytest.mark.parametrize("bins", ["gamut", "kmeans"])
def test_classification_objective_learns_with_prior(photo_root, bins):
    cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                             "loss.prior_images=6", "data.workers=0"])
    torch.manual_seed(0)
    model = create_model("classifier", decoder_channels=[32, 16, 16], bins=bins, num_colors=16)
    L, chroma = training_batch(photo_root)
    history = _fit(cfg, model, L, chroma, 25, photo_root=photo_root)
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3])
    # the prior came from the data (not uniform) and sums to 1
    assert torch.isclose(model.prior.sum(), torch.tensor(1.0), atol=1e-4)
    assert model.prior.max() > 1.5 / model.num_bins
    if bins == "kmeans":  # palette replaced by k-means centres inside the data's ab range
        assert model.centres.abs().max() < 110


def test_mixed_objective_makes_a_far_wrong_colour_cost_more_than_a_near_one():
    """Cross-entropy alone prices every bin outside the truth's soft target the same;
    loss.regression adds the decoded chroma's Huber distance, so far costs more than near."""
    cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier"])
    mixed_cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                                   "loss.regression=2"])
    model = create_model("classifier", decoder_channels=[32, 16, 16]).eval()
    truth = torch.tensor([20.0, 30.0])
    chroma = truth.view(1, 2, 1, 1).expand(1, 2, 8, 8).contiguous()
    dist = (model.centres - truth).norm(dim=1)
    outside = (dist > 40).nonzero().flatten()  # well outside the soft target (sigma 5)
    near, far = outside[dist[outside].argmin()], outside[dist[outside].argmax()]

    def logits_on(bin_index):
        out = torch.zeros(1, model.num_bins, 8, 8)
        out[:, bin_index] = 30.0  # all probability on one bin
        return out

    plain = build_objective(cfg, model, torch.device("cpu"))
    mixed = build_objective(mixed_cfg, model, torch.device("cpu"))
    ce_near, ce_far = (float(plain.loss(model, logits_on(b), chroma)) for b in (near, far))
    assert abs(ce_near - ce_far) < 1e-3 * ce_near
    mix_near, mix_far = (float(mixed.loss(model, logits_on(b), chroma)) for b in (near, far))
    assert mix_near > ce_near and mix_far > mix_near + 0.1
    # the term is the Huber distance of the decoded chroma, weighted by loss.regression
    from tinct.train import losses

    decoded = model.decode(logits_on(far))
    assert mix_far == pytest.approx(ce_far + 2 * float(losses.regression_loss(
        decoded, chroma, "huber")), rel=1e-5)
    with pytest.raises(ValueError, match="loss.regression"):
        build_objective(load_config(None, ["model.architecture=unet", "loss.regression=1"]),
                        create_model("unet", **TINY_UNET), torch.device("cpu"))


def test_mixed_objective_trains_a_classifier(photo_root):
    cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                             "loss.prior_images=6", "data.workers=0", "loss.regression=1"])
    torch.manual_seed(0)
    model = create_model("classifier", decoder_channels=[32, 16, 16])
    L, chroma = training_batch(photo_root)
    history = _fit(cfg, model, L, chroma, 25, photo_root=photo_root)
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3])


def test_tinct_train_with_the_mixed_objective_end_to_end(photo_root, tmp_path):
    """`tinct train` with loss.regression: the run trains a classifier with the mixed loss,
    records the weight in the saved model's training record, and the model colorizes."""
    from tinct import Colorizer
    from tinct.cli import main

    overrides = [o for o in tiny_train_overrides(photo_root, 4)
                 if not o.startswith(("model.architecture", "model.args"))]
    run = tmp_path / "mixed"
    status = main(["train", "--run-dir", str(run), "--no-progress",
                   *[f"--{o}" for o in overrides], "--model.architecture=classifier",
                   '--model.args={"decoder_channels": [32, 16, 16]}', "--loss.kind=ce",
                   "--loss.prior_images=4", "--loss.regression=2"])
    assert status == 0
    config = json.loads((run / "last" / "config.json").read_text())
    assert config["output_kind"] == "classification"
    assert config["training"]["loss"]["regression"] == 2.0
    with open(run / "metrics.csv", newline="") as f:
        losses_logged = [float(row["loss"]) for row in csv.DictReader(f) if row["split"] == "train"]
    assert len(losses_logged) == 4 and all(np.isfinite(losses_logged))
    out = Colorizer.from_pretrained(run / "last").colorize(np.full((24, 32, 3), 128, np.uint8))
    assert out.size == (32, 24)


def test_distillation_loss_is_zero_at_the_teacher_and_pulls_toward_it():
    from tinct.train import losses

    torch.manual_seed(0)
    teacher = torch.randn(2, 7, 4, 5)
    assert float(losses.distillation_loss(teacher.clone(), teacher)) == pytest.approx(0, abs=1e-6)
    student = torch.randn(2, 7, 4, 5, requires_grad=True)
    before = losses.distillation_loss(student, teacher)
    assert float(before.detach()) > 0.1
    before.backward()
    with torch.no_grad():
        student -= 1.0 * student.grad
    assert float(losses.distillation_loss(student.detach(), teacher)) < float(before.detach())
    with pytest.raises(ValueError, match="do not match"):
        losses.distillation_loss(student, teacher[:, :5])


def _kl_to(teacher, student, L) -> float:
    from tinct.train import losses

    student.eval()
    with torch.no_grad():
        return float(losses.distillation_loss(student(L), teacher(L)))


def test_distillation_keeps_a_classifier_near_its_teacher(photo_root, tiny_classifier_dir):
    """loss.distill: trained on the same photos from the teacher's own weights, the runs with
    the term stay nearer the teacher's colour distributions than the run without, the more
    so the larger its weight."""
    from tinct.inference import checkpoint

    L, chroma = training_batch(photo_root)
    teacher, _ = checkpoint.load_pretrained(tiny_classifier_dir)
    drift, logs = {}, {}
    for weight in (0, 5, 50):
        cfg = load_config(None, ["loss.kind=ce", "model.architecture=classifier",
                                 f"loss.distill={weight}",
                                 f"loss.distill_from={tiny_classifier_dir}"])
        student, _ = checkpoint.load_pretrained(tiny_classifier_dir)
        assert _kl_to(teacher, student, L) == pytest.approx(0, abs=1e-6)
        objective = build_objective(cfg, student, torch.device("cpu"))
        assert (objective.teacher is not None) == bool(weight)
        opt = torch.optim.Adam(student.parameters(), lr=1e-2)
        student.train()
        logs[weight] = [objective.step(student, opt, L, chroma, s, None) for s in range(8)]
        drift[weight] = _kl_to(teacher, student, L)
    assert "distill" not in logs[0][0] and all(np.isfinite(e["distill"]) for e in logs[50])
    # the larger the weight, the nearer the teacher
    assert drift[0] > 0.005 and drift[0] > 1.5 * drift[5] > 15 * drift[50]
    # the teacher sees clean_L (the undamaged input) where the step is given it, else L
    seen = []
    objective.teacher.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    frozen = torch.optim.SGD(student.parameters(), lr=0)
    objective.step(student, frozen, L, chroma, 0, None, clean_L=torch.flip(L, [-1]))
    objective.step(student, frozen, L, chroma, 0, None)
    assert torch.equal(seen[0], torch.flip(L, [-1])) and torch.equal(seen[1], L)
    # the teacher is not trained
    fresh, _ = checkpoint.load_pretrained(tiny_classifier_dir)
    assert all(torch.equal(a, b) for a, b in zip(teacher.state_dict().values(),
                                                 fresh.state_dict().values(), strict=True))


def test_distillation_is_refused_where_it_cannot_apply(photo_root, tiny_classifier_dir,
                                                       tiny_model_dir):
    cpu = torch.device("cpu")
    classifier = ["loss.kind=ce", "model.architecture=classifier", "loss.distill=1"]
    with pytest.raises(ValueError, match="needs loss.distill_from"):
        build_objective(load_config(None, classifier),
                        create_model("classifier", decoder_channels=[32, 16, 16]), cpu)
    with pytest.raises(ValueError, match="is a regression model"):
        build_objective(load_config(None, ["model.architecture=unet", "loss.distill=1",
                                           f"loss.distill_from={tiny_classifier_dir}"]),
                        create_model("unet", **TINY_UNET), cpu)
    from tinct.inference.checkpoint import ModelLoadError

    with pytest.raises(ModelLoadError, match="automatic colour classifier"):
        build_objective(load_config(None, [*classifier, f"loss.distill_from={tiny_model_dir}"]),
                        create_model("classifier", decoder_channels=[32, 16, 16]), cpu)
    # a student with other colour bins (a 16-colour k-means palette) cannot learn the
    # teacher's 261-bin distributions
    student = create_model("classifier", decoder_channels=[32, 16, 16], bins="kmeans",
                           num_colors=16)
    objective = build_objective(
        load_config(None, [*classifier, f"loss.distill_from={tiny_classifier_dir}"]), student, cpu)
    L, chroma = training_batch(photo_root, n=2)
    calls = []
    objective.teacher.register_forward_pre_hook(lambda module, args: calls.append(1))
    with pytest.raises(ValueError, match="colour bins differ"):
        objective.step(student, torch.optim.Adam(student.parameters()), L, chroma, 0, None)
    assert calls == []  # refused before the teacher's forward pass


def test_tinct_train_distils_from_a_saved_teacher_and_resumes_an_older_run(
        photo_root, tiny_classifier_dir, tmp_path):
    """`tinct train --loss.distill=...`: the term is logged in metrics.csv and recorded in
    the saved model; a run whose metrics.csv was begun without that column resumes into it
    with its own columns."""
    from tinct.cli import main

    overrides = [o for o in tiny_train_overrides(photo_root, 3)
                 if not o.startswith(("model.architecture", "model.args"))]
    run = tmp_path / "distil"
    args = ["train", "--run-dir", str(run), "--no-progress", *[f"--{o}" for o in overrides],
            "--model.architecture=classifier", '--model.args={"decoder_channels": [32, 16, 16]}',
            "--loss.kind=ce", f"--model.init_from={tiny_classifier_dir}", "--loss.distill=2",
            f"--loss.distill_from={tiny_classifier_dir}"]
    assert main(args) == 0
    with open(run / "metrics.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "train"]
    # a loss the model cannot train with is a one-line error, not a traceback
    refused = subprocess.run([sys.executable, "-m", "tinct", "train", "--run-dir",
                              str(tmp_path / "refused"), "--no-progress",
                              *[f"--{o}" for o in tiny_train_overrides(photo_root, 1)],
                              "--loss.distill=1", f"--loss.distill_from={tiny_classifier_dir}"],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "tinct train: error: loss.distill keeps a classifier's colour distributions near a "
        "teacher's; unet is a regression model")
    assert len(rows) == 3 and all(float(row["distill"]) >= 0 for row in rows)
    # it starts at the teacher's weights: near it (not 0: in training, BatchNorm uses the
    # batch's statistics, the teacher its running ones)
    assert float(rows[0]["distill"]) < 0.5
    config = json.loads((run / "last" / "config.json").read_text())
    assert config["training"]["loss"]["distill"] == 2.0
    # an older run's file, without the column, keeps its header and row width on resume
    lines = (run / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("distill")
    (run / "metrics.csv").write_text("".join(
        ",".join(c for i, c in enumerate(line.split(",")) if i != drop) + "\n"
        for line in lines))
    assert main(["train", "--resume", str(run), "--no-progress", "--run.steps=5"]) == 0
    with open(run / "metrics.csv", newline="") as f:
        table = list(csv.reader(f))
    assert "distill" not in table[0] and {len(r) for r in table} == {len(header) - 1}
    assert [int(r[0]) for r in table[1:] if r[2] == "train"] == [1, 2, 3, 4, 5]


def test_gan_objective_pretrains_then_adversarial(photo_root):
    cfg = load_config(None, ["model.architecture=pix2pix", "loss.gan_pretrain_steps=5"])
    torch.manual_seed(0)
    model = create_model("pix2pix", ngf=8, num_downs=5)
    L, chroma = training_batch(photo_root)
    objective = build_objective(cfg, model, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    logs = [objective.step(model, opt, L, chroma, s, None) for s in range(30)]
    assert "d_loss" not in logs[0] and "d_loss" in logs[-1]
    l1 = [entry["loss"] for entry in logs]
    assert np.mean(l1[-3:]) < np.mean(l1[:3])
    assert all(np.isfinite(entry["d_loss"]) for entry in logs[5:])


def test_adversarial_fine_tuning_of_a_regressor(photo_root):
    cfg = load_config(None, ["model.architecture=unet", "loss.adversarial=true"])
    torch.manual_seed(0)
    model = create_model("unet", **TINY_UNET)
    L, chroma = training_batch(photo_root)
    objective = build_objective(cfg, model, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    disc_before = [p.detach().clone() for p in objective.disc.parameters()]
    logs = [objective.step(model, opt, L, chroma, s, None) for s in range(20)]
    assert all(np.isfinite(entry["d_loss"]) and np.isfinite(entry["g_adv"]) for entry in logs)
    assert any(not torch.equal(a, b) for a, b in zip(disc_before, objective.disc.parameters(),
                                                     strict=True))  # the critic trained too
    l1 = [entry["loss"] for entry in logs]
    assert np.mean(l1[-3:]) < np.mean(l1[:3])
    # a classifier has no chroma to show a critic: refused, not silently ignored
    with pytest.raises(ValueError, match="adversarial needs a regression model"):
        build_objective(load_config(None, ["loss.kind=ce", "loss.adversarial=true"]),
                        create_model("classifier", decoder_channels=[32, 16, 16]),
                        torch.device("cpu"))


def test_colorfulness_term_acts_in_the_adversarial_phase(photo_root):
    L, chroma = training_batch(photo_root)
    first_loss = {}
    for weight in (0, 5):
        cfg = load_config(None, ["model.architecture=unet", "loss.adversarial=true",
                                 f"loss.colorfulness={weight}"])
        torch.manual_seed(0)
        model = create_model("unet", **TINY_UNET)
        head = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():  # a model that predicts no colour at all
            head.weight.zero_()
            head.bias.zero_()
        objective = build_objective(cfg, model, torch.device("cpu"))
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        log = objective.step(model, opt, L, chroma, 0, None)
        assert "g_adv" in log  # an adversarial step, not a pre-training one
        first_loss[weight] = log["loss"]
    assert first_loss[5] > first_loss[0] + 1e-3


def test_gan_fine_tune_of_a_saved_regressor_resumes(photo_root, tmp_path):
    first = train(load_config(None, tiny_train_overrides(photo_root, 4)), tmp_path / "first",
                  progress=False)
    overrides = [*tiny_train_overrides(photo_root, 6), f"model.init_from={first.last}",
                 "loss.adversarial=true"]
    stopped = train(load_config(None, [*overrides, "run.steps=4"]), tmp_path / "gan",
                    progress=False)
    state = torch.load(stopped.run_dir / "state.pt", weights_only=True)
    assert "disc" in state["objective"]  # the critic is checkpointed with the generator
    resumed = train(load_config(None, overrides), tmp_path / "gan", progress=False, resume=True)
    rows = (resumed.run_dir / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    train_rows = [dict(zip(header, r.split(","), strict=True)) for r in rows[1:]
                  if ",train," in r]
    assert [int(r["step"]) for r in train_rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["d_loss"] and np.isfinite(float(r["d_loss"])) for r in train_rows)


def test_config_overrides_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run: {steps: 7}\nmodel: {architecture: cnn, args: {width: 8}}\n")
    cfg = load_config(path, ["--run.batch_size=3", "optim.betas=[0.5, 0.9]",
                             "run.channels_last=true", 'model.args={"width": 16}'])
    assert (cfg.run.steps, cfg.run.batch_size, cfg.optim.betas) == (7, 3, [0.5, 0.9])
    assert cfg.run.channels_last is True and cfg.model.args == {"width": 16}
    with pytest.raises(ConfigError, match="unknown config key 'run.stepz'"):
        load_config(path, ["run.stepz=3"])
    with pytest.raises(ConfigError, match="unknown config section"):
        load_config(path, ["nope.x=1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(path, ["run.steps=many"])
    path.write_text("run: {speed: 1}\n")
    with pytest.raises(ConfigError, match="run.speed"):
        load_config(path)


def test_config_extends_merges_sections_key_by_key(tmp_path):
    """``extends`` starts from another file: a section's keys are merged over the parent's
    (lists replaced whole), the path is relative to the file, and loops and missing parents
    are clear errors."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "base.yaml").write_text(
        "run: {steps: 7, batch_size: 4}\noptim: {lr: 0.5, betas: [0.1, 0.2]}\n"
        "model: {architecture: cnn, args: {width: 8}}\n")
    child = tmp_path / "recipes" / "child.yaml"
    child.write_text("extends: ../base.yaml\nrun: {steps: 9}\noptim: {betas: [0.3, 0.4]}\n")
    cfg = load_config(child, ["run.batch_size=5"])
    assert (cfg.run.steps, cfg.run.batch_size) == (9, 5)
    assert (cfg.optim.lr, cfg.optim.betas) == (0.5, [0.3, 0.4])
    assert cfg.model.architecture == "cnn" and cfg.model.args == {"width": 8}
    grandchild = tmp_path / "recipes" / "grandchild.yaml"
    grandchild.write_text("extends: child.yaml\nrun: {batch_size: 2}\n")
    assert (load_config(grandchild).run.steps, load_config(grandchild).run.batch_size) == (9, 2)
    (tmp_path / "base.yaml").write_text("extends: recipes/child.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(child)
    child.write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="nowhere.yaml: config file not found"):
        load_config(child)


def test_lr_schedule_warmup_then_cosine():
    cfg = load_config(None, ["run.steps=100", "optim.warmup_steps=10", "optim.lr=1.0",
                             "optim.min_lr_ratio=0.1"])
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)


def test_data_scan_split_and_weighting(photo_root, tmp_path):
    report = scan_folders([FolderSpec("a", 3.0), FolderSpec("b", 1.0)], root=photo_root,
                          cache=tmp_path / "scan.json")
    assert len(report.gray) == 1 and len(report.unreadable) == 1
    assert len(report.files) == 12
    again = scan_folders([FolderSpec("a", 3.0), FolderSpec("b", 1.0)], root=photo_root,
                         cache=tmp_path / "scan.json")
    assert again.files == report.files
    train_files, val_files = split_files(report.files, 0.25)
    assert set(train_files).isdisjoint(val_files) and len(train_files) + len(val_files) == 12
    assert split_files(report.files, 0.25) == (train_files, val_files)  # deterministic
    weights = np.array([w for _, w in report.files])
    order = epoch_order(weights, seed=0, epoch=0, fraction=200)
    drawn_a = np.isin(order, np.flatnonzero(weights == 3.0)).mean()
    assert drawn_a == pytest.approx(0.75, abs=0.05)  # 6 photos x3 vs 6 photos x1


def test_validation_photos_come_from_every_folder_in_turn(tmp_path):
    from tinct.train.data import interleave_by_folder

    big, small = tmp_path / "big", tmp_path / "small"
    files = [(str(big / f"{i}.jpg"), 1.0) for i in range(8)]
    files += [(str(small / f"{i}.jpg"), 4.0) for i in range(2)] + [("/other/x.jpg", 1.0)]
    picked = interleave_by_folder(files, [big, small], 5)
    assert [Path(p).parent.name for p, _ in picked] == ["big", "small", "other", "big", "small"]
    assert interleave_by_folder(files, [big, small], 100)[-1] == files[7]  # all, none twice
    assert len(interleave_by_folder(files, [big, small], 100)) == len(files)


def test_split_does_not_depend_on_how_the_root_is_spelled(photo_root, tmp_path, monkeypatch):
    from tinct.train.data import split_key

    folders = [FolderSpec("a"), FolderSpec("b")]
    absolute = scan_folders(folders, root=photo_root.resolve())
    monkeypatch.chdir(photo_root.parent)
    relative = scan_folders(folders, root=Path(photo_root.name))
    assert absolute.files[0][0] != relative.files[0][0]  # the paths really are spelled apart

    def val_names(report, root):
        return sorted(Path(p).name for p, _ in split_files(report.files, 0.5, root)[1])

    by_absolute = val_names(absolute, photo_root.resolve())
    assert by_absolute == val_names(relative, Path(photo_root.name))
    assert 0 < len(by_absolute) < len(absolute.files)
    # without the root the spellings split differently (what made earlier splits drift)
    assert any(val_names(r, None) != by_absolute for r in (absolute, relative))
    # files outside the root keep their own path as the key
    assert split_key("/elsewhere/x.jpg", photo_root) == "/elsewhere/x.jpg"


def test_run_folder_contents(photo_root, tmp_path):
    cfg = load_config(None, tiny_train_overrides(photo_root, 6))
    result = train(cfg, tmp_path / "run", progress=False)
    run = result.run_dir
    for name in ("config.yaml", "metrics.csv", "train.log", "state.pt", "loss_curves.png",
                 "best/config.json", "best/model.safetensors", "last/model.safetensors"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "grids").iterdir())[-1] == "step_000006.jpg"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,split,loss")
    assert sum(",val," in r for r in rows) == 2 and sum(",train," in r for r in rows) == 6
    summary = json.loads((run / "last" / "config.json").read_text())["training"]
    assert summary["steps"] == 6 and summary["images_seen"] == 12
    assert summary["precision"] == "fp32" and summary["init_from"] is None
    assert summary["data"]["skipped_gray"] == 1 and summary["data"]["skipped_unreadable"] == 1
    from tinct import Colorizer

    out = Colorizer.from_pretrained(result.best).colorize(np.zeros((20, 30, 3), np.uint8))
    assert out.size == (30, 20)


def test_without_a_data_root_a_relative_folder_is_a_clear_error(photo_root, tmp_path, capsys,
                                                                  monkeypatch):
    """Issue 16: with neither data.root nor $TINCT_DATA, tinct guesses no folder; it says how
    to give one, in one line, before the run folder is made."""
    from tinct.cli import main

    monkeypatch.delenv("TINCT_DATA", raising=False)
    overrides = [o for o in tiny_train_overrides(photo_root, 2) if not o.startswith("data.root")]
    run = tmp_path / "run"
    status = main(["train", "--run-dir", str(run), "--no-progress",
                   *[f"--{o}" for o in overrides]])
    err = capsys.readouterr().err
    assert status == 2 and not run.exists() and len(err.strip().splitlines()) == 1
    assert "a relative data folder needs a data root" in err and "TINCT_DATA" in err
    # absolute folders need no root
    absolute = [o for o in overrides if not o.startswith("data.folders")]
    folders = json.dumps([{"path": str(photo_root / "a")}, {"path": str(photo_root / "b")}])
    assert main(["train", "--run-dir", str(run), "--no-progress",
                 *[f"--{o}" for o in absolute], f"--data.folders={folders}"]) == 0


def test_missing_data_folder_fails_before_the_run_folder_is_made(photo_root, tmp_path, capsys):
    from tinct.cli import main

    overrides = [o for o in tiny_train_overrides(photo_root, 2) if not o.startswith("data.folders")]
    run = tmp_path / "run"
    status = main(["train", "--run-dir", str(run), "--no-progress",
                   *[f"--{o}" for o in overrides], '--data.folders=[{"path": "nope"}]'])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{photo_root / 'nope'}: data folder not found")
    assert len(err.splitlines()) == 1
    assert not run.exists()


def test_init_from_warm_starts_from_a_saved_model(photo_root, tmp_path):
    from tinct.inference.checkpoint import ModelLoadError

    first = train(load_config(None, tiny_train_overrides(photo_root, 4)), tmp_path / "first",
                  progress=False)
    saved = load_file(str(first.last / "model.safetensors"))
    # zero steps: the warm-started model is exactly the saved one
    warm_cfg = load_config(None, [*tiny_train_overrides(photo_root, 0),
                                  f"model.init_from={first.last}"])
    warm = train(warm_cfg, tmp_path / "warm", progress=False)
    for key, value in warm.model.state_dict().items():
        torch.testing.assert_close(value.float(), saved[key].float(), msg=key)
    assert "initialised from" in (tmp_path / "warm" / "train.log").read_text()
    # a fresh run of the same seed starts elsewhere, so the copy above is not a coincidence
    fresh = create_model("unet", **TINY_UNET).state_dict()
    assert any(not torch.equal(fresh[k].float(), saved[k].float()) for k in fresh)
    # a different architecture is refused, naming the model folder
    wrong = load_config(None, [*tiny_train_overrides(photo_root, 1), "model.architecture=cnn",
                               "model.args={}", f"model.init_from={first.last}"])
    with pytest.raises(ModelLoadError, match=str(first.last)):
        train(wrong, tmp_path / "wrong", progress=False)
    # from the command line: a one-line error naming the missing model, before any data scan
    done = subprocess.run(_train_cmd(tmp_path / "missing", [*tiny_train_overrides(photo_root, 1),
                                                            "model.init_from=no-such-model"]),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("tinct train: error: no-such-model: no such model folder")
    assert not (tmp_path / "missing" / "data_scan.json").exists()


def test_init_from_repairs_nonfinite_norm_statistics(photo_root, tmp_path):
    """A float16 file from before large variances were kept in float32 holds inf there;
    training from it must not carry inf (and an EMA of it, NaN) into validation."""
    from safetensors.torch import load_file, save_file

    first = train(load_config(None, tiny_train_overrides(photo_root, 2)), tmp_path / "first",
                  progress=False)
    weights = first.last / "model.safetensors"
    state = load_file(str(weights))
    var_key = next(k for k in state if k.endswith("running_var"))
    state[var_key][:2] = float("inf")
    save_file(state, str(weights), metadata={"format": "tinct-model"})
    cfg = load_config(None, [*tiny_train_overrides(photo_root, 4), "optim.ema=0.9",
                             f"model.init_from={first.last}"])
    warm = train(cfg, tmp_path / "warm", progress=False)
    assert all(torch.isfinite(v).all() for v in warm.model.state_dict().values()
               if v.is_floating_point())
    rows = [r.split(",") for r in (tmp_path / "warm" / "metrics.csv").read_text().splitlines()]
    val_losses = [float(r[3]) for r in rows[1:] if r[2] == "val"]
    assert val_losses and all(np.isfinite(val_losses))
    log = (tmp_path / "warm" / "train.log").read_text()
    assert "non-finite BatchNorm statistics repaired" in log


def _train_cmd(run_dir: Path, overrides: list[str], resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "tinct", "train", "--no-progress"]
    cmd += ["--resume", str(run_dir)] if resume else ["--run-dir", str(run_dir)]
    return cmd + [f"--{o}" for o in overrides]


def test_sigkill_and_resume_matches_uninterrupted(photo_root, tmp_path):
    steps = 14
    overrides = tiny_train_overrides(photo_root, steps) + ["data.size=96"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(tmp_path / "full", overrides), check=True, env=env,
                   capture_output=True, timeout=300)
    proc = subprocess.Popen(_train_cmd(tmp_path / "killed", overrides), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "state.pt"
    deadline = time.monotonic() + 240
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(state, weights_only=True)["step"]
    assert killed_at < steps, "the run finished before it could be killed"
    assert not (tmp_path / "killed" / "last").exists()
    subprocess.run(_train_cmd(tmp_path / "killed", [], resume=True), check=True, env=env,
                   capture_output=True, timeout=300)
    a = load_file(str(tmp_path / "full" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    rows = (tmp_path / "killed" / "metrics.csv").read_text().splitlines()[1:]
    train_steps = [int(r.split(",")[0]) for r in rows if ",train," in r]
    assert train_steps == list(range(1, steps + 1))  # no step logged twice after the resume


@pytest.mark.parametrize("how", ["sigint", "sigterm-to-group-with-worker"])
def test_ctrl_c_saves_checkpoint_and_exits_cleanly(photo_root, tmp_path, how):
    """SIGINT to the trainer, or SIGTERM to its whole process group (a scheduler's preemption,
    ``kill -- -PGID``) while a DataLoader worker runs: checkpoint, clean exit, status 0."""
    overrides = tiny_train_overrides(photo_root, 100000) + ["data.size=96"]
    if how != "sigint":
        overrides.append("data.workers=1")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_train_cmd(tmp_path / "run", overrides), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    csv = tmp_path / "run" / "metrics.csv"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if csv.exists() and len(csv.read_text().splitlines()) > 3:
            break
        time.sleep(0.05)
    if how == "sigint":
        proc.send_signal(signal.SIGINT)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    step = torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"]
    assert 0 < step < 100000
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()


DDP_SCRIPT = """
import sys, torch
from pathlib import Path
from tinct.train.config import load_config
from tinct.train.loop import train
run_dir, out_dir, *overrides = sys.argv[1:]
result = train(load_config(None, overrides), Path(run_dir), progress=False)
rank = int(__import__("os").environ["RANK"])
torch.save(result.model.state_dict(), Path(out_dir) / f"rank{rank}.pt")
"""


def test_two_process_ddp_ranks_agree(photo_root, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_port=0", "--rdzv_backend=c10d", "--rdzv_endpoint=127.0.0.1:0",
           str(script), str(tmp_path / "run"), str(tmp_path),
           *tiny_train_overrides(photo_root, 4)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    for key in r0:
        torch.testing.assert_close(r0[key], r1[key], msg=key)
    run = tmp_path / "run"
    assert [p.name for p in run.glob("state*.pt")] == ["state.pt"]
    state = torch.load(run / "state.pt", weights_only=True)
    assert state["world_size"] == 2 and state["step"] == 4
    summary = json.loads((run / "last" / "config.json").read_text())["training"]
    assert summary["images_seen"] == 4 * 2 * 2
    # a 2-process run resumes in one process
    cfg = load_config(run / "config.yaml", ["run.steps=6"])
    result = train(cfg, run, resume=True, progress=False)
    assert result.step == 6


def test_dataset_sample_is_deterministic(photo_root):
    files = [(str(p), 1.0) for p in sorted(photo_root.rglob("*.jpg"))]
    ds = ColorizationDataset(files, 48, seed=3)
    ds.set_epoch(2)
    a, b = ds[5], ds[5]
    assert torch.equal(a["L"], b["L"]) and torch.equal(a["chroma"], b["chroma"])
    assert a["L"].shape == (1, 48, 48) and a["chroma"].shape == (2, 48, 48)
    assert float(a["L"].min()) >= -1 and float(a["L"].max()) <= 1
    rgb = color.from_lightness_chroma(color.denormalize_lightness(a["L"]), a["chroma"])
    assert rgb.shape == (3, 48, 48)


def _finished_run(photo_root: Path, tmp_path: Path, steps: int = 2) -> Path:
    cfg = load_config(None, tiny_train_overrides(photo_root, steps))
    return train(cfg, tmp_path / "run", progress=False).run_dir


def test_resume_state_is_plain_data_and_a_crafted_one_runs_no_code(photo_root, tmp_path,
                                                                  capsys):
    """state.pt loads with weights_only=True; a pickle that would run code is refused with one
    line (issue 17, item 2), and nothing it carries is executed."""
    import pickle

    from tinct.cli import main

    run = _finished_run(photo_root, tmp_path)
    state = torch.load(run / "state.pt", weights_only=True)  # plain tensors and numbers
    assert state["step"] == 2 and state["rng"]["numpy"]["keys"].dtype == torch.int64
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(run / "state.pt", "wb") as f:
        pickle.dump({"model": Exploit()}, f)
    status = main(["train", "--resume", str(run), "--no-progress", "--run.steps=4"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and not marker.exists()
    assert len(err.splitlines()) == 1 and "state.pt" in err and "refused" in err


@pytest.mark.parametrize("damage", ["truncated", "no-model", "garbage"])
def test_damaged_resume_state_is_a_one_line_error(photo_root, tmp_path, capsys, damage):
    """Issue 17, item 8: a damaged state.pt, or one without a model, names the file and the
    problem in one line (no traceback, no bare 'model')."""
    from tinct.cli import main

    run = _finished_run(photo_root, tmp_path)
    path = run / "state.pt"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "no-model":
        state = torch.load(path, weights_only=True)
        del state["model"]
        torch.save(state, path)
    else:
        path.write_bytes(random.Random(17).randbytes(4096))
    status = main(["train", "--resume", str(run), "--no-progress", "--run.steps=4"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and str(path) in err
    assert ("missing model" in err) if damage == "no-model" else ("state" in err)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("header", [b"", b"\x80\x02", b"PK\x03\x04"])
def test_any_garbage_state_is_a_state_error(tmp_path, header):
    """Issue 17, item 8: whatever bytes a state.pt holds (random, pickle-looking, zip-looking),
    loading it raises StateError naming the file, never another exception type."""
    from tinct.train.state import StateError, load_state

    path = tmp_path / "state.pt"
    rng = random.Random(len(header))
    for _ in range(150):
        path.write_bytes(header + rng.randbytes(rng.randrange(1, 600)))
        with pytest.raises(StateError, match="state.pt"):
            load_state(tmp_path)


def test_stale_checkpoint_temp_files_are_cleaned_on_the_next_run(photo_root, tmp_path):
    """Issue 17, item 10: a trainer killed while writing leaves .state.pt.tmp-PID; the next
    run of that folder deletes it (a live process's temp file is kept)."""
    from tinct.train.state import remove_stale_temp_files

    run = _finished_run(photo_root, tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = run / f".state.pt.tmp-{dead.pid}"
    stale.write_bytes(b"half a checkpoint")
    live = run / f".state.pt.tmp-{os.getppid()}"
    live.write_bytes(b"being written")
    assert remove_stale_temp_files(run) == [stale]
    assert not stale.exists() and live.exists()
    live.unlink()
    stale.write_bytes(b"half a checkpoint")
    cfg = load_config(run / "config.yaml", ["run.steps=3"])
    train(cfg, run, resume=True, progress=False)
    assert not stale.exists() and (run / "state.pt").is_file()


def test_throughput_bench_baseline_loss_is_todays_loss(monkeypatch):
    """bench/train_throughput.py times the trainer at the v3 issue with its dense
    cross-entropy; that baseline must compute today's loss (with and without rebalancing
    weights), or the ratio would compare different work."""
    from tinct.models.quantization import gamut_bins
    from tinct.train.losses import classification_loss

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    from train_throughput import dense_classification_loss

    bins, gen = gamut_bins(), torch.Generator().manual_seed(5)
    logits = torch.randn(3, len(bins), 12, 12, generator=gen)
    chroma = 35 * torch.randn(3, 2, 48, 48, generator=gen)
    weights = torch.rand(len(bins), generator=gen) + 0.5
    for w in (None, weights):
        dense = dense_classification_loss(logits, chroma, bins, w)
        assert torch.allclose(dense, classification_loss(logits, chroma, bins, w), rtol=1e-5)
