"""scripts/shipping_rule.py: v3's shipping rule on recorded figures, on its margins, and on the
metrics.json of a real `tinct compare`."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from helpers import write_photos
from tinct.cli import main as tinct_main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "shipping_rule.py"
spec = importlib.util.spec_from_file_location("shipping_rule", SCRIPT)
rule = importlib.util.module_from_spec(spec)
sys.modules["shipping_rule"] = rule  # its dataclass looks its module up
spec.loader.exec_module(rule)


def _s(psnr, auc, fd, sem, dcf=None):
    return {"psnr": psnr, "auc": auc, "fd_effnet_lite2": fd, "semantic_agreement": sem, "dcf": dcf}


# docs/v3.md: the step-12,000 candidate and v2 on the four eval sets
STEP_12K = {"everyday": _s(23.04, .8997, 27.0, .673), "kodak24": _s(23.12, .8964, 66.0, .667),
            "bsds500-test": _s(22.67, .8918, 39.0, .630), "urban100": _s(20.22, .8628, 43.5, .591)}
V2 = {"everyday": _s(20.66, .8638, 28.2, .650), "kodak24": _s(22.03, .8793, 61.5, .667),
      "bsds500-test": _s(22.47, .8899, 41.0, .595), "urban100": _s(20.65, .8702, 41.3, .557)}


def test_the_recorded_step_12000_candidate_fails_for_the_reasons_the_log_gives():
    verdict = rule.apply_rule(STEP_12K, V2)
    assert not verdict.passes
    assert verdict.sets_better == ["everyday", "bsds500-test"]
    assert any(r.startswith("urban100: PSNR 0.43 dB") for r in verdict.reasons)
    assert any(r.startswith("urban100: AuC 0.0074") for r in verdict.reasons)
    assert any("on 2 set(s)" in r for r in verdict.reasons)
    assert not any(r.startswith(("everyday", "kodak24", "bsds500")) for r in verdict.reasons)


def test_three_better_sets_pass_and_the_margins_are_where_the_rule_puts_them():
    current = {k: dict(v) for k, v in V2.items()}
    candidate = {k: _s(v["psnr"] + 0.5, v["auc"] + 0.01, v["fd_effnet_lite2"] - 1,
                       v["semantic_agreement"] + 0.01) for k, v in V2.items()}
    assert rule.apply_rule(candidate, current).passes
    # one set worse on FD only: three of four still better on everything
    candidate["urban100"]["fd_effnet_lite2"] = V2["urban100"]["fd_effnet_lite2"] + 0.5
    assert rule.apply_rule(candidate, current).passes
    # ... and 0.19 dB / 0.0049 AuC below the current model there is inside the margins
    candidate["urban100"].update(psnr=V2["urban100"]["psnr"] - 0.19,
                                 auc=V2["urban100"]["auc"] - 0.0049)
    assert rule.apply_rule(candidate, current).passes
    candidate["urban100"]["psnr"] = V2["urban100"]["psnr"] - 0.21
    verdict = rule.apply_rule(candidate, current)
    assert not verdict.passes and verdict.reasons == ["urban100: PSNR 0.21 dB below the current "
                                                      "model"]
    # a tie is not better; two sets left better fail the count
    candidate["urban100"]["psnr"] = V2["urban100"]["psnr"] + 1
    candidate["kodak24"]["semantic_agreement"] = V2["kodak24"]["semantic_agreement"]
    verdict = rule.apply_rule(candidate, current)
    assert not verdict.passes and verdict.sets_better == ["everyday", "bsds500-test"]


def test_a_mean_that_is_not_better_fails_even_with_three_better_sets():
    candidate = {k: _s(v["psnr"] + 0.1, v["auc"] + 0.001, v["fd_effnet_lite2"] - 0.1,
                       v["semantic_agreement"] + 0.001) for k, v in V2.items()}
    candidate["urban100"]["fd_effnet_lite2"] = V2["urban100"]["fd_effnet_lite2"] + 5
    verdict = rule.apply_rule(candidate, V2)
    assert verdict.sets_better == ["everyday", "kodak24", "bsds500-test"]
    assert not verdict.passes and verdict.reasons[0].startswith("mean FD over the sets")


@pytest.fixture(scope="module")
def compare_report(tmp_path_factory) -> Path:
    """A real `tinct compare` of the shipped model and gray, with FD and semantic agreement."""
    folder = tmp_path_factory.mktemp("rule")
    photos = write_photos(folder / "photos", broken=False)
    out = folder / "report"
    assert tinct_main(["compare", "tinct-base", "-d", str(photos), "-o", str(out), "--quiet",
                       "--workers", "0", "--gallery", "1"]) == 0
    return out


def test_the_rule_reads_real_compare_reports_and_writes_its_verdict(compare_report, tmp_path,
                                                                    capsys):
    sets = []
    for name in ("kodak24", "urban100"):
        shutil.copytree(compare_report, tmp_path / name)
        sets.append(str(tmp_path / name))
    out = tmp_path / "verdict.json"
    status = rule.main(["tinct-base", "gray", *sets, "--json", str(out)])
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    models = {m["name"]: m["summary"] for m in
              json.loads((compare_report / "metrics.json").read_text())["models"]}
    assert doc["candidate"]["kodak24"]["psnr"] == models["tinct-base"]["psnr"]
    assert doc["current"]["urban100"]["auc"] == models["gray"]["auc"]
    assert status == (0 if doc["passes"] else 1)
    assert doc["passes"] == rule.apply_rule(doc["candidate"], doc["current"]).passes
    assert "| kodak24 |" in printed and "| urban100 |" in printed
    assert ("PASSES" in printed) == doc["passes"]


def test_reports_without_the_features_or_the_model_are_refused_in_one_line(compare_report,
                                                                           tmp_path, capsys):
    assert rule.main(["tinct-base", "v9", str(compare_report)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no model named 'v9'" in err and "\n" not in err
    doc = json.loads((compare_report / "metrics.json").read_text())
    for model in doc["models"]:
        model["summary"]["fd_effnet_lite2"] = None
    (tmp_path / "nofeat").mkdir()
    (tmp_path / "nofeat" / "metrics.json").write_text(json.dumps(doc))
    assert rule.main(["tinct-base", "gray", str(tmp_path / "nofeat")]) == 2
    assert "has no fd_effnet_lite2" in capsys.readouterr().err
    assert rule.main(["tinct-base", "gray", str(tmp_path / "missing")]) == 2
    assert "not a readable metrics.json" in capsys.readouterr().err


def test_score_candidate_tunes_on_validation_then_applies_the_rule_on_four_sets(
        tiny_classifier_dir, tmp_path):
    """scripts/study/score_candidate.sh end to end, as v3's candidates are scored: the decode
    is chosen on the validation photos and saved with the candidate, the four eval sets are
    compared against the shipped model, the verdict is the rule's, and the damaged copies are
    scored only for a candidate that passes. The second run is given the validation photos'
    damaged copy, and input levels are chosen on it before anything else is measured. The
    decode grid is session 36's kind (TUNE_GRID, with working sizes), cut to 8 settings."""
    import os
    import subprocess

    sets = ("everyday", "kodak24", "bsds500-test", "urban100")
    data = tmp_path / "data"
    for name in sets:
        write_photos(data / "eval" / name, broken=False)
        write_photos(tmp_path / "damaged" / name, broken=False)
    validation = write_photos(tmp_path / "validation", broken=False)
    out = tmp_path / "score"
    env = {**os.environ, "TINCT_DATA": str(data),
           "TUNE_GRID": "-t 0.38,0.6 -b 0,0.4 --sizes 64,96"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "study" / "score_candidate.sh"),
                           str(tiny_classifier_dir), str(out), str(validation),
                           str(tmp_path / "damaged")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((out / "cand" / "config.json").read_text())
    assert config["decode"]["temperature"] in (0.38, 0.6)
    assert config["decode"]["boost"] in (0, 0.4) and config["working_size"] in (64, 96)
    tuned = json.loads((out / "tune" / "metrics.json").read_text())
    assert tuned["data_dir"] == str(validation) and len(tuned["models"]) == 8 + 1  # and gray
    verdict = json.loads((out / "verdict.json").read_text())
    assert set(verdict["candidate"]) == set(sets)
    for name in sets:
        compared = json.loads((out / name / "metrics.json").read_text())
        assert compared["data_dir"] == str(data / "eval" / name)
        summary = {m["name"]: m["summary"] for m in compared["models"]}
        assert verdict["candidate"][name]["psnr"] == summary["cand"]["psnr"]
    assert verdict["passes"] == rule.apply_rule(verdict["candidate"], verdict["current"]).passes
    assert (out / "damaged" / "urban100" / "metrics.json").exists() == verdict["passes"]
    assert ("not scored on the damaged copies" in done.stdout) != verdict["passes"]

    assert not (out / "levels.txt").exists()  # no damaged validation copy was given

    # again with DAMAGED_ALWAYS=1: the tune and the clean comparisons are reused (their
    # reports untouched), input levels are chosen on the damaged validation copy, and the
    # damaged copies are compared and given the rule's verdict
    stamp = (out / "kodak24" / "metrics.json").stat().st_mtime_ns
    damaged_validation = write_photos(tmp_path / "damaged-validation", broken=False)
    again = subprocess.run(["bash", str(ROOT / "scripts" / "study" / "score_candidate.sh"),
                            str(tiny_classifier_dir), str(out), str(validation),
                            str(tmp_path / "damaged"), str(damaged_validation)],
                           env={**env, "DAMAGED_ALWAYS": "1"},
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "kodak24" / "metrics.json").stat().st_mtime_ns == stamp
    levels = json.loads((out / "cand" / "config.json").read_text())["tuning"]["levels"]
    assert f"input levels: {'on' if levels['on'] else 'off'}" in (out / "levels.txt").read_text()
    for name in sets:
        compared = json.loads((out / "damaged" / name / "metrics.json").read_text())
        assert compared["data_dir"] == str(tmp_path / "damaged" / name)
        assert {m["name"] for m in compared["models"]} >= {"cand", "tinct-base"}
    damaged_verdict = (out / "damaged.md").read_text()
    assert "candidate / tinct-base" in damaged_verdict and "urban100" in damaged_verdict
