"""Errors specific to retrieval indexes (on top of :mod:`mmdemo.errors`)."""

from __future__ import annotations

from mmdemo.errors import MmdemoError


class EmptyIndexError(MmdemoError, ValueError):
    """A search of an index (or of a modality filter) that holds no items."""


class IndexNotFoundError(MmdemoError, FileNotFoundError):
    """A folder that does not hold a saved index."""
