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
    lock, writer       the lock held by the one process that writes, and who holds it

A writer builds a new generation in a temporary folder, fsyncs it, renames it into place and
then swaps CURRENT. A crash at any moment leaves the previous generation live; vectors already
computed survive in the embedding cache, so the next run picks up where this one stopped.
Readers see the old or the new generation, never a mix.

The manifest records the size and checksum of every file (kb.store.checks): opening a generation
compares sizes, loading a file hashes it when it is small and checks its structure when it is not,
and `verify` hashes everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from kb.errors import IndexBusy, IndexCorrupt, IndexMissing, IndexOutdated, IndexWriteError
from kb.models import Chunk, IndexManifest
from kb.store.base import (
    REPAIR_HINT, Damage, DocumentRecord, LexicalScores, PassageFilter, PassageRecord, distinct_rows, fault_point,
)
from kb.store.caches import SqliteEmbeddingCache
import kb.store.checks as checks
from kb.store.checks import checksum, file_problem, probe_writable, views_problem, writing

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS_DB = "chunks.sqlite"
DENSE = "dense.faiss"
VIEWS = "views.npy"
LEXICAL = "lexical"
LOCK = "lock"
HOLDER = "writer"  # who holds the lock: the lock file itself is the locking library's
MAX_BM25 = 1e6  # a BM25 weight is at most idf * (k1 + 1): below 50 for any corpus, summed over a question's terms
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


def read_manifest(folder: Path) -> IndexManifest:
    """The manifest of a generation folder (FileNotFoundError while a writer swaps it away)."""
    try:
        raw = json.loads((folder / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise IndexCorrupt(f"index manifest {folder / MANIFEST} is unreadable ({exc.__class__.__name__}); {REPAIR_HINT}") from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        version = raw.get("format_version") if isinstance(raw, dict) else None
        raise IndexOutdated(f"the index was written by another version of kb (format {version}); run `kb index`")
    try:
        return IndexManifest.model_validate(raw)
    except Exception as exc:
        raise IndexCorrupt(f"index manifest {folder / MANIFEST} is invalid ({exc.__class__.__name__}); {REPAIR_HINT}") from None


class LocalReader:
    """One immutable generation folder, opened for reading."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest = read_manifest(folder)
        db_path = folder / CHUNKS_DB
        if not db_path.is_file():
            raise FileNotFoundError(db_path)
        for name in self.manifest.file_sizes:
            self._check(name, hash_up_to=0)  # sizes only: one stat per file
        self._check(CHUNKS_DB)
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        with self._reading(CHUNKS_DB):
            rows = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        if rows != self.manifest.chunks:
            raise self._damaged(CHUNKS_DB, f"it holds {rows} passages, the manifest {self.manifest.chunks}")
        self._dense = None
        self._lexical = None
        self._views = None
        self._scopes: dict[PassageFilter, tuple[np.ndarray, np.ndarray | None]] = {}
        # inner products of unit vectors lie in [-1, 1] (float16 storage rounds a little)
        self._score_bound = 1.01 if self.manifest.normalized else float("inf")

    @property
    def name(self) -> str:
        return self.folder.name

    # -- integrity -----------------------------------------------------------------------------
    def _damaged(self, name: str, problem: str) -> IndexCorrupt:
        return IndexCorrupt(f"index file {self.folder / name} is damaged ({problem}); {REPAIR_HINT}")

    def _check(self, name: str, hash_up_to: Optional[float] = None) -> None:
        limit = checks.VERIFY_ON_LOAD_BYTES if hash_up_to is None else hash_up_to
        problem = file_problem(self.folder, name, self.manifest, limit)
        if problem == "missing" and not self.folder.is_dir():
            raise FileNotFoundError(self.folder)  # pruned by a writer meanwhile: open the live one again
        if problem:
            raise self._damaged(name, problem)

    @contextlib.contextmanager
    def _reading(self, name: str):
        """What a damaged file does to the code reading it becomes one line naming the file."""
        try:
            yield
        except (sqlite3.DatabaseError, IndexError, KeyError, ValueError, TypeError) as exc:
            raise self._damaged(name, f"{exc.__class__.__name__} reading it") from None

    # -- the files, loaded on first use ------------------------------------------------------
    @property
    def views(self) -> np.ndarray:
        """Chunk row of every vector; a chunk's vectors are contiguous, the whole passage first."""
        if self._views is None:
            self._check(VIEWS)
            try:
                views = np.load(self.folder / VIEWS)
            except Exception as exc:
                raise self._damaged(VIEWS, f"unreadable: {exc.__class__.__name__}") from None
            problem = views_problem(views, self.manifest.chunks, self.manifest.vectors)
            if problem:
                raise self._damaged(VIEWS, problem)
            self._views = views
        return self._views

    @property
    def dense_index(self):
        """The FAISS index (benchmarks of FAISS itself use it directly)."""
        if self._dense is None:
            from kb.store.dense import read_index

            self._check(DENSE)
            self._dense = read_index(self.folder / DENSE, self.manifest)
        return self._dense

    @property
    def lexical(self):
        if self._lexical is None:
            from kb.lexical import LexicalIndex

            for name in self.manifest.file_sizes:
                if name.startswith(f"{LEXICAL}/"):
                    self._check(name)
            try:
                lexical = LexicalIndex.load(self.folder / LEXICAL)
            except Exception as exc:
                raise self._damaged(LEXICAL, f"unreadable: {exc.__class__.__name__}") from None
            self._lexical = lexical
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
            with self._reading(CHUNKS_DB):
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
    concurrent_retrievers = False  # both searches run in this process: one after the other

    def prepare_dense(self) -> None:
        self.dense_index  # noqa: B018  (loads FAISS and the index file)

    def dense_candidates(self, query: np.ndarray, views: int, scope: Optional[PassageFilter]) -> np.ndarray:
        from kb.store.dense import search

        view_map = self.views
        allowed_views = None if scope is None else self._allowed_views(scope)
        _, view_hits = search(self.dense_index, query, views, allowed_views)
        with self._reading(DENSE):  # a damaged IVF index can return ids it does not hold
            return distinct_rows(view_map[view_hits])

    def dense_scores(self, rows: np.ndarray, query: np.ndarray) -> list[np.ndarray]:
        view_map = self.views
        starts = np.searchsorted(view_map, rows, side="left")
        ends = np.searchsorted(view_map, rows, side="right")
        if not len(rows):
            return []
        ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        scores = self.dense_index.reconstruct_batch(ids.astype(np.int64)) @ query
        if not (np.isfinite(scores).all() and np.abs(scores).max(initial=0) <= self._score_bound):
            raise self._damaged(DENSE, "it holds vectors that are not unit vectors")
        return np.split(scores, np.cumsum(ends - starts)[:-1])

    # -- lexical -----------------------------------------------------------------------------
    def lexical_scores(self, terms, scope: Optional[PassageFilter]) -> LexicalScores:
        with self._reading(LEXICAL):
            scores = self.lexical.scores(terms, self.manifest.chunks)
        if len(scores) != self.manifest.chunks:
            raise self._damaged(LEXICAL, "its weights do not fit the passages")
        positive = scores > 0
        if scope is not None:
            keep = np.zeros(len(scores), dtype=bool)
            keep[self._allowed(scope)[0]] = True
            positive &= keep
        rows = np.flatnonzero(positive)
        found = scores[rows]
        if not found.max(initial=0) < MAX_BM25:
            raise self._damaged(LEXICAL, "it holds weights no BM25 gives")
        return LexicalScores(rows, found)

    def lexical_coverage(self, terms) -> float:
        return self.lexical.coverage(terms)

    # -- records -----------------------------------------------------------------------------
    def passages(self, rows: Sequence[int]) -> list[PassageRecord]:
        rows = [int(r) for r in rows]
        if not rows:
            return []
        with self._reading(CHUNKS_DB):
            found = {r[0]: _passage(r) for r in self.db.execute(f"{PASSAGE_SQL} WHERE row IN ({_marks(rows)})", rows)}
            return [found[r] for r in rows]

    def passage_by_id(self, chunk_id: str) -> Optional[PassageRecord]:
        with self._reading(CHUNKS_DB):
            row = self.db.execute(f"{PASSAGE_SQL} WHERE chunk_id = ?", (chunk_id,)).fetchone()
            return None if row is None else _passage(row)

    def neighbours(self, passage: PassageRecord, context: int) -> list[PassageRecord]:
        doc_id, ordinal = passage.chunk.doc_id, passage.chunk.ordinal
        with self._reading(CHUNKS_DB):
            return [_passage(r) for r in self.db.execute(
                f"{PASSAGE_SQL} WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (doc_id, ordinal - context, ordinal + context),
            )]

    def document_passages(self, doc_ids: Sequence[str]) -> Iterator[PassageRecord]:
        ids = sorted(set(doc_ids))
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            with self._reading(CHUNKS_DB):
                found = [_passage(r) for r in self.db.execute(f"{PASSAGE_SQL} WHERE doc_id IN ({_marks(part)}) ORDER BY doc_id, ordinal", part)]
            yield from found

    def documents(self, doc_ids: Optional[Sequence[str]] = None) -> list[DocumentRecord]:
        sql = (f"SELECT {', '.join('d.' + c for c in DOCUMENT_COLUMNS)}, count(c.row) "
               "FROM documents d LEFT JOIN chunks c ON c.doc_id = d.doc_id")
        with self._reading(CHUNKS_DB):
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

    @contextlib.contextmanager
    def _writing(self):
        """A write the disk refuses ends the generation, and frees what it took."""
        try:
            with writing(self.index):
                yield
        except IndexWriteError:
            self.abort()
            raise

    def write_passages(self, documents: Sequence[DocumentRecord], passages: Sequence[Chunk]) -> None:
        with self._writing():
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
        with self._writing():
            write_index(build_index(vectors, kind, params), self.staging / DENSE)
            np.save(self.staging / VIEWS, np.asarray(views, dtype=np.int32))
        return kind, params

    def write_lexical(self, lexical) -> None:
        with self._writing():
            lexical.save(self.staging / LEXICAL)

    def commit(self, manifest: IndexManifest) -> str:
        """Written last, the manifest records the size and checksum of every file written before it."""
        with self._writing():
            files = sorted(p.relative_to(self.staging).as_posix() for p in self.staging.rglob("*") if p.is_file())
            manifest = manifest.model_copy(update={
                "format_version": FORMAT_VERSION, "generation": self.name,
                "file_sizes": {name: (self.staging / name).stat().st_size for name in files},
                "checksums": {name: checksum(self.staging / name) for name in files},
            })
            (self.staging / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
            fault_point("after-manifest")
            for name in [*files, MANIFEST]:
                with open(self.staging / name, "rb") as fh:
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
        final = self.staging.with_suffix("")
        if final.is_dir() and _live_name(self.index) != final.name:  # renamed, never made live
            shutil.rmtree(final, ignore_errors=True)
        (self.index / f"{CURRENT}.tmp").unlink(missing_ok=True)


def _prune(index: Path, keep: set[str]) -> None:
    """Keep the live generation and the one before it (a reader may still have it open)."""
    gens = sorted(p for p in index.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
    live = [p for p in gens if p.name in keep]
    older = [p for p in gens if p.name not in keep]
    for stale in older[:-1] if live else []:
        shutil.rmtree(stale, ignore_errors=True)


def _live_name(index: Path) -> Optional[str]:
    try:
        name = (index / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


class LocalWriter:
    def __init__(self, store: "LocalStore"):
        self.store = store
        self.repairs: list[str] = []

    def live(self) -> Optional[LocalReader]:
        return None if self.store.live_name() is None else self.store.open_reader()

    def embedding_cache(self, dim: int) -> SqliteEmbeddingCache:
        cache = self.store.embedding_cache(dim)
        if cache.replaced:
            self.repairs.append(cache.replaced)
        return cache

    def new_generation(self) -> LocalGenerationWriter:
        """A fresh folder for the next generation (left-overs of crashed runs are removed)."""
        index = self.store.folder
        for stale in index.glob("*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        existing = [int(p.name.split("-")[1]) for p in index.glob("gen-*") if p.name.split("-")[1].isdigit()]
        staging = index / f"gen-{max(existing, default=0) + 1:06d}.tmp"
        with writing(index):
            staging.mkdir()
        return LocalGenerationWriter(index, staging)


class LocalStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def live_name(self) -> Optional[str]:
        return _live_name(self.folder)

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
                    raise IndexCorrupt(f"index generation {self.folder / name} is missing; {REPAIR_HINT}") from None
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def writer(self) -> Iterator[LocalWriter]:
        from filelock import FileLock, Timeout

        probe_writable(self.folder)
        lock_path = self.folder / LOCK
        if lock_path.is_dir():
            raise IndexWriteError(f"{lock_path} is a folder, where kb keeps the lock file of its index writer; "
                                  "remove it and run `kb index` again")
        lock = FileLock(lock_path, timeout=0)
        try:
            with writing(self.folder):
                lock.acquire()
        except Timeout:
            raise IndexBusy(f"the index is being written by {self._holder()}; wait for it to finish and run `kb index` again") from None
        try:
            with contextlib.suppress(OSError):  # who holds the lock is for messages only
                (self.folder / HOLDER).write_text(f"kb index (pid {os.getpid()})", encoding="utf-8")
            yield LocalWriter(self)
        finally:
            lock.release()

    def _holder(self) -> str:
        try:
            return (self.folder / HOLDER).read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            return "another process"

    def embedding_cache(self, dim: int) -> SqliteEmbeddingCache:
        return SqliteEmbeddingCache(self.folder, dim)

    def verify(self) -> list[Damage]:
        name = self.live_name()
        if name is None:
            raise IndexMissing("this knowledge base has no index yet: run `kb index`")
        folder = self.folder / name
        where = f"{self.folder.name}/{name}"
        if not folder.is_dir():
            return [Damage(where, "the generation is missing")]
        try:
            manifest = read_manifest(folder)
        except FileNotFoundError:
            return [Damage(f"{where}/{MANIFEST}", "missing")]
        except IndexOutdated:
            return []  # not damage: `kb index` rewrites it in this version's format
        except IndexCorrupt:
            return [Damage(f"{where}/{MANIFEST}", "unreadable")]
        found = [Damage(f"{where}/{file}", problem) for file in manifest.file_sizes
                 if (problem := file_problem(folder, file, manifest))]
        if CHUNKS_DB not in manifest.file_sizes and not (folder / CHUNKS_DB).is_file():
            found.append(Damage(f"{where}/{CHUNKS_DB}", "missing"))
        return found

    def close(self) -> None:
        pass  # every file is opened and closed by the reader or writer that uses it
