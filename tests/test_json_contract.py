"""`kb search --json`: the stable shape other tools rely on."""

from __future__ import annotations

import json
import re

import pytest

from conftest import run_kb, run_kb_process
from indexer.chunk import chunk_document
from indexer.clean import clean_text
from indexer.load import load_document
from kb import KnowledgeBase

RESULT_KEYS = {"rank", "score", "chunk_id", "doc_id", "title", "language", "kind", "section", "citation", "text", "confidence"}
QUERY = "how do we build trust with skeptical citizens"


@pytest.fixture(scope="module")
def contract(shipped_kb) -> dict:
    run = run_kb(shipped_kb, "search", QUERY, "--top-k", "10", "--json")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    return run.json()


def test_stdout_is_exactly_one_json_object(shipped_kb):
    run = run_kb(shipped_kb, "search", QUERY, "--top-k", "10", "--json")
    assert run.exit_code == 0
    decoder = json.JSONDecoder()
    obj, end = decoder.raw_decode(run.stdout)
    assert isinstance(obj, dict)
    assert run.stdout[end:].strip() == ""  # nothing but the one object
    assert run.stderr == ""


def test_top_level_keys(contract):
    assert set(contract) == {"query", "model", "weak_match", "confidence", "results"}
    assert contract["query"] == QUERY
    assert contract["model"] == "fake:hashed-ngrams"
    assert isinstance(contract["results"], list) and len(contract["results"]) == 10
    assert type(contract["weak_match"]) is bool
    assert contract["confidence"] == max(r["confidence"] for r in contract["results"])


def test_result_fields_and_types(contract):
    for result in contract["results"]:
        assert set(result) == RESULT_KEYS
        assert type(result["rank"]) is int
        assert type(result["score"]) is float
        assert 0 <= result["confidence"] <= 1
        for key in RESULT_KEYS - {"rank", "score", "confidence"}:
            assert type(result[key]) is str, key
        assert result["chunk_id"].startswith(result["doc_id"] + "#")
        assert result["language"] in ("da", "nb", "en")
        assert re.fullmatch(r"corpus/documents/[\w.-]+\.txt:\d+(-\d+)?", result["citation"]), result["citation"]
        assert result["text"].strip()


def test_ranks_run_from_one_and_scores_do_not_increase(contract):
    results = contract["results"]
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len({r["chunk_id"] for r in results}) == len(results)


def test_text_is_the_whole_passage(shipped_kb, contract):
    kb = KnowledgeBase.open(shipped_kb)
    try:
        for result in contract["results"]:
            this, _before, _after = kb.passage(result["chunk_id"], context=0)
            assert result["text"] == this.text
            assert (result["section"], result["citation"], result["title"]) == (this.section, this.citation, this.title)
    finally:
        kb.close()


def test_text_equals_the_chunkers_passage_from_the_source_file(shipped_kb, contract):
    """Not truncated or rewritten on the way: the same text the chunker cut from the file."""
    by_doc: dict[str, dict[str, str]] = {}
    for result in contract["results"]:
        doc_id = result["doc_id"]
        if doc_id not in by_doc:
            path = shipped_kb / "corpus" / "documents" / f"{doc_id}.txt"
            doc = load_document(path, shipped_kb)
            by_doc[doc_id] = {c.chunk_id: c.text for c in chunk_document(doc_id, clean_text(doc.text, doc.meta), doc.pages)}
        assert result["text"] == by_doc[doc_id][result["chunk_id"]]


def test_show_prints_the_same_passage(shipped_kb, contract):
    top = contract["results"][0]
    proc = run_kb_process(shipped_kb, "show", top["chunk_id"], "--context", "0")
    assert proc.returncode == 0, proc.stderr
    shown = " ".join(proc.stdout.split())
    assert " ".join(top["text"].split()) in shown
    assert top["citation"] in shown and top["chunk_id"] in shown


def test_top_k_bounds_the_number_of_results(shipped_kb):
    for k in ("1", "3"):
        run = run_kb(shipped_kb, "search", QUERY, "--json", "-k", k)
        assert run.exit_code == 0
        assert len(run.json()["results"]) == int(k)


def test_json_flag_and_format_json_agree(shipped_kb):
    a = run_kb(shipped_kb, "search", QUERY, "--json", "-k", "5")
    b = run_kb(shipped_kb, "search", QUERY, "--format", "json", "-k", "5")
    assert a.exit_code == b.exit_code == 0
    assert a.json() == b.json()


def test_no_results_is_an_empty_list(shipped_kb):
    run = run_kb(shipped_kb, "search", QUERY, "--json", "--lang", "en")
    assert run.exit_code == 0, run.output
    assert run.json() == {"query": QUERY, "model": "fake:hashed-ngrams", "weak_match": True, "confidence": 0.0, "results": []}


def test_json_survives_non_ascii(shipped_kb):
    run = run_kb(shipped_kb, "search", "Hvad betyder ægte samskabelse på tværs af sektorer?", "--json", "-k", "2")
    assert run.exit_code == 0, run.output
    data = run.json()
    assert data["query"] == "Hvad betyder ægte samskabelse på tværs af sektorer?"
    assert "æ" in run.stdout or "ø" in run.stdout or "å" in run.stdout  # written as text, not \\u escapes

