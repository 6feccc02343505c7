"""Cross-modal retrieval: an index of images, texts and audio in one embedding space.

Quick use::

    from mmdemo.retrieval import RetrievalIndex
    index = RetrievalIndex()
    report = index.add_folder("photos/")          # images, audio and .txt files, in batches
    index.save("photos.index")
    index = RetrievalIndex.load("photos.index")
    for hit in index.search_text("a red circle", k=5, modality="image").hits:
        print(hit.rank, hit.score, hit.source)
"""

from mmdemo.retrieval.build import AddReport, BuildProgress, SkippedFile, discover_files, modality_of_path
from mmdemo.retrieval.config import ApproxConfig, IndexConfig
from mmdemo.retrieval.embedder import Embedder, EmbeddingLike, default_embedder
from mmdemo.errors import EmptyIndexError, IndexNotFoundError
from mmdemo.retrieval.index import IndexInfo, RetrievalIndex, SearchHit, SearchResult
from mmdemo.retrieval.items import MODALITIES, IndexItem
from mmdemo.retrieval.metrics import RecallReport, recall_report, retrieval_ranks

__all__ = [
    "AddReport",
    "ApproxConfig",
    "BuildProgress",
    "Embedder",
    "EmbeddingLike",
    "EmptyIndexError",
    "IndexConfig",
    "IndexInfo",
    "IndexItem",
    "IndexNotFoundError",
    "MODALITIES",
    "RecallReport",
    "RetrievalIndex",
    "SearchHit",
    "SearchResult",
    "SkippedFile",
    "default_embedder",
    "discover_files",
    "modality_of_path",
    "recall_report",
    "retrieval_ranks",
]
