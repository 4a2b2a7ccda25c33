"""Re-colouring a kept result vs colorizing the photo, through the web API in one process.

A 512-px gray photo is uploaded to ``POST /api/colorize`` (decode, lightness, network,
decoding, merge, PNG encode), then decoded again at other boosts with ``POST /api/recolor``
(no upload, no network). Both are timed alternately in the same process through FastAPI's
test client (no sockets), median of N each, in PNG and in JPEG (the page's live previews while
the slider moves are JPEG). Target (issue 19): a re-colour at most 30% of a colorization's
time. Also records the size of the last re-colour's response in each format. Prints a summary
and writes ``bench/results/recolor_speed.json``.

    python bench/recolor_speed.py [--model NAME_OR_FOLDER] [--runs 15]
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

from PIL import Image
from skimage import data

from benchlib import test_client_class, web_bench_parser, write_report

RESULTS = Path(__file__).parent / "results" / "recolor_speed.json"


def main() -> None:
    args = web_bench_parser(__doc__.splitlines()[0], RESULTS, runs=15).parse_args()
    TestClient = test_client_class()  # noqa: N806

    from tinct.web import create_app

    photo = Image.fromarray(data.astronaut()).convert("L").resize((args.side, args.side))
    upload = io.BytesIO()
    photo.save(upload, format="PNG")
    body = upload.getvalue()
    app = create_app([args.model] if args.model else None, concurrency=1, queue=2)
    times: dict[str, list[float]] = {"colorize_png": [], "recolor_png": [],
                                     "colorize_jpeg": [], "recolor_jpeg": []}
    response_bytes: dict[str, int] = {}
    with TestClient(app) as client:
        def colorize(fmt: str) -> str:
            r = client.post("/api/colorize", files={"file": ("p.png", body, "image/png")},
                            data={"format": fmt})
            r.raise_for_status()
            return r.headers["x-tinct-result-id"]

        colorize("png")  # warm-up
        for i in range(args.runs):
            for fmt in ("png", "jpeg"):  # alternated, so both see the same machine
                t0 = time.perf_counter()
                result_id = colorize(fmt)
                t1 = time.perf_counter()
                r = client.post("/api/recolor", json={"id": result_id, "boost": 0.1 * (i % 10),
                                                      "format": fmt})
                r.raise_for_status()
                t2 = time.perf_counter()
                response_bytes[fmt] = len(r.content)
                times[f"colorize_{fmt}"].append(t1 - t0)
                times[f"recolor_{fmt}"].append(t2 - t1)
    median = {name: statistics.median(values) for name, values in times.items()}
    ratios = {
        "png": median["recolor_png"] / median["colorize_png"],
        "jpeg": median["recolor_jpeg"] / median["colorize_jpeg"],
        # what the page does while the slider moves: JPEG previews of a PNG result
        "page_preview_of_png": median["recolor_jpeg"] / median["colorize_png"],
    }
    report = {"photo_px": [args.side, args.side], "runs": args.runs,
              "median_s": median, "recolor_over_colorize": ratios, "target_at_most": 0.30,
              "response_bytes": response_bytes}
    for name, ratio in ratios.items():
        print(f"{args.side}-px photo, median of {args.runs}: recolor / colorize ({name}) = "
              f"{ratio:.2f} (target <= 0.30)")
    print("response sizes: " + ", ".join(f"{fmt} {n / 1024:.0f} KiB"
                                         for fmt, n in response_bytes.items()))
    write_report(args.output, report)


if __name__ == "__main__":
    main()
