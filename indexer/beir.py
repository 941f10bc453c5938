"""Run the whole pipeline (chunking, indexing, hybrid search) on a BEIR-format benchmark.

The benchmark corpus becomes an ordinary knowledge base in a work folder (reused between
runs, so vectors are computed once); passages are ranked and folded into documents.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Optional

import yaml

from indexer.build import Progress, build_index
from kb.config import KBConfig, KBPaths
from kb.errors import UsageError
from kb.evaluate import EvalReport, evaluate_ranked_docs
from kb.knowledge_base import KnowledgeBase

PASSAGES_PER_QUERY = 60


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise UsageError(f"{path}: missing; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    raise UsageError(f"{path}:{number}: not a JSON object") from None
    return rows


def read_qrels(path: Path) -> dict[str, set[str]]:
    if not path.is_file():
        raise UsageError(f"{path}: missing; choose a split that has a qrels file")
    qrels: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row.get("score", 1) or 0) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return qrels


def read_queries(path: Path, split: str) -> tuple[dict[str, str], list[str]]:
    """The questions of `split` by id, and the ids that name two different questions in it.

    A query with a `split` field belongs to that split only: BEIR conversions that keep both
    splits in one file may reuse an id across them (NorQuAD does for 40 questions). An id that
    still names two questions is ambiguous, since qrels cannot say which one a line is for.
    """
    queries: dict[str, str] = {}
    ambiguous: set[str] = set()
    for number, row in enumerate(_read_jsonl(path), start=1):
        if not isinstance(row, dict) or "_id" not in row or not isinstance(row.get("text"), str):
            raise UsageError(f"{path}: query {number} needs \"_id\" and \"text\"")
        if row.get("split", split) != split:
            continue
        qid = str(row["_id"])
        if queries.setdefault(qid, row["text"]) != row["text"]:
            ambiguous.add(qid)
    return queries, sorted(ambiguous)


def prepare_workspace(beir_dir: Path, language: str, workdir: Optional[Path]) -> tuple[KBPaths, dict[str, str]]:
    corpus_file = beir_dir / "corpus.jsonl"
    docs = _read_jsonl(corpus_file)
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()[:12]
    root = workdir or Path(tempfile.gettempdir()) / f"kb-beir-{digest}"
    folder = root / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    id_map: dict[str, str] = {}
    for number, doc in enumerate(docs):
        doc_id = f"d{number:06d}"
        id_map[doc_id] = str(doc["_id"])
        title, text = doc.get("title") or "", doc.get("text") or ""
        body = text if text.startswith(title) else f"# {title}\n\n{text}"
        meta = {"id": doc_id, "title": title or doc_id, "language": language, "kind": "article", "origin": f"{beir_dir.name}:{doc['_id']}"}
        path = folder / f"{doc_id}.md"
        content = f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n{body}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    return KBPaths(root), id_map


def evaluate_beir(
    beir_dir: Path, split: str, config: KBConfig, mode: str = "hybrid", language: str = "nb",
    workdir: Optional[Path] = None, progress: Progress | None = None,
) -> EvalReport:
    qrels = read_qrels(beir_dir / "qrels" / f"{split}.tsv")
    queries, ambiguous = read_queries(beir_dir / "queries.jsonl", split)
    qrels = {qid: docs for qid, docs in qrels.items() if qid not in ambiguous}
    paths, id_map = prepare_workspace(beir_dir, language, workdir)
    build_index(paths, config, progress=progress)
    kb = KnowledgeBase(paths, config)
    ranked: dict[str, list[str]] = {}
    for number, qid in enumerate(qrels):
        if qid not in queries:
            raise UsageError(f"qrels/{split}.tsv names query {qid}, which queries.jsonl does not hold for split {split!r}")
        hits = kb.search(queries[qid], k=PASSAGES_PER_QUERY, mode=mode).hits
        ranked[qid] = list(dict.fromkeys(id_map[h.doc_id] for h in hits))
        if progress:
            progress("searching", number + 1, len(qrels))
    kb.close()
    overall = evaluate_ranked_docs(ranked, qrels)
    return EvalReport(mode=mode, overall=overall, by_language={language: overall}, ambiguous_queries=ambiguous)
