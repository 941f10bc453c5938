"""The only code that touches index files.

Layout of the index folder (`.kb/` in a knowledge base):

    CURRENT            name of the live generation, replaced atomically
    gen-000007/        one complete, immutable index generation
        manifest.json  encoder, dimensions, prefixes, chunker/analyzer versions, FAISS type
        chunks.sqlite  documents and chunk records; chunk row i is FAISS id i and BM25 row i
        dense.faiss    the vector index
        lexical/       the bm25s index
    embeddings.sqlite  passage vectors by (encoder, text) hash: never embed the same text twice
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
from typing import Iterator, Sequence

import numpy as np

from kb.errors import IndexBusy, IndexCorrupt, IndexMissing, IndexOutdated
from kb.models import IndexManifest

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS_DB = "chunks.sqlite"
DENSE = "dense.faiss"
VIEWS = "views.npy"  # FAISS row -> chunk row (a passage and its sentence windows)
LEXICAL = "lexical"
CACHE_DB = "embeddings.sqlite"
CONVERSIONS_FILE = "conversions.sqlite"
REBUILD_HINT = "run `kb index --rebuild`"

CHUNK_COLUMNS = (
    "chunk_id", "doc_id", "ordinal", "section", "text", "char_start", "char_end",
    "line_start", "line_end", "page_start", "page_end",
)

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


def fault_point(name: str) -> None:
    """Crash here when KB_FAULT_POINT names this point: lets tests kill a writer at exact steps."""
    if os.environ.get("KB_FAULT_POINT") == name:
        os.kill(os.getpid(), 9)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Generation:
    """One immutable index generation, opened for reading."""

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
    def dense(self):
        if self._dense is None:
            from kb.dense import read_index

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

    def close(self) -> None:
        self.db.close()


class IndexStore:
    def __init__(self, folder: Path):
        self.folder = folder

    # -- reading -----------------------------------------------------------------------
    def current_name(self) -> str | None:
        try:
            name = (self.folder / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def open_current(self) -> Generation:
        """The live generation; retried once if a writer swapped it while we opened it."""
        for attempt in range(3):
            name = self.current_name()
            if name is None:
                raise IndexMissing("this knowledge base has no index yet: run `kb index`")
            try:
                return Generation(self.folder / name)
            except FileNotFoundError:
                if attempt == 2:
                    raise IndexCorrupt(f"index generation {name} is missing; {REBUILD_HINT}") from None
                time.sleep(0.05)
        raise AssertionError("unreachable")

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
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
            yield
        finally:
            handle.close()

    def staging_folder(self) -> Path:
        """A fresh folder for the next generation (left-overs of crashed runs are removed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        existing = [int(p.name.split("-")[1]) for p in self.folder.glob("gen-*") if p.name.split("-")[1].isdigit()]
        name = f"gen-{max(existing, default=0) + 1:06d}"
        staging = self.folder / f"{name}.tmp"
        staging.mkdir()
        return staging

    def commit(self, staging: Path) -> str:
        """Make a fully written staging folder the live generation, atomically."""
        for path in staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(staging)
        final = staging.with_suffix("")
        fault_point("before-rename")
        os.rename(staging, final)
        _fsync_dir(self.folder)
        fault_point("before-current")
        pointer = self.folder / f"{CURRENT}.tmp"
        pointer.write_text(final.name + "\n", encoding="utf-8")
        with open(pointer, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, self.folder / CURRENT)
        _fsync_dir(self.folder)
        fault_point("after-current")
        self._prune(keep={final.name})
        return final.name

    def _prune(self, keep: set[str]) -> None:
        """Keep the live generation and the one before it (a reader may still have it open)."""
        gens = sorted(p for p in self.folder.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
        live = [p for p in gens if p.name in keep]
        older = [p for p in gens if p.name not in keep]
        for stale in older[:-1] if live else []:
            shutil.rmtree(stale, ignore_errors=True)

    def discard(self) -> None:
        """--rebuild: drop every generation and the embedding cache. Converted texts of PDF,
        DOCX and HTML files stay: they depend on the files and the converter only."""
        if self.folder.exists():
            for path in self.folder.iterdir():
                if path.name in ("lock", CONVERSIONS_FILE):
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def write_chunks_db(path: Path, documents: Sequence[tuple], chunks: Sequence[tuple]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?)", documents)
        db.executemany(
            f"INSERT INTO chunks (row, {', '.join(CHUNK_COLUMNS)}) VALUES ({', '.join('?' * (len(CHUNK_COLUMNS) + 1))})",
            chunks,
        )
        db.commit()
    finally:
        db.close()


def write_manifest(folder: Path, manifest: IndexManifest) -> None:
    """Written last: it records the sizes of the files written before it."""
    sizes = {name: (folder / name).stat().st_size for name in (CHUNKS_DB, DENSE, VIEWS)}
    manifest = manifest.model_copy(update={"file_sizes": sizes})
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def _delete_all_but(db: sqlite3.Connection, table: str, keys: Sequence[str]) -> None:
    """Delete the rows of a cache table whose key is not in `keys` (through a temporary table:
    a corpus has more keys than SQLite takes as parameters of one statement)."""
    db.execute("CREATE TEMP TABLE keep (key TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
    db.execute(f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM keep)")
    db.execute("DROP TABLE keep")
    db.commit()


class ConversionCache:
    """Text of converted PDF/DOCX/HTML files by a key of (file bytes, converter). A cache that
    cannot be read or written only costs time: every failure here is a miss."""

    def __init__(self, folder: Path):
        self.path = folder / CONVERSIONS_FILE

    def get(self, key: str) -> tuple[str, list[int]] | None:
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                row = db.execute("SELECT text, pages FROM conversions WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:  # no cache yet, or an unreadable one
            return None
        return (row[0], json.loads(row[1])) if row else None

    def put(self, key: str, text: str, pages: list[int]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                db.execute("CREATE TABLE IF NOT EXISTS conversions (key TEXT PRIMARY KEY, text TEXT NOT NULL, pages TEXT NOT NULL)")
                db.execute("INSERT OR REPLACE INTO conversions VALUES (?, ?, ?)", (key, text, json.dumps(pages)))
                db.commit()
        except (sqlite3.Error, OSError):
            pass

    def retain(self, keys: Sequence[str]) -> None:
        """Forget the texts of files the corpus no longer holds (deleted or changed since)."""
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                _delete_all_but(db, "conversions", keys)
        except (sqlite3.Error, OSError):  # no cache yet, or an unreadable one
            pass


class EmbeddingCache:
    """Passage vectors keyed by a hash of (encoder, embedded text); committed batch by batch."""

    def __init__(self, folder: Path, dim: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.db = sqlite3.connect(folder / CACHE_DB)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"embedding cache {folder / CACHE_DB} is unreadable ({exc}); {REBUILD_HINT}") from None

    def missing(self, keys: Sequence[str]) -> list[str]:
        have: set[str] = set()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            rows = self.db.execute(f"SELECT key FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            have.update(r[0] for r in rows)
        return [k for k in unique if k not in have]

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)],
        )
        self.db.commit()

    def get(self, keys: Sequence[str]) -> np.ndarray:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        position: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            position.setdefault(key, []).append(i)
        unique = list(position)
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            for key, blob in self.db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] != self.dim:
                    raise IndexCorrupt(f"embedding cache holds a vector of the wrong size; {REBUILD_HINT}")
                for i in position[key]:
                    out[i] = vec
        return out

    def retain(self, keys: Sequence[str]) -> None:
        """Forget vectors no live chunk uses."""
        _delete_all_but(self.db, "vectors", keys)

    def close(self) -> None:
        self.db.close()


