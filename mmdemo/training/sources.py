"""Where a training run's manifest comes from: a manifest file, an uploaded zip, or the bundled world."""

from __future__ import annotations

import os
from collections.abc import Callable
import shutil
from pathlib import Path

from mmdemo.archive import extract_zip
from mmdemo.errors import MediaError
from mmdemo.training.manifest import MANIFEST_FORMATS
from mmdemo.presets import PRESETS
from mmdemo.world.dataset import WorldConfig, write_split

WORLD_SAMPLES = (20, 20_000)  # the bundled world sizes a run may ask for, inclusive


def find_manifest(folder: Path) -> Path:
    """The one manifest (.csv/.tsv/.jsonl) in ``folder`` or its sub-folders, shallowest first."""
    candidates = sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_FORMATS),
        key=lambda p: (len(p.relative_to(folder).parts), str(p)),
    )
    if not candidates:
        raise MediaError(
            f"The archive holds no manifest; add a {', '.join(sorted(MANIFEST_FORMATS))} file with "
            "text, image, audio and label columns"
        )
    top = [p for p in candidates if len(p.relative_to(folder).parts) == len(candidates[0].relative_to(folder).parts)]
    if len(top) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in top)
        raise MediaError(f"The archive holds several manifests at the same level ({names}); keep one")
    return candidates[0]


def prepare_data(source: str | os.PathLike, workdir: str | os.PathLike) -> Path:
    """A manifest path for ``source``: a manifest file as it is, or a zip extracted safely."""
    source = Path(source)
    if source.suffix.lower() == ".zip":
        target = Path(workdir) / "data"
        if target.exists():
            shutil.rmtree(target)
        extracted = extract_zip(source, target)
        return find_manifest(Path(extracted.root))
    if source.suffix.lower() in MANIFEST_FORMATS:
        return source
    raise MediaError(
        f"Unsupported data file {source.name!r}: upload a manifest "
        f"({', '.join(sorted(MANIFEST_FORMATS))}) or a .zip holding one with its files"
    )


def world_manifest(cache_dir: str | os.PathLike, samples: int = 400, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """The manifest of ``samples`` samples of the bundled world, written once under ``cache_dir``.

    The world is deterministic from its seed, so a folder written earlier for the same size and
    seed is reused (its manifest is written last, so an interrupted write is never reused).
    ``progress(done, samples)`` follows the writing (not called when the folder is reused).
    """
    low, high = WORLD_SAMPLES
    if not low <= samples <= high:
        raise MediaError(f"The bundled world sample count must be between {low} and {high:,}, got {samples}")
    folder = Path(cache_dir) / f"world-seed{seed}-n{samples}"
    manifest = folder / "train" / "manifest.csv"
    if manifest.is_file():
        return manifest
    return write_split(folder, "train", samples, WorldConfig(seed=seed), progress=progress)


def world_models() -> dict[str, str]:
    """Modality -> the bundled model that embeds it: the models that know the bundled world, which
    its data is embedded with whatever preset the rest of the app uses (the offline and pretrained
    models have never seen coloured shapes and beeps)."""
    bundled = PRESETS["bundled"]
    return {"text": bundled["image-text"], "image": bundled["image-text"], "audio": bundled["audio"]}
