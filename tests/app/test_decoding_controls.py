"""The Captioning tab's decoding controls adjust instead of erroring, and say what they changed."""

from __future__ import annotations

from webapp.decoding_controls import DecodingRequest, adjust, shortfall_note


def test_greedy_gives_one_caption_and_says_so() -> None:
    request = adjust("greedy", 3, 3)
    assert (request.num_captions, request.num_samples) == (1, 1)
    assert request.notes == ["Greedy decoding gives one caption, so 1 is shown (not 3); choose beam or sample for more."]
    assert adjust("greedy", 1, 3).notes == []


def test_more_captions_than_beams_raises_the_beams() -> None:
    request = adjust("beam", 5, 3)
    assert (request.num_captions, request.num_beams) == (5, 5)
    assert request.notes == ["5 captions need at least 5 beams: searched with 5 beams (not 3)."]
    assert adjust("beam", 2, 4) == DecodingRequest("beam", 2, 4, 2, [])


def test_sampling_draws_extra_samples_and_says_why_fewer_came_back() -> None:
    request = adjust("sample", 3, 3)
    assert (request.num_captions, request.num_samples, request.notes) == (3, 6, [])
    assert adjust("sample", 8, 3).num_samples == 10  # DecodingConfig's most return sequences
    assert shortfall_note(request, 3, 1.0) == ""
    note = shortfall_note(request, 1, 1.0)
    assert note.startswith("Sampling gave 1 distinct caption in 6 samples (you asked for 3)")
    assert "Raise the temperature" in note
    assert shortfall_note(adjust("beam", 4, 4), 2, 1.0).startswith("Beam search found 2 distinct captions")
