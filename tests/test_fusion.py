"""Fusion: its arithmetic by hand, and hybrid retrieval beating each of its halves, measured with
`kb eval --beir` on a small fixture.

The fixture has two kinds of questions: ones that name a project code (only exact words find
it: every text reads alike, so meaning cannot tell them apart) and English paraphrases of
Danish/Norwegian text (no shared words, so only meaning finds them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kb.retrieve import Candidates, _lexical_of, _normalise, _top, fuse, lexical_weight
from kb.store.base import LexicalScores, distinct_rows
from search_cli.app import cli

# -- the arithmetic, exact -------------------------------------------------------------------------


@pytest.mark.parametrize("coverage, full_weight, expected", [
    (0.0, 0.5, 0.0),      # no query word in the corpus vocabulary: BM25 has no say
    (1.0, 0.5, 0.5),      # every word known: the configured weight
    (0.5, 0.5, 0.125),    # squared: half the words, a quarter of the weight
    (0.8, 1.0, 0.64),
    (1.0, 0.0, 0.0),      # lexical_weight = 0 in kb.toml: dense only, whatever the coverage
])
def test_lexical_weight_grows_with_the_square_of_coverage(coverage, full_weight, expected):
    assert lexical_weight(coverage, full_weight) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("values, expected", [
    ([1.0, 2.0, 3.0], [-1.224744871, 0.0, 1.224744871]),   # population sd: sqrt(2/3)
    ([0.2, 0.2, 0.8, 0.8], [-1.0, -1.0, 1.0, 1.0]),
    ([5.0, 5.0, 5.0], [0.0, 0.0, 0.0]),                      # zero spread: no information, not NaN
    ([7.0], [0.0]),                                          # one candidate
])
def test_normalise_gives_z_scores_and_zero_without_spread(values, expected):
    got = _normalise(np.asarray(values, dtype=np.float32))
    assert got.shape == (len(values),) and not np.isnan(got).any()
    assert got == pytest.approx(np.asarray(expected), abs=1e-5)


def candidates(dense: list[float], lexical: list[float], coverage: float = 1.0) -> Candidates:
    return Candidates(np.arange(len(dense)), np.asarray(dense, dtype=np.float32),
                      np.asarray(lexical, dtype=np.float32), coverage)


@pytest.mark.parametrize("dense, lexical, weight, expected", [
    # weight 0: the dense z-scores alone; weight 1: the lexical ones alone
    ([0.9, 0.6, 0.3], [0.0, 5.0, 10.0], 0.0, [1.224744871, 0.0, -1.224744871]),
    ([0.9, 0.6, 0.3], [0.0, 5.0, 10.0], 1.0, [-1.224744871, 0.0, 1.224744871]),
    # opposite rankings at equal weight cancel out exactly
    ([0.9, 0.6, 0.3], [0.0, 5.0, 10.0], 0.5, [0.0, 0.0, 0.0]),
    # one candidate stands out on each side: the weight decides which one leads
    ([0.8, 0.8, 0.8, 0.9], [12.0, 0.0, 0.0, 0.0], 0.25, [0.0, -0.577350269, -0.577350269, 1.154700538]),
    ([0.8, 0.8, 0.8, 0.9], [12.0, 0.0, 0.0, 0.0], 0.75, [1.154700538, -0.577350269, -0.577350269, 0.0]),
    # no lexical score anywhere (zero coverage): the lexical side adds nothing, dense order stays
    ([0.5, 0.7], [0.0, 0.0], 0.5, [-0.5, 0.5]),
])
def test_fuse_is_the_weighted_sum_of_z_scores(dense, lexical, weight, expected):
    got = fuse(candidates(dense, lexical), weight)
    assert got == pytest.approx(np.asarray(expected), abs=1e-5)


def test_zero_coverage_ranks_exactly_as_dense():
    found = candidates([0.31, 0.52, 0.47, 0.12], [3.0, 0.0, 9.0, 1.0], coverage=0.0)
    fused = fuse(found, lexical_weight(found.coverage, 0.5))
    assert list(np.argsort(-fused, kind="stable")) == list(np.argsort(-found.dense, kind="stable")) == [1, 2, 0, 3]


def test_top_ranks_bm25_rows_best_first():
    found = LexicalScores(np.asarray([1, 2, 3, 4, 7]), np.asarray([2.5, 1.0, 4.0, 2.5, 0.5], dtype=np.float32))
    rows, best = _top(found, 3)
    assert list(rows) == [3, 1, 4] and list(best) == [4.0, 2.5, 2.5]  # ties keep row order
    rows, _ = _top(found, 10)
    assert list(rows) == [3, 1, 4, 2, 7]  # never more than the rows that share a word
    for k, empty in ((0, found), (5, LexicalScores(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)))):
        rows, best = _top(empty, k)
        assert rows.size == best.size == 0


def test_a_candidate_without_a_query_word_has_lexical_score_zero():
    found = LexicalScores(np.asarray([2, 5, 9]), np.asarray([1.5, 3.0, 0.25], dtype=np.float32))
    assert list(_lexical_of(found, np.asarray([0, 2, 3, 9, 12]))) == [0.0, 1.5, 0.0, 0.25, 0.0]


def test_distinct_rows_are_sorted_and_unique():
    assert list(distinct_rows(np.asarray([5, 1, 5, 3, 1], dtype=np.int32))) == [1, 3, 5]
    assert distinct_rows(np.asarray([], dtype=np.int32)).size == 0


# -- hybrid against its halves, on a fixture -------------------------------------------------------

TOPICS = [
    ("da", "Ældre borgere der føler sig ensomme får besøg af frivillige besøgsvenner hver uge.", "which project sends volunteers to visit lonely elderly people"),
    ("da", "Unge uden uddannelse får en mentor fra det lokale erhvervsliv, som hjælper dem i job.", "how do young people without education get a mentor from local businesses"),
    ("nb", "Innbyggerne planter og steller en felles parsellhage ved skolen sammen med elevene.", "where do residents and pupils grow vegetables together at the school"),
    ("da", "Kommunen og idrætsforeningerne laver gratis motion for borgere med diabetes.", "free exercise for people with diabetes run with sports clubs"),
    ("nb", "Flyktninger lærer norsk gjennom matlaging med frivillige i nabolaget.", "refugees learning the language by cooking with neighbours"),
    ("da", "Beboerne i boligområdet renoverer legepladsen sammen med kommunens gartnere.", "residents fixing up the playground with the council gardeners"),
]
CODES = ["KX-4417", "QB-2093", "ZL-7781"]  # three projects per topic, alike but for their code
FILLER = (  # short enough that a text is embedded whole, with no sentence windows besides
    "Projektet er et samarbejde mellem kommunen, lokale foreninger og borgerne i området, "
    "og resultaterne evalueres hvert år."
)


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("beir")
    (root / "qrels").mkdir()
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for topic, (lang, text, english) in enumerate(TOPICS):
        queries.append({"_id": f"meaning{topic}", "text": english, "split": "test"})
        for variant, code in enumerate(CODES):
            doc_id = f"doc{topic}-{variant}"
            code = f"{code[:3]}{topic}{code[4:]}"
            body = f"{text} {FILLER} Journalnummer {code}."
            corpus.append({"_id": doc_id, "title": "Projektbeskrivelse", "text": body})
            qrels.append(f"meaning{topic}\t{doc_id}\t1")
            if variant == 0:
                queries.append({"_id": f"code{topic}", "text": f"journalnummer {code}", "split": "test"})
                qrels.append(f"code{topic}\t{doc_id}\t1")
    # One file for both splits, reusing ids across them (as NorQuAD does): a dev question must
    # not take the place of the test question with its id.
    queries += [{"_id": f"code{topic}", "text": english, "split": "dev"} for topic, (_, _, english) in enumerate(TOPICS)]
    # An id naming two test questions cannot be scored: qrels do not say which line is whose.
    queries += [{"_id": "twice", "text": TOPICS[0][2], "split": "test"}, {"_id": "twice", "text": TOPICS[1][2], "split": "test"}]
    qrels += ["twice\tdoc0-0\t1", "twice\tdoc1-0\t1"]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in corpus) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return root


def evaluate(beir_dir: Path, workdir: Path, mode: str) -> dict:
    result = CliRunner().invoke(cli, ["eval", "--beir", str(beir_dir), "--split", "test", "--mode", mode,
                                      "--workdir", str(workdir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.quality
def test_hybrid_beats_dense_and_lexical_alone(beir_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    workdir = tmp_path_factory.mktemp("work")
    scores = {mode: evaluate(beir_dir, workdir, mode) for mode in ("dense", "lexical", "hybrid")}
    assert all(s["overall"]["queries"] == 12 and s["ambiguous_queries"] == ["twice"] for s in scores.values())
    mrr = {mode: s["overall"]["mrr_at_10"] for mode, s in scores.items()}
    assert mrr["hybrid"] > mrr["dense"], mrr
    assert mrr["hybrid"] > mrr["lexical"], mrr
    assert scores["hybrid"]["overall"]["hit_at_1"] >= 0.9, scores


def test_beir_errors_name_the_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--beir", str(tmp_path), "--split", "test"])
    assert result.exit_code != 0
    assert "qrels" in result.output or "corpus.jsonl" in result.output
    assert "Traceback" not in result.output


def test_beir_query_without_text_is_named(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "Tekst."}\n', encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "hvad?"}\n{"_id": "q2"}\n', encoding="utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "--beir", str(tmp_path), "--workdir", str(tmp_path / "work")])
    assert result.exit_code != 0
    assert "queries.jsonl:2: no \"text\"" in result.output
    assert "Traceback" not in result.output
