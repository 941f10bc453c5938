"""Chunking of the real seed texts: exact positions, sections, lists, sentences, furniture."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import REPO, SHIPPED_CORPUS, TRUST_DA, index_kb, md_doc, run_kb
from indexer.chunk import CHUNKER_VERSION, chunk_document, split_sentences
from indexer.clean import clean_text
from indexer.load import discover, load_document

WORD = re.compile(r"\w+")
MAX_CHUNK_WORDS = 200
LEAD_SEPARATOR = " … "


def words(text: str) -> list[str]:
    return WORD.findall(text)


def dehyphenate(text: str) -> str:
    """A word hyphenated across a layout break ("hvil-\n\nke") is one word in a passage."""
    return re.sub(r"(\w)-\n\s*([a-zæøå])", r"\1\2", text)


def slice_words(text: str, start: int, end: int) -> list[str]:
    return words(dehyphenate(text[start:end]))


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(w == h for h in it) for w in needle)


class Seed:
    def __init__(self, path: Path):
        self.path = path
        self.raw_bytes = path.read_bytes()
        self.source = self.raw_bytes.decode("utf-8")
        self.doc = load_document(path, REPO)
        self.cleaned = clean_text(self.doc.text, self.doc.meta)
        self.chunks = chunk_document(self.doc.meta.id, self.cleaned, self.doc.pages)

    def body(self, chunk) -> str:
        """The chunk text without a lead-in carried over from an earlier piece."""
        if words(chunk.text) == slice_words(self.cleaned, chunk.char_start, chunk.char_end):
            return chunk.text
        lead, sep, rest = chunk.text.partition(LEAD_SEPARATOR)
        assert sep, f"{chunk.chunk_id}: text does not match its source slice: {chunk.text[:120]!r}"
        return rest

    def lead(self, chunk) -> str:
        body = self.body(chunk)
        return "" if body == chunk.text else chunk.text[: -len(body) - len(LEAD_SEPARATOR)]


@pytest.fixture(scope="module")
def seeds() -> dict[str, Seed]:
    found = {}
    for path in discover(SHIPPED_CORPUS):
        seed = Seed(path)
        found[seed.doc.meta.id] = seed
    assert len(found) == 5, sorted(found)
    return found


def all_chunks(seeds):
    for seed in seeds.values():
        for chunk in seed.chunks:
            yield seed, chunk


def chunk_with(seed: Seed, phrase: str):
    matches = [c for c in seed.chunks if phrase in " ".join(c.text.split())]
    assert matches, f"no chunk of {seed.doc.meta.id} contains {phrase!r}"
    return matches


# -- exact positions -----------------------------------------------------------------------------

def test_every_seed_document_yields_chunks(seeds):
    for doc_id, seed in seeds.items():
        assert seed.chunks, doc_id
        assert [c.ordinal for c in seed.chunks] == list(range(1, len(seed.chunks) + 1))
        assert [c.chunk_id for c in seed.chunks] == [f"{doc_id}#{i}" for i in range(1, len(seed.chunks) + 1)]


def test_chunk_words_come_from_the_source_slice_at_its_offsets(seeds):
    for seed, chunk in all_chunks(seeds):
        assert 0 <= chunk.char_start < chunk.char_end <= len(seed.source), chunk.chunk_id
        body = seed.body(chunk)
        # every word of the passage is in the file at those offsets, in order
        assert is_subsequence(words(body), slice_words(seed.source, chunk.char_start, chunk.char_end)), chunk.chunk_id
        # and nothing of the cleaned slice is lost
        assert words(body) == slice_words(seed.cleaned, chunk.char_start, chunk.char_end), chunk.chunk_id


def test_carried_lead_in_is_the_sentence_that_introduces_the_list(seeds):
    carried = [(seed, c) for seed, c in all_chunks(seeds) if seed.lead(c)]
    assert carried, "the manifest's long example lists must carry their lead-in"
    for seed, chunk in carried:
        lead = seed.lead(chunk)
        assert lead.rstrip().endswith(":"), (chunk.chunk_id, lead)
        before = " ".join(words(seed.source[: chunk.char_start]))
        assert " ".join(words(lead)) in before, chunk.chunk_id


def test_line_numbers_match_the_char_offsets(seeds):
    for seed, chunk in all_chunks(seeds):
        source = seed.source
        assert chunk.line_start == source.count("\n", 0, chunk.char_start) + 1, chunk.chunk_id
        assert chunk.line_end == source.count("\n", 0, chunk.char_end - 1) + 1, chunk.chunk_id
        cited = "\n".join(source.split("\n")[chunk.line_start - 1 : chunk.line_end])
        assert source[chunk.char_start:chunk.char_end] in cited, chunk.chunk_id


def test_no_chunk_exceeds_200_words(seeds):
    for _seed, chunk in all_chunks(seeds):
        assert len(chunk.text.split()) <= MAX_CHUNK_WORDS, (chunk.chunk_id, len(chunk.text.split()))


def test_chunks_are_not_empty_or_trivially_small(seeds):
    for _seed, chunk in all_chunks(seeds):
        assert len(words(chunk.text)) >= 5, (chunk.chunk_id, chunk.text)


# -- the chunker's version -------------------------------------------------------------------------

# What the shipped corpus chunks into, per CHUNKER_VERSION. When the chunks change, bump
# CHUNKER_VERSION in indexer/chunk.py (so `kb index` re-chunks existing indexes) and record here.
SHIPPED_CHUNKS_DIGEST = {"2": "b497359ed95d65be"}


def test_the_shipped_corpus_chunks_change_only_with_the_chunker_version(seeds):
    digest = hashlib.sha256()
    for seed, chunk in all_chunks(seeds):
        digest.update(f"{chunk.chunk_id}\x1f{chunk.section}\x1f{chunk.char_start}\x1f{chunk.char_end}\x1f{chunk.text}\x1e".encode())
    assert SHIPPED_CHUNKS_DIGEST.get(CHUNKER_VERSION) == digest.hexdigest()[:16], (
        f"the chunks changed: bump CHUNKER_VERSION and record {digest.hexdigest()[:16]!r} for it"
    )


def test_editing_a_comment_in_the_chunker_keeps_its_version(tmp_path, monkeypatch):
    """Only a change of output re-chunks every corpus on the next `kb index`."""
    here = REPO / "indexer"
    for name in ("chunk.py", "clean.py"):
        shutil.copy(here / name, tmp_path / name)
    edited = tmp_path / "chunk.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# a comment changes no passage\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("edited_chunk", edited)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert module.CHUNKER_VERSION == CHUNKER_VERSION


# -- sections --------------------------------------------------------------------------------------

def test_tverskov_skeptical_citizens_passage_has_its_heading_as_section(seeds):
    seed = seeds["tverskov-samskabelse-i-kommuner"]
    (chunk,) = chunk_with(seed, "Som udgangspunkt er borgerne skeptiske")
    assert chunk.section == "Det kræver dialog, vidensdeling, kompetenceudvikling og ledelsesopbaking"
    assert "tillidsopbygning" in chunk.text


@pytest.mark.parametrize(
    "phrase, section",
    [
        ("Den landsdækkende samskabelsesbevægelse er åben for alle", "Baggrund"),
        ("Deltagerne i samskabelse håber på at kunne høste", "Effektmåling"),
        ("Samskabelse udfordrer vores traditionelle roller", "Udvikling af nye roller i samskabelse"),
        ("Hvad er det vi skal måle?", "Appendix 1: Spørgsmål til inspiration i forbindelse med effektmåling af samskabelse"),
    ],
)
def test_manifest_inline_headings_become_sections(seeds, phrase, section):
    seed = seeds["manifest-for-samskabelse"]
    for chunk in chunk_with(seed, phrase):
        assert chunk.section == section, chunk.chunk_id
        # the heading is the section, not the start of the passage text
        assert not chunk.text.startswith(section), chunk.chunk_id


@pytest.mark.parametrize(
    "phrase, section",
    [
        ("Det er naturligvis en forudsætning, at målet", "Trin 1: Et klart og overordnet mål"),
        ("Formålet med samskabelse er at inddrage borgeren", "Trin 2: Find frem til deltagerne"),
        ("Når I samskaber har alle deltagere lige meget", "Trin 3: Skab det nødvendige rum"),
        ("En udfordring ved samskabelse er", "Trin 4: Få indsigter"),
        ("På baggrund af den indsamlede viden og indsigt", "Trin 5: Idégenerering"),
    ],
)
def test_step_headings_become_sections(seeds, phrase, section):
    (chunk,) = chunk_with(seeds["kom-godt-i-gang-med-samskabelse"], phrase)
    assert chunk.section == section


def test_slide_headings_become_sections(seeds):
    seed = seeds["kobro-verktoy-for-samskaping"]
    (chunk,) = chunk_with(seed, "Forbered deg og eventuelle kolleger")
    assert chunk.section == "Noen tommelfinger-regler"
    (chunk,) = chunk_with(seed, "Finnes det virkelig verktøy for samskaping?")
    assert chunk.section == "En verktøykasse for samskaping?"


def test_markdown_headings_and_front_matter(tmp_path):
    path = tmp_path / "corpus" / "tillid.md"
    path.parent.mkdir()
    path.write_text(TRUST_DA, encoding="utf-8")
    doc = load_document(path, tmp_path)
    assert doc.meta.id == "tillid-i-praksis" and doc.path == "corpus/tillid.md"
    chunks = chunk_document(doc.meta.id, clean_text(doc.text, doc.meta))
    assert [c.section for c in chunks] == ["Tillid", "Trin 1: Lyt til borgerne"]
    source = path.read_text(encoding="utf-8")
    lines = source.split("\n")
    for chunk in chunks:
        assert "language:" not in chunk.text and "---" not in chunk.text
        assert not chunk.text.lstrip().startswith("#")
        # offsets and lines point into the file itself, front matter included
        assert words(chunk.text) == slice_words(source, chunk.char_start, chunk.char_end)
        assert lines[chunk.line_start - 1].strip() and lines[chunk.line_start - 1].split()[0] == chunk.text.split()[0]
    assert chunks[0].line_start == 9  # the front matter and heading take lines 1-8


# Scraped pages run a heading into its paragraph ("Baggrund Den landsdækkende …"); a name and its
# capitalised continuation look the same ("Aarhus Kommune har …") and must stay whole.
NAMES_OPENING_LINES = (
    "# Erfaringer\n\n"
    "Aarhus Kommune har arbejdet med samskabelse i mange år, og borgerne i byens boligområder er blevet "
    "inddraget i udviklingen af nye tilbud til børn, unge og ældre, som har brug for hjælp fra kommunen.\n\n"
    "Når Region Midtjylland inviterer borgerne til dialog om sundhed, skal kommunen være med fra start, "
    "for regionen og kommunen deler ansvaret for de borgere, der har brug for hjælp fra begge, når de bliver syge.\n\n"
    "Formål Projektet skal give borgerne en stemme i kommunen, og formålet er at finde løsninger, som borgerne selv "
    "har været med til at udvikle, så projektet kan fortsætte efter den første periode med støtte fra fonden.\n"
)
# Two short sections become one passage: it starts in the first, so it carries the first heading.
SHORT_SECTIONS = (
    "# Tillid\n\nBorgerne er skeptiske over for kommunen, og tillid skal bygges op.\n\n"
    "# Ledelse\n\nLedere skal give medarbejderne rum til at prøve nyt, og det kræver tid, tålmodighed "
    "og tillid fra politikerne i kommunen.\n"
)


def test_sections_as_search_shows_them_keep_names_whole_and_start_where_the_text_starts(make_kb):
    root = make_kb({
        "erfaringer.md": md_doc("erfaringer", NAMES_OPENING_LINES),
        "korte.md": md_doc("korte-afsnit", SHORT_SECTIONS),
    })
    assert index_kb(root).exit_code == 0
    run = run_kb(root, "search", "kommunen", "--mode", "lexical", "--json", "-k", "20")
    assert run.exit_code == 0, run.output
    hits = run.json()["results"]
    texts = {" ".join(h["text"].split()): h["section"] for h in hits}
    assert any(t.startswith("Aarhus Kommune har arbejdet") for t in texts), texts
    assert any("Når Region Midtjylland inviterer" in t for t in texts), texts
    for hit in hits:
        if hit["doc_id"] == "erfaringer" and ("Aarhus" in hit["text"] or "Region" in hit["text"]):
            assert hit["section"] == "Erfaringer", (hit["section"], hit["text"][:60])
    # a real inline heading of the same shape is still one
    (formal,) = [h for h in hits if "Projektet skal give borgerne" in h["text"]]
    assert formal["section"] == "Formål" and formal["text"].startswith("Projektet skal"), formal
    (short,) = [h for h in hits if h["doc_id"] == "korte-afsnit"]
    assert short["text"].startswith("Borgerne er skeptiske") and short["section"] == "Tillid", short


def test_a_paragraph_of_110000_words_becomes_passages_that_cover_all_of_it():
    """A PDF page layout can leave a whole report as one paragraph; chunking it must finish
    (time grows with length: bench/chunking.py measures it) and lose nothing."""
    from bench.chunking import long_paragraph

    text = long_paragraph(110_000)
    chunks = chunk_document("ein-absatz", text)
    assert all(len(c.text.split()) <= MAX_CHUNK_WORDS for c in chunks)
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text.rstrip())
    for before, after in zip(chunks, chunks[1:]):
        assert after.char_start <= before.char_end + 1, (before.chunk_id, after.chunk_id)
    covered = sum(len(words(text[c.char_start:c.char_end])) for c in chunks)
    assert len(words(text)) <= covered < 1.2 * len(words(text))


# -- lists stay with their lead-in -----------------------------------------------------------

def test_manifest_example_list_stays_with_its_lead_in(seeds):
    seed = seeds["manifest-for-samskabelse"]
    examples = chunk_with(seed, "Samskabelse er, når")
    assert len(examples) >= 2  # the list is long and split, each part keeps its lead-in
    for chunk in examples:
        assert chunk.text.startswith("Eksempler på samskabelse:"), chunk.chunk_id
    texts = " ".join(" ".join(c.text.split()) for c in examples)
    for item in ("10 unge med vidt forskellige", "den lokale bank hjælper den tekniske skole",
                 "unge frivillige i samarbejde med kommunen"):
        assert item in texts


@pytest.mark.parametrize(
    "doc_id, lead_in, item",
    [
        ("kom-godt-i-gang-med-samskabelse", "Eksempler på klare og overordnede, åbne mål kunne være:", "Flere unge skal i uddannelse"),
        ("samskabelseslaboratoriet", "I kan eksempelvis vælge et eksisterende eller nyt projekt inden for:", "Øget kultur- og fritidsengagement"),
        ("samskabelseslaboratoriet", "Det er eksempelvis:", "Faciliteringsteknik, involverende metoder og didaktiske greb"),
        ("manifest-for-samskabelse", "Syv grundlæggende træk ved det danske samfund", "Vi har nogle af verdens mest kompetente borgere"),
    ],
)
def test_bullet_items_share_a_chunk_with_their_lead_in(seeds, doc_id, lead_in, item):
    for chunk in chunk_with(seeds[doc_id], item):
        assert lead_in in " ".join(chunk.text.split()), chunk.chunk_id


def test_a_run_on_sentence_is_still_cut_into_passages_of_bounded_size():
    items = ["borgere", "frivillige foreninger", "lokale virksomheder", "jobcentret", "skolerne",
             "boligselskaberne", "politikerne", "medarbejderne i forvaltningen", "idrætsklubberne"]
    clauses = [f"{items[i % len(items)]} i område {i} deltager i dialogen om nye løsninger" for i in range(40)]
    text = "# Deltagere\n\nI projektet samarbejder " + ", ".join(clauses) + ".\n"
    assert len(text.split()) > 300
    chunks = chunk_document("lang-saetning", text)
    assert all(len(c.text.split()) <= MAX_CHUNK_WORDS for c in chunks), [len(c.text.split()) for c in chunks]


# -- sentences ----------------------------------------------------------------------------------

def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_split_sentences_cuts_at_sentence_ends_with_exact_offsets():
    text = "Der var 20 borgere til mødet. Det gik godt! Hvad gør vi nu? Vi fortsætter."
    assert sentences(text) == ["Der var 20 borgere til mødet.", "Det gik godt!", "Hvad gør vi nu?", "Vi fortsætter."]
    shifted = split_sentences(text, offset=100)
    assert shifted == [(a + 100, b + 100) for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    "first, second",
    [
        ("Vi samarbejder med mange foreninger, fx Røde Kors og DGI, om opgaven.", "Det virker godt."),
        ("Vi bruger mange metoder, fx. Workshops og borgermøder.", "Det virker godt."),
        ("Kommunen har bl.a. Aarhus som forbillede i arbejdet.", "Næste skridt er dialog."),
        ("Mange aktører, f.eks. Nav og kommunen, deltok i prosjektet.", "Det gikk bra."),
        ("Der deltog ca. 20 borgere i det første møde.", "Alle var glade."),
        ("Reglerne, jf. Serviceloven, gælder også her.", "Det er vigtigt."),
        ("Forvaltningen, dvs. Medarbejderne og lederne, skal være med.", "Ellers går det galt."),
        ("Mødet blev aflyst pga. Corona-situationen i byen.", "Vi finder en ny dato."),
        ("Spørg evt. Jobcentret om hjælp til forløbet.", "De kender reglerne."),
    ],
)
def test_abbreviations_do_not_end_a_sentence(first, second):
    assert sentences(f"{first} {second}") == [first, second]


def test_abbreviation_inside_parentheses_does_not_end_a_sentence():
    first = "Vi samarbejder med mange foreninger (bl.a. Røde Kors og DGI) om opgaven."
    assert sentences(f"{first} Det virker godt.") == [first, "Det virker godt."]


def test_time_abbreviation_kl_does_not_end_a_sentence():
    first = "Mødet starter kl. 10 i borgersalen."
    assert sentences(f"{first} Alle er velkomne.") == [first, "Alle er velkomne."]


# -- page furniture ------------------------------------------------------------------------------

FURNITURE = [
    "Gå til trin 1",
    "Gå til trin 5",
    "Mest Læste",
    "Annonce",
    "billigste bilforsikring",
    "Kontakt Ea Nielsen",
    "Portrætbillede Ea Nielsen",
    "Har du spørgsmål til værktøjerne?",
    "03/02/2017 11:30",
    "07/11/2024",
    "Læs mere om samskabelse her",
    "www.usn.no/sesam",
    "Nick Allentoft",
]


def test_page_furniture_is_in_the_sources_but_in_no_chunk(seeds):
    sources = "\n".join(seed.source for seed in seeds.values())
    texts = [" ".join(c.text.split()) for _s, c in all_chunks(seeds)]
    for furniture in FURNITURE:
        assert furniture in sources, f"fixture drift: {furniture!r} is no longer in the corpus"
        leaked = [t[:80] for t in texts if furniture in t]
        assert not leaked, f"{furniture!r} leaked into {leaked}"


def test_cleaning_keeps_length_and_lines_and_never_edits_files(seeds):
    for seed in seeds.values():
        assert len(seed.cleaned) == len(seed.doc.text)
        assert [i for i, ch in enumerate(seed.cleaned) if ch == "\n"] == [i for i, ch in enumerate(seed.doc.text) if ch == "\n"]
        assert seed.path.read_bytes() == seed.raw_bytes


def test_content_lines_that_resemble_furniture_are_kept():
    from kb.models import DocumentMeta

    meta = DocumentMeta(id="vejledning", title="Vejledning", language="da", kind="guidance")
    text = (
        "Gå til borgerne med en åben tilgang, og lyt før I foreslår løsninger på problemet.\n\n"
        "Vi mødtes 12 gange i løbet af 2019 og talte med over 300 borgere om deres behov.\n"
    )
    assert clean_text(text, meta) == text


def test_advice_starting_with_kontakt_is_not_treated_as_a_contact_blurb():
    from kb.models import DocumentMeta

    meta = DocumentMeta(id="vejledning", title="Vejledning", language="da", kind="guidance")
    text = (
        "Sådan kommer I i gang med samskabelse i jobcentret og i de lokale foreninger.\n\n"
        "Kontakt borgerne tidligt i processen.\n\n"
        "Kontakt Ea Nielsen\n"
    )
    cleaned = clean_text(text, meta)
    assert "Kontakt Ea Nielsen" not in cleaned  # the real contact blurb goes
    assert "Kontakt borgerne tidligt i processen." in cleaned  # the advice stays


def test_indexed_shipped_corpus_holds_no_furniture_and_files_are_unchanged(shipped_kb):
    # the index sees none of the advert at the end of the manifest ...
    run = run_kb(shipped_kb, "search", "billigste bilforsikring til min nye bil", "--mode", "lexical", "--json", "-k", "20")
    assert run.exit_code == 0, run.output
    for hit in run.json()["results"]:
        assert "bilforsikring" not in hit["text"] and "Mest Læste" not in hit["text"]
    run = run_kb(shipped_kb, "search", "Kontakt Ea Nielsen portrætbillede", "--mode", "lexical", "--json", "-k", "20")
    assert run.exit_code == 0, run.output
    for hit in run.json()["results"]:
        assert "Ea Nielsen" not in hit["text"]
    # ... and indexing changed nothing in the corpus folder
    original = {p.relative_to(SHIPPED_CORPUS): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in SHIPPED_CORPUS.rglob("*") if p.is_file()}
    copied = {p.relative_to(shipped_kb / "corpus"): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (shipped_kb / "corpus").rglob("*") if p.is_file()}
    assert copied == original
