"""A runtime peer made of several towers (BLIP: vision, question, decoder step), converted together.

:func:`mmdemo.bench.runtimes.convert_peer` converts one tower; a peer of a model with several
parts is converted tower by tower, and its :class:`~mmdemo.bench.results.RuntimeResult` adds up
the parts: conversion seconds and resident memory summed, the last peak, skipped or failed as soon
as one part is (with that part's name in the reason). Converted runs are returned by tower name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from mmdemo.bench.results import RuntimeResult
from mmdemo.bench.runtimes import DESCRIPTIONS, Run, convert_peer

Say = Callable[[str], None]
# tower name -> (the float32 tower, an example input tuple)
Towers = dict[str, tuple[torch.nn.Module, tuple[torch.Tensor, ...]]]


@dataclass
class PeerSet:
    """One peer's converted towers (``runs``, empty unless ``result.status == "ok"``) and its result."""

    result: RuntimeResult
    runs: dict[str, Run] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result.status == "ok"


def convert_towers(peer: str, towers: Towers, say: Say | None = None) -> PeerSet:
    """Convert every tower of ``towers`` for ``peer``; stops at the first one skipped or failed."""
    runs: dict[str, Run] = {}
    seconds = added = 0.0
    peak = None
    for name, (tower, example) in towers.items():
        if say:
            say(f"runtime peer {peer}: converting {name} ({type(tower).__name__})")
        converted = convert_peer(peer, tower, example)
        part = converted.result
        if part.status != "ok":
            reason = part.reason if part.status == "skipped" else f"{name}: {part.reason}"
            return PeerSet(RuntimeResult(peer, part.status, reason))
        runs[name] = converted.run
        seconds += part.conversion_s or 0.0
        added += part.rss_added_mib or 0.0
        peak = part.peak_rss_mib
    what = f"{DESCRIPTIONS[peer]} ({', '.join(towers)})"
    result = RuntimeResult(peer, "ok", what, conversion_s=seconds, rss_added_mib=added, peak_rss_mib=peak)
    if say:
        say(f"runtime peer {peer}: ok, converted in {seconds:.1f} s")
    return PeerSet(result, runs)


def convert_all(peers: tuple[str, ...], make_towers: Callable[[], Towers], say: Say | None = None) -> dict[str, PeerSet]:
    """Each peer of ``peers`` with its own fresh towers from ``make_towers`` (a compiled or traced
    module must not be shared between peers)."""
    return {peer: convert_towers(peer, make_towers(), say) for peer in peers}
