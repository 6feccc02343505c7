"""Atomic writes for saved state (heads, indexes, caches, checkpoints).

A write goes to a temporary file in the same folder and is then renamed over the target, so a crash
in the middle of a save leaves the previous file intact. Tensors are stored with safetensors and
metadata with JSON; nothing is ever pickled.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


@contextmanager
def _atomic_target(path: Path) -> Iterator[str]:
    """A temporary file name next to ``path``; renamed over ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp_name
        with open(tmp_name, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    with _atomic_target(path) as tmp_name, open(tmp_name, "wb") as handle:
        handle.write(data)
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_tensors_atomic(
    path: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    metadata: dict[str, str] | None = None,
) -> Path:
    """Save a dict of tensors with safetensors, atomically."""
    path = Path(path)
    contiguous = {name: tensor.detach().contiguous().cpu() for name, tensor in tensors.items()}
    with _atomic_target(path) as tmp_name:
        save_file(contiguous, tmp_name, metadata=metadata)
    return path


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors file onto the CPU."""
    return load_file(str(path), device="cpu")
