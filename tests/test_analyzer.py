"""The lexical analyzer as a user meets it: which words and numbers a search finds, and the
glossary that carries words across languages (shipped, and a knowledge base's own)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, index_kb, md_doc, run_kb, select_encoder, write_corpus
from kb.glossary import parse_glossary, shipped_glossary
from kb.lexical import QUERY_LANGUAGES, LexicalIndex, _stemmer, glossary_collisions, index_term, shared_spelling
from test_cli_errors import assert_one_line_error

ANNUAL_REPORT = md_doc("aarsrapport", """\
# Henvendelser

Kommunen modtog 437 henvendelser fra borgere i 2017, og 25% af dem handlede om hjemmehjælp og
praktisk støtte i hverdagen. De fleste kom fra ældre borgere, der bor alene, og fra deres pårørende,
som ønskede mere kontakt med medarbejderne.

# Klager

Efter § 17 i loven kan borgeren klage over en afgørelse inden fire uger. Sag 2023-0041 om
visitation blev afgjort i borgerens favør, fordi kommunen ikke havde hørt borgeren, før den
traf sin afgørelse om hjælp til rengøring.

# Frivillige

Omkring 200 frivillige hjælper hver uge i byens væresteder og på biblioteket, hvor de læser
avis med ældre borgere, drikker kaffe med dem og følger dem til lægen, når familien ikke kan.
""")


@pytest.fixture(scope="module")
def report_kb(tmp_path_factory):
    root = select_encoder(write_corpus(tmp_path_factory.mktemp("numbers"), {"aarsrapport.md": ANNUAL_REPORT}))
    assert index_kb(root).exit_code == 0
    return root


def sections_found(root, query: str) -> list[str]:
    run = run_kb(root, "search", query, "--mode", "lexical", "--json")
    assert run.exit_code == 0, run.output
    return [hit["section"] for hit in run.json()["results"]]


@pytest.mark.parametrize("query, section", [
    ("437", "Henvendelser"),
    ("2017", "Henvendelser"),
    ("25%", "Henvendelser"),
    ("§ 17", "Klager"),
    ("2023-0041", "Klager"),
    ("0041", "Klager"),
    ("200", "Frivillige"),
])
def test_numbers_are_searchable(report_kb, query, section):
    """Years, counts, percentages, paragraph and case numbers are what people look up."""
    assert sections_found(report_kb, query)[:1] == [section]


def test_a_number_finds_only_itself(report_kb):
    """2000 is not 200 or 20 (the shared Danish/Norwegian spelling collapses double letters)."""
    assert sections_found(report_kb, "2000") == []
    assert sections_found(report_kb, "20") == []


# -- the shipped glossary ------------------------------------------------------------------------

def test_no_two_glossary_sets_share_a_stem():
    """A stem in two sets would join two meanings (mål: goal and measuring; leder and ledige)."""
    collisions = glossary_collisions(shipped_glossary())
    assert not collisions, {term: [s.where for s in sets] for term, sets in collisions.items()}


def test_every_glossary_word_adds_a_stem():
    """Base forms: an inflection the stemmers join to a word before it adds nothing but length."""
    for word_set in shipped_glossary().sets:
        seen: set[tuple[str, str]] = set()
        for word in word_set.words:
            terms = {(lang, index_term(word, lang)) for lang in QUERY_LANGUAGES}
            assert not terms <= seen, f"{word_set.where}: '{word}' stems like a word before it; leave it out"
            seen |= terms


@pytest.mark.parametrize("word, other", [("find", "fin"), ("kund", "kun"), ("led", "let"), ("sid", "sit"), ("god", "got")])
def test_short_stems_keep_their_consonants(word, other):
    """The Danish/Norwegian sound shifts (nd/nn, d/t) would make these short stems other words."""
    assert shared_spelling(word) != shared_spelling(other)


def test_a_short_stem_does_not_find_its_false_friend():
    """lede (to lead) and let (easy) were one term in the shared spelling."""
    texts = ["Det er let at komme i gang med genbrug i opgangen.", "Hun skal lede mødet om budgettet i morgen."]
    index = LexicalIndex.build(texts, ["da", "da"], shipped_glossary())
    easy, lead = (index.scores(index.terms(q), len(texts)) for q in ("let", "lede"))
    assert easy[0] > 0 and easy[1] == 0, easy
    assert lead[0] == 0 and lead[1] > 0, lead


# -- a knowledge base's own glossary ----------------------------------------------------------------

WASTE_DA = md_doc("affald", """# Affald

Beboerne i boligområdet sorterer deres affald, og kommunen har sat nye containere op ved hver
opgang, så genbrug bliver let for alle. Genbrug af møbler og tøj sker i den fælles byttestue.
""")


def test_a_knowledge_base_adds_its_own_glossary_and_indexing_applies_it(make_kb):
    root = make_kb({"affald.md": WASTE_DA})
    assert index_kb(root).exit_code == 0
    assert lexical_doc_ids(root, "recycling") == []
    assert lexical_doc_ids(root, "residents") == []

    (root / "glossary.txt").write_text(
        "# words of our own field\n"
        "genbrug gjenbruk recycling reuse\n"
        "borger beboer  # beboer joins the shipped set of borger, innbygger, citizen, resident\n",
        encoding="utf-8",
    )
    status = run_kb(root, "status")
    assert "the analyzer (stemming, glossary) changed since indexing: `kb index`" in status.stdout, status.output
    assert index_kb(root).exit_code == 0
    assert "analyzer" not in run_kb(root, "status").stdout
    assert lexical_doc_ids(root, "recycling") == ["affald"]
    assert lexical_doc_ids(root, "residents") == ["affald"]


def lexical_doc_ids(root, query: str) -> list[str]:
    run = run_kb(root, "search", query, "--mode", "lexical", "--json")
    assert run.exit_code == 0, run.output
    return [hit["doc_id"] for hit in run.json()["results"]]


@pytest.mark.parametrize("glossary, mentions", [
    ("genbrug\n", ("glossary.txt:1", "two or more words")),
    ("genbrug recycling\n\n# comment\nreuse genbrug\n", ("glossary.txt:4", "'genbrug'", "glossary.txt:1")),
    ("Genbrug recycling\n", ("glossary.txt:1", "'Genbrug'", "lower case")),
    ("genbrug, recycling\n", ("glossary.txt:1", "'genbrug,'")),
    ("citizen goal\n", ("glossary.txt:1", "'borger'", "'mål'", "two sets")),
    ("måle gauge\n", ("glossary.txt:1", "'måle'", "'mål'", "two meanings")),
])
def test_a_mistake_in_a_knowledge_base_glossary_is_one_line_naming_the_line(make_kb, glossary, mentions):
    root = make_kb({"affald.md": WASTE_DA})
    (root / "glossary.txt").write_text(glossary, encoding="utf-8")
    assert_one_line_error(run_kb(root, "index"), usage=True, mentions=mentions)
    assert not (root / ".kb" / "CURRENT").exists()


def test_glossary_proposals_group_danish_and_norwegian_forms(make_kb):
    other = md_doc("avfall", """# Avfall

Gjenbruk av klær og møbler er en del av hverdagen i borettslaget, og kommunen hjelper
beboerne med gjenbruk gjennom en egen bod for bytte av ting som ellers ville blitt kastet.

# Byttedag

Hver vår holder borettslaget byttedag: gjenbruk av leker og bøker samler naboene i gården,
og kommunen stiller med telt og kaffe til alle som kommer med noe de ikke bruker lenger.
""", language="nb")
    root = make_kb({"affald.md": WASTE_DA, "avfall.md": other})
    run = subprocess.run([sys.executable, "-m", "bench.propose_glossary", "--kb", str(root)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = {line.split("#")[0].strip(): line for line in run.stdout.splitlines() if not line.startswith("#")}
    assert "gjenbruk genbrug" in lines, run.stdout
    assert "da nb" in lines["gjenbruk genbrug"]
    assert not any("borger" in words.split() or "beboerne" in words.split() for words in lines), run.stdout  # in a set already
