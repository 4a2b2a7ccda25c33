"""Regenerates docs/screenshots/web.png and turing.png with the browser end-to-end test.

The test (tests/test_web_browser.py) drives Debian's Chromium through the real page; here it
saves its screenshots into this folder. By default the page shows a tiny untrained model (odd
colours); pass a trained one to show what tinct really does:

    python docs/make_screenshots.py [--model tinct-base]

Needs: pip install 'tinct[web]' playwright pytest; apt-get install chromium.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model name or folder to show (default: tiny, untrained)")
    args = parser.parse_args()
    env = dict(os.environ, TINCT_SCREENSHOTS_DIR=str(ROOT / "docs" / "screenshots"))
    if args.model:
        env["TINCT_SCREENSHOT_MODEL"] = args.model
    test = ROOT / "tests" / "test_web_browser.py"
    return subprocess.call([sys.executable, "-m", "pytest", str(test), "-q", "-rs"], env=env,
                           cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
