"""Glossary sets proposed from a knowledge base's corpus, for a person to review.

    python -m bench.propose_glossary --kb DIR [--min-passages 2] [--limit 200]

Lists the content words that occur in at least --min-passages passages (stop words and numbers
left out) and belong to no glossary set yet (the shipped glossary and DIR/glossary.txt), grouped
by the term they are indexed under: Danish and Norwegian forms of a word meet in the shared
spelling (genbrug/gjenbruk), inflections in their stem. Most frequent first, one line per group
in glossary.txt format, with a comment saying in how many passages and languages it occurs.

To turn a line into a set: keep the base forms, add the words the other languages use (English
above all: that is what lets an English question find the text), join groups of one meaning, and
leave out generic words and words with two meanings. Then copy it into DIR/glossary.txt and run
`kb index`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path


def propose(root: Path, min_passages: int = 2) -> list[tuple[list[str], int, list[str]]]:
    """(words most frequent first, passages, languages) per uncovered index term, most frequent first."""
    from indexer.chunk import chunk_document
    from indexer.clean import clean_text
    from indexer.load import discover, load_document
    from kb.config import find_root, load_config
    from kb.errors import CorpusError
    from kb.lexical import glossary_concepts, index_term, stopwords, words

    paths = find_root(root)
    covered = glossary_concepts(load_config(paths).glossary)
    passages: Counter[tuple[str, str]] = Counter()  # (language, word) -> passages holding it
    for path in discover(paths.corpus):
        try:
            doc = load_document(path, paths.root)
        except CorpusError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        lang = doc.meta.language
        stop = stopwords(lang)
        for chunk in chunk_document(doc.meta.id, clean_text(doc.text, doc.meta), doc.pages):
            passages.update({(lang, w) for w in words(chunk.text) if w.isalpha() and len(w) > 2 and w not in stop})
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    languages: dict[str, set[str]] = defaultdict(set)
    for (lang, word), count in passages.items():
        term = index_term(word, lang)
        if term in covered:
            continue
        groups[term][word] += count
        languages[term].add(lang)
    found = []
    for term, forms in groups.items():
        total = max(forms.values())  # passages holding the group's most frequent form
        if total >= min_passages:
            found.append(([w for w, _ in sorted(forms.items(), key=lambda f: (-f[1], f[0]))], total, sorted(languages[term])))
    return sorted(found, key=lambda g: (-g[1], g[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=None, help="the knowledge base (default: the one here)")
    parser.add_argument("--min-passages", type=int, default=2, help="leave out words in fewer passages")
    parser.add_argument("--limit", type=int, default=200, help="print at most this many groups")
    args = parser.parse_args(argv)
    from kb.errors import KBError

    try:
        groups = propose(args.kb, args.min_passages)
    except KBError as exc:
        print(f"propose_glossary: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"# {len(groups)} groups of words in {args.min_passages}+ passages that no glossary set holds; review before use")
    for forms, total, langs in groups[: args.limit]:
        print(f"{' '.join(forms):<60} # {total} passages, {' '.join(langs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
