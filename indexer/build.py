"""Plan, then apply: bring the index in line with the corpus, embedding only what is new.

A document's index hash covers its text and metadata plus the chunker, analyzer and encoder
settings (never file times). Unchanged documents keep their chunk records; passages whose
embedded text was seen before reuse their cached vectors. Nothing becomes live before the
new generation is completely written (see kb.store.base.GenerationWriter).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

from pydantic import BaseModel

import numpy as np

from indexer.chunk import CHUNKER_VERSION, chunk_document, passage_views
from indexer.clean import clean_text
from indexer.extract import conversion_key, keys_kept_for_one_build
from indexer.load import TEXT_SUFFIXES, content_key, discover, load_document
from kb.config import KBConfig, KBPaths
from kb.errors import CorpusError, IndexCorrupt, IndexMissing, IndexOutdated
from kb.lexical import analyzer_version, check_glossary
from kb.reports import FileProblem
from kb.models import Chunk, Document, IndexManifest
from kb.store import DamagedVectors, DocumentRecord, EmbeddingCache, IndexReader, IndexStore, IndexWriter, fault_point, open_store
from kb.store.caches import ConversionCache

Progress = Callable[[str, int, int], None]
DocState = Literal["new", "changed", "unchanged", "removed", "failed"]


class IndexReport(BaseModel):
    added: int
    changed: int
    removed: int
    unchanged: int
    failed: list[FileProblem]
    documents: int
    chunks: int
    embedded: int = 0  # passages with at least one newly computed vector
    seconds: float = 0.0
    generation: Optional[str] = None
    repaired: list[str] = []  # damage found in the index or its cache, and made good by this run


@dataclass
class PlannedDocument:
    doc: Document
    index_hash: str
    state: DocState


@dataclass
class IndexPlan:
    documents: list[PlannedDocument] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FileProblem] = field(default_factory=list)
    previous: dict[str, tuple[str, str]] = field(default_factory=dict)  # doc_id -> (index hash, path)

    def count(self, state: DocState) -> int:
        return sum(1 for d in self.documents if d.state == state)


def settings_fingerprint(config: KBConfig) -> str:
    return f"chunker={CHUNKER_VERSION};analyzer={analyzer_version(config.glossary)};embedder={config.embedder.model_dump_json(exclude={'batch_size'})}"


def index_hash(doc: Document, fingerprint: str) -> str:
    """Changes with the text, the metadata, the file's place (citations name it) and the settings."""
    return hashlib.sha256(f"{doc.content_hash}\n{doc.path}\n{fingerprint}".encode()).hexdigest()


def previous_documents(store: IndexStore) -> dict[str, tuple[str, str]]:
    """doc_id -> (index hash, path) of the live index."""
    try:
        gen = store.open_reader()
    except (IndexMissing, IndexOutdated):
        return {}
    try:
        return _documents_of(gen)
    finally:
        gen.close()


def _documents_of(gen: IndexReader) -> dict[str, tuple[str, str]]:
    return {d.doc_id: (d.index_hash, d.path) for d in gen.documents()}


def make_plan(paths: KBPaths, config: KBConfig, previous: dict[str, tuple[str, str]]) -> IndexPlan:
    """Load every corpus file and sort documents into new / changed / unchanged / removed."""
    plan = IndexPlan(previous=previous)
    fingerprint = settings_fingerprint(config)
    seen_ids: dict[str, str] = {}
    seen_content: dict[str, str] = {}
    failed_ids: set[str] = set()
    id_of_path = {old_path: doc_id for doc_id, (_digest, old_path) in previous.items()}
    for path in discover(paths.corpus):
        try:
            doc = load_document(path, paths.root)
        except CorpusError as exc:
            rel = path.relative_to(paths.root).as_posix()
            plan.failed.append(FileProblem(path=rel, message=str(exc)))
            if rel in id_of_path:
                failed_ids.add(id_of_path[rel])
            continue
        if doc.meta.id in seen_ids:
            plan.failed.append(FileProblem(path=doc.path, message=f"{doc.path}: id '{doc.meta.id}' is already used by {seen_ids[doc.meta.id]}; give it another id"))
            continue
        text_hash = content_key(doc.text)
        if text_hash in seen_content:
            plan.failed.append(FileProblem(path=doc.path, message=f"{doc.path}: same content as {seen_content[text_hash]}; remove one of them"))
            continue
        seen_ids[doc.meta.id] = doc.path
        seen_content[text_hash] = doc.path
        digest = index_hash(doc, fingerprint)
        old = previous.get(doc.meta.id)
        state: DocState = "new" if old is None else ("unchanged" if old[0] == digest else "changed")
        plan.documents.append(PlannedDocument(doc, digest, state))
    # A file that broke keeps its previously indexed version rather than vanishing.
    kept = set(seen_ids) | failed_ids
    plan.removed = sorted(set(previous) - kept)
    return plan


def embed_key(embedder_name: str, prefix: str, text: str) -> str:
    return hashlib.sha256(f"{embedder_name}\x1f{prefix}\x1f{text}".encode()).hexdigest()


def build_index(
    paths: KBPaths, config: KBConfig, rebuild: bool = False, progress: Progress | None = None
) -> IndexReport:
    started = time.perf_counter()
    progress = progress or (lambda stage, done, total: None)
    check_glossary(config.glossary)  # a glossary mistake stops the run before anything changes
    store = open_store(paths, config)
    with contextlib.closing(store), store.writer() as writer, keys_kept_for_one_build():
        previous, damage = ({}, []) if rebuild else _live_documents(store)
        plan = make_plan(paths, config, previous)
        report = _apply(plan, writer, config, progress)
        rebuilt = [f"{found}; the index was rebuilt from the corpus and the embedding cache" for found in damage]
        report.repaired = rebuilt + writer.repairs + report.repaired
        if report.added or report.changed or report.removed:  # else the last build already pruned
            _forget_old_conversions(paths)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _live_documents(store: IndexStore) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The live index's documents to build on, or none and what is damaged in it: a damaged
    index is rebuilt beside itself from the corpus, its vectors coming from the embedding cache."""
    try:
        damage = [f"{d.part} was damaged ({d.problem})" for d in store.verify()]
    except IndexMissing:
        return {}, []
    if not damage:
        try:
            return previous_documents(store), []
        except IndexCorrupt as exc:
            damage = [str(exc).split("; ")[0]]
    return {}, damage


def _apply(plan: IndexPlan, writer: IndexWriter, config: KBConfig, progress: Progress) -> IndexReport:
    from kb.embed import load_embedder

    carried_failed = [d for d in plan.previous if d not in {p.doc.meta.id for p in plan.documents} and d not in plan.removed]
    report = IndexReport(
        added=plan.count("new"), changed=plan.count("changed"), removed=len(plan.removed),
        unchanged=plan.count("unchanged"), failed=plan.failed, documents=0, chunks=0,
    )
    nothing_to_do = not (report.added or report.changed or report.removed) and plan.previous
    if nothing_to_do:
        gen = writer.live()
        report.documents, report.chunks = gen.manifest.documents, gen.manifest.chunks
        report.generation = gen.name
        gen.close()
        return report

    embedder = load_embedder(config.embedder)
    documents: list[DocumentRecord] = []
    chunks: list[Chunk] = []
    reused_ids = {p.doc.meta.id for p in plan.documents if p.state == "unchanged"} | set(carried_failed)
    fresh = [p for p in plan.documents if p.state in ("new", "changed")]

    previous_gen = writer.live() if plan.previous and reused_ids else None
    if previous_gen is not None:
        try:
            documents.extend(previous_gen.documents(sorted(reused_ids)))
            chunks.extend(p.chunk for p in previous_gen.document_passages(sorted(reused_ids)))
        finally:
            previous_gen.close()
    for planned in fresh:
        doc = planned.doc
        documents.append(DocumentRecord(doc.meta.id, doc.path, planned.index_hash, doc.meta.model_dump_json(), doc.meta.language, doc.meta.kind, doc.meta.title))
        chunks.extend(chunk_document(doc.meta.id, clean_text(doc.text, doc.meta), doc.pages))

    lang_of = {d.doc_id: d.language for d in documents}
    chunks.sort(key=lambda c: (c.doc_id, c.ordinal))  # stable row order
    view_rows: list[int] = []
    texts_by_key: dict[str, str] = {}
    keys: list[str] = []
    for row, chunk in enumerate(chunks):
        for text in passage_views(chunk):
            key = embed_key(embedder.name, embedder.passage_prefix, text)
            texts_by_key[key] = text
            keys.append(key)
            view_rows.append(row)

    cache = writer.embedding_cache(embedder.dim)
    try:
        embedded_rows: set[int] = set()
        for attempt in range(2):  # a cached vector that fails its check is forgotten: the second pass embeds it again
            embedded_rows |= _embed_missing(cache, embedder, keys, view_rows, texts_by_key, config, progress)
            progress("writing index", 0, 1)
            generation = writer.new_generation()
            try:
                kind, params = generation.write_vectors(np.asarray(view_rows, dtype=np.int32), keys, cache)
                break
            except DamagedVectors as exc:
                generation.abort()
                if attempt:
                    raise IndexCorrupt(f"{exc}; run `kb index` again") from None
                report.repaired.append(str(exc))
            except BaseException:
                generation.abort()
                raise
        report.embedded = len(embedded_rows)
        from kb.lexical import LexicalIndex

        try:
            fault_point("during-write")
            generation.write_lexical(LexicalIndex.build([c.embed_text() for c in chunks], [lang_of[c.doc_id] for c in chunks], config.glossary))
            fault_point("after-lexical")
            generation.write_passages(documents, chunks)
            fault_point("after-chunks")
            manifest = IndexManifest(
                created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), backend=config.embedder.backend,
                model=config.embedder.model, dim=embedder.dim, normalized=embedder.normalized,
                query_prefix=embedder.query_prefix, passage_prefix=embedder.passage_prefix,
                chunker_version=CHUNKER_VERSION, analyzer_version=analyzer_version(config.glossary),
                faiss_index=kind, faiss_params=params, documents=len(documents), chunks=len(chunks),
                vectors=len(keys),
            )
            report.generation = generation.commit(manifest)
        except BaseException:
            generation.abort()  # frees the space a half-written generation took
            raise
        cache.retain(keys)
    finally:
        cache.close()
    progress("writing index", 1, 1)
    report.documents, report.chunks = len(documents), len(chunks)
    return report


def _embed_missing(
    cache: EmbeddingCache, embedder, keys: list[str], view_rows: list[int], texts_by_key: dict[str, str],
    config: KBConfig, progress: Progress,
) -> set[int]:
    """Embed the views the cache has no vector for; the passage rows that got one."""
    missing = cache.missing(keys)
    missing_set = set(missing)
    batch = max(config.embedder.batch_size, 1) * 4
    progress("embedding", 0, len(missing))
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        cache.put(part, embedder.embed_passages([texts_by_key[k] for k in part]))
        progress("embedding", min(start + batch, len(missing)), len(missing))
        fault_point("during-embedding")
    return {row for row, key in zip(view_rows, keys) if key in missing_set}


def _forget_old_conversions(paths: KBPaths) -> None:
    """Keep converted texts only for the PDF/DOCX/HTML files the corpus holds now."""
    cache = ConversionCache(paths.index)
    if not cache.path.is_file():
        return
    keys = []
    for path in discover(paths.corpus):
        if path.suffix.lower() not in TEXT_SUFFIXES and path.is_file():
            try:
                keys.append(conversion_key(path))
            except OSError:  # gone or unreadable since the plan: its text goes too
                pass
    cache.retain(keys)
