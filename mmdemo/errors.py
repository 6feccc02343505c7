"""Exceptions raised by mmdemo.

Every error names the bad value and, where there is a fixed set, the valid choices. The app turns
them into ``gr.Error`` with the same message; the CLI prints the message without a traceback.
"""

from __future__ import annotations


class MmdemoError(Exception):
    """Base class of every error mmdemo raises on purpose."""


class MediaError(MmdemoError, ValueError):
    """An image, audio clip or text that cannot be used (unreadable, empty, over a limit)."""


class UnknownModelError(MmdemoError, ValueError):
    """A model name, role or preset that the registry does not know."""


class ModelUnavailableError(MmdemoError, RuntimeError):
    """Weights that cannot be had: not cached, no network, or a wrong local path."""


class IncompatibleError(MmdemoError, ValueError):
    """Saved state (head, index, cache) that was built with other models or another format."""


class ConfigError(MmdemoError, ValueError):
    """A fusion, training or evaluation setting outside its valid range or set of choices."""


class ManifestError(MmdemoError, ValueError):
    """A manifest that cannot be read at all (missing file, unknown format, no usable columns)."""


class UnknownStrategyError(MmdemoError, ValueError):
    """A fusion strategy name that the registry does not know."""


class EmptyIndexError(MmdemoError, ValueError):
    """A search of an index (or of a modality filter) that holds no items."""


class IndexNotFoundError(MmdemoError, FileNotFoundError):
    """A folder that does not hold a saved index."""


class IncompatibleCheckpointError(MmdemoError, ValueError):
    """A checkpoint whose architecture a role cannot run, or whose weights for the role's heads are
    missing or of another shape (loading it would leave parts at random)."""
