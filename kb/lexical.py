"""BM25 over Danish/Norwegian text: Snowball stemming and stop words per chunk language.

Chunks are analysed in their own language. A query is analysed in all of them (a Danish
question finds Norwegian text and the reverse) and widened with the co-creation glossary.
bm25s is imported only to build or load an index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.glossary import expansions

ANALYZER_VERSION = "3"
WORDS_FILE = "words.json"
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

    lists = {"da": sw.STOPWORDS_DANISH, "nb": sw.STOPWORDS_NORWEGIAN, "en": sw.STOPWORDS_EN_PLUS}
    return frozenset(lists.get(lang, ()))


def words(text: str) -> list[str]:
    return [w.lower() for w in _TOKEN.findall(text)]


class Decompounder:
    """Splits Danish/Norwegian compounds into two words the corpus also uses on their own.

    "tillidsopbygning" -> "tillid" + "opbygning" (the linking s/e is dropped), so a question
    about "tillid" finds text that only speaks of "tillidsopbygning".
    """

    MIN_PART = 4
    MIN_WORD = 9

    def __init__(self, known: set[str]):
        self.known = known

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> "Decompounder":
        return cls({w for t in texts for w in words(t) if len(w) >= cls.MIN_PART and w.isalpha()})

    def parts(self, word: str) -> tuple[str, ...]:
        if len(word) < self.MIN_WORD or not word.isalpha():
            return ()
        for cut in range(len(word) - self.MIN_PART, self.MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            if head not in self.known:
                continue
            if tail in self.known:
                return (head, tail)
            if tail[0] in "se" and len(tail) > self.MIN_PART and tail[1:] in self.known:
                return (head, tail[1:])
        return ()


def analyze(text: str, lang: str, splitter: Decompounder | None = None) -> list[str]:
    """Stems of the content words of `text` written in `lang` (and of their compound parts)."""
    stop = stopwords(lang)
    kept = [w for w in words(text) if w not in stop and not w.isdigit()]
    if splitter is not None:
        kept += [part for w in kept for part in splitter.parts(w)]
    return _stemmer(lang).stemWords(kept)


@dataclass(frozen=True)
class QueryWord:
    word: str
    stems: frozenset[str]  # the word stemmed as Danish, Norwegian and English
    expansions: frozenset[str]  # stems of its glossary equivalents in the other languages


@dataclass(frozen=True)
class QueryTerms:
    words: tuple[QueryWord, ...]

    @property
    def all_stems(self) -> frozenset[str]:
        stems: set[str] = set()
        for qw in self.words:
            stems |= qw.stems | qw.expansions
        return frozenset(stems)


def analyze_query(text: str, splitter: Decompounder | None = None) -> QueryTerms:
    all_stop = stopwords("da") | stopwords("nb") | stopwords("en")
    found: list[QueryWord] = []
    seen: set[str] = set()
    for word in words(text):
        if word in all_stop or word.isdigit() or word in seen:
            continue
        seen.add(word)
        forms = (word, *(splitter.parts(word) if splitter else ()))
        stems = frozenset(_stemmer(lang).stemWord(f) for f in forms for lang in QUERY_LANGUAGES)
        expanded = frozenset(_stemmer(lang).stemWord(o) for o in expansions(word) for lang in QUERY_LANGUAGES)
        found.append(QueryWord(word, stems, expanded - stems))
    return QueryTerms(tuple(found))


class LexicalIndex:
    """A bm25s index over chunk rows; row i of the index is chunk row i of the store."""

    def __init__(self, retriever, splitter: Decompounder):
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict
        self.splitter = splitter

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[str]) -> "LexicalIndex":
        import bm25s

        splitter = Decompounder.from_texts(texts)
        corpus_tokens = [analyze(t, lang, splitter) for t, lang in zip(texts, languages)]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(_as_ids(corpus_tokens), show_progress=False)
        return cls(retriever, splitter)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)
        (folder / WORDS_FILE).write_text(json.dumps(sorted(self.splitter.known), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        known = set(json.loads((folder / WORDS_FILE).read_text(encoding="utf-8")))
        return cls(bm25s.BM25.load(str(folder), mmap=False, show_progress=False), Decompounder(known))

    def terms(self, query: str) -> QueryTerms:
        return analyze_query(query, self.splitter)

    def coverage(self, terms: QueryTerms) -> float:
        """Share of the query's words that occur in the corpus in some stemmed form."""
        if not terms.words:
            return 0.0
        vocab = self._vocab.keys()
        found = sum(1 for qw in terms.words if (qw.stems | qw.expansions) & vocab)
        return found / len(terms.words)

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
