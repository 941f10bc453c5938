"""Handouts for people: Markdown to paste anywhere, and one self-contained printable HTML page."""

from __future__ import annotations

from html import escape

from kb.citation import location
from kb.handout import Citation, Handout, Source

LABELS = {
    "da": {"audience": "Målgruppe", "questions": "Spørgsmål", "sources": "Kilder", "none": "Ingen passager fundet.",
           "weak": "Intet i kilderne besvarer disse spørgsmål godt; passagerne nedenfor er kun de nærmeste.",
           "line": "linje", "lines": "linje", "page": "s.", "pages": "s.", "also": "Også i", "file": "Fil",
           "original": "original"},
    "nb": {"audience": "Målgruppe", "questions": "Spørsmål", "sources": "Kilder", "none": "Ingen passasjer funnet.",
           "weak": "Ingenting i kildene svarer godt på disse spørsmålene; passasjene nedenfor er bare de nærmeste.",
           "line": "linje", "lines": "linje", "page": "s.", "pages": "s.", "also": "Også i", "file": "Fil",
           "original": "original"},
    "en": {"audience": "Audience", "questions": "Questions", "sources": "Sources", "none": "No passages found.",
           "weak": "Nothing in the sources answers these questions well; the passages below are only the nearest.",
           "line": "line", "lines": "lines", "page": "p.", "pages": "pp.", "also": "Also in", "file": "File",
           "original": "original"},
}


def citation_text(cite: Citation, labels: dict) -> str:
    """[n] Title, section — lines 17–21, where n is the document's number in the source list."""
    section = f", {cite.section}" if cite.section and cite.section != cite.title else ""
    where = location(cite.line_start, cite.line_end, cite.page_start, cite.page_end, labels)
    return f"[{cite.source}] {cite.title}{section} — {where}"


def source_parts(source: Source, labels: dict) -> list[str]:
    """A source-list entry after the title, in bibliography order: publisher, date, origin, file."""
    parts = [p for p in (source.publisher, source.date, source.origin) if p]
    original = f" ({labels['original']}: {source.source_file})" if source.source_file else ""
    return parts + [f"{labels['file']}: {source.path}{original}"]


# -- Markdown -----------------------------------------------------------------------------------
def markdown(handout: Handout) -> str:
    labels = LABELS[handout.language]
    lines = [f"# {handout.title}", "", f"*{labels['audience']}: {handout.audience}*", ""]
    if handout.intro:
        lines += [handout.intro.strip(), ""]
    for number, theme in enumerate(handout.themes, start=1):
        lines += [f"## {number}. {theme.title}", "", f"**{labels['questions']}**", ""]
        lines += [f"- {question}" for question in theme.questions] + [""]
        if not theme.passages:
            lines += [f"*{labels['none']}*", ""]
        elif theme.weak_match:
            lines += [f"*{labels['weak']}*", ""]
        for passage in theme.passages:
            lines += [f"> {line}" if line.strip() else ">" for line in passage.text.splitlines()]
            lines += [">", f"> — {citation_text(passage.cite, labels)} ({passage.language})"]
            if passage.collapsed:
                also = "; ".join(citation_text(c, labels) for c in passage.collapsed)
                lines += [f"> ({labels['also']}: {also})"]
            lines.append("")
    lines += [f"## {labels['sources']}", ""]
    for source in handout.sources:
        author = f"{source.author}: " if source.author else ""
        rest = ". ".join(source_parts(source, labels))
        lines.append(f"{source.number}. {author}*{source.title}* ({source.language}, {source.kind}). {rest}")
    return "\n".join(lines).rstrip() + "\n"


# -- HTML ---------------------------------------------------------------------------------------
# Inline CSS only: the file must open and print the same anywhere, offline.
CSS = """
body { font-family: Georgia, "Times New Roman", serif; line-height: 1.5; color: #1a1a1a;
       max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid #999; padding-bottom: .2rem; }
.audience { font-style: italic; color: #444; }
.questions { margin: .3rem 0 1rem; }
figure.passage { margin: 1.2rem 0; }
blockquote { margin: 0; padding: .4rem 0 .4rem 1rem; border-left: 4px solid #6b8fb3; white-space: pre-line; }
figcaption { font-size: .9rem; color: #333; margin: .3rem 0 0 1.25rem; }
.lang { font-variant: small-caps; color: #555; }
ol.sources li { margin-bottom: .5rem; }
a { color: #1f4e79; }
@page { size: A4; margin: 2cm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure.passage, ol.sources li { break-inside: avoid; page-break-inside: avoid; }
  blockquote { border-left-color: #000; }
  a { color: inherit; text-decoration: none; }
}
"""


def html(handout: Handout) -> str:
    labels = LABELS[handout.language]
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(handout.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(handout.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(handout.title)}</h1>",
        f'<p class="audience">{escape(labels["audience"])}: {escape(handout.audience)}</p>',
    ]
    if handout.intro:
        out += [f"<p>{escape(paragraph.strip())}</p>" for paragraph in handout.intro.split("\n\n") if paragraph.strip()]
    for number, theme in enumerate(handout.themes, start=1):
        out += [f'<section id="theme-{number}">', f"<h2>{number}. {escape(theme.title)}</h2>",
                f'<p><strong>{escape(labels["questions"])}</strong></p>', '<ul class="questions">']
        out += [f"<li>{escape(question)}</li>" for question in theme.questions] + ["</ul>"]
        if not theme.passages:
            out.append(f"<p><em>{escape(labels['none'])}</em></p>")
        elif theme.weak_match:
            out.append(f'<p class="weak"><em>{escape(labels["weak"])}</em></p>')
        for passage in theme.passages:
            lang = escape(passage.language)
            caption = f"— {_cite_html(passage.cite, labels)} <span class=\"lang\">({lang})</span>"
            if passage.collapsed:
                also = "; ".join(_cite_html(c, labels) for c in passage.collapsed)
                caption += f"<br>({escape(labels['also'])}: {also})"
            out += ['<figure class="passage">', f'<blockquote lang="{lang}">{escape(passage.text.strip())}</blockquote>',
                    f"<figcaption>{caption}</figcaption>", "</figure>"]
        out.append("</section>")
    out += ['<section id="sources">', f"<h2>{escape(labels['sources'])}</h2>", '<ol class="sources">']
    for source in handout.sources:
        author = f"{escape(source.author)}: " if source.author else ""
        rest = ". ".join(escape(part) for part in source_parts(source, labels))
        out.append(
            f'<li id="source-{source.number}" value="{source.number}">{author}<cite lang="{escape(source.language)}">'
            f"{escape(source.title)}</cite> ({escape(source.language)}, {escape(source.kind)}). {rest}</li>"
        )
    out += ["</ol>", "</section>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _cite_html(cite: Citation, labels: dict) -> str:
    text = escape(citation_text(cite, labels))
    return f'<a href="#source-{cite.source}">{text}</a>'
