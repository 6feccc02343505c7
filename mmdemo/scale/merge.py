"""Merging a job's parquet shards into the project's :class:`~mmdemo.retrieval.index.RetrievalIndex`.

Shards are read in plan order and their vectors added batch by batch, in the order the local
engine adds them, so the merged index holds the same items under the same keys; the index then
chooses exact or FAISS search by its usual thresholds when it is saved and searched.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from mmdemo.retrieval.index import RetrievalIndex
from mmdemo.retrieval.items import IndexItem
from mmdemo.scale.shards import Shard, read_shard

logger = logging.getLogger(__name__)


def merge_shards(index: RetrievalIndex, folder: Path, shards: list[Shard]) -> int:
    """Add every embedded row of ``shards`` (files under ``folder``) to ``index``; returns the count.

    Items already in the index with the same id are replaced (as a local rebuild replaces them).
    """
    added = 0
    for shard in shards:
        table = read_shard(folder / shard.name)
        columns = table.to_pydict()
        runs: list[tuple[str, str, str, list[int]]] = []  # (modality, model, space, rows)
        for row, vector in enumerate(columns["vector"]):
            if vector is None:
                continue
            key = (columns["modality"][row], columns["model"][row], columns["space"][row])
            if runs and runs[-1][:3] == key:
                runs[-1][3].append(row)
            else:
                runs.append((*key, [row]))
        vectors = table.column("vector")
        for modality, model, space, rows in runs:
            matrix = np.stack([np.asarray(vectors[row].values, dtype=np.float32) for row in rows])
            items = [
                IndexItem(columns["id"][row], modality, columns["path"][row], columns["label"][row], columns["fingerprint"][row])
                for row in rows
            ]
            added += len(index.add_embeddings(torch.from_numpy(matrix), items, model=model, space=space))
    logger.info("Merged %d vectors from %d shards", added, len(shards))
    return added
