"""How fast the page's picture follows a change of colour hints: ``POST /api/recolor`` with
hints for a kept 512-px result, against colorizing the photo, in one process.

With new hints a network trained with hints runs again (they are its input; for other models
the kept output is reused), then the hints' correction
(the edge-aware spread over each hint's region and the exact fit at the hinted pixels) and the
PNG response. Hints of 1, 10 and 50 seeded places are timed alternately with a colorization
of the same photo through FastAPI's test client (no sockets), median of N each. Target
(issue 20): the result updates within half a second for a 512-px photo on a 2-core machine.
Prints a summary and writes ``bench/results/hint_latency.json``.

    python bench/hint_latency.py [--model NAME_OR_FOLDER] [--runs 9]
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from benchlib import test_client_class, web_bench_parser, write_report
from tinct.inference.hints import to_hex

RESULTS = Path(__file__).parent / "results" / "hint_latency.json"
COUNTS = (1, 10, 50)


def main() -> None:
    args = web_bench_parser(__doc__.splitlines()[0], RESULTS, runs=9).parse_args()
    TestClient = test_client_class()  # noqa: N806

    from tinct.web import create_app

    colour = Image.fromarray(data.astronaut()).resize((args.side, args.side))
    pixels = np.asarray(colour)
    upload = io.BytesIO()
    colour.convert("L").save(upload, format="PNG")
    body = upload.getvalue()
    rng = np.random.default_rng(0)
    places = rng.integers(0, args.side, size=(max(COUNTS), 2)).tolist()
    hints = [{"x": x, "y": y, "color": to_hex(pixels[y, x] / 255.0)} for x, y in places]
    app = create_app([args.model] if args.model else None, concurrency=1, queue=2)
    times: dict[str, list[float]] = {"colorize": [], **{f"hints_{n}": [] for n in COUNTS}}
    with TestClient(app) as client:
        def colorize() -> str:
            r = client.post("/api/colorize", files={"file": ("p.png", body, "image/png")},
                            data={"format": "png"})
            r.raise_for_status()
            return r.headers["x-tinct-result-id"]

        result_id = colorize()  # warm-up, also of the compiled kernels
        client.post("/api/recolor", json={"id": result_id, "hints": hints[:2]}).raise_for_status()
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result_id = colorize()
            times["colorize"].append(time.perf_counter() - t0)
            for n in COUNTS:
                t0 = time.perf_counter()
                r = client.post("/api/recolor", json={"id": result_id, "hints": hints[:n],
                                                      "format": "png"})
                r.raise_for_status()
                times[f"hints_{n}"].append(time.perf_counter() - t0)
    median = {name: statistics.median(values) for name, values in times.items()}
    ratios = {name: median[name] / median["colorize"] for name in median if name != "colorize"}
    report = {"model": args.model or "shipped", "photo_px": [args.side, args.side],
              "runs": args.runs, "median_s": median, "hints_over_colorize": ratios,
              "target_s_at_most": 0.5}
    print(f"{args.side}-px photo, median of {args.runs}: colorize {median['colorize']:.3f} s")
    for n in COUNTS:
        print(f"  re-colour with {n:>2} hints: {median[f'hints_{n}']:.3f} s "
              f"({ratios[f'hints_{n}']:.2f} of a colorization; target <= 0.5 s)")
    write_report(args.output, report)


if __name__ == "__main__":
    main()
