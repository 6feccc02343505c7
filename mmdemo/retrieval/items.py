"""What an index stores per item besides its vector: id, modality, source, label."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from mmdemo.errors import IncompatibleError

MODALITIES: tuple[str, ...] = ("image", "text", "audio")


def check_modality(modality: str) -> str:
    """Return ``modality`` if it is one of :data:`MODALITIES`, else raise ValueError listing them."""
    if modality not in MODALITIES:
        raise ValueError(f"Unknown modality {modality!r}; valid modalities: {list(MODALITIES)}")
    return modality


def check_modalities(modality: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Normalise a modality filter: None (all), one name, or several names."""
    if modality is None:
        return None
    names = (modality,) if isinstance(modality, str) else tuple(modality)
    if not names:
        raise ValueError(f"Empty modality filter; pass None for all or some of {list(MODALITIES)}")
    return tuple(dict.fromkeys(check_modality(name) for name in names))


@dataclass(frozen=True)
class IndexItem:
    """One indexed item.

    Attributes:
        id: unique id within the index (a file's absolute path, or ``text:<hash>`` for texts,
            unless the caller chose one).
        modality: ``"image"``, ``"text"`` or ``"audio"``.
        source: the file's path for items read from files, the text itself for literal texts.
        label: an optional label (for folder builds: the sub-folder the file is in).
        fingerprint: for files, ``"<size>:<mtime_ns>"`` when embedded; a rebuild skips files whose
            fingerprint is unchanged. None for literal texts.
    """

    id: str
    modality: str
    source: str
    label: str | None = None
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Item id must be a non-empty string, got {self.id!r}")
        check_modality(self.modality)

    @property
    def is_file(self) -> bool:
        return self.fingerprint is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> IndexItem:
        if not isinstance(data, dict):
            raise IncompatibleError(f"Index item must be a JSON object, got {type(data).__name__}")
        known = {"id", "modality", "source", "label", "fingerprint"}
        unknown = sorted(set(data) - known)
        if unknown or not {"id", "modality", "source"} <= set(data):
            raise IncompatibleError(
                f"Index item has fields {sorted(data)}; expected id, modality, source "
                f"and optionally label, fingerprint"
            )
        return cls(**data)
