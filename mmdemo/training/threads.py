"""Temporarily limiting torch's CPU threads for small workloads.

Fusion heads and few-shot probes are tiny: their matrix products take microseconds, so torch's
intra-op thread pool costs more in synchronisation than it saves. On a busy machine the loss is
dramatic (200 Adam steps of a 6x32 probe measured 0.2 s with one thread, 8.6 s with two, on a
shared 2-core machine), so these loops run single-threaded by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: unchanged), then restore the setting.

    The setting is process-wide: other threads running torch meanwhile see it too.
    """
    previous = torch.get_num_threads()
    if count is not None and count != previous:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
