"""``tinct colorize --engine ray`` on a real Ray: a two-node cluster started with ``ray start``
on 127.0.0.1 (a head and a second worker node), and a local Ray started for one run.

Checks the outputs against the local engine's, the manifest (one line per photo, both nodes
used, a rerun skips what is done), one-line errors and the exit status, and that killing a
worker process mid-run loses and duplicates nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from helpers import RAY_ENV, requires_ray, save_small_model, write_photos

pytestmark = [pytest.mark.slow]


def _tinct(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinct", "colorize", *args, "--no-progress"],
                          capture_output=True, text=True, env=RAY_ENV, timeout=600)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _records(manifest: Path) -> list[dict]:
    """The manifest's records (a last line still being written is left out)."""
    lines = manifest.read_text().split("\n")
    return [json.loads(line) for line in lines[:-1]]  # complete lines end with "\n"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Seven photos in a folder tree (one in a sub-folder) and one broken file."""
    folder = write_photos(tmp_path_factory.mktemp("photos") / "in")
    (folder / "sub").mkdir()
    shutil.move(folder / "b_coffee.png", folder / "sub" / "b_coffee.png")
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_small_model(tmp_path_factory.mktemp("model") / "small")


def _assert_same_pictures(a: Path, b: Path) -> None:
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*.*") if p.suffix != ".jsonl")
    assert names == sorted(str(p.relative_to(b)) for p in b.rglob("*.*")
                           if p.suffix != ".jsonl")
    for name in names:
        x = np.asarray(Image.open(a / name), dtype=np.int16)
        y = np.asarray(Image.open(b / name), dtype=np.int16)
        assert x.shape == y.shape and np.abs(x - y).max() <= 1, name


@requires_ray
def test_two_nodes_match_the_local_engine_and_a_rerun_skips_what_is_done(
        ray_cluster, photos, model, tmp_path):
    before = _digests(photos)
    local = _tinct(str(photos), "-o", str(tmp_path / "local"), "-m", str(model),
                   "--batch-size", "2")
    ray = _tinct(str(photos), "-o", str(tmp_path / "ray"), "-m", str(model), "--batch-size",
                 "2", "--engine", "ray", "--ray-address", ray_cluster, "--ray-workers", "2")
    assert local.returncode == ray.returncode == 1  # the broken file
    assert "6 colorized, 1 failed, 0 skipped" in ray.stdout
    broken_lines = [line for line in ray.stderr.splitlines() if "g_broken.jpg:" in line]
    assert len(broken_lines) == 1 and "Traceback" not in ray.stderr
    _assert_same_pictures(tmp_path / "local", tmp_path / "ray")
    assert _digests(photos) == before  # inputs untouched

    manifest = tmp_path / "ray" / "tinct-manifest.jsonl"
    records = _records(manifest)
    assert sorted(r["input"] for r in records) == sorted(
        str(p) for p in photos.rglob("*.*"))  # each photo once
    done = [r for r in records if r["status"] == "done"]
    assert len(done) == 6 and all(Path(r["output"]).is_file() for r in done)
    assert len({r["node"] for r in done}) == 2  # both nodes worked
    (failed,) = [r for r in records if r["status"] == "failed"]
    assert failed["input"].endswith("g_broken.jpg") and "g_broken.jpg" in failed["error"]

    os.remove(tmp_path / "ray" / "a_chelsea.png")  # the manifest says done: not redone
    again = _tinct(str(photos), "-o", str(tmp_path / "ray"), "-m", str(model), "--engine",
                   "ray", "--ray-address", ray_cluster)
    assert "0 colorized, 1 failed, 6 skipped" in again.stdout and again.returncode == 1
    assert len(_records(manifest)) == len(records) + 1  # only the broken file again


@requires_ray
def test_a_pool_larger_than_the_cluster_is_a_one_line_error(ray_cluster, photos, model,
                                                            tmp_path):
    result = _tinct(str(photos), "-o", str(tmp_path / "out"), "-m", str(model), "--batch-size",
                    "1", "--engine", "ray", "--ray-address", ray_cluster, "--ray-workers", "3",
                    "--ray-start-timeout", "5")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert ("Ray started fewer than 3 workers in 5 s (the cluster has 0 CPUs free): ask for "
            "fewer with --ray-workers") in result.stderr
    assert not list((tmp_path / "out").glob("*.png"))  # nothing handed out


def _worker_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "PhotoColorizer"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _rotated_photos(folder: Path, count: int) -> Path:
    """``count`` gray 320x240 PNGs (one photo, rotated), named photo_NN.png."""
    folder.mkdir()
    base = Image.fromarray(data.chelsea()).convert("L").resize((320, 240))
    for i in range(count):
        base.rotate(i * 360 / count).save(folder / f"photo_{i:02d}.png")
    return folder


def _ray_run(folder: Path, out: Path, address: str) -> subprocess.Popen:
    """``tinct colorize`` on two workers, one photo per batch, in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "tinct", "colorize", str(folder), "-o", str(out),
         "--batch-size", "1", "--engine", "ray", "--ray-address", address, "--ray-workers",
         "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=RAY_ENV)


def _assert_every_photo_written_once(folder: Path, out: Path) -> list[dict]:
    records = _records(out / "tinct-manifest.jsonl")
    assert sorted(r["input"] for r in records) == sorted(str(p) for p in folder.iterdir())
    assert all(r["status"] == "done" for r in records)
    for photo in folder.iterdir():
        with Image.open(out / photo.name) as im:
            im.load()
            assert im.size == (320, 240) and im.mode == "RGB"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files
    return records


@requires_ray
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(ray_cluster, tmp_path):
    folder = _rotated_photos(tmp_path / "many", 48)
    out = tmp_path / "out"
    manifest = out / "tinct-manifest.jsonl"
    run = _ray_run(folder, out, ray_cluster)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and run.poll() is None:
        lines = manifest.read_text().count("\n") if manifest.exists() else 0
        pids = _worker_pids()
        if 2 <= lines <= 30 and pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    stdout, stderr = run.communicate(timeout=600)
    assert killed is not None, "the run ended before a worker could be killed"
    assert run.returncode == 0, stderr
    assert "48 colorized, 0 failed" in stdout
    _assert_every_photo_written_once(folder, out)


def _raylets() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "raylet/raylet"], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


@requires_ray
def test_a_node_killed_mid_run_loses_and_duplicates_nothing(tmp_path):
    """A cluster of its own (a head and a second node); the second node's raylet is killed
    once both nodes have written photos: its actor's batch moves to the head node."""
    from tinct.cluster.local import add_local_node, start_local_cluster, stop_local_cluster

    folder = _rotated_photos(tmp_path / "photos", 40)
    out = tmp_path / "out"
    manifest = out / "tinct-manifest.jsonl"
    temp = Path(f"/tmp/tinct-rk-{os.getpid()}")
    try:
        address = start_local_cluster(nodes=1, cpus_per_node=1, temp_dir=temp)
        head = _raylets()
        add_local_node(address, cpus=1)
        (second,) = _raylets() - head
        run = _ray_run(folder, out, address)
        killed_at = None
        deadline = time.monotonic() + 300
        while killed_at is None and run.poll() is None and time.monotonic() < deadline:
            done = _records(manifest) if manifest.exists() else []
            if len({r["node"] for r in done}) == 2:  # both nodes are at work
                os.kill(second, signal.SIGKILL)
                killed_at = len(done)
            time.sleep(0.1)
        stdout, stderr = run.communicate(timeout=600)
    finally:
        stop_local_cluster()
        shutil.rmtree(temp, ignore_errors=True)
    assert killed_at is not None and killed_at < 40, "the run ended before the node was killed"
    assert run.returncode == 0, stderr[-3000:]
    assert "40 colorized, 0 failed" in stdout
    records = _assert_every_photo_written_once(folder, out)
    assert len({r["node"] for r in records}) == 2
    # after the kill one node is left; results the killed node had already handed over (Ray
    # Data buffers a few finished blocks) may still be written a little later
    assert len({r["node"] for r in records[killed_at + 8:]}) <= 1


@requires_ray
def test_a_local_ray_started_for_the_run(photos, model, tmp_path):
    result = _tinct(str(photos / "a_chelsea.png"), str(photos / "g_broken.jpg"), "-o",
                    str(tmp_path / "out"), "-m", str(model), "--engine", "ray",
                    "--ray-workers", "1", "--manifest", str(tmp_path / "run.jsonl"))
    assert result.returncode == 1 and "1 colorized, 1 failed" in result.stdout
    assert f"failures are listed in {tmp_path / 'run.jsonl'}" in result.stdout
    assert [r["status"] for r in _records(tmp_path / "run.jsonl")].count("done") == 1


@pytest.mark.parametrize("options,message", [
    (("--ray-address", "auto"), "--ray-address needs --engine ray"),
    (("--ray-start-timeout", "5"), "--ray-start-timeout needs --engine ray"),
    (("--ray-workers", "2", "--ray-start-timeout", "5"),
     "--ray-workers and --ray-start-timeout need --engine ray"),
])
def test_ray_options_without_the_ray_engine_are_refused(photos, tmp_path, options, message):
    result = _tinct(str(photos), "-o", str(tmp_path / "out"), *options)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_ray_installed_the_ray_engine_says_what_to_install(photos, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from tinct.cli import main; "
            f"sys.exit(main(['colorize', {str(photos)!r}, '-o', {str(tmp_path / 'o')!r}, "
            "'--engine', 'ray', '--no-progress']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "the ray engine needs Ray: pip install 'tinct[ray]'" in result.stderr
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_temporary_files_of_killed_attempts_are_removed_at_the_end(tmp_path):
    """A worker killed mid-write leaves ``.NAME.XXXXXXXX.tmp``; the run removes those of its
    own outputs when every worker has finished, and nothing else."""
    from tinct.cluster.photos import remove_abandoned_writes
    from tinct.inference.batch import Job

    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "a.png").write_bytes(b"finished")
    abandoned = [out / ".a.png.k3j9x0q1.tmp", out / "sub" / ".b.jpg.zz_8abcd.tmp"]
    others = [out / ".c.png.k3j9x0q1.tmp",  # not an output of this run
              out / ".a.png.notes.txt"]  # not a temporary name
    for path in abandoned + others:
        path.write_bytes(b"partial")
    jobs = [Job(tmp_path / "in" / "a.png", out / "a.png"),
            Job(tmp_path / "in" / "sub" / "b.jpg", out / "sub" / "b.jpg")]
    assert sorted(remove_abandoned_writes(jobs)) == sorted(abandoned)
    assert all(p.exists() for p in others) and (out / "a.png").read_bytes() == b"finished"
