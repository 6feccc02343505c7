"""Write the app's example media (assets/examples/world) from the bundled world's test split.

Run from the repository root: ``python -m assets.examples.make_examples`` is not a package, so use
``PYTHONPATH=. python assets/examples/make_examples.py``.
"""

from pathlib import Path

import soundfile

from mmdemo.world.dataset import make_sample

OUT = Path(__file__).resolve().parent / "world"

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for k in range(8):
        sample = make_sample("test", k)
        sample.image().save(OUT / f"scene_{k}.png")
        if k < 4:
            soundfile.write(OUT / f"sound_{k}.wav", sample.scene_audio(), sample.config.sample_rate, subtype="PCM_16")
            (OUT / f"caption_{k}.txt").write_text(sample.caption + "\n")
        print(k, sample.caption)
