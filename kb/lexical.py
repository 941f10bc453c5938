"""BM25 over Danish/Norwegian text: Snowball stemming and stop words per chunk language.

Chunks are analysed in their own language, a query in all of them. Danish and Norwegian stems
are indexed in a spelling both languages share (medarbejder/medarbeider, tillid/tillit), so a
Danish question finds Norwegian text and the reverse. Each set of the glossary (kb.glossary,
passed in) is indexed as one more term beside its words' stems, so an English question finds
Danish text. Numbers are indexed as written. bm25s is imported only to build an index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Collection, Iterator, Sequence

import numpy as np

from kb.errors import UsageError
from kb.glossary import Glossary, WordSet
from kb.vocabulary import LANGUAGES

ANALYZER_VERSION = "7"
WORDS_FILE = "words.json"
VOCAB_FILE = "vocab.json"
STOP_FILE = "stopwords.json"
CONCEPTS_FILE = "concepts.json"
CONCEPT_MARK = "≈"  # no word of a text holds it: concept terms never meet word terms
STEMMERS = {"da": "danish", "nb": "norwegian", "en": "english"}
QUERY_LANGUAGES = LANGUAGES  # a question is stemmed in every language the corpus may hold
_TOKEN = re.compile(r"\w+(?:-\w+)*")
SHARED_SPELLING_LANGUAGES = frozenset({"da", "nb"})
_SPELLING_RULES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"aa", "å"), (r"æ", "e"), (r"ej", "ei"), (r"øj", "øy"),  # værktøj/verktøy, arbejde/arbeide
        (r"([kg])j", r"\1"),  # kende/kjenne, gøre/gjøre
        (r"c(?=[eiy])", "s"), (r"c", "k"),  # proces/prosess, social/sosial
    )
)
# Consonant shifts make short stems into other words (find/fin, kund/kun, led/let, sid/sit,
# god/got), so they apply from this length on.
SHIFT_MIN_STEM = 5
_SHIFT_RULES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"nd", "nn"),  # indbygger/innbygger, kundskab/kunnskap
        (r"(?<=[aeiouyæøå])b", "p"), (r"(?<=[aeiouyæøå])d", "t"), (r"(?<=[aeiouyæøå])g", "k"),  # skabe/skape
        (r"(\w)\1+", r"\1"),  # prosess/proses
    )
)


@lru_cache(maxsize=None)
def _stemmer(lang: str):
    import Stemmer

    return Stemmer.Stemmer(STEMMERS.get(lang, "danish"))


@lru_cache(maxsize=None)
def stopwords(lang: str) -> frozenset[str]:
    """bm25s's lists; saved with each index so queries need not import bm25s."""
    from bm25s import stopwords as sw

    lists = {"da": sw.STOPWORDS_DANISH, "nb": sw.STOPWORDS_NORWEGIAN, "en": sw.STOPWORDS_EN_PLUS}
    return frozenset(lists.get(lang, ()))


def shared_spelling(stem: str) -> str:
    """One spelling for the Danish and the Norwegian form of a stem: the two languages differ
    mostly in regular sound shifts (b/d/g after a vowel against p/t/k, ej/ei, nd/nn, c/s),
    so "samskab" and "samskap", "tillid" and "tillit" meet. Stems shorter than SHIFT_MIN_STEM
    keep their consonants."""
    for pattern, replacement in _SPELLING_RULES:
        stem = pattern.sub(replacement, stem)
    if len(stem) >= SHIFT_MIN_STEM:
        for pattern, replacement in _SHIFT_RULES:
            stem = pattern.sub(replacement, stem)
    return stem


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


def number_parts(word: str) -> tuple[str, ...]:
    """The numbers in a hyphenated token with digits ("2023-0041" -> "2023", "0041"), so a case
    number is found by its whole and by its parts."""
    if "-" not in word or not any(ch.isdigit() for ch in word):
        return ()
    return tuple(part for part in word.split("-") if part.isdigit())


def _parts(word: str, splitter: Decompounder | None) -> tuple[str, ...]:
    return number_parts(word) + (splitter.parts(word) if splitter is not None else ())


def analyze(text: str, lang: str, splitter: Decompounder | None = None) -> list[str]:
    """Index terms of the content words and numbers of `text` written in `lang` (and of their
    parts): stems, in the shared spelling for Danish and Norwegian; numbers as written."""
    stop = stopwords(lang)
    kept = [w for w in words(text) if w not in stop]
    kept += [part for w in kept for part in _parts(w, splitter)]
    return [_index_term(stem, lang) for stem in _stemmer(lang).stemWords(kept)]


def analyzer_version(glossary: Glossary) -> str:
    """The analyzer's code version and its glossary: either changing changes the index terms."""
    return f"{ANALYZER_VERSION}+glossary-{glossary.fingerprint}"


def glossary_collisions(glossary: Glossary) -> dict[str, list[WordSet]]:
    """Index terms that words of two or more sets stem to: such a term would silently join
    different meanings ("mål" of goal and of measuring)."""
    owners: dict[str, list[WordSet]] = {}
    for word_set in glossary.sets:
        for term in _query_terms(word_set.words):
            owners.setdefault(term, []).append(word_set)
    return {term: sets for term, sets in sorted(owners.items()) if len(sets) > 1}


def check_glossary(glossary: Glossary) -> None:
    """A one-line error when two sets share a stem (see glossary_collisions)."""
    for term, sets in glossary_collisions(glossary).items():
        words_of = [f"'{next(w for w in s.words if term in _query_terms((w,)))}' ({s.where})" for s in sets[:2]]
        raise UsageError(
            f"glossary: {' and '.join(words_of)} both stem to '{term}', which would join two meanings; "
            "drop the ambiguous word or put the words in one set"
        )


def glossary_concepts(glossary: Glossary) -> dict[str, list[str]]:
    """Index term -> the concept term of the glossary set it belongs to ("≈tillid").

    A set counts as one term with one document frequency: "samskaping", which only the one
    Norwegian document uses, would otherwise outweigh "samskabelse", the topic of every
    document, and a question using several words of a set would count the set several times.
    """
    check_glossary(glossary)
    concepts = {term: [CONCEPT_MARK + s.head] for s in glossary.sets for term in _query_terms(s.words)}
    return dict(sorted(concepts.items()))


def _with_concepts(terms: list[str], concepts: dict[str, list[str]]) -> list[str]:
    return terms + [c for term in terms for c in concepts.get(term, ())]


def index_term(word: str, lang: str) -> str:
    """The term a word of a text in `lang` is indexed under."""
    return _index_term(_stemmer(lang).stemWord(word), lang)


@lru_cache(maxsize=1 << 16)  # words repeat: analysing a corpus, 1.2 s -> 0.36 s per 10,000 passages
def _index_term(stem: str, lang: str) -> str:
    """A number stays as written (the shared spelling would make 2000 into 20)."""
    if lang not in SHARED_SPELLING_LANGUAGES or any(ch.isdigit() for ch in stem):
        return stem
    return shared_spelling(stem)


def _query_terms(forms) -> frozenset[str]:
    """A query word's forms stemmed in every language, as written and in the shared spelling
    (the first finds English text, the second Danish and Norwegian)."""
    stems = {_stemmer(lang).stemWord(f) for f in forms for lang in QUERY_LANGUAGES}
    return frozenset(stems | {_index_term(s, "da") for s in stems})


@dataclass(frozen=True)
class QueryWord:
    word: str
    stems: frozenset[str]  # the word's index terms as Danish, Norwegian and English
    concepts: frozenset[str]  # concept terms of the glossary sets it belongs to


@dataclass(frozen=True)
class QueryTerms:
    words: tuple[QueryWord, ...]

    @property
    def all_terms(self) -> frozenset[str]:
        terms: set[str] = set()
        for qw in self.words:
            terms |= qw.stems | qw.concepts
        return frozenset(terms)


def analyze_query(text: str, stop: frozenset[str], splitter: Decompounder, concepts: dict[str, list[str]]) -> QueryTerms:
    """The query's content words, each with its stems in every language and its concept terms."""
    found: list[QueryWord] = []
    seen: set[str] = set()
    for word in words(text):
        if word in stop or word in seen:
            continue
        seen.add(word)
        stems = _query_terms((word, *_parts(word, splitter)))
        of_word = frozenset(c for stem in stems for c in concepts.get(stem, ()))
        found.append(QueryWord(word, stems, of_word))
    return QueryTerms(tuple(found))


def coverage(terms: QueryTerms, vocabulary: Collection[str]) -> float:
    """Share of the query's words that occur in the corpus (its index terms) in some analysed form."""
    if not terms.words:
        return 0.0
    found = sum(1 for qw in terms.words if not (qw.stems | qw.concepts).isdisjoint(vocabulary))
    return found / len(terms.words)


class LexicalIndex:
    """BM25 weights per (term, chunk row) as computed by bm25s, stored as a sparse matrix.

    bm25s builds the index; a query only sums a few stored columns, so the query path loads
    three numpy arrays instead of importing bm25s (and scipy with it).
    """

    FILES = ("data.npy", "indices.npy", "indptr.npy")

    def __init__(
        self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, vocab: dict[str, int],
        splitter: Decompounder, stop: dict[str, list[str]], concepts: dict[str, list[str]],
    ):
        self._data, self._indices, self._indptr = data, indices, indptr
        self._vocab = vocab
        self.splitter = splitter
        self.stop = {lang: frozenset(words) for lang, words in stop.items()}
        self._query_stop = frozenset().union(*self.stop.values())
        self.concepts_of = concepts  # index term -> the concept terms of its glossary sets

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[str], glossary: Glossary) -> "LexicalIndex":
        import bm25s

        splitter = Decompounder.from_texts(texts)
        stop = {lang: sorted(stopwords(lang)) for lang in QUERY_LANGUAGES}
        concepts = glossary_concepts(glossary)
        if not texts:
            empty = np.empty(0, dtype=np.float32)
            return cls(empty, empty.astype(np.int32), np.zeros(1, dtype=np.int32), {}, splitter, stop, concepts)
        corpus_tokens = [_with_concepts(analyze(t, lang, splitter), concepts) for t, lang in zip(texts, languages)]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(_as_ids(corpus_tokens), show_progress=False)
        scores = retriever.scores
        return cls(scores["data"], scores["indices"], scores["indptr"], retriever.vocab_dict, splitter, stop, concepts)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(self.FILES, (self._data, self._indices, self._indptr)):
            np.save(folder / name, array)
        (folder / VOCAB_FILE).write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
        (folder / WORDS_FILE).write_text(json.dumps(sorted(self.splitter.known), ensure_ascii=False), encoding="utf-8")
        stop = {lang: sorted(words) for lang, words in self.stop.items()}
        (folder / STOP_FILE).write_text(json.dumps(stop, ensure_ascii=False), encoding="utf-8")
        (folder / CONCEPTS_FILE).write_text(json.dumps(self.concepts_of, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        data, indices, indptr = (np.load(folder / name) for name in cls.FILES)
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        known = set(json.loads((folder / WORDS_FILE).read_text(encoding="utf-8")))
        stop = json.loads((folder / STOP_FILE).read_text(encoding="utf-8"))
        concepts_file = folder / CONCEPTS_FILE  # absent from an index of analyzer 5: no glossary until `kb index`
        concepts = json.loads(concepts_file.read_text(encoding="utf-8")) if concepts_file.is_file() else {}
        return cls(data, indices, indptr, vocab, Decompounder(known), stop, concepts)

    def postings(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Each index term with the rows it occurs in and its BM25 weight in each (for a store
        that keeps the weights in tables of its own)."""
        columns = len(self._indptr) - 1  # bm25s's vocabulary may name a column it never filled
        for term, column in self._vocab.items():
            lo, hi = (int(self._indptr[column]), int(self._indptr[column + 1])) if column < columns else (0, 0)
            if hi > lo:
                yield term, self._indices[lo:hi], self._data[lo:hi]

    def query_data(self) -> dict:
        """What analysing a question needs besides the weights: the corpus words that compound
        parts are checked against, the stop words and the glossary concepts."""
        return {"words": sorted(self.splitter.known), "stop": {lang: sorted(words) for lang, words in self.stop.items()},
                "concepts": self.concepts_of}

    @classmethod
    def for_queries(cls, data: dict) -> "LexicalIndex":
        """An index of query_data() alone: it analyses questions and highlights, and holds no weights."""
        empty = np.empty(0, dtype=np.float32)
        return cls(empty, empty.astype(np.int32), np.zeros(1, dtype=np.int32), {}, Decompounder(set(data["words"])),
                   data["stop"], data["concepts"])

    def terms(self, query: str) -> QueryTerms:
        return analyze_query(query, self._query_stop, self.splitter, self.concepts_of)

    def matching_spans(self, text: str, lang: str, terms: QueryTerms) -> list[tuple[int, int]]:
        """Character spans of the words of `text` that the query matches (for highlighting)."""
        wanted, stop = terms.all_terms, self.stop.get(lang, frozenset())
        spans = []
        for match in _TOKEN.finditer(text):
            word = match.group().lower()
            if word in stop:
                continue
            term = index_term(word, lang)
            if term in wanted or not wanted.isdisjoint(self.concepts_of.get(term, ())) or not wanted.isdisjoint(number_parts(word)):
                spans.append(match.span())
        return spans

    def coverage(self, terms: QueryTerms) -> float:
        return coverage(terms, self._vocab.keys())

    def scores(self, terms: QueryTerms, num_docs: int) -> np.ndarray:
        """BM25 score of every chunk row: the sum of the query terms' stored weights."""
        spans = [(self._indptr[c], self._indptr[c + 1]) for c in (self._vocab.get(s) for s in sorted(terms.all_terms)) if c is not None]
        return summed_postings([(self._indices[lo:hi], self._data[lo:hi]) for lo, hi in spans], num_docs)


def summed_postings(postings: list[tuple[np.ndarray, np.ndarray]], num_docs: int) -> np.ndarray:
    """BM25 of every row: the (rows, weights) postings of the query's terms, in sorted term order,
    summed in double precision and rounded to float32. Both stores sum with this, so their scores
    agree to the last bit."""
    if not postings:
        return np.zeros(num_docs, dtype=np.float32)
    rows = np.concatenate([rows for rows, _ in postings])
    weights = np.concatenate([weights for _, weights in postings])
    return np.bincount(rows, weights=weights, minlength=num_docs).astype(np.float32)


def _as_ids(corpus_tokens: list[list[str]]):
    """bm25s wants (token ids, vocab); an empty corpus still needs one token."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in corpus_tokens]
    if not vocab:
        vocab[""] = 0
    import bm25s.tokenization as tok

    return tok.Tokenized(ids=ids, vocab=vocab)
