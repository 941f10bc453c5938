"""The caches beside a local index: passage vectors and converted texts, one SQLite file each."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.errors import IndexCorrupt

CACHE_DB = "embeddings.sqlite"
CONVERSIONS_FILE = "conversions.sqlite"
REBUILD_HINT = "run `kb index --rebuild`"


def _delete_all_but(db: sqlite3.Connection, table: str, keys: Sequence[str]) -> None:
    """Delete the rows of a cache table whose key is not in `keys` (through a temporary table:
    a corpus has more keys than SQLite takes as parameters of one statement)."""
    db.execute("CREATE TEMP TABLE keep (key TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
    db.execute(f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM keep)")
    db.execute("DROP TABLE keep")
    db.commit()


class SqliteEmbeddingCache:
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

    def keys(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT key FROM vectors")]

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
