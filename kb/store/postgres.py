"""The index in PostgreSQL: pgvector for the vectors, kb's own BM25 weights as postings, one
schema per generation. For an index that several `kb serve` processes (and machines) share and
that the database's own backups and replicas cover.

Layout, in the database of `[store] url` (or KB_DATABASE_URL):

    kb.state            one row: the live generation, switched in the commit transaction
    kb.generations      the committed generations kept (the live one and the one before), with manifests
    kb.vectors_<dim>    the embedding cache: one vector per (encoder, text) key, shared by every
                        generation; searched exactly up to IVF_MIN vectors, above through an IVF
                        index of their half-precision copies (the float32 vectors score the candidates)
    kb_gen_000007.*     one generation, written in one transaction:
        documents       metadata, language, kind, and the rows of its passages (first_row..last_row)
        passages        passage records by row
        views           (row, view) -> vector: a passage's whole text first, then its sentence windows
        postings        term -> the rows it occurs in and kb's BM25 weight in each
        lexicon         the analyzer's data (corpus words for compound parts, stop words, glossary)

A writer holds an advisory lock for the whole build and creates the new generation's schema and
switches the pointer in one transaction: readers see the old generation or the new one, never a
mix, and the server rolls back the transaction of a writer that was killed. Vectors reach the
cache batch by batch in transactions of their own, so an interrupted build resumes.

Filters run in the database (a filter is the rows of the documents it selects, as ranges). BM25
sums the postings of the question's terms, fetched as stored, with the local store's arithmetic,
and a passage's dense score comes from its stored
float32 vectors by the same numpy product as in the local store, so a question ranks the same
passages in both stores.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import threading
import time
from typing import Iterator, Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from kb.errors import IndexBusy, IndexCorrupt, IndexMissing, IndexOutdated, StoreUnavailable, UsageError
from kb.models import Chunk, IndexManifest
from kb.store.base import (
    Damage, DamagedVectors, DocumentRecord, LexicalScores, PassageFilter, PassageRecord, distinct_rows, fault_point,
    key_positions,
)
from kb.store.dense import IVF_NPROBE, ivf_lists

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.types.json import Jsonb
except ImportError:  # the optional extra is not installed
    psycopg = None

FORMAT_VERSION = 1
SCHEMA_PREFIX = "kb_gen_"
WRITER_LOCK = 0x6B62_0001  # pg_advisory_lock key of the one writer ("kb" 1)
LOCK_WAIT_SECONDS = 3.0  # a killed writer's session may take a moment to end on the server
PRUNE_LOCK_TIMEOUT = "2s"  # dropping an old generation never waits long for its last readers
IVF_MIN = 20_000  # vectors; below this an exact scan is fast enough (bench/postgres_report.md)
# Above it, pgvector's IVF index with the local store's rule (4 sqrt(n) lists, 256 probed): on the
# benchmark's 100k vectors it reached recall@10 0.99 where an HNSW graph (m 16, ef_construction 64)
# reached 0.55 at ef_search 100 and 0.82 at 400 (bench/postgres_report.md).
IVF_MAX_LISTS = 32_768  # pgvector's limit
# The IVF index holds the vectors at half precision (an index on embedding::halfvec): half the pages
# a search reads; the table keeps float32, which the candidates are scored with. At 1M vectors the
# index shrank from 1,581 to 799 MB at the same recall@10 (bench/postgres_report.md).
IVF_STORAGE = "halfvec"
# pgvector sorts every vector of the probed lists (about 100,000 at 1M vectors): PostgreSQL's
# default 4MB of sort memory sent that sort to disk.
SEARCH_WORK_MEM = "64MB"
IVF_REBUILD_GROWTH = 4  # lists are trained on the vectors of their build: train again when 4x as many
EXACT_FILTER_LIMIT = 20_000  # vectors in a filter's scope that are scored exactly, as locally
MIN_PGVECTOR = (0, 8)  # iterative index scans (filters over an approximate index) came with 0.8
KEPT_CONNECTIONS = 4
BATCH = 20_000  # keys per statement
FILTER_CACHE = 16

CHUNK_FIELDS = tuple(Chunk.model_fields)
DOCUMENT_COLUMNS = DocumentRecord._fields[:-1]
PASSAGE_SQL = "SELECT row, " + ", ".join(CHUNK_FIELDS) + " FROM {s}.passages"
DOCUMENT_SQL = "SELECT " + ", ".join(DOCUMENT_COLUMNS) + ", passages FROM {s}.documents"

BASE_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS kb;
CREATE TABLE IF NOT EXISTS kb.state (id int PRIMARY KEY CHECK (id = 1), live text NOT NULL);
CREATE TABLE IF NOT EXISTS kb.generations (
    name text PRIMARY KEY, manifest jsonb NOT NULL, committed_at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE IF NOT EXISTS kb.generation_numbers;
"""
GENERATION_TABLES = """
CREATE TABLE {s}.documents (
    doc_id text PRIMARY KEY, path text NOT NULL, index_hash text NOT NULL, meta_json text NOT NULL,
    language text NOT NULL, kind text NOT NULL, title text NOT NULL,
    first_row int4, last_row int4, passages int4 NOT NULL);
CREATE TABLE {s}.passages (
    row int4 NOT NULL, chunk_id text NOT NULL, doc_id text NOT NULL, ordinal int4 NOT NULL,
    section text NOT NULL, text text NOT NULL, char_start int4 NOT NULL, char_end int4 NOT NULL,
    line_start int4 NOT NULL, line_end int4 NOT NULL, page_start int4, page_end int4);
"""


def _require_psycopg() -> None:
    if psycopg is None:
        raise UsageError("the index database needs PostgreSQL support: pip install 'kb-samskabelse[postgres]' "
                         "(or leave out [store] url and KB_DATABASE_URL for the local index files)")


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def _array_values(sent: bytes, dtype: str) -> np.ndarray:
    """The elements of a one-dimensional array without nulls in PostgreSQL's binary form
    (array_send): a 20-byte header, then each element as its length and its 4 bytes."""
    if len(sent) <= 12:  # no dimensions: an empty array
        return np.empty(0, dtype=dtype)
    return np.frombuffer(sent, dtype=dtype, offset=20)[1::2]


def _rows_in(ranges: str, count: int) -> np.ndarray:
    """A mask of the rows in an int4multirange's text ("{[0,5),[9,12)}")."""
    mask = np.zeros(count, dtype=bool)
    for low, high in re.findall(r"\[(\d+),(\d+)\)", ranges):
        mask[int(low):int(high)] = True
    return mask


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _schema(name: str) -> str:
    """Schema of a generation name ("gen-000007" -> kb_gen_000007); names are ours, never input."""
    return SCHEMA_PREFIX + name.removeprefix("gen-")


def _vectors_table(dim: int) -> str:
    return f"kb.vectors_{int(dim)}"


def _distance(dim: int, storage: Optional[str]) -> str:
    """The distance to the query %(q)b that a search orders by: the one its IVF index holds (half
    precision since IVF_STORAGE; float32 in an index built before, and without an index)."""
    if storage == "halfvec":
        return f"embedding::halfvec({int(dim)}) <#> %(q)b::halfvec({int(dim)})"
    return "embedding <#> %(q)b"


class Connections:
    """Open connections to one database, handed out one at a time and kept for the next call
    (a server answers many questions; each takes several short queries)."""

    def __init__(self, url: str):
        _require_psycopg()
        self.url = url
        self._idle: list = []
        self._lock = threading.Lock()

    def connect(self, autocommit: bool = True, purpose: str = "kb"):
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10,
                                   application_name=f"{purpose} (pid {os.getpid()} on {socket.gethostname()})"[:63])
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to the index database {shown_url(self.url)}: {_first_line(exc)}; "
                                   "check [store] url in kb.toml or KB_DATABASE_URL") from None

    @contextlib.contextmanager
    def borrow(self, vectors: bool = False, probes: Optional[int] = None) -> Iterator:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self.connect()
        try:
            if vectors and not getattr(conn, "kb_vectors", False):
                _register_vectors(conn)
                conn.execute("SET ivfflat.iterative_scan = relaxed_order")  # a filter probes more lists until met
                conn.execute(f"SET work_mem = '{SEARCH_WORK_MEM}'")
                conn.kb_vectors = True
            if vectors and probes and getattr(conn, "kb_probes", None) != probes:
                conn.execute(f"SET ivfflat.probes = {int(probes)}")
                conn.kb_probes = probes
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise StoreUnavailable(f"the index database {shown_url(self.url)} failed: {_first_line(exc)}") from None
        finally:
            if not conn.closed:
                with self._lock:
                    if len(self._idle) < KEPT_CONNECTIONS:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _register_vectors(conn) -> None:
    from pgvector.psycopg import register_vector

    register_vector(conn)


# -- reading ---------------------------------------------------------------------------------
class PostgresReader:
    """One committed generation, read through the store's connections. Safe to share between threads."""

    def __init__(self, db: Connections, name: str, manifest: IndexManifest):
        self.db = db
        self._name = name
        self.manifest = manifest
        self.schema = _schema(name)
        self.vectors = _vectors_table(manifest.dim)
        self._distance = _distance(manifest.dim, manifest.faiss_params.get("storage"))
        self._analyzer = None
        self._scopes: dict[PassageFilter, tuple[str, int]] = {}
        self._known: dict[tuple[str, ...], frozenset[str]] = {}  # the question terms the postings hold
        self._known_lock = threading.Lock()  # the BM25 search runs on a thread of its own (retrieve.candidates)
        self._prewarmed = False

    @property
    def name(self) -> str:
        return self._name

    def _query(self, sql: str, args=(), vectors: bool = False) -> list[tuple]:
        with self.db.borrow(vectors=vectors, probes=self.manifest.faiss_params.get("probes")) as conn:
            try:
                return conn.execute(sql.replace("{s}", self.schema), args, binary=True).fetchall()
            except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
                raise IndexCorrupt(f"index generation {self._name} was removed while it was read "
                                   "(two builds finished during one search); search again") from None

    @property
    def analyzer(self):
        if self._analyzer is None:
            from kb.lexical import LexicalIndex

            (data,), = self._query("SELECT data FROM {s}.lexicon")
            self._analyzer = LexicalIndex.for_queries(data)
        return self._analyzer

    # -- filters: the rows of the selected documents, as ranges the database computes --------
    def _scope(self, scope: PassageFilter) -> tuple[str, int]:
        """(int4multirange of the rows in scope, how many) for a filter."""
        if scope not in self._scopes:
            clauses, args = ["passages > 0"], []
            for column, value in (("language", scope.language), ("kind", scope.kind)):
                if value:
                    clauses.append(f"{column} = %s")
                    args.append(value)
            if scope.doc_ids:
                clauses.append("doc_id = ANY(%s)")
                args.append(list(scope.doc_ids))
            (ranges, rows), = self._query(
                "SELECT coalesce(range_agg(int4range(first_row, last_row + 1))::text, '{}'), coalesce(sum(passages), 0)::int8 "
                f"FROM {{s}}.documents WHERE {' AND '.join(clauses)}", args)
            if len(self._scopes) >= FILTER_CACHE:
                self._scopes.pop(next(iter(self._scopes)))
            self._scopes[scope] = (ranges, int(rows))
        return self._scopes[scope]

    def count(self, scope: Optional[PassageFilter] = None) -> int:
        return self.manifest.chunks if scope is None else self._scope(scope)[1]

    # -- dense -------------------------------------------------------------------------------
    concurrent_retrievers = True  # both searches run in the server: a hybrid question sends them at once

    def prepare_dense(self) -> None:
        """The IVF index into the server's shared buffers, once per generation read: pgvector reads
        an IVF index through a small ring of buffers, so searches alone never keep it there and each
        copied its lists from the OS cache again (at 1M vectors, p50 44 ms resident against 60-66 ms;
        20 ms when it is resident already). Needs pg_prewarm, which kb adds where the role may;
        without it searches work as before."""
        if self._prewarmed or self.manifest.faiss_index != "pgvector-ivf":
            return
        self._prewarmed = True
        with self.db.borrow() as conn:
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'").fetchone():
                with contextlib.suppress(pg_errors.InsufficientPrivilege):
                    conn.execute("SELECT pg_prewarm(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                 "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = to_regclass(%s) AND a.amname = 'ivfflat'",
                                 (self.vectors,))

    def dense_candidates(self, query: np.ndarray, views: int, scope: Optional[PassageFilter]) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32)
        ranges, share = None, 1.0
        if scope is not None:
            ranges, rows = self._scope(scope)
            if rows == 0:
                return np.empty(0, dtype=np.int64)
            share = rows / max(self.manifest.chunks, 1)
            if rows * self.manifest.vectors / max(self.manifest.chunks, 1) <= EXACT_FILTER_LIMIT:
                return self._exact_in(ranges, query, views)
        # The cache may also hold vectors this generation does not use (another generation's,
        # or a build's in progress): fetch a few more nearest vectors than asked, keep this
        # generation's, and fetch more when too few of them remain.
        fetch = int(views / share * 1.25) + 16
        while True:
            (near, found), = self._query(
                f"WITH near AS (SELECT id, {self._distance} AS d FROM {self.vectors} ORDER BY {self._distance} LIMIT %(fetch)s), "
                "hits AS (SELECT v.row, near.d FROM near JOIN {s}.views v ON v.vec = near.id"
                + ("" if ranges is None else " WHERE v.row <@ %(ranges)s::int4multirange") +
                " ORDER BY near.d, v.row LIMIT %(views)s) "
                "SELECT (SELECT count(*) FROM near), coalesce((SELECT array_agg(row) FROM hits), '{}')",
                {"q": query, "fetch": fetch, "views": views, "ranges": ranges}, vectors=True)
            if len(found) >= views or near < fetch:  # enough, or every vector seen
                break
            fetch *= 2
        if len(found) < views and ranges is not None and self.manifest.faiss_index == "pgvector-ivf":
            return self._exact_in(ranges, query, views)  # the probes ran out before the filter was met
        return distinct_rows(np.asarray(found, dtype=np.int64))

    def _exact_in(self, ranges: str, query: np.ndarray, views: int) -> np.ndarray:
        """The `views` nearest vectors of the rows in `ranges`, scored exactly."""
        found = self._query(
            "SELECT v.row FROM unnest(%(ranges)s::int4multirange) r "
            "JOIN {s}.views v ON v.row >= lower(r) AND v.row < upper(r) "
            f"JOIN {self.vectors} e ON e.id = v.vec ORDER BY e.embedding <#> %(q)b, v.row LIMIT %(views)s",
            {"ranges": ranges, "q": query, "views": views}, vectors=True)
        return distinct_rows(np.asarray([r[0] for r in found], dtype=np.int64))

    def dense_scores(self, rows: np.ndarray, query: np.ndarray) -> list[np.ndarray]:
        """The stored float32 vectors times the query, as one product in the order of `rows` (the
        same arithmetic as the local store, so the scores agree to the last bit). The vectors come
        as one blob of vector_send records (decoding 400 vectors one by one took 5 ms)."""
        if not len(rows):
            return []
        wanted = np.asarray(rows, dtype=np.int64)
        (found, blob), = self._query(
            f"SELECT array_send(array_agg(v.row ORDER BY v.row, v.view)), string_agg(vector_send(e.embedding), ''::bytea ORDER BY v.row, v.view) "
            f"FROM {{s}}.views v JOIN {self.vectors} e ON e.id = v.vec WHERE v.row = ANY(%s)", (wanted.tolist(),), vectors=True)
        found = _array_values(found or b"", ">i4")
        record = np.dtype([("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (self.manifest.dim,))])
        vectors = np.frombuffer(blob or b"", dtype=record)["values"].astype(np.float32)
        starts, ends = np.searchsorted(found, wanted, side="left"), np.searchsorted(found, wanted, side="right")
        missing = wanted[starts == ends]
        if len(missing):
            raise IndexCorrupt(f"index generation {self._name} has no vectors for passage rows {missing[:3].tolist()}; run `kb index --rebuild`")
        matrix = vectors[np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])]
        scores = matrix @ np.asarray(query, dtype=np.float32)
        return np.split(scores, np.cumsum(ends - starts)[:-1])

    # -- lexical -----------------------------------------------------------------------------
    def lexical_scores(self, terms, scope: Optional[PassageFilter]) -> LexicalScores:
        """BM25: the sum of the query terms' stored weights per row. The postings come as they are
        stored and are summed here as the local store sums them (the same order, in double
        precision, rounded to float32): the database only looks the terms up (at 1M passages,
        summing a frequent term's postings in SQL took 40-140 ms)."""
        wanted = sorted(terms.all_terms)
        ranges = None if scope is None else self._scope(scope)[0]
        if not wanted or ranges == "{}":
            return LexicalScores(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        found = self._query('SELECT term, array_send(rows), array_send(weights) FROM {s}.postings '
                            'WHERE term = ANY(%s) ORDER BY term COLLATE "C"', (wanted,))  # code point order, as sorted()
        self._remember_known(tuple(wanted), frozenset(t for t, _, _ in found))
        from kb.lexical import summed_postings

        postings = [(_array_values(r, ">i4").astype(np.int64), _array_values(w, ">f4").astype(np.float32)) for _, r, w in found]
        scores = summed_postings(postings, self.manifest.chunks)
        keep = scores > 0
        if ranges is not None:
            keep &= _rows_in(ranges, len(scores))
        rows = np.flatnonzero(keep)
        return LexicalScores(rows, scores[rows])

    def lexical_coverage(self, terms) -> float:
        """From the terms the question's BM25 search found (a search asks for its coverage after its
        postings), or looked up."""
        from kb.lexical import coverage

        wanted = tuple(sorted(terms.all_terms))
        known = self._known.get(wanted)
        if known is None:
            known = frozenset(r[0] for r in self._query("SELECT term FROM {s}.postings WHERE term = ANY(%s)", (list(wanted),))) if wanted else frozenset()
            self._remember_known(wanted, known)
        return coverage(terms, known)

    def _remember_known(self, wanted: tuple[str, ...], known: frozenset[str]) -> None:
        with self._known_lock:
            if len(self._known) >= FILTER_CACHE:
                self._known.pop(next(iter(self._known)))
            self._known[wanted] = known

    # -- records -----------------------------------------------------------------------------
    def passages(self, rows: Sequence[int]) -> list[PassageRecord]:
        wanted = [int(r) for r in rows]
        if not wanted:
            return []
        found = {r[0]: _passage(r) for r in self._query(PASSAGE_SQL + " WHERE row = ANY(%s)", (wanted,))}
        return [found[r] for r in wanted]

    def passage_by_id(self, chunk_id: str) -> Optional[PassageRecord]:
        found = self._query(PASSAGE_SQL + " WHERE chunk_id = %s", (chunk_id,))
        return _passage(found[0]) if found else None

    def neighbours(self, passage: PassageRecord, context: int) -> list[PassageRecord]:
        doc_id, ordinal = passage.chunk.doc_id, passage.chunk.ordinal
        return [_passage(r) for r in self._query(
            PASSAGE_SQL + " WHERE doc_id = %s AND ordinal BETWEEN %s AND %s ORDER BY ordinal",
            (doc_id, ordinal - context, ordinal + context))]

    def document_passages(self, doc_ids: Sequence[str]) -> Iterator[PassageRecord]:
        ids = sorted(set(doc_ids))
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            for r in self._query(PASSAGE_SQL + ' WHERE doc_id = ANY(%s) ORDER BY doc_id COLLATE "C", ordinal', (part,)):
                yield _passage(r)

    def documents(self, doc_ids: Optional[Sequence[str]] = None) -> list[DocumentRecord]:
        order = ' ORDER BY doc_id COLLATE "C"'
        if doc_ids is None:
            return [DocumentRecord(*r) for r in self._query(DOCUMENT_SQL + order)]
        return [DocumentRecord(*r) for r in self._query(DOCUMENT_SQL + " WHERE doc_id = ANY(%s)" + order, (sorted(set(doc_ids)),))]

    def close(self) -> None:
        pass  # the connections belong to the store


def _passage(row: tuple) -> PassageRecord:
    """A record of a passages table row (our own data: not validated again)."""
    return PassageRecord(row[0], Chunk.model_construct(**dict(zip(CHUNK_FIELDS, row[1:]))))


# -- writing ---------------------------------------------------------------------------------
class PostgresEmbeddingCache:
    """Passage vectors by (encoder, text) key in kb.vectors_<dim>, committed batch by batch."""

    def __init__(self, db: Connections, dim: int):
        self.dim = int(dim)
        self.table = _vectors_table(dim)
        self.conn = db.connect(purpose="kb embedding cache")
        try:
            _ensure_base(self.conn, db.url)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                              f"key text NOT NULL UNIQUE, embedding vector({self.dim}) NOT NULL)")
            _register_vectors(self.conn)
        except BaseException:
            self.conn.close()
            raise

    def keys(self) -> list[str]:
        return [r[0] for r in self.conn.execute(f"SELECT key FROM {self.table}")]

    def missing(self, keys: Sequence[str]) -> list[str]:
        unique = list(dict.fromkeys(keys))
        absent: set[str] = set()
        for start in range(0, len(unique), BATCH):
            part = unique[start : start + BATCH]
            absent.update(r[0] for r in self.conn.execute(
                f"SELECT k FROM unnest(%s::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM {self.table} v WHERE v.key = k)", (part,)))
        return [k for k in unique if k in absent]

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors of {vectors.shape[-1]} dimensions for a cache of {self.dim}")
        with self.conn.transaction():
            self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS kb_put (key text, embedding vector({self.dim})) ON COMMIT DELETE ROWS")
            with self.conn.cursor().copy("COPY kb_put (key, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "vector"])
                for key, vector in zip(keys, vectors):
                    copy.write_row((key, vector))
            self.conn.execute(f"INSERT INTO {self.table} (key, embedding) SELECT DISTINCT ON (key) key, embedding FROM kb_put "
                              "ON CONFLICT (key) DO NOTHING")

    def get(self, keys: Sequence[str]) -> np.ndarray:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        position = key_positions(keys)
        unique = list(position)
        for start in range(0, len(unique), BATCH):
            part = unique[start : start + BATCH]
            for key, vector in self.conn.execute(f"SELECT key, embedding FROM {self.table} WHERE key = ANY(%s)", (part,), binary=True):
                out[position.pop(key)] = vector.to_numpy()
        if position:
            raise DamagedVectors(list(position), f"{len(position)} vectors were missing from the embedding cache and were computed again")
        return out

    def retain(self, keys: Sequence[str]) -> None:
        """Forget vectors that neither these keys nor a generation kept for readers use."""
        with self.conn.transaction():
            kept = [_schema(name) for (name,) in self.conn.execute(
                "SELECT name FROM kb.generations WHERE (manifest->>'dim')::int = %s", (self.dim,))]
            self.conn.execute("CREATE TEMP TABLE kb_keep (key text PRIMARY KEY) ON COMMIT DROP")
            with self.conn.cursor().copy("COPY kb_keep (key) FROM STDIN") as copy:
                for key in dict.fromkeys(keys):
                    copy.write_row((key,))
            used = "".join(f" AND NOT EXISTS (SELECT 1 FROM {s}.views w WHERE w.vec = v.id)" for s in kept)
            self.conn.execute(f"DELETE FROM {self.table} v WHERE NOT EXISTS (SELECT 1 FROM kb_keep k WHERE k.key = v.key){used}")

    def close(self) -> None:
        self.conn.close()


def _refusals(method):
    """A database error while writing a generation as one line (the server rolls the build back)."""
    @functools.wraps(method)
    def write(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"the index database {shown_url(self.db.url)} refused the build: {_first_line(exc)}") from None

    return write


class PostgresGenerationWriter:
    """A generation written into its own schema in one transaction; commit switches kb.state in it."""

    def __init__(self, db: Connections, number: int):
        self.db = db
        self._name = f"gen-{number:06d}"
        self.schema = _schema(self._name)
        self.conn = db.connect(autocommit=False, purpose="kb index")
        _register_vectors(self.conn)
        self.conn.execute(f"CREATE SCHEMA {self.schema}")
        self.conn.execute(GENERATION_TABLES.replace("{s}", self.schema))
        self._index: Optional[str] = None  # the approximate index searches use, if any

    @property
    def name(self) -> str:
        return self._name

    @_refusals
    def write_passages(self, documents: Sequence[DocumentRecord], passages: Sequence[Chunk]) -> None:
        spans: dict[str, list[int]] = {}
        for row, passage in enumerate(passages):
            spans.setdefault(passage.doc_id, [row, row])[1] = row
        with self.conn.cursor().copy(f"COPY {self.schema}.documents FROM STDIN") as copy:
            for d in documents:
                first, last = spans.get(d.doc_id, (None, None))
                copy.write_row((*(getattr(d, c) for c in DOCUMENT_COLUMNS), first, last, 0 if first is None else last - first + 1))
        with self.conn.cursor().copy(f"COPY {self.schema}.passages (row, {', '.join(CHUNK_FIELDS)}) FROM STDIN") as copy:
            for row, p in enumerate(passages):
                copy.write_row((row, *(getattr(p, c) for c in CHUNK_FIELDS)))
        s = self.schema
        self.conn.execute(f"ALTER TABLE {s}.passages ADD PRIMARY KEY (row)")
        self.conn.execute(f"CREATE UNIQUE INDEX ON {s}.passages (chunk_id)")
        self.conn.execute(f"CREATE INDEX ON {s}.passages (doc_id, ordinal)")

    @_refusals
    def write_vectors(self, views: np.ndarray, keys: Sequence[str], cache) -> tuple[str, dict]:
        """The views point at the cache's vectors (nothing is copied); an IVF index over the
        cache is built once the collection passes IVF_MIN vectors, and trained again when it has
        grown IVF_REBUILD_GROWTH times since."""
        views = np.asarray(views, dtype=np.int64)
        starts = np.r_[0, np.flatnonzero(views[1:] != views[:-1]) + 1] if len(views) else np.empty(0, dtype=np.int64)
        ordinal = np.arange(len(views)) - np.repeat(starts, np.diff(np.r_[starts, len(views)]))
        s, table = self.schema, _vectors_table(cache.dim)
        self.conn.execute("CREATE TEMP TABLE kb_view_keys (row int4, view int2, key text) ON COMMIT DROP")
        with self.conn.cursor().copy("COPY kb_view_keys FROM STDIN") as copy:
            for row, view, key in zip(views.tolist(), ordinal.tolist(), keys):
                copy.write_row((row, view, key))
        self.conn.execute(f"CREATE TABLE {s}.views (row int4 NOT NULL, view int2 NOT NULL, vec int8 NOT NULL)")
        written = self.conn.execute(f"INSERT INTO {s}.views SELECT k.row, k.view, e.id FROM kb_view_keys k "
                                    f"JOIN {table} e ON e.key = k.key ORDER BY k.row, k.view").rowcount
        if written != len(keys):
            lost = [r[0] for r in self.conn.execute(
                f"SELECT DISTINCT k.key FROM kb_view_keys k WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE e.key = k.key)")]
            raise DamagedVectors(lost, f"{len(lost)} vectors of this build were missing from the embedding cache and were computed again")
        self.conn.execute(f"ALTER TABLE {s}.views ADD PRIMARY KEY (row, view)")
        self.conn.execute(f"CREATE INDEX ON {s}.views (vec)")
        if len(keys) <= IVF_MIN:
            return "pgvector-exact", {}
        return "pgvector-ivf", {"lists": self._ivf_index(table, cache.dim), "probes": IVF_NPROBE, "storage": IVF_STORAGE}

    def _ivf_index(self, table: str, dim: int) -> int:
        """The IVF index over the cache, built beside the one in use (readers go on) when the cache
        outgrew it or the index stores the vectors otherwise than IVF_STORAGE (one from an older
        kb); its lists. The one it replaces is dropped after the commit."""
        (cached,), = self.conn.execute(f"SELECT count(*) FROM {table}")
        wanted = ivf_lists(cached, most=IVF_MAX_LISTS)
        for name, lists, storage in _approximate_indexes(self.conn, table):
            if storage == IVF_STORAGE and wanted < lists * IVF_REBUILD_GROWTH ** 0.5:
                self._index = name
                return lists
        # pgvector trains the lists on 50 sampled vectors per list, keeping a bound per sample and list
        samples = min(cached, max(10_000, 50 * wanted))
        memory_mb = max(64, int((samples * (wanted + dim + 16) * 4 + wanted * wanted * 4) / 2**20 * 1.2))
        self.conn.execute(f"SET LOCAL maintenance_work_mem = '{memory_mb}MB'")
        self._index = f"{table.split('.')[1]}_ivf_{IVF_STORAGE}_{wanted}"
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {self._index} ON {table} "
                          f"USING ivfflat ((embedding::halfvec({int(dim)})) halfvec_ip_ops) WITH (lists = {wanted})")
        return wanted

    @_refusals
    def write_lexical(self, lexical) -> None:
        s = self.schema
        self.conn.execute(f"CREATE TABLE {s}.postings (term text NOT NULL, rows int4[] NOT NULL, weights float4[] NOT NULL)")
        with self.conn.cursor().copy(f"COPY {s}.postings FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4[]", "float4[]"])
            for term, rows, weights in lexical.postings():
                copy.write_row((term, rows.tolist(), weights.tolist()))
        self.conn.execute(f"ALTER TABLE {s}.postings ADD PRIMARY KEY (term)")
        self.conn.execute(f"CREATE TABLE {s}.lexicon (data jsonb NOT NULL)")
        self.conn.execute(f"INSERT INTO {s}.lexicon VALUES (%s)", (Jsonb(lexical.query_data()),))

    @_refusals
    def commit(self, manifest: IndexManifest) -> str:
        manifest = manifest.model_copy(update={"format_version": FORMAT_VERSION, "generation": self._name})
        s = self.schema
        for table in ("documents", "passages", "views", "postings"):
            self.conn.execute(f"ANALYZE {s}.{table}")
        self.conn.execute("INSERT INTO kb.generations (name, manifest) VALUES (%s, %s)", (self._name, Jsonb(manifest.model_dump())))
        self.conn.execute("INSERT INTO kb.state (id, live) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET live = EXCLUDED.live", (self._name,))
        fault_point("before-current")
        self.conn.commit()
        self.conn.close()
        fault_point("after-current")
        _prune(self.db, self._name, _vectors_table(manifest.dim), keep_index=self._index)
        return self._name

    def abort(self) -> None:
        self.conn.close()  # the server rolls the transaction back


def _prune(db: Connections, live: str, table: str, keep_index: Optional[str]) -> None:
    """Drop generations older than the one before the live one, and the approximate indexes over
    the cache other than the live generation's (one replaced, or a collection that shrank below
    IVF_MIN). A reader still on a generation holds it: then it stays until the next build."""
    conn = db.connect(purpose="kb index")
    try:
        conn.execute(f"SET lock_timeout = '{PRUNE_LOCK_TIMEOUT}'")
        kept = [r[0] for r in conn.execute("SELECT name FROM kb.generations WHERE name <= %s ORDER BY name DESC LIMIT 2", (live,))]
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCHEMA_PREFIX + "%",))]
        for schema in sorted(set(schemas) - {_schema(name) for name in kept}):
            try:
                with conn.transaction():
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
                    conn.execute("DELETE FROM kb.generations WHERE name = %s", ("gen-" + schema.removeprefix(SCHEMA_PREFIX),))
            except pg_errors.LockNotAvailable:
                pass
        for name, _, _ in _approximate_indexes(conn, table):
            if name != keep_index:
                with contextlib.suppress(pg_errors.LockNotAvailable):
                    conn.execute(f"DROP INDEX IF EXISTS kb.{name}")
    finally:
        conn.close()


def _approximate_indexes(conn, table: str) -> list[tuple[str, Optional[int], Optional[str]]]:
    """The IVF (and any HNSW) indexes over a vectors table: (name, lists, the type it stores the
    vectors as: "halfvec" or "vector"); lists and type are None for HNSW."""
    found = conn.execute(
        "SELECT c.relname, a.amname, c.reloptions, o.opcname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam JOIN pg_opclass o ON o.oid = i.indclass[0] "
        "WHERE i.indrelid = to_regclass(%s) AND a.amname IN ('ivfflat', 'hnsw') ORDER BY c.relname",
        (table,)).fetchall()
    return [(name, int(dict(o.split("=", 1) for o in options or ())["lists"]), opclass.removesuffix("_ip_ops"))
            if method == "ivfflat" else (name, None, None) for name, method, options, opclass in found]


def _ensure_base(conn, url: str) -> None:
    """The pgvector extension and the kb schema's tables (created by the first writer)."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except pg_errors.InsufficientPrivilege:
        database = conn.info.dbname
        raise StoreUnavailable(f"the index database {shown_url(url)} has no pgvector extension and this role may not add it: "
                               f"ask its administrator to run CREATE EXTENSION vector in database {database}") from None
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_PGVECTOR:
        raise StoreUnavailable(f"the index database has pgvector {version}; kb needs {'.'.join(map(str, MIN_PGVECTOR))} or later "
                               "(ALTER EXTENSION vector UPDATE after installing it)")
    with contextlib.suppress(pg_errors.InsufficientPrivilege, pg_errors.UndefinedFile, pg_errors.FeatureNotSupported):
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")  # optional: keeps the IVF index in memory (prepare_dense)
    conn.execute(BASE_SCHEMA)


class PostgresWriter:
    """The one writer, while its session holds the advisory lock."""

    def __init__(self, store: "PostgresStore"):
        self.store = store
        self.repairs: list[str] = []  # nothing to replace: PostgreSQL keeps its own pages sound

    def live(self) -> Optional[PostgresReader]:
        return None if self.store.live_name() is None else self.store.open_reader()

    def embedding_cache(self, dim: int) -> PostgresEmbeddingCache:
        return PostgresEmbeddingCache(self.store.db, dim)

    def new_generation(self) -> PostgresGenerationWriter:
        with self.store.db.borrow() as conn:
            number = conn.execute("SELECT nextval('kb.generation_numbers')").fetchone()[0]
        return PostgresGenerationWriter(self.store.db, number)


class PostgresStore:
    """A knowledge base's index in one PostgreSQL database."""

    def __init__(self, url: str):
        self.url = url
        self.db = Connections(url)

    def __repr__(self) -> str:
        return f"PostgresStore({shown_url(self.url)})"

    def live_name(self) -> Optional[str]:
        """One indexed single-row read on a kept connection: cheap enough before every search."""
        with self.db.borrow() as conn:
            try:
                row = conn.execute("SELECT live FROM kb.state").fetchone()
            except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
                return None
        return row[0] if row else None

    def open_reader(self) -> PostgresReader:
        with self.db.borrow() as conn:
            try:
                row = conn.execute("SELECT g.name, g.manifest FROM kb.state s JOIN kb.generations g ON g.name = s.live").fetchone()
            except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
                row = None
        if row is None:
            raise IndexMissing(f"the index database {shown_url(self.url)} holds no index yet: run `kb index`")
        name, raw = row
        if raw.get("format_version") != FORMAT_VERSION:
            raise IndexOutdated(f"the index was written by another version of kb (format {raw.get('format_version')}); run `kb index`")
        try:
            manifest = IndexManifest.model_validate(raw)
        except Exception as exc:
            raise IndexCorrupt(f"the manifest of index generation {name} is invalid ({exc.__class__.__name__}); run `kb index --rebuild`") from None
        return PostgresReader(self.db, name, manifest)

    @contextlib.contextmanager
    def writer(self) -> Iterator[PostgresWriter]:
        conn = self.db.connect(purpose="kb index")
        try:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    holder = conn.execute(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted "
                        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                        (WRITER_LOCK,)).fetchone()
                    raise IndexBusy(f"the index is being written by {holder[0] if holder and holder[0] else 'another process'}; "
                                    "wait for it to finish and run `kb index` again")
                time.sleep(0.1)
            _ensure_base(conn, self.url)
            yield PostgresWriter(self)
        finally:
            conn.close()  # ends the session: the lock goes with it

    def embedding_cache(self, dim: int) -> PostgresEmbeddingCache:
        return PostgresEmbeddingCache(self.db, dim)

    def verify(self) -> list[Damage]:
        """The live generation's tables hold what its manifest counts (PostgreSQL checksums its
        own pages; what can go missing here is a table or its rows)."""
        try:
            reader = self.open_reader()
        except IndexOutdated:
            return []  # not damage: `kb index` rewrites it in this version's format
        except IndexCorrupt as exc:
            return [Damage("kb.generations", str(exc).split("; ")[0])]
        manifest, schema = reader.manifest, reader.schema
        expected = {"documents": manifest.documents, "passages": manifest.chunks, "views": manifest.vectors}
        found: list[Damage] = []
        with self.db.borrow() as conn:
            for table, count in expected.items():
                try:
                    rows = conn.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
                except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
                    found.append(Damage(f"{schema}.{table}", "missing"))
                    continue
                if rows != count:
                    found.append(Damage(f"{schema}.{table}", f"{rows} rows where {count} were written"))
        return found

    def close(self) -> None:
        self.db.close()
