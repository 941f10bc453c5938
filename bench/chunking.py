"""Chunking time for one very long paragraph (a report whose layout lost its paragraph breaks).

    python -m bench.chunking                 # 27,500 / 55,000 / 110,000 words
    python -m bench.chunking 1000000         # other lengths

Prints seconds and passages per length and the time per 10,000 words, which stays flat when
chunking is linear in the length. The text is real corpus words in random sentences of 8-22
words (a fixed seed), with an abbreviation ("kr.") and a number now and then.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "corpus" / "documents" / "manifest-for-samskabelse.txt"
LENGTHS = (27_500, 55_000, 110_000)


def long_paragraph(words: int, seed: int = 1) -> str:
    """One paragraph of about `words` words, no line breaks."""
    vocabulary = sorted(set(re.findall(r"[a-zæøå]{3,}", SOURCE.read_text(encoding="utf-8"))))
    rnd = random.Random(seed)
    sentences: list[str] = []
    count = 0
    while count < words:
        sentence = [rnd.choice(vocabulary) for _ in range(rnd.randint(8, 22))]
        sentence[0] = sentence[0].capitalize()
        if rnd.random() < 0.2:
            sentence[rnd.randrange(1, len(sentence))] = f"{rnd.randint(2, 900)} kr."
        sentences.append(" ".join(sentence) + ".")
        count += len(sentence)
    return " ".join(sentences)


def main(argv: list[str]) -> None:
    from indexer.chunk import chunk_document

    for words in [int(a) for a in argv] or LENGTHS:
        text = long_paragraph(words)
        started = time.perf_counter()
        chunks = chunk_document("bench", text)
        seconds = time.perf_counter() - started
        print(f"{words:>9,} words  {seconds:7.2f} s  {len(chunks):6,} passages  {seconds / words * 10_000:.3f} s per 10k words")


if __name__ == "__main__":
    main(sys.argv[1:])
