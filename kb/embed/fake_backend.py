"""A deterministic encoder without a model: hashed words and character trigrams.

For tests and for trying kb without loading a model. Texts that share words or word pieces
get similar vectors, so a question ranks the passages that use its words higher; meaning across
languages is beyond it (an English question does not find a Danish answer by meaning).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from typing import Sequence

import numpy as np

from kb.embed.text import clean_for_encoder
from kb.errors import UsageError
from kb.models import FAKE_MODEL, EmbedderSpec

DIM = 384
WORD = re.compile(r"\w{4,}")  # shorter words are mostly function words ("og", "til", "the")
TRIGRAM_WEIGHT = 2.0  # spread over a word's trigrams: a shared stem counts, inflected or compounded


def fold(text: str) -> str:
    """Lowercase without accents: "Tillidsopbygning" and "tillidsopbygning", "é" and "e" meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _bucket(feature: str) -> tuple[int, float]:
    """A feature's dimension and sign (the sign keeps collisions from adding up)."""
    h = zlib.crc32(feature.encode("utf-8"))
    return h % DIM, 1.0 if (h >> 16) & 1 else -1.0


class FakeEmbedder:
    normalized = True
    query_prefix = ""
    passage_prefix = ""
    dim = DIM

    def __init__(self, spec: EmbedderSpec):
        if spec.model != FAKE_MODEL:
            raise UsageError(f"the fake backend has only the model {FAKE_MODEL!r}, not {spec.model!r}: fix [embedder] model in kb.toml")
        if spec.query_prefix or spec.passage_prefix:
            raise UsageError("the fake backend uses no query/passage prefixes: remove them from kb.toml")
        self.name = f"fake:{spec.model}"
        self._words: dict[str, np.ndarray] = {}

    def _word_vector(self, word: str) -> np.ndarray:
        vector = self._words.get(word)
        if vector is None:
            vector = np.zeros(DIM, dtype=np.float32)
            weight = np.log(len(word))  # long words carry more meaning than short ones
            dim, sign = _bucket("w:" + word)
            vector[dim] += sign * weight
            padded = f"<{word}>"
            trigrams = [padded[i : i + 3] for i in range(len(padded) - 2)]
            for trigram in trigrams:
                dim, sign = _bucket("c:" + trigram)
                vector[dim] += sign * weight * TRIGRAM_WEIGHT / len(trigrams) ** 0.5
            self._words[word] = vector
        return vector

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[str, int] = {}
            for word in WORD.findall(fold(clean_for_encoder(text))):
                counts[word] = counts.get(word, 0) + 1
            for word, count in counts.items():
                out[row] += (1.0 + np.log(count)) * self._word_vector(word)
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
