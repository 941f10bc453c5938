"""The index store: one interface (kb.store.base) for reading and writing an index; the
local-files implementation (kb.store.local) a knowledge base uses by default, and PostgreSQL
(kb.store.postgres) for an index that several machines share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.store.base import (
    Damage, DamagedVectors, DocumentRecord, EmbeddingCache, GenerationWriter, IndexReader, IndexStore, IndexWriter,
    LexicalScores, PassageFilter, PassageRecord, QueryAnalyzer, fault_point,
)

__all__ = [
    "Damage", "DamagedVectors", "DocumentRecord", "EmbeddingCache", "GenerationWriter", "IndexReader", "IndexStore",
    "IndexWriter", "LexicalScores", "PassageFilter", "PassageRecord", "QueryAnalyzer", "fault_point", "open_store",
]


if TYPE_CHECKING:
    from kb.config import KBConfig, KBPaths


def open_store(paths: "KBPaths", config: "KBConfig") -> IndexStore:
    """The store that holds a knowledge base's index: the PostgreSQL database of `[store] url`
    (or KB_DATABASE_URL), else the files in its `.kb/` folder."""
    if config.store.url:
        from kb.store.postgres import PostgresStore

        return PostgresStore(config.store.url)
    from kb.store.local import LocalStore

    return LocalStore(paths.index)
