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
from kb.lexical import analyze_query

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase
    from kb.store import Generation

Ranked = list[tuple[int, float, Optional[float], Optional[float]]]


def lexical_weight(coverage: float, full_weight: float) -> float:
    """Weight of BM25 in the fused score: nothing without matching words, full_weight at all."""
    return full_weight * coverage**2


def _top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if allowed is not None:
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        scores = masked
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return rows, scores[rows]


def rank(kb: "KnowledgeBase", gen: "Generation", query: str, k: int, mode: str, allowed: np.ndarray | None) -> Ranked:
    settings = kb.config.search
    n = gen.manifest.chunks
    pool = max(settings.candidates, k)

    lex_scores = coverage = None
    if mode in ("lexical", "hybrid"):
        terms = analyze_query(query)
        lexical = gen.lexical
        lex_scores = lexical.scores(terms, n)
        coverage = lexical.coverage(terms)
        if mode == "lexical":
            rows, scores = _top(lex_scores, k, allowed)
            return [(int(r), float(s), None, float(s)) for r, s in zip(rows, scores) if s > 0]

    qvec = kb.embedder.embed_queries([query])[0]
    d_scores, d_rows = dense.search(gen.dense, qvec, pool, allowed)
    if mode == "dense":
        return [(int(r), float(s), float(s), None) for r, s in zip(d_rows[:k], d_scores[:k])]

    l_rows, l_top = _top(lex_scores, pool, allowed)
    l_rows = l_rows[l_top > 0]
    candidates = np.unique(np.concatenate([d_rows, l_rows])).astype(np.int64)
    # Score every candidate on both sides exactly: the vectors are stored in the index.
    vectors = gen.dense.reconstruct_batch(candidates)
    cand_dense = vectors @ qvec
    cand_lex = lex_scores[candidates]
    weight = lexical_weight(coverage or 0.0, settings.lexical_weight)
    fused = (1 - weight) * _minmax(cand_dense) + weight * _max_scaled(cand_lex)
    order = np.argsort(-fused, kind="stable")[:k]
    return [(int(candidates[i]), float(fused[i]), float(cand_dense[i]), float(cand_lex[i])) for i in order]


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values)


def _max_scaled(values: np.ndarray) -> np.ndarray:
    hi = float(values.max())
    return values / hi if hi > 0 else np.zeros_like(values)
