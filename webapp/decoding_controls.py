"""The Captioning tab's decoding controls adjust to each other instead of erroring: greedy gives one
caption, beam search gets at least as many beams as captions, and sampling draws extra samples to
find the distinct captions asked for (or says why there are fewer).

:class:`mmdemo.DecodingConfig` stays strict for library callers; the app adjusts the request first
and says what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_CAPTIONS = 10  # DecodingConfig's limit on num_return_sequences
MAX_BEAMS = 20  # DecodingConfig's limit on beams


@dataclass(frozen=True)
class DecodingRequest:
    """What the tab asks the model for, after adjusting the controls.

    Attributes:
        strategy: ``greedy``, ``beam`` or ``sample``.
        num_captions: the captions shown.
        num_beams: beams searched (beam search).
        num_samples: sequences generated (sampling draws more than it shows, to find distinct ones).
        notes: what was changed from the controls, in words (shown under the captions).
    """

    strategy: str
    num_captions: int
    num_beams: int
    num_samples: int
    notes: list[str] = field(default_factory=list)


def adjust(strategy: str, num_captions: int, num_beams: int) -> DecodingRequest:
    """The request the controls mean: greedy -> 1 caption; beam -> at least ``num_captions`` beams;
    sample -> twice the samples (up to :data:`MAX_CAPTIONS`), to find ``num_captions`` distinct ones."""
    num_captions = min(max(int(num_captions), 1), MAX_CAPTIONS)
    num_beams = min(max(int(num_beams), 1), MAX_BEAMS)
    notes = []
    if strategy == "greedy" and num_captions != 1:
        notes.append(f"Greedy decoding gives one caption, so 1 is shown (not {num_captions}); "
                     "choose beam or sample for more.")
        num_captions = 1
    if strategy == "beam" and num_beams < num_captions:
        notes.append(f"{num_captions} captions need at least {num_captions} beams: searched with "
                     f"{num_captions} beams (not {num_beams}).")
        num_beams = num_captions
    samples = min(MAX_CAPTIONS, 2 * num_captions) if strategy == "sample" and num_captions > 1 else num_captions
    return DecodingRequest(strategy, num_captions, num_beams, samples, notes)


def shortfall_note(request: DecodingRequest, distinct: int, temperature: float) -> str:
    """Why fewer distinct captions came back than asked for ("" when there are enough)."""
    if distinct >= request.num_captions:
        return ""
    if request.strategy == "sample":
        return (f"Sampling gave {distinct} distinct caption{'s' * (distinct != 1)} in {request.num_samples} samples "
                f"(you asked for {request.num_captions}): the model is nearly certain about this image at "
                f"temperature {temperature:g}. Raise the temperature, or use beam for ranked alternatives.")
    return (f"Beam search found {distinct} distinct caption{'s' * (distinct != 1)} (you asked for "
            f"{request.num_captions}): the other beams ended in the same words.")
