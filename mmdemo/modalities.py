"""The three modalities, in the one order the project uses everywhere it lists them.

``MODALITIES`` is the order of manifest columns, of fusion inputs and of the app's inputs; code
that needs a fixed numbering of its own on disk (the retrieval store's modality codes) keeps that
table beside its format, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mmdemo.errors import ConfigError

MODALITIES: tuple[str, ...] = ("text", "image", "audio")


def check_modality(modality: str) -> str:
    """Return ``modality`` if it is one of :data:`MODALITIES`, else raise ConfigError listing them."""
    if modality not in MODALITIES:
        raise ConfigError(f"Unknown modality {modality!r}; valid modalities: {list(MODALITIES)}")
    return modality


def check_modalities(modality: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Normalise a modality filter: None (all), one name, or several names (duplicates dropped)."""
    if modality is None:
        return None
    names = (modality,) if isinstance(modality, str) else tuple(modality)
    if not names:
        raise ConfigError(f"Empty modality filter; pass None for all or some of {list(MODALITIES)}")
    return tuple(dict.fromkeys(check_modality(name) for name in names))


def exactly_one_query(queries: Mapping[str, Any]) -> tuple[str, Any]:
    """The one (modality, value) of ``queries`` that is given (not None, not an empty string).

    Raises ConfigError naming what was given when none or several are.
    """
    for name in queries:
        check_modality(name)
    given = {name: value for name, value in queries.items() if value is not None and not (isinstance(value, str) and not value.strip())}
    if len(given) != 1:
        raise ConfigError(
            f"Give exactly one query (exactly one of text, image or audio); got {sorted(given) or 'none'}"
        )
    return next(iter(given.items()))
