"""``python -m mmdemo pretrain``: pretrain the bundled models on the shapes world.

The program lives in :mod:`mmdemo.pretrain.program`.
"""

from __future__ import annotations

from mmdemo.pretrain.program import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
