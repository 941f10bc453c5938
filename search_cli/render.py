"""Turning results into text for people (terminal, Markdown) or programs (JSON)."""

from __future__ import annotations

import json
import os
import sys
from typing import Callable, Sequence, TextIO

import click
from click import style

from kb.models import Hit, SearchResult
from search_cli.text import terminal_safe

_DOCUMENT_FIELDS = ("title", "section", "text", "citation", "chunk_id", "doc_id", "language", "kind", "path")


def safe_hit(hit: Hit) -> Hit:
    """The hit with the control characters of its document's text and metadata made harmless."""
    fields = type(hit).model_fields  # a remote answer's hits carry the contract's fields only
    return hit.model_copy(update={name: terminal_safe(getattr(hit, name)) for name in _DOCUMENT_FIELDS if name in fields})


def json_text(result: SearchResult) -> str:
    return json.dumps(result.contract(), ensure_ascii=False, indent=2)


def weak_note(result: SearchResult) -> str | None:
    """One line for stderr when hits were found but none matches the question well."""
    if not result.hits or not result.weak_match:
        return None
    return (f"kb: note: nothing matches this question well (confidence {result.confidence:.2f} of 1); "
            "these are the nearest passages, not answers: try other words")


def markdown(result: SearchResult) -> str:
    lines = [f"### {terminal_safe(result.query)}", ""]
    for hit in map(safe_hit, result.hits):
        quote = "\n".join(f"> {line}" if line.strip() else ">" for line in hit.text.splitlines())
        section = f", {hit.section}" if hit.section else ""
        lines += [quote, ">", f"> — *{hit.title}*{section} ({hit.language}; `{hit.citation}`)", ""]
    return "\n".join(lines).rstrip() + "\n"


def print_hits(
    result: SearchResult, highlights: Callable[[Hit], list[tuple[int, int]]], out: TextIO | None = None,
    filters: str = "",
) -> None:
    """Numbered hits with their citations, matched words in bold. Colour only on a terminal.
    `filters` names the restrictions in force (e.g. "--kind case"), for the empty answer."""
    echo = _echo(out)
    if not result.hits:
        echo(f"No passages found among documents matching {filters}: try without them." if filters
             else "No passages found: try other words.")
        return
    for found in result.hits:
        hit, spans = safe_hit(found), highlights(found)
        section = style(f" — {hit.section}", fg="cyan") if hit.section else ""
        echo(
            style(f"{hit.rank}. ", bold=True) + style(f"[{hit.score:.3f}] ", dim=True)
            + style(hit.title, fg="cyan", bold=True) + section + style(f"  ({hit.language}, {hit.kind})", dim=True)
        )
        echo(style(f"   {hit.citation}  ·  {hit.chunk_id}", fg="green"))
        echo(highlighted(hit.text, spans))
        echo("")


def print_passage(this: Hit, before: list[Hit], after: list[Hit], out: TextIO | None = None) -> None:
    echo = _echo(out)
    this, before, after = safe_hit(this), [safe_hit(h) for h in before], [safe_hit(h) for h in after]
    echo(style(this.title, fg="cyan", bold=True) + style(f"  ({this.language}, {this.kind})", dim=True))
    for hit in before:
        echo(style(f"   … {hit.citation}", dim=True))
        echo(style(highlighted(hit.text), dim=True))
    echo(style(f"   {this.citation}  ·  {this.chunk_id}" + (f"  ·  {this.section}" if this.section else ""), fg="green"))
    echo(highlighted(this.text))
    for hit in after:
        echo(style(f"   … {hit.citation}", dim=True))
        echo(style(highlighted(hit.text), dim=True))


def colour_wanted() -> bool | None:
    """False on NO_COLOR or a dumb terminal; otherwise click decides (colour only on a terminal)."""
    return False if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb" else None


def _echo(out: TextIO | None) -> Callable[[str], None]:
    color = colour_wanted()
    return lambda text: click.echo(text, file=out or sys.stdout, color=color)


def highlighted(text: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """The passage indented by three spaces, the matched words (if any) in bold yellow."""
    lines, offset = [], 0
    for line in text.split("\n"):
        end, pieces, cursor = offset + len(line), [], offset
        for a, b in sorted(spans):
            a, b = max(a, cursor), min(b, end)  # overlapping spans merge; one across lines goes on below
            if offset <= a < b:
                pieces += [text[cursor:a], style(text[a:b], fg="yellow", bold=True)]
                cursor = b
        pieces.append(text[cursor:end])
        lines.append(("   " + "".join(pieces)).rstrip())
        offset = end + 1
    return "\n".join(lines).rstrip()


def eval_table(report, show_misses: bool = True) -> str:
    head = f"{'':8} {'queries':>7} {'hit@1':>7} {'hit@5':>7} {'MRR@10':>7} {'nDCG@10':>8}"
    lines = [f"mode: {report.mode}", head]
    rows = [("all", report.overall)] + [(lang, m) for lang, m in report.by_language.items() if len(report.by_language) > 1]
    for name, m in rows:
        lines.append(f"{name:8} {m.queries:>7} {m.hit_at_1:>7.3f} {m.hit_at_5:>7.3f} {m.mrr_at_10:>7.3f} {m.ndcg_at_10:>8.3f}")
    if report.ambiguous_queries:
        lines.append(f"not scored: {len(report.ambiguous_queries)} query ids that name two different questions "
                     f"in queries.jsonl ({', '.join(report.ambiguous_queries)})")
    if show_misses and report.misses:
        lines += ["", f"not first ({len(report.misses)}):"]
        for miss in report.misses:
            where = f"rank {miss.rank}" if miss.rank else "not in top 10"
            lines += [f"- {miss.id} [{miss.lang}] {miss.query!r}: {where}", f"    expected {miss.expected}", f"    first    {miss.first}"]
    return terminal_safe("\n".join(lines))  # the misses quote passages
