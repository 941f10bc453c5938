"""Retrieval quality: labeled query sets over a knowledge base, and BEIR-format benchmarks.

Metrics follow the usual IR definitions with binary relevance: hit@k (a relevant item in the
top k), MRR@10 (reciprocal rank of the first relevant item, 0 past rank 10) and nDCG@10
(log2-discounted gain over the ideal ordering of all relevant items).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kb.errors import UsageError
from kb.validation import one_line
from kb.vocabulary import Language
from kb.yamlfile import parse_yaml

K = 10


class LabeledQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    lang: Language
    split: Literal["dev", "test"] = "test"
    query: str = Field(min_length=1)
    doc: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    # Passages of any document judged to answer the question as well: doc id -> excerpts.
    also: dict[str, list[str]] = {}

    @property
    def answers_by_doc(self) -> dict[str, list[str]]:
        merged = {doc: list(excerpts) for doc, excerpts in self.also.items()}
        merged.setdefault(self.doc, []).extend(self.answers)
        return merged


class QuerySet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[LabeledQuery] = Field(min_length=1)
    _source: str = PrivateAttr(default="query set")  # the file, to name in errors about its labels


class Metrics(BaseModel):
    queries: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float
    ndcg_at_10: float


class Miss(BaseModel):
    id: str
    query: str
    lang: str
    expected: str
    rank: Optional[int]
    first: str


class EvalReport(BaseModel):
    mode: str
    overall: Metrics
    by_language: dict[str, Metrics]
    misses: list[Miss] = []
    ambiguous_queries: list[str] = []  # BEIR ids naming two questions of the split: not scored


# -- metric arithmetic ----------------------------------------------------------------
def first_relevant_rank(relevance: Sequence[bool]) -> Optional[int]:
    return next((i + 1 for i, rel in enumerate(relevance) if rel), None)


def ndcg(relevance: Sequence[bool], total_relevant: int, k: int = K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(relevance[:k]) if rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(total_relevant, k)))
    return dcg / ideal if ideal else 0.0


def aggregate(per_query: Sequence[tuple[Sequence[bool], int]]) -> Metrics:
    """Metrics over (relevance of the ranked list, number of relevant items) pairs."""
    n = len(per_query)
    if n == 0:
        return Metrics(queries=0, hit_at_1=0, hit_at_5=0, mrr_at_10=0, ndcg_at_10=0)
    ranks = [first_relevant_rank(rel[:K]) for rel, _ in per_query]
    return Metrics(
        queries=n,
        hit_at_1=round(sum(r == 1 for r in ranks) / n, 4),
        hit_at_5=round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        mrr_at_10=round(sum(1 / r for r in ranks if r) / n, 4),
        ndcg_at_10=round(sum(ndcg(rel, total) for rel, total in per_query) / n, 4),
    )


# -- labeled sets over the knowledge base ----------------------------------------------
def normalise(text: str) -> str:
    """Case, spacing, punctuation and markup do not decide whether a passage matches."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


def load_query_set(path: Path) -> QuerySet:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such query file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    data = parse_yaml(raw, str(path))
    try:
        qs = QuerySet.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {one_line(exc, data, items={'queries': ('query', 'id')})}") from None
    seen: set[str] = set()
    for q in qs.queries:
        if q.id in seen:
            raise UsageError(f"{path}: query id '{q.id}' appears twice")
        seen.add(q.id)
    qs._source = str(path)
    return qs


def is_answer(text: str, answers: Sequence[str]) -> bool:
    """A passage answers if it holds one of the answer excerpts, or most of one (cut by chunking)."""
    body = normalise(text)
    for answer in answers:
        target = normalise(answer)
        if target and target in body:
            return True
        words = target.split()
        need = max(5, math.ceil(0.6 * len(words)))
        if len(words) >= need and any(
            " ".join(words[i : i + need]) in body for i in range(len(words) - need + 1)
        ):
            return True
    return False


def evaluate_labeled(kb, query_set: QuerySet, mode: str = "hybrid", split: Optional[str] = None) -> EvalReport:
    queries = [q for q in query_set.queries if split in (None, "all", q.split)]
    if not queries:
        raise UsageError(f"{query_set._source}: no queries in split {split!r}")
    known = {d["doc_id"] for d in kb.documents()}
    unknown = sorted({doc for q in queries for doc in q.answers_by_doc} - known)
    if unknown:
        raise UsageError(f"{query_set._source}: queries name documents the index does not hold: {', '.join(unknown)}")
    relevant_counts = {qid: len(rows) for qid, rows in answering_rows(kb, queries, query_set._source).items()}
    rows: dict[str, list[tuple[list[bool], int]]] = defaultdict(list)
    misses: list[Miss] = []
    for q in queries:
        hits = kb.search(q.query, k=K, mode=mode).hits
        answers = q.answers_by_doc
        relevance = [is_answer(h.text, answers.get(h.doc_id, ())) for h in hits]
        entry = (relevance, relevant_counts[q.id])
        rows[q.lang].append(entry)
        rows["all"].append(entry)
        rank = first_relevant_rank(relevance)
        if rank != 1:
            first = f"{hits[0].chunk_id} ({hits[0].citation}): {hits[0].text[:100]}…" if hits else "nothing"
            misses.append(Miss(id=q.id, query=q.query, lang=q.lang, expected=f"{q.doc}: {q.answers[0]}", rank=rank, first=first))
    return EvalReport(
        mode=mode,
        overall=aggregate(rows.pop("all")),
        by_language={lang: aggregate(r) for lang, r in sorted(rows.items())},
        misses=misses,
    )


def answering_rows(kb, queries: Sequence[LabeledQuery], source: str) -> dict[str, set[int]]:
    """The passages (chunk rows) that answer each query; an excerpt no passage holds is a broken label."""
    by_doc: dict[str, list[tuple[int, str]]] = defaultdict(list)
    named = {doc for q in queries for doc in q.answers_by_doc}
    for passage in kb.generation.document_passages(sorted(named)):
        by_doc[passage.chunk.doc_id].append((passage.row, passage.chunk.text))
    found = {}
    for q in queries:
        answering: set[int] = set()
        for doc, excerpts in q.answers_by_doc.items():
            for excerpt in excerpts:
                holding = {row for row, text in by_doc[doc] if is_answer(text, [excerpt])}
                if not holding:
                    raise UsageError(f"{source}: query {q.id}: no passage of {doc} holds the answer \"{excerpt[:60]}\"; copy the excerpt from that document")
                answering |= holding
        found[q.id] = answering
    return found


# -- BEIR-format benchmarks -----------------------------------------------------------
def evaluate_ranked_docs(ranked: dict[str, list[str]], qrels: dict[str, set[str]]) -> Metrics:
    return aggregate([([d in qrels[q] for d in ranked.get(q, [])[:K]], len(qrels[q])) for q in qrels])
