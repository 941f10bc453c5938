"""The caches beside a local index: passage vectors and converted texts, one SQLite file each."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kb.store.base import DamagedVectors, key_positions
from kb.store.checks import write_failure, writing

CACHE_DB = "embeddings.sqlite"
CONVERSIONS_FILE = "conversions.sqlite"
BATCH = 900  # keys per statement (SQLite's parameter limit)


def _delete_all_but(db: sqlite3.Connection, table: str, keys: Sequence[str]) -> None:
    """Delete the rows of a cache table whose key is not in `keys` (through a temporary table:
    a corpus has more keys than SQLite takes as parameters of one statement)."""
    db.execute("CREATE TEMP TABLE keep (key TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
    db.execute(f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM keep)")
    db.execute("DROP TABLE keep")
    db.commit()


def _batches(keys: Sequence[str]):
    for start in range(0, len(keys), BATCH):
        part = keys[start : start + BATCH]
        yield part, ",".join("?" * len(part))


class SqliteEmbeddingCache:
    """Passage vectors keyed by a hash of (encoder, embedded text); committed batch by batch.

    Each vector carries a CRC-32 of its bytes, so a damaged one is embedded again rather than
    indexed. The cache holds nothing that cannot be computed again: an unreadable file is replaced
    by a new one (`replaced` says why) and its vectors are recomputed.
    """

    def __init__(self, folder: Path, dim: int):
        self.folder = folder
        self.path = folder / CACHE_DB
        self.dim = dim
        self.replaced: Optional[str] = None
        with writing(folder):
            try:
                self.db = self._open()
            except sqlite3.DatabaseError as exc:
                if write_failure(exc, folder):
                    raise
                self._replace(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL, crc INTEGER)")
            if "crc" not in {row[1] for row in db.execute("PRAGMA table_info(vectors)")}:
                db.execute("ALTER TABLE vectors ADD COLUMN crc INTEGER")  # vectors cached before checks: trusted
        except BaseException:
            db.close()
            raise
        return db

    def _replace(self, exc: sqlite3.DatabaseError) -> None:
        """Start a new cache in place of an unreadable one."""
        with contextlib.suppress(AttributeError):
            self.db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.replaced = f"the embedding cache {self.path} was unreadable ({exc}) and was replaced; its vectors are computed again"
        self.db = self._open()

    @contextlib.contextmanager
    def _reading(self, keys: Sequence[str]):
        """A cache that turns out unreadable is replaced; the vectors asked for count as damaged."""
        with writing(self.folder):
            try:
                yield
            except sqlite3.DatabaseError as exc:
                if write_failure(exc, self.folder):
                    raise
                self._replace(exc)
                raise DamagedVectors(keys, self.replaced) from None

    def keys(self) -> list[str]:
        try:
            with self._reading([]):
                return [r[0] for r in self.db.execute("SELECT key FROM vectors")]
        except DamagedVectors:  # replaced by an empty cache
            return []

    def missing(self, keys: Sequence[str]) -> list[str]:
        unique = list(dict.fromkeys(keys))
        have: set[str] = set()
        try:
            with self._reading(unique):
                for part, marks in _batches(unique):
                    have.update(r[0] for r in self.db.execute(f"SELECT key FROM vectors WHERE key IN ({marks})", part))
        except DamagedVectors:
            return unique
        return [k for k in unique if k not in have]

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = []
        for key, vector in zip(keys, vectors):
            blob = np.asarray(vector, dtype=np.float32).tobytes()
            rows.append((key, blob, zlib.crc32(blob)))
        with writing(self.folder):
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            self.db.commit()

    def get(self, keys: Sequence[str]) -> np.ndarray:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        position = key_positions(keys)
        unique = list(position)
        found: set[str] = set()
        damaged: list[str] = []
        with self._reading(unique):
            for part, marks in _batches(unique):
                for key, blob, crc in self.db.execute(f"SELECT key, vec, crc FROM vectors WHERE key IN ({marks})", part):
                    if len(blob) != 4 * self.dim or (crc is not None and zlib.crc32(blob) != crc):
                        damaged.append(key)
                        continue
                    found.add(key)
                    vec = np.frombuffer(blob, dtype=np.float32)
                    for i in position[key]:
                        out[i] = vec
        lost = damaged + [k for k in unique if k not in found and k not in damaged]
        if lost:
            with writing(self.folder):
                for part, marks in _batches(lost):
                    self.db.execute(f"DELETE FROM vectors WHERE key IN ({marks})", part)
                self.db.commit()
            count = f"{len(lost)} vector{'s' if len(lost) > 1 else ''}"
            raise DamagedVectors(lost, f"{count} in the embedding cache {self.path} failed their check and were computed again")
        return out

    def retain(self, keys: Sequence[str]) -> None:
        """Forget vectors no live chunk uses."""
        with writing(self.folder):
            _delete_all_but(self.db, "vectors", keys)

    def close(self) -> None:
        self.db.close()


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
