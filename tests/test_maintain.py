"""`kb add`, `kb remove`, `kb validate` through the real CLI, with PDF/DOCX/HTML files made here."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import TRUST_DA, select_encoder
from indexer.language import detect_language
from search_cli.app import cli

# Each PDF page is one passage (over the chunker's packing size), so a passage sits on one page.
PDF_PAGES = [
    "Indledning. Denne rapport handler om samskabelse i danske kommuner og om, hvordan borgerne "
    "bliver inddraget tidligt i arbejdet med nye velfærdsløsninger. " * 6,
    "Frivillige foreninger. Kommunen har indgået partnerskaber med idrætsforeninger, spejdere og "
    "lokale ildsjæle om fælles aktiviteter for børn og unge i boligområderne. " * 6,
    "Evaluering. Efter to år blev indsatsen evalueret af en ekstern konsulent, som målte effekten "
    "gennem interviews med deltagerne og data fra forvaltningen. " * 6,
]

DOCX_SECTIONS = [
    ("Erfaringer med borgerpaneler", "Heading 1",
     "Borgerpanelet mødtes fire gange i løbet af foråret og drøftede fremtidens ældrepleje med "
     "politikerne. Deltagerne fik adgang til de samme fakta som forvaltningen, og deres "
     "anbefalinger blev senere skrevet ind i kommunens nye ældrepolitik."),
    ("Fællesskab i nærmiljøet", "Overskrift 1",
     "Naboerne i bydelen har selv taget initiativ til en fælles have og en ugentlig spisning, "
     "hvor kommunens medarbejdere deltager som gæster og ikke som arrangører af aktiviteterne."),
]

NAV_WORDS = ("Forsidelinket", "Navigationsmenuen", "Kontaktsiden", "Cookiepolitikken")
HTML_PAGE = f"""<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>Samskabelse i Odense</title></head>
<body>
<header><nav><ul>
  <li><a href="/">{NAV_WORDS[0]}</a></li><li><a href="/menu">{NAV_WORDS[1]}</a></li>
  <li><a href="/kontakt">{NAV_WORDS[2]}</a></li>
</ul></nav></header>
<main><article>
<h1>Samskabelse i Odense</h1>
<p>Odense Kommune har arbejdet med samskabelse i flere år. Borgerne inviteres tidligt ind i
processen, og kommunen lytter til deres erfaringer, før der foreslås løsninger på de
udfordringer, som lokalområdet står over for.</p>
<h2>Opgaveudvalg i byrådet</h2>
<p>Byrådet har nedsat opgaveudvalg, hvor borgere og politikere sammen udvikler nye politikker.
Det har givet et mere åbent samarbejde og større tillid mellem borgere og forvaltning i hele
kommunen, også blandt dem der ellers ikke deltager i den lokale debat.</p>
</article></main>
<aside><p>Læs også vores andre artikler</p></aside>
<footer><p>{NAV_WORDS[3]} · Ophavsret 2024 · Odense Kommune</p></footer>
</body></html>
"""

DANISH_TXT = (
    "Kommunen har brug for nogle nye måder at arbejde sammen med borgerne på. Efter mange år med "
    "høringer, hvor meget lidt blev ændret, vil vi nu inddrage foreningerne tidligt. Hvad kræver "
    "det af medarbejderne, og hvordan skaber vi et fællesskab mellem forvaltning og civilsamfund?"
)
NORWEGIAN_TXT = (
    "Kommunen trenger noen nye måter å arbeide sammen med innbyggerne på. Etter mange år med "
    "høringer, der svært lite ble endret, vil vi nå involvere frivillige lag tidlig. Hva krever "
    "det av de ansatte, og hvordan skaper vi et fellesskap mellom forvaltning og sivilsamfunn?"
)
ENGLISH_TXT = (
    "The municipality needs new ways of working with citizens. After years of hearings in which "
    "little was changed, they want to involve the associations early, and this is what it takes."
)


# -- helpers -----------------------------------------------------------------------------------

def kb(root: Path, *args: str, env: dict | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--kb", str(root), *args], env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def search(root: Path, query: str, *args: str) -> list[dict]:
    result = kb(root, "search", query, "--json", "-k", "50", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)  # core font: Latin-1, so æ, ø, å are fine
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def make_docx(path: Path, sections: list[tuple[str, str, str]]) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_heading("Borgerinddragelse i praksis", 0)
    for heading, style, body in sections:
        if style not in [s.name for s in document.styles]:
            document.styles.add_style(style, WD_STYLE_TYPE.PARAGRAPH)  # as a Danish Word names it
        document.add_paragraph(heading, style=style)
        document.add_paragraph(body)
        document.add_paragraph("Spørgsmål til drøftelse i gruppen", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Aktør", (0, 1): "Rolle", (1, 0): "Borgere", (1, 1): "Medskabere"}.items():
        table.cell(row, col).text = text
    document.save(str(path))
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    """A knowledge base with one short Danish Markdown document."""
    folder = tmp_path / "kb"
    (folder / "corpus" / "documents").mkdir(parents=True)
    (folder / "corpus" / "documents" / "tillid.md").write_text(TRUST_DA, encoding="utf-8")
    return select_encoder(folder)


@pytest.fixture
def sources(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def corpus_files(root: Path) -> set[str]:
    """Every file in the corpus but the corpus writers' lock (temporary files count)."""
    corpus = root / "corpus"
    return {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file() and p != corpus / ".lock"}


# -- adding converted files ----------------------------------------------------------------------

def test_pdf_pages_docx_headings_and_html_main_text_reach_citations(root, sources):
    pdf = make_pdf(sources / "rapport.pdf", PDF_PAGES)
    docx_file = make_docx(sources / "panel.docx", DOCX_SECTIONS)
    html = sources / "odense.html"
    html.write_text(HTML_PAGE, encoding="utf-8")

    added = kb(root, "add", str(pdf), str(docx_file), str(html), "--kind", "report", "--lang", "da")
    assert added.exit_code == 0, added.output
    assert "run `kb index`" in added.stderr
    ids = {line.split()[0]: line.split()[-1] for line in added.stdout.splitlines()}
    assert ids == {
        "rapport": "corpus/documents/rapport.pdf",
        "borgerinddragelse-i-praksis": "corpus/documents/borgerinddragelse-i-praksis.docx",
        "samskabelse-i-odense": "corpus/documents/samskabelse-i-odense.html",
    }
    assert (root / "corpus/documents/rapport.meta.yaml").is_file()

    indexed = kb(root, "index")
    assert indexed.exit_code == 0, indexed.output

    hits = search(root, "idrætsforeninger spejdere ildsjæle", "--doc", "rapport")
    page_two = [h for h in hits if "idrætsforeninger" in h["text"]]
    assert page_two and all(h["citation"] == "corpus/documents/rapport.pdf, p. 2" for h in page_two)
    evaluation = [h for h in hits if "ekstern konsulent" in h["text"]]
    assert evaluation and evaluation[0]["citation"].endswith("p. 3")

    hits = search(root, "borgerpanel ældrepleje", "--doc", "borgerinddragelse-i-praksis")
    panel = next(h for h in hits if "Borgerpanelet" in h["text"])
    assert panel["section"] == "Erfaringer med borgerpaneler"
    assert panel["citation"] == 'corpus/documents/borgerinddragelse-i-praksis.docx, section "Erfaringer med borgerpaneler"'
    neighbours = next(h for h in hits if "fælles have" in h["text"])
    assert neighbours["section"] == "Fællesskab i nærmiljøet"  # Danish style name "Overskrift 1"

    hits = search(root, "opgaveudvalg byrådet", "--doc", "samskabelse-i-odense")
    assert any(h["section"] == "Opgaveudvalg i byrådet" for h in hits)
    everything = search(root, " ".join(NAV_WORDS), "--mode", "lexical") + search(root, "opgaveudvalg Odense")
    for hit in everything:
        assert not any(word in hit["text"] for word in NAV_WORDS), hit


def test_unchanged_converted_files_are_not_converted_again(root, sources):
    assert kb(root, "add", str(make_pdf(sources / "rapport.pdf", PDF_PAGES)), "--kind", "report", "--lang", "da").exit_code == 0
    assert kb(root, "index").exit_code == 0
    (pdf,) = (root / "corpus" / "documents").glob("*.pdf")
    # from here on no conversion could finish in time: unchanged files must not need one
    no_time = {"KB_EXTRACT_TIMEOUT": "0.001"}
    result = kb(root, "index", env=no_time)
    assert result.exit_code == 0 and "unchanged 2" in result.output, result.output
    assert "no changes" in kb(root, "status", env=no_time).stdout
    make_pdf(pdf, [page + " Tillæg." for page in PDF_PAGES])  # a changed file is converted again
    result = kb(root, "index", env=no_time)
    assert f"{pdf.name}: extraction took longer than 0.001 s" in result.stderr, result.output


def test_converted_texts_are_kept_only_for_files_the_corpus_holds(root, sources):
    """Edited or deleted PDFs do not leave their old text in .kb/conversions.sqlite for good."""
    def cached_texts() -> list[str]:
        with contextlib.closing(sqlite3.connect(root / ".kb" / "conversions.sqlite")) as db:
            return [text for (text,) in db.execute("SELECT text FROM conversions")]

    assert kb(root, "add", str(make_pdf(sources / "rapport.pdf", PDF_PAGES)), "--kind", "report", "--lang", "da").exit_code == 0
    assert kb(root, "index").exit_code == 0
    (pdf,) = (root / "corpus" / "documents").glob("*.pdf")
    make_pdf(pdf, [page + " Tillæg." for page in PDF_PAGES])
    assert kb(root, "index").exit_code == 0
    (text,) = cached_texts()
    assert "Tillæg." in text
    pdf.unlink()
    assert kb(root, "index").exit_code == 0
    assert cached_texts() == []


def test_folder_reports_every_bad_file_and_adds_the_good_ones(root, sources):
    (sources / "sub").mkdir()
    (sources / "dansk.txt").write_text(DANISH_TXT, encoding="utf-8")
    (sources / "sub" / "case-notes.md").write_text(
        "---\ntitle: Noter fra værkstedet\nlanguage: da\nkind: other\n---\n# Værksted\n\n" + DANISH_TXT.replace("Kommunen", "Byen"),
        encoding="utf-8",
    )
    (sources / "empty.txt").write_text("", encoding="utf-8")
    (sources / "latin1.txt").write_bytes("Borgerne i Århus er glade for samskabelse.".encode("latin-1"))
    (sources / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (sources / "notes.xyz").write_text("what is this", encoding="utf-8")
    (sources / ".hidden.txt").write_text(DANISH_TXT, encoding="utf-8")
    before = corpus_files(root)

    result = kb(root, "add", str(sources), "--kind", "guidance")

    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("kb: not added:")]
    for name, why in [("empty.txt", "no text"), ("latin1.txt", "not UTF-8"), ("broken.pdf", "PDF"),
                      ("notes.xyz", "unsupported file type")]:
        assert any(name in line and why in line for line in problems), (name, result.stderr)
    assert len(problems) == 4
    added = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(added) == {"dansk", "noter-fra-vaerkstedet"}
    assert added["dansk"].startswith("da (detected)")
    # only the good files, each whole: no temporary or half-written leftovers
    assert corpus_files(root) - before == {
        "documents/dansk.txt", "documents/dansk.meta.yaml", "documents/noter-fra-vaerkstedet.md",
    }
    md = (root / "corpus/documents/noter-fra-vaerkstedet.md").read_text(encoding="utf-8")
    assert md.startswith("---\nid: noter-fra-vaerkstedet\n") and "# Værksted" in md
    checked = kb(root, "validate")
    assert checked.exit_code == 0, checked.output


def test_duplicate_content_is_refused_naming_the_existing_id(root, sources):
    copy = sources / "same.md"
    body = TRUST_DA.split("---\n", 2)[2]
    copy.write_text("  " + body.replace("\n", "\n\n"), encoding="utf-8")  # other spacing, same words
    result = kb(root, "add", str(copy), "--kind", "guidance", "--lang", "da")
    assert result.exit_code == 1
    assert "same.md" in result.stderr and "tillid-i-praksis" in result.stderr
    assert corpus_files(root) == {"documents/tillid.md"}


def test_removed_document_leaves_the_results(root, sources):
    extra = sources / "frivillige.txt"
    extra.write_text(DANISH_TXT, encoding="utf-8")
    assert kb(root, "add", str(extra), "--kind", "guidance").exit_code == 0
    assert kb(root, "index").exit_code == 0
    assert any(h["doc_id"] == "frivillige" for h in search(root, "foreningerne borgerne"))

    removed = kb(root, "remove", "frivillige")
    assert removed.exit_code == 0, removed.output
    assert "corpus/documents/frivillige.txt" in removed.stdout
    assert corpus_files(root) == {"documents/tillid.md"}
    assert kb(root, "index").exit_code == 0
    assert all(h["doc_id"] != "frivillige" for h in search(root, "foreningerne borgerne"))

    unknown = kb(root, "remove", "frivilige")
    assert unknown.exit_code == 2
    assert "frivilige" in unknown.stderr and "kb: error:" in unknown.stderr


def test_validate_lists_every_problem_at_once(root):
    docs = root / "corpus" / "documents"
    (docs / "tillid2.md").write_text(TRUST_DA, encoding="utf-8")  # same id and same content
    (docs / "nometa.txt").write_text(DANISH_TXT, encoding="utf-8")
    (docs / "latin1.txt").write_bytes("Århus".encode("latin-1"))
    (docs / "latin1.meta.yaml").write_text("id: latin1\ntitle: L\nlanguage: da\nkind: other\n", encoding="utf-8")
    (docs / "badkind.md").write_text("---\nid: badkind\ntitle: B\nlanguage: da\nkind: novel\n---\nTekst.\n", encoding="utf-8")
    (docs / "orphan.meta.yaml").write_text("id: orphan\n", encoding="utf-8")

    result = kb(root, "validate")

    assert result.exit_code == 1
    out = result.stdout
    assert "tillid2.md: id 'tillid-i-praksis' is already used by corpus/documents/tillid.md" in out
    assert "tillid2.md: same content as corpus/documents/tillid.md" in out
    assert "nometa.txt: no metadata" in out
    assert "latin1.txt: not UTF-8" in out
    assert "badkind.md (front matter): field 'kind'" in out
    assert "orphan.meta.yaml: metadata without a document" in out
    assert out.strip().endswith("5 files checked, 6 problems")


def test_language_is_detected_and_shown(root, sources):
    (sources / "dansk.txt").write_text(DANISH_TXT, encoding="utf-8")
    (sources / "norsk.txt").write_text(NORWEGIAN_TXT, encoding="utf-8")
    result = kb(root, "add", str(sources), "--kind", "article")
    assert result.exit_code == 0, result.output
    assert "dansk  da (detected)  corpus/documents/dansk.txt" in result.stdout
    assert "norsk  nb (detected)  corpus/documents/norsk.txt" in result.stdout
    assert "language: nb" in (root / "corpus/documents/norsk.meta.yaml").read_text(encoding="utf-8")
    assert detect_language(ENGLISH_TXT) == "en"
    assert detect_language("Samskabelse.") is None  # too little to go on: ask for --lang
    # a two-sentence case note, the same in both languages: told apart by spelling and verb forms
    assert detect_language(
        "Borgerpanelet i Vejle mødtes fire gange og skrev anbefalinger til byrådet om grønne byrum. "
        "Deltagerne fik løbende svar på, hvad der skete med forslagene, og det gav tillid til processen."
    ) == "da"
    assert detect_language(
        "Innbyggerpanelet i Drammen møttes fire ganger og skrev anbefalinger til bystyret om grønne byrom. "
        "Deltakerne fikk løpende svar på hva som skjedde med forslagene, og det ga tillit til prosessen."
    ) == "nb"

    given = sources / "given.txt"
    given.write_text(NORWEGIAN_TXT.replace("Kommunen", "Fylket"), encoding="utf-8")
    result = kb(root, "add", str(given), "--kind", "article", "--lang", "da")
    assert "given  da  corpus/documents/given.txt" in result.stdout
