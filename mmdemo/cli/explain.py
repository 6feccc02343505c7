"""``python -m mmdemo explain``: a relevance map of why a model says what it says about an image.

Examples::

    python -m mmdemo explain scene.png --text "a red circle" --out map.png --raw map.npy
    python -m mmdemo explain hit.png --query-image query.png --out map.png
    python -m mmdemo explain scene.png --caption --out words.png          # each word of the generated caption
    python -m mmdemo explain scene.png --caption "a large red circle on the left." --out words.png
    python -m mmdemo explain scene.png --question "what colour is the shape on the left?" --out answer.png
    python -m mmdemo explain --benchmark                                   # localisation table + timing

``--out`` is the overlay (for a caption: a grid, one overlay per word); ``--raw`` the float32 map
``H x W`` (for a caption ``words x H x W``) as ``.npy``. Maps are in [0, 1], the most relevant
patch 1 (see :mod:`mmdemo.explain.result`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from mmdemo.explain import METHODS

    methods = sorted({m for group in METHODS.values() for m in group})
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo explain", description="Relevance maps for texts, retrieval hits, caption words and answers."
    )
    parser.add_argument("image", nargs="?", help="the image to explain")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--text", help="a zero-shot label or any text (image-text model)")
    target.add_argument("--query-image", help="a query image: explain IMAGE as its retrieval hit")
    target.add_argument(
        "--caption", nargs="?", const="", default=None,
        help="explain each word of this caption, or (no value) of the caption the model generates",
    )
    target.add_argument("--question", help="explain the VQA answer to this question")
    target.add_argument("--benchmark", action="store_true", help="print the localisation table and the timing")
    parser.add_argument("--answer", help="with --question: explain this answer instead of the model's own")
    parser.add_argument("--model", help="registry name of the model (default: the role's default)")
    parser.add_argument(
        "--preset", default="auto",
        help="whose default models: pretrained, bundled, or auto (pretrained when cached or reachable; default)",
    )
    parser.add_argument("--method", help=f"explanation method, one of {methods} (default: the measured best)")
    parser.add_argument("--out", type=Path, default=Path("explanation.png"), help="overlay PNG (default explanation.png)")
    parser.add_argument("--raw", type=Path, help="also write the raw float32 map as .npy")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (default 0.5)")
    parser.add_argument("--colormap", default="jet", help="matplotlib colormap (default jet)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to run")
    parser.add_argument("--scenes", type=int, default=100, help="with --benchmark: held-out scenes per task")
    return parser


def _benchmark(args: argparse.Namespace) -> int:
    from mmdemo.explain import benchmark
    from mmdemo.presets import use_preset

    use_preset("bundled")
    print(benchmark.markdown(benchmark.localisation_table(scenes=args.scenes)))
    for timing in benchmark.time_clip_maps():
        print(f"{timing.model}, {timing.method}: {timing.seconds * 1000:.0f} ms per map (median of {timing.repeats})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.benchmark:
        return _benchmark(args)
    if args.image is None:
        parser.error("IMAGE is required (or use --benchmark)")
    if args.text is None and args.query_image is None and args.caption is None and args.question is None:
        parser.error("give a target: --text, --query-image, --caption or --question")
    if args.answer is not None and args.question is None:
        parser.error("--answer needs --question")
    import numpy as np

    from mmdemo import explain
    from mmdemo.explain.figure import overlay_grid
    from mmdemo.presets import choose_preset, use_preset
    from mmdemo.registry import resolve_spec

    use_preset(choose_preset(args.preset).preset)
    common = dict(model=args.model, method=args.method, device=args.device)
    # The offline preset's ConSE model (its captions and answers are built from its classes):
    # Grad-CAM of the ImageNet class nearest --text, else of the image's top class.
    conse = resolve_spec(args.model, "image-text").backend == "conse"
    if conse:
        found = explain.explain_class(args.image, args.text, model=args.model, device=args.device)
        print(f"{found.target}: {found.score_kind} {found.score:.4f}; peak at {tuple(round(v) for v in found.peak)}")
        figure, raw = found.overlay(opacity=args.opacity, colormap=args.colormap), found.relevance
        method, model, path = found.method, found.model, found.path
    elif args.caption is not None:
        result = explain.explain_caption(args.image, args.caption or None, **common)
        print(f'caption: "{result.caption}" ({"generated" if result.generated else "given"}), mean log-prob {result.score:.3f}')
        for token, word in zip(result.tokens, result.words):
            print(f"  {token:<12} log-prob {word.score:8.3f}  peak at {tuple(round(v) for v in word.peak)}")
        figure = overlay_grid(result.words, result.tokens, opacity=args.opacity, colormap=args.colormap, original=result.words[0].image if result.words else None)
        raw = np.stack([w.relevance for w in result.words]) if result.words else np.zeros((0, 0, 0), np.float32)
        method, model, path = (result.words[0].method, result.words[0].model, result.words[0].path) if result.words else (args.method, args.model, "")
    else:
        if args.text is not None:
            found = explain.explain_text(args.image, args.text, **common)
        elif args.query_image is not None:
            found = explain.explain_image_match(args.image, args.query_image, **common)
        else:
            found = explain.explain_answer(args.image, args.question, args.answer, **common)
        print(f"{found.target}: {found.score_kind} {found.score:.4f}; peak at {tuple(round(v) for v in found.peak)}")
        figure, raw = found.overlay(opacity=args.opacity, colormap=args.colormap), found.relevance
        method, model, path = found.method, found.model, found.path
    print(f"method {method}, model {model}; computed on a {path}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"wrote {args.out}")
    if args.raw is not None:
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.raw, raw.astype(np.float32))
        print(f"wrote {args.raw} ({'x'.join(str(s) for s in raw.shape)} float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
