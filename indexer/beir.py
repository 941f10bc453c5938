"""Run the whole pipeline (chunking, indexing, hybrid search) on a BEIR-format benchmark.

The benchmark corpus becomes an ordinary knowledge base in a work folder (reused between
runs, so vectors are computed once); passages are ranked and folded into documents.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Optional

import yaml

from indexer.build import Progress, build_index
from indexer.language import detect_language
from kb.config import KBConfig, KBPaths
from kb.errors import UsageError
from kb.evaluate import EvalReport, evaluate_ranked_docs
from kb.knowledge_base import KnowledgeBase

PASSAGES_PER_QUERY = 60
LANGUAGE_SAMPLE_CHARS = 200_000  # of the corpus text, enough to tell da/nb/en apart
DEFAULT_LANGUAGE = "nb"  # when the sample does not tell
_LAYOUT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv"


def _lines(path: Path, missing: str) -> list[tuple[int, str]]:
    """Numbered non-blank lines of a UTF-8 file; a line that is not UTF-8 is named."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: missing; {missing}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{path}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); re-save the file as UTF-8"
            ) from None
        if line.strip():
            lines.append((number, line))
    return lines


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each line of a JSON Lines file; each line must be one object."""
    rows = []
    for number, line in _lines(path, _LAYOUT):
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: not valid JSON ({getattr(exc, 'msg', exc)}); each line holds one object") from None
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: a JSON object {{...}} is expected, not {_json_type(row)}")
        rows.append((number, row))
    return rows


def _json_type(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _field(path: Path, number: int, row: dict, name: str, *, required: bool) -> str:
    """A string field of a JSON line (ids may be numbers); anything else names file, line and field."""
    value = row.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, str) or (name == "_id" and isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    if value is None:
        raise UsageError(f'{path}:{number}: no "{name}"; every line needs "_id" and "text"')
    raise UsageError(f'{path}:{number}: "{name}" must be a string, not {_json_type(value)}')


def read_qrels(path: Path) -> dict[str, set[str]]:
    """Relevant documents by query id, from a TSV with a header naming query-id, corpus-id and score."""
    lines = _lines(path, "choose a split that has a qrels file")
    if not lines:
        raise UsageError(f"{path}: empty; it needs the header query-id<TAB>corpus-id<TAB>score and one line per judgement")
    header = [name.strip() for name in lines[0][1].split("\t")]
    if "query-id" not in header or "corpus-id" not in header:
        raise UsageError(f"{path}:{lines[0][0]}: the first line must be the header query-id<TAB>corpus-id<TAB>score, not {lines[0][1][:60]!r}")
    columns = {name: header.index(name) for name in ("query-id", "corpus-id", "score") if name in header}
    qrels: dict[str, set[str]] = {}
    for number, line in lines[1:]:
        cells = line.split("\t")
        if len(cells) < len(header):
            raise UsageError(f"{path}:{number}: {len(cells)} of {len(header)} fields; separate {', '.join(header)} by tabs")
        score = cells[columns["score"]].strip() if "score" in columns else "1"
        try:
            relevant = int(score) > 0
        except ValueError:
            raise UsageError(f"{path}:{number}: score {score!r} is not a whole number (0 = not relevant, 1 or more = relevant)") from None
        if relevant:
            qrels.setdefault(cells[columns["query-id"]].strip(), set()).add(cells[columns["corpus-id"]].strip())
    if not qrels:
        raise UsageError(f"{path}: no relevant documents (no line with a score above 0); nothing to evaluate")
    return qrels


def read_queries(path: Path, split: str) -> tuple[dict[str, str], list[str]]:
    """The questions of `split` by id, and the ids that name two different questions in it.

    A query with a `split` field belongs to that split only: BEIR conversions that keep both
    splits in one file may reuse an id across them (NorQuAD does for 40 questions). An id that
    still names two questions is ambiguous, since qrels cannot say which one a line is for.
    """
    queries: dict[str, str] = {}
    ambiguous: set[str] = set()
    for number, row in _read_jsonl(path):
        qid, text = _field(path, number, row, "_id", required=True), _field(path, number, row, "text", required=True)
        if row.get("split", split) != split:
            continue
        if queries.setdefault(qid, text) != text:
            ambiguous.add(qid)
    return queries, sorted(ambiguous)


def read_corpus(path: Path) -> list[tuple[str, str, str]]:
    """(id, title, text) of each document of corpus.jsonl."""
    return [
        (_field(path, number, row, "_id", required=True), _field(path, number, row, "title", required=False),
         _field(path, number, row, "text", required=True))
        for number, row in _read_jsonl(path)
    ]


def corpus_language(docs: list[tuple[str, str, str]]) -> str:
    """The corpus's language as kb's detector reads a sample of it; Norwegian when it cannot tell."""
    sample, size = [], 0
    for _doc_id, title, text in docs:
        if size >= LANGUAGE_SAMPLE_CHARS:
            break
        sample.append(f"{title}\n{text}")
        size += len(title) + len(text)
    return detect_language("\n".join(sample)) or DEFAULT_LANGUAGE


def prepare_workspace(
    beir_dir: Path, docs: list[tuple[str, str, str]], language: str, workdir: Optional[Path]
) -> tuple[KBPaths, dict[str, str]]:
    corpus_file = beir_dir / "corpus.jsonl"
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()[:12]
    root = workdir or Path(tempfile.gettempdir()) / f"kb-beir-{digest}"
    folder = root / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    id_map: dict[str, str] = {}
    for number, (beir_id, title, text) in enumerate(docs):
        doc_id = f"d{number:06d}"
        id_map[doc_id] = beir_id
        body = text if text.startswith(title) else f"# {title}\n\n{text}"
        meta = {"id": doc_id, "title": title or doc_id, "language": language, "kind": "article", "origin": f"{beir_dir.name}:{beir_id}"}
        path = folder / f"{doc_id}.md"
        content = f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n{body}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    return KBPaths(root), id_map


def evaluate_beir(
    beir_dir: Path, split: str, config: KBConfig, mode: str = "hybrid", language: Optional[str] = None,
    workdir: Optional[Path] = None, progress: Progress | None = None,
) -> EvalReport:
    """Scores of `mode` on the benchmark; `language` (da, nb, en) is what the lexical analyzer
    stems the corpus as, detected from the corpus when not given."""
    qrels = read_qrels(beir_dir / "qrels" / f"{split}.tsv")
    queries, ambiguous = read_queries(beir_dir / "queries.jsonl", split)
    qrels = {qid: docs for qid, docs in qrels.items() if qid not in ambiguous}
    unknown = [qid for qid in qrels if qid not in queries]
    if unknown:
        raise UsageError(f"qrels/{split}.tsv names query {unknown[0]!r}, which queries.jsonl does not hold for split {split!r}")
    docs = read_corpus(beir_dir / "corpus.jsonl")
    language = language or corpus_language(docs)
    paths, id_map = prepare_workspace(beir_dir, docs, language, workdir)
    build_index(paths, config, progress=progress)
    kb = KnowledgeBase(paths, config)
    ranked: dict[str, list[str]] = {}
    for number, qid in enumerate(qrels):
        hits = kb.search(queries[qid], k=PASSAGES_PER_QUERY, mode=mode).hits
        ranked[qid] = list(dict.fromkeys(id_map[h.doc_id] for h in hits))
        if progress:
            progress("searching", number + 1, len(qrels))
    kb.close()
    overall = evaluate_ranked_docs(ranked, qrels)
    return EvalReport(mode=mode, overall=overall, by_language={language: overall}, ambiguous_queries=ambiguous)
