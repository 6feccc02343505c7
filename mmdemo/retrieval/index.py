"""A cross-modal retrieval index: images, texts and audio in one embedding space.

The core works on plain tensors (:meth:`RetrievalIndex.add_embeddings`, :meth:`RetrievalIndex.search`);
the media-level methods (``add_files``, ``add_folder``, ``add_texts``, ``search_text`` ...) embed
through an :class:`~mmdemo.retrieval.embedder.Embedder`, by default the project's encoders with the
models the index was built with.

The index records its embedding space and the model of each modality. Vectors from another space,
or another model for a modality already in the index, are refused with
:class:`~mmdemo.errors.IncompatibleError`: scores across spaces are meaningless.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from mmdemo.errors import EmptyIndexError, IncompatibleError
from mmdemo.modalities import exactly_one_query
from mmdemo.retrieval.approx import ApproxSearcher, KeyFilter
from mmdemo.retrieval.build import DEFAULT_BATCH_SIZE, AddReport, ProgressCallback, add_files, add_folder, add_texts
from mmdemo.retrieval.config import IndexConfig
from mmdemo.retrieval.embedder import Embedder, EmbeddingLike, default_embedder
from mmdemo.retrieval.exact import TopK, exact_topk
from mmdemo.retrieval.items import IndexItem, check_modalities, check_modality
from mmdemo.retrieval.persist import IndexState, load_state, save_state
from mmdemo.retrieval.store import VectorStore

logger = logging.getLogger(__name__)


@dataclass
class SearchHit:
    """One result: the item and its cosine similarity to the query."""

    rank: int
    score: float
    id: str
    modality: str
    source: str
    label: str | None


@dataclass
class SearchResult:
    """The results of one query, best first.

    Attributes:
        hits: at most ``k`` hits (fewer when fewer items match the filter).
        method: ``"exact"`` or ``"approx:<kind>"``.
        query_modality: modality of the query input, or None for a raw vector.
        model: the model that embedded the query, or None for a raw vector.
        elapsed_ms: search time per query (embedding excluded).
        transcript: for an audio query on a speech-road model, what the model heard; else None.
    """

    hits: list[SearchHit]
    method: str
    query_modality: str | None = None
    model: str | None = None
    elapsed_ms: float = 0.0
    transcript: str | None = None

    @property
    def ids(self) -> list[str]:
        return [hit.id for hit in self.hits]

    @property
    def scores(self) -> list[float]:
        return [hit.score for hit in self.hits]

    def __len__(self) -> int:
        return len(self.hits)


@dataclass
class IndexInfo:
    """A summary of an index (what ``python -m mmdemo index info`` prints)."""

    count: int
    counts: dict[str, int]
    dim: int | None
    space: str | None
    models: dict[str, str]
    storage_dtype: str
    method: str
    approx_threshold: int
    approx_kind: str
    approx_built: bool


class RetrievalIndex:
    """Items of any modality in one embedding space, searchable by cosine similarity.

    Thread-safe: every method holds the index's lock.

    Args:
        config: storage precision, search method and approximate-search settings.
        embedder: how media are embedded; None builds :func:`default_embedder` with the models the
            index records (or the preset's defaults while it is empty).
    """

    def __init__(self, config: IndexConfig | None = None, *, embedder: Embedder | None = None) -> None:
        self.config = config or IndexConfig()
        self._store = VectorStore(None, self.config.torch_dtype)
        self._space: str | None = None
        self._models: dict[str, str] = {}
        self._embedder = embedder
        self._approx: ApproxSearcher | None = None
        self._approx_until_key = 0  # keys below this are in the FAISS structure (or tombstoned)
        self._filters: dict[tuple[str, ...] | None, KeyFilter | None] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ metadata
    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, str) and self._store.row_of(item_id) is not None

    @property
    def dim(self) -> int | None:
        return self._store.dim

    @property
    def vectors(self) -> torch.Tensor:
        """[N, D] the stored unit vectors in the storage dtype, in insertion order: a view, to read
        (it changes when items are added or removed)."""
        return self._store.vectors

    @property
    def space(self) -> str | None:
        """The embedding space of every vector in the index (None while nothing was added)."""
        return self._space

    @property
    def models(self) -> dict[str, str]:
        """Modality -> registry name of the model that embedded that modality's items."""
        return dict(self._models)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder(self._models)
        return self._embedder

    @embedder.setter
    def embedder(self, embedder: Embedder | None) -> None:
        self._embedder = embedder

    def get(self, item_id: str) -> IndexItem:
        with self._lock:
            row = self._store.row_of(item_id)
            if row is None:
                raise KeyError(f"No item with id {item_id!r} in the index ({len(self)} items)")
            return self._store.items[row]

    def items(self, modality: str | Iterable[str] | None = None) -> list[IndexItem]:
        """The items, in insertion order, optionally only those of some modalities."""
        wanted = check_modalities(modality)
        with self._lock:
            return [item for item in self._store.items if wanted is None or item.modality in wanted]

    def vector(self, item_id: str) -> torch.Tensor:
        """The stored unit vector of an item, as float32 [D]."""
        with self._lock:
            row = self._store.row_of(item_id)
            if row is None:
                raise KeyError(f"No item with id {item_id!r} in the index ({len(self)} items)")
            return self._store.vectors[row].float().clone()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return self._store.counts()

    def info(self) -> IndexInfo:
        with self._lock:
            return IndexInfo(
                count=len(self),
                counts=self._store.counts(),
                dim=self.dim,
                space=self._space,
                models=dict(self._models),
                storage_dtype=self.config.storage_dtype,
                method=self.config.method,
                approx_threshold=self.config.approx_threshold,
                approx_kind=self.config.approx.kind,
                approx_built=self._approx is not None,
            )

    # ------------------------------------------------------------------ compatibility
    def check_compatible(self, space: str, model: str, modalities: Iterable[str]) -> None:
        """Raise IncompatibleError unless vectors of ``space`` made by ``model`` may join the index."""
        if self._space is not None and space != self._space:
            raise IncompatibleError(
                f"Vectors from space {space!r} (model {model!r}) cannot join or query an index in "
                f"space {self._space!r} (models {self._models}); scores across spaces are meaningless. "
                f"Use the index's models, or build a new index with this model."
            )
        for modality in modalities:
            recorded = self._models.get(modality)
            if recorded is not None and recorded != model:
                raise IncompatibleError(
                    f"The index's {modality} items were embedded with {recorded!r}, not {model!r}; "
                    f"one index holds one model per modality. Embed with {recorded!r}, or build a "
                    f"new index with {model!r}."
                )

    def _check_vectors(self, vectors: torch.Tensor, what: str) -> torch.Tensor:
        if not isinstance(vectors, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(vectors).__name__}")
        if vectors.dim() != 2 or vectors.shape[0] == 0:
            raise ValueError(f"{what} must be a non-empty [N, D] tensor, got shape {tuple(vectors.shape)}")
        if self.dim is not None and vectors.shape[1] != self.dim:
            raise IncompatibleError(f"{what} have dimension {vectors.shape[1]}; the index holds {self.dim}-d vectors")
        vectors = vectors.detach().float().cpu()
        if not torch.isfinite(vectors).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        if (vectors.norm(dim=1) == 0).any():
            raise ValueError(f"{what} contain an all-zero vector, which has no direction to compare")
        return vectors

    # ------------------------------------------------------------------ adding and removing
    def add_embeddings(
        self, embeddings: torch.Tensor, items: Sequence[IndexItem], *, model: str, space: str
    ) -> list[str]:
        """Add precomputed vectors [N, D] (normalised here) for ``items``; returns their ids.

        An id already in the index is replaced (its old vector and metadata are removed).

        Raises:
            IncompatibleError: another space, another model for a modality already present, or
                another dimension.
            ValueError: shape mismatch, duplicate ids within the call, NaN or zero vectors.
        """
        items = list(items)
        vectors = self._check_vectors(embeddings, "Embeddings")
        if vectors.shape[0] != len(items):
            raise ValueError(f"Got {vectors.shape[0]} embeddings for {len(items)} items")
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
            raise ValueError(f"Duplicate item ids in one call: {duplicates[:5]}")
        modalities = sorted({item.modality for item in items})
        with self._lock:
            self.check_compatible(space, model, modalities)
            replaced = [row for row in (self._store.row_of(i) for i in ids) if row is not None]
            self._remove_rows(replaced)
            self._store.append(vectors, items)
            self._space = space
            for modality in modalities:
                self._models.setdefault(modality, model)
            self._filters.clear()
        return ids

    def remove(self, ids: Iterable[str], *, missing_ok: bool = False) -> int:
        """Remove items by id; returns how many were removed.

        Raises:
            KeyError: an id is not in the index (unless ``missing_ok``).
        """
        ids = list(dict.fromkeys([ids] if isinstance(ids, str) else ids))
        with self._lock:
            rows = [self._store.row_of(i) for i in ids]
            missing = [i for i, row in zip(ids, rows) if row is None]
            if missing and not missing_ok:
                raise KeyError(f"Not in the index: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
            found = [row for row in rows if row is not None]
            self._remove_rows(found)
            return len(found)

    def _remove_rows(self, rows: list[int]) -> None:
        if not rows:
            return
        keys = self._store.remove_rows(rows)
        self._filters.clear()
        if self._approx is not None:
            self._approx.mark_removed(keys[keys < self._approx_until_key].numpy())
            if self._approx.tombstone_fraction > self.config.approx.max_tombstone_fraction:
                logger.info("Dropping the approximate index: %.0f%% of it was removed", 100 * self._approx.tombstone_fraction)
                self._approx = None

    def embed(self, modality: str, inputs: Sequence[Any], *, skip_errors: bool = False) -> EmbeddingLike:
        """Embed ``inputs`` of ``modality`` with the index's embedder and check the result's space."""
        check_modality(modality)
        output = self.embedder.embed(modality, inputs, skip_errors=skip_errors)
        embeddings = output.embeddings
        if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2:
            raise TypeError(f"The {modality} embedder returned {type(embeddings).__name__}, not an [N, D] tensor")
        with self._lock:
            self.check_compatible(output.space, output.model, ())
        return output

    def add_texts(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        labels: Sequence[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressCallback | None = None,
    ) -> AddReport:
        """Embed and add texts; ids default to ``text:<hash>`` (see :func:`~mmdemo.retrieval.build.add_texts`)."""
        return add_texts(self, texts, ids=ids, labels=labels, batch_size=batch_size, progress=progress)

    def add_files(
        self,
        paths: Sequence[str | os.PathLike],
        *,
        labels: Sequence[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressCallback | None = None,
        after_batch: Callable[[AddReport], None] | None = None,
    ) -> AddReport:
        """Embed and add image, audio and ``.txt`` files; unreadable ones are skipped and reported,
        unchanged ones are not embedded again (see :func:`~mmdemo.retrieval.build.add_files`)."""
        return add_files(self, paths, labels=labels, batch_size=batch_size, progress=progress, after_batch=after_batch)

    def add_folder(
        self,
        folder: str | os.PathLike,
        *,
        recursive: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressCallback | None = None,
        after_batch: Callable[[AddReport], None] | None = None,
    ) -> AddReport:
        """Add every image, audio and ``.txt`` file under ``folder`` (see :func:`~mmdemo.retrieval.build.add_folder`)."""
        return add_folder(
            self, folder, recursive=recursive, batch_size=batch_size, progress=progress, after_batch=after_batch
        )

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: torch.Tensor,
        *,
        k: int = 5,
        modality: str | Iterable[str] | None = None,
        method: str | None = None,
    ) -> SearchResult:
        """The ``k`` items most similar to one query vector [D] (cosine similarity).

        Args:
            query: a vector in the index's space (normalised here).
            k: results wanted; fewer come back when fewer items match.
            modality: only return items of this modality (or these modalities).
            method: ``"exact"``, ``"approx"`` or ``"auto"``; None uses the config's.
        """
        if query.dim() == 2 and query.shape[0] == 1:
            query = query[0]
        if query.dim() != 1:
            raise ValueError(f"search() takes one [D] vector, got shape {tuple(query.shape)}; use search_batch()")
        return self.search_batch(query.unsqueeze(0), k=k, modality=modality, method=method)[0]

    def search_batch(
        self,
        queries: torch.Tensor,
        *,
        k: int = 5,
        modality: str | Iterable[str] | None = None,
        method: str | None = None,
    ) -> list[SearchResult]:
        """:meth:`search` for a batch of query vectors [Q, D]."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        wanted = check_modalities(modality)
        with self._lock:
            if len(self) == 0:
                raise EmptyIndexError("The index is empty: add files, folders or texts before searching")
            queries = F.normalize(self._check_vectors(queries, "Query vectors"), dim=1)
            allowed, count = self._allowed_rows(wanted)
            chosen = self.resolve_method(method, count)
            start = time.perf_counter()
            if chosen == "exact":
                top = exact_topk(self._store.vectors, queries, k, allowed)
            else:
                top = self._approx_topk(queries, k, wanted, allowed, count)
            elapsed_ms = (time.perf_counter() - start) * 1e3 / queries.shape[0]
            name = "exact" if chosen == "exact" else f"approx:{self.config.approx.kind}"
            return [self._result(top.scores[i], top.rows[i], name, elapsed_ms) for i in range(queries.shape[0])]

    def _allowed_rows(self, wanted: tuple[str, ...] | None) -> tuple[torch.Tensor | None, int]:
        counts = self._store.counts()
        if wanted is None or sum(counts[m] for m in wanted) == len(self):
            return None, len(self)
        count = sum(counts[m] for m in wanted)
        if count == 0:
            present = {m: c for m, c in counts.items() if c}
            raise EmptyIndexError(f"The index holds no {' or '.join(wanted)} items; it holds {present}")
        return self._store.modality_mask(wanted), count

    def resolve_method(self, method: str | None = None, count: int | None = None) -> str:
        """``"exact"`` or ``"approx"``: what a search of ``count`` items (default: all) with
        ``method`` (default: the config's) would use."""
        count = len(self) if count is None else count
        method = method or self.config.method
        if method not in ("auto", "exact", "approx"):
            raise ValueError(f"Unknown search method {method!r}; valid: ['auto', 'exact', 'approx']")
        if method == "auto":
            return "approx" if count >= self.config.approx_threshold else "exact"
        return method

    def _result(self, scores: torch.Tensor, rows: torch.Tensor, method: str, elapsed_ms: float) -> SearchResult:
        hits = []
        for rank, (score, row) in enumerate(zip(scores.tolist(), rows.tolist()), start=1):
            item = self._store.items[row]
            hits.append(SearchHit(rank, float(score), item.id, item.modality, item.source, item.label))
        return SearchResult(hits=hits, method=method, elapsed_ms=elapsed_ms)

    # ------------------------------------------------------------------ media queries
    def query(
        self,
        *,
        text: str | None = None,
        image: Any = None,
        audio: Any = None,
        k: int = 5,
        modality: str | Iterable[str] | None = None,
        method: str | None = None,
    ) -> SearchResult:
        """Search with exactly one of a text, an image (path, bytes, PIL, array) or an audio clip."""
        query_modality, value = exactly_one_query({"text": text, "image": image, "audio": audio})
        with self._lock:
            if len(self) == 0:
                raise EmptyIndexError("The index is empty: add files, folders or texts before searching")
        output = self.embed(query_modality, [value])
        result = self.search(output.embeddings[0], k=k, modality=modality, method=method)
        result.query_modality = query_modality
        result.model = output.model
        transcripts = getattr(output, "transcripts", None)  # a custom embedder's output may not have them
        result.transcript = transcripts[0] if transcripts else None
        return result

    def search_text(self, text: str, **kwargs: Any) -> SearchResult:
        return self.query(text=text, **kwargs)

    def search_image(self, image: Any, **kwargs: Any) -> SearchResult:
        return self.query(image=image, **kwargs)

    def search_audio(self, audio: Any, **kwargs: Any) -> SearchResult:
        return self.query(audio=audio, **kwargs)

    # ------------------------------------------------------------------ approximate method
    def build_approx(self) -> ApproxSearcher:
        """Build the approximate structure now (or bring it up to date with items added since)."""
        with self._lock:
            if len(self) == 0:
                raise EmptyIndexError("The index is empty: nothing to build an approximate index over")
            store = self._store
            if self._approx is not None and self._approx.config == self.config.approx:
                if store.next_key == self._approx_until_key:
                    return self._approx  # up to date: the common case, O(1)
                new = store.keys >= self._approx_until_key
                if bool(new.any()):
                    self._approx.add(store.vectors[new].float().numpy(), store.keys[new].numpy())
            else:
                start = time.perf_counter()
                self._approx = ApproxSearcher.build(store.vectors.float().numpy(), store.keys.numpy(), self.config.approx)
                logger.info("Approximate index over %d items built in %.1f s", len(self), time.perf_counter() - start)
            self._filters.clear()
            self._approx_until_key = store.next_key
            return self._approx

    def drop_approx(self) -> None:
        """Forget the approximate structure (it is rebuilt when next needed)."""
        with self._lock:
            self._approx = None
            self._filters.clear()

    def _key_filter(self, wanted: tuple[str, ...] | None, allowed: torch.Tensor | None, searcher: ApproxSearcher) -> KeyFilter | None:
        key = None if allowed is None else wanted
        if key not in self._filters:
            if allowed is None and not searcher.tombstones:
                self._filters[key] = None
            else:
                keys = self._store.keys if allowed is None else self._store.keys[allowed]
                self._filters[key] = KeyFilter.from_keys(keys.numpy(), self._store.next_key, searcher.size)
        return self._filters[key]

    def _approx_topk(
        self, queries: torch.Tensor, k: int, wanted: tuple[str, ...] | None, allowed: torch.Tensor | None, count: int
    ) -> TopK:
        searcher = self.build_approx()
        k = min(k, count)
        scores, keys = searcher.search(queries.numpy(), k, self._key_filter(wanted, allowed, searcher))
        keys_t = torch.from_numpy(keys)
        store_keys = self._store.keys
        rows = torch.searchsorted(store_keys, keys_t.clamp(min=0)).clamp(max=len(self) - 1)  # [Q, k]
        valid = (keys_t >= 0) & (store_keys[rows] == keys_t)
        scores_t = torch.from_numpy(scores).float()
        short = (~valid.all(dim=1)).nonzero().squeeze(1)
        if short.numel():
            # FAISS found fewer than k live matches for these queries (tiny or heavily filtered index).
            exact = exact_topk(self._store.vectors, queries[short], k, allowed)
            scores_t[short], rows[short] = exact.scores, exact.rows
        if self.config.storage_dtype != "float32":
            # The FAISS structure holds float32 copies of the stored vectors; report the same
            # scores as exact search would (float32 products of the stored vectors).
            scores_t = torch.bmm(self._store.vectors[rows].float(), queries.unsqueeze(2)).squeeze(2)
        return TopK(scores_t, rows)

    def approx_recall(self, *, n_queries: int = 100, k: int = 10, seed: int = 0, modality: str | None = None) -> float:
        """Recall@k of the approximate method against exact search, with stored vectors as queries
        (each perturbed slightly so that it is not trivially its own nearest neighbour)."""
        with self._lock:
            if len(self) == 0:
                raise EmptyIndexError("The index is empty: nothing to measure")
            generator = torch.Generator().manual_seed(seed)
            rows = torch.randperm(len(self), generator=generator)[:n_queries]
            queries = self._store.vectors[rows].float()  # [q, D]
            queries = queries + 0.1 * torch.randn(queries.shape, generator=generator) / queries.shape[1] ** 0.5
            exact = self.search_batch(queries, k=k, modality=modality, method="exact")
            approx = self.search_batch(queries, k=k, modality=modality, method="approx")
            found = sum(len(set(e.ids) & set(a.ids)) for e, a in zip(exact, approx))
            return found / max(sum(len(e.ids) for e in exact), 1)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike) -> Path:
        """Save to ``folder`` atomically (see :mod:`mmdemo.retrieval.persist`)."""
        with self._lock:
            return save_state(self.state(), folder)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        *,
        expect_models: Mapping[str, str | None] | None = None,
        config: IndexConfig | None = None,
        embedder: Embedder | None = None,
    ) -> RetrievalIndex:
        """Load an index saved with :meth:`save`.

        Args:
            folder: the index folder.
            expect_models: modality -> model the caller will embed with (image and text share the
                image-text model); an index built with another model is refused. When None and an
                ``embedder`` is given, the embedder's configured models are expected.
            config: settings to use instead of the saved ones (a different ``storage_dtype``
                converts the vectors).
            embedder: the embedder to use (default: the encoders with the index's models).

        Raises:
            IndexNotFoundError: no index in ``folder``.
            IncompatibleError: another format version, other models, or damaged files.
        """
        if expect_models is None and embedder is not None:
            expect_models = embedder.models
        return cls.from_state(load_state(folder, expect_models=expect_models, config=config), embedder=embedder)

    def state(self) -> IndexState:
        """What the index holds now (its store, space, models, approximate structure): what
        :mod:`~mmdemo.retrieval.persist` saves. The parts are the index's own, not copies: hold the
        index's lock while using them if other threads may change the index."""
        with self._lock:
            return IndexState(
                config=self.config,
                store=self._store,
                space=self._space,
                models=dict(self._models),
                approx=self._approx,
                approx_until_key=self._approx_until_key,
            )

    @classmethod
    def from_state(cls, state: IndexState, *, embedder: Embedder | None = None) -> RetrievalIndex:
        """An index holding ``state`` (e.g. one :func:`~mmdemo.retrieval.persist.load_state` read)."""
        index = cls(state.config, embedder=embedder)
        index._store = state.store
        index._space = state.space
        index._models = dict(state.models)
        index._approx = state.approx
        index._approx_until_key = state.approx_until_key
        return index
