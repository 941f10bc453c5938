"""Dense and lexical retrieval and their fusion.

Fusion is a convex combination of normalised scores whose lexical weight follows how much
of the query the corpus vocabulary actually contains. An English question over Danish text
shares few words with it, so BM25 has little to say and the dense side leads; a Norwegian
question over Norwegian text matches most of its words, and BM25 gets its full weight.
(Equal-weight reciprocal-rank fusion ignores this and loses to its better half.)
"""

from __future__ import annotations

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


def rank(kb: "KnowledgeBase", gen: "Generation", query: str, k: int, mode: str, allowed: np.ndarray | None) -> Ranked:
    settings = kb.config.search
    n = gen.manifest.chunks
    pool = max(settings.candidates, k)

    lex_scores = coverage = None
    if mode in ("lexical", "hybrid"):
        lexical = gen.lexical
        terms = lexical.terms(query)
        lex_scores = lexical.scores(terms, n)
        coverage = lexical.coverage(terms)
        if mode == "lexical":
            rows, scores = _top(lex_scores, k, allowed)
            return [(int(r), float(s), None, float(s)) for r, s in zip(rows, scores)]

    index = gen.dense  # loads FAISS and the index while the encoder may still be loading (shell)
    qvec = kb.embedder.embed_queries([query])[0]
    views = gen.views
    allowed_views = None if allowed is None else np.flatnonzero(np.isin(views, allowed))
    _, view_hits = dense.search(index, qvec, pool * 4, allowed_views)
    d_rows = _distinct(views[view_hits])
    if mode == "dense":
        candidates = d_rows
    else:
        l_rows, _ = _top(lex_scores, pool, allowed)
        candidates = _distinct(np.concatenate([d_rows, l_rows]))
    cand_dense = passage_scores(gen, candidates, qvec)
    if mode == "dense":
        order = np.argsort(-cand_dense, kind="stable")[:k]
        return [(int(candidates[i]), float(cand_dense[i]), float(cand_dense[i]), None) for i in order]
    cand_lex = lex_scores[candidates]
    weight = lexical_weight(coverage or 0.0, settings.lexical_weight)
    fused = (1 - weight) * _normalise(cand_dense) + weight * _normalise(cand_lex)
    order = np.argsort(-fused, kind="stable")[:k]
    return [(int(candidates[i]), float(fused[i]), float(cand_dense[i]), float(cand_lex[i])) for i in order]


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
