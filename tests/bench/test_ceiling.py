"""The image ceiling runs exactly the tower's products: shapes, count and batches."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mmdemo.backends import packed_linear
from mmdemo.bench import ceiling

TINY = SimpleNamespace(hidden_size=8, intermediate_size=16, num_hidden_layers=2, image_size=8, patch_size=4)


def test_runs_six_products_per_layer_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    if not packed_linear.packing_available():
        pytest.skip("oneDNN packed bfloat16 linears are not available on this CPU")
    seen = []
    original = packed_linear.PackedBFloat16Linear.forward

    def record(self, x):
        seen.append((tuple(x.shape), self.out_features))
        return original(self, x)

    monkeypatch.setattr(packed_linear.PackedBFloat16Linear, "forward", record)
    run = ceiling.tower_products(TINY, images=3, batch_size=2)
    run()
    tokens = (8 // 4) ** 2 + 1  # 4 patches and the class token
    per_layer = lambda rows: [((rows, 8), 8)] * 4 + [((rows, 8), 16), ((rows, 16), 8)]

    def last_layer(images):  # keys and values over every token, the rest over the class tokens
        every = images * tokens
        return [((images, 8), 8), ((every, 8), 8), ((every, 8), 8), ((images, 8), 8), ((images, 8), 16), ((images, 16), 8)]

    expected = per_layer(2 * tokens) + last_layer(2) + per_layer(1 * tokens) + last_layer(1)  # a batch of 2, then of 1
    assert seen == expected


def test_none_without_packed_linears(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ceiling, "packing_available", lambda: False)
    assert ceiling.tower_products(TINY, images=3, batch_size=2) is None
