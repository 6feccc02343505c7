"""mmdemo's web app: captioning, image QA, classification, retrieval and the Fusion Lab.

A thin shell over the :mod:`mmdemo` API; the page lives in the :mod:`webapp` package (settings,
one module per tab, the assembled Blocks). Run ``python app.py --help`` for the options.
"""

from __future__ import annotations

import logging
import sys

from webapp.main import build_app, launch
from webapp.settings import apply_model_settings, parse_args
from webapp.share_link import ShareLink

logger = logging.getLogger("mmdemo.app")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, choose the models, build the page and serve it."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = apply_model_settings(parse_args(argv))
    logger.info("Preset %s: %s", settings.preset, settings.preset_reason)
    share_link = ShareLink(requested=settings.share)
    launch(build_app(settings, share_link), settings, share_link)


if __name__ == "__main__":
    main(sys.argv[1:])
