"""``python -m mmdemo pretrain``: pretrain the bundled models on the shapes world.

The program lives in :mod:`mmdemo.world.pretrain` (also runnable as ``python -m mmdemo.world.pretrain``).
"""

from __future__ import annotations

from mmdemo.world.pretrain import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
