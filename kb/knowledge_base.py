"""The library entry point: open a knowledge base, search it, read passages, report status."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from kb.config import KBConfig, KBPaths, find_root, load_config
from kb.errors import KBError, ModelMismatch, UsageError
from kb.models import LANGUAGES, Hit, IndexManifest, SearchMode, SearchResult
from kb.store import Generation, IndexStore

if TYPE_CHECKING:
    from concurrent.futures import Future

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 200
HIT_SQL = """
SELECT c.row, c.chunk_id, c.doc_id, c.section, c.text, c.line_start, c.line_end,
       c.page_start, c.page_end, d.title, d.language, d.kind, d.path
FROM chunks c JOIN documents d ON d.doc_id = c.doc_id
"""


def format_citation(path: str, line_start: int, line_end: int, page_start: Optional[int], page_end: Optional[int], section: str) -> str:
    """Where a passage is: lines of a text file, pages of a PDF, the section of a converted file."""
    if page_start:
        pages = f"p. {page_start}" if page_start == page_end or not page_end else f"pp. {page_start}-{page_end}"
        return f"{path}, {pages}"
    if path.endswith((".txt", ".md")):
        lines = f"{line_start}" if line_start == line_end else f"{line_start}-{line_end}"
        return f"{path}:{lines}"
    return f"{path}, section \"{section}\"" if section else path


def validate_query(query: str) -> str:
    text = (query or "").strip()
    if not text:
        raise UsageError("the query is empty: ask a question, e.g. kb search \"how do we build trust\"")
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(f"the query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}")
    return text


class KnowledgeBase:
    """A corpus folder and its index. Opening is cheap; the index and encoder load on first use."""

    def __init__(self, paths: KBPaths, config: KBConfig):
        self.paths = paths
        self.config = config
        self.store = IndexStore(paths.index)
        self._generation: Generation | None = None
        self._embedder = None
        self._loading: Future | None = None  # the encoder, while it loads in the background

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> "KnowledgeBase":
        paths = find_root(path)
        return cls(paths, load_config(paths))

    # -- index access ------------------------------------------------------------------
    @property
    def generation(self) -> Generation:
        """The live generation; a newer one is picked up between calls. The one it replaces is
        not closed here: a search still running on it finishes on it (SQLite closes on release)."""
        if self._generation is None or self._generation.folder.name != self.store.current_name():
            self._generation = self.store.open_current()
        return self._generation

    @property
    def manifest(self) -> IndexManifest:
        return self.generation.manifest

    def _check_encoder(self) -> None:
        manifest, spec = self.manifest, self.config.embedder
        if (manifest.backend, manifest.model) != (spec.backend, spec.model):
            raise ModelMismatch(
                f"the index was built with {manifest.backend}:{manifest.model} but kb.toml selects "
                f"{spec.backend}:{spec.model}; run `kb index --rebuild` to re-embed the corpus"
            )

    def warm_up(self) -> None:
        """Start loading the encoder in a background thread, for a caller that has idle time
        first (the shell's prompt). The first question waits for it, and so does the interpreter's
        exit. A one-shot search gains nothing: on two cores the thread only competes with the
        imports still to come."""
        if self._embedder is not None or self._loading is not None:
            return
        try:
            self._check_encoder()  # never load an encoder the index was not built with
        except KBError:
            return  # the search itself reports it
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-encoder")
        self._loading = pool.submit(self._load_encoder, warm=True)
        pool.shutdown(wait=False)  # the thread ends with the load

    def _load_encoder(self, warm: bool = False):
        from kb.embed import load_embedder

        embedder = load_embedder(self.config.embedder)
        if warm:
            embedder.embed_queries(["warm-up"])  # the first run starts the engine's threads
        return embedder

    @property
    def embedder(self):
        if self._embedder is None:
            self._check_encoder()
            embedder = self._loading.result() if self._loading else self._load_encoder()  # re-raises a load error
            self._loading = None
            if embedder.dim != self.manifest.dim or embedder.query_prefix != self.manifest.query_prefix:
                raise ModelMismatch(
                    f"the configured encoder ({embedder.dim} dimensions, query prefix {embedder.query_prefix!r}) "
                    f"differs from the index ({self.manifest.dim}, {self.manifest.query_prefix!r}); run `kb index --rebuild`"
                )
            self._embedder = embedder
        return self._embedder

    @property
    def analyzer_outdated(self) -> bool:
        """The index's terms come from another analyzer (stemming, glossary) than this kb's, so
        questions are analysed unlike the passages until `kb index` re-indexes them."""
        from kb.lexical import analyzer_version

        return self.manifest.analyzer_version != analyzer_version()

    @property
    def model_name(self) -> str:
        return f"{self.manifest.backend}:{self.manifest.model}"

    # -- search ------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        lang: Optional[str] = None,
        kind: Optional[str] = None,
        mode: SearchMode = "hybrid",
        doc_ids: Optional[Sequence[str]] = None,
    ) -> SearchResult:
        text = validate_query(query)
        if not 1 <= k <= MAX_TOP_K:
            raise UsageError(f"top-k must be between 1 and {MAX_TOP_K}, not {k}")
        if lang not in (None, "all", *LANGUAGES):
            raise UsageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)} or all")
        if mode not in ("hybrid", "dense", "lexical"):
            raise UsageError(f"unknown mode {mode!r}: use hybrid, dense or lexical")
        gen = self.generation
        if mode != "lexical":
            self._check_encoder()
        allowed = self._allowed_rows(gen, None if lang == "all" else lang, kind, doc_ids)
        if gen.manifest.chunks == 0 or (allowed is not None and len(allowed) == 0):
            return SearchResult(query=text, model=self.model_name, mode=mode, hits=[])

        from kb import retrieve

        ranked = retrieve.rank(self, gen, text, k, mode, allowed)
        return SearchResult(query=text, model=self.model_name, mode=mode, hits=self._hits(gen, ranked))

    def _allowed_rows(self, gen: Generation, lang, kind, doc_ids) -> np.ndarray | None:
        clauses, args = [], []
        if lang:
            clauses.append("d.language = ?")
            args.append(lang)
        if kind:
            clauses.append("d.kind = ?")
            args.append(kind)
        if doc_ids:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})")
            args.extend(doc_ids)
        if not clauses:
            return None
        rows = gen.db.execute(
            f"SELECT c.row FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {' AND '.join(clauses)}", args
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def _hits(self, gen: Generation, ranked: list[tuple[int, float, Optional[float], Optional[float]]]) -> list[Hit]:
        if not ranked:
            return []
        rows = {r[0]: r for r in gen.db.execute(f"{HIT_SQL} WHERE c.row IN ({','.join('?' * len(ranked))})", [r[0] for r in ranked])}
        hits = []
        for rank, (row, score, dense_score, lexical_score) in enumerate(ranked, start=1):
            (_, chunk_id, doc_id, section, text, l0, l1, p0, p1, title, language, kind, path) = rows[row]
            hits.append(Hit(
                rank=rank, score=round(float(score), 4), chunk_id=chunk_id, doc_id=doc_id, title=title,
                language=language, kind=kind, section=section,
                citation=format_citation(path, l0, l1, p0, p1, section), text=text, path=path,
                line_start=l0, line_end=l1, page_start=p0, page_end=p1,
                dense_score=None if dense_score is None else round(float(dense_score), 4),
                lexical_score=None if lexical_score is None else round(float(lexical_score), 4),
            ))
        return hits

    def highlighter(self, query: str):
        """A function giving the spans of a hit's text that match `query` (stemmed, glossary)."""
        lexical = self.generation.lexical
        terms = lexical.terms(query)
        return lambda hit: lexical.matching_spans(hit.text, hit.language, terms)

    # -- passages ----------------------------------------------------------------------
    def passage(self, chunk_id: str, context: int = 1) -> tuple[Hit, list[Hit], list[Hit]]:
        """A passage with up to `context` neighbours before and after it in its document."""
        gen = self.generation
        row = gen.db.execute("SELECT row, doc_id, ordinal FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
        if row is None:
            raise UsageError(f"no passage {chunk_id!r}: use a chunk_id from `kb search` output")
        _, doc_id, ordinal = row
        neighbours = gen.db.execute(
            "SELECT row, ordinal FROM chunks WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
            (doc_id, ordinal - context, ordinal + context),
        ).fetchall()
        hits = self._hits(gen, [(r, 0.0, None, None) for r, _ in neighbours])
        for hit in hits:
            hit.score = 0.0
        before = [h for h, (_, o) in zip(hits, neighbours) if o < ordinal]
        after = [h for h, (_, o) in zip(hits, neighbours) if o > ordinal]
        this = next(h for h, (_, o) in zip(hits, neighbours) if o == ordinal)
        return this, before, after

    def documents(self) -> list[dict]:
        gen = self.generation
        rows = gen.db.execute(
            "SELECT d.doc_id, d.title, d.language, d.kind, d.path, d.meta_json, count(c.row) "
            "FROM documents d LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.doc_id ORDER BY d.doc_id"
        ).fetchall()
        keys = ("doc_id", "title", "language", "kind", "path", "meta_json", "chunks")
        return [dict(zip(keys, r)) for r in rows]

    def index_age_seconds(self) -> float:
        return time.time() - (self.generation.folder / "manifest.json").stat().st_mtime

    def close(self) -> None:
        if self._generation is not None:
            self._generation.close()
            self._generation = None
