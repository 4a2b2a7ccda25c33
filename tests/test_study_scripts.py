"""The study scripts (scripts/study/, scripts/): plans expand into `tinct train` runs, docs
tables name data portably, packed data keeps the split."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tinct.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """A script of ``scripts/`` or ``scripts/study/`` imported as a module."""
    path = ROOT / "scripts" / f"{name}.py"
    if not path.exists():
        path = ROOT / "scripts" / "study" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _driver():
    return _script("compare_families")


def _overrides(args: list[str]) -> list[str]:
    """The ``--section.key=value`` overrides of a ``tinct train`` argument list."""
    return [a[2:] for a in args if a.startswith("--") and "=" in a]


@pytest.mark.parametrize("plan", ["compare.yaml", "ablations.yaml"])
def test_every_planned_run_is_a_valid_training_config(plan, tmp_path):
    commands = _driver().train_commands(ROOT / "configs" / plan, tmp_path, 3200, None)
    assert commands
    for name, args in commands:
        cfg = load_config(Path(args[args.index("--config") + 1]), _overrides(args))
        assert cfg.run.name == name and cfg.run.batch_size == 16
        assert cfg.run.steps in (200, 250)  # the budget (3200 / 16), or a fine-tune's own
        assert "{runs}" not in cfg.model.init_from


def test_encoder_plan_trains_each_encoder_from_imagenet_with_its_early_blocks_frozen(tmp_path):
    """configs/encoders-v3.yaml: Lite0 and Lite2 on v3's recipe, the same images, from ImageNet
    weights (not from a tinct model), each with exactly its stride-2 and stride-4 blocks frozen."""
    from tinct.models.registry import create_model
    from tinct.train.loop import freeze_parameters

    commands = _driver().train_commands(ROOT / "configs" / "encoders-v3.yaml", tmp_path, None, None)
    assert [name for name, _ in commands] == ["classifier-lite0", "classifier-lite2"]
    for name, args in commands:
        cfg = load_config(Path(args[args.index("--config") + 1]), _overrides(args))
        assert cfg.model.init_from == "" and cfg.model.args["pretrained"] is True
        assert cfg.run.steps == 3000 and cfg.data.degrade == 0.4 and cfg.loss.rebalance == 1.0
        model = create_model(cfg.model.architecture, **{**cfg.model.args, "pretrained": False})
        encoder = model.backbone.encoder
        assert encoder.variant == int(name[-1])
        freeze_parameters(model, cfg.optim.freeze)
        frozen_blocks = {int(m.group(1)) for n, p in model.named_parameters()
                         if not p.requires_grad
                         and (m := re.match(r"backbone\.encoder\._blocks\.(\d+)\.", n))}
        # the stride-4 tap is the last block of the second stage
        assert frozen_blocks == set(range(encoder._tap_index[1] + 1))


def test_plan_budget_runs_placeholder_and_resume(tmp_path):
    plan = tmp_path / "plan.yaml"
    (tmp_path / "base.yaml").write_text("model: {architecture: cnn}\n")
    plan.write_text("base: base.yaml\nbudget: {images: 640, batch_size: 32, crop: 96}\n"
                    "common: [run.eval_every=5]\n"
                    "families:\n  a: [loss.kind=l2]\n"
                    "  b: ['model.init_from={runs}/a/best', run.steps=3]\n")
    runs = tmp_path / "runs"
    driver = _driver()
    (name_a, args_a), (name_b, args_b) = driver.train_commands(plan, runs, None, None)
    cfg_a = load_config(tmp_path / "base.yaml", _overrides(args_a))
    assert (name_a, cfg_a.run.steps, cfg_a.data.size, cfg_a.loss.kind) == ("a", 20, 96, "l2")
    cfg_b = load_config(tmp_path / "base.yaml", _overrides(args_b))
    assert cfg_b.model.init_from == str(runs / "a" / "best") and cfg_b.run.steps == 3
    assert [n for n, _ in driver.train_commands(plan, runs, 6400, {"b"})] == ["b"]
    # a run folder with a checkpoint is resumed, not restarted
    (runs / "a").mkdir(parents=True)
    (runs / "a" / "state.pt").write_bytes(b"")
    assert driver.train_commands(plan, runs, None, None)[0][1] == ["--resume", str(runs / "a")]


def test_pack_data_keeps_the_training_split_in_parts(tmp_path):
    from PIL import Image
    from skimage import data

    from tinct.train.data import FolderSpec, scan_folders, split_files

    root = tmp_path / "photos"
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket", "cat"]):
        for flip in range(4):
            img = Image.fromarray(getattr(data, name)()).rotate(90 * flip, expand=True)
            (root / "set" / ("x" if i % 2 else "y")).mkdir(parents=True, exist_ok=True)
            img.save(root / "set" / ("x" if i % 2 else "y") / f"{name}{flip}.png")
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{root: {root}, folders: [{{path: set, weight: 2}}], "
                      "val_fraction: 0.3}\n")
    out = tmp_path / "pack"
    parts = _script("pack_data").pack(config, out, side=48, quality=80, part_mib=0.01)
    assert len(parts) > 1 and all(size <= 0.01 * 2**20 for size in parts[:-1])
    packed = sorted(out.rglob("*.jpg"))
    # one folder per part (one carry path each), the data root's layout inside it
    assert {p.relative_to(out).parts[:2] for p in packed} == {
        (f"part-{k}", "set") for k in range(len(parts))}
    assert all(min(Image.open(p).size) == 48 for p in packed)
    # merged with hard links as the docstring says, the parts are one data root again
    merged = tmp_path / "merged"
    for part in sorted(out.glob("part-*")):
        subprocess.run(["cp", "-al", f"{part}/.", f"{merged}/"], check=True)
    assert len(scan_folders([FolderSpec("set")], root=merged).files) == len(packed)
    # exactly the training split was packed; the validation photos stay behind
    train, val = split_files(scan_folders([FolderSpec("set")], root=root).files, 0.3, root)
    assert val and sorted(p.stem for p in packed) == sorted(Path(f).stem for f, _ in train)
    assert sum(p.stat().st_size for p in packed) == sum(parts)
    # --square keeps each photo's centre square only (all the training cache uses)
    pack_data = _script("pack_data")
    squares = pack_data.pack(config, tmp_path / "squares", side=48, quality=80, part_mib=1,
                             square=True)
    square_files = sorted((tmp_path / "squares").rglob("*.jpg"))
    assert len(square_files) == len(packed) and sum(squares) < sum(parts)
    assert all(Image.open(p).size == (48, 48) for p in square_files)


def test_validation_folder_links_a_capped_sample_or_every_photo_under_chosen_folders(tmp_path,
                                                                                   capsys):
    from PIL import Image
    from skimage import data

    from tinct.train.data import FolderSpec, scan_folders, split_files

    root = tmp_path / "photos"
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket", "cat"]):
        for flip in range(4):
            sub = root / "set" / ("x" if i % 2 else "y")
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(getattr(data, name)()[::8, ::8]).rotate(90 * flip, expand=True).save(
                sub / f"{name}{flip}.png")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(f"data: {{root: {root}, folders: [{{path: set}}], "
                                     "val_fraction: 0.5}\n")
    _, val = split_files(scan_folders([FolderSpec("set")], root=root).files, 0.5, root)
    held_out = sorted(Path(f) for f, _ in val)
    in_y = [p for p in held_out if p.parent.name == "y"]
    assert len(held_out) > 2 and 0 < len(in_y) < len(held_out)
    script = _script("validation_folder")
    out = tmp_path / "val"
    # the default: the first --per-folder photos of each config folder, in path order
    assert script.main([str(run), str(out), "--per-folder", "2"]) == 0
    links = sorted(out.iterdir())
    assert [p.name for p in links] == [f"set__{p.name}" for p in held_out[:2]]
    assert all(p.resolve() == q.resolve() for p, q in zip(links, held_out[:2], strict=True))
    # --under keeps only the photos under a sub-folder; --per-folder 0 takes all of them,
    # and the links of the earlier build that are not among them are removed
    assert script.main([str(run), str(out), "--under", "set/y", "--per-folder", "0"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"set__{p.name}" for p in in_y)
    assert f"set/y: {len(in_y)} validation photos" in capsys.readouterr().out
    # a folder that is not under the data root is a one-line error
    assert script.main([str(run), str(out), "--under", "set/z"]) == 2
    assert "set/z: no such folder under the data root" in capsys.readouterr().err


def test_comparison_doc_tables_name_data_portably(tiny_model_dir, tiny_classifier_dir, tmp_path,
                                                   monkeypatch):
    import json
    import sys

    from test_evaluate import write_photos
    from tinct.cli import main

    photos = write_photos(tmp_path / "data" / "eval" / "set1", broken=False)
    report = tmp_path / "report"
    assert main(["compare", str(tiny_model_dir), str(tiny_classifier_dir), "--data",
                 str(photos), "-o", str(report), "--no-features", "--workers", "0", "-q"]) == 0
    out = tmp_path / "docs"
    monkeypatch.setattr(sys, "argv", ["comparison_doc.py", str(report / "metrics.json"),
                                      "--out", str(out), "--name", "t", "--no-samples",
                                      "--frontier",
                                      "--data", str(tmp_path / "data")])
    _script("comparison_doc").main()
    text = (out / "t_table.md").read_text()
    assert "photos of `../shared/data/eval/set1`" in text and str(tmp_path) not in text
    models = json.loads((report / "metrics.json").read_text())["models"]
    rows = [line for line in text.splitlines() if line.startswith("| tiny")]
    assert len(rows) == 2
    best = max(models, key=lambda m: m["summary"]["psnr"])
    assert f"PSNR **{best['name']}**" in text
    assert (out / "images" / "t_metrics.png").stat().st_size > 1000
    assert (out / "images" / "t_frontier.png").stat().st_size > 1000
    doc = _script("comparison_doc")
    assert [doc.family(n) for n in ("v2 T=0.6 b=0.5", "last-T1.3", "unet-lite0")] == [
        "v2", "last", "unet-lite0"]
    # three photo sets: two charts a row, so two rows of two (one left empty)
    from PIL import Image
    report_json = json.loads((report / "metrics.json").read_text())
    three = [{**report_json, "data_dir": f"/data/eval/set{i}"} for i in range(3)]
    doc.frontier(three, out / "three.png")
    one_width, one_height = Image.open(out / "images" / "t_frontier.png").size
    assert Image.open(out / "three.png").size == (2 * one_width, 2 * one_height)


def test_ship_model_stores_fp16_with_a_model_card(tiny_classifier_dir, tmp_path, monkeypatch):
    import json
    import sys

    from safetensors import safe_open

    from tinct.evaluation.tune import Choice, Decode, save_with_decode
    from tinct.inference.checkpoint import load_pretrained, read_config, write_config

    tuned = save_with_decode(tiny_classifier_dir, tmp_path / "tuned",
                             Choice(Decode(0.6, 0.25, flip=True, size=80), 0, "test"), {})
    write_config(tuned, read_config(tuned).replace(levels=True))  # as choose_levels.py does
    metrics = tmp_path / "eval.json"
    metrics.write_text(json.dumps({"kodak24": {"psnr": 23.1}}))
    ship = _script("ship_model")
    monkeypatch.setattr(ship, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(sys, "argv", ["ship_model.py", str(tuned), "--name", "shipped",
                                      "--metrics", str(metrics)])
    ship.main()
    out = tmp_path / "weights" / "shipped"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert f.get_tensor("head.weight").dtype == torch.float16
    card = (out / "MODEL_CARD.md").read_text()
    assert "T = 0.6, decode-time rebalancing boost 0.25" in card and '"psnr": 23.1' in card
    assert "| inference | flip averaging" in card and "| inference | input levels" in card
    assert "| working size | 80 px" in card
    model, config = load_pretrained(out)
    assert (model.temperature, model.boost) == (0.6, 0.25)
    assert config.metrics["eval"] == {"kodak24": {"psnr": 23.1}}
    assert config.working_size == 80 and config.flip is True and config.levels is True
    assert config.to_dict()["inference"] == {"flip": True, "levels": True}


def test_ship_model_strips_machine_paths_but_keeps_a_runs_checkpoint_name():
    strip = _script("ship_model").strip_machine_paths
    recorded = {"init_from": "~/tinct-runs/v3f2/last", "root": "/home/alice/photos",
                "folders": [{"path": "train/faces"}, "/data/best"], "teacher": "tinct-base"}
    assert strip(recorded) == {"init_from": "v3f2/last", "root": "photos",
                               "folders": [{"path": "train/faces"}, "data/best"],
                               "teacher": "tinct-base"}
    assert strip("/best") == "best" and strip("~/last") == "last"


def test_ship_model_records_a_score_folder_and_the_tuning(tiny_classifier_dir, tmp_path,
                                                           monkeypatch, capsys):
    """--scores: each comparison of a score_candidate.sh folder (and its damaged copies) goes
    into the shipped metrics under the set's name; the tune's own report (no model of the
    candidate's name) is skipped; the tuning record is kept without the machine's paths; the
    README's model tables are printed."""
    import sys

    from tinct.evaluation.tune import Choice, Decode, save_with_decode
    from tinct.inference.checkpoint import load_pretrained

    score = tmp_path / "score"
    cand = save_with_decode(tiny_classifier_dir, score / "cand",
                            Choice(Decode(0.38, 0.2, size=64), 0, "test"),
                            {"data": str(tmp_path / "validation"), "n_images": 3})

    def report(folder: Path, names: list[str], psnr: float) -> None:
        folder.mkdir(parents=True)
        models = [{"name": n, "n_images": 5, "summary": {
            "psnr": psnr + i, "auc": 0.9, "fd_effnet_lite2": 40.0, "ssim": 0.93,
            "ab_rmse": 20.0, "dcf": 7.0 + i, "semantic_agreement": 0.6}}
            for i, n in enumerate(names)]
        (folder / "metrics.json").write_text(json.dumps({"models": models}))

    report(score / "tune", ["cand T=0.38", "gray"], 20.0)
    report(score / "kodak24", ["cand", "tinct-base", "gray"], 23.0)
    report(score / "damaged" / "kodak24", ["cand", "tinct-base", "gray"], 21.0)
    ship = _script("ship_model")
    monkeypatch.setattr(ship, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(sys, "argv", ["ship_model.py", str(cand), "--name", "shipped",
                                      "--scores", str(score)])
    ship.main()
    _, config = load_pretrained(tmp_path / "weights" / "shipped")
    common = {"auc": 0.9, "fd_effnet_lite2": 40.0, "ssim": 0.93, "ab_rmse": 20.0,
              "semantic_agreement": 0.6, "n_images": 5}
    assert config.metrics["eval"] == {"kodak24": {"psnr": 23.0, "dcf": 7.0, **common},
                                      "kodak24 (damaged)": {"psnr": 21.0, "dcf": 7.0, **common}}
    # the README's tables, clean and damaged: the new model in bold, the one it replaces, gray
    printed = capsys.readouterr().out
    clean, damaged = printed.split("damaged copies:")
    row = "| kodak24 (5) | **shipped** | 23.00 | 0.9300 | 20.00 | 0.9000 | 7.00 | 40.00 | 0.600 |"
    assert row in clean
    assert "|  | v2 (previous) | 24.00 |" in clean and "|  | gray | 25.00 |" in clean
    assert "| kodak24 (5) | **shipped** | 21.00 |" in damaged and "bsds500-test" not in printed
    assert config.tuning["data"] == "validation" and config.tuning["n_images"] == 3
    assert config.tuning["chosen"]["working_size"] == 64 and config.working_size == 64
    shipped_text = (tmp_path / "weights" / "shipped" / "config.json").read_text()
    assert str(tmp_path) not in shipped_text

    monkeypatch.setattr(sys, "argv", ["ship_model.py", str(cand), "--name", "other",
                                      "--scores", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match="no comparison of a model named 'cand'"):
        ship.main()


def test_interpolated_models_lie_on_the_line_between_start_and_finetuned(tmp_path, tiny_model,
                                                                         capsys):
    """WiSE-FT (scripts/interpolate_models.py): alpha 0 and 1 give back the two models' tensors,
    0.5 their mean (BatchNorm statistics included), integer counters come from the fine-tuned
    model, the mixed folder colorizes, and models of different shapes are refused in one line."""
    from tinct import Colorizer
    from tinct.inference import checkpoint

    start = checkpoint.save_pretrained(tiny_model(seed=0), tmp_path / "start", working_size=64)
    tuned_model = tiny_model(seed=1)
    for module in tuned_model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.num_batches_tracked.fill_(7)
    tuned = checkpoint.save_pretrained(tuned_model, tmp_path / "tuned", working_size=64,
                                       description="fine-tuned")
    script = _script("interpolate_models")
    out = tmp_path / "mix"
    assert script.main([str(start), str(tuned), str(out), "--alpha", "0", "--alpha", "0.5",
                        "--alpha", "1"]) == 0
    a, b = (checkpoint.load_pretrained(p)[0].state_dict() for p in (start, tuned))
    mixes = {x: checkpoint.load_pretrained(f"{out}-a{x}")[0].state_dict()
             for x in ("0.00", "0.50", "1.00")}
    floats = [k for k, v in b.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    for k in floats:
        torch.testing.assert_close(mixes["0.00"][k], a[k])
        torch.testing.assert_close(mixes["1.00"][k], b[k])
        torch.testing.assert_close(mixes["0.50"][k], (a[k] + b[k]) / 2)
    counters = [k for k in b if k.endswith("num_batches_tracked")]
    assert counters and all(int(mixes["0.50"][k]) == 7 for k in counters)
    config = checkpoint.read_config(f"{out}-a0.50")
    assert config.training["interpolation"]["alpha"] == 0.5
    assert "fine-tuned" in config.description and "interpolated" in config.description
    assert str(tmp_path) not in json.dumps(config.to_dict())  # no machine paths
    photo = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    colorizer = Colorizer.from_pretrained(f"{out}-a0.50", device="cpu")
    assert np.asarray(colorizer.colorize(photo)).shape == photo.shape

    other = checkpoint.save_pretrained(tiny_model(seed=0, decoder_channels=(16, 16, 8, 8)),
                                       tmp_path / "other", working_size=64)
    capsys.readouterr()
    assert script.main([str(start), str(other), str(tmp_path / "bad"), "--alpha", "0.5"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("interpolate_models: ") and "\n" not in err
    assert not (tmp_path / "bad").exists()


RECIPES = sorted(p.name for p in (ROOT / "configs").glob("tinct-base*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_shipped_recipe_is_a_valid_training_config(recipe):
    """The recipes of the shipped models (configs/tinct-base*.yaml) load, and the v3 ones warm
    start from the shipped model (the long run: from the second run's end) and read the
    decoded cache."""
    cfg = load_config(ROOT / "configs" / recipe)
    assert cfg.run.steps > 0 and cfg.data.folders
    long = load_config(ROOT / "configs" / "tinct-base-v3-long.yaml")
    if recipe == "tinct-base-v3-long.yaml":
        scenes = load_config(ROOT / "configs" / "tinct-base-v3-scenes.yaml")
        assert cfg.model.init_from == "~/tinct-runs/v3s/last" and cfg.run.steps == 40000
        assert (cfg.data, cfg.loss, cfg.optim) == (scenes.data, scenes.loss, scenes.optim)
    elif recipe == "tinct-base-v3-device.yaml":  # the long recipe in GPU-sized batches
        assert cfg.loss == long.loss and cfg.data.folders == long.data.folders
        assert cfg.data.degrade == long.data.degrade and cfg.optim.freeze == long.optim.freeze
        assert (cfg.run.batch_size, cfg.run.device, cfg.data.workers) == (128, "cuda", 14)
    elif recipe == "tinct-base-v3-scales.yaml":  # the long run's end at the scales it runs at
        assert cfg.model.init_from == "~/tinct-runs/v3L/last" and cfg.data.cache != long.data.cache
        assert (cfg.loss, cfg.optim, cfg.data.folders) == (long.loss, long.optim, long.data.folders)
        smallest, largest = cfg.data.crop_scale
        assert cfg.data.cache_side * smallest ** 0.5 >= cfg.data.size  # no crop is upsampled
        assert cfg.data.size / smallest ** 0.5 >= 256 and largest == 1.0  # photos span to 256+
    elif recipe.startswith("tinct-base-v3-fixres"):  # fine-tunes on the crops it runs at
        scales = load_config(ROOT / "configs" / "tinct-base-v3-scales.yaml")
        start = {"tinct-base-v3-fixres.yaml": "v3x", "tinct-base-v3-fixres256.yaml": "v3f",
                 "tinct-base-v3-fixres256-long.yaml": "v3f2"}
        assert cfg.model.init_from == f"~/tinct-runs/{start[recipe]}/last"
        assert cfg.data.cache == scales.data.cache
        assert (cfg.loss, cfg.data.folders) == (long.loss, long.data.folders)
        assert cfg.data.size > long.data.size and cfg.optim.lr <= long.optim.lr
        assert cfg.data.cache_side * cfg.data.crop_scale[0] ** 0.5 >= cfg.data.size
    elif recipe == "tinct-base-v3-distil.yaml":  # the 256-px step kept near v2's colours
        fixres = load_config(ROOT / "configs" / "tinct-base-v3-fixres256.yaml")
        assert cfg.model.init_from == "~/tinct-runs/v3f3/last"
        assert (cfg.data, cfg.optim, cfg.run) == (fixres.data, fixres.optim, fixres.run)
        # the teacher is v2's file, named: "tinct-base" has meant v3 since the ship
        assert cfg.loss.distill > 0 and cfg.loss.distill_from == "~/tinct-eval/v2-model"
        assert {**vars(cfg.loss), "distill": 0.0, "distill_from": ""} == vars(long.loss)
    elif recipe == "tinct-base-v3-distil-own-size.yaml":  # v2 taught at its own scale
        distil = load_config(ROOT / "configs" / "tinct-base-v3-distil.yaml")
        assert cfg.loss.distill_from == "~/tinct-eval/v2-own-size"
        assert {**vars(cfg.loss), "distill_from": ""} == {**vars(distil.loss), "distill_from": ""}
        assert (cfg.data, cfg.optim, cfg.run, cfg.model) == (distil.data, distil.optim,
                                                             distil.run, distil.model)
        assert "--scales 0.67" in (ROOT / "configs" / recipe).read_text()
    elif recipe.startswith("tinct-base-v3"):
        assert cfg.model.init_from == "tinct-base" and cfg.data.cache
    if recipe == "tinct-base-v3-mixed.yaml":
        assert cfg.loss.kind == "ce" and cfg.loss.regression > 0


def test_choose_levels_rule():
    choose = _script("choose_levels")
    assert choose.verdict({"off": 22.58, "on": 22.60}, {"off": 21.70, "on": 22.10}, 0.02)
    assert choose.verdict({"off": 22.58, "on": 22.565}, {"off": 21.7, "on": 21.8}, 0.02)
    assert not choose.verdict({"off": 22.58, "on": 22.55}, {"off": 21.7, "on": 22.1}, 0.02)
    assert not choose.verdict({"off": 22.58, "on": 22.60}, {"off": 21.7, "on": 21.7}, 0.02)


def test_choose_levels_measures_both_ways_and_records_the_verdict(tiny_classifier_dir,
                                                                  photo_root, tmp_path):
    model = tmp_path / "cand"
    model.mkdir()
    (model / "model.safetensors").symlink_to(tiny_classifier_dir / "model.safetensors")
    (model / "config.json").write_bytes((tiny_classifier_dir / "config.json").read_bytes())
    damaged = tmp_path / "damaged"
    made = subprocess.run(["python", str(ROOT / "scripts" / "degrade_eval.py"),
                           str(photo_root / "a"), str(damaged), "--no-progress"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    run = subprocess.run(["python", str(ROOT / "scripts" / "study" / "choose_levels.py"),
                          str(model), str(photo_root / "a"), str(damaged)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    record = json.loads((model / "config.json").read_text())["tuning"]["levels"]
    choose = _script("choose_levels")
    on = choose.verdict(record["clean_psnr"], record["damaged_psnr"], 0.02)
    assert record["on"] is on and f"input levels: {'on' if on else 'off'}" in run.stdout
    assert json.loads((model / "config.json").read_text())["inference"].get("levels", False) is on
    # the two ways differ: levels reached the network
    assert record["damaged_psnr"]["on"] != record["damaged_psnr"]["off"]
    bad = subprocess.run(["python", str(ROOT / "scripts" / "study" / "choose_levels.py"),
                          str(tmp_path / "nothing"), str(photo_root / "a"), str(damaged)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "choose_levels: error:" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_frontier_sweeps_measure_nine_settings_per_set_and_resume(tiny_classifier_dir, tmp_path):
    """scripts/study/frontier_sweeps.sh: a decode sweep (3 temperatures x 3 boosts, metrics
    only) per eval set, each set kept once done."""
    import os

    from test_evaluate import write_photos

    for name in ("kodak24", "urban100"):
        write_photos(tmp_path / "data" / "eval" / name, broken=False)
    out = tmp_path / "frontier"
    command = ["bash", str(ROOT / "scripts" / "study" / "frontier_sweeps.sh"),
               str(tiny_classifier_dir), str(out)]
    env = {**os.environ, "TINCT_DATA": str(tmp_path / "data"), "SETS": "kodak24 urban100"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("kodak24", "urban100"):
        assert sorted(p.name for p in (out / name).iterdir()) == ["metrics.json",
                                                                   "per_image.csv"]
        models = json.loads((out / name / "metrics.json").read_text())["models"]
        settings = {(m["info"]["decode"]["temperature"], m["info"]["decode"]["boost"])
                    for m in models if m["name"] != "gray"}
        assert settings == {(t, b) for t in (0.38, 0.6, 1.0) for b in (0, 0.5, 1.0)}
        assert len(models) == 10 and {m["working_size"] for m in models[:-1]} == {96}
    stamps = [(out / n / "metrics.json").stat().st_mtime_ns for n in ("kodak24", "urban100")]
    (out / "urban100" / "metrics.json").unlink()  # as if the run had stopped before urban100
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "kodak24" / "metrics.json").stat().st_mtime_ns == stamps[0]  # kept
    assert (out / "urban100" / "metrics.json").stat().st_mtime_ns != stamps[1]  # swept again


def test_final_candidate_choice_rules(tmp_path):
    """final_candidate.py's rules: the tuned PSNR is the chosen setting's measured one; the
    better of best/ and last/ (best/ on a tie); the smallest alpha within 0.2 dB of the best."""
    final = _script("final_candidate")
    measured = [{"temperature": 0.38, "boost": 0.0, "working_size": 160, "psnr": 23.1},
                {"temperature": 0.38, "boost": 0.2, "working_size": 160, "psnr": 22.9}]
    (tmp_path / "config.json").write_text(json.dumps({"tuning": {
        "measured": measured, "chosen": {"temperature": 0.38, "boost": 0.2,
                                         "working_size": 160}}}))
    assert final.tuned_psnr(tmp_path) == 22.9
    assert final.best_of({"best": 22.5, "last": 22.7}) == "last"
    assert final.best_of({"best": 22.5, "last": 22.5}) == "best"
    assert final.smallest_alpha_within({1.0: 23.0, 0.25: 22.5, 0.5: 22.95, 0.75: 23.1}) == 0.5
    assert final.smallest_alpha_within({1.0: 23.0, 0.5: 22.79}) == 1.0
    assert final.alpha_list("0.25,0.5") == [0.25, 0.5]
    # metrics only by default; --prefer asks tune for the features and passes the margin on
    plain = final.tune_command("m", tmp_path / "c", tmp_path / "val", "-t 0.38 -b 0,0.2")
    assert "--no-features" in plain and "--prefer" not in plain
    assert plain[plain.index("--max-dcf") + 1] == "8"
    assert plain[4:9] == [str(tmp_path / "val"), "-t", "0.38", "-b", "0,0.2"]
    chosen = final.tune_command("m", tmp_path / "c", tmp_path / "val", "-t 0.38",
                                prefer="semantic_agreement,fd_effnet_lite2")
    assert "--no-features" not in chosen
    assert chosen[chosen.index("--prefer") + 1] == "semantic_agreement,fd_effnet_lite2"
    assert chosen[chosen.index("--within") + 1] == "0.2"
    for bad in ("0.5,x", "1.0", "-0.1"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a list|must be in"):
            final.alpha_list(bad)


def test_scene_score_is_the_best_psnr_no_fainter_than_the_limit():
    score = _script("final_candidate").scene_score

    def report(*points):
        return {"models": [{"name": name, "summary": {"psnr": psnr, "cf_pred": 30 + gap,
                                                      "cf_gt": 30}}
                           for name, psnr, gap in points]}

    sweep = report(("m T=1", 23.0, -15.0), ("m T=0.6", 22.5, -5.0), ("m b=0.5", 22.0, 1.0),
                   ("gray", 24.0, -30.0))
    # the faint setting's higher PSNR (and gray's) does not count
    assert score(sweep) == {"psnr": 22.5, "gap": -5.0, "setting": "m T=0.6"}
    assert score(sweep, min_gap=-20) == {"psnr": 23.0, "gap": -15.0, "setting": "m T=1"}
    assert score(report(("m T=1", 23.0, -15.0), ("m T=0.6", 22.5, -9.0))) == {
        "psnr": None, "gap": -9.0, "setting": "m T=0.6"}


def test_final_candidate_tunes_gates_scores_and_tries_wise_ft(tiny_classifier_dir, tmp_path):
    """scripts/study/final_candidate.py end to end on a run whose best/ and last/ are the same
    tiny classifier: tuned once, the candidate scored by the rule, and when it fails, WiSE-FT with
    the start model tuned and the chosen mix scored; a second run reuses every step, and a gate
    above the candidate's validation PSNR scores nothing."""
    import os
    import shutil

    from test_evaluate import write_photos
    from tinct.evaluation import features

    run = tmp_path / "run"
    for name in ("best", "last"):
        shutil.copytree(tiny_classifier_dir, run / name)
    data = tmp_path / "data"
    for name in ("everyday", "kodak24", "bsds500-test", "urban100"):
        write_photos(data / "eval" / name, broken=False)
        write_photos(tmp_path / "damaged" / name, broken=False)
    validation = write_photos(tmp_path / "validation", broken=False)
    out = tmp_path / "final"
    command = [sys.executable, str(ROOT / "scripts" / "study" / "final_candidate.py"),
               str(run), str(out), "--validation", str(validation),
               "--damaged", str(tmp_path / "damaged"), "--start", str(tiny_classifier_dir),
               "--alphas", "0.5", "--grid", "-t 0.38 -b 0,0.4 --sizes 64,96"]
    env = {**os.environ, "TINCT_DATA": str(data)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["checkpoints"]) == ["best"]  # last/ holds the same weights: one tune
    assert summary["candidate"] == "best" and not (out / "score-last").exists()
    verdict = json.loads((out / "score-best" / "verdict.json").read_text())
    assert summary["passes"] == verdict["passes"]
    # the tuned copy is scored as it is: labelled cand, with the decode tuned on validation
    tuned = json.loads((out / "score-best" / "cand" / "config.json").read_text())
    assert tuned["name"] == "cand" and tuned["working_size"] in (64, 96)
    # random tiny weights against the shipped model fail the rule, so WiSE-FT follows; the
    # start and the run are the same weights here, so every alpha measures the same
    assert not verdict["passes"] and verdict["reasons"]
    assert summary["wise"] == {"0.50": summary["checkpoints"]["best"],
                               "1.00": summary["checkpoints"]["best"]}
    assert summary["alpha"] == 0.5 and summary["wise_passes"] is False
    mixed = json.loads((out / "score-wise-0.50" / "cand" / "config.json").read_text())
    assert mixed["training"]["interpolation"]["alpha"] == 0.5
    candidate_config = out / "score-best" / "cand" / "config.json"
    stamp = candidate_config.stat().st_mtime_ns
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert candidate_config.stat().st_mtime_ns == stamp  # not tuned again

    # with --prefer (when the feature weights are installed) the tune records the preference
    prefer = (["--prefer", "semantic_agreement,fd_effnet_lite2"]
              if features.efficientnet_lite_weights_path(2) is not None else [])
    gated = subprocess.run([*command[:3], str(tmp_path / "gated"), *command[4:], "--gate", "99",
                            "--scenes", str(validation), *prefer],
                           env=env, capture_output=True, text=True, timeout=900)
    assert gated.returncode == 0, gated.stderr[-2000:]
    assert "not scored" in gated.stdout
    assert not list((tmp_path / "gated").glob("score-*/verdict.json"))
    # --scenes: the candidate's 9-setting sweep on the scene photos and its scene score
    sweep = json.loads((tmp_path / "gated" / "scenes-best" / "metrics.json").read_text())
    assert len(sweep["models"]) == 10 and sweep["models"][-1]["name"] == "gray"
    result = json.loads((tmp_path / "gated" / "summary.json").read_text())
    scored = result["scenes"]["best"]
    as_decoded = scored.pop("as_decoded")
    assert scored == _script("final_candidate").scene_score(sweep)
    assert result["scene_min_gap"] == -6.0 and "scene score of best" in gated.stdout
    # ... and, beside the start model, its PSNR, FD and semantic agreement as decoded
    beside = json.loads((tmp_path / "gated" / "scenes-best-as-decoded" / "metrics.json")
                        .read_text())
    assert [m["name"] for m in beside["models"]][0] == "cand"  # the copy tuned on validation
    assert beside["models"][0]["info"]["folder"] == str(tmp_path / "gated" / "score-best" / "cand")
    for which, model in zip(("cand", "start"), beside["models"][:2], strict=True):
        assert as_decoded[which] == {key: model["summary"][key] for key in
                                     ("psnr", "fd_effnet_lite2", "semantic_agreement")}
    assert as_decoded["cand"]["psnr"] > 0
    assert (as_decoded["cand"]["semantic_agreement"] is not None) == bool(prefer)
    assert "on the scene photos as decoded, best / start: psnr" in gated.stdout
    if prefer:
        tuning = json.loads((tmp_path / "gated" / "score-best" / "cand" / "config.json")
                            .read_text())["tuning"]
        assert tuning["prefer"] == ["semantic_agreement", "fd_effnet_lite2"]
        assert tuning["within"] == 0.2 and tuning["features_for"] == "shortlist"
        colourful = [row for row in tuning["measured"] if row["dcf"] <= 8]
        floor = max((row["psnr"] for row in colourful), default=0) - 0.2
        assert [row["semantic_agreement"] is not None for row in tuning["measured"]] == [
            row["dcf"] <= 8 and row["psnr"] >= floor for row in tuning["measured"]]


def test_device_train_packs_merges_the_carried_parts_trains_and_returns_fp16_models(
        photo_root, tiny_classifier_dir, tmp_path):
    """scripts/device_train.sh end to end, as on a lent GPU machine but on the CPU with a tiny
    classifier: `pack` writes the start weights as fp16 and the training split as centre
    squares in parts; `train` merges the parts into one pool, builds the cache, trains the
    device recipe from the carried weights, and $OUT gets best/ and last/ as fp16 saved models
    that load, with metrics.csv and the log, within the tool's limits on returned files."""
    from PIL import Image
    from safetensors import safe_open

    from tinct.inference.checkpoint import load_pretrained
    from tinct.train.data import FolderSpec, scan_folders, split_files

    pack, work, out = tmp_path / "pack", tmp_path / "work", tmp_path / "out"
    recipe = tmp_path / "device.yaml"  # the device recipe on the two test folders
    recipe.write_text(f"extends: {ROOT / 'configs' / 'tinct-base-v3-device.yaml'}\n"
                      "data: {folders: [{path: a}, {path: b}], val_fraction: 0.2}\n")
    packed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "device_train.sh"), "pack", str(tiny_classifier_dir)],
        env={**os.environ, "DEVICE_PACK": str(pack), "DEVICE_CONFIG": str(recipe),
             "TINCT_DATA": str(photo_root), "PART_MIB": "0.01"},
        capture_output=True, text=True)
    assert packed.returncode == 0, packed.stdout[-2000:] + packed.stderr[-2000:]
    with safe_open(str(pack / "init" / "model.safetensors"), "pt") as f:
        assert f.get_tensor("head.weight").dtype == torch.float16
    photos = sorted(pack.glob("part-*/*/*.jpg"))
    assert len(list(pack.glob("part-*"))) > 1  # cut into parts of at most PART_MIB
    train_split = [Path(f).stem for spec in ("a", "b") for f, _ in split_files(
        scan_folders([FolderSpec(str(photo_root / spec))]).files, 0.2, photo_root)[0]]
    assert sorted(p.stem for p in photos) == sorted(train_split)  # validation photos stay
    assert all(Image.open(p).size == (80, 80) for p in photos)  # 96 x 80 -> centre square
    env = {**os.environ, "DEVICE_PACK": str(pack), "DEVICE_WORK": str(work), "OUT": str(out)}
    overrides = ['--data.folders=[{"path": "a"}, {"path": "b"}]', "--data.size=64",
                 "--data.cache_side=80", "--data.workers=0", "--data.val_fraction=0.2",
                 '--model.args={"decoder_channels": [32, 16, 16]}', "--loss.prior_images=4",
                 "--run.steps=4", "--run.batch_size=2", "--run.eval_every=2", "--run.log_every=1",
                 "--run.device=cpu", "--run.precision=fp32", "--optim.warmup_steps=2"]
    done = subprocess.run(["bash", str(ROOT / "scripts" / "device_train.sh"), "train", "300",
                           *overrides], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    n_photos = len(photos)
    assert f"pool: {n_photos} photos; start weights: yes" in done.stdout
    returned = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert returned == ["best/config.json", "best/model.safetensors", "last/config.json",
                        "last/model.safetensors", "metrics.csv", "train.log"]
    for name in ("best", "last"):
        with safe_open(str(out / name / "model.safetensors"), "pt") as f:
            assert f.get_tensor("head.weight").dtype == torch.float16
        model, config = load_pretrained(out / name)
        assert config.training["init_from"] == str(work / "init")
    train_rows = [r for r in (out / "metrics.csv").read_text().splitlines() if ",train," in r]
    assert len(train_rows) == 4 and (work / "cache").is_dir()
    # a second call merges again without losing what the first carried
    (pack / "part-0").rename(tmp_path / "gone")
    again = subprocess.run(["bash", str(ROOT / "scripts" / "device_train.sh"), "merge"], env=env,
                           capture_output=True, text=True, check=True)
    assert f"pool: {n_photos} photos" in again.stdout


def _sweep_report(points: list[tuple[float, float, bool]]) -> dict:
    """A decode sweep's metrics.json with settings at (dCF, PSNR, flip), and gray."""
    models = [{"name": f"m {i}", "info": {"inference": {"flip": flip}},
               "summary": {"dcf": dcf, "psnr": psnr}} for i, (dcf, psnr, flip)
              in enumerate(points)]
    return {"models": [*models, {"name": "gray", "info": {"inference": {"flip": False}},
                                 "summary": {"dcf": 40.0, "psnr": 30.0}}]}


def test_psnr_at_dcf_reads_the_frontier(tmp_path, capsys):
    """The frontier drops settings beaten by a more colourful one (and gray); the PSNR at a
    gap is interpolated between its neighbours, and clamped beyond the ends."""
    script = _script("psnr_at_dcf")
    report = _sweep_report([(2.0, 22.0, False), (6.0, 23.0, False), (7.0, 22.5, False),
                            (10.0, 24.0, False), (8.0, 23.9, True)])
    assert script.frontier(report, flip=False) == [(2.0, 22.0), (6.0, 23.0), (10.0, 24.0)]
    assert script.psnr_at(report, 8.0, flip=False) == pytest.approx(23.5)
    assert script.psnr_at(report, 8.0) == pytest.approx(23.9)  # the flip point counts
    assert script.psnr_at(report, 0.0, flip=False) == pytest.approx(22.0)
    path = tmp_path / "sweep" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps(report))
    assert script.main([str(path), "--flip", "off"]) == 0
    assert capsys.readouterr().out.strip() == "sweep: 23.50 dB at dCF 8"
    assert script.main([str(tmp_path / "missing.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("psnr_at_dcf: ") and "missing.json" in err and "\n" not in err


def test_cut_scores_measures_clips_and_counts_each_rule(tmp_path, capsys):
    """A clip of two photos: no measurement at its first frame, the cut frame unexplained by
    the motion and changed in its thumbnail, the frames of one shot explained. The rules'
    table counts a cut that only the flow sees as missed by the current rule and found by an
    'or flow' rule; a frame the flow explains is never a false cut."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    script = _script("cut_scores")
    from tinct.video.testclips import make_clip, skimage_photos

    spec = make_clip(tmp_path / "clip.mp4", skimage_photos()[:2], 96, 72, frames_per_shot=12,
                     fps=24, audio=False)
    frames = script.frame_scores(spec.path, 64)
    assert len(frames) == 24 and spec.cuts == [12]
    assert frames[0] == {"change": None, "unexplained": None}
    assert frames[12]["change"] > 12 and frames[12]["unexplained"] > 0.5
    assert max(f["unexplained"] for i, f in enumerate(frames) if i not in (0, 12)) < 0.5

    alike = {"change": 9.5, "unexplained": 0.61}  # two shots alike in lightness
    flat = {"change": 9.5, "unexplained": 0.45}  # ... with large flat areas
    still = {"change": 1.0, "unexplained": 0.05}
    pan = {"change": 7.0, "unexplained": 0.25}
    table = script.score_rules([{"cuts": [1, 3], "frames": [still, alike, still, flat, pan]}])
    assert table["thumbnail 12 and flow 0.5"] == {"found": 0, "missed": 2, "false": 0}
    assert table["thumbnail 12 and flow 0.5 or flow 0.6"] == {"found": 1, "missed": 1,
                                                              "false": 0}
    assert table["thumbnail 8 and flow 0.4"] == {"found": 2, "missed": 0, "false": 0}
    assert table[script.CURRENT] == table["thumbnail 8 and flow 0.3"]
    assert table["thumbnail 6 and flow 0.2"] == {"found": 2, "missed": 0, "false": 1}

    out = tmp_path / "cuts.json"
    assert script.main(["--clip", f"{spec.path}:12", "--size", "64", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["rules"][script.CURRENT]["found"] == 1
    assert "1 clips, 1 true cuts" in capsys.readouterr().out
    assert script.main(["--rescore", str(out), "--rescore", str(out)]) == 0
    assert "2 clips, 2 true cuts" in capsys.readouterr().out
    assert script.main(["--clip", f"{tmp_path / 'missing.mp4'}:3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cut_scores: ") and "missing.mp4" in err and "\n" not in err
    (tmp_path / "one").mkdir()  # one photo makes no clip
    from PIL import Image

    from conftest import photo

    Image.fromarray(photo(size=(96, 72))).save(tmp_path / "one" / "a.png")
    assert script.main(["--photos", str(tmp_path / "one")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cut_scores: no clips to score") and "\n" not in err


def test_cut_film_effect_picks_the_old_rules_misses_and_films_under_each_rule(
        tiny_classifier_dir, tmp_path):
    """Only clips whose true cut the old rule (12 L*, half the pixels) did not call are
    filmed again; each film is tracked under the rule it is given (a rule no frame passes
    finds no cut, the old rule finds this clip's plain cut)."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    script = _script("cut_film_effect")
    from tinct.inference.pipeline import Colorizer
    from tinct.video.testclips import make_clip, skimage_photos

    missed = {"name": "v3-0", "cuts": [1], "frames": [{}, {"change": 9.5, "unexplained": 0.61}]}
    found = {"name": "v3-1", "cuts": [1], "frames": [{}, {"change": 20.0, "unexplained": 0.8}]}
    flat = {"name": "v3-2", "cuts": [1], "frames": [{}, {"change": 20.0, "unexplained": 0.4}]}
    assert [c["name"] for c in script.missed_by_old_rule([missed, found, flat])] == ["v3-0",
                                                                                       "v3-2"]
    colorizer = Colorizer.from_pretrained(tiny_classifier_dir, precision="fp32")
    spec = make_clip(tmp_path / "clip.mp4", skimage_photos()[:2], 64, 48, frames_per_shot=8,
                     fps=24, audio=False)
    assert script.film_scores(colorizer, spec.path, script.OLD_RULE).cuts == [8]
    assert script.film_scores(colorizer, spec.path, (1e9, 1.0)).cuts == []
    with pytest.raises(Exception, match="missing.mp4"):
        script.film_scores(colorizer, tmp_path / "missing.mp4", script.OLD_RULE)


def test_cut_film_effect_end_to_end(tiny_classifier_dir, tmp_path, capsys):
    """main: films the one clip the old rule missed (rebuilt from its pair of photos) under
    both rules and writes a row for it; a missing or malformed cuts file is a one-line error,
    and a file where the old rule missed nothing films nothing."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from PIL import Image

    from tinct.video.testclips import skimage_photos

    script = _script("cut_film_effect")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, rgb in enumerate(skimage_photos()):
        Image.fromarray(rgb).resize((160, 120)).save(photos / f"{i}.png")
    missed = {"name": "t-1", "cuts": [24], "frames": [{}] * 24 + [{"change": 9.5,
                                                                    "unexplained": 0.61}]}
    found = {"name": "t-0", "cuts": [24], "frames": [{}] * 24 + [{"change": 20.0,
                                                                   "unexplained": 0.8}]}
    cuts = tmp_path / "cuts.json"
    cuts.write_text(json.dumps({"clips": [found, missed]}))
    out = tmp_path / "effect.json"
    assert script.main([str(cuts), str(photos), "--model", str(tiny_classifier_dir),
                        "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["clip"] for r in rows] == ["t-1"]
    row = rows[0]
    assert row["cuts_new"] == [24] and all(np.isfinite(row[k]) for k in (
        "psnr_old", "psnr_new", "psnr_after_cut_old", "psnr_after_cut_new", "cf_after_cut_truth"))
    assert "1 clips, mean psnr:" in capsys.readouterr().out

    found_only = tmp_path / "found.json"
    found_only.write_text(json.dumps({"clips": [found]}))
    assert script.main([str(found_only), str(photos)]) == 0
    assert "missed no cut" in capsys.readouterr().out
    for bad in (tmp_path / "missing.json", photos / "0.png"):
        assert script.main([str(bad), str(photos)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"cut_film_effect: {bad}: not a cut_scores.py --out file")
        assert "\n" not in err


def test_hue_keeping_mean_is_the_annealed_mean_at_gamma_0_and_keeps_its_hue():
    """gamma 0 is tinct's decode (with and without a boost's bias); gamma 1 keeps the mean's
    direction and gives it the expected chroma; a distribution on one bin is left alone."""
    from tinct.models import quantization

    script = _script("hue_keeping_decode")
    torch.manual_seed(0)
    centres = quantization.gamut_bins(10.0)
    logits = torch.randn(2, centres.shape[0], 5, 6) * 3
    bias = torch.randn(centres.shape[0])
    for b in (None, bias):
        want = quantization.annealed_mean(logits, centres, 0.38, b)
        got = script.hue_keeping_mean(logits, centres, 0.38, b, 0.0)
        assert torch.allclose(got, want, atol=1e-4)
    mean = script.hue_keeping_mean(logits, centres, 0.6, bias, 0.0)
    kept = script.hue_keeping_mean(logits, centres, 0.6, bias, 1.0)
    p = torch.softmax(logits / 0.6 + bias[None, :, None, None], 1)
    expected = torch.einsum("bqhw,q->bhw", p, centres.norm(dim=1))
    assert torch.allclose(kept.norm(dim=1), expected, rtol=1e-4)
    cosine = (kept * mean).sum(1) / (kept.norm(dim=1) * mean.norm(dim=1))
    assert torch.allclose(cosine, torch.ones_like(cosine), atol=1e-5)
    assert (kept.norm(dim=1) >= mean.norm(dim=1) - 1e-4).all()
    # two opposite hues of equal odds: the mean is faint, gamma 0.5 lifts it part way
    red, green = (centres - torch.tensor([40.0, 0.0])).norm(dim=1).argmin(), \
        (centres - torch.tensor([-30.0, 0.0])).norm(dim=1).argmin()
    split = torch.full((1, centres.shape[0], 1, 1), -50.0)
    split[0, [red, green]] = 0.0
    faint = script.hue_keeping_mean(split, centres, 1.0, None, 0.0).norm()
    half = script.hue_keeping_mean(split, centres, 1.0, None, 0.5).norm()
    full = script.hue_keeping_mean(split, centres, 1.0, None, 1.0).norm()
    fainter = script.hue_keeping_mean(split, centres, 1.0, None, -1.0).norm()
    assert fainter < faint < half < full
    assert full == pytest.approx((centres[red].norm() + centres[green].norm()) / 2, rel=1e-4)
    one = torch.full((1, centres.shape[0], 1, 1), -50.0)
    one[0, red] = 0.0
    assert torch.allclose(script.hue_keeping_mean(one, centres, 1.0, None, 1.0)[0, :, 0, 0],
                          centres[red], atol=1e-3)


def test_hue_keeping_decode_measures_each_setting_and_reads_each_gammas_frontier(
        tiny_classifier_dir, tmp_path, capsys):
    """End to end on a saved classifier: one entry per (T, b, gamma), gamma 0's measurement
    equal to `tinct tune`'s view of the same setting, and the frontier table per gamma."""
    from test_evaluate import write_photos
    from tinct.evaluation.evaluate import evaluate_many
    from tinct.evaluation.tune import Decode, decode_entries

    script = _script("hue_keeping_decode")
    photos = tmp_path / "photos"
    write_photos(photos, broken=False)
    out = tmp_path / "out"
    assert script.main([str(tiny_classifier_dir), str(photos), str(out), "--size", "96",
                        "-t", "0.6", "-b", "0,0.5", "-g", "0,1", "--no-progress"]) == 0
    models = json.loads((out / "metrics.json").read_text())["models"]
    assert [(m["info"]["decode"]["boost"], m["info"]["decode"]["gamma"]) for m in models] \
        == [(0, 0), (0, 1), (0.5, 0), (0.5, 1)]
    _, reference = decode_entries(tiny_classifier_dir, [Decode(0.6, 0.5)], size=96)
    tuned = evaluate_many(reference, photos, features=False, progress=False)[0].summary
    assert models[2]["summary"]["psnr"] == pytest.approx(tuned["psnr"], abs=1e-3)
    assert models[2]["summary"]["dcf"] == pytest.approx(tuned["dcf"], abs=1e-3)
    # gamma 1 is at least as colourful as gamma 0 at the same T and b
    assert models[1]["summary"]["cf_pred"] >= models[0]["summary"]["cf_pred"] - 1e-6
    table = json.loads((out / "frontier.json").read_text())
    assert table["dcf"] == 8 and set(table["psnr"]) == {"gamma=0", "gamma=1", "all"}
    assert table["psnr"]["gamma=0"] == pytest.approx(
        script.psnr_at({"models": [models[0], models[2]]}, 8.0))
    assert "gamma=1" in capsys.readouterr().out
    assert script.main([str(tmp_path / "nowhere"), str(photos), str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hue_keeping_decode: ") and "\n" not in err
    assert script.parse_gammas("0.5, -1,0,0.5") == [-1.0, 0.0, 0.5]
    assert script.main([str(tiny_classifier_dir), str(photos), str(out), "-g", "x"]) == 1
    assert "not a gamma: 'x'" in capsys.readouterr().err
