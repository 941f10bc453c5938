"""Dense and lexical retrieval and their fusion.

Fusion is a convex combination of normalised scores whose lexical weight follows how much
of the query the corpus vocabulary actually contains. An English question over Danish text
shares few words with it, so BM25 has little to say and the dense side leads; a Norwegian
question over Norwegian text matches most of its words, and BM25 gets its full weight.
(Equal-weight reciprocal-rank fusion ignores this and loses to its better half.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from kb.store.base import distinct_rows

if TYPE_CHECKING:
    from kb.config import SearchSettings
    from kb.store import IndexReader, LexicalScores, PassageFilter

Ranked = list[tuple[int, float, Optional[float], Optional[float]]]
QueryVector = Callable[[str], np.ndarray]  # the question, embedded by the index's encoder
VIEWS_PER_PASSAGE = 4  # dense search fetches this many vectors per wanted passage (a passage has several)


def lexical_weight(coverage: float, full_weight: float) -> float:
    """Weight of BM25 in the fused score: nothing without matching words, full_weight at all."""
    return full_weight * coverage**2


def _top(found: "LexicalScores", k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows with a positive BM25 score, best first. Only rows that share a word with
    the question are ranked: at 1M passages that is a few thousand rows, not a million."""
    k = min(k, len(found.rows))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    best = np.argpartition(-found.scores, k - 1)[:k]
    best = best[np.argsort(-found.scores[best], kind="stable")]
    return found.rows[best], found.scores[best]


def _lexical_of(found: "LexicalScores", rows: np.ndarray) -> np.ndarray:
    """BM25 score of each of `rows` (0 where no query term occurs)."""
    at = np.searchsorted(found.rows, rows)
    inside = at < len(found.rows)
    hit = np.zeros(len(rows), dtype=bool)
    hit[inside] = found.rows[at[inside]] == rows[inside]
    out = np.zeros(len(rows), dtype=np.float32)
    out[hit] = found.scores[at[hit]]
    return out


@dataclass(frozen=True)
class Candidates:
    """The passages fusion ranks, with both retrievers' scores and the query's lexical coverage."""

    rows: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    coverage: float


def candidates(index: "IndexReader", query: str, pool: int, scope: Optional["PassageFilter"], query_vector: QueryVector) -> Candidates:
    """The dense and the lexical top `pool`, each scored by both sides. Where both searches run in
    a database server, they run there at once, once the question is embedded (beside the encoder,
    which spreads over every core, the BM25 search slowed it as much as it saved)."""
    terms = index.analyzer.terms(query)
    qvec = _query_vector(index, query, query_vector)
    pending = _lexical_pool().submit(index.lexical_scores, terms, scope) if index.concurrent_retrievers else None
    dense = index.dense_candidates(qvec, pool * VIEWS_PER_PASSAGE, scope)
    lexical = pending.result() if pending else index.lexical_scores(terms, scope)
    l_rows, _ = _top(lexical, pool)
    rows = distinct_rows(np.concatenate([dense, l_rows]))
    return Candidates(rows, passage_scores(index, rows, qvec), _lexical_of(lexical, rows), index.lexical_coverage(terms))


@functools.lru_cache(maxsize=1)
def _lexical_pool():
    """Threads for the BM25 searches of hybrid questions sent beside their dense ones (a server asks
    one question at a time; a few threads let several callers overlap without waiting). Imported
    here: a local search, which never uses it, starts 4 ms sooner."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="kb-lexical")


def fuse(found: Candidates, weight: float) -> np.ndarray:
    """Fused score of each candidate at lexical weight `weight` (0: dense only)."""
    return (1 - weight) * _normalise(found.dense) + weight * _normalise(found.lexical)


def rank(
    index: "IndexReader", query: str, k: int, mode: str, scope: Optional["PassageFilter"],
    settings: "SearchSettings", query_vector: QueryVector,
) -> Ranked:
    """The k best passages (row, score, dense score, lexical score) for `query` in `mode`."""
    pool = max(settings.candidates, k)
    if mode == "lexical":
        rows, scores = _top(index.lexical_scores(index.analyzer.terms(query), scope), k)
        return [(int(r), float(s), None, float(s)) for r, s in zip(rows, scores)]
    if mode == "dense":
        qvec = _query_vector(index, query, query_vector)
        rows = index.dense_candidates(qvec, pool * VIEWS_PER_PASSAGE, scope)
        scores = passage_scores(index, rows, qvec)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(rows[i]), float(scores[i]), float(scores[i]), None) for i in order]
    found = candidates(index, query, pool, scope, query_vector)
    fused = fuse(found, lexical_weight(found.coverage, settings.lexical_weight))
    order = np.argsort(-fused, kind="stable")[:k]
    return [(int(found.rows[i]), float(fused[i]), float(found.dense[i]), float(found.lexical[i])) for i in order]


def _query_vector(index: "IndexReader", query: str, query_vector: QueryVector) -> np.ndarray:
    index.prepare_dense()  # loads the vector index while the encoder may still be loading (shell)
    return query_vector(query)


def passage_scores(index: "IndexReader", rows: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    """Dense score of each passage: the mean of its whole-text score and its best window's."""
    out = np.empty(len(rows), dtype=np.float32)
    for i, part in enumerate(index.dense_scores(rows, qvec)):
        out[i] = 0.5 * part[0] + 0.5 * part.max()
    return out


def _normalise(values: np.ndarray) -> np.ndarray:
    """z-scores over the candidates: a score that stands out from the rest counts for more."""
    sd = float(values.std())
    return (values - float(values.mean())) / sd if sd > 0 else np.zeros_like(values)
