"""``python -m mmdemo world``: write the bundled shapes world as files plus a manifest per split.

The program lives in :mod:`mmdemo.world.__main__` (also runnable as ``python -m mmdemo.world``).
"""

from __future__ import annotations

from mmdemo.world.__main__ import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
