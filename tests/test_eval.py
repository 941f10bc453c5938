"""Retrieval evaluation: metric arithmetic, labeled query files, and `kb eval` on the shipped set."""

from __future__ import annotations

import json
import math
import re

import pytest

from conftest import run_kb
from test_cli_errors import assert_one_line_error
from kb.errors import UsageError
from kb.evaluate import aggregate, evaluate_ranked_docs, first_relevant_rank, is_answer, load_query_set, ndcg


# -- metric arithmetic --------------------------------------------------------------------------------

def test_single_query_second_rank():
    m = aggregate([([False, True, False], 1)])
    assert m.queries == 1
    assert m.hit_at_1 == 0.0 and m.hit_at_5 == 1.0
    assert m.mrr_at_10 == 0.5
    assert m.ndcg_at_10 == pytest.approx(1 / math.log2(3), abs=1e-4)


def test_ndcg_by_hand():
    assert ndcg([True], 1) == 1.0
    assert ndcg([False, True, False], 1) == pytest.approx(1 / math.log2(3))
    # two relevant items found at ranks 1 and 3 of two relevant in all
    assert ndcg([True, False, True], 2) == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    # one of three relevant items found, at rank 1
    assert ndcg([True, False], 3) == pytest.approx(1 / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert ndcg([False, False], 1) == 0.0
    assert ndcg([], 0) == 0.0
    # only the top 10 count
    assert ndcg([False] * 10 + [True], 1) == 0.0


def test_aggregate_averages_over_queries():
    per_query = [
        ([True], 1),                         # rank 1
        ([False, True, False], 1),           # rank 2
        ([False] * 5 + [True], 1),           # rank 6: not a hit@5, MRR 1/6
        ([False] * 10 + [True], 1),          # rank 11: nothing
    ]
    m = aggregate(per_query)
    assert m.queries == 4
    assert m.hit_at_1 == 0.25
    assert m.hit_at_5 == 0.5
    assert m.mrr_at_10 == pytest.approx((1 + 0.5 + 1 / 6 + 0) / 4, abs=1e-4)
    expected_ndcg = (1 + 1 / math.log2(3) + 1 / math.log2(7) + 0) / 4
    assert m.ndcg_at_10 == pytest.approx(expected_ndcg, abs=1e-4)


def test_aggregate_of_nothing_is_zero():
    m = aggregate([])
    assert (m.queries, m.hit_at_1, m.hit_at_5, m.mrr_at_10, m.ndcg_at_10) == (0, 0, 0, 0, 0)


def test_first_relevant_rank():
    assert first_relevant_rank([False, False, True, True]) == 3
    assert first_relevant_rank([False]) is None


def test_ranked_documents_against_qrels():
    m = evaluate_ranked_docs({"q1": ["d2", "d1"], "q2": ["d9"]}, {"q1": {"d1"}, "q2": {"d3"}})
    assert m.queries == 2 and m.mrr_at_10 == 0.25 and m.hit_at_5 == 0.5


def test_is_answer_ignores_case_spacing_and_punctuation():
    passage = "Som udgangspunkt er borgerne skeptiske, når kommunen inviterer til samskabelse.\n\nDerfor begynder ..."
    assert is_answer(passage, ["som udgangspunkt er borgerne  SKEPTISKE når kommunen inviterer"])
    assert not is_answer(passage, ["borgerne er glade for kommunen og alt hvad den gør"])


# -- query files ------------------------------------------------------------------------------------

GOOD = """\
queries:
  - id: en-01
    lang: en
    split: dev
    query: "how do we build trust with skeptical citizens"
    doc: tverskov-samskabelse-i-kommuner
    answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]
  - id: da-01
    lang: da
    query: "hvordan opbygger vi tillid hos skeptiske borgere"
    doc: tverskov-samskabelse-i-kommuner
    answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "queries.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_good_query_set(tmp_path):
    qs = load_query_set(write(tmp_path, GOOD))
    assert [q.id for q in qs.queries] == ["en-01", "da-01"]
    assert qs.queries[1].split == "test"  # the default split


def test_yes_no_on_off_in_a_query_set_are_words(tmp_path):
    """Only true/false are booleans in user YAML: a query or answer may be a bare yes, no, on or off."""
    text = GOOD.replace('query: "hvordan opbygger vi tillid hos skeptiske borgere"', "query: NO").replace(
        "id: da-01", "id: on")
    qs = load_query_set(write(tmp_path, text))
    assert [q.id for q in qs.queries] == ["en-01", "on"] and qs.queries[1].query == "NO"


@pytest.mark.parametrize(
    "change, needles",
    [
        (lambda t: t.replace("    doc: tverskov-samskabelse-i-kommuner\n", "", 1), ["query 1", "en-01", "doc"]),
        (lambda t: t.replace("lang: da", "lang: de"), ["query 2", "da-01", "lang"]),
        (lambda t: t.replace('    answers: ["Derfor begynder', '    notes: ["Derfor begynder', 1), ["query 1", "en-01", "answers"]),
        (lambda t: t.replace("split: dev", "split: train"), ["query 1", "en-01", "split"]),
        (lambda t: t.replace("id: da-01", "id: en-01"), ["en-01", "twice"]),
        (lambda t: t.replace('query: "how do we build trust with skeptical citizens"', 'query: "how do we build trust'), ["line", "YAML"]),
        (lambda t: t.replace("    lang: en\n", "    lang: en\n    lnag: en\n", 1), ["query 1", "en-01", "lnag"]),
        (lambda _t: "queries: []\n", ["queries"]),
        (lambda _t: "- just a list\n", ["queries"]),
    ],
    ids=["missing-doc", "bad-lang", "missing-answers", "bad-split", "duplicate-id", "invalid-yaml",
         "unknown-field", "no-queries", "not-a-mapping"],
)
def test_bad_query_files_raise_usage_error_naming_query_and_field(tmp_path, change, needles):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(UsageError) as info:
        load_query_set(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_missing_query_file(tmp_path):
    with pytest.raises(UsageError, match="no such query file"):
        load_query_set(tmp_path / "nope.yaml")


def test_shipped_query_set_loads():
    from conftest import SHIPPED_EVAL

    qs = load_query_set(SHIPPED_EVAL / "queries.yaml")
    assert len(qs.queries) == 72
    assert {q.lang for q in qs.queries} == {"en", "da", "nb"}


# -- kb eval on the shipped corpus --------------------------------------------------------------------

ROW = re.compile(r"^(all|da|en|nb)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", re.M)


@pytest.mark.quality
def test_kb_eval_prints_a_table(shipped_kb_real):
    run = run_kb(shipped_kb_real, "eval", "--no-misses")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0] == "mode: hybrid"
    assert lines[1].split() == ["queries", "hit@1", "hit@5", "MRR@10", "nDCG@10"]
    rows = {m.group(1): [int(m.group(2))] + [float(x) for x in m.group(3, 4, 5, 6)] for m in ROW.finditer(run.stdout)}
    assert set(rows) == {"all", "da", "en", "nb"}
    assert rows["all"][0] == 72 and rows["da"][0] == rows["en"][0] == rows["nb"][0] == 24
    for name, (_n, hit1, hit5, mrr, ndcg10) in rows.items():
        assert 0 <= hit1 <= hit5 <= 1 and 0 <= mrr <= 1 and 0 <= ndcg10 <= 1, name
        assert hit1 <= mrr, name
    # a floor far below what the shipped pipeline reaches: catches a broken retriever, not a tuning change
    assert rows["all"][2] >= 0.5 and rows["all"][3] >= 0.4, rows["all"]
    assert "not first" not in run.stdout


@pytest.mark.quality
def test_kb_eval_json_on_a_custom_file_with_splits_and_modes(shipped_kb_real, tmp_path):
    path = write(tmp_path, GOOD)
    run = run_kb(shipped_kb_real, "eval", str(path), "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["mode"] == "hybrid" and report["overall"]["queries"] == 2
    assert sorted(report["by_language"]) == ["da", "en"]
    # both trust questions are answered by the first passage
    assert report["misses"] == [], report["misses"]
    assert report["overall"]["hit_at_1"] == 1.0 and report["overall"]["mrr_at_10"] == 1.0

    run = run_kb(shipped_kb_real, "eval", str(path), "--split", "dev", "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["overall"]["queries"] == 1 and list(report["by_language"]) == ["en"]

    run = run_kb(shipped_kb_real, "eval", str(path), "--mode", "lexical", "--split", "test", "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["mode"] == "lexical" and report["overall"]["queries"] == 1
    assert list(report["by_language"]) == ["da"]


def test_kb_eval_lists_misses_with_expected_and_first(shipped_kb, tmp_path):
    wrong = GOOD.replace(
        'answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]\n  - id: da-01',
        'answers: ["Skab et kommunalt vidensnetværk, der mødes fire gange om året"]\n  - id: da-01',
    )
    run = run_kb(shipped_kb, "eval", str(write(tmp_path, wrong)))
    assert run.exit_code == 0, run.output
    assert "not first (1):" in run.stdout
    assert "- en-01 [en] 'how do we build trust with skeptical citizens'" in run.stdout
    assert "expected tverskov-samskabelse-i-kommuner: Skab et kommunalt vidensnetværk" in run.stdout
    assert re.search(r"^    first    [\w-]+#\d+ \(corpus/documents/[\w.-]+\.txt:\d+(-\d+)?\): \S", run.stdout, re.M), run.stdout


def test_kb_eval_errors_are_one_line(shipped_kb, tmp_path):
    path = write(tmp_path, GOOD.replace("lang: da", "lang: de"))
    run = run_kb(shipped_kb, "eval", str(path))
    run.assert_no_traceback()
    assert run.exit_code == 2 and run.stdout == ""
    (line,) = run.stderr_lines()
    assert line.startswith("kb: error:") and "da-01" in line and "lang" in line

    path = write(tmp_path, GOOD.replace("doc: tverskov-samskabelse-i-kommuner", "doc: no-such-doc"))
    run = run_kb(shipped_kb, "eval", str(path))
    run.assert_no_traceback()
    assert run.exit_code != 0
    (line,) = run.stderr_lines()
    assert line.startswith("kb: error:") and "no-such-doc" in line


def test_also_counts_a_passage_of_another_document_as_an_answer(shipped_kb, tmp_path):
    # The trust passage is in Tverskov; labelled only with a manifest excerpt, the query misses.
    elsewhere = GOOD.replace(
        'doc: tverskov-samskabelse-i-kommuner\n    answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]\n  - id: da-01',
        'doc: manifest-for-samskabelse\n    answers: ["Alle har ret til at initiere samskabelse"]\n  - id: da-01',
    )
    also = elsewhere.replace(
        'answers: ["Alle har ret til at initiere samskabelse"]',
        'answers: ["Alle har ret til at initiere samskabelse"]\n'
        '    also:\n      tverskov-samskabelse-i-kommuner: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]',
    )
    scores = {}
    for name, text in (("elsewhere", elsewhere), ("also", also)):
        run = run_kb(shipped_kb, "eval", str(write(tmp_path, text)), "--split", "dev", "--json")
        assert run.exit_code == 0, run.output
        scores[name] = json.loads(run.stdout)["overall"]["hit_at_1"]
    assert scores == {"elsewhere": 0.0, "also": 1.0}


def test_an_answer_no_passage_holds_is_a_named_error(shipped_kb, tmp_path):
    broken = GOOD.replace(
        'answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]\n  - id: da-01',
        'answers: ["Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning"]\n'
        '    also:\n      manifest-for-samskabelse: ["a sentence the manifest does not contain anywhere"]\n  - id: da-01',
    )
    path = write(tmp_path, broken)
    run = run_kb(shipped_kb, "eval", str(path))
    run.assert_no_traceback()
    assert run.exit_code == 2 and run.stdout == ""
    (line,) = run.stderr_lines()
    assert str(path) in line and "en-01" in line and "manifest-for-samskabelse" in line and "copy the excerpt" in line


def test_fusion_ceiling_reproduces_kb_eval_and_bounds_it(shipped_kb):
    """bench.ceiling ranks through the same candidates and fusion as `kb search`: its configured
    column is `kb eval`'s hybrid row, and no weight choice it reports falls below it."""
    from bench.ceiling import measure
    from kb.knowledge_base import KnowledgeBase

    run = run_kb(shipped_kb, "eval", "--json")
    assert run.exit_code == 0, run.output
    expected = json.loads(run.stdout)
    report = measure(KnowledgeBase.open(shipped_kb), shipped_kb / "eval" / "queries.yaml")
    assert report["all"]["configured"] == expected["overall"]
    for lang, metrics in expected["by_language"].items():
        assert report[lang]["configured"] == metrics, lang
    for lang, row in report.items():
        best, configured, fixed = row["per_question_best"], row["configured"], row["best_fixed"]
        assert best["mrr_at_10"] >= max(configured["mrr_at_10"], fixed["mrr_at_10"]), lang
        assert best["hit_at_5"] >= max(configured["hit_at_5"], fixed["hit_at_5"]), lang


# -- BEIR folders -------------------------------------------------------------------------------------

BEIR_DOCS = [
    {"_id": "d1", "title": "Tillid", "text": "Borgerne er ofte skeptiske, når kommunen inviterer til samarbejde om nye "
     "løsninger. Derfor begynder samskabelse med tillid, og efter mange år med høringer vil vi nu inddrage dem."},
    {"_id": 2, "title": "Frivillige", "text": "Frivillige foreninger er vigtige partnere for kommunen, fordi de kender "
     "lokalområdet og når nogle borgere, som kommunen ikke selv når. Hvad kræver det af medarbejderne?"},
]
BEIR_QUERIES = [{"_id": "q1", "text": "skeptiske borgere og tillid"}, {"_id": "q2", "text": "frivillige foreninger"}]
BEIR_QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t2\t1\n"


def beir_folder(root, corpus=None, queries=None, qrels: str | bytes = BEIR_QRELS):
    """A BEIR folder; `corpus` and `queries` are lists of objects, or raw bytes for a broken file."""
    (root / "qrels").mkdir(parents=True)
    for name, rows in (("corpus.jsonl", corpus or BEIR_DOCS), ("queries.jsonl", queries or BEIR_QUERIES)):
        data = rows if isinstance(rows, bytes) else "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
        (root / name).write_bytes(data)
    (root / "qrels" / "test.tsv").write_bytes(qrels if isinstance(qrels, bytes) else qrels.encode())
    return root


def jsonl(rows: list, broken_line: str) -> bytes:
    """JSON lines with line 2 replaced by `broken_line`."""
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines[1] = broken_line
    return "\n".join(lines).encode("utf-8")


BAD_BEIR = {
    "qrels-score-abc": ({"qrels": BEIR_QRELS.replace("q2\t2\t1", "q2\t2\tabc")}, ("qrels/test.tsv:3", "score 'abc'")),
    "qrels-short-line": ({"qrels": BEIR_QRELS.replace("q2\t2\t1", "q2 2 1")}, ("qrels/test.tsv:3", "tabs")),
    "qrels-empty": ({"qrels": ""}, ("qrels/test.tsv", "empty")),
    "qrels-no-header": ({"qrels": "q1\td1\t1\nq2\t2\t1\n"}, ("qrels/test.tsv:1", "header")),
    "qrels-nothing-relevant": ({"qrels": "query-id\tcorpus-id\tscore\nq1\td1\t0\n"}, ("qrels/test.tsv", "no relevant")),
    "qrels-latin1": ({"qrels": BEIR_QRELS.replace("q2", "spørgsmål").encode("latin-1")}, ("qrels/test.tsv:3", "UTF-8")),
    "corpus-line-is-a-list": ({"corpus": jsonl(BEIR_DOCS, '["d2", "Frivillige"]')}, ("corpus.jsonl:2", "JSON object", "a list")),
    "corpus-not-json": ({"corpus": jsonl(BEIR_DOCS, '{"_id": "d2", ')}, ("corpus.jsonl:2", "not valid JSON")),
    "corpus-without-id": ({"corpus": jsonl(BEIR_DOCS, '{"title": "T", "text": "Tekst."}')}, ("corpus.jsonl:2", '"_id"')),
    "corpus-text-a-number": ({"corpus": jsonl(BEIR_DOCS, '{"_id": "d2", "text": 123}')}, ("corpus.jsonl:2", '"text" must be a string')),
    "corpus-latin1": ({"corpus": jsonl(BEIR_DOCS, '{"_id": "d2", "text": "Århus"}').replace("Århus".encode(), "Århus".encode("latin-1"))},
                      ("corpus.jsonl:2", "not UTF-8", "0xc5")),
    "query-text-a-list": ({"queries": jsonl(BEIR_QUERIES, '{"_id": "q2", "text": ["frivillige"]}')}, ("queries.jsonl:2", '"text"')),
    "qrels-unknown-query": ({"qrels": BEIR_QRELS + "q9\td1\t1\n"}, ("qrels/test.tsv", "'q9'")),
}


@pytest.mark.parametrize("case", list(BAD_BEIR))
def test_a_bad_beir_line_is_one_line_naming_file_and_line(tmp_path, case):
    """Malformed benchmark files stop `kb eval --beir` before any indexing, naming file and line."""
    files, mentions = BAD_BEIR[case]
    folder = beir_folder(tmp_path / "beir", **files)
    run = run_kb(None, "eval", "--beir", str(folder), "--workdir", str(tmp_path / "work"))
    assert_one_line_error(run, usage=True, mentions=mentions)
    assert not (tmp_path / "work").exists()


def test_beir_language_is_detected_or_given(make_kb, tmp_path):
    """The benchmark corpus is stemmed as its language: Danish detected here, or --lang."""
    root = make_kb({})
    folder = beir_folder(tmp_path / "beir")
    detected = run_kb(root, "eval", "--beir", str(folder), "--workdir", str(tmp_path / "work"), "--json")
    assert detected.exit_code == 0, detected.output
    report = detected.json()
    assert list(report["by_language"]) == ["da"] and report["overall"]["queries"] == 2
    assert "language: da" in (tmp_path / "work" / "corpus" / "d000000.md").read_text(encoding="utf-8")
    given = run_kb(root, "eval", "--beir", str(folder), "--workdir", str(tmp_path / "work"), "--lang", "nb", "--json")
    assert given.exit_code == 0, given.output
    assert list(given.json()["by_language"]) == ["nb"]
    assert "language: nb" in (tmp_path / "work" / "corpus" / "d000000.md").read_text(encoding="utf-8")
    assert_one_line_error(run_kb(root, "eval", "--lang", "nb"), usage=True, mentions=("--lang", "--beir"))


def test_beir_language_is_norwegian_when_the_text_does_not_tell(tmp_path):
    from indexer.beir import corpus_language

    assert corpus_language([("1", "", "Samskabelse.")]) == "nb"
    assert corpus_language([("1", "The plan", "The municipality and the citizens who were involved in it.")]) == "en"
