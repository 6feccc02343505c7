"""What an index stores per item besides its vector: id, modality, source, label."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mmdemo.errors import IncompatibleError
from mmdemo.modalities import MODALITIES, check_modalities, check_modality  # noqa: F401 (re-exported)


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
