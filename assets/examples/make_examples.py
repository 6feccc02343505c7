"""Write the app's example media: assets/examples/world from the bundled world's test split, and
assets/examples/photos (small JPEGs of scikit-image's CC0 / public-domain photos, see its LICENSE.md)
and assets/examples/speech (a spoken query, synthesised with espeak-ng and sox).

Run from the repository root: ``python -m assets.examples.make_examples`` is not a package, so use
``PYTHONPATH=. python assets/examples/make_examples.py``.
"""

import subprocess
import tempfile
from pathlib import Path

import soundfile

from mmdemo.world.dataset import make_sample

OUT = Path(__file__).resolve().parent / "world"
PHOTOS = Path(__file__).resolve().parent / "photos"
SPEECH = Path(__file__).resolve().parent / "speech"
SPOKEN = {"coffee_cup": "the coffee cup on the table"}  # file stem -> what is said
PHOTO_CAPTIONS = {  # scikit-image data name -> the text file shipped beside it
    "chelsea": "a tabby cat lying on a sofa",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket lifting off from its launch pad",
    "astronaut": "an astronaut in a space suit",
}


def write_photos() -> None:
    """Each photo with its longest side at 384 px (JPEG, quality 85) and its caption as a .txt."""
    from PIL import Image
    from skimage import data

    PHOTOS.mkdir(parents=True, exist_ok=True)
    for name, text in PHOTO_CAPTIONS.items():
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        image.thumbnail((384, 384), Image.LANCZOS)
        image.save(PHOTOS / f"{name}.jpg", quality=85, optimize=True)
        (PHOTOS / f"{name}.txt").write_text(text + "\n")


def write_speech() -> None:
    """Each spoken query with espeak-ng (en-us, 150 wpm), resampled to 16 kHz mono 16-bit by sox."""
    SPEECH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for stem, text in SPOKEN.items():
            raw = Path(tmp) / f"{stem}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
            subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(SPEECH / f"{stem}.wav")],
                           check=True)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for k in range(8):
        sample = make_sample("test", k)
        sample.image().save(OUT / f"scene_{k}.png")
        if k < 4:
            soundfile.write(OUT / f"sound_{k}.wav", sample.scene_audio(), sample.config.sample_rate, subtype="PCM_16")
            (OUT / f"caption_{k}.txt").write_text(sample.caption + "\n")
        print(k, sample.caption)
    write_photos()
    write_speech()
