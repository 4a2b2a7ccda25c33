"""Mutation fuzzer for tinct's image reader (run by tests/test_fuzz_imageio.py in a child
process with a memory limit, so a crash, a hang or a memory blow-up fails the test).

    python tests/fuzz/fuzz_imageio.py --cases 4000 --seed 0 [--max-seconds-per-case 5]

Seeds: small real photos (skimage) encoded as JPEG, PNG (8 and 16 bit, palette, with
alpha), TIFF, WebP, BMP and GIF. Each case mutates one seed: flipped bytes, a truncation, a
repeated or inserted block, or a header field set to an extreme value. Every case must end
with a decoded image or tinct's ImageReadError with a one-line message naming the source;
anything else (another exception type, a message over several lines, a case slower than
the limit) is printed and the run exits 1. Prints a summary line and exits 0 otherwise.
"""

from __future__ import annotations

import argparse
import io
import sys
import time

import numpy as np
from PIL import Image


def seeds() -> list[bytes]:
    from skimage import data

    photo = Image.fromarray(data.chelsea()).resize((48, 36))
    out = []
    for fmt, image, options in [
        ("JPEG", photo, {"quality": 80}), ("JPEG", photo.convert("L"), {"progressive": True}),
        ("PNG", photo, {}), ("PNG", photo.convert("RGBA"), {}), ("PNG", photo.convert("P"), {}),
        ("PNG", Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257), {}),
        ("TIFF", photo, {"compression": "tiff_deflate"}), ("TIFF", photo, {}),
        ("WEBP", photo, {"quality": 70}), ("BMP", photo, {}), ("GIF", photo.convert("P"), {}),
    ]:
        buf = io.BytesIO()
        image.save(buf, fmt, **options)
        out.append(buf.getvalue())
    return out


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = rng.integers(6)
    if kind == 0:  # flip a few random bytes
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif kind == 1:  # truncate
        b = b[: int(rng.integers(1, len(b)))]
    elif kind == 2:  # repeat a block
        i = int(rng.integers(len(b)))
        j = min(len(b), i + int(rng.integers(1, 512)))
        b[i:i] = b[i:j] * int(rng.integers(1, 8))
    elif kind == 3:  # insert random bytes
        i = int(rng.integers(len(b)))
        b[i:i] = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif kind == 4:  # extreme values in the header (sizes, counts, offsets)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(min(len(b), 64)))
            b[i] = int(rng.choice([0x00, 0x7F, 0x80, 0xFF]))
    else:  # flip bits in the first kilobyte
        for _ in range(int(rng.integers(1, 17))):
            i = int(rng.integers(min(len(b), 1024)))
            b[i] ^= 1 << int(rng.integers(8))
    return bytes(b)


def main() -> int:
    from tinct.imageio import ImageReadError, read_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds-per-case", type=float, default=5.0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pool = seeds()
    outcomes = {"decoded": 0, "refused": 0}
    slowest = 0.0
    for case in range(args.cases):
        data = mutate(pool[case % len(pool)], rng)
        start = time.perf_counter()
        try:
            read_image(data, max_pixels=4_000_000)
            outcomes["decoded"] += 1
        except ImageReadError as exc:
            message = str(exc)
            if "\n" in message or not message.startswith("<upload>: "):
                print(f"case {case}: badly formed message {message!r}")
                return 1
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
            print(f"case {case}: {type(exc).__name__}: {exc}")
            return 1
        seconds = time.perf_counter() - start
        slowest = max(slowest, seconds)
        if seconds > args.max_seconds_per_case:
            print(f"case {case}: took {seconds:.1f} s")
            return 1
    print(f"{args.cases} cases: {outcomes['decoded']} decoded, {outcomes['refused']} refused "
          f"with a one-line error; slowest {slowest * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
