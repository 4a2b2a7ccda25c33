"""``tinct --help`` and every verb's ``--help`` work, and building them does not load torch."""

import subprocess
import sys

import pytest

from tinct.cli import VERB_MODULES, build_parser


def test_building_the_parser_does_not_import_torch():
    code = ("import sys; from tinct.cli import build_parser; build_parser(); "
            "heavy = sorted(m for m in ('torch', 'cv2', 'av') if m in sys.modules); "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"tinct --help imports {out.stdout.strip()}"


@pytest.mark.parametrize("verb", [v.replace("_", "-") for v in VERB_MODULES])
def test_every_verb_has_help(verb, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([verb, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinct " + verb)
    assert len(out.splitlines()) > 3
