"""Dense and lexical retrieval and their fusion.

Fusion is a convex combination of normalised scores whose lexical weight follows how much
of the query the corpus vocabulary actually contains. An English question over Danish text
shares few words with it, so BM25 has little to say and the dense side leads; a Norwegian
question over Norwegian text matches most of its words, and BM25 gets its full weight.
(Equal-weight reciprocal-rank fusion ignores this and loses to its better half.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from kb import dense

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase
    from kb.store import Generation

Ranked = list[tuple[int, float, Optional[float], Optional[float]]]


def lexical_weight(coverage: float, full_weight: float) -> float:
    """Weight of BM25 in the fused score: nothing without matching words, full_weight at all."""
    return full_weight * coverage**2


def _distinct(rows: np.ndarray) -> np.ndarray:
    """Sorted distinct row numbers. (np.unique would import numpy.ma: 10 ms of a cold query.)"""
    rows = np.sort(rows.astype(np.int64))
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if rows.size else rows


def _top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows with a positive BM25 score, best first. Only rows that share a word with
    the question are ranked: at 1M passages that is a few thousand rows, not a million."""
    positive = scores > 0
    if allowed is not None:
        keep = np.zeros(len(scores), dtype=bool)
        keep[allowed] = True
        positive &= keep
    rows = np.flatnonzero(positive)
    k = min(k, len(rows))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return rows, scores[rows]


@dataclass(frozen=True)
class Candidates:
    """The passages fusion ranks, with both retrievers' scores and the query's lexical coverage."""

    rows: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    coverage: float


def candidates(kb: "KnowledgeBase", gen: "Generation", query: str, pool: int, allowed: np.ndarray | None) -> Candidates:
    """The dense and the lexical top `pool`, each scored by both sides."""
    lexical = gen.lexical
    terms = lexical.terms(query)
    lex_scores = lexical.scores(terms, gen.manifest.chunks)
    qvec = _query_vector(kb, gen, query)
    l_rows, _ = _top(lex_scores, pool, allowed)
    rows = _distinct(np.concatenate([_dense_rows(gen, qvec, pool, allowed), l_rows]))
    return Candidates(rows, passage_scores(gen, rows, qvec), lex_scores[rows], lexical.coverage(terms))


def fuse(found: Candidates, weight: float) -> np.ndarray:
    """Fused score of each candidate at lexical weight `weight` (0: dense only)."""
    return (1 - weight) * _normalise(found.dense) + weight * _normalise(found.lexical)


def rank(kb: "KnowledgeBase", gen: "Generation", query: str, k: int, mode: str, allowed: np.ndarray | None) -> Ranked:
    settings = kb.config.search
    pool = max(settings.candidates, k)
    if mode == "lexical":
        lexical = gen.lexical
        rows, scores = _top(lexical.scores(lexical.terms(query), gen.manifest.chunks), k, allowed)
        return [(int(r), float(s), None, float(s)) for r, s in zip(rows, scores)]
    if mode == "dense":
        qvec = _query_vector(kb, gen, query)
        rows = _dense_rows(gen, qvec, pool, allowed)
        scores = passage_scores(gen, rows, qvec)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(rows[i]), float(scores[i]), float(scores[i]), None) for i in order]
    found = candidates(kb, gen, query, pool, allowed)
    fused = fuse(found, lexical_weight(found.coverage, settings.lexical_weight))
    order = np.argsort(-fused, kind="stable")[:k]
    return [(int(found.rows[i]), float(fused[i]), float(found.dense[i]), float(found.lexical[i])) for i in order]


def _query_vector(kb: "KnowledgeBase", gen: "Generation", query: str) -> np.ndarray:
    gen.dense  # loads FAISS and the index while the encoder may still be loading (shell)
    return kb.embedder.embed_queries([query])[0]


def _dense_rows(gen: "Generation", qvec: np.ndarray, pool: int, allowed: np.ndarray | None) -> np.ndarray:
    """Passages of the best `pool` * 4 embedded views (a passage has several)."""
    views = gen.views
    allowed_views = None if allowed is None else np.flatnonzero(np.isin(views, allowed))
    _, view_hits = dense.search(gen.dense, qvec, pool * 4, allowed_views)
    return _distinct(views[view_hits])


def passage_scores(gen: "Generation", rows: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    """Dense score of each passage: the mean of its whole-text score and its best window's.

    Vectors of a passage are contiguous in the index, the whole passage first.
    """
    views = gen.views
    starts = np.searchsorted(views, rows, side="left")
    ends = np.searchsorted(views, rows, side="right")
    ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if len(rows) else np.empty(0, dtype=np.int64)
    scores = gen.dense.reconstruct_batch(ids.astype(np.int64)) @ qvec if len(ids) else np.empty(0, dtype=np.float32)
    out = np.empty(len(rows), dtype=np.float32)
    pos = 0
    for i, (a, b) in enumerate(zip(starts, ends)):
        part = scores[pos : pos + (b - a)]
        out[i] = 0.5 * part[0] + 0.5 * part.max()
        pos += b - a
    return out


def _normalise(values: np.ndarray) -> np.ndarray:
    """z-scores over the candidates: a score that stands out from the rest counts for more."""
    sd = float(values.std())
    return (values - float(values.mean())) / sd if sd > 0 else np.zeros_like(values)
