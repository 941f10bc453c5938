"""Turning results into text for people (terminal, Markdown) or programs (JSON)."""

from __future__ import annotations

import json
import sys
from typing import Callable, TextIO

from kb.models import Hit, SearchResult


def json_text(result: SearchResult) -> str:
    return json.dumps(result.contract(), ensure_ascii=False, indent=2)


def markdown(result: SearchResult) -> str:
    lines = [f"### {result.query}", ""]
    for hit in result.hits:
        quote = "\n".join(f"> {line}" if line.strip() else ">" for line in hit.text.splitlines())
        section = f", {hit.section}" if hit.section else ""
        lines += [quote, ">", f"> — *{hit.title}*{section} ({hit.language}; `{hit.citation}`)", ""]
    return "\n".join(lines).rstrip() + "\n"


def print_hits(result: SearchResult, highlights: Callable[[Hit], list[tuple[int, int]]], out: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.text import Text

    # soft wrap: lines stay whole when piped; the terminal wraps them on screen
    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
    if not result.hits:
        console.print("No passages found. Try other words, or --lang all.")
        return
    for hit in result.hits:
        head = Text()
        head.append(f"{hit.rank}. ", style="bold")
        head.append(f"[{hit.score:.3f}] ", style="dim")
        head.append(hit.title, style="bold cyan")
        if hit.section:
            head.append(f" — {hit.section}", style="cyan")
        head.append(f"  ({hit.language}, {hit.kind})", style="dim")
        console.print(head)
        console.print(Text(f"   {hit.citation}  ·  {hit.chunk_id}", style="green"))
        console.print(_body(hit, highlights(hit)))
        console.print()


def print_passage(this: Hit, before: list[Hit], after: list[Hit], out: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
    console.print(Text(this.title, style="bold cyan") + Text(f"  ({this.language}, {this.kind})", style="dim"))
    for hit in before:
        console.print(Text(f"   … {hit.citation}", style="dim"))
        console.print(Text(_indent(hit.text), style="dim"))
    console.print(Text(f"   {this.citation}  ·  {this.chunk_id}" + (f"  ·  {this.section}" if this.section else ""), style="green"))
    console.print(Text(_indent(this.text)))
    for hit in after:
        console.print(Text(f"   … {hit.citation}", style="dim"))
        console.print(Text(_indent(hit.text), style="dim"))


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def _body(hit: Hit, spans: list[tuple[int, int]]):
    """The passage indented by three spaces, matched words highlighted."""
    from rich.text import Text

    text = Text()
    offset = 0
    for line in hit.text.split("\n"):
        start = len(text) + 3
        text.append("   " + line + "\n")
        for a, b in spans:
            if offset <= a < offset + len(line) + 1:
                text.stylize("bold yellow", start + a - offset, start + b - offset)
        offset += len(line) + 1
    text.rstrip()
    return text


def eval_table(report, show_misses: bool = True) -> str:
    head = f"{'':8} {'queries':>7} {'hit@1':>7} {'hit@5':>7} {'MRR@10':>7} {'nDCG@10':>8}"
    lines = [f"mode: {report.mode}", head]
    rows = [("all", report.overall)] + [(lang, m) for lang, m in report.by_language.items() if len(report.by_language) > 1]
    for name, m in rows:
        lines.append(f"{name:8} {m.queries:>7} {m.hit_at_1:>7.3f} {m.hit_at_5:>7.3f} {m.mrr_at_10:>7.3f} {m.ndcg_at_10:>8.3f}")
    if show_misses and report.misses:
        lines += ["", f"not first ({len(report.misses)}):"]
        for miss in report.misses:
            where = f"rank {miss.rank}" if miss.rank else "not in top 10"
            lines += [f"- {miss.id} [{miss.lang}] {miss.query!r}: {where}", f"    expected {miss.expected}", f"    first    {miss.first}"]
    return "\n".join(lines)
