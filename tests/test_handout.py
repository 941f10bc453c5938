"""`kb handout PLAN`: course material from a plan, checked as a reader sees it.

The shipped corpus is indexed once per session (`shipped_kb`, the fake encoder). Ranking may change, so the assertions hold
for any sensible ranking: structure, uniqueness, citations and the source list, not which passage
comes first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import select_encoder
from search_cli.app import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "handouts" / "example.yaml"
EXAMPLE_THEMES = ["Tillid og skeptiske borgere", "Politikernes og medarbejdernes roller", "Måling af effekter"]

# "> — [2] Title, Section — linje 17–21 (da)" in Markdown; the same text in HTML captions.
CITE = re.compile(r"\[(\d+)\] (.+?) — (?:linje|lines?|s\.|pp?\.) [\d–]+")
MD_CITE = re.compile(r"^> — \[(\d+)\] (.+?) — (?:linje|lines?|s\.|pp?\.) [\d–]+ \((da|nb|en)\)$", re.M)
MD_SOURCE = re.compile(r"^(\d+)\. (?:[^*\n]+: )?\*([^*\n]+)\* \((da|nb|en), [\w-]+\)\.", re.M)


def invoke(shipped_kb: Path, *args: str):
    return CliRunner().invoke(cli, ["--kb", str(shipped_kb), *args], catch_exceptions=True)


def index(root: Path) -> Path:
    result = invoke(root, "index")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def example_md(shipped_kb) -> str:
    result = invoke(shipped_kb, "handout", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def example_html(shipped_kb, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout-html") / "handout.html"
    result = invoke(shipped_kb, "handout", str(EXAMPLE), "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the handout went to the file, the summary to stderr
    return out


def theme_blocks(md: str) -> dict[str, str]:
    """Theme title -> its Markdown, up to the next heading of the same level."""
    parts = re.split(r"^## (?:\d+\. )?(.+)$", md, flags=re.M)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def assert_sources_consistent(cited: list[tuple[str, str]], sources: list[tuple[str, str]]) -> None:
    """Every cited document is in the source list exactly once, under the number the citation uses."""
    numbers = [n for n, _ in sources]
    assert numbers == [str(i) for i in range(1, len(sources) + 1)], numbers
    titles = Counter(title for _, title in sources)
    assert all(count == 1 for count in titles.values()), titles
    by_number = dict(sources)
    for number, cite in cited:
        assert number in by_number, f"[{number}] is cited but not in the source list"
        assert cite.startswith(by_number[number]), (number, cite, by_number[number])
    assert {n for n, _ in cited} == set(by_number), "the source list holds a document nothing cites"


# -- rendering the example plan ------------------------------------------------------------------
def test_example_plan_renders_markdown(example_md):
    assert example_md.startswith("# Samskabelse i praksis")
    blocks = theme_blocks(example_md)
    assert list(blocks)[:3] == EXAMPLE_THEMES
    assert list(blocks)[-1] == "Kilder"
    for title in list(blocks)[:-1]:
        cites = MD_CITE.findall(blocks[title])
        assert 1 <= len(cites) <= 3, (title, blocks[title])
        assert "**Spørgsmål**" in blocks[title]
    languages = {lang for _, _, lang in MD_CITE.findall(example_md)}
    assert languages == {"da", "nb"}  # the handout draws on both languages


def test_example_plan_is_deterministic(shipped_kb, example_md):
    again = invoke(shipped_kb, "handout", str(EXAMPLE), "--format", "md")
    assert again.exit_code == 0, again.output
    assert again.stdout == example_md


def test_every_cited_document_is_listed_once(example_md):
    cited = [(n, cite) for n, cite, _ in MD_CITE.findall(example_md)]
    sources = MD_SOURCE.findall(theme_blocks(example_md)["Kilder"])
    assert_sources_consistent(cited, [(n, title) for n, title, _ in sources])
    # publisher, author, date and origin come from the documents' metadata
    assert "Kim Tverskov: *Samskabelse i kommuner*" in example_md
    assert "Tverskov Kommunikation & Udvikling" in example_md


def test_example_plan_renders_self_contained_html(example_html):
    page = example_html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="da">' in page
    assert "@media print" in page
    for external in ("<script", "<link", " src=", "url(", "@import", "http://", "https://"):
        assert external not in page, f"the handout loads something from outside: {external}"
    for title in EXAMPLE_THEMES:
        assert title in page
    assert re.search(r'<blockquote lang="(da|nb)">', page)


# -- de-duplication ----------------------------------------------------------------------------------
def test_a_passage_is_printed_once_across_themes(shipped_kb, tmp_path):
    """Two themes asking the same: the first keeps the best passages, the second gets others."""
    plan = tmp_path / "overlap.yaml"
    plan.write_text(
        "title: Overlap\naudience: test\nthemes:\n"
        "  - title: Tillid A\n    questions:\n      - How do we build trust with skeptical citizens?\n    passages: 4\n"
        "  - title: Tillid B\n    questions:\n      - How do we build trust with skeptical citizens?\n"
        "      - Hvordan bygger vi tillit?\n    passages: 4\n",
        encoding="utf-8",
    )
    result = invoke(shipped_kb, "handout", str(plan))
    assert result.exit_code == 0, result.output
    blocks = theme_blocks(result.stdout)
    first, second = ({m.group(0) for m in MD_CITE.finditer(blocks[t])} for t in ("Tillid A", "Tillid B"))
    assert first and second
    assert not first & second, first & second

    from kb.handout import HandoutPlan, build_handout
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(shipped_kb)
    try:
        handout = build_handout(kb, HandoutPlan.model_validate({
            "title": "t", "audience": "a",
            "themes": [{"title": f"T{i}", "questions": ["hvordan skaber vi tillid og samskabelse"], "passages": 5}
                       for i in range(3)],
        }))
    finally:
        kb.close()
    chunk_ids = [c.chunk_id for theme in handout.themes for p in theme.passages for c in (p.cite, *p.collapsed)]
    assert len(chunk_ids) == len(set(chunk_ids)) >= 10


NEAR_TEXT = (
    "Borgerne er ofte skeptiske, når kommunen inviterer til samarbejde om nye løsninger. Derfor begynder "
    "samskabelse med tillidsopbygning: ærlig dialog om, hvem der bestemmer hvad, og en kommune der holder, "
    "hvad den lover, også når processen bliver svær undervejs og borgerne er uenige med forvaltningen."
)


def test_near_duplicates_in_a_theme_collapse(tmp_path):
    corpus = tmp_path / "kb" / "corpus"
    corpus.mkdir(parents=True)
    for doc_id, title, text in (
        ("tillid-original", "Tillid i praksis", NEAR_TEXT),
        ("tillid-kopi", "Tillid i praksis (genoptryk)", NEAR_TEXT.replace("ofte", "tit")),
        ("frivillige", "Frivillige partnere", "Frivillige foreninger kender lokalmiljøet og når borgere, som "
         "kommunen selv ikke når. Når kommunen samarbejder med foreninger om idræt og kultur, bliver tilbuddene "
         "bedre og mere varige for alle, og tilliden mellem borgere og kommune vokser."),
    ):
        (corpus / f"{doc_id}.md").write_text(
            f"---\nid: {doc_id}\ntitle: {title}\nlanguage: da\nkind: guidance\n---\n# Tillid\n\n{text}\n", encoding="utf-8")
    root = index(select_encoder(tmp_path / "kb"))
    plan = tmp_path / "plan.yaml"
    plan.write_text("title: T\naudience: A\nlanguage: en\nthemes:\n"
                    "  - title: Trust\n    questions: [hvordan skaber vi tillid hos skeptiske borgere]\n", encoding="utf-8")
    result = invoke(root, "handout", str(plan))
    assert result.exit_code == 0, result.output
    md = result.stdout
    printed = MD_CITE.findall(md)
    printed_titles = [cite.split(",")[0] for _, cite, _ in printed]
    assert sum(t.startswith("Tillid i praksis") for t in printed_titles) == 1, md
    assert re.search(r"^> \(Also in: \[\d\] Tillid i praksis", md, re.M), md
    also = re.findall(r"^> \(Also in: (.+)\)$", md, re.M)
    cited = [(n, cite) for n, cite, _ in printed] + [m for line in also for m in CITE.findall(line)]
    sources = MD_SOURCE.findall(theme_blocks(md)["Sources"])
    assert_sources_consistent(cited, [(n, title) for n, title, _ in sources])


# -- passages a plan names ------------------------------------------------------------------------
TREE = "kobro-verktoy-for-samskaping#3"
TRUST = "tverskov-samskabelse-i-kommuner#2"
MANIFEST = "manifest-for-samskabelse#1"


def test_named_passages_print_in_their_order_once(shipped_kb, tmp_path):
    """A basket of chosen passages as a plan: each theme prints exactly its passages, in order; a
    passage named twice is printed once, where it is first named; a searched theme skips them."""
    plan = tmp_path / "basket.yaml"
    plan.write_text(
        "title: Kurv\naudience: Trænere\nlanguage: en\nthemes:\n"
        f"  - title: Tillid\n    questions: [how do we build trust]\n    chunks: ['{TREE}', '{TRUST}', '{TREE}']\n"
        f"  - title: Frivillige\n    questions: [frivillige]\n    chunks: ['{TRUST}', '{MANIFEST}']\n"
        "  - title: Searched\n    questions: [how do we build trust with skeptical citizens]\n    passages: 3\n",
        encoding="utf-8",
    )
    result = invoke(shipped_kb, "handout", str(plan))
    assert result.exit_code == 0, result.output
    blocks = theme_blocks(result.stdout)
    cites = {title: MD_CITE.findall(blocks[title]) for title in ("Tillid", "Frivillige", "Searched")}
    assert [(n, lang) for n, _, lang in cites["Tillid"]] == [("1", "nb"), ("2", "da")]
    assert cites["Tillid"][0][1].startswith("Verktøy for samskaping")
    assert re.search(r"^> — \[2\] Samskabelse i kommuner, .* — lines 17–21 \(da\)$", blocks["Tillid"], re.M)
    assert [(n, c.split(",")[0]) for n, c, _ in cites["Frivillige"]] == [("3", "Manifest for National Bevægelse for Samskabelse")]
    assert len(cites["Searched"]) == 3
    printed = [m.group(0) for m in MD_CITE.finditer(result.stdout)]
    assert len(printed) == len(set(printed)) == 6, printed
    sources = MD_SOURCE.findall(blocks["Sources"])
    assert_sources_consistent([(n, c) for n, c, _ in MD_CITE.findall(result.stdout)], [(n, t) for n, t, _ in sources])

    html_out = tmp_path / "basket.html"
    result = invoke(shipped_kb, "handout", str(plan), "--format", "html", "-o", str(html_out))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and "3 themes, 6 passages, 3 sources" in result.stderr


@pytest.mark.parametrize("theme, line, expected", [
    (f"    chunks: ['{TRUST}', 'no-such-doc#4']\n", 4,
     "theme 'Tillid', field 'chunks': the index holds no passage no-such-doc#4; take chunk ids from `kb search`"),
    (f"    chunks: ['{TRUST}']\n    passages: 2\n", 4,
     "theme 'Tillid': 'chunks' names the passages, so field 'passages' has no use"),
    ("    chunks: ['Tverskov #2']\n", 7, "theme 1 ('Tillid'), field 'chunks.0': String should match pattern"),
    ("    chunks: []\n", 7, "theme 1 ('Tillid'), field 'chunks': List should have at least 1 item"),
])
def test_named_passage_errors_name_line_and_field(shipped_kb, tmp_path, theme, line, expected):
    plan = tmp_path / "plan.yaml"
    plan.write_text("title: T\naudience: x\nthemes:\n" + GOOD_THEME + theme, encoding="utf-8")
    result = invoke(shipped_kb, "handout", str(plan))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kb: error: {plan}:{line}: {expected}"), lines[0]


# -- plan validation -----------------------------------------------------------------------------------
GOOD_THEME = "  - title: Tillid\n    questions:\n      - Hvordan skaber vi tillid?\n"

BAD_PLANS = {
    "missing title": ("audience: x\nthemes:\n" + GOOD_THEME, 1, "field 'title' is required"),
    "themes empty": ("title: T\naudience: x\nthemes: []\n", 3, "field 'themes'"),
    "bad lang": ("title: T\naudience: x\nthemes:\n" + GOOD_THEME + "    lang: sv\n", 7, "theme 1 ('Tillid'), field 'lang'"),
    "passages 0": ("title: T\naudience: x\nthemes:\n" + GOOD_THEME + "    passages: 0\n", 7, "field 'passages'"),
    "no questions": ("title: T\naudience: x\nthemes:\n  - title: Tillid\n    questions: []\n", 5, "field 'questions'"),
    "empty question": ("title: T\naudience: x\nthemes:\n" + GOOD_THEME + "      - '  '\n", 7, "field 'questions.1'"),
    "unknown field": ("title: T\naudience: x\ntema: y\nthemes:\n" + GOOD_THEME, 3, "unknown field 'tema'"),
    "invalid yaml": ("title: T\naudience: [x\nthemes:\n" + GOOD_THEME, 3, "not valid YAML"),
    "not a mapping": ("- just\n- a list\n", 1, "a plan is a mapping"),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_plan_errors_name_line_and_field(tmp_path, case):
    text, line, expected = BAD_PLANS[case]
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    # the plan is checked before the index is opened: no knowledge base needed
    result = invoke(tmp_path, "handout", str(plan))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kb: error: {plan}:{line}:"), lines[0]
    assert expected in lines[0], lines[0]
    assert result.stdout == ""


def test_missing_plan_file(tmp_path):
    result = invoke(tmp_path, "handout", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"kb: error: {tmp_path / 'nope.yaml'}: no such plan file; see handouts/example.yaml for the format"


def test_unknown_document_names_the_theme_line(shipped_kb, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("title: T\naudience: x\nthemes:\n" + GOOD_THEME + "    documents: [no-such-doc]\n", encoding="utf-8")
    result = invoke(shipped_kb, "handout", str(plan))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"kb: error: {plan}:4: theme 'Tillid', field 'documents': the index holds no no-such-doc;")


# -- what a reader sees in a browser -------------------------------------------------------------------
VOID = {"br", "meta", "link", "img", "hr", "input", "wbr"}  # elements without an end tag


class VisibleText(HTMLParser):
    """Text a browser shows, by element: headings, captions, source-list entries."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.hidden = 0
        self.parts: dict[str, list[str]] = {"h1": [], "h2": [], "figcaption": [], "li.source": [], "cite": []}
        self.current: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if tag in ("style", "script", "head", "title"):
            self.hidden += 1
        key = "li.source" if tag == "li" and dict(attrs).get("id", "").startswith("source-") else tag
        if key in self.parts:
            self.current.append((tag, []))
            self.stack.append(key)
        else:
            self.stack.append("")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title"):
            self.hidden -= 1
        if tag in VOID:
            return
        key = self.stack.pop() if self.stack else ""
        if key:
            _, text = self.current.pop()
            self.parts[key].append(" ".join("".join(text).split()))

    def handle_data(self, data):
        if self.hidden:
            return
        for _, text in self.current:
            text.append(data)


def chromium_run(page: Path, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *mode, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


@needs_chromium
def test_browser_shows_headings_citations_and_sources(example_html, tmp_path):
    run = chromium_run(example_html, tmp_path, "--dump-dom")
    assert run.returncode == 0 and "<h1>" in run.stdout, run.stderr[-2000:]
    seen = VisibleText()
    seen.feed(run.stdout)
    assert seen.parts["h1"] == ["Samskabelse i praksis – workshop for kommunale medarbejdere"]
    headings = seen.parts["h2"]
    assert headings[:3] == [f"{i}. {t}" for i, t in enumerate(EXAMPLE_THEMES, start=1)]
    assert headings[-1] == "Kilder"
    captions = seen.parts["figcaption"]
    assert captions and all(c.startswith("— [") and re.search(r"\((da|nb)\)$", c) for c in captions), captions
    cited = [m for c in captions for m in CITE.findall(c)]
    assert len(seen.parts["cite"]) == len(seen.parts["li.source"])  # one title per source-list entry
    assert_sources_consistent(cited, [(str(i), title) for i, title in enumerate(seen.parts["cite"], start=1)])


needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext is not installed (apt-get install poppler-utils)"
)


@needs_chromium
@needs_pdftotext
def test_printed_handout_shows_headings_citations_and_sources(example_html, tmp_path):
    pdf = tmp_path / "handout.pdf"
    run = chromium_run(example_html, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.is_file() and pdf.stat().st_size > 0, run.stderr[-2000:]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "\f" in text.rstrip("\f")  # more than one page
    flat = " ".join(text.split())  # lines wrap where the paper ends
    assert "Samskabelse i praksis – workshop for kommunale medarbejdere" in flat
    for number, title in enumerate(EXAMPLE_THEMES, start=1):
        assert f"{number}. {title}" in flat
    cited = CITE.findall(flat)
    assert cited, flat[:2000]
    sources_part = flat[flat.rindex("Kilder"):]
    for number, cite in cited:
        title = cite.split(",")[0]
        assert re.search(rf"{number}\. (?:.{{0,80}}?: )?{re.escape(title)} \(", sources_part), (number, title, sources_part)
