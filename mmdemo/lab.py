"""The Fusion Lab's program: data -> features -> heads for several strategies -> comparison.

One call, :func:`run_lab`, does what the app's Fusion Lab tab and ``python -m mmdemo train`` do:
read a manifest (a file, an uploaded zip holding one, or the bundled world written on the fly),
embed it through the encoders' cache, train one head per strategy on one shared split, compare
them, write the report (markdown + PNG) and save every head (safetensors + JSON), plus a zip of
it all to download. Each finished head is saved as soon as its training ends, so an interrupted
run keeps the heads already trained.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmdemo.archive import extract_zip
from mmdemo.errors import MediaError
from mmdemo.evaluation.compare import Comparison, compare_results
from mmdemo.evaluation.report import ReportFiles, write_report
from mmdemo.fusion.registry import parse_strategies
from mmdemo.training.features import FeatureProgress, extract_features
from mmdemo.training.head import FusionHead
from mmdemo.training.manifest import MANIFEST_FORMATS, BadRow, read_manifest
from mmdemo.training.trainer import TrainConfig, TrainProgress, TrainResult, config_split, train_head

logger = logging.getLogger(__name__)

HEADS_DIR = "heads"
REPORT_DIR = "report"
ARCHIVE_NAME = "fusion-lab-run.zip"


@dataclass
class LabProgress:
    """Where a run is: ``stage`` (``"data"``, ``"embedding"``, ``"training"``, ``"report"``),
    the overall ``fraction`` done in [0, 1], and a line for people."""

    stage: str
    fraction: float
    message: str


LabProgressCallback = Callable[[LabProgress], None]


@dataclass
class LabRun:
    """A finished run.

    Attributes:
        folder: where everything was written.
        comparison: the side-by-side evaluation (tables and figures).
        heads: strategy -> folder of the saved head (``FusionHead.load`` reads it).
        report: the markdown report and its PNG figures.
        archive: a zip of the heads and the report, for download.
        bad_rows: manifest rows that were skipped, with their line numbers and reasons.
        manifest: the manifest that was used.
        seconds: wall time of the whole run.
    """

    folder: Path
    comparison: Comparison
    heads: dict[str, Path]
    report: ReportFiles
    archive: Path
    bad_rows: list[BadRow] = field(default_factory=list)
    manifest: Path | None = None
    seconds: float = 0.0


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


def world_manifest(cache_dir: str | os.PathLike, samples: int = 400, seed: int = 0) -> Path:
    """The manifest of ``samples`` samples of the bundled world, written once under ``cache_dir``.

    The world is deterministic from its seed, so a folder written earlier for the same size and
    seed is reused (its manifest is written last, so an interrupted write is never reused).
    """
    from mmdemo.world.dataset import WorldConfig, write_split

    if not 20 <= samples <= 20_000:
        raise MediaError(f"The bundled world sample count must be between 20 and 20,000, got {samples}")
    folder = Path(cache_dir) / f"world-seed{seed}-n{samples}"
    manifest = folder / "train" / "manifest.csv"
    if manifest.is_file():
        return manifest
    return write_split(folder, "train", samples, WorldConfig(seed=seed))


def _zip_folder(folder: Path, archive: Path, parts: list[str]) -> Path:
    temporary = archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for part in parts:
            for path in sorted((folder / part).rglob("*")):
                if path.is_file():
                    handle.write(path, path.relative_to(folder).as_posix())
    os.replace(temporary, archive)
    return archive


def run_lab(
    manifest: str | os.PathLike,
    strategies: str | list[str],
    config: TrainConfig | None = None,
    *,
    out_dir: str | os.PathLike,
    label_columns: list[str] | None = None,
    models: dict[str, str | None] | None = None,
    progress: LabProgressCallback | None = None,
) -> LabRun:
    """Train and compare ``strategies`` on ``manifest``; write heads, report and a zip to ``out_dir``.

    Progress: embedding takes the first 30 %, training the next 65 %, the report the rest.
    """
    start = time.perf_counter()
    names = parse_strategies(strategies)
    config = (config or TrainConfig()).validate()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)

    def report(stage: str, fraction: float, message: str) -> None:
        if progress:
            progress(LabProgress(stage, min(max(fraction, 0.0), 1.0), message))

    report("data", 0.0, "reading the manifest")
    parsed = read_manifest(manifest, label_columns=label_columns, confine_to_folder=True)

    order: dict[str, int] = {}  # modality -> its position among those embedded so far
    n_modalities = max(len(parsed.modalities), 1)

    def on_features(event: FeatureProgress) -> None:
        position = order.setdefault(event.modality, len(order))
        share = (position + event.done / max(event.total, 1)) / n_modalities
        report("embedding", 0.3 * min(share, 1.0), f"embedding {event.modality}: {event.done}/{event.total}")

    features = extract_features(parsed, models=models, progress=on_features)
    split = config_split(features, config)

    results: list[TrainResult] = []
    heads: dict[str, Path] = {}
    for index, name in enumerate(names):

        def on_epoch(event: TrainProgress) -> None:
            report("training", 0.3 + 0.65 * event.fraction, event.describe())

        result = train_head(features, name, config, split=split, progress=on_epoch,
                            strategy_index=index, n_strategies=len(names))
        results.append(result)
        heads[name] = FusionHead.from_result(result).save(folder / HEADS_DIR / name)
        logger.info("Trained %s in %.1f s", name, result.seconds)

    report("report", 0.95, "comparing the strategies")
    comparison = compare_results(results, features)
    files = write_report(comparison, folder / REPORT_DIR)
    archive = _zip_folder(folder, folder / ARCHIVE_NAME, [HEADS_DIR, REPORT_DIR])
    report("report", 1.0, "done")
    return LabRun(
        folder=folder, comparison=comparison, heads=heads, report=files, archive=archive,
        bad_rows=list(features.bad_rows), manifest=Path(manifest), seconds=time.perf_counter() - start,
    )
