"""Command-line entry points: ``python -m mmdemo <command>``; one module per command."""

from __future__ import annotations

COMMANDS = {
    "train": "train fusion heads on a manifest and write a comparison report",
    "evaluate": "evaluate saved fusion heads on a manifest",
    "index": "build, query and evaluate a cross-modal retrieval index",
    "world": "write the bundled shapes world (images, sounds, texts, labels) as files plus manifests",
    "pretrain": "generate the bundled world and pretrain the bundled models on it",
    "bench": "benchmark the fast paths against the plain baseline",
    "explain": "relevance maps: why a model matched a text or image, wrote a caption word, gave an answer",
}
