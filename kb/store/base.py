"""The index interface: everything retrieval, the library, the indexer and the benchmarks read
from an index and write to it. Local files (kb.store.local) are one implementation; a database
store implements the same protocols.

Passages of a generation are numbered by `row`, 0 to chunks - 1, in (doc_id, ordinal) order.
Rows are the ids that cross the seam: a filter selects rows, dense and lexical search return
rows, and records are fetched by row. A passage is embedded as one or more vectors ("views"):
its whole text first, then sentence windows of a long passage.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ContextManager, Iterable, Iterator, NamedTuple, Optional, Protocol, Sequence

from kb.models import Chunk

if TYPE_CHECKING:
    import numpy as np

    from kb.lexical import LexicalIndex, QueryTerms
    from kb.models import IndexManifest


REPAIR_HINT = "run `kb index` to repair it (vectors come from the embedding cache)"


def fault_point(name: str) -> None:
    """Crash here when KB_FAULT_POINT names this point, or stall here once (a minute, or until
    interrupted) when it names "stall:" and the point: lets tests kill a writer, or interrupt a
    question, at an exact step."""
    chosen = os.environ.get("KB_FAULT_POINT")
    if chosen == name:
        os.kill(os.getpid(), 9)
    elif chosen == f"stall:{name}":
        import sys
        import time

        del os.environ["KB_FAULT_POINT"]
        print(f"kb: stalled at {name}", file=sys.stderr, flush=True)  # the test acts once it is here
        time.sleep(60)


def key_positions(keys: Sequence[str]) -> dict[str, list[int]]:
    """Each distinct key, in first-seen order, with the places it takes in `keys`."""
    position: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        position.setdefault(key, []).append(i)
    return position


def distinct_rows(rows: "np.ndarray") -> "np.ndarray":
    """Sorted distinct row numbers. (np.unique would import numpy.ma: 10 ms of a cold query.)"""
    import numpy as np

    rows = np.sort(rows.astype(np.int64))
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if rows.size else rows


# -- records that cross the seam (named tuples: cheap to define on the cold query path, and
# to build from a database row) --------------------------------------------------------------
class PassageFilter(NamedTuple):
    """Which passages a search may return; every condition given must hold."""

    language: Optional[str] = None
    kind: Optional[str] = None
    doc_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, language: Optional[str] = None, kind: Optional[str] = None, doc_ids: Iterable[str] | None = None) -> Optional["PassageFilter"]:
        """The filter of these conditions, or None when there are none (every passage)."""
        ids = tuple(doc_ids or ())
        return cls(language, kind, ids) if (language or kind or ids) else None


class DocumentRecord(NamedTuple):
    doc_id: str
    path: str  # relative to the knowledge base root
    index_hash: str  # text, metadata, place and settings: unchanged hash, unchanged passages
    meta_json: str
    language: str
    kind: str
    title: str
    passages: int = 0  # filled when read from an index


class PassageRecord(NamedTuple):
    row: int
    chunk: Chunk


class Damage(NamedTuple):
    """A part of a stored index that no longer holds what was written."""

    part: str  # a file or table, as the user can find it
    problem: str


class DamagedVectors(Exception):
    """Cached vectors that failed their check; the cache has forgotten them, so they count as missing."""

    def __init__(self, keys: Sequence[str], what: str):
        super().__init__(what)
        self.keys = list(keys)


class LexicalScores(NamedTuple):
    """Passages in scope with a positive BM25 score (rows ascending); every other passage scores 0."""

    rows: "np.ndarray"
    scores: "np.ndarray"  # float32, one per row


# -- reading ---------------------------------------------------------------------------------
class QueryAnalyzer(Protocol):
    """The index's own analysis of a question (stems, compound parts, glossary concepts)."""

    def terms(self, query: str) -> "QueryTerms": ...

    def matching_spans(self, text: str, lang: str, terms: "QueryTerms") -> list[tuple[int, int]]: ...


class IndexReader(Protocol):
    """One immutable generation of an index, opened for reading. Safe to share between threads."""

    manifest: "IndexManifest"
    concurrent_retrievers: bool  # its dense and BM25 searches run elsewhere (a database server): send them at once

    @property
    def name(self) -> str:
        """The generation's name (also manifest.generation)."""

    @property
    def analyzer(self) -> QueryAnalyzer: ...

    def count(self, scope: Optional[PassageFilter] = None) -> int:
        """Passages in scope (all passages without one)."""

    def prepare_dense(self) -> None:
        """Bring the vector index into memory now (a server-side store has nothing to do)."""

    def dense_candidates(self, query: "np.ndarray", views: int, scope: Optional[PassageFilter]) -> "np.ndarray":
        """Distinct passage rows (ascending) of the `views` vectors in scope nearest to `query`."""

    def dense_scores(self, rows: "np.ndarray", query: "np.ndarray") -> list["np.ndarray"]:
        """For each passage row, the inner product of `query` with each of its vectors, whole passage first."""

    def lexical_scores(self, terms: "QueryTerms", scope: Optional[PassageFilter]) -> LexicalScores:
        """BM25 of the query terms over the passages in scope."""

    def lexical_coverage(self, terms: "QueryTerms") -> float:
        """Share of the query's words that occur in the whole index in some analysed form."""

    def passages(self, rows: Sequence[int]) -> list[PassageRecord]:
        """The records of these rows, in the order given (every row must exist)."""

    def passage_by_id(self, chunk_id: str) -> Optional[PassageRecord]: ...

    def neighbours(self, passage: PassageRecord, context: int) -> list[PassageRecord]:
        """The passage and up to `context` passages before and after it in its document, in order."""

    def document_passages(self, doc_ids: Sequence[str]) -> Iterator[PassageRecord]:
        """Every passage of these documents, by document and ordinal."""

    def documents(self, doc_ids: Optional[Sequence[str]] = None) -> list[DocumentRecord]:
        """These documents (all without ids) that the index holds, by doc_id, with their passage counts."""

    def close(self) -> None: ...


# -- writing ---------------------------------------------------------------------------------
class EmbeddingCache(Protocol):
    """Passage vectors by a key of (encoder, embedded text): no text is embedded twice."""

    def keys(self) -> list[str]:
        """Every key the cache holds a vector for."""

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The distinct keys without a vector, in first-seen order."""

    def put(self, keys: Sequence[str], vectors: "np.ndarray") -> None:
        """Store vectors, durably: a crash afterwards keeps them."""

    def get(self, keys: Sequence[str]) -> "np.ndarray":
        """A float32 matrix with the vector of each key, in order. DamagedVectors when stored
        vectors fail their check (they are forgotten: embed them again and ask again)."""

    def retain(self, keys: Sequence[str]) -> None:
        """Forget every vector whose key is not among these."""

    def close(self) -> None: ...


class GenerationWriter(Protocol):
    """A generation being written: invisible to readers until commit. Each write_* is called once."""

    @property
    def name(self) -> str: ...

    def write_passages(self, documents: Sequence[DocumentRecord], passages: Sequence["Chunk"]) -> None:
        """Documents and their passages; passage i gets row i (passages are in (doc_id, ordinal) order)."""

    def write_vectors(self, views: "np.ndarray", keys: Sequence[str], cache: EmbeddingCache) -> tuple[str, dict]:
        """Vector j, the one `cache` holds for keys[j], belongs to passage row views[j]; a passage's
        vectors are contiguous, whole passage first. Returns the vector index chosen and its
        parameters, for the manifest."""

    def write_lexical(self, lexical: "LexicalIndex") -> None:
        """The BM25 weights and analyzer data, row for row."""

    def commit(self, manifest: "IndexManifest") -> str:
        """Make this generation the live one, atomically; returns its name. Readers see the old
        generation or this one, never a mix; a crash before this leaves the old one live."""

    def abort(self) -> None:
        """Drop what was written (also safe after a crash: the next writer cleans up)."""


class IndexWriter(Protocol):
    """The one writer of an index, while it holds the lock (IndexStore.writer). A write the store
    cannot take (disk full, read-only) raises IndexWriteError and leaves the live generation as it was."""

    repairs: list[str]  # damage the writer found and replaced (an unreadable cache), for the report

    def live(self) -> Optional[IndexReader]:
        """The generation now served, or None before the first build."""

    def embedding_cache(self, dim: int) -> EmbeddingCache: ...

    def new_generation(self) -> GenerationWriter: ...


class IndexStore(Protocol):
    """The index of one knowledge base."""

    def live_name(self) -> Optional[str]:
        """Name of the generation now served (cheap: checked before every search)."""

    def open_reader(self) -> IndexReader:
        """The generation now served (IndexMissing before the first build, IndexCorrupt when damaged)."""

    def writer(self) -> ContextManager[IndexWriter]:
        """Exclusive write access (IndexBusy while another process writes)."""

    def verify(self) -> list[Damage]:
        """Check every part of the live generation against what was written (reads it all).
        IndexMissing before the first build."""

    def embedding_cache(self, dim: int) -> EmbeddingCache:
        """The cache alone, for tools that read or prefill it (benchmarks, moving an index)."""

    def close(self) -> None:
        """Let go of what the store holds open (database connections)."""
