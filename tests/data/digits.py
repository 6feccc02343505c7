"""A real-data fusion task: handwritten digits paired with spoken digit words.

Images are scikit-learn's 8x8 handwritten digits (``load_digits``: 1797 real scans), upscaled;
audio is the digit's word spoken by espeak-ng in several voices, speeds and pitches, with white
noise added so that speech alone is not perfect. Each sample pairs an image and a clip of the
same digit (the label). Written as a manifest (``image``, ``audio``, ``label``, ``split``) for
``python -m mmdemo train --data``::

    python -m tests.data.digits OUT_DIR --per-digit 60
"""

from __future__ import annotations

import argparse
import csv
import subprocess
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp")
SAMPLE_RATE = 16_000


def spoken_digit(word: str, path: Path, rng: np.random.Generator, noise: float) -> Path:
    """``word`` spoken by a random espeak-ng voice, speed and pitch, with white noise at ``noise``
    times the speech's RMS, saved as 16 kHz mono wav."""
    voice = VOICES[rng.integers(len(VOICES))]
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(int(rng.integers(120, 200))), "-p", str(int(rng.integers(20, 80))),
         "-w", str(raw), word],
        check=True,
    )
    samples, rate = soundfile.read(raw, dtype="float32")
    raw.unlink()
    if rate != SAMPLE_RATE:  # espeak-ng writes 22050 Hz
        positions = np.linspace(0, len(samples) - 1, int(len(samples) * SAMPLE_RATE / rate))
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    rms = float(np.sqrt(np.mean(samples**2))) or 1e-3
    samples = samples + rng.normal(0, noise * rms, len(samples)).astype(np.float32)
    soundfile.write(path, np.clip(samples, -1, 1), SAMPLE_RATE)
    return path


def digit_image(pixels: np.ndarray, path: Path, size: int = 96) -> Path:
    """An 8x8 scan (values 0..16) as a dark-on-white ``size`` px RGB image."""
    gray = (255 - pixels.reshape(8, 8) * (255 / 16)).astype(np.uint8)
    Image.fromarray(gray).resize((size, size), Image.BILINEAR).convert("RGB").save(path)
    return path


def make_digit_manifest(
    folder: Path, per_digit: int = 60, *, noise: float = 1.0, seed: int = 0,
    fractions: tuple[float, float] = (0.6, 0.2),
) -> Path:
    """Write ``per_digit`` samples of each digit under ``folder`` and their manifest; returns its path.

    ``fractions`` are the train and val shares (the rest is test), per digit.
    """
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    rows = []
    for digit in range(10):
        scans = rng.permutation(np.flatnonzero(digits.target == digit))[:per_digit]
        for position, scan in enumerate(scans):
            name = f"{digit}-{position:03d}"
            share = position / len(scans)
            split = "train" if share < fractions[0] else "val" if share < sum(fractions) else "test"
            digit_image(digits.data[scan], folder / f"{name}.png")
            spoken_digit(WORDS[digit], folder / f"{name}.wav", rng, noise)
            rows.append({"image": f"{name}.png", "audio": f"{name}.wav", "label": WORDS[digit], "split": split})
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "audio", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-digit", type=int, default=60)
    parser.add_argument("--noise", type=float, default=1.0, help="noise RMS / speech RMS (default 1.0)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_digit_manifest(args.out, args.per_digit, noise=args.noise, seed=args.seed))


if __name__ == "__main__":
    main()
