"""Generate synthetic test clips for video colorization: photos filmed by a virtual camera
(hold, pan, zoom), a hard cut between photos, and a 440 Hz tone as audio.

    python scripts/make_test_clips.py OUT_FOLDER [--size 320x240] [--photos skimage|FOLDER]

The same as ``python -m tinct.video.testclips``; see ``--help`` for all options.
"""

from tinct.video.testclips import main

if __name__ == "__main__":
    raise SystemExit(main())
