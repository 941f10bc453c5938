"""BM25 over Danish/Norwegian text: Snowball stemming and stop words per chunk language.

Chunks are analysed in their own language. A query is analysed in all of them (a Danish
question finds Norwegian text and the reverse) and widened with the co-creation glossary.
bm25s is imported only to build or load an index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.glossary import expansions

ANALYZER_VERSION = "2"
STEMMERS = {"da": "danish", "nb": "norwegian", "en": "english"}
QUERY_LANGUAGES = ("da", "nb", "en")
_TOKEN = re.compile(r"\w+(?:-\w+)*")


@lru_cache(maxsize=None)
def _stemmer(lang: str):
    import Stemmer

    return Stemmer.Stemmer(STEMMERS.get(lang, "danish"))


@lru_cache(maxsize=None)
def stopwords(lang: str) -> frozenset[str]:
    from bm25s import stopwords as sw

    lists = {"da": sw.STOPWORDS_DANISH, "nb": sw.STOPWORDS_NORWEGIAN, "en": sw.STOPWORDS_EN}
    return frozenset(lists.get(lang, ()))


def words(text: str) -> list[str]:
    return [w.lower() for w in _TOKEN.findall(text)]


def analyze(text: str, lang: str) -> list[str]:
    """Stems of the content words of `text` written in `lang`."""
    stop = stopwords(lang)
    kept = [w for w in words(text) if w not in stop and not w.isdigit()]
    return _stemmer(lang).stemWords(kept)


@dataclass(frozen=True)
class QueryTerms:
    """Each query word with the stems that may match it, and glossary expansions."""

    per_word: tuple[tuple[str, frozenset[str]], ...]
    expanded: frozenset[str]

    @property
    def all_stems(self) -> frozenset[str]:
        stems: set[str] = set(self.expanded)
        for _word, variants in self.per_word:
            stems |= variants
        return frozenset(stems)


def analyze_query(text: str) -> QueryTerms:
    all_stop = stopwords("da") | stopwords("nb") | stopwords("en")
    per_word: list[tuple[str, frozenset[str]]] = []
    expanded: set[str] = set()
    seen: set[str] = set()
    for word in words(text):
        if word in all_stop or word.isdigit() or word in seen:
            continue
        seen.add(word)
        variants = frozenset(_stemmer(lang).stemWord(word) for lang in QUERY_LANGUAGES)
        per_word.append((word, variants))
        for other in expansions(word):
            for lang in QUERY_LANGUAGES:
                expanded.add(_stemmer(lang).stemWord(other))
    return QueryTerms(tuple(per_word), frozenset(expanded) - {s for _, v in per_word for s in v})


class LexicalIndex:
    """A bm25s index over chunk rows; row i of the index is chunk row i of the store."""

    def __init__(self, retriever):
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[str]) -> "LexicalIndex":
        import bm25s

        corpus_tokens = [analyze(t, lang) for t, lang in zip(texts, languages)]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(_as_ids(corpus_tokens), show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=False, show_progress=False))

    def coverage(self, terms: QueryTerms) -> float:
        """Share of the query's words that occur in the corpus in some stemmed form."""
        if not terms.per_word:
            return 0.0
        found = sum(1 for _w, variants in terms.per_word if variants & self._vocab.keys())
        return found / len(terms.per_word)

    def scores(self, terms: QueryTerms, num_docs: int) -> np.ndarray:
        ids = [self._vocab[s] for s in sorted(terms.all_stems) if s in self._vocab]
        if not ids:
            return np.zeros(num_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(ids), dtype=np.float32)


def _as_ids(corpus_tokens: list[list[str]]):
    """bm25s wants (token ids, vocab); an empty corpus still needs one token."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in corpus_tokens]
    if not vocab:
        vocab[""] = 0
    import bm25s.tokenization as tok

    return tok.Tokenized(ids=ids, vocab=vocab)
