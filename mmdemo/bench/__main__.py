"""``python -m mmdemo.bench``."""

import sys

from mmdemo.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
