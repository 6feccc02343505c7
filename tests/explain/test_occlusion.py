"""Occlusion sensitivity: the batch it builds and the relevance it reads off the scores."""

from __future__ import annotations

import pytest
import torch

from mmdemo.explain.occlusion import occluded_batch, occlusion_relevance
from mmdemo.explain.result import peak_of, to_image_map


def _picture(side: int = 12) -> torch.Tensor:
    """A light background (0.9) with a dark 3x3 blob in the top-right patch of a 2x2 grid."""
    pixels = torch.full((1, 3, side, side), 0.9)
    pixels[0, :, 1:4, 8:11] = -1.0
    return pixels


def test_the_batch_is_the_image_then_one_erased_copy_per_patch():
    pixels = _picture()
    batch = occluded_batch(pixels, (2, 2), window=0.5)
    assert batch.shape == (5, 3, 12, 12)
    torch.testing.assert_close(batch[0], pixels[0])
    for index in range(1, 5):  # every copy differs from the image only inside its window
        changed = (batch[index] != pixels[0]).any(dim=0)
        rows, cols = changed.nonzero(as_tuple=True)
        if index == 2:  # the top-right window (rows 0-5, columns 6-11) holds the blob
            assert changed.any() and rows.max() < 6 and cols.min() >= 6
        else:
            assert not changed.any()  # the background painted with itself
    assert torch.all(batch[2] == 0.9)  # the blob erased with the border's colour, not grey


def test_relevance_is_the_score_drop_per_patch_row_by_row():
    pixels = _picture()
    batch = occluded_batch(pixels, (2, 2), window=0.5)
    scores = -batch.mean(dim=(1, 2, 3))  # darker pictures score higher: the blob is the evidence
    relevance = occlusion_relevance(scores, (2, 2), (12, 12))
    assert relevance.shape == (2, 2)
    assert relevance[0, 1] > 0 and relevance.flatten().argmax() == 1
    assert torch.all(relevance[[0, 1, 1], [0, 0, 1]] == 0)
    per_token = occlusion_relevance(torch.stack([scores, -scores], dim=1), (2, 2), (12, 12))  # [tokens, gh, gw]
    assert per_token.shape == (2, 2, 2) and per_token[1].sum() == 0  # a score that rises is no evidence


def test_a_saturated_score_peaks_where_every_erasing_window_overlaps():
    """A confident model's score falls to the same floor for every window that erases any part of
    a small blob (here 16 of 36 windows); crediting each drop to its window's centre would make a
    4 x 4 plateau. Summed over the pixels each window covers, the four patches that hold the blob
    score the most, and the map's peak is on it."""
    side = 24
    pixels = torch.full((1, 3, side, side), 0.9)
    pixels[0, :, 11:13, 11:13] = -1.0  # where patches (2, 2), (2, 3), (3, 2) and (3, 3) meet
    batch = occluded_batch(pixels, (6, 6), window=0.5)
    scores = (batch[:, 0, 11:13, 11:13] == -1.0).all(dim=(1, 2)).float()  # 1 while the blob is whole
    assert int((scores[1:] == 0).sum()) == 16
    relevance = occlusion_relevance(scores, (6, 6), (side, side))
    top = relevance[2:4, 2:4]
    assert torch.all(top == top.max())
    others = relevance.clone()
    others[2:4, 2:4] = -1
    assert others.max() < top.max()
    x, y = peak_of(to_image_map(relevance, (side, side)))
    assert 10 <= x <= 13 and 10 <= y <= 13


@pytest.mark.parametrize("bad", [{"pixels": torch.zeros(2, 3, 8, 8)}, {"pixels": torch.zeros(3, 8, 8)}, {"window": 0.0}, {"window": 1.5}])
def test_bad_inputs_raise(bad):
    arguments = {"pixels": torch.zeros(1, 3, 8, 8), "grid": (2, 2), "window": 0.5} | bad
    with pytest.raises(ValueError):
        occluded_batch(**arguments)
