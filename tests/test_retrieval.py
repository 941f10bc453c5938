"""Cross-lingual retrieval on the shipped corpus, and the library API with its filters."""

from __future__ import annotations

import pytest

from conftest import STORES, run_kb
from kb import KnowledgeBase
from kb.errors import IndexMissing, UsageError
from kb.glossary import shipped_glossary
from kb.lexical import LexicalIndex, shared_spelling
from kb.models import Hit, SearchResult

TVERSKOV = "tverskov-samskabelse-i-kommuner"
TRUST_QUERIES = {
    "en": "how do we build trust with skeptical citizens",
    "da": "hvordan opbygger vi tillid hos skeptiske borgere",
    "nb": "hvordan bygger vi tillit hos skeptiske innbyggere",
}


@pytest.fixture(scope="module", params=STORES)
def shipped(request):
    """The shipped corpus (fake encoder), its index in the local files and in PostgreSQL in turn."""
    kb = KnowledgeBase.open(request.getfixturevalue("shipped_kb" if request.param == "local" else "shipped_kb_postgres"))
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def shipped_real(shipped_kb_real):
    kb = KnowledgeBase.open(shipped_kb_real)
    yield kb
    kb.close()


@pytest.mark.quality
@pytest.mark.parametrize("lang", list(TRUST_QUERIES))
def test_trust_question_finds_the_tverskov_passage_in_any_language(shipped_kb_real, lang):
    run = run_kb(shipped_kb_real, "search", TRUST_QUERIES[lang], "--json", "-k", "3")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    results = run.json()["results"]
    assert len(results) == 3
    wanted = [r for r in results if r["doc_id"] == TVERSKOV and "skeptiske" in r["text"] and "tillidsopbygning" in r["text"]]
    assert wanted, [(r["rank"], r["chunk_id"], r["text"][:60]) for r in results]
    assert wanted[0]["section"] == "Det kræver dialog, vidensdeling, kompetenceudvikling og ledelsesopbaking"
    assert wanted[0]["citation"].startswith(f"corpus/documents/{TVERSKOV}.txt:")


@pytest.mark.quality
@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_each_retriever_alone_still_finds_the_danish_answer(shipped_real, mode):
    hits = shipped_real.search(TRUST_QUERIES["da"], k=5, mode=mode).hits
    assert any(h.doc_id == TVERSKOV and "tillidsopbygning" in h.text for h in hits), [h.chunk_id for h in hits]


def test_library_search_returns_typed_results(shipped):
    result = shipped.search(TRUST_QUERIES["en"], k=3)
    assert isinstance(result, SearchResult)
    assert result.query == TRUST_QUERIES["en"]
    assert result.model == "fake:hashed-ngrams" and result.mode == "hybrid"
    assert len(result.hits) == 3
    assert all(isinstance(h, Hit) for h in result.hits)
    assert [h.rank for h in result.hits] == [1, 2, 3]
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    for hit in result.hits:
        assert hit.citation == f"{hit.path}:{hit.line_start}" or hit.citation == f"{hit.path}:{hit.line_start}-{hit.line_end}"
        assert hit.path.startswith("corpus/documents/") and hit.line_start <= hit.line_end
        assert hit.text.strip() and hit.title and hit.language in ("da", "nb", "en")


def test_warmed_up_search_answers_exactly_like_a_plain_one(shipped_kb, monkeypatch):
    """`kb shell` loads the encoder in the background while the prompt waits; the first answer
    must be the one a plain search gives."""
    import threading

    import kb.embed

    loaded_in: list[str] = []
    load = kb.embed.load_embedder
    monkeypatch.setattr(kb.embed, "load_embedder", lambda spec: loaded_in.append(threading.current_thread().name) or load(spec))
    warmed = KnowledgeBase.open(shipped_kb)
    warmed.warm_up()
    plain = KnowledgeBase.open(shipped_kb)
    for knowledge_base in (warmed, plain):
        result = knowledge_base.search(TRUST_QUERIES["nb"], k=5)
        assert result.hits and result.hits[0].doc_id == TVERSKOV
    assert [(h.chunk_id, h.score) for h in warmed.search(TRUST_QUERIES["nb"], k=5).hits] == [
        (h.chunk_id, h.score) for h in plain.search(TRUST_QUERIES["nb"], k=5).hits
    ]
    assert loaded_in[0].startswith("kb-encoder") and loaded_in[1:] == ["MainThread"], loaded_in


def test_library_query_is_trimmed_and_validated(shipped):
    assert shipped.search(f"  {TRUST_QUERIES['da']}\n", k=1).query == TRUST_QUERIES["da"]
    for bad in ("", "   "):
        with pytest.raises(UsageError):
            shipped.search(bad)
    with pytest.raises(UsageError):
        shipped.search("x" * 5000)
    for k in (0, -1, 201):
        with pytest.raises(UsageError):
            shipped.search(TRUST_QUERIES["da"], k=k)
    with pytest.raises(UsageError):
        shipped.search(TRUST_QUERIES["da"], lang="de")


def test_questions_embedded_together_search_as_each_alone(shipped):
    """The server embeds the questions waiting together in one encoder call, then searches each
    with its own vector: every answer is the one a search on its own gives."""
    questions = list(TRUST_QUERIES.values())
    vectors = shipped.query_vectors(questions)
    assert vectors.shape == (len(questions), shipped.manifest.dim)
    for question, vector in zip(questions, vectors):
        for mode in ("hybrid", "dense"):
            assert shipped.search(question, k=5, mode=mode, vector=vector) == shipped.search(question, k=5, mode=mode)
    with pytest.raises(UsageError):
        shipped.query_vectors([questions[0], "   "])


def test_language_filter_restricts_results(shipped):
    unfiltered = shipped.search(TRUST_QUERIES["nb"], k=10).hits
    assert {h.language for h in unfiltered} - {"nb"}, "the query must also match non-Norwegian text"
    hits = shipped.search(TRUST_QUERIES["nb"], k=10, lang="nb").hits
    assert hits, "the Norwegian slides are in the index"
    assert {h.language for h in hits} == {"nb"}
    assert {h.doc_id for h in hits} == {"kobro-verktoy-for-samskaping"}
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert shipped.search(TRUST_QUERIES["nb"], k=3, lang="all").hits[0].doc_id == unfiltered[0].doc_id
    assert shipped.search(TRUST_QUERIES["nb"], k=5, lang="en").hits == []


def test_kind_filter_restricts_results(shipped):
    hits = shipped.search(TRUST_QUERIES["en"], k=5, kind="slides").hits
    assert hits and {h.kind for h in hits} == {"slides"}
    hits = shipped.search(TRUST_QUERIES["en"], k=5, kind="manifesto").hits
    assert hits and {h.doc_id for h in hits} == {"manifest-for-samskabelse"}
    hits = shipped.search(TRUST_QUERIES["en"], k=5, kind="course-offer", lang="da").hits
    assert hits and {h.doc_id for h in hits} <= {TVERSKOV, "samskabelseslaboratoriet"}
    assert hits[0].doc_id == TVERSKOV
    assert shipped.search(TRUST_QUERIES["en"], k=5, kind="slides", lang="da").hits == []


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_filters_hold_in_every_mode(shipped, mode):
    hits = shipped.search("samskaping verktøy likeverdighet", k=8, lang="da", mode=mode).hits
    assert hits and all(h.language == "da" for h in hits)
    hits = shipped.search("samskabelse tillid", k=8, doc_ids=["samskabelseslaboratoriet"], mode=mode).hits
    assert hits and all(h.doc_id == "samskabelseslaboratoriet" for h in hits)


@pytest.mark.parametrize("store", STORES)
def test_cli_filters_match_the_library(store, request):
    shipped_kb = request.getfixturevalue("shipped_kb" if store == "local" else "shipped_kb_postgres")
    run = run_kb(shipped_kb, "search", TRUST_QUERIES["da"], "--json", "--lang", "nb", "--kind", "slides", "-k", "4")
    assert run.exit_code == 0, run.output
    results = run.json()["results"]
    assert results and {(r["language"], r["kind"]) for r in results} == {("nb", "slides")}
    run = run_kb(shipped_kb, "search", TRUST_QUERIES["da"], "--json", "--doc", "samskabelseslaboratoriet",
                 "--doc", "kom-godt-i-gang-med-samskabelse", "-k", "10")
    assert run.exit_code == 0, run.output
    assert {r["doc_id"] for r in run.json()["results"]} <= {"samskabelseslaboratoriet", "kom-godt-i-gang-med-samskabelse"}


def test_passage_with_neighbours(shipped):
    this, before, after = shipped.passage(f"{TVERSKOV}#2", context=1)
    assert this.chunk_id == f"{TVERSKOV}#2" and "tillidsopbygning" in this.text
    assert [h.chunk_id for h in before] == [f"{TVERSKOV}#1"]
    assert [h.chunk_id for h in after] == [f"{TVERSKOV}#3"]
    this, before, after = shipped.passage(f"{TVERSKOV}#1", context=2)
    assert before == [] and [h.chunk_id for h in after] == [f"{TVERSKOV}#2", f"{TVERSKOV}#3"]
    with pytest.raises(UsageError):
        shipped.passage("no-such-id")


def test_documents_lists_the_shipped_corpus(shipped):
    docs = {d["doc_id"]: d for d in shipped.documents()}
    assert set(docs) == {
        "kom-godt-i-gang-med-samskabelse", "samskabelseslaboratoriet", "manifest-for-samskabelse",
        TVERSKOV, "kobro-verktoy-for-samskaping",
    }
    assert docs["kobro-verktoy-for-samskaping"]["language"] == "nb"
    assert docs["manifest-for-samskabelse"]["kind"] == "manifesto"
    assert all(d["chunks"] > 0 for d in docs.values())


def test_library_on_an_unindexed_knowledge_base_says_run_kb_index(make_kb):
    kb = KnowledgeBase.open(make_kb())
    with pytest.raises(IndexMissing, match="kb index"):
        kb.search(TRUST_QUERIES["da"])


def test_english_words_reach_danish_text_through_the_glossary(shipped):
    """BM25 alone, an English question without a Danish word: the glossary carries it over."""
    hits = shipped.search("trust with skeptical citizens", k=3, mode="lexical").hits
    assert any(h.doc_id == TVERSKOV and "tillidsopbygning" in h.text for h in hits), [h.chunk_id for h in hits]
    terms = shipped.generation.analyzer.terms("solutions to challenges")
    assert all(qw.concepts for qw in terms.words), terms  # løsning(er), udfordring(er) …


@pytest.mark.parametrize("danish, norwegian", [
    ("samskabe", "samskape"), ("tillid", "tillit"), ("medarbejdere", "medarbeidere"),
    ("indbyggere", "innbyggere"), ("værktøj", "verktøy"), ("proces", "prosess"), ("kundskab", "kunnskap"),
])
def test_danish_and_norwegian_spellings_of_a_word_meet(danish, norwegian):
    assert shared_spelling(danish) == shared_spelling(norwegian)


def test_norwegian_words_find_danish_text_without_the_glossary():
    """BM25 alone: fortelle/fortælle and opprinnelig/oprindelig are in no glossary set; the shared
    spelling joins them."""
    texts = [
        "Medarbejderne fortæller om den oprindelige plan, når de samarbejder med borgerne.",
        "Foreningen holder generalforsamling i marts, og alle medlemmer er velkomne.",
    ]
    index = LexicalIndex.build(texts, ["da", "da"], shipped_glossary())
    terms = index.terms("fortelle opprinnelig")
    assert not any(qw.concepts for qw in terms.words), terms
    scores = index.scores(terms, len(texts))
    assert scores[0] > 0 and scores[1] == 0, scores
    assert index.coverage(terms) == 1.0
    spans = index.matching_spans(texts[0], "da", terms)
    assert [texts[0][a:b] for a, b in spans] == ["fortæller", "oprindelige"]


def test_a_glossary_set_counts_as_one_term_across_languages():
    """"samskaping" is rare (one Norwegian passage) and "samskabelse" common, but an English
    question about co-creation scores them alike, and its words highlight the Danish ones."""
    filler = " og kommunen mødes med foreningerne i byen om ugen"
    texts = [
        "Samskabelse med borgerne" + filler,
        "Samskabelse med de frivillige" + filler,
        "Samskabelse med virksomhederne" + filler,
        "Samskaping med innbyggerne" + filler,
    ]
    index = LexicalIndex.build(texts, ["da", "da", "da", "nb"], shipped_glossary())
    for question in ("co-creation", "samskabelse", "samskaping"):
        scores = index.scores(index.terms(question), len(texts))
        assert scores.min() > 0, (question, scores)
    english = index.scores(index.terms("co-creation"), len(texts))
    assert english.max() < 1.5 * english.min(), english  # as separate words, "samskaping" scored 3.4 times more
    spans = index.matching_spans(texts[0], "da", index.terms("co-creation with citizens"))
    assert [texts[0][a:b] for a, b in spans] == ["Samskabelse", "borgerne"]

