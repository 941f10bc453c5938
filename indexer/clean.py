"""Page furniture out, offsets kept.

Web and brochure scrapes carry lines that are not knowledge: navigation links, contact
blurbs, time stamps, bylines that are already metadata, and the adverts and "most read"
lists that follow an article. Each rule below names what it removes and why. Removed
characters are replaced by spaces (newlines kept), so the cleaned text has the length and
line structure of the source and every chunk offset still points into the original file.
The source files are never edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.models import DocumentMeta


@dataclass(frozen=True)
class LineRule:
    name: str
    pattern: re.Pattern[str]
    why: str


LINE_RULES: tuple[LineRule, ...] = (
    LineRule(
        "navigation",
        re.compile(
            r"^\s*(gå til|gå videre til|tilbage til|læs mere|les mer|se mere|se mer|klik her)\b"
            r"[^.!?]{0,60}$",
            re.IGNORECASE,
        ),
        "links that only move the reader elsewhere on the page",
    ),
    LineRule(
        "contact",
        re.compile(
            r"^\s*((?i:kontakt(?:perso[nr])?) [A-ZÆØÅ][\w.'-]*(?: [A-ZÆØÅ][\w.'-]*){0,3}"
            r"|(?i:portrætbillede|portrettbilde)\b.{0,60}|(?i:har du spørsmål til|har du spørgsmål til) .{0,80}\?)\s*$"
        ),
        "contact blurbs and portrait captions",
    ),
    LineRule(
        "timestamp",
        re.compile(r"^\s*\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( +kl\.)?( +\d{1,2}[:.]\d{2})?\s*$"),
        "publication time stamps (the date lives in the metadata)",
    ),
    LineRule(
        "bare-url",
        re.compile(r"^\s*(https?://|www\.)\S+\s*$", re.IGNORECASE),
        "web addresses on their own line",
    ),
)

# Everything from one of these lines to the end of the document is site furniture.
TAIL_MARKERS: tuple[str, ...] = (
    "mest læste",
    "mest lest",
    "annonce",
    "annonse",
    "relaterede artikler",
    "les også",
    "læs også",
)


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def furniture_spans(text: str, meta: DocumentMeta) -> list[tuple[int, int, str]]:
    """(start, end, rule) of every span the cleaner removes."""
    spans: list[tuple[int, int, str]] = []
    offset = 0
    author = (meta.author or "").strip().casefold()
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            if stripped.casefold() in TAIL_MARKERS:
                spans.append((offset, len(text), "tail"))
                break
            if author and stripped.casefold() == author:
                spans.append((offset, offset + len(body), "byline"))
            else:
                for rule in LINE_RULES:
                    if rule.pattern.match(body):
                        spans.append((offset, offset + len(body), rule.name))
                        break
        offset += len(line)
    return spans


def clean_text(text: str, meta: DocumentMeta) -> str:
    """The text with furniture blanked out; same length and line breaks as `text`."""
    for start, end, _rule in furniture_spans(text, meta):
        text = text[:start] + _blank(text[start:end]) + text[end:]
    return text
