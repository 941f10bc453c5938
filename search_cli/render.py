"""Turning answers into text for people (terminal, Markdown) or programs (JSON).

The renderers take an answer as JSON data, as a kb server sends it (KnowledgeBase.search_answer and
passage_answer give the same form locally): a server's answer prints exactly as a local one, and
the terminal client of a server loads no models to print it."""

from __future__ import annotations

import json
import os
import sys
from typing import Callable, Sequence, TextIO

import click
from click import style

from search_cli.text import terminal_safe

_DOCUMENT_FIELDS = ("title", "section", "text", "citation", "chunk_id", "doc_id", "language", "kind", "path")
DETAIL_FIELDS = ("highlights", "analyzer_outdated")  # beside the contract in a search answer


def safe_hit(hit: dict) -> dict:
    """The hit with the control characters of its document's text and metadata made harmless."""
    return {name: terminal_safe(value) if name in _DOCUMENT_FIELDS and isinstance(value, str) else value
            for name, value in hit.items()}


def json_text(answer: dict) -> str:
    """The JSON contract of `kb search --json`: the answer without its details."""
    return json.dumps({key: value for key, value in answer.items() if key not in DETAIL_FIELDS}, ensure_ascii=False, indent=2)


def weak_note(answer: dict) -> str | None:
    """One line for stderr when hits were found but none matches the question well."""
    if not answer["results"] or not answer["weak_match"]:
        return None
    return (f"kb: note: nothing matches this question well (confidence {answer['confidence']:.2f} of 1); "
            "these are the nearest passages, not answers: try other words")


def markdown(answer: dict) -> str:
    lines = [f"### {terminal_safe(answer['query'])}", ""]
    for hit in map(safe_hit, answer["results"]):
        quote = "\n".join(f"> {line}" if line.strip() else ">" for line in hit["text"].splitlines())
        section = f", {hit['section']}" if hit["section"] else ""
        lines += [quote, ">", f"> — *{hit['title']}*{section} ({hit['language']}; `{hit['citation']}`)", ""]
    return "\n".join(lines).rstrip() + "\n"


def print_hits(answer: dict, out: TextIO | None = None, filters: str = "") -> None:
    """Numbered hits with their citations, matched words in bold. Colour only on a terminal.
    `filters` names the restrictions in force (e.g. "--kind case"), for the empty answer."""
    echo = _echo(out)
    if not answer["results"]:
        echo(f"No passages found among documents matching {filters}: try without them." if filters
             else "No passages found: try other words.")
        return
    for found, spans in zip(answer["results"], answer["highlights"], strict=True):
        hit = safe_hit(found)
        section = style(f" — {hit['section']}", fg="cyan") if hit["section"] else ""
        echo(
            style(f"{hit['rank']}. ", bold=True) + style(f"[{hit['score']:.3f}] ", dim=True)
            + style(hit["title"], fg="cyan", bold=True) + section + style(f"  ({hit['language']}, {hit['kind']})", dim=True)
        )
        echo(style(f"   {hit['citation']}  ·  {hit['chunk_id']}", fg="green"))
        echo(highlighted(hit["text"], spans))
        echo("")


def print_passage(answer: dict, out: TextIO | None = None) -> None:
    """A passage with its neighbours, as `kb show` prints it."""
    echo = _echo(out)
    this, before, after = (safe_hit(answer["passage"]), [safe_hit(h) for h in answer["before"]],
                           [safe_hit(h) for h in answer["after"]])
    echo(style(this["title"], fg="cyan", bold=True) + style(f"  ({this['language']}, {this['kind']})", dim=True))
    for hit in before:
        echo(style(f"   … {hit['citation']}", dim=True))
        echo(style(highlighted(hit["text"]), dim=True))
    echo(style(f"   {this['citation']}  ·  {this['chunk_id']}" + (f"  ·  {this['section']}" if this["section"] else ""), fg="green"))
    echo(highlighted(this["text"]))
    for hit in after:
        echo(style(f"   … {hit['citation']}", dim=True))
        echo(style(highlighted(hit["text"]), dim=True))


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
