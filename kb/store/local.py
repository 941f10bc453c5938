"""The index as local files: FAISS for vectors, bm25s weights as arrays, SQLite for records.

Layout of the index folder (`.kb/` in a knowledge base):

    CURRENT            name of the live generation, replaced atomically
    gen-000007/        one complete, immutable index generation
        manifest.json  encoder, dimensions, prefixes, chunker/analyzer versions, FAISS type
        chunks.sqlite  documents and chunk records; chunk row i is BM25 row i
        dense.faiss    the vector index
        views.npy      FAISS id -> chunk row (a passage and its sentence windows)
        lexical/       the BM25 weights and the analyzer's data
    embeddings.sqlite  passage vectors by (encoder, text) hash: never embed the same text twice
    conversions.sqlite text of converted PDF, DOCX and HTML files
    lock               held by the one process that writes

A writer builds a new generation in a temporary folder, fsyncs it, renames it into place and
then swaps CURRENT. A crash at any moment leaves the previous generation live; vectors already
computed survive in the embedding cache, so the next run picks up where this one stopped.
Readers see the old or the new generation, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from kb.errors import IndexBusy, IndexCorrupt, IndexMissing, IndexOutdated
from kb.models import Chunk, IndexManifest
from kb.store.base import DocumentRecord, LexicalScores, PassageFilter, PassageRecord, distinct_rows, fault_point
from kb.store.caches import CONVERSIONS_FILE, REBUILD_HINT, SqliteEmbeddingCache

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS_DB = "chunks.sqlite"
DENSE = "dense.faiss"
VIEWS = "views.npy"
LEXICAL = "lexical"
FILTER_CACHE = 16  # filters whose rows a reader keeps (a handout asks each theme several questions)

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    index_hash TEXT NOT NULL,
    meta_json TEXT NOT NULL,
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    line_start INTEGER NOT NULL,
    line_end INTEGER NOT NULL,
    page_start INTEGER,
    page_end INTEGER
);
CREATE INDEX chunks_doc ON chunks(doc_id, ordinal);
"""
DOCUMENT_COLUMNS = DocumentRecord._fields[:-1]  # and the passage count, when read
CHUNK_FIELDS = tuple(Chunk.model_fields)
PASSAGE_SQL = f"SELECT row, {', '.join(CHUNK_FIELDS)} FROM chunks"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _marks(values: Sequence) -> str:
    return ",".join("?" * len(values))


def _passage(row: tuple) -> PassageRecord:
    """A record of a chunks table row (our own data: not validated again)."""
    return PassageRecord(row[0], Chunk.model_construct(**dict(zip(CHUNK_FIELDS, row[1:]))))


class LocalReader:
    """One immutable generation folder, opened for reading."""

    def __init__(self, folder: Path):
        self.folder = folder
        try:
            raw = json.loads((folder / MANIFEST).read_bytes())
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise IndexCorrupt(f"index manifest {folder / MANIFEST} is unreadable ({exc.__class__.__name__}); {REBUILD_HINT}") from None
        if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
            version = raw.get("format_version") if isinstance(raw, dict) else None
            raise IndexOutdated(f"the index was written by another version of kb (format {version}); run `kb index`")
        try:
            self.manifest = IndexManifest.model_validate(raw)
        except Exception as exc:
            raise IndexCorrupt(f"index manifest {folder / MANIFEST} is invalid ({exc.__class__.__name__}); {REBUILD_HINT}") from None
        db_path = folder / CHUNKS_DB
        if not db_path.is_file():
            raise FileNotFoundError(db_path)
        for name, size in self.manifest.file_sizes.items():
            actual = (folder / name).stat().st_size if (folder / name).exists() else None
            if actual != size:
                raise IndexCorrupt(f"index file {folder / name} is damaged (size {actual}, expected {size}); {REBUILD_HINT}")
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        try:
            rows = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"index database {db_path} is unreadable ({exc}); {REBUILD_HINT}") from None
        if rows != self.manifest.chunks:
            raise IndexCorrupt(f"index database {db_path} holds {rows} chunks, manifest says {self.manifest.chunks}; {REBUILD_HINT}")
        self._dense = None
        self._lexical = None
        self._views = None
        self._scopes: dict[PassageFilter, tuple[np.ndarray, np.ndarray | None]] = {}

    @property
    def name(self) -> str:
        return self.folder.name

    # -- the files, loaded on first use ------------------------------------------------------
    @property
    def views(self) -> np.ndarray:
        """Chunk row of every vector; a chunk's vectors are contiguous, the whole passage first."""
        if self._views is None:
            try:
                self._views = np.load(self.folder / VIEWS)
            except Exception as exc:
                raise IndexCorrupt(f"view map in {self.folder} is unreadable ({exc.__class__.__name__}); {REBUILD_HINT}") from None
            if len(self._views) != self.manifest.vectors:
                raise IndexCorrupt(f"view map in {self.folder} does not match its manifest; {REBUILD_HINT}")
        return self._views

    @property
    def dense_index(self):
        """The FAISS index (benchmarks of FAISS itself use it directly)."""
        if self._dense is None:
            from kb.store.dense import read_index

            self._dense = read_index(self.folder / DENSE, self.manifest)
        return self._dense

    @property
    def lexical(self):
        if self._lexical is None:
            from kb.lexical import LexicalIndex

            try:
                self._lexical = LexicalIndex.load(self.folder / LEXICAL)
            except Exception as exc:
                raise IndexCorrupt(f"lexical index in {self.folder} is unreadable ({exc.__class__.__name__}); {REBUILD_HINT}") from None
        return self._lexical

    @property
    def analyzer(self):
        return self.lexical

    # -- filters -----------------------------------------------------------------------------
    def _allowed(self, scope: PassageFilter) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows of a filter, and the vector ids of those rows once dense search asked for them."""
        if scope not in self._scopes:
            clauses, args = [], []
            if scope.language:
                clauses.append("d.language = ?")
                args.append(scope.language)
            if scope.kind:
                clauses.append("d.kind = ?")
                args.append(scope.kind)
            if scope.doc_ids:
                clauses.append(f"d.doc_id IN ({_marks(scope.doc_ids)})")
                args.extend(scope.doc_ids)
            rows = self.db.execute(
                f"SELECT c.row FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {' AND '.join(clauses)}", args
            ).fetchall()
            if len(self._scopes) >= FILTER_CACHE:
                self._scopes.pop(next(iter(self._scopes)))
            self._scopes[scope] = (np.array([r[0] for r in rows], dtype=np.int64), None)
        return self._scopes[scope]

    def _allowed_views(self, scope: PassageFilter) -> np.ndarray:
        rows, views = self._allowed(scope)
        if views is None:
            views = np.flatnonzero(np.isin(self.views, rows))
            self._scopes[scope] = (rows, views)
        return views

    def count(self, scope: Optional[PassageFilter] = None) -> int:
        return self.manifest.chunks if scope is None else len(self._allowed(scope)[0])

    # -- dense -------------------------------------------------------------------------------
    def prepare_dense(self) -> None:
        self.dense_index  # noqa: B018  (loads FAISS and the index file)

    def dense_candidates(self, query: np.ndarray, views: int, scope: Optional[PassageFilter]) -> np.ndarray:
        from kb.store.dense import search

        view_map = self.views
        allowed_views = None if scope is None else self._allowed_views(scope)
        _, view_hits = search(self.dense_index, query, views, allowed_views)
        return distinct_rows(view_map[view_hits])

    def dense_scores(self, rows: np.ndarray, query: np.ndarray) -> list[np.ndarray]:
        view_map = self.views
        starts = np.searchsorted(view_map, rows, side="left")
        ends = np.searchsorted(view_map, rows, side="right")
        if not len(rows):
            return []
        ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        scores = self.dense_index.reconstruct_batch(ids.astype(np.int64)) @ query
        return np.split(scores, np.cumsum(ends - starts)[:-1])

    # -- lexical -----------------------------------------------------------------------------
    def lexical_scores(self, terms, scope: Optional[PassageFilter]) -> LexicalScores:
        scores = self.lexical.scores(terms, self.manifest.chunks)
        positive = scores > 0
        if scope is not None:
            keep = np.zeros(len(scores), dtype=bool)
            keep[self._allowed(scope)[0]] = True
            positive &= keep
        rows = np.flatnonzero(positive)
        return LexicalScores(rows, scores[rows])

    def lexical_coverage(self, terms) -> float:
        return self.lexical.coverage(terms)

    # -- records -----------------------------------------------------------------------------
    def passages(self, rows: Sequence[int]) -> list[PassageRecord]:
        rows = [int(r) for r in rows]
        if not rows:
            return []
        found = {r[0]: _passage(r) for r in self.db.execute(f"{PASSAGE_SQL} WHERE row IN ({_marks(rows)})", rows)}
        return [found[r] for r in rows]

    def passage_by_id(self, chunk_id: str) -> Optional[PassageRecord]:
        row = self.db.execute(f"{PASSAGE_SQL} WHERE chunk_id = ?", (chunk_id,)).fetchone()
        return None if row is None else _passage(row)

    def neighbours(self, passage: PassageRecord, context: int) -> list[PassageRecord]:
        doc_id, ordinal = passage.chunk.doc_id, passage.chunk.ordinal
        return [_passage(r) for r in self.db.execute(
            f"{PASSAGE_SQL} WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
            (doc_id, ordinal - context, ordinal + context),
        )]

    def document_passages(self, doc_ids: Sequence[str]) -> Iterator[PassageRecord]:
        ids = sorted(set(doc_ids))
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            for r in self.db.execute(f"{PASSAGE_SQL} WHERE doc_id IN ({_marks(part)}) ORDER BY doc_id, ordinal", part):
                yield _passage(r)

    def documents(self, doc_ids: Optional[Sequence[str]] = None) -> list[DocumentRecord]:
        sql = (f"SELECT {', '.join('d.' + c for c in DOCUMENT_COLUMNS)}, count(c.row) "
               "FROM documents d LEFT JOIN chunks c ON c.doc_id = d.doc_id")
        if doc_ids is None:
            return [DocumentRecord(*r) for r in self.db.execute(f"{sql} GROUP BY d.doc_id ORDER BY d.doc_id")]
        ids = sorted(set(doc_ids))
        found: list[DocumentRecord] = []
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            found += [DocumentRecord(*r) for r in self.db.execute(
                f"{sql} WHERE d.doc_id IN ({_marks(part)}) GROUP BY d.doc_id ORDER BY d.doc_id", part)]
        return found

    def close(self) -> None:
        self.db.close()


class LocalGenerationWriter:
    """A generation written into `gen-N.tmp/`, renamed into place and pointed at by CURRENT on commit."""

    def __init__(self, index: Path, staging: Path):
        self.index = index
        self.staging = staging

    @property
    def name(self) -> str:
        return self.staging.with_suffix("").name

    def write_passages(self, documents: Sequence[DocumentRecord], passages: Sequence[Chunk]) -> None:
        db = sqlite3.connect(self.staging / CHUNKS_DB)
        try:
            db.executescript(SCHEMA)
            db.executemany(
                f"INSERT INTO documents VALUES ({_marks(DOCUMENT_COLUMNS)})",
                [tuple(getattr(d, c) for c in DOCUMENT_COLUMNS) for d in documents],
            )
            db.executemany(
                f"INSERT INTO chunks (row, {', '.join(CHUNK_FIELDS)}) VALUES ({_marks(CHUNK_FIELDS)},?)",
                [(row, *(getattr(p, c) for c in CHUNK_FIELDS)) for row, p in enumerate(passages)],
            )
            db.commit()
        finally:
            db.close()

    def write_vectors(self, views: np.ndarray, keys: Sequence[str], cache) -> tuple[str, dict]:
        from kb.store.dense import build_index, choose_index, write_index

        vectors = cache.get(keys)
        kind, params = choose_index(len(vectors))
        write_index(build_index(vectors, kind, params), self.staging / DENSE)
        np.save(self.staging / VIEWS, np.asarray(views, dtype=np.int32))
        return kind, params

    def write_lexical(self, lexical) -> None:
        lexical.save(self.staging / LEXICAL)

    def commit(self, manifest: IndexManifest) -> str:
        """Written last, the manifest records the sizes of the files written before it."""
        sizes = {name: (self.staging / name).stat().st_size for name in (CHUNKS_DB, DENSE, VIEWS)}
        manifest = manifest.model_copy(update={"format_version": FORMAT_VERSION, "generation": self.name, "file_sizes": sizes})
        (self.staging / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        fault_point("after-manifest")
        for path in self.staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(self.staging)
        final = self.staging.with_suffix("")
        fault_point("before-rename")
        os.rename(self.staging, final)
        _fsync_dir(self.index)
        fault_point("before-current")
        pointer = self.index / f"{CURRENT}.tmp"
        pointer.write_text(final.name + "\n", encoding="utf-8")
        with open(pointer, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, self.index / CURRENT)
        _fsync_dir(self.index)
        fault_point("after-current")
        _prune(self.index, keep={final.name})
        return final.name

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _prune(index: Path, keep: set[str]) -> None:
    """Keep the live generation and the one before it (a reader may still have it open)."""
    gens = sorted(p for p in index.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
    live = [p for p in gens if p.name in keep]
    older = [p for p in gens if p.name not in keep]
    for stale in older[:-1] if live else []:
        shutil.rmtree(stale, ignore_errors=True)


class LocalWriter:
    def __init__(self, store: "LocalStore"):
        self.store = store

    def live(self) -> Optional[LocalReader]:
        return None if self.store.live_name() is None else self.store.open_reader()

    def embedding_cache(self, dim: int) -> SqliteEmbeddingCache:
        return self.store.embedding_cache(dim)

    def new_generation(self) -> LocalGenerationWriter:
        """A fresh folder for the next generation (left-overs of crashed runs are removed)."""
        index = self.store.folder
        for stale in index.glob("*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        existing = [int(p.name.split("-")[1]) for p in index.glob("gen-*") if p.name.split("-")[1].isdigit()]
        staging = index / f"gen-{max(existing, default=0) + 1:06d}.tmp"
        staging.mkdir()
        return LocalGenerationWriter(index, staging)

    def discard(self) -> None:
        """Drop every generation and the embedding cache. Converted texts of PDF, DOCX and HTML
        files stay: they depend on the files and the converter only."""
        for path in self.store.folder.iterdir():
            if path.name in ("lock", CONVERSIONS_FILE):
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


class LocalStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def live_name(self) -> Optional[str]:
        try:
            name = (self.folder / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def open_reader(self) -> LocalReader:
        """The live generation; retried if a writer swapped it while we opened it."""
        for attempt in range(3):
            name = self.live_name()
            if name is None:
                raise IndexMissing("this knowledge base has no index yet: run `kb index`")
            try:
                return LocalReader(self.folder / name)
            except FileNotFoundError:
                if attempt == 2:
                    raise IndexCorrupt(f"index generation {name} is missing; {REBUILD_HINT}") from None
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def writer(self) -> Iterator[LocalWriter]:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / "lock", "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IndexBusy(f"the index is being written by {holder}; wait for it to finish and run `kb index` again") from None
            handle.truncate(0)
            handle.write(f"kb index (pid {os.getpid()})")
            handle.flush()
            yield LocalWriter(self)
        finally:
            handle.close()

    def embedding_cache(self, dim: int) -> SqliteEmbeddingCache:
        return SqliteEmbeddingCache(self.folder, dim)

    def close(self) -> None:
        pass  # every file is opened and closed by the reader or writer that uses it
