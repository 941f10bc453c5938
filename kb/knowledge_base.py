"""The library entry point: open a knowledge base, search it, read passages, report status."""

from __future__ import annotations

import copy
import os
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Optional, Sequence

import kb.retrieve as retrieve
from kb.config import KBConfig, KBPaths, find_root, load_config
from kb.citation import citation
from kb.confidence import QuerySignal, confidences
from kb.errors import KBError, ModelMismatch, PassageNotFound, UsageError
from kb.models import Chunk, Hit, IndexManifest, SearchResult
from kb.store import DocumentRecord, IndexReader, PassageFilter, open_store
from kb.store.base import fault_point
from kb.vocabulary import KINDS, LANGUAGE_FILTERS, MAX_QUERY_CHARS, MAX_TOP_K, MODES, SearchMode

if TYPE_CHECKING:
    from concurrent.futures import Future

    import numpy as np

_SURROGATE = re.compile("[\ud800-\udfff]")


def validate_query(query: str) -> str:
    # a lone surrogate (from a broken terminal or client) cannot be written out as UTF-8
    text = _SURROGATE.sub("\ufffd", query or "").strip()
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
        self.store = open_store(paths, config)
        self._generation: IndexReader | None = None
        self._embedder = None
        self._loading: Future | None = None  # the encoder, while it loads in the background
        self._pinned = False  # a snapshot: keeps its generation when a newer one is committed

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> "KnowledgeBase":
        paths = find_root(path)
        return cls(paths, load_config(paths))

    # -- index access ------------------------------------------------------------------
    @property
    def generation(self) -> IndexReader:
        """The live generation; a newer one is picked up between calls. The one it replaces is
        not closed here: a search still running on it finishes on it (its files close on release)."""
        if self._pinned:
            return self._generation
        if self._generation is None or self._generation.name != self.store.live_name():
            self._generation = self.store.open_reader()
        return self._generation

    def snapshot(self) -> "KnowledgeBase":
        """This knowledge base held at its live generation: every call on the snapshot answers
        from that one index, even when `kb index` commits a newer one meanwhile. For work that
        makes several calls (a handout, a status report, a server request) and must not mix two
        indexes. Shares the encoder and the loaded index with this object."""
        view = copy.copy(self)
        view._generation = self.generation
        view._pinned = True
        return view

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

        return self.manifest.analyzer_version != analyzer_version(self.config.glossary)

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
        vector: Optional["np.ndarray"] = None,
    ) -> SearchResult:
        """`vector`: the question already embedded by `query_vectors`, for a caller that embeds
        several questions in one encoder call (the server); embedded here when None."""
        text = validate_query(query)
        fault_point("search")
        if not 1 <= k <= MAX_TOP_K:
            raise UsageError(f"top-k must be between 1 and {MAX_TOP_K}, not {k}")
        if lang not in (None, *LANGUAGE_FILTERS):
            raise UsageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGE_FILTERS)}")
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if kind is not None and kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        gen = self.generation
        if doc_ids:
            _check_documents(gen, doc_ids)
        if mode != "lexical":
            self._check_encoder()
        scope = PassageFilter.of(None if lang == "all" else lang, kind, doc_ids)
        if gen.manifest.chunks == 0 or (scope is not None and gen.count(scope) == 0):
            return SearchResult(query=text, model=self.model_name, mode=mode, hits=[])
        embedded = self.query_vector if vector is None else lambda _text: vector
        ranked = retrieve.rank(gen, text, k, mode, scope, self.config.search, embedded)
        hits = self._hits(gen, ranked)
        terms = gen.analyzer.terms(text)
        signal = QuerySignal(content_words=len(terms.words), coverage=gen.lexical_coverage(terms))
        for hit, sure in zip(hits, confidences(signal, [(d, lex) for _, _, d, lex in ranked], self.model_name)):
            hit.confidence = sure
        return SearchResult(query=text, model=self.model_name, mode=mode, hits=hits,
                            confidence=max((hit.confidence for hit in hits), default=0.0))

    def query_vector(self, query: str) -> "np.ndarray":
        """The question embedded by the encoder the index was built with."""
        return self.query_vectors([query])[0]

    def query_vectors(self, queries: Sequence[str]) -> "np.ndarray":
        """The questions embedded in one encoder call, a row each. The encoder's cost is nearly all
        of a search's, and it spreads one call over every core: several questions in one call use
        the cores better than one after another (see kb_server/engine.py)."""
        texts = [validate_query(query) for query in queries]
        self._check_encoder()
        return self.embedder.embed_queries(texts)

    def _hits(self, gen: IndexReader, ranked: retrieve.Ranked) -> list[Hit]:
        passages = [p.chunk for p in gen.passages([row for row, *_ in ranked])]
        documents = {d.doc_id: d for d in gen.documents(list({p.doc_id for p in passages}))}
        return [
            _hit(rank, passage, documents[passage.doc_id], score, dense_score, lexical_score)
            for rank, (passage, (_, score, dense_score, lexical_score)) in enumerate(zip(passages, ranked), start=1)
        ]

    def highlighter(self, query: str):
        """A function giving the spans of a hit's text that match `query` (stemmed, glossary)."""
        analyzer = self.generation.analyzer
        terms = analyzer.terms(query)
        return lambda hit: analyzer.matching_spans(hit.text, hit.language, terms)

    def search_answer(self, query: str, **filters) -> dict:
        """A search (filters as `search` takes them) as the data `GET /v1/search?details=true`
        answers: the JSON contract, each result's matching spans, whether the analyzer is outdated.
        `kb search` renders this form, so a server's answer prints exactly as a local one."""
        result = self.search(query, **filters)
        spans = self.highlighter(result.query)
        return {**result.contract(), "highlights": [[list(span) for span in spans(hit)] for hit in result.hits],
                "analyzer_outdated": self.analyzer_outdated}

    # -- passages ----------------------------------------------------------------------
    def passage(self, chunk_id: str, context: int = 1) -> tuple[Hit, list[Hit], list[Hit]]:
        """A passage with up to `context` neighbours before and after it in its document."""
        gen = self.generation
        this = gen.passage_by_id(chunk_id)
        if this is None:
            raise PassageNotFound(f"no passage {chunk_id!r}: use a chunk_id from `kb search` output")
        neighbours = gen.neighbours(this, context)
        ordinal = this.chunk.ordinal
        hits = dict(zip((p.chunk.ordinal for p in neighbours), self._hits(gen, [(p.row, 0.0, None, None) for p in neighbours])))
        before = [hit for at, hit in hits.items() if at < ordinal]
        after = [hit for at, hit in hits.items() if at > ordinal]
        return hits[ordinal], before, after

    def passage_answer(self, chunk_id: str, context: int = 1) -> dict:
        """`passage` as the data `GET /v1/passages/{chunk_id}` answers, what `kb show` renders."""
        this, before, after = self.passage(chunk_id, context)
        return {"passage": this.model_dump(mode="json"), "before": [hit.model_dump(mode="json") for hit in before],
                "after": [hit.model_dump(mode="json") for hit in after]}

    def documents(self) -> list[dict]:
        keys = ("doc_id", "title", "language", "kind", "path", "meta_json")
        return [{**{key: getattr(d, key) for key in keys}, "chunks": d.passages} for d in self.generation.documents()]

    def index_age_seconds(self) -> float:
        built = datetime.strptime(self.manifest.created_at, "%Y-%m-%dT%H:%M:%S%z")
        return time.time() - built.timestamp()

    def close(self) -> None:
        if self._pinned:  # the generation belongs to the knowledge base the snapshot came from
            self._generation = None
            return
        if self._generation is not None:
            self._generation.close()
            self._generation = None
        self.store.close()


def _hit(rank: int, passage: Chunk, document: DocumentRecord, score: float, dense_score, lexical_score) -> Hit:
    return Hit(
        rank=rank, score=round(float(score), 4), chunk_id=passage.chunk_id, doc_id=passage.doc_id,
        title=document.title, language=document.language, kind=document.kind, section=passage.section,
        citation=citation(document.path, passage.line_start, passage.line_end, passage.page_start, passage.page_end, passage.section),
        text=passage.text, path=document.path, line_start=passage.line_start, line_end=passage.line_end,
        page_start=passage.page_start, page_end=passage.page_end,
        dense_score=None if dense_score is None else round(float(dense_score), 4),
        lexical_score=None if lexical_score is None else round(float(lexical_score), 4),
    )


def _check_documents(gen: IndexReader, doc_ids: Sequence[str]) -> None:
    """A filter naming a document the index does not hold is a mistake, not an empty answer."""
    found = {d.doc_id for d in gen.documents(doc_ids)}
    unknown = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id not in found]
    if unknown:
        known = [d.doc_id for d in gen.documents()]
        holds = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "no documents yet"
        raise UsageError(f"no document {', '.join(repr(d) for d in unknown)} in the index; it holds {holds}")
