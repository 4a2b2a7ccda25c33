"""The run manifest: written line by line, read back tolerantly, foreign files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinct.errors import InputError
from tinct.inference.batch import Outcome
from tinct.inference.manifest import ManifestWriter, done_outputs, read_manifest


def test_the_last_record_counts_and_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "run.jsonl"
    with ManifestWriter(path) as record:
        record.write(Outcome(Path("a.jpg"), Path("out/a.jpg"), "failed", "a.jpg: broken"))
        record.write(Outcome(Path("b.jpg"), Path("out/b.jpg"), "done", seconds=0.5, node="n1"))
        record.write(Outcome(Path("a.jpg"), Path("out/a.jpg"), "done"))  # a rerun fixed it
    with path.open("a") as f:
        f.write('{"input": "c.jpg", "output": "out/c.jp')  # killed mid-line
    records = read_manifest(path)
    assert sorted(records) == ["a.jpg", "b.jpg"]
    assert records["b.jpg"]["seconds"] == 0.5 and records["b.jpg"]["node"] == "n1"
    assert done_outputs(records) == {Path("out/a.jpg"), Path("out/b.jpg")}
    assert read_manifest(tmp_path / "missing.jsonl") == {}


def test_no_path_records_nothing(tmp_path):
    with ManifestWriter(None) as record:
        record.write(Outcome(Path("a.jpg"), Path("out/a.jpg"), "done"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"\xff\xd8\xff\xe0 a JPEG, not text",
                                     b'{"x": 1}\n[2]\nnot json\n'])
def test_a_file_that_is_not_a_manifest_is_refused_in_one_line(tmp_path, content):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a tinct run manifest"):
        read_manifest(path)
