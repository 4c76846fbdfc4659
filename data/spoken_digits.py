#!/usr/bin/env python3
"""Spoken digits made on this machine with Debian's espeak-ng: an offline audio data set.

    python3 data/spoken_digits.py OUT_DIR [--per-digit 20] [--seed 0]

Writes OUT_DIR/<word>_<nnn>.wav ("zero_000.wav" ... "nine_019.wav"): each digit word spoken
--per-digit times, each time with a voice, a variant, a speed and a pitch drawn from a
seeded generator (the recipe below), so the same command makes the same set on any machine
with the same espeak-ng. argen reads the folder with `--data wav:OUT_DIR`; the label of a
file is its name up to the first `_`. Needs `apt-get install -y espeak-ng`.
"""

import argparse
import pathlib
import random
import shutil
import subprocess
import sys

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-rp"]
VARIANTS = ["m1", "m3", "m5", "f1", "f2", "f4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--per-digit", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 1 <= args.per_digit <= 1000:
        sys.exit("--per-digit must be in 1..=1000")
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed: apt-get install -y espeak-ng")
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    for word in WORDS:
        for n in range(args.per_digit):
            voice = f"{rng.choice(VOICES)}+{rng.choice(VARIANTS)}"
            speed = rng.randint(120, 200)  # words per minute
            pitch = rng.randint(25, 75)  # 0..99
            path = args.out / f"{word}_{n:03d}.wav"
            subprocess.run(
                [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word],
                check=True,
            )
    print(f"wrote {len(WORDS) * args.per_digit} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
