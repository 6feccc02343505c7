"""``python -m mmdemo index``: build, query, inspect and evaluate a cross-modal retrieval index.

Examples::

    python -m mmdemo index build photos/ --out photos.index
    python -m mmdemo index build s3://bucket/photos --out photos.index --engine ray --address auto --workers 8
    python -m mmdemo index query photos.index --text "a red circle" --k 5 --modality image
    python -m mmdemo index query photos.index --image query.png
    python -m mmdemo index eval --world --n 100
    python -m mmdemo index eval --pairs data/test/manifest.csv --directions text-image,image-text
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from mmdemo.retrieval.build import AddReport, BuildProgress
from mmdemo.retrieval.config import APPROX_KINDS, SEARCH_METHODS, STORAGE_DTYPES, IndexConfig
from mmdemo.retrieval.embedder import default_embedder
from mmdemo import registry
from mmdemo.retrieval.evaluate import DIRECTIONS, EvalReport, PairedSet, evaluate_pairs
from mmdemo.retrieval.index import RetrievalIndex, SearchResult
from mmdemo.retrieval.items import MODALITIES
from mmdemo.retrieval.persist import is_index_folder, read_index_manifest

_MAX_LISTED_FAILURES = 20


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="image-text model (registry name) for images and texts; "
                        "default: the index's model, or the active preset's")
    parser.add_argument("--audio-model", help="audio model aligned into the image-text space; "
                        "default: the index's model, or the active preset's")


def _models(args: argparse.Namespace) -> dict[str, str | None]:
    return {"image": args.model, "text": args.model, "audio": args.audio_model}


def _models_with(recorded: dict[str, str], args: argparse.Namespace, space: str | None = None) -> dict[str, str | None]:
    """The index's models where it has them, else the ones asked for, else (audio of an index built
    without audio) the one registered audio model in the index's ``space``; None: the preset's."""
    asked = _models(args)
    models = {modality: recorded.get(modality) or asked[modality] for modality in MODALITIES}
    if models["audio"] is None and space is not None:
        aligned = registry.models_in_space(space, "audio")
        models["audio"] = aligned[0] if len(aligned) == 1 else None
    return models


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo index",
        description="Build, query, inspect and evaluate a cross-modal retrieval index "
        "(images, texts and audio in one embedding space).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{build,query,info,remove,eval}")

    build = commands.add_parser(
        "build", help="embed the images, audio and .txt files of folders into an index",
        description="Embed every image, audio and .txt file under FOLDER(s) into the index at --out "
        "(created, or updated: unchanged files are skipped, and the embedding cache makes an "
        "interrupted build resume without recomputing). Unreadable files are skipped and reported.",
    )
    build.add_argument("folders", nargs="+", metavar="SOURCE",
                       help="folder(s) of media files; with --engine ray also a manifest (.txt/.csv/.tsv/.jsonl "
                       "of paths) or a URI pyarrow reads (s3://, gs://, hdfs://, file://)")
    build.add_argument("--out", required=True, metavar="INDEX", help="index folder to create or update")
    _add_model_options(build)
    build.add_argument("--batch-size", type=int, default=32, help="inputs per embedding call (default 32)")
    build.add_argument("--no-recursive", action="store_true", help="do not descend into sub-folders")
    build.add_argument("--no-cache", action="store_true", help="bypass the on-disk embedding cache")
    build.add_argument("--prune", action="store_true", help="remove items whose files under FOLDER are gone")
    build.add_argument("--dtype", choices=list(STORAGE_DTYPES), help="vector storage (new index default: float32)")
    _add_method_options(build, "default search method (new index default: auto)")
    build.add_argument("--approx-kind", choices=list(APPROX_KINDS), help="approximate index kind (default hnsw)")
    build.add_argument("--approx-threshold", type=int,
                       help="items from which 'auto' searches approximately (default 200000)")
    build.add_argument("--checkpoint-seconds", type=float, default=120.0,
                       help="save the partial index this often during a long build (default 120; 0: never)")
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: a Ray cluster with Ray Data (shards under "
                       "INDEX/shards, resumable; needs `pip install -r requirements-scale.txt`)")
    build.add_argument("--address", help="--engine ray: the cluster (auto, HOST:PORT or ray://...); "
                       "default: start Ray on this machine")
    build.add_argument("--workers", type=int, default=2, help="--engine ray: embedding actors (default 2)")
    build.add_argument("--gpus-per-worker", type=float, default=0.0,
                       help="--engine ray: GPUs per actor (default 0: CPU; fractions share a GPU)")

    query = commands.add_parser("query", help="search an index with a text, an image or an audio clip",
                                description="Search INDEX and print the top-k items with cosine scores.")
    query.add_argument("index", metavar="INDEX", help="index folder")
    given = query.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help="query text")
    given.add_argument("--image", metavar="PATH", help="query image file")
    given.add_argument("--audio", metavar="PATH", help="query audio file")
    query.add_argument("--k", type=int, default=5, help="number of results (default 5)")
    query.add_argument("--modality", action="append", choices=list(MODALITIES),
                       help="only return items of this modality (repeatable)")
    _add_method_options(query, "override the index's search method")
    query.add_argument("--json", action="store_true", help="print the results as JSON")
    _add_model_options(query)

    info = commands.add_parser("info", help="summarise an index", description="Print an index's size, models and settings.")
    info.add_argument("index", metavar="INDEX", help="index folder")
    info.add_argument("--items", action="store_true", help="also list every item")

    remove = commands.add_parser("remove", help="remove items by id", description="Remove items (by id) from an index.")
    remove.add_argument("index", metavar="INDEX", help="index folder")
    remove.add_argument("ids", nargs="+", metavar="ID", help="item ids (absolute file paths, or text:... ids)")

    evaluate = commands.add_parser(
        "eval", help="recall@1/5/10 and median rank on a paired set",
        description="Embed a paired set (each pair: an image, a text and/or an audio clip describing the "
        "same thing) and report recall@K and median rank for text->image, image->text, audio->image "
        "and audio->text. Pairs with the same text (or --group-column value) count as one group.",
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", metavar="MANIFEST", help="CSV/TSV/JSONL manifest with text, image, audio columns")
    source.add_argument("--world", action="store_true", help="use the bundled world's samples")
    evaluate.add_argument("--group-column", help="manifest column that groups equivalent pairs (default: text)")
    evaluate.add_argument("--split", default="test", help="bundled world split (default test)")
    evaluate.add_argument("--n", type=int, default=100, help="bundled world samples (default 100)")
    evaluate.add_argument("--seed", type=int, default=0, help="bundled world seed (default 0)")
    evaluate.add_argument("--limit", type=int, help="use only the first N manifest rows")
    evaluate.add_argument("--directions", help=f"comma-separated subset of {', '.join(_cli_direction(d) for d in DIRECTIONS)}")
    evaluate.add_argument("--ks", default="1,5,10", help="K values of recall@K (default 1,5,10)")
    evaluate.add_argument("--index", metavar="INDEX", help="embed with the models of this index")
    evaluate.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    _add_model_options(evaluate)
    return parser


class _DeprecatedAlias(argparse.Action):
    """Stores like the option it stands for, with a warning on stderr."""

    def __init__(self, *args, replacement: str, **kwargs) -> None:  # noqa: ANN002, ANN003 - argparse's
        super().__init__(*args, **kwargs)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001 - argparse's
        print(f"warning: {option_string} is deprecated; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _add_method_options(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--method`` (exact, approx or auto) and its deprecated alias ``--backend``."""
    parser.add_argument("--method", choices=list(SEARCH_METHODS), help=help_text)
    parser.add_argument("--backend", dest="method", choices=list(SEARCH_METHODS), action=_DeprecatedAlias,
                        replacement="--method", help="deprecated alias of --method")


def _cli_direction(direction: str) -> str:
    return direction.replace("->", "-")


def _parse_directions(text: str | None, parser: argparse.ArgumentParser) -> list[str] | None:
    if not text:
        return None
    by_name = {_cli_direction(d): d for d in DIRECTIONS} | {d: d for d in DIRECTIONS}
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in by_name]
    if unknown:
        parser.error(f"unknown direction(s) {unknown}; valid: {', '.join(_cli_direction(d) for d in DIRECTIONS)}")
    return [by_name[part] for part in chosen]


# --------------------------------------------------------------------------------------- build


def _build_config(args: argparse.Namespace, base: IndexConfig | None) -> IndexConfig | None:
    """The config for a build: the saved one (or the defaults) with the flags given applied; None
    keeps the saved one."""
    if base is not None and all(
        getattr(args, name) is None for name in ("dtype", "method", "approx_kind", "approx_threshold")
    ):
        return None
    base = base or IndexConfig()
    approx = base.approx if args.approx_kind is None else replace(base.approx, kind=args.approx_kind)
    return IndexConfig(
        storage_dtype=args.dtype or base.storage_dtype,
        method=args.method or base.method,
        approx_threshold=args.approx_threshold or base.approx_threshold,
        approx=approx,
    )


class _Progress:
    """Prints build progress to stderr: in place on a terminal, every few seconds otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, state: BuildProgress) -> None:
        now = time.monotonic()
        final = state.done == state.total
        if self.quiet or (not self.tty and not final and now - self.last < 5.0):
            return
        self.last = now
        line = (f"[{state.done}/{state.total}] {state.added} embedded, {state.unchanged} unchanged, "
                f"{state.failed} failed, {state.elapsed_s:.0f} s")
        print(("\r" + line) if self.tty else line, end="\n" if final or not self.tty else "", file=sys.stderr, flush=True)


def _print_report(report: AddReport, folder: str) -> None:
    print(f"{folder}: {report.summary()}")
    for skipped in report.failed[:_MAX_LISTED_FAILURES]:
        print(f"  skipped {skipped}")
    if len(report.failed) > _MAX_LISTED_FAILURES:
        print(f"  ... and {len(report.failed) - _MAX_LISTED_FAILURES} more skipped")


def _prune(index: RetrievalIndex, folders: list[Path]) -> int:
    gone = [
        item.id for item in index.items()
        if item.is_file and any(Path(item.source).is_relative_to(f) for f in folders) and not Path(item.source).exists()
    ]
    return index.remove(gone)


def _run_build(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.engine == "ray":
        return _run_ray_build(args, parser)
    folders = [Path(folder).expanduser().resolve() for folder in args.folders]
    for folder in folders:
        if not folder.is_dir():
            parser.error(f"not a folder: {folder}")
    out = Path(args.out)
    index = _open_index(args, out)
    index.embedder = default_embedder(_models_with(index.models, args), batch_size=args.batch_size, use_cache=not args.no_cache)
    last_save = time.monotonic()

    def checkpoint(_: AddReport) -> None:
        nonlocal last_save
        if args.checkpoint_seconds > 0 and time.monotonic() - last_save >= args.checkpoint_seconds:
            index.save(out)
            last_save = time.monotonic()

    try:
        if args.prune:
            print(f"Pruned {_prune(index, folders)} items whose files are gone")
        for folder in folders:
            report = index.add_folder(
                folder, recursive=not args.no_recursive, batch_size=args.batch_size,
                progress=_Progress(args.quiet), after_batch=checkpoint,
            )
            _print_report(report, str(folder))
    except KeyboardInterrupt:
        index.save(out)
        print(f"\nInterrupted: saved {len(index)} items to {out}; run the same command again to resume.", file=sys.stderr)
        return 130
    return _finish_build(index, out)


def _open_index(args: argparse.Namespace, out: Path) -> RetrievalIndex:
    """The index at ``out`` (updated), or a new one, with the build flags applied."""
    if is_index_folder(out):
        saved = IndexConfig.from_json(read_index_manifest(out).get("config") or {})
        index = RetrievalIndex.load(out, expect_models=_models(args), config=_build_config(args, saved))
        print(f"Updating {out} ({len(index)} items)")
        return index
    return RetrievalIndex(_build_config(args, None))


def _run_ray_build(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``--engine ray``: embed on a Ray cluster into INDEX/shards, then merge the shards into INDEX."""
    from mmdemo.loading import SETTINGS
    from mmdemo.presets import active_preset
    from mmdemo.scale.cluster import require_ray
    from mmdemo.scale.merge import merge_shards
    from mmdemo.scale.ray_embed import RayJobConfig, embed_sources
    from mmdemo.scale.shards import SHARDS_FOLDER

    require_ray()
    if args.workers < 1 or args.gpus_per_worker < 0:
        parser.error(f"--workers must be >= 1 and --gpus-per-worker >= 0, got {args.workers}, {args.gpus_per_worker}")
    out = Path(args.out)
    if out.is_dir() and not is_index_folder(out) and any(path.name != SHARDS_FOLDER for path in out.iterdir()):
        parser.error(f"{out} holds other files and no index")
    index = _open_index(args, out)
    if not is_index_folder(out):
        index.save(out)  # INDEX is an index folder from the start, so its shards/ can sit inside it
    if args.prune:
        print(f"Pruned {_prune(index, [Path(f).expanduser().resolve() for f in args.folders if Path(f).is_dir()])} items whose files are gone")
    config = RayJobConfig(
        workers=args.workers, batch_size=args.batch_size, gpus_per_worker=args.gpus_per_worker,
        models=_models_with(index.models, args), preset=active_preset(),
        dtype=SETTINGS.dtype,  # the workers run as this process would (float32 gives bit-identical vectors)
    )
    try:
        shards, report = embed_sources(args.folders, out, config, address=args.address, recursive=not args.no_recursive)
    except KeyboardInterrupt:
        print(f"\nInterrupted: finished shards are kept in {out / SHARDS_FOLDER}; run the same command again to resume.",
              file=sys.stderr)
        return 130
    merge_shards(index, out / SHARDS_FOLDER, shards)
    print(f"{', '.join(args.folders)}: {report.embedded} embedded, {len(report.failed)} failed, {len(report.ignored)} "
          f"ignored in {report.elapsed_s:.1f} s ({report.shards_computed} shards computed, {report.shards_reused} reused)")
    for skipped in report.failed[:_MAX_LISTED_FAILURES]:
        print(f"  skipped {skipped}")
    if len(report.failed) > _MAX_LISTED_FAILURES:
        print(f"  ... and {len(report.failed) - _MAX_LISTED_FAILURES} more skipped")
    return _finish_build(index, out)


def _finish_build(index: RetrievalIndex, out: Path) -> int:
    """Build the approximate structure when the index searches approximately, and save it."""
    if len(index) and index.resolve_method(None, len(index)) == "approx":
        start = time.monotonic()
        index.build_approx()
        recall = index.approx_recall(n_queries=min(200, len(index)))
        print(f"Approximate index ({index.config.approx.kind}) built in {time.monotonic() - start:.1f} s; "
              f"recall@10 against exact search: {recall:.3f}")
    index.save(out)
    print(f"Saved {out}: {len(index)} items ({_counts_text(index.counts())}), space {index.space!r}")
    return 0


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[m]} {m}" for m in MODALITIES if counts.get(m)) or "empty"


# --------------------------------------------------------------------------------------- query


def _print_result(result: SearchResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "query_modality": result.query_modality,
            "model": result.model,
            "method": result.method,
            "elapsed_ms": round(result.elapsed_ms, 3),
            "hits": [hit.__dict__ for hit in result.hits],
        }, indent=2, ensure_ascii=False))
        return
    print(f"{len(result)} results ({result.method}, {result.elapsed_ms:.2f} ms, query embedded by {result.model}):")
    for hit in result.hits:
        label = f" [{hit.label}]" if hit.label else ""
        source = hit.source if len(hit.source) <= 100 else hit.source[:97] + "..."
        print(f"{hit.rank:>3}. {hit.score:7.4f}  {hit.modality:<5} {source}{label}")


def _run_query(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.k < 1:
        parser.error(f"--k must be >= 1, got {args.k}")
    index = RetrievalIndex.load(args.index, expect_models=_models(args))
    index.embedder = default_embedder(_models_with(index.models, args, index.space))
    result = index.query(text=args.text, image=args.image, audio=args.audio, k=args.k,
                         modality=args.modality, method=args.method)
    _print_result(result, args.json)
    return 0


def _run_info(args: argparse.Namespace) -> int:
    index = RetrievalIndex.load(args.index)
    info = index.info()
    print(f"{args.index}: {info.count} items ({_counts_text(info.counts)}), dimension {info.dim}")
    print(f"space: {info.space}; models: {info.models}")
    print(f"storage: {info.storage_dtype}; search method: {info.method} (approximate {info.approx_kind} from "
          f"{info.approx_threshold} items; built: {'yes' if info.approx_built else 'no'})")
    if args.items:
        for item in index.items():
            print(f"{item.modality:<5} {item.id}" + (f" [{item.label}]" if item.label else ""))
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    index = RetrievalIndex.load(args.index)
    removed = index.remove(args.ids)
    index.save(args.index)
    print(f"Removed {removed} items; {len(index)} left")
    return 0


# --------------------------------------------------------------------------------------- eval


def _run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directions = _parse_directions(args.directions, parser)
    try:
        ks = [int(k) for k in args.ks.split(",") if k.strip()]
    except ValueError:
        parser.error(f"--ks must be comma-separated integers, got {args.ks!r}")
    models = _models(args)
    if args.index:
        models = _models_with(RetrievalIndex.load(args.index, expect_models=models).models, args)
    if args.world:
        pairs = PairedSet.from_world(args.split, args.n, args.seed)
    else:
        pairs = PairedSet.from_manifest(args.pairs, group_column=args.group_column, limit=args.limit)
    report = evaluate_pairs(pairs, embedder=default_embedder(models), directions=directions, ks=ks)
    _print_eval(report)
    if args.json:
        from mmdemo.storage import write_json_atomic

        write_json_atomic(args.json, report.to_json())
        print(f"Wrote {args.json}")
    return 0


def _print_eval(report: EvalReport) -> None:
    print(f"{report.source}: {report.n_pairs} pairs; models {report.models}; space {report.space!r}")
    print(report.table())
    for line in report.skipped[:_MAX_LISTED_FAILURES]:
        print(f"  skipped {line}")
    if len(report.skipped) > _MAX_LISTED_FAILURES:
        print(f"  ... and {len(report.skipped) - _MAX_LISTED_FAILURES} more skipped")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "build":
        return _run_build(args, parser)
    if args.command == "query":
        return _run_query(args, parser)
    if args.command == "info":
        return _run_info(args)
    if args.command == "remove":
        return _run_remove(args)
    return _run_eval(args, parser)


if __name__ == "__main__":
    sys.exit(main())
