"""Runtime peers of wav2vec2: the pooled embedding (audio workload) and the CTC logits (speech).

Each peer (:mod:`mmdemo.bench.runtimes`) converts one float32 tower and runs it on the model
card's feature-extractor output, one clip per call as mmdemo's default does for one clip:

- :class:`AudioTower`: ``Wav2Vec2Model``'s last hidden state, mean over frames (the vector the
  model card and mmdemo's native road compute for one clip);
- :class:`CtcTower`: ``Wav2Vec2ForCTC``'s logits [B, frames, vocab], decoded greedily.

Fidelity against float32 torch on the workload's fidelity clips: for embeddings the centred
cosine and relative error (:mod:`mmdemo.bench.fidelity`); for CTC the same on the logits of every
frame and top-1 agreement at clear-margin frames (float32's best token >= 1 nat above its second);
identical greedy transcripts are reported (near-tie frames of a random CTC head may flip).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mmdemo.bench.config import MIN_CENTRED_COSINE
from mmdemo.bench.fidelity import (
    Fidelity,
    centred_cosine,
    clear_margin_agreement,
    identical_sequences,
    mean_cosine,
    relative_error,
    relative_error_bar,
)
from mmdemo.bench.peer_sets import PeerSet, Say, convert_all
from mmdemo.bench.results import RuntimeResult
from mmdemo.bench.runtimes import DESCRIPTIONS
from mmdemo.runtimes.towers import Wav2Vec2Tower


class AudioTower(Wav2Vec2Tower):
    """wav2vec2's mean-pooled last hidden state [B, H] from input values [B, samples] (the model
    card's vector for one clip: mean over every frame)."""

    input_names = ("input_values",)
    dynamic_axes = {"input_values": {0: "batch", 1: "samples"}}

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model, "last_hidden_state")

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return super().forward(input_values).mean(dim=1)


class CtcTower(Wav2Vec2Tower):
    """wav2vec2 CTC logits [B, frames, vocab] from input values [B, samples]: the tower mmdemo's
    runtime converts (:class:`~mmdemo.runtimes.towers.Wav2Vec2Tower`), without the mask."""

    input_names = ("input_values",)
    dynamic_axes = {"input_values": {0: "batch", 1: "samples"}}

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model, "logits")


def _values(extractor, clip: np.ndarray, sample_rate: int) -> torch.Tensor:
    return extractor(clip, sampling_rate=sample_rate, return_tensors="pt")["input_values"]


def convert_audio_peers(peers: tuple[str, ...], tower_class: type, model: torch.nn.Module, example: torch.Tensor,
                        say: Say | None = None) -> dict[str, PeerSet]:
    """Every peer of ``peers`` converted from ``tower_class(model)`` (one tower named ``"encoder"``)."""
    return convert_all(peers, lambda: {"encoder": (tower_class(model.eval()), (example,))}, say)


def timed_cases(peer_sets: dict[str, PeerSet], extractor, clip: np.ndarray, sample_rate: int,
                finish: Callable[[torch.Tensor], object] = lambda out: out) -> dict[str, tuple[Callable, str]]:
    """Case name -> (timed callable, description): the feature extractor, the converted tower and
    ``finish`` on its output (e.g. CTC decoding), for each converted peer."""
    return {peer: (lambda run=s.runs["encoder"]: finish(run(_values(extractor, clip, sample_rate))),
                   DESCRIPTIONS[peer] + ", one clip per call")
            for peer, s in peer_sets.items() if s.ok}


def embedding_fidelity(peer_sets: dict[str, PeerSet], reference: torch.Tensor, extractor, clips: list[np.ndarray],
                       sample_rate: int) -> list[RuntimeResult]:
    """Each converted embedding peer against float32 torch's pooled vectors ``reference`` [N, H] of ``clips``."""
    bar = MIN_CENTRED_COSINE
    for peer_set in peer_sets.values():
        if peer_set.ok:
            run = peer_set.runs["encoder"]
            candidate = torch.cat([run(_values(extractor, clip, sample_rate)) for clip in clips])
            checks = [mean_cosine(reference, candidate)]
            if len(clips) > 1:
                checks += [centred_cosine(reference, candidate, threshold=bar),
                           relative_error(reference, candidate, threshold=relative_error_bar(bar))]
            peer_set.result.fidelity = checks
    return [peer_set.result for peer_set in peer_sets.values()]


def ctc_checks(reference: list[torch.Tensor], candidate: list[torch.Tensor], ref_texts: list[str],
               cand_texts: list[str]) -> list[Fidelity]:
    """CTC logits ``candidate[i]`` [frames, vocab] against float32's ``reference[i]``: centred
    cosine and relative error over every frame, clear-margin frame agreement, identical transcripts."""
    ref_frames, cand_frames = torch.cat(reference), torch.cat(candidate)
    bar = MIN_CENTRED_COSINE
    ref_logprobs = [logits.float().log_softmax(dim=-1) for logits in reference]
    cand_logprobs = [logits.float().log_softmax(dim=-1) for logits in candidate]
    return [
        _frames(centred_cosine(ref_frames, cand_frames, threshold=bar)),
        _frames(relative_error(ref_frames, cand_frames, threshold=relative_error_bar(bar))),
        _frames(clear_margin_agreement(ref_logprobs, cand_logprobs)),
        # reported, not a bar: a random-weight CTC head's frames are near-ties (few have a clear
        # margin), so any rounding changes a letter of its letter soup
        identical_sequences(ref_texts, cand_texts, what="greedy CTC transcripts (reported: near-ties may flip)",
                            threshold=0.0),
    ]


def _frames(check: Fidelity) -> Fidelity:
    check.metric = f"CTC logits per frame: {check.metric}"
    return check


def ctc_fidelity(peer_sets: dict[str, PeerSet], reference: list[torch.Tensor], decode: Callable[[torch.Tensor], str],
                 extractor, clips: list[np.ndarray], sample_rate: int) -> list[RuntimeResult]:
    """Each converted CTC peer against float32 torch's logits ``reference[i]`` [frames, vocab] of ``clips``;
    ``decode`` turns one clip's logits into its transcript."""
    ref_texts = [decode(logits) for logits in reference]
    for peer_set in peer_sets.values():
        if peer_set.ok:
            run = peer_set.runs["encoder"]
            candidate = [run(_values(extractor, clip, sample_rate))[0] for clip in clips]
            peer_set.result.fidelity = ctc_checks(reference, candidate, ref_texts, [decode(c) for c in candidate])
    return [peer_set.result for peer_set in peer_sets.values()]
